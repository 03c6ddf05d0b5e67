//! Where each replica lands, decided the way the target's own scheduler does.
//!
//! - **k8s**: a pod fits a node when the requests of the pods already there
//!   plus its own stay within the node's allocatable (capacity − reserve), for
//!   cpu and memory, and the node runs fewer than 110 pods. Among the nodes that
//!   pass, topology spread comes first (fewest replicas of the same service;
//!   with hard spreading a node that would skew by more than one is filtered
//!   out), then the least-allocated score (the most free cpu and memory, in
//!   shares of allocatable).
//! - **swarm**: a task fits when the reservations already on the node plus its
//!   own stay within the node's *total* resources (Swarm knows no reserve).
//!   Among those, Swarm's spread strategy picks the node with the fewest tasks
//!   of the same service, then the fewest tasks in all. Hard spreading is
//!   `max_replicas_per_node: 1`.
//! - **compose**: one node, no admission: every replica runs there, and the sum
//!   of limits against the node is the only check (made by the fit).
//!
//! - **global** services (`replicas: global`) get one replica bound to each
//!   node their placement admits, as Swarm's global mode and a DaemonSet do:
//!   the node is not chosen, only admitted or refused (a compose phase, with
//!   its one node, runs one).
//!
//! Replicas are placed service by service, in name order (the order in which
//! `docker stack deploy` and `kubectl apply` of the rendered files create
//! them), one replica at a time; ties go to the node first by name.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::{Phase, Service};
use crate::spec::{Cpu, Memory, Spread, Target};

use super::reserve::{Reserve, reserve_of};
use super::{cpu, mem};

/// Pods a Kubernetes node runs at most (the kubelet's default `maxPods`).
pub const MAX_PODS: u32 = 110;

/// One replica to place: what it asks for.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Replica {
    pub service: String,
    /// 1-based.
    pub index: u32,
    pub request_cpu: u64,
    pub request_memory: u64,
    pub limit_cpu: u64,
    pub limit_memory: u64,
    /// The one node a global service's replica runs on; `None` for the scheduler to choose.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

/// A node during scheduling, and after it.
#[derive(Clone, Debug, Serialize)]
pub struct NodeLoad {
    pub name: String,
    pub capacity_cpu: u64,
    pub capacity_memory: u64,
    pub reserve: Reserve,
    pub allocatable_cpu: u64,
    pub allocatable_memory: u64,
    pub requested_cpu: u64,
    pub requested_memory: u64,
    pub limits_cpu: u64,
    pub limits_memory: u64,
    pub replicas: u32,
    /// Replicas per service on this node.
    pub services: BTreeMap<String, u32>,
}

impl NodeLoad {
    fn free_cpu(&self) -> u64 {
        self.allocatable_cpu.saturating_sub(self.requested_cpu)
    }

    fn free_memory(&self) -> u64 {
        self.allocatable_memory.saturating_sub(self.requested_memory)
    }

    fn of(&self, service: &str) -> u32 {
        self.services.get(service).copied().unwrap_or(0)
    }
}

/// Where a replica went, or why it went nowhere.
#[derive(Clone, Debug, Serialize)]
pub struct Placed {
    pub replica: Replica,
    /// The node's name; `None` when no node could take it.
    pub node: Option<String>,
    /// Why it could not be placed.
    pub reason: Option<String>,
}

/// The outcome of placing every replica of a phase.
#[derive(Clone, Debug, Serialize)]
pub struct Schedule {
    pub target: Target,
    pub nodes: Vec<NodeLoad>,
    pub placed: Vec<Placed>,
}

impl Schedule {
    pub fn unplaced(&self) -> impl Iterator<Item = &Placed> {
        self.placed.iter().filter(|p| p.node.is_none())
    }

    pub fn fits(&self) -> bool {
        self.unplaced().next().is_none()
    }
}

/// How many replicas of each service to place: the phase's count, or the peak.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Load {
    Base,
    Peak,
}

fn replicas_of(service: &Service, load: Load) -> u32 {
    match load {
        Load::Base => service.autoscale.as_ref().map_or(service.replicas, |a| a.min),
        Load::Peak => service.peak_replicas(),
    }
}

/// The replicas of a phase, in the order they are created. A global
/// service has one per node its placement admits, each bound to its node
/// (on compose, whose phase has one node, that is one replica).
pub fn replicas(phase: &Phase, load: Load) -> Vec<Replica> {
    let mut out = Vec::new();
    for service in phase.services.values() {
        let requests = service.resources.requests;
        let limits = service.resources.limits;
        let nodes: Vec<Option<String>> = if service.global {
            let admitting = phase.nodes.values().filter(|n| service.placement.admits(n));
            let admitting = admitting.take(if phase.target == Target::Compose { 1 } else { usize::MAX });
            admitting.map(|n| Some(n.name.clone())).collect()
        } else {
            vec![None; replicas_of(service, load) as usize]
        };
        for (index, node) in (1..).zip(nodes) {
            out.push(Replica {
                service: service.name.clone(),
                index,
                request_cpu: requests.cpu.map_or(0, Cpu::millis),
                request_memory: requests.memory.map_or(0, Memory::bytes),
                // No limit: the request is the best guess of what it uses.
                limit_cpu: limits.cpu.or(requests.cpu).map_or(0, Cpu::millis),
                limit_memory: limits.memory.or(requests.memory).map_or(0, Memory::bytes),
                node,
            });
        }
    }
    out
}

/// The nodes of a phase with their reserves, before anything is placed.
pub fn empty_nodes(phase: &Phase, target: Target, without: Option<&str>) -> Vec<NodeLoad> {
    phase
        .nodes
        .values()
        .filter(|n| Some(n.name.as_str()) != without)
        .map(|node| {
            let reserve = reserve_of(target, node);
            NodeLoad {
                name: node.name.clone(),
                capacity_cpu: node.cpu.millis(),
                capacity_memory: node.memory.bytes(),
                allocatable_cpu: node.cpu.millis().saturating_sub(reserve.cpu.millis()),
                allocatable_memory: node.memory.bytes().saturating_sub(reserve.memory.bytes()),
                reserve,
                requested_cpu: 0,
                requested_memory: 0,
                limits_cpu: 0,
                limits_memory: 0,
                replicas: 0,
                services: BTreeMap::new(),
            }
        })
        .collect()
}

/// Place `replicas` (in this order) on the phase's nodes, as `target` would.
/// `without` leaves one node out (the N+1 check).
pub fn schedule(phase: &Phase, target: Target, replicas: &[Replica], without: Option<&str>) -> Schedule {
    let mut nodes = empty_nodes(phase, target, without);
    let mut placed = Vec::with_capacity(replicas.len());
    for replica in replicas {
        let Some(service) = phase.services.get(&replica.service) else { continue };
        // A global replica whose node is left out (the N+1 check) does not exist: nothing is lost with it.
        if let Some(bound) = &replica.node
            && !nodes.iter().any(|n| n.name == *bound)
        {
            continue;
        }
        let (node, reason) = match choose(phase, target, service, replica, &nodes) {
            Ok(i) => {
                let node = &mut nodes[i];
                node.requested_cpu += replica.request_cpu;
                node.requested_memory += replica.request_memory;
                node.limits_cpu += replica.limit_cpu;
                node.limits_memory += replica.limit_memory;
                node.replicas += 1;
                *node.services.entry(replica.service.clone()).or_default() += 1;
                (Some(node.name.clone()), None)
            }
            Err(reason) => (None, Some(reason)),
        };
        placed.push(Placed { replica: replica.clone(), node, reason });
    }
    Schedule { target, nodes, placed }
}

/// The index of the node the scheduler picks, or why none can take the replica.
fn choose(
    phase: &Phase,
    target: Target,
    service: &Service,
    replica: &Replica,
    nodes: &[NodeLoad],
) -> Result<usize, String> {
    let eligible: Vec<usize> = (0..nodes.len())
        .filter(|&i| phase.nodes.get(&nodes[i].name).is_some_and(|n| service.placement.admits(n)))
        .filter(|&i| replica.node.as_ref().is_none_or(|bound| *bound == nodes[i].name))
        .collect();
    if eligible.is_empty() {
        return Err(if nodes.is_empty() {
            "the phase has no node left".to_owned()
        } else {
            format!("no node matches its placement ({})", describe_placement(service))
        });
    }
    if target == Target::Compose {
        // No admission: the first eligible node (a compose phase has one).
        return Ok(eligible[0]);
    }
    // A global replica has its node already: spreading has nothing to choose.
    let hard = service.placement.spread == Some(Spread::Hard) && !service.global;
    let least_of_service = eligible.iter().map(|&i| nodes[i].of(&service.name)).min().unwrap_or(0);
    let mut rejections: Vec<String> = Vec::new();
    let mut candidates: Vec<usize> = Vec::new();
    for &i in &eligible {
        let node = &nodes[i];
        let (free_cpu, free_memory) = match target {
            // Swarm admits against the node's total resources.
            Target::Swarm => (
                node.capacity_cpu.saturating_sub(node.requested_cpu),
                node.capacity_memory.saturating_sub(node.requested_memory),
            ),
            _ => (node.free_cpu(), node.free_memory()),
        };
        if replica.request_memory > free_memory {
            rejections.push(format!(
                "needs {} memory, {} free on {}",
                mem(replica.request_memory),
                mem(free_memory),
                node.name
            ));
        } else if replica.request_cpu > free_cpu {
            rejections.push(format!("needs {} cpu, {} free on {}", cpu(replica.request_cpu), cpu(free_cpu), node.name));
        } else if target == Target::K8s && node.replicas >= MAX_PODS {
            rejections.push(format!("{} already runs {MAX_PODS} pods", node.name));
        } else if hard && target == Target::Swarm && node.of(&service.name) >= 1 {
            rejections.push(format!("{} already runs one (max_replicas_per_node: 1)", node.name));
        } else if hard && target == Target::K8s && node.of(&service.name) + 1 > least_of_service + 1 {
            rejections.push(format!("{} would skew the hard topology spread", node.name));
        } else {
            candidates.push(i);
        }
    }
    let best = candidates.into_iter().min_by(|&a, &b| {
        let (na, nb) = (&nodes[a], &nodes[b]);
        let spread = na.of(&service.name).cmp(&nb.of(&service.name));
        let rest = match target {
            Target::Swarm => na.replicas.cmp(&nb.replicas),
            // Least allocated: the larger free share wins, so compare b to a.
            _ => free_share(nb, replica).total_cmp(&free_share(na, replica)),
        };
        spread.then(rest).then(na.name.cmp(&nb.name))
    });
    best.ok_or_else(|| rejections.join("; "))
}

/// Kubernetes' least-allocated score: the mean free share of cpu and memory after placing.
fn free_share(node: &NodeLoad, replica: &Replica) -> f64 {
    let share = |free: u64, asked: u64, total: u64| {
        if total == 0 { 0.0 } else { free.saturating_sub(asked) as f64 / total as f64 }
    };
    (share(node.free_cpu(), replica.request_cpu, node.allocatable_cpu)
        + share(node.free_memory(), replica.request_memory, node.allocatable_memory))
        / 2.0
}

fn describe_placement(service: &Service) -> String {
    let p = &service.placement;
    let mut parts = Vec::new();
    if let Some(role) = p.role {
        parts.push(format!("role {}", role.as_str()));
    }
    if let Some(node) = &p.node {
        parts.push(format!("node {node}"));
    }
    for (k, v) in &p.labels {
        parts.push(format!("label {k}={v}"));
    }
    parts.join(", ")
}

/// The node each service that keeps its data on one node stays on: a
/// single-replica service with a writable volume (Docker's named volumes and
/// K3s' local-path volumes live on the node that first ran it). Swarm pins it
/// by hostname; on Kubernetes its volume binds it there. The node is the one
/// this scheduler places it on, else the first its placement admits. A role or
/// a label is one node only until a second node gets it, so the placement
/// alone does not keep the task beside its data.
pub fn data_pins(phase: &Phase) -> BTreeMap<String, String> {
    let keeps_data = |s: &&Service| {
        !s.global && s.replicas == 1 && s.placement.node.is_none() && s.volumes.iter().any(|v| !v.read_only)
    };
    let wanted: Vec<&Service> = phase.services.values().filter(keeps_data).collect();
    if wanted.is_empty() || phase.target == Target::Compose {
        return BTreeMap::new();
    }
    let base = schedule(phase, phase.target, &replicas(phase, Load::Base), None);
    let mut pins = BTreeMap::new();
    for service in wanted {
        let planned = base.placed.iter().find(|p| p.replica.service == service.name).and_then(|p| p.node.clone());
        let first = || phase.nodes.values().find(|n| service.placement.admits(n)).map(|n| n.name.clone());
        if let Some(node) = planned.or_else(first) {
            pins.insert(service.name.clone(), node);
        }
    }
    pins
}

/// The phase as it runs: each service of [`data_pins`] placed on its node only,
/// so that fit, task order and N+1 treat it as the pinned task it is.
pub fn with_data_pins(phase: &Phase) -> std::borrow::Cow<'_, Phase> {
    let pins = data_pins(phase);
    if pins.is_empty() {
        return std::borrow::Cow::Borrowed(phase);
    }
    let mut pinned = phase.clone();
    for (service, node) in pins {
        if let Some(s) = pinned.services.get_mut(&service) {
            s.placement.node = Some(node);
        }
    }
    std::borrow::Cow::Owned(pinned)
}
