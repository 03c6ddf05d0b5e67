//! Migration between two phases, derived from their difference: machines,
//! firewall ports, replicas and resources, services that move, data to carry
//! over, secrets to create, the DNS cutover and a checklist.

use serde::Serialize;

use crate::model::{Model, Node, Phase, Service};
use crate::spec::{Role, SecretsAs, Target};
use crate::target::k8s;

use super::schedule::{Load, replicas, schedule};
use super::{cpu, mem};

#[derive(Clone, Debug, Serialize)]
pub struct Migration {
    pub from: u32,
    pub to: u32,
    pub from_name: String,
    pub to_name: String,
    pub from_target: Target,
    pub to_target: Target,
    pub nodes_added: Vec<String>,
    pub nodes_removed: Vec<String>,
    /// `vps-2: 4 cpu, 8Gi → 4 cpu, 16Gi`.
    pub nodes_resized: Vec<String>,
    /// `vps-1: 15.00 → 40.00 (+25.00), same size` (see [`super::cost::repriced_nodes`]).
    pub nodes_repriced: Vec<String>,
    pub ports: Vec<FirewallPort>,
    /// One line per change of a service: added, removed, replicas, resources, autoscaling.
    pub services: Vec<String>,
    /// Services whose replicas run on other nodes afterwards (by name).
    pub moves: Vec<String>,
    pub data: Vec<DataMove>,
    /// Commands that create the secrets in the new target, without values.
    pub secrets: Vec<String>,
    /// DNS and ingress steps, in order.
    pub cutover: Vec<String>,
    pub checklist: Vec<String>,
    pub monthly_cost_change_cents: Option<i64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct FirewallPort {
    pub port: &'static str,
    pub purpose: &'static str,
    /// Which nodes must reach which.
    pub between: &'static str,
}

#[derive(Clone, Debug, Serialize)]
pub struct DataMove {
    pub service: String,
    pub volume: String,
    pub size: Option<String>,
    pub why: String,
    pub how: String,
}

const SWARM_PORTS: [FirewallPort; 4] = [
    FirewallPort { port: "2377/tcp", purpose: "Swarm cluster management", between: "every node → the managers" },
    FirewallPort { port: "7946/tcp", purpose: "Swarm node discovery (gossip)", between: "all nodes, both ways" },
    FirewallPort { port: "7946/udp", purpose: "Swarm node discovery (gossip)", between: "all nodes, both ways" },
    FirewallPort { port: "4789/udp", purpose: "overlay network traffic (VXLAN)", between: "all nodes, both ways" },
];

const K3S_PORTS: [FirewallPort; 3] = [
    FirewallPort { port: "6443/tcp", purpose: "Kubernetes API (k3s server)", between: "agents → servers" },
    FirewallPort { port: "8472/udp", purpose: "flannel VXLAN pod network", between: "all nodes, both ways" },
    FirewallPort { port: "10250/tcp", purpose: "kubelet metrics and logs", between: "all nodes, both ways" },
];

/// What moving from phase `a` to phase `b` involves.
pub fn migration(model: &Model, a: &Phase, b: &Phase) -> Migration {
    let nodes_added: Vec<String> =
        b.nodes.values().filter(|n| !a.nodes.contains_key(&n.name)).map(describe_node).collect();
    let nodes_removed: Vec<String> =
        a.nodes.values().filter(|n| !b.nodes.contains_key(&n.name)).map(describe_node).collect();
    let nodes_resized: Vec<String> = b
        .nodes
        .values()
        .filter_map(|new| {
            let old = a.nodes.get(&new.name)?;
            (old.cpu != new.cpu || old.memory != new.memory || old.disk != new.disk)
                .then(|| format!("{}: {} → {}", new.name, size(old), size(new)))
        })
        .collect();

    let ports: Vec<FirewallPort> = match b.target {
        Target::Swarm if b.nodes.len() > 1 => SWARM_PORTS.to_vec(),
        Target::K8s if b.nodes.len() > 1 => K3S_PORTS.to_vec(),
        _ => Vec::new(),
    };

    let services = service_changes(a, b);
    // Where each service runs before and after, by each phase's own scheduler.
    let (before, after) = (nodes_of(a), nodes_of(b));
    let moves = moves(&before, &after);
    let data = data_moves(a, b, &before, &after);
    let secrets = secret_commands(model, b, a.target != b.target);
    let cutover = cutover(model, a, b);
    let checklist = checklist(a, b, &data);
    let cost = |p: &Phase| -> Option<i64> { p.nodes.values().map(|n| n.cost_cents.map(|c| c as i64)).sum() };
    let monthly_cost_change_cents = cost(a).zip(cost(b)).map(|(x, y)| y - x);
    Migration {
        from: a.number,
        to: b.number,
        from_name: a.name.clone(),
        to_name: b.name.clone(),
        from_target: a.target,
        to_target: b.target,
        nodes_added,
        nodes_removed,
        nodes_resized,
        nodes_repriced: super::cost::repriced_nodes(a, b),
        ports,
        services,
        moves,
        data,
        secrets,
        cutover,
        checklist,
        monthly_cost_change_cents,
    }
}

fn size(node: &Node) -> String {
    let disk = node.disk.map(|d| format!(", {} disk", mem(d.bytes()))).unwrap_or_default();
    format!("{} cpu, {}{disk}", cpu(node.cpu.millis()), mem(node.memory.bytes()))
}

fn describe_node(node: &Node) -> String {
    let labels: Vec<String> = node.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let labels = if labels.is_empty() { String::new() } else { format!(", labels {}", labels.join(" ")) };
    format!("{} ({}, {}{labels})", node.name, node.role.as_str(), size(node))
}

fn service_changes(a: &Phase, b: &Phase) -> Vec<String> {
    const GLOBAL: &str = " (global: one per node)";
    let mut out = Vec::new();
    for (name, new) in &b.services {
        let Some(old) = a.services.get(name) else {
            let global = if new.global { GLOBAL } else { "" };
            out.push(format!("{name}: new, {} replica{}{global}", new.replicas, plural(new.replicas)));
            continue;
        };
        if old.replicas != new.replicas || old.global != new.global {
            let count = |s: &crate::model::Service| {
                if s.global && !(old.global && new.global) {
                    format!("{}{GLOBAL}", s.replicas)
                } else {
                    s.replicas.to_string()
                }
            };
            let both = if old.global && new.global { GLOBAL } else { "" };
            out.push(format!("{name}: replicas {} → {}{both}", count(old), count(new)));
        }
        if old.resources != new.resources {
            out.push(format!("{name}: resources {} → {}", resources(old), resources(new)));
        }
        match (&old.autoscale, &new.autoscale) {
            (None, Some(x)) => out.push(format!("{name}: autoscaling on, {}–{} replicas", x.min, x.max)),
            (Some(_), None) => out.push(format!("{name}: autoscaling off")),
            (Some(x), Some(y)) if x != y => {
                out.push(format!("{name}: autoscaling {}–{} → {}–{} replicas", x.min, x.max, y.min, y.max));
            }
            _ => {}
        }
        if old.image != new.image {
            out.push(format!("{name}: image {} → {}", old.image, new.image));
        }
    }
    for name in a.services.keys().filter(|n| !b.services.contains_key(*n)) {
        out.push(format!("{name}: removed"));
    }
    out
}

fn resources(service: &Service) -> String {
    let r = &service.resources;
    let show = |cpu_v: Option<crate::spec::Cpu>, mem_v: Option<crate::spec::Memory>| {
        format!(
            "{}/{}",
            cpu_v.map_or("-".to_owned(), |c| cpu(c.millis())),
            mem_v.map_or("-".to_owned(), |m| mem(m.bytes()))
        )
    };
    format!("requests {} limits {}", show(r.requests.cpu, r.requests.memory), show(r.limits.cpu, r.limits.memory))
}

/// The nodes each service runs on, sorted.
type NodesOf = std::collections::BTreeMap<String, Vec<String>>;

/// Nodes each service runs on, per the phase's own scheduler.
fn nodes_of(phase: &Phase) -> NodesOf {
    let placed = schedule(phase, phase.target, &replicas(phase, Load::Base), None);
    let mut map: std::collections::BTreeMap<String, Vec<String>> = std::collections::BTreeMap::new();
    for p in placed.placed {
        if let Some(node) = p.node {
            let nodes = map.entry(p.replica.service).or_default();
            if !nodes.contains(&node) {
                nodes.push(node);
            }
        }
    }
    for nodes in map.values_mut() {
        nodes.sort();
    }
    map
}

fn moves(before: &NodesOf, after: &NodesOf) -> Vec<String> {
    after
        .iter()
        .filter_map(|(service, new)| {
            let old = before.get(service)?;
            (old != new).then(|| format!("{service}: {} → {}", old.join(", "), new.join(", ")))
        })
        .collect()
}

fn data_moves(a: &Phase, b: &Phase, before: &NodesOf, after: &NodesOf) -> Vec<DataMove> {
    let mut out = Vec::new();
    for (name, new) in &b.services {
        let Some(old) = a.services.get(name) else { continue };
        if !old.stateful || old.volumes.is_empty() {
            continue;
        }
        let why = if a.target != b.target {
            format!("the target changes ({} → {}): new volumes start empty", a.target.as_str(), b.target.as_str())
        } else if before.get(name) != after.get(name) {
            format!(
                "it moves from {} to {}, and a local volume stays behind",
                before.get(name).map(|n| n.join(", ")).unwrap_or_default(),
                after.get(name).map(|n| n.join(", ")).unwrap_or_default()
            )
        } else {
            continue;
        };
        for volume in &new.volumes {
            out.push(DataMove {
                service: name.clone(),
                volume: volume.name.clone(),
                size: volume
                    .size
                    .or_else(|| old.volumes.iter().find(|v| v.name == volume.name).and_then(|v| v.size))
                    .map(|s| mem(s.bytes())),
                why: why.clone(),
                how: how_to_move(&new.image, b.target),
            });
        }
    }
    out
}

fn how_to_move(image: &str, target: Target) -> String {
    let name = crate::target::image_name(image);
    let into = match target {
        Target::K8s => "into the new pod (`kubectl exec -i`)",
        _ => "into the new container (`docker exec -i`)",
    };
    match name {
        "postgres" | "pgvector" | "postgis" | "timescaledb" => format!(
            "pg_dump --format=custom from the old database, pg_restore --no-owner {into}; \
             compare row counts of the largest tables before switching writes"
        ),
        "mysql" | "mariadb" => format!("mysqldump --single-transaction --routines, then mysql {into}"),
        "mongo" => format!("mongodump --archive, then mongorestore --archive {into}"),
        "redis" | "valkey" => "BGSAVE on the old instance, copy dump.rdb (and appendonly files) into the new volume \
                               before it starts; or, for a cache only, start empty"
            .to_owned(),
        _ => "stop writers, copy the volume (`tar` over ssh, or rsync -a), then start the new service on the copy"
            .to_owned(),
    }
}

fn secret_commands(model: &Model, b: &Phase, target_changes: bool) -> Vec<String> {
    let used: Vec<&String> =
        model.secrets.iter().filter(|s| b.services.values().any(|sv| sv.secrets.contains(s))).collect();
    if used.is_empty() {
        return Vec::new();
    }
    match b.target {
        Target::K8s => {
            let names: Vec<String> = used.iter().map(|s| (*s).clone()).collect();
            vec![k8s::create_secret_command(model, &names)]
        }
        Target::Swarm => {
            let mut out = Vec::new();
            for secret in &used {
                let as_files =
                    b.services.values().any(|s| s.secrets.contains(secret) && s.secrets_as == SecretsAs::Files);
                if as_files {
                    out.push(format!("printf '%s' \"${secret}\" | docker secret create {}_{secret} -", model.project));
                } else {
                    out.push(format!(
                        "export {secret}=…   # in the environment of `docker stack deploy` (Dokploy: the stack's Environment tab)"
                    ));
                }
            }
            out
        }
        Target::Compose => {
            if !target_changes {
                return Vec::new();
            }
            used.iter()
                .map(|s| format!("{s}=…   # in Dokploy's Environment tab, or the .env beside docker-compose.yml"))
                .collect()
        }
    }
}

fn entry_nodes(phase: &Phase) -> Vec<String> {
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

fn cutover(model: &Model, a: &Phase, b: &Phase) -> Vec<String> {
    let hosts: Vec<&str> = b.services.values().filter_map(|s| s.expose.as_ref().map(|e| e.host.as_str())).collect();
    if hosts.is_empty() {
        return Vec::new();
    }
    let (old, new) = (entry_nodes(a), entry_nodes(b));
    if old == new && a.target == b.target {
        return Vec::new();
    }
    let mut steps = vec![
        format!("a day before: lower the TTL of {} to 60 s", hosts.join(", ")),
        format!(
            "bring phase {} up beside phase {} and test it without DNS: curl --resolve {}:443:<IP of {}> https://{}/",
            b.number,
            a.number,
            hosts[0],
            new.first().map_or("the new entry node", String::as_str),
            hosts[0]
        ),
    ];
    match b.target {
        Target::K8s => {
            if let Some(issuer) = &model.ingress.cluster_issuer {
                steps.push(format!(
                    "check that the ClusterIssuer `{issuer}` exists and the certificates are Ready: kubectl get certificate -n {}",
                    model.project
                ));
            }
        }
        _ => {
            if let Some(resolver) = &model.ingress.certresolver {
                steps.push(format!(
                    "check that Traefik's certresolver `{resolver}` issued the certificates (Dokploy: Traefik logs)"
                ));
            }
        }
    }
    steps.push(format!("point the A/AAAA records of {} at {}", hosts.join(", "), new.join(", ")));
    steps.push(format!(
        "keep phase {} running until the old TTL has passed and its access logs are quiet; then raise the TTL again",
        a.number
    ));
    steps
}

fn checklist(a: &Phase, b: &Phase, data: &[DataMove]) -> Vec<String> {
    let mut items = vec![
        "backups of every stateful service taken and verified (restored into a scratch instance)".to_owned(),
        format!("rollback point: phase {} stays deployable and its DNS records are written down", a.number),
        format!("`topo render --phase {}` output reviewed and committed; `topo plan` says the phase fits", b.number),
        format!("alert rules for phase {} loaded (`topo render --phase {} --target rules`)", b.number, b.number),
    ];
    if !data.is_empty() {
        items.push("a maintenance window for the data copy: writes stopped while it runs".to_owned());
        items.push("the restore rehearsed once, with its duration measured".to_owned());
    }
    if b.target == Target::K8s && b.nodes.values().any(|n| !n.labels.is_empty()) {
        items.push("node labels applied (`kubectl label node …`)".to_owned());
    }
    if b.target == Target::Swarm && b.nodes.values().any(|n| !n.labels.is_empty()) {
        items.push("node labels applied (`docker node update --label-add …`)".to_owned());
    }
    items
}

fn plural(n: u32) -> &'static str {
    if n == 1 { "" } else { "s" }
}
