//! Migration between two phases, derived from their difference: machines,
//! firewall ports, replicas and resources, services that move, data to carry
//! over, a checklist, and the runbook: ordered steps of runnable commands
//! (`steps`, with `cluster`, `ops` and `data`) and the inputs they read.

use serde::Serialize;

use crate::model::{Model, Node, Phase, Service};
use crate::spec::Target;

use super::schedule::{Load, replicas, schedule};
use super::steps::{Ctx, Input, Step};
use super::{cpu, data, mem, steps};

/// The spec path the steps' `topo render` commands name when none is given (the CLI's default).
pub const DEFAULT_SPEC: &str = "topo.yaml";

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
    pub checklist: Vec<String>,
    pub monthly_cost_change_cents: Option<i64>,
    /// The shell variables the steps read that the plan cannot know.
    pub inputs: Vec<Input>,
    /// What to do, in order.
    pub steps: Vec<Step>,
}

impl Migration {
    /// `From phase 1 (dokploy, compose) to phase 2 (swarm, swarm)`.
    pub fn title(&self) -> String {
        format!(
            "From phase {} ({}, {}) to phase {} ({}, {})",
            self.from,
            self.from_name,
            self.from_target.as_str(),
            self.to,
            self.to_name,
            self.to_target.as_str()
        )
    }
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

/// An encrypted overlay network (the default on a multi-node Swarm phase) carries its VXLAN inside IPsec.
const SWARM_ESP: FirewallPort = FirewallPort {
    port: "IP protocol 50 (ESP)",
    purpose: "the encrypted overlay network (IPsec)",
    between: "all nodes, both ways",
};

const K3S_PORTS: [FirewallPort; 3] = [
    FirewallPort { port: "6443/tcp", purpose: "Kubernetes API (k3s server)", between: "agents → servers" },
    FirewallPort { port: "8472/udp", purpose: "flannel VXLAN pod network", between: "all nodes, both ways" },
    FirewallPort { port: "10250/tcp", purpose: "kubelet metrics and logs", between: "all nodes, both ways" },
];

/// What moving from phase `a` to phase `b` involves; `spec` is the spec's
/// path as the steps' `topo render` commands name it.
pub fn migration(model: &Model, spec: &str, a: &Phase, b: &Phase) -> Migration {
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

    let ports = firewall_ports(b);
    let services = service_changes(a, b);
    // Where each service runs before and after, by each phase's own scheduler.
    let (before, after) = (nodes_of(a), nodes_of(b));
    let moves = moves(&before, &after);
    let ctx = Ctx { model, spec, a, b, before: &before, after: &after };
    let runbook = steps::derive(&ctx);
    let data = data::rows(&ctx, &data::carried(&ctx), &runbook);
    let checklist = checklist(a, b, &data);
    let cost = |p: &Phase| -> Option<i64> {
        p.nodes.values().try_fold(0i64, |sum, n| sum.checked_add(i64::try_from(n.cost_cents?).ok()?))
    };
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
        checklist,
        monthly_cost_change_cents,
        inputs: runbook.inputs,
        steps: runbook.steps,
    }
}

/// The ports the phase's nodes must reach each other on.
pub fn firewall_ports(b: &Phase) -> Vec<FirewallPort> {
    match b.target {
        Target::Swarm if b.nodes.len() > 1 => {
            let mut ports = SWARM_PORTS.to_vec();
            if b.encrypt_network {
                ports.push(SWARM_ESP);
            }
            ports
        }
        Target::K8s if b.nodes.len() > 1 => K3S_PORTS.to_vec(),
        _ => Vec::new(),
    }
}

pub fn size(node: &Node) -> String {
    let disk = node.disk.map(|d| format!(", {} disk", mem(d.bytes()))).unwrap_or_default();
    format!("{} cpu, {}{disk}", cpu(node.cpu.millis()), mem(node.memory.bytes()))
}

pub fn describe_node(node: &Node) -> String {
    let labels: Vec<String> = node.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let labels = if labels.is_empty() { String::new() } else { format!(", labels {}", labels.join(" ")) };
    format!("{} ({}, {}{labels})", node.name, node.role.as_str(), size(node))
}

fn service_changes(a: &Phase, b: &Phase) -> Vec<String> {
    const GLOBAL: &str = " (global: one per node)";
    let mut out = Vec::new();
    for (name, new) in &b.services {
        let Some(old) = a.services.get(name) else {
            let global = if new.is_global() { GLOBAL } else { "" };
            out.push(format!("{name}: new, {} replica{}{global}", new.replicas(), plural(new.replicas())));
            continue;
        };
        if old.replicas() != new.replicas() || old.is_global() != new.is_global() {
            let count = |s: &crate::model::Service| {
                if s.is_global() && !(old.is_global() && new.is_global()) {
                    format!("{}{GLOBAL}", s.replicas())
                } else {
                    s.replicas().to_string()
                }
            };
            let both = if old.is_global() && new.is_global() { GLOBAL } else { "" };
            out.push(format!("{name}: replicas {} → {}{both}", count(old), count(new)));
        }
        if old.resources != new.resources {
            out.push(format!("{name}: resources {} → {}", resources(old), resources(new)));
        }
        match (old.autoscale(), new.autoscale()) {
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
pub type NodesOf = std::collections::BTreeMap<String, Vec<String>>;

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

fn checklist(a: &Phase, b: &Phase, data: &[DataMove]) -> Vec<String> {
    let mut items = vec![
        "backups of every stateful service taken and verified (restored into a scratch instance)".to_owned(),
        format!("rollback point: phase {} stays deployable and its DNS records are written down", a.number),
        format!("`topo render --phase {}` output reviewed and committed; `topo plan` says the phase fits", b.number),
    ];
    // A new K3s cluster gets its rules from the monitoring step.
    if b.target != Target::K8s || a.target == Target::K8s {
        items.push(format!(
            "alert rules for phase {} loaded into Prometheus (`topo render --phase {} --target rules`)",
            b.number, b.number
        ));
    }
    if !data.is_empty() {
        items.push("a maintenance window for the data steps: the applications are stopped while they run".to_owned());
        items.push("the restore rehearsed once, with its duration measured".to_owned());
    }
    items
}

fn plural(n: u32) -> &'static str {
    if n == 1 { "" } else { "s" }
}
