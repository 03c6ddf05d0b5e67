//! The new phase's machines as one cluster: Swarm init and joins, K3s server
//! and agents, node labels, private registry credentials, the secrets, and on
//! K3s what the manifests and alert rules expect to find (cert-manager with
//! the spec's ClusterIssuer, the kube-prometheus-stack exporters). Also the
//! nodes a cluster loses.

use crate::model::names;
use crate::model::{Model, Node, Phase, SecretsSource};
use crate::spec::{Role, SecretsAs, Target};

use super::ops::{self, RENDER_DIR, manager};
use super::steps::{Ctx, Runbook, wait_until, word};

/// cert-manager release the steps install.
pub const CERT_MANAGER_VERSION: &str = "v1.18.2";
const K3S_INSTALL: &str = "curl -sfL https://get.k3s.io";
const SWARM_ACTIVE: &str = "docker info --format '{{.Swarm.LocalNodeState}}' | grep -qx active";
/// Registries that serve public images without a login.
const PUBLIC_REGISTRIES: [&str; 6] =
    ["docker.io", "index.docker.io", "registry-1.docker.io", "registry.k8s.io", "mcr.microsoft.com", "public.ecr.aws"];

/// Every step that makes the new phase's machines a working cluster.
pub fn setup(ctx: &Ctx, rb: &mut Runbook) {
    match ctx.b.target {
        Target::Swarm => swarm(ctx, rb),
        Target::K8s => k3s(ctx, rb),
        Target::Compose => {}
    }
    labels(ctx, rb);
    registry_login(ctx, rb);
    pull_secrets(ctx, rb);
    secrets(ctx, rb);
    if ctx.b.target == Target::K8s && new_cluster(ctx) {
        cert_manager(ctx, rb);
        if !ctx.model.triggers.is_empty() || ctx.model.monitoring.enabled {
            monitoring(ctx, rb);
        }
    }
}

/// Whether the new phase's cluster is formed from scratch.
fn new_cluster(ctx: &Ctx) -> bool {
    ctx.b.target != Target::Compose && (ctx.a.target != ctx.b.target || manager(ctx.a) != manager(ctx.b))
}

/// The nodes that join the new phase's cluster.
fn joining<'a>(ctx: &Ctx<'a>) -> Vec<&'a Node> {
    let first = manager(ctx.b);
    let new = new_cluster(ctx);
    ctx.b.nodes.values().filter(|n| if new { n.name != first } else { !ctx.a.nodes.contains_key(&n.name) }).collect()
}

fn manager_addr(rb: &mut Runbook, phase: &Phase) {
    rb.input(
        "MANAGER_ADDR",
        format!(
            "the IP address of {} that the other nodes reach (its private address when they share a network)",
            manager(phase)
        ),
    );
}

fn swarm(ctx: &Ctx, rb: &mut Runbook) {
    let joining = joining(ctx);
    let new = new_cluster(ctx);
    if !new && joining.is_empty() {
        return;
    }
    let on = manager(ctx.b);
    manager_addr(rb, ctx.b);
    let mut commands = Vec::new();
    let mut notes = Vec::new();
    if new {
        commands.push(format!("{SWARM_ACTIVE} || docker swarm init --advertise-addr \"$MANAGER_ADDR\""));
        notes.push("Dokploy has already made its server a Swarm manager: then init is skipped".to_owned());
        if !ops::hosts(ctx.b).is_empty() {
            commands.push(format!(
                "docker network inspect {net} > /dev/null 2>&1 || docker network create --driver overlay --attachable {net}",
                net = names::DOKPLOY_NETWORK
            ));
            // A bridge network of that name (a plain compose host) cannot carry a stack.
            commands.push(format!(
                "[ \"$(docker network inspect -f '{{{{.Scope}}}}' {net})\" = swarm ] || {{ echo '{net} is not an overlay network: remove it and run this step again' >&2; exit 1; }}",
                net = names::DOKPLOY_NETWORK
            ));
            notes.push(format!(
                "{}: the attachable overlay network Traefik reaches the services on (Dokploy creates it)",
                names::DOKPLOY_NETWORK
            ));
        }
    }
    let tokens: Vec<(&str, &str)> =
        [(Role::Worker, "SWARM_WORKER_TOKEN", "worker"), (Role::Manager, "SWARM_MANAGER_TOKEN", "manager")]
            .into_iter()
            .filter(|(role, _, _)| joining.iter().any(|n| n.role == *role))
            .map(|(_, var, kind)| (var, kind))
            .collect();
    for (_, kind) in &tokens {
        commands.push(format!("docker swarm join-token -q {kind}"));
    }
    let title = if new { format!("Make {on} the Swarm manager") } else { format!("Print the join tokens on {on}") };
    let step = rb.run(title, Some(&on), commands, notes);
    for (var, kind) in &tokens {
        rb.printed(var, &format!("the Swarm {kind} join token"), step, &format!("docker swarm join-token -q {kind}"));
    }
    for node in joining {
        let var = if node.role == Role::Manager { "SWARM_MANAGER_TOKEN" } else { "SWARM_WORKER_TOKEN" };
        let join = format!("{SWARM_ACTIVE} || docker swarm join --token \"${var}\" \"$MANAGER_ADDR:2377\"");
        let notes = vec![format!("its hostname must be {}: {}", node.name, ops::why_hostname(ctx.b))];
        rb.run(
            format!("Join {} to the swarm as a {}", node.name, swarm_role(node.role)),
            Some(&node.name),
            vec![join],
            notes,
        );
    }
}

fn swarm_role(role: Role) -> &'static str {
    match role {
        Role::Manager => "manager",
        Role::Worker => "worker",
    }
}

/// The registries the phase's images come from that need a login, sorted:
/// an image's first path component when it has a dot or a colon (or is
/// `localhost`) and is not a public registry, and any registry the spec
/// gives pull credentials for (`registries:`, Docker Hub's private images).
pub fn private_registries(model: &Model, phase: &Phase) -> Vec<String> {
    let mut hosts: Vec<String> = phase
        .services
        .values()
        .filter_map(|s| {
            let host = s.image.registry();
            let private = host != "docker.io" && !PUBLIC_REGISTRIES.contains(&host);
            (private || model.registries.contains_key(host)).then(|| host.to_owned())
        })
        .collect();
    hosts.sort();
    hosts.dedup();
    hosts
}

/// The variables holding a registry's user and password.
fn registry_vars(rb: &mut Runbook, hosts: &[String], index: usize) -> (String, String) {
    let suffix = if hosts.len() == 1 { String::new() } else { format!("_{}", index + 1) };
    let (user, password) = (format!("REGISTRY_USER{suffix}"), format!("REGISTRY_PASSWORD{suffix}"));
    rb.input(&user, format!("the user name at {} that may pull the images", hosts[index]));
    rb.secret(&password);
    (user, password)
}

/// K3s reads registry credentials from /etc/rancher/k3s/registries.yaml when it starts.
fn registries_yaml(rb: &mut Runbook, hosts: &[String]) -> Vec<String> {
    if hosts.is_empty() {
        return Vec::new();
    }
    let file = "/etc/rancher/k3s/registries.yaml";
    let mut commands = vec![format!("mkdir -p /etc/rancher/k3s && umask 077 && printf 'configs:\\n' > {file}")];
    for index in 0..hosts.len() {
        let (user, password) = registry_vars(rb, hosts, index);
        commands.push(format!(
            "printf '  \"%s\":\\n    auth:\\n      username: \"%s\"\\n      password: \"%s\"\\n' {} \"${user}\" \"${password}\" >> {file}",
            word(&hosts[index])
        ));
    }
    commands
}

fn k3s(ctx: &Ctx, rb: &mut Runbook) {
    let joining = joining(ctx);
    let new = new_cluster(ctx);
    let first = manager(ctx.b);
    let hosts = private_registries(ctx.model, ctx.b);
    const TOKEN: &str = "cat /var/lib/rancher/k3s/server/node-token";
    let notes = vec!["as root; registries.yaml first: K3s reads it when it starts".to_owned()];
    let step = if new {
        let mut commands = registries_yaml(rb, &hosts);
        let servers = ctx.b.nodes.values().filter(|n| n.role == Role::Manager).count();
        let init = if servers > 1 { " --cluster-init" } else { "" };
        commands.push(format!("{K3S_INSTALL} | sh -s - server --node-name {}{init}", word(&first)));
        commands.push(TOKEN.to_owned());
        rb.run(format!("Install the K3s server on {first}"), Some(&first), commands, notes.clone())
    } else if !joining.is_empty() {
        rb.run(format!("Print the K3s join token on {first}"), Some(&first), vec![TOKEN.to_owned()], Vec::new())
    } else {
        return;
    };
    rb.printed("K3S_TOKEN", "the K3s join token", step, TOKEN);
    if joining.is_empty() {
        return;
    }
    manager_addr(rb, ctx.b);
    for node in joining {
        let mut commands = registries_yaml(rb, &hosts);
        let name = word(&node.name);
        commands.push(match node.role {
            Role::Manager => format!(
                "{K3S_INSTALL} | K3S_TOKEN=\"$K3S_TOKEN\" sh -s - server --server \"https://$MANAGER_ADDR:6443\" --node-name {name}"
            ),
            Role::Worker => format!(
                "{K3S_INSTALL} | K3S_URL=\"https://$MANAGER_ADDR:6443\" K3S_TOKEN=\"$K3S_TOKEN\" sh -s - agent --node-name {name}"
            ),
        });
        let kind = if node.role == Role::Manager { "server" } else { "agent" };
        rb.run(format!("Install the K3s {kind} on {}", node.name), Some(&node.name), commands, notes.clone());
    }
}

/// Step: wait for every node, then set every label of every node (and drop the ones a kept node loses).
fn labels(ctx: &Ctx, rb: &mut Runbook) {
    let b = ctx.b;
    if b.target == Target::Compose {
        return;
    }
    let mut commands = Vec::new();
    let names: Vec<String> = b.nodes.keys().map(|n| word(n)).collect();
    if new_cluster(ctx) || !joining(ctx).is_empty() {
        commands.extend(wait_nodes(b.target, &names));
    }
    for node in b.nodes.values() {
        let name = word(&node.name);
        for (key, value) in &node.labels {
            let label = word(&format!("{key}={value}"));
            commands.push(match b.target {
                Target::K8s => format!("kubectl label node {name} {label} --overwrite"),
                _ => format!("docker node update --label-add {label} {name}"),
            });
        }
        let Some(old) = ctx.a.nodes.get(&node.name).filter(|_| !new_cluster(ctx)) else { continue };
        for key in old.labels.keys().filter(|k| !node.labels.contains_key(*k)) {
            commands.push(match b.target {
                Target::K8s => format!("kubectl label node {name} {}-", word(key)),
                _ => format!("docker node update --label-rm {} {name}", word(key)),
            });
        }
    }
    if commands.is_empty() {
        return;
    }
    let title = if b.nodes.values().any(|n| !n.labels.is_empty()) {
        "Check that every node is ready; label the nodes"
    } else {
        "Check that every node is ready"
    };
    rb.run(title, Some(&manager(b)), commands, vec!["placement constraints read these labels".to_owned()]);
}

fn wait_nodes(target: Target, names: &[String]) -> Vec<String> {
    let list = names.join(" ");
    match target {
        Target::K8s => vec![
            format!("for n in {list}; do {}; done", wait_until("kubectl get node \"$n\" > /dev/null 2>&1", 60, 10, "")),
            format!(
                "kubectl wait --for=condition=Ready {} --timeout=600s",
                names.iter().map(|n| format!("node/{n}")).collect::<Vec<_>>().join(" ")
            ),
        ],
        _ => vec![format!(
            "for n in {list}; do {}; done",
            wait_until("[ \"$(docker node inspect -f '{{.Status.State}}' \"$n\" 2> /dev/null)\" = ready ]", 60, 10, "")
        )],
    }
}

/// Step: the Docker manager logs in to each private registry (compose and Swarm).
fn registry_login(ctx: &Ctx, rb: &mut Runbook) {
    let (a, b) = (ctx.a, ctx.b);
    let hosts = private_registries(ctx.model, b);
    let before = private_registries(ctx.model, a);
    let needed = b.target != Target::K8s
        && !hosts.is_empty()
        && (a.target != b.target || new_cluster(ctx) || hosts.iter().any(|h| !before.contains(h)));
    if !needed {
        return;
    }
    let mut commands = Vec::new();
    for index in 0..hosts.len() {
        let (user, password) = registry_vars(rb, &hosts, index);
        commands.push(format!(
            "printf '%s' \"${password}\" | docker login {} --username \"${user}\" --password-stdin",
            word(&hosts[index])
        ));
    }
    let notes =
        vec![format!("the images come from {}; skip this step if it serves them without a login", hosts.join(", "))];
    rb.run(format!("Log in to {} on {}", hosts.join(", "), manager(b)), Some(&manager(b)), commands, notes);
}

/// Step (Kubernetes): the `docker-registry` Secret of each registry the spec
/// names a `pull_secret` for, which the pods pulling from it list in
/// `imagePullSecrets` (registries.yaml gives K3s's own nodes the login too;
/// the Secret works on any cluster).
fn pull_secrets(ctx: &Ctx, rb: &mut Runbook) {
    let (model, a, b) = (ctx.model, ctx.a, ctx.b);
    if b.target != Target::K8s {
        return;
    }
    let hosts = private_registries(model, b);
    let before = if a.target == Target::K8s && !new_cluster(ctx) { private_registries(model, a) } else { Vec::new() };
    let mut commands = Vec::new();
    for (index, host) in hosts.iter().enumerate() {
        let Some(secret) = model.registries.get(host).filter(|_| !before.contains(host)) else { continue };
        let (user, password) = registry_vars(rb, &hosts, index);
        commands.push(format!(
            "kubectl create secret docker-registry {} --namespace {} --docker-server={} \\\n  --docker-username=\"${user}\" --docker-password=\"${password}\" --dry-run=client -o yaml | kubectl apply -f -",
            word(secret),
            word(&model.project),
            word(host)
        ));
    }
    if commands.is_empty() {
        return;
    }
    commands.insert(
        0,
        format!("kubectl create namespace {} --dry-run=client -o yaml | kubectl apply -f -", word(&model.project)),
    );
    let notes = vec!["the pods that pull from these registries list the Secrets in imagePullSecrets; the values come from this shell's environment, none is written to a file".to_owned()];
    rb.run("Create the registry pull secrets", Some(&manager(b)), commands, notes);
}

/// Step: the secrets the new target stores itself (a Kubernetes Secret, Swarm secrets as files).
/// The step that gives a Kubernetes phase its Secret, as `secrets_from` says.
struct SecretStep<'a> {
    title: &'static str,
    commands: Vec<String>,
    notes: Vec<String>,
    /// The secrets whose values the commands read from the shell.
    reads: Vec<&'a String>,
}

fn k8s_secret_step<'a>(model: &Model, names: &'a [String]) -> Option<SecretStep<'a>> {
    let from_shell =
        "the values come from the environment of this shell: none is written to a file or printed".to_owned();
    match &model.secrets_from {
        SecretsSource::OutOfBand => Some(SecretStep {
            title: "Create the secrets",
            commands: vec![
                format!("kubectl create namespace {} --dry-run=client -o yaml | kubectl apply -f -", model.project),
                format!(
                    "{} \\\n  --dry-run=client -o yaml | kubectl apply -f -",
                    names::create_secret_command(model, names)
                ),
            ],
            notes: vec![from_shell],
            reads: names.iter().collect(),
        }),
        SecretsSource::External { store, store_kind, .. } => {
            let get = match *store_kind {
                "ClusterSecretStore" => format!("kubectl get clustersecretstore {store}"),
                _ => format!("kubectl get secretstore {store} --namespace {}", model.project),
            };
            Some(SecretStep {
                title: "Check the secret store",
                commands: vec![get],
                notes: vec![format!(
                    "External Secrets Operator fills {} from this store (topo does not render it): it must be Ready and hold the keys the ExternalSecret names",
                    names::secret_name(model)
                )],
                reads: Vec::new(),
            })
        }
        SecretsSource::Sealed { encrypted, controller_namespace, controller_name } => {
            let unsealed: Vec<String> = names.iter().filter(|s| !encrypted.contains_key(*s)).cloned().collect();
            if unsealed.is_empty() {
                return None;
            }
            Some(SecretStep {
                title: "Seal the secrets",
                commands: names::kubeseal_commands(model, &unsealed),
                notes: vec![
                    format!(
                        "kubeseal asks the sealed-secrets controller `{controller_name}` in `{controller_namespace}` for its key: install it first (its Helm chart with `--namespace {controller_namespace} --set-string fullnameOverride={controller_name}`)"
                    ),
                    from_shell,
                    "paste each output into the spec's `secrets_from.sealed-secrets.encrypted`, under the secret's name, and render again: until then the SealedSecret holds a placeholder the controller refuses to unseal".to_owned(),
                ],
                reads: names.iter().filter(|s| unsealed.contains(s)).collect(),
            })
        }
    }
}

fn secrets(ctx: &Ctx, rb: &mut Runbook) {
    let (model, a, b) = (ctx.model, ctx.a, ctx.b);
    let used = ops::used_secrets(model, b);
    let mut commands = Vec::new();
    match b.target {
        Target::K8s => {
            let before =
                if a.target == Target::K8s && !new_cluster(ctx) { ops::used_secrets(model, a) } else { Vec::new() };
            if used.is_empty() || used.iter().all(|s| before.contains(s)) {
                return;
            }
            let names: Vec<String> = used.iter().map(|s| (*s).clone()).collect();
            let Some(step) = k8s_secret_step(model, &names) else { return };
            for secret in step.reads {
                rb.secret(secret);
            }
            rb.run(step.title, Some(&manager(b)), step.commands, step.notes);
            return;
        }
        Target::Swarm => {
            let as_files = |p: &Phase, s: &str| {
                p.target == Target::Swarm
                    && p.services
                        .values()
                        .any(|sv| sv.secrets_as == SecretsAs::Files && sv.secrets.iter().any(|x| x == s))
            };
            for secret in used.iter().filter(|s| as_files(b, s) && (new_cluster(ctx) || !as_files(a, s))) {
                let name = names::swarm_secret_name(model, secret);
                commands.push(format!("docker secret inspect {name} > /dev/null 2>&1 || printf '%s' \"${secret}\" | docker secret create {name} -"));
            }
        }
        Target::Compose => return,
    }
    if commands.is_empty() {
        return;
    }
    for secret in &used {
        rb.secret(secret);
    }
    let notes =
        vec!["the values come from the environment of this shell: none is written to a file or printed".to_owned()];
    rb.run("Create the secrets", Some(&manager(b)), commands, notes);
}

/// Step: cert-manager and the spec's ClusterIssuer (ACME HTTP-01 through the ingress class).
fn cert_manager(ctx: &Ctx, rb: &mut Runbook) {
    let (model, b) = (ctx.model, ctx.b);
    let Some(issuer) = &model.ingress.cluster_issuer else { return };
    if ops::hosts(b).is_empty() {
        return;
    }
    let install = vec![
        format!(
            "kubectl apply -f https://github.com/cert-manager/cert-manager/releases/download/{CERT_MANAGER_VERSION}/cert-manager.yaml"
        ),
        "kubectl -n cert-manager wait --for=condition=Available deployment --all --timeout=300s".to_owned(),
    ];
    if model.ingress.acme.is_some() {
        // The spec's `ingress.acme`: the ClusterIssuer is among the rendered manifests.
        let notes = vec![format!(
            "the ClusterIssuer `{issuer}` comes with the manifests (`ingress.acme`); the Ingresses ask for it, and its certificates are issued only after the DNS move"
        )];
        rb.run("Install cert-manager", Some(&manager(b)), install, notes);
        return;
    }
    rb.input("ACME_EMAIL", "the e-mail address Let's Encrypt writes to about the certificates");
    let server = if issuer.contains("staging") {
        "https://acme-staging-v02.api.letsencrypt.org/directory"
    } else {
        "https://acme-v02.api.letsencrypt.org/directory"
    };
    let manifest = format!(
        "cat > cluster-issuer.yaml <<EOF\napiVersion: cert-manager.io/v1\nkind: ClusterIssuer\nmetadata:\n  name: {issuer}\nspec:\n  acme:\n    server: {server}\n    email: $ACME_EMAIL\n    privateKeySecretRef:\n      name: {issuer}-account-key\n    solvers:\n    - http01:\n        ingress:\n          ingressClassName: {}\nEOF",
        model.ingress.class
    );
    let mut commands = install;
    commands.extend([
        manifest,
        // The webhook may still be starting: retry the apply.
        wait_until("kubectl apply -f cluster-issuer.yaml", 12, 10, ""),
    ]);
    let notes = vec![format!(
        "the Ingresses ask for the ClusterIssuer `{issuer}` (cert-manager.io/cluster-issuer); its certificates are issued only after the DNS move"
    )];
    rb.run(format!("Install cert-manager and the ClusterIssuer {issuer}"), Some(&manager(b)), commands, notes);
}

/// Step: the exporters the alert rules read, and the rules themselves. With
/// the spec's `monitoring:`, the release and namespace are the spec's and the
/// rules come with the manifests (a PrometheusRule labelled for the
/// release), so the chart gets none of its own.
fn monitoring(ctx: &Ctx, rb: &mut Runbook) {
    let (model, b) = (ctx.model, ctx.b);
    let mut commands = vec![
        "command -v helm > /dev/null || curl -fsSL https://raw.githubusercontent.com/helm/helm/main/scripts/get-helm-3 | sh".to_owned(),
        "helm repo add prometheus-community https://prometheus-community.github.io/helm-charts --force-update".to_owned(),
    ];
    let stack = &model.monitoring;
    let (release, namespace, values) = if stack.enabled {
        (stack.release.as_str(), stack.namespace.as_str(), String::new())
    } else {
        let rules = format!("{RENDER_DIR}/{}/{}", names::phase_dir(b), names::RULES_FILE);
        commands.push(format!(
            "{{ printf 'additionalPrometheusRulesMap:\\n  topo-{}:\\n'; sed 's/^/    /' {rules}; }} > monitoring-values.yaml",
            model.project
        ));
        ("monitoring", "monitoring", " --values monitoring-values.yaml".to_owned())
    };
    commands.push(format!(
        "KUBECONFIG=/etc/rancher/k3s/k3s.yaml helm upgrade --install {} prometheus-community/kube-prometheus-stack \
         --namespace {} --create-namespace{values} --set kubeEtcd.enabled=false --set kubeControllerManager.enabled=false \
         --set kubeScheduler.enabled=false --set kubeProxy.enabled=false --wait --timeout 15m",
        word(release),
        word(namespace)
    ));
    let mut notes = vec![
        "kube-prometheus-stack: Prometheus, node-exporter (node cpu, memory, disk), the kubelet's cAdvisor (containers) and kube-state-metrics (replicas), which the alert rules read".to_owned(),
        "K3s runs etcd, the scheduler, the controller manager and kube-proxy inside one process: their scrapes are off".to_owned(),
    ];
    notes.push(if stack.enabled {
        format!(
            "the alert rules (PrometheusRule {}) and the ServiceMonitors come with the manifests, labelled `release: {release}`, which the chart's default selectors match",
            names::rule_name(model)
        )
    } else {
        format!("the rules come from the render step's {RENDER_DIR} directory, copied here; rules on the services' own metrics (latency, errors, queues) also need those services scraped (a ServiceMonitor each: name the stack with `monitoring:` in the spec)")
    });
    rb.run("Install the monitoring stack and the alert rules", Some(&manager(b)), commands, notes);
}

/// Steps: the nodes the cluster loses leave it once their work has moved.
pub fn remove_nodes(ctx: &Ctx, rb: &mut Runbook) {
    let (a, b) = (ctx.a, ctx.b);
    let gone: Vec<&Node> = a.nodes.values().filter(|n| !b.nodes.contains_key(&n.name)).collect();
    if gone.is_empty() {
        return;
    }
    let same_cluster = a.target == b.target && !new_cluster(ctx);
    let on = manager(b);
    match b.target {
        Target::Swarm if same_cluster => {
            let mut drain = Vec::new();
            for node in &gone {
                let name = word(&node.name);
                drain.push(format!("docker node update --availability drain {name}"));
                drain.push(wait_until(
                    &format!("[ -z \"$(docker node ps {name} -q -f desired-state=running)\" ]"),
                    60,
                    10,
                    "",
                ));
            }
            rb.run(
                "Drain the nodes that leave",
                Some(&on),
                drain,
                vec!["their tasks move to the other nodes first".to_owned()],
            );
            for node in &gone {
                rb.run(
                    format!("Take {} out of the swarm", node.name),
                    Some(&node.name),
                    vec!["docker swarm leave".to_owned()],
                    Vec::new(),
                );
            }
            let rm = gone.iter().map(|n| format!("docker node rm {}", word(&n.name))).collect();
            rb.run("Forget the nodes that left", Some(&on), rm, Vec::new());
        }
        Target::K8s if same_cluster => {
            let mut drain = Vec::new();
            for node in &gone {
                let name = word(&node.name);
                drain.push(format!("kubectl drain {name} --ignore-daemonsets --delete-emptydir-data --timeout=600s"));
                drain.push(format!("kubectl delete node {name}"));
            }
            rb.run("Drain and delete the nodes that leave", Some(&on), drain, Vec::new());
            for node in &gone {
                let script = if node.role == Role::Manager { "k3s-uninstall.sh" } else { "k3s-agent-uninstall.sh" };
                rb.run(
                    format!("Uninstall K3s from {}", node.name),
                    Some(&node.name),
                    vec![format!("/usr/local/bin/{script}")],
                    Vec::new(),
                );
            }
        }
        _ => {}
    }
    let names: Vec<&str> = gone.iter().map(|n| n.name.as_str()).collect();
    rb.manual(
        format!("Cancel {} at the provider", names.join(", ")),
        vec!["after a last look at its disks: nothing of the new phase runs there".to_owned()],
    );
}
