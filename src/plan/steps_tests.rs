//! Step derivation for pairs of phases: the order, where each step runs, and
//! the commands with their values filled in.

#![allow(clippy::unwrap_used, clippy::panic)]

use super::*;
use crate::plan::migrate::{Migration, migration};

fn migrate(spec: &str, from: u32, to: u32) -> Migration {
    let model = match crate::compile(spec.as_bytes()) {
        Ok(compiled) => compiled.model,
        Err(diags) => panic!("{:?}", diags.iter().map(|d| &d.message).collect::<Vec<_>>()),
    };
    let (a, b) = (model.phase(from).unwrap(), model.phase(to).unwrap());
    migration(&model, "specs/x.yaml", a, b)
}

/// The number (from 1) of the first step whose title contains `part`.
fn step(m: &Migration, part: &str) -> usize {
    let titles: Vec<&str> = m.steps.iter().map(|s| s.title.as_str()).collect();
    titles
        .iter()
        .position(|t| t.contains(part))
        .map(|i| i + 1)
        .unwrap_or_else(|| panic!("no step `{part}` in {titles:#?}"))
}

fn has_step(m: &Migration, part: &str) -> bool {
    m.steps.iter().any(|s| s.title.contains(part))
}

fn commands(m: &Migration, n: usize) -> Vec<&str> {
    m.steps[n - 1].commands.iter().map(String::as_str).collect()
}

fn on(m: &Migration, n: usize) -> Option<&str> {
    m.steps[n - 1].on.as_deref()
}

const FINANZAS: &str = include_str!("../../specs/finanzas.yaml");

#[test]
fn compose_to_swarm_on_the_same_node_reuses_the_volumes() {
    let m = migrate(FINANZAS, 1, 2);
    let writers = step(&m, "Stop phase 1's applications");
    let dump = step(&m, "Back up postgres");
    let down = step(&m, "Stop phase 1 (dokploy)");
    let deploy = step(&m, "Deploy phase 2");
    let wait = step(&m, "Wait until every service of phase 2 runs");
    let check = step(&m, "Check postgres's data");
    assert!(writers < dump && dump < down && down < deploy && deploy < wait && wait < check, "{:#?}", m.steps);
    assert_eq!(
        commands(&m, writers),
        ["docker compose -p \"${APP:-finanzas}\" stop backend bullmq-worker embedding frontend"]
    );
    assert!(commands(&m, dump)[0].ends_with("pg_dump -U postgres -d finanzas_db -Fc > postgres.dump"));
    assert_eq!(commands(&m, down)[0], "docker compose -p \"${APP:-finanzas}\" down");
    assert!(
        commands(&m, deploy).contains(&"docker stack deploy --with-registry-auth -c stack.yml \"${APP:-finanzas}\"")
    );
    assert_eq!(on(&m, deploy), Some("vps-1"));
    assert_eq!(commands(&m, check).last(), Some(&"diff postgres.counts.before postgres.counts.after"));
    // Nothing is restored, the entry node stays: no DNS move, no -k.
    assert!(!has_step(&m, "Restore") && !has_step(&m, "DNS") && !has_step(&m, "TTL"));
    let test = step(&m, "Check every exposed host");
    assert!(commands(&m, test).iter().all(|c| c.starts_with("curl -fsS --retry") && c.contains("\"$INGRESS_ADDR\"")));
    assert_eq!(on(&m, test), None);
    // The cluster: init, a join per new node, then every label of every node.
    let init = step(&m, "Make vps-1 the Swarm manager");
    assert!(step(&m, "Join vps-2") > init && step(&m, "Join vps-3") > init);
    let labels = step(&m, "label the nodes");
    assert!(commands(&m, labels).contains(&"docker node update --label-add ram=high vps-2"));
    assert!(commands(&m, labels).contains(&"docker node update --label-add tier=batch vps-3"));
    let login = step(&m, "Log in to registry.tudominio.cloud");
    assert!(login < deploy);
    let token = m.inputs.iter().find(|i| i.name == "SWARM_WORKER_TOKEN").unwrap();
    assert!(token.meaning.contains(&format!("printed by step {init} on vps-1")), "{}", token.meaning);
    assert_eq!(m.inputs.iter().find(|i| i.name == "APP").unwrap().default.as_deref(), Some("finanzas"));
    assert!(m.data.iter().all(|d| d.how.starts_with("kept in place")), "{:#?}", m.data);
}

const MOVES: &str = "project: shop
phases:
  1:
    name: one
    target: compose
    nodes: { a: { role: manager, cpu: 4, memory: 8Gi } }
  2:
    name: two
    target: swarm
    nodes:
      a: { role: manager, cpu: 4, memory: 8Gi }
      b: { role: worker, cpu: 4, memory: 8Gi, labels: { disk: ssd } }
secrets: [POSTGRES_PASSWORD]
services:
  web:
    image: nginx:1.27
    port: 80
    expose: { host: shop.example.com }
  db:
    image: postgres:17
    port: 5432
    stateful: true
    env: { POSTGRES_USER: shop, POSTGRES_DB: orders }
    secrets: [POSTGRES_PASSWORD]
    volumes: { data: { mount: /var/lib/postgresql/data, size: 10Gi } }
    placement: { 2: { labels: { disk: ssd } } }
";

#[test]
fn compose_to_swarm_restores_a_stateful_service_that_moves() {
    let m = migrate(MOVES, 1, 2);
    let dump = step(&m, "Back up db");
    let down = step(&m, "Stop phase 1 (one)");
    let deploy = step(&m, "Deploy phase 2");
    let restore = step(&m, "Restore db into phase 2");
    let start = step(&m, "Start phase 2's applications");
    assert!(dump < down && down < deploy && deploy < restore && restore < start, "{:#?}", m.steps);
    assert_eq!(on(&m, dump), Some("a"));
    assert!(commands(&m, dump)[0].ends_with("pg_dump -U shop -d orders -Fc > db.dump"));
    // The deploy holds the applications; the restore runs where db now runs.
    assert!(m.steps[deploy - 1].title.contains("stopped until the data is restored"));
    assert_eq!(commands(&m, deploy).last(), Some(&"docker service scale \"${APP:-shop}_web=0\""));
    assert_eq!(on(&m, restore), Some("b"));
    assert!(commands(&m, restore)[0].contains("label=com.docker.swarm.service.name=${APP:-shop}_db"));
    assert!(
        commands(&m, restore)[0].ends_with("pg_restore -U shop -d orders --no-owner --clean --if-exists < db.dump")
    );
    assert!(m.steps[restore - 1].notes.iter().any(|n| n.contains("copy db.dump, db.counts.before from a to b")));
    assert_eq!(commands(&m, start)[0], "docker service scale \"${APP:-shop}_web=1\"");
    assert!(m.data[0].why.contains("moves from a to b"), "{:#?}", m.data);
    assert!(!has_step(&m, "Log in"), "nginx comes from Docker Hub");
}

#[test]
fn swarm_to_k8s_moves_dns_before_waiting_for_certificates() {
    let m = migrate(FINANZAS, 2, 3);
    let ttl = step(&m, "lower the TTL");
    let server = step(&m, "Install the K3s server on node-1");
    let agent = step(&m, "Install the K3s agent on node-2");
    let labels = step(&m, "label the nodes");
    let secrets = step(&m, "Seal the secrets");
    let issuer = step(&m, "Install cert-manager and the ClusterIssuer letsencrypt-prod");
    let monitoring = step(&m, "monitoring stack");
    let deploy = step(&m, "Deploy phase 3");
    let writers = step(&m, "Stop phase 2's applications");
    let restore = step(&m, "Restore postgres into phase 3");
    let start = step(&m, "Start phase 3's applications");
    let test = step(&m, "Check every exposed host through");
    let dns = step(&m, "Point the DNS records");
    let certificates = step(&m, "Wait for the TLS certificates");
    let old = step(&m, "Stop phase 2 (swarm)");
    let order = [
        ttl,
        server,
        agent,
        labels,
        secrets,
        issuer,
        monitoring,
        deploy,
        writers,
        restore,
        start,
        test,
        dns,
        certificates,
        old,
    ];
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}: {:#?}", m.steps);
    assert_eq!(ttl, 1);
    // registries.yaml before K3s starts, on every node.
    let install = commands(&m, server);
    assert!(install[0].contains("/etc/rancher/k3s/registries.yaml") && install[1].contains("registry.tudominio.cloud"));
    assert_eq!(install[2], "curl -sfL https://get.k3s.io | sh -s - server --node-name node-1");
    assert!(
        commands(&m, agent).last().unwrap().contains(
            "K3S_URL=\"https://$MANAGER_ADDR:6443\" K3S_TOKEN=\"$K3S_TOKEN\" sh -s - agent --node-name node-2"
        )
    );
    assert!(commands(&m, labels).contains(&"kubectl label node node-2 ram=high --overwrite"));
    assert!(
        commands(&m, secrets)[0].starts_with("printf '%s' \"$GEMINI_API_KEY\" | kubeseal --raw --from-file=/dev/stdin")
    );
    assert!(commands(&m, issuer)[2].contains("ingressClassName: traefik"));
    assert!(commands(&m, monitoring).last().unwrap().contains("kube-prometheus-stack"));
    assert_eq!(commands(&m, deploy)[0], "kubectl apply -k topo-out/k8s/overlays/3-k3s");
    assert!(commands(&m, restore)[0].starts_with("kubectl -n finanzas exec -i postgres-0 -- pg_restore"));
    assert!(commands(&m, test).iter().all(|c| c.contains(" -k ")));
    assert!(m.steps[dns - 1].manual && m.steps[dns - 1].commands.is_empty());
    assert_eq!(
        commands(&m, certificates),
        ["kubectl -n finanzas wait --for=condition=Ready certificate --all --timeout=900s"]
    );
    assert!(m.steps.last().unwrap().title.contains("Cancel vps-1, vps-2, vps-3"));
}

const GROWS: &str = "project: shop
phases:
  1:
    name: one
    target: swarm
    nodes:
      a: { role: manager, cpu: 4, memory: 8Gi }
      b: { role: worker, cpu: 4, memory: 8Gi, labels: { tier: web } }
  2:
    name: two
    target: swarm
    nodes:
      a: { role: manager, cpu: 4, memory: 8Gi }
      b: { role: worker, cpu: 4, memory: 8Gi }
      c: { role: worker, cpu: 4, memory: 8Gi, labels: { tier: web } }
services:
  web:
    image: ghcr.io/shop/web:1.0
    port: 80
    replicas: { 1: 2, 2: 4 }
    expose: { host: shop.example.com }
  db:
    image: postgres:17
    stateful: true
    volumes: { data: { mount: /var/lib/postgresql/data } }
    placement: { role: manager }
";

#[test]
fn swarm_to_swarm_with_a_new_node_updates_in_place() {
    let m = migrate(GROWS, 1, 2);
    assert!(!has_step(&m, "Make a the Swarm manager") && !has_step(&m, "Join a") && !has_step(&m, "Join b"));
    let tokens = step(&m, "Print the join tokens on a");
    let join = step(&m, "Join c to the swarm as a worker");
    let labels = step(&m, "label the nodes");
    let deploy = step(&m, "Deploy phase 2");
    assert!(tokens < join && join < labels && labels < deploy);
    // The label moves from b to c.
    let label_commands = commands(&m, labels);
    assert!(label_commands.contains(&"docker node update --label-add tier=web c"));
    assert!(label_commands.contains(&"docker node update --label-rm tier b"));
    // db stays on a: no backup, no stop, no DNS; the same registry as before needs no new login.
    assert!(!has_step(&m, "Back up") && !has_step(&m, "Stop phase 1") && !has_step(&m, "DNS"));
    assert!(!has_step(&m, "Log in"));
    assert!(m.data.is_empty());
    assert!(!m.steps[deploy - 1].title.contains("stopped"));
}

const K8S: &str = "project: shop
phases:
  1:
    name: one
    target: k8s
    nodes:
      cp: { role: manager, cpu: 4, memory: 8Gi }
      w1: { role: worker, cpu: 4, memory: 8Gi }
  2:
    name: two
    target: k8s
    nodes:
      cp: { role: manager, cpu: 4, memory: 8Gi }
      w2: { role: worker, cpu: 4, memory: 16Gi, labels: { ram: high } }
secrets: [API_KEY]
ingress: { tls: letsencrypt }
services:
  api:
    image: registry.example.com:5000/api:2.1
    port: 8080
    secrets: [API_KEY]
    expose: { host: api.example.com }
";

#[test]
fn k8s_to_k8s_joins_the_new_node_and_drains_the_old_one() {
    let m = migrate(K8S, 1, 2);
    let token = step(&m, "Print the K3s join token on cp");
    let agent = step(&m, "Install the K3s agent on w2");
    let labels = step(&m, "label the nodes");
    let deploy = step(&m, "Deploy phase 2");
    let drain = step(&m, "Drain and delete the nodes that leave");
    let uninstall = step(&m, "Uninstall K3s from w1");
    assert!(
        token < agent && agent < labels && labels < deploy && deploy < drain && drain < uninstall,
        "{:#?}",
        m.steps
    );
    assert_eq!(commands(&m, token), ["cat /var/lib/rancher/k3s/server/node-token"]);
    assert!(commands(&m, agent)[1].contains("registry.example.com:5000"));
    assert_eq!(on(&m, agent), Some("w2"));
    assert!(commands(&m, labels).contains(&"kubectl label node w2 ram=high --overwrite"));
    assert_eq!(
        commands(&m, drain),
        ["kubectl drain w1 --ignore-daemonsets --delete-emptydir-data --timeout=600s", "kubectl delete node w1"]
    );
    assert_eq!(commands(&m, uninstall), ["/usr/local/bin/k3s-agent-uninstall.sh"]);
    // ServiceLB publishes on every node: the records move off w1 before it is drained.
    let dns = step(&m, "Point the DNS records of api.example.com at cp, w2");
    let ttl = step(&m, "Wait until the old TTL has passed");
    assert!(deploy < dns && dns < ttl && ttl < drain);
    // The same cluster: no new server, cert-manager, monitoring or Secret.
    for absent in ["K3s server", "cert-manager", "monitoring", "Create the secrets", "Back up"] {
        assert!(!has_step(&m, absent), "{absent}: {:#?}", m.steps);
    }
}

#[test]
fn words_are_quoted_only_when_needed() {
    assert_eq!(word("specs/finanzas.yaml"), "specs/finanzas.yaml");
    assert_eq!(word("my spec.yaml"), "'my spec.yaml'");
    assert_eq!(word("it's"), "'it'\\''s'");
    assert!(reads("echo \"$APP\"", "APP") && reads("${APP:-x}", "APP"));
    assert!(!reads("$APPS", "APP") && !reads("APP=1", "APP"));
}

#[test]
fn compose_to_k8s_without_applications_or_triggers_holds_nothing() {
    let m = migrate(include_str!("../../examples/stateful.yaml"), 1, 2);
    let deploy = step(&m, "Deploy phase 2 (k3s)");
    let dump = step(&m, "Back up postgres");
    let restore = step(&m, "Restore postgres into phase 2");
    let old = step(&m, "Stop phase 1 (one)");
    assert!(deploy < dump && dump < restore && restore < old, "{:#?}", m.steps);
    assert_eq!(commands(&m, deploy), ["kubectl apply -k topo-out/k8s/overlays/2-k3s"]);
    assert!(
        commands(&m, dump)[0]
            .starts_with("docker compose -p \"${APP:-notes}\" exec -T postgres pg_dump -U postgres -d notes")
    );
    for absent in ["applications", "monitoring", "cert-manager", "DNS"] {
        assert!(!has_step(&m, absent), "{absent}: {:#?}", m.steps);
    }
}

#[test]
fn a_private_registry_gets_its_pull_secret_before_the_deploy() {
    let m = migrate(FINANZAS, 2, 3);
    let pull = step(&m, "Create the registry pull secrets");
    assert!(pull < step(&m, "Deploy phase 3"));
    let create = commands(&m, pull);
    assert!(
        create[1].starts_with(
            "kubectl create secret docker-registry tudominio-registry --namespace finanzas --docker-server=registry.tudominio.cloud"
        ),
        "{create:?}"
    );
    assert!(create[1].contains("--docker-password=\"$REGISTRY_PASSWORD\""), "a variable, never a value");
    // The same variables as registries.yaml: one login for both.
    assert!(commands(&m, step(&m, "Install the K3s server on node-1"))[1].contains("\"$REGISTRY_PASSWORD\""));
}

#[test]
fn with_ingress_acme_the_issuer_comes_with_the_manifests() {
    let certresolver = "    certresolver: letsencrypt          # Dokploy's Traefik certresolver\n";
    let spec = FINANZAS.replace(certresolver, &format!("{certresolver}  acme: {{ email: ops@tudominio.cloud }}\n"));
    assert_ne!(spec, FINANZAS);
    let m = migrate(&spec, 2, 3);
    let install = step(&m, "Install cert-manager");
    assert!(!has_step(&m, "ClusterIssuer letsencrypt-prod"), "no second ClusterIssuer: {:#?}", m.steps);
    assert!(commands(&m, install).iter().all(|c| !c.contains("kind: ClusterIssuer")));
    assert!(install < step(&m, "Deploy phase 3"), "the CRDs exist before the manifests are applied");
}
