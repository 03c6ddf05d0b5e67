//! How each target does the things a migration asks of a running phase:
//! where its commands run, running a program inside a service, stopping and
//! starting the applications, deploying the rendered files and waiting for
//! them, the ingress test, the DNS move and the old phase's end.

use crate::model::names;
use crate::model::{Model, Phase, Service};
use crate::spec::{Role, Target};

use super::data::Carried;
use super::migrate::NodesOf;
use super::steps::{Ctx, Runbook, wait_until, word};

/// Where `topo render --all` writes, on the workstation.
pub const RENDER_DIR: &str = "topo-out";
/// Bounded waits: this many rounds of 10 s (10 minutes).
const ROUNDS: u32 = 60;

/// The node a phase's cluster-wide commands run on: its first manager (the
/// Dokploy host, the Swarm manager, the K3s server), else its first node.
pub fn manager(phase: &Phase) -> String {
    let first_manager = phase.nodes.values().find(|n| n.role == Role::Manager);
    first_manager.or_else(|| phase.nodes.values().next()).map(|n| n.name.clone()).unwrap_or_default()
}

/// The compose project and Swarm stack name, as the commands write it.
pub fn app(model: &Model) -> String {
    format!("${{APP:-{}}}", model.project)
}

pub fn declare_app(rb: &mut Runbook, model: &Model) {
    rb.input_with_default(
        "APP",
        "the compose project of a compose phase and the stack name of a Swarm phase, which must stay the same \
         for the volumes to carry over; under Dokploy, the app's App Name (its containers' \
         com.docker.compose.project label)",
        &model.project,
    );
}

/// A Docker named volume as the engine names it: `<project>_<service>-<volume>`.
pub fn docker_volume(model: &Model, service: &Service, volume: &str) -> String {
    format!("{}_{}", app(model), names::volume_name(service, volume))
}

/// The node a service's container runs on, where `docker exec` finds it.
pub fn runs_on(phase: &Phase, service: &str, nodes: &NodesOf) -> String {
    match phase.target {
        Target::Swarm => nodes.get(service).and_then(|n| n.first().cloned()).unwrap_or_else(|| manager(phase)),
        _ => manager(phase),
    }
}

/// The prefix that runs a program inside the service (stdin attached, no tty).
pub fn exec(model: &Model, phase: &Phase, service: &Service) -> String {
    let app = app(model);
    let name = &service.name;
    match phase.target {
        Target::Compose => format!("docker compose -p \"{app}\" exec -T {name}"),
        Target::Swarm => format!(
            "docker exec -i \"$(docker ps -q -f \"label=com.docker.swarm.service.name={app}_{name}\" | head -n 1)\""
        ),
        Target::K8s => {
            let pod = if service.stateful { format!("{name}-0") } else { format!("deploy/{name}") };
            format!("kubectl -n {} exec -i {pod} --", model.project)
        }
    }
}

/// The services that write to the data: every service that is not stateful.
fn writers(phase: &Phase) -> Vec<&Service> {
    phase.services.values().filter(|s| !s.stateful).collect()
}

/// Commands that stop `services` (their containers or pods), keeping everything else.
fn stop(model: &Model, phase: &Phase, services: &[&Service]) -> Vec<String> {
    let names: Vec<&str> = services.iter().map(|s| s.name.as_str()).collect();
    if names.is_empty() {
        return Vec::new();
    }
    let app = app(model);
    match phase.target {
        Target::Compose => vec![format!("docker compose -p \"{app}\" stop {}", names.join(" "))],
        Target::Swarm => {
            let scaled: Vec<String> =
                services.iter().filter(|s| !s.is_global()).map(|s| format!("\"{app}_{}=0\"", s.name)).collect();
            if scaled.is_empty() { Vec::new() } else { vec![format!("docker service scale {}", scaled.join(" "))] }
        }
        Target::K8s => {
            let kinds: Vec<String> =
                services.iter().filter(|s| !s.is_global()).map(|s| format!("deployment/{}", s.name)).collect();
            if kinds.is_empty() {
                Vec::new()
            } else {
                vec![format!("kubectl -n {} scale {} --replicas=0", model.project, kinds.join(" "))]
            }
        }
    }
}

/// Commands that start `services` again at the phase's replica counts.
fn start(model: &Model, phase: &Phase, services: &[&Service]) -> Vec<String> {
    let app = app(model);
    match phase.target {
        Target::Compose if !services.is_empty() => {
            let names: Vec<&str> = services.iter().map(|s| s.name.as_str()).collect();
            vec![format!("docker compose -p \"{app}\" start {}", names.join(" "))]
        }
        Target::Compose => Vec::new(),
        Target::Swarm => {
            let scaled: Vec<String> = services
                .iter()
                .filter(|s| !s.is_global())
                .map(|s| format!("\"{app}_{}={}\"", s.name, s.least_replicas()))
                .collect();
            if scaled.is_empty() { Vec::new() } else { vec![format!("docker service scale {}", scaled.join(" "))] }
        }
        Target::K8s => services
            .iter()
            .filter(|s| !s.is_global())
            .map(|s| {
                format!("kubectl -n {} scale deployment/{} --replicas={}", model.project, s.name, s.least_replicas())
            })
            .collect(),
    }
}

/// Commands that wait until every service of the phase runs, bounded.
fn wait(model: &Model, phase: &Phase) -> Vec<String> {
    let app = app(model);
    match phase.target {
        // `up --wait` already waited for the health checks.
        Target::Compose => Vec::new(),
        Target::Swarm => {
            // Every service shows `n/n` replicas (a task with a health check counts once healthy).
            let pending = format!(
                "docker service ls --filter \"label=com.docker.stack.namespace={app}\" --format '{{{{.Replicas}}}}' \
                 | grep -qv '^\\([0-9][0-9]*\\)/\\1\\( .*\\)\\{{0,1\\}}$'"
            );
            vec![wait_until(&format!("! {pending}"), ROUNDS, 10, &format!("docker stack ps \"{app}\" --no-trunc; "))]
        }
        Target::K8s => {
            let kind = |s: &Service| match (s.stateful, s.is_global()) {
                (true, _) => "statefulset",
                (false, true) => "daemonset",
                (false, false) => "deployment",
            };
            let workloads: Vec<String> = phase.services.values().map(|s| format!("{}/{}", kind(s), s.name)).collect();
            vec![format!(
                "for w in {}; do kubectl -n {} rollout status \"$w\" --timeout=600s || exit 1; done",
                workloads.join(" "),
                model.project
            )]
        }
    }
}

/// Commands that stop a whole phase and keep its data (volumes, claims).
fn teardown(model: &Model, phase: &Phase) -> Vec<String> {
    let app = app(model);
    match phase.target {
        Target::Compose => vec![format!("docker compose -p \"{app}\" down")],
        Target::Swarm => vec![
            format!("docker stack rm \"{app}\""),
            // The stack's networks go last, once its containers have stopped.
            wait_until(
                &format!("[ -z \"$(docker network ls -q -f \"label=com.docker.stack.namespace={app}\")\" ]"),
                ROUNDS,
                10,
                "",
            ),
        ],
        Target::K8s => vec![format!("kubectl -n {} scale deployment,statefulset --all --replicas=0", model.project)],
    }
}

/// The file or directory `topo render` writes for the phase, as the deploy command reads it.
fn rendered(phase: &Phase) -> String {
    match phase.target {
        Target::Compose => names::COMPOSE_FILE.to_owned(),
        Target::Swarm => names::STACK_FILE.to_owned(),
        Target::K8s => format!("{RENDER_DIR}/{}", names::overlay_dir(phase)),
    }
}

/// Step: render the new phase's files on the workstation.
pub fn render_step(ctx: &Ctx, rb: &mut Runbook) {
    let b = ctx.b;
    let spec = word(ctx.spec);
    let (command, what) = match b.target {
        Target::K8s => {
            (format!("topo render --spec {spec} --all --out {RENDER_DIR}"), format!("the {RENDER_DIR} directory"))
        }
        target => {
            let file = rendered(b);
            (format!("topo render --spec {spec} --phase {} --target {} > {file}", b.number, target.as_str()), file)
        }
    };
    let mut notes = vec![format!("copy {what} to {} (scp), where the deploy step runs", manager(b))];
    if b.target == Target::K8s {
        notes.push(format!(
            "{} is phase {}'s kustomize overlay; {RENDER_DIR}/{}/{} its alert rules",
            rendered(b),
            b.number,
            names::phase_dir(b),
            names::RULES_FILE
        ));
    }
    rb.run(format!("Render phase {}'s files", b.number), None, vec![command], notes);
}

/// The secrets the phase's services read, sorted.
pub fn used_secrets<'a>(model: &'a Model, phase: &Phase) -> Vec<&'a String> {
    model.secrets.iter().filter(|s| phase.services.values().any(|sv| sv.secrets.contains(s))).collect()
}

/// Steps: deploy the new phase (its applications held when data is still to come), then wait for it.
pub fn deploy_steps(ctx: &Ctx, rb: &mut Runbook, hold: bool) {
    let (model, b) = (ctx.model, ctx.b);
    let on = manager(b);
    let app = app(model);
    let mut notes = vec![format!("{} was copied here from the render step", rendered(b))];
    let mut commands = match b.target {
        Target::Compose => {
            vec![format!("docker compose -p \"{app}\" -f {} up -d --wait --wait-timeout 600", names::COMPOSE_FILE)]
        }
        Target::Swarm => vec![format!("docker stack deploy --with-registry-auth -c {} \"{app}\"", names::STACK_FILE)],
        Target::K8s => vec![format!("kubectl apply -k {}", rendered(b))],
    };
    if b.target != Target::K8s {
        declare_app(rb, model);
        let env: Vec<&str> = b
            .services
            .values()
            .filter(|s| b.target == Target::Compose || s.secrets_as == crate::spec::SecretsAs::Env)
            .flat_map(|s| s.secrets.iter().map(String::as_str))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        for secret in &env {
            rb.secret(secret);
        }
        if !env.is_empty() {
            // Fails at once, naming the first one missing.
            let checks: Vec<String> = env.iter().map(|s| format!("\"${{{s}:?}}\"")).collect();
            commands.insert(0, format!(": {}", checks.join(" ")));
            notes.push(format!(
                "export {} in this shell first: the file reads them from the environment and refuses to deploy without them",
                env.join(", ")
            ));
        }
    }
    if b.target == Target::Swarm {
        notes.push(
            "--with-registry-auth hands the manager's registry login to the nodes that pull the images".to_owned(),
        );
    }
    let mut title = format!("Deploy phase {} ({})", b.number, b.name);
    let held = if hold { stop(model, b, &writers(b)) } else { Vec::new() };
    if !held.is_empty() {
        commands.extend(held);
        title.push_str(", its applications stopped until the data is restored");
    }
    rb.run(title, Some(&on), commands, notes);
    let waits = wait(model, b);
    if !waits.is_empty() {
        rb.run(format!("Wait until every service of phase {} runs", b.number), Some(&on), waits, Vec::new());
    }
}

/// Step: stop the old phase's applications, so that nothing writes while the data is copied.
pub fn stop_writers_step(ctx: &Ctx, rb: &mut Runbook) {
    let (model, a) = (ctx.model, ctx.a);
    let writers = writers(a);
    let commands = stop(model, a, &writers);
    if commands.is_empty() {
        return;
    }
    if a.target != Target::K8s {
        declare_app(rb, model);
    }
    let mut notes = vec!["the maintenance window starts: the applications are down from here".to_owned()];
    let global: Vec<&str> =
        writers.iter().filter(|s| s.is_global() && a.target != Target::Compose).map(|s| s.name.as_str()).collect();
    if !global.is_empty() {
        notes.push(format!("{} (global) keep running: stop their writes in the application", global.join(", ")));
    }
    rb.run(format!("Stop phase {}'s applications (writes stop)", a.number), Some(&manager(a)), commands, notes);
}

/// Step: start the new phase's applications once their data is there.
pub fn start_writers_step(ctx: &Ctx, rb: &mut Runbook) {
    let (model, b) = (ctx.model, ctx.b);
    let mut commands = start(model, b, &writers(b));
    if commands.is_empty() {
        return;
    }
    commands.extend(wait(model, b));
    rb.run(format!("Start phase {}'s applications", b.number), Some(&manager(b)), commands, Vec::new());
}

/// Step: stop the whole old phase before the new one takes its machines, keeping the data.
pub fn stop_old_step(ctx: &Ctx, rb: &mut Runbook, carried: &[&Carried]) {
    let (model, a) = (ctx.model, ctx.a);
    let on = manager(a);
    let mut commands = teardown(model, a);
    let kept: Vec<String> = carried
        .iter()
        .filter(|c| c.keep && c.from == on)
        .flat_map(|c| c.old.own_volumes().map(|v| format!("\"{}\"", docker_volume(model, c.old, &v.name))))
        .collect();
    if !kept.is_empty() && a.target != Target::K8s {
        commands.push(format!("docker volume inspect {} > /dev/null", kept.join(" ")));
    }
    let mut notes = Vec::new();
    match a.target {
        Target::Compose => {
            notes.push(
                "without -v: the volumes stay for the new phase (the last command checks they are there)".to_owned(),
            );
            notes.push(format!(
                "phase {} and the new phase must not run together: both would give Traefik a router for the same hosts",
                a.number
            ));
            notes.push("under Dokploy, run this rather than the app's Stop button, which keeps the containers and their network; never Delete the app with its volumes".to_owned());
        }
        Target::Swarm => notes.push("docker stack rm keeps the volumes".to_owned()),
        Target::K8s => notes.push("scaled to zero: the persistent volume claims stay".to_owned()),
    }
    notes.push(format!("rollback: deploy phase {} again; its data is untouched", a.number));
    if a.target != Target::K8s {
        declare_app(rb, model);
    }
    rb.run(format!("Stop phase {} ({})", a.number, a.name), Some(&on), commands, notes);
}

/// The hosts the phase exposes, sorted.
pub fn hosts(phase: &Phase) -> Vec<String> {
    let mut hosts: Vec<String> =
        phase.services.values().filter_map(|s| s.expose.as_ref().map(|e| e.host.clone())).collect();
    hosts.sort();
    hosts.dedup();
    hosts
}

/// The nodes that take the phase's public traffic.
pub fn entry_nodes(phase: &Phase) -> Vec<String> {
    let managers: Vec<String> =
        phase.nodes.values().filter(|n| n.role == Role::Manager).map(|n| n.name.clone()).collect();
    match phase.target {
        // K3s' ServiceLB publishes Traefik on every node.
        Target::K8s => phase.nodes.keys().cloned().collect(),
        // Dokploy's Traefik runs on the manager.
        _ if !managers.is_empty() => managers,
        _ => phase.nodes.keys().cloned().collect(),
    }
}

/// Whether the DNS records must move: the phase exposes hosts and its entry nodes change.
pub fn dns_moves(a: &Phase, b: &Phase) -> bool {
    !hosts(b).is_empty() && entry_nodes(a) != entry_nodes(b)
}

/// The URL that tells whether an exposed service answers: its readiness path, else its exposed path.
fn check_url(service: &Service) -> Option<(String, String, u16)> {
    let expose = service.expose.as_ref()?;
    let path = match service.health.as_ref().map(|h| &h.readiness.probe) {
        Some(crate::model::Probe::Http { path, .. }) => path.clone(),
        _ => expose.path.clone(),
    };
    let (scheme, port) = if expose.tls { ("https", 443) } else { ("http", 80) };
    Some((expose.host.clone(), format!("{scheme}://{}{path}", expose.host), port))
}

/// Step: reach every exposed host through the new ingress, before or without a DNS change.
pub fn test_step(ctx: &Ctx, rb: &mut Runbook, dns: bool) {
    let b = ctx.b;
    let urls: Vec<(String, String, u16)> = b.services.values().filter_map(check_url).collect();
    if urls.is_empty() {
        return;
    }
    let entry = entry_nodes(b).into_iter().next().unwrap_or_default();
    rb.input("INGRESS_ADDR", format!("the public IP address of {entry}, where phase {}'s ingress listens", b.number));
    let insecure = if dns { " -k" } else { "" };
    let commands = urls
        .iter()
        .map(|(host, url, port)| {
            format!(
                "curl -fsS{insecure} --retry 10 --retry-delay 6 -o /dev/null --resolve {host}:{port}:\"$INGRESS_ADDR\" {}",
                word(url)
            )
        })
        .collect();
    let notes = if dns {
        vec!["-k: the certificates are issued only once DNS points at the new ingress (the next steps)".to_owned()]
    } else {
        vec![format!(
            "DNS stays: {entry} remains the entry point (Traefik), the records already point at it, and Traefik keeps the certificates it issued for them"
        )]
    };
    rb.run("Check every exposed host through the new ingress", None, commands, notes);
}

/// Steps: move the DNS records, then wait for the certificates that need them.
pub fn dns_steps(ctx: &Ctx, rb: &mut Runbook) {
    let (model, b) = (ctx.model, ctx.b);
    let entries = entry_nodes(b).join(", ");
    let mut notes = vec![format!("A/AAAA records to the public IP addresses of {entries}")];
    if b.target == Target::K8s {
        notes.push(
            "K3s' ServiceLB publishes Traefik on every node: list them all, or put a load balancer in front".to_owned(),
        );
    }
    rb.manual(format!("Point the DNS records of {} at {entries}", hosts(b).join(", ")), notes);
    let urls: Vec<String> = b.services.values().filter_map(check_url).map(|(_, url, _)| word(&url)).collect();
    let mut commands = Vec::new();
    let on = match (b.target, &model.ingress.cluster_issuer) {
        (Target::K8s, Some(_)) => {
            commands.push(format!(
                "kubectl -n {} wait --for=condition=Ready certificate --all --timeout=900s",
                model.project
            ));
            Some(manager(b))
        }
        _ => None,
    };
    let checks: Vec<String> =
        urls.iter().map(|url| wait_until(&format!("curl -fsS -o /dev/null {url}"), ROUNDS, 10, "")).collect();
    if on.is_none() {
        commands.extend(checks.iter().cloned());
    }
    let notes = vec![format!(
        "HTTP-01 succeeds only once the records point at {entries}: the certificates come after the DNS move, within minutes of it"
    )];
    rb.run("Wait for the TLS certificates", on.as_deref(), commands, notes);
    if on.is_some() && !checks.is_empty() {
        rb.run("Check every exposed host with its certificate", None, checks, Vec::new());
    }
}

/// Step: nothing is sent to the old entry nodes any more.
pub fn wait_ttl_step(ctx: &Ctx, rb: &mut Runbook) {
    rb.manual(
        format!(
            "Wait until the old TTL has passed and phase {}'s access logs are quiet; then raise the TTL again",
            ctx.a.number
        ),
        vec!["resolvers that cached the old records still send traffic to the old ingress until then".to_owned()],
    );
}

/// Steps: the old phase goes once nothing reaches it any more.
pub fn decommission_steps(ctx: &Ctx, rb: &mut Runbook) {
    let (model, a, b) = (ctx.model, ctx.a, ctx.b);
    if dns_moves(a, b) {
        wait_ttl_step(ctx, rb);
    }
    if a.target != Target::K8s {
        declare_app(rb, model);
    }
    let notes = vec![
        "the data stays on the old machines until they are cancelled: keep them a few days for a rollback".to_owned(),
    ];
    rb.run(format!("Stop phase {} ({})", a.number, a.name), Some(&manager(a)), teardown(model, a), notes);
    let gone: Vec<&str> = a.nodes.keys().filter(|n| !b.nodes.contains_key(*n)).map(String::as_str).collect();
    if !gone.is_empty() {
        rb.manual(
            format!("Cancel {} at the provider", gone.join(", ")),
            vec!["after a last backup; the dumps of the data steps are copies of what moved".to_owned()],
        );
    }
}

/// Why a machine's hostname matters to the target.
pub fn why_hostname(phase: &Phase) -> &'static str {
    match phase.target {
        Target::Swarm => "Swarm names a node after its hostname, and the labels and placement use that name",
        Target::K8s => "the K3s commands pass it as --node-name, which the labels and placement use",
        Target::Compose => "the plan's commands name it so",
    }
}

/// What a new machine needs before the commands run.
pub fn machine_software(target: Target) -> &'static str {
    match target {
        Target::K8s => "a fresh Linux with curl: K3s brings its own container runtime (no Docker, no Dokploy)",
        _ => "Docker Engine installed (`curl -fsSL https://get.docker.com | sh`), the same major version on every node",
    }
}
