//! Where each replica lands, decided the way the target's own scheduler does.
//!
//! - **k8s**: a pod fits a node when the requests of the pods already there
//!   plus its own stay within the node's allocatable (capacity − reserve), for
//!   cpu and memory, and the node runs fewer than 110 pods. Among the nodes that
//!   pass, topology spread comes first (fewest replicas of the same service;
//!   hard spreading is the render's required pod anti-affinity on the
//!   hostname: a node that runs one refuses a second), then the least-allocated score (the most free cpu and memory, in
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

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

use serde::Serialize;

use crate::model::{Phase, Service};
use crate::spec::{AccessMode, Cpu, Memory, Spread, Target};

use super::ordered::Ordered;
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
    pub(super) fn free_cpu(&self) -> u64 {
        self.allocatable_cpu.saturating_sub(self.requested_cpu)
    }

    pub(super) fn free_memory(&self) -> u64 {
        self.allocatable_memory.saturating_sub(self.requested_memory)
    }

    pub(super) fn of(&self, service: &str) -> u32 {
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
        Load::Base => service.least_replicas(),
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
        let nodes: Vec<Option<String>> = if service.is_global() {
            let admitting = phase.nodes.values().filter(|n| service.placement.admits(n));
            let admitting = admitting.take(service.fixed_replicas(phase.target) as usize);
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

/// Identical replicas in a row from which a [`Run`] orders the nodes; fewer are placed by [`Ordered`].
const RUN_FROM: usize = 8;

/// Rejections a reason lists one by one; the others are counted.
const LISTED_REJECTIONS: usize = 3;

/// What the scheduler knows of the service being placed: which nodes its
/// placement admits and how many of its replicas each runs. Built once per
/// run of one service's replicas, so that each replica costs one pass over
/// the nodes, without allocating.
pub(super) struct Current<'p> {
    pub(super) service: &'p Service,
    pub(super) admits: Vec<bool>,
    pub(super) counts: Vec<u32>,
}

impl<'p> Current<'p> {
    /// `machines` are the phase's nodes behind `nodes`; `seen` whether the service has replicas placed already.
    pub(super) fn of(
        service: &'p Service,
        machines: &[Option<&crate::model::Node>],
        nodes: &[NodeLoad],
        seen: bool,
    ) -> Self {
        Current {
            service,
            admits: machines.iter().map(|m| m.is_some_and(|node| service.placement.admits(node))).collect(),
            counts: if seen { nodes.iter().map(|n| n.of(&service.name)).collect() } else { vec![0; nodes.len()] },
        }
    }
}

/// Place `replicas` (in this order) on the phase's nodes, as `target` would.
/// `without` leaves one node out (the N+1 check).
pub fn schedule(phase: &Phase, target: Target, replicas: &[Replica], without: Option<&str>) -> Schedule {
    schedule_with(phase, target, replicas, without, true)
}

/// [`schedule`], through the ordered nodes (`fast`) or with one pass over the nodes per replica: the same placement.
fn schedule_with(phase: &Phase, target: Target, replicas: &[Replica], without: Option<&str>, fast: bool) -> Schedule {
    let mut nodes = empty_nodes(phase, target, without);
    if fast && target != Target::Compose {
        return schedule_ordered(phase, target, replicas, nodes).0;
    }
    let mut placed: Vec<Placed> = Vec::with_capacity(replicas.len());
    let machines: Vec<Option<&crate::model::Node>> = nodes.iter().map(|n| phase.nodes.get(&n.name)).collect();
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    let mut current: Option<Current> = None;
    for replica in replicas {
        let Some(service) = phase.services.get(&replica.service) else { continue };
        if skipped(&nodes, replica) {
            continue;
        }
        if let Some(again) = repeated(&placed, replica) {
            placed.push(again);
            continue;
        }
        let current = match &mut current {
            Some(c) if std::ptr::eq(c.service, service) => c,
            slot => slot.insert(Current::of(service, &machines, &nodes, !seen.insert(&service.name))),
        };
        let chosen = choose(target, replica, &nodes, current);
        let (node, reason) = match chosen.and_then(|i| add(&mut nodes[i], replica).map(|()| i)) {
            Ok(i) => {
                current.counts[i] += 1;
                (Some(nodes[i].name.clone()), None)
            }
            Err(reason) => (None, Some(reason)),
        };
        placed.push(Placed { replica: replica.clone(), node, reason });
    }
    Schedule { target, nodes, placed }
}

/// A global replica whose node is left out (the N+1 check): it does not exist, nothing is lost with it.
fn skipped(nodes: &[NodeLoad], replica: &Replica) -> bool {
    replica.node.as_ref().is_some_and(|bound| nodes.binary_search_by(|n| n.name.as_str().cmp(bound)).is_err())
}

/// The same replica as the last placed, which went nowhere: its outcome again (nothing has changed since,
/// nor will the answer).
fn repeated(placed: &[Placed], replica: &Replica) -> Option<Placed> {
    let last = placed.last()?;
    (last.node.is_none() && replica.node.is_none() && same_ask(&last.replica, replica)).then(|| Placed {
        replica: replica.clone(),
        node: None,
        reason: last.reason.clone(),
    })
}

/// [`schedule`] through [`Ordered`]: a run of identical replicas by its [`Run`], the others by the ordered nodes;
/// with the nodes [`Ordered`] looked at (the tests' measure of work).
fn schedule_ordered(phase: &Phase, target: Target, replicas: &[Replica], nodes: Vec<NodeLoad>) -> (Schedule, u64) {
    let mut ordered = Ordered::new(phase, target, nodes, false);
    let machines = ordered.machines.clone();
    let mut placed: Vec<Placed> = Vec::with_capacity(replicas.len());
    let mut run: Option<(Run, Current)> = None;
    // The first replica of the current run of identical ones too short for a [`Run`].
    let mut short: Option<usize> = None;
    for (k, replica) in replicas.iter().enumerate() {
        let Some(service) = phase.services.get(&replica.service) else { continue };
        if skipped(&ordered.nodes, replica) {
            continue;
        }
        if let Some(again) = repeated(&placed, replica) {
            placed.push(again);
            continue;
        }
        let mut by_run = replica.node.is_none();
        if by_run && run.as_ref().is_none_or(|(r, _)| !same_ask(&r.ask, replica)) {
            run = None;
            // A run of a few replicas: the ordered nodes place each for less than ordering them again.
            if short.is_some_and(|first| same_ask(&replicas[first], replica)) {
                by_run = false;
            } else if replicas[k..].iter().take(RUN_FROM).take_while(|r| same_ask(r, replica)).count() < RUN_FROM {
                short = Some(k);
                by_run = false;
            }
        }
        let picked = match &mut run {
            _ if !by_run => None,
            Some((run, _)) => run.pick(),
            slot => {
                let current = Current::of(service, &machines, &ordered.nodes, true);
                let (run, _) = slot.insert((Run::new(target, replica, &ordered.nodes, &current), current));
                run.pick()
            }
        };
        let chosen = match picked.or_else(|| ordered.place(None, replica)) {
            Some(i) => Ok(i),
            // Nothing takes it: the pass over the nodes says why.
            None => choose(target, replica, &ordered.nodes, &Current::of(service, &machines, &ordered.nodes, true)),
        };
        let (node, reason) = match chosen.and_then(|i| ordered.take(i, replica).map(|()| i)) {
            Ok(i) => {
                match (&mut run, picked) {
                    (Some((run, current)), Some(_)) => {
                        current.counts[i] += 1;
                        run.placed(i, target, replica, &ordered.nodes, current);
                    }
                    // Placed without the run: its order no longer matches the nodes.
                    _ => run = None,
                }
                (Some(ordered.nodes[i].name.clone()), None)
            }
            Err(reason) => (None, Some(reason)),
        };
        placed.push(Placed { replica: replica.clone(), node, reason });
    }
    let examined = ordered.examined;
    (Schedule { target, nodes: ordered.nodes, placed }, examined)
}

/// The scheduler's preference among nodes: fewest replicas of the service, then Swarm's fewest
/// tasks or Kubernetes' largest free share (negated), then name (the nodes are in name order).
#[derive(Clone, Copy, Debug)]
struct Key(u32, f64, usize);

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for Key {}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Key {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.cmp(&other.0).then(self.1.total_cmp(&other.1)).then(self.2.cmp(&other.2))
    }
}

/// A run of identical replicas of one service: the nodes that can still take one, in the
/// scheduler's order. Placing a replica changes only its node, so each replica costs
/// O(log n), not a pass over the nodes: the plan's N+1 check schedules the phase once per node.
/// A node that refuses the ask for memory, cpu, pods or one per node refuses it for the rest of
/// the run (nodes only fill).
struct Run {
    ask: Replica,
    /// Each node's key as it was pushed; an entry whose node has another key since is stale, skipped.
    open: BinaryHeap<Reverse<Key>>,
    keys: Vec<Option<Key>>,
}

impl Run {
    fn new(target: Target, replica: &Replica, nodes: &[NodeLoad], current: &Current) -> Self {
        let mut run = Run { ask: replica.clone(), open: BinaryHeap::new(), keys: vec![None; nodes.len()] };
        let mut open = Vec::with_capacity(nodes.len());
        for i in (0..nodes.len()).filter(|&i| current.admits[i]) {
            if let Some(key) = run.key(i, target, replica, nodes, current) {
                open.push(Reverse(key));
            }
        }
        run.open = BinaryHeap::from(open);
        run
    }

    fn hard(current: &Current) -> bool {
        current.service.placement.spread == Some(Spread::Hard) && !current.service.is_global()
    }

    /// Node `i`'s key (kept in `keys`), unless it refuses the ask for good.
    fn key(
        &mut self,
        i: usize,
        target: Target,
        replica: &Replica,
        nodes: &[NodeLoad],
        current: &Current,
    ) -> Option<Key> {
        let hard = Self::hard(current);
        self.keys[i] = None;
        if refusal(target, hard, replica, &nodes[i], current.counts[i]).is_some() {
            return None;
        }
        let rest = match target {
            Target::Swarm => f64::from(nodes[i].replicas),
            _ => -free_share(&nodes[i], replica),
        };
        let key = Key(current.counts[i], rest, i);
        self.keys[i] = Some(key);
        Some(key)
    }

    /// The node the scheduler picks, or `None` when none can take the replica.
    fn pick(&mut self) -> Option<usize> {
        while let Some(Reverse(key)) = self.open.peek()
            && self.keys[key.2] != Some(*key)
        {
            self.open.pop();
        }
        let Reverse(Key(_, _, i)) = *self.open.peek()?;
        Some(i)
    }

    /// Node `i` took a replica (already counted in `current`).
    fn placed(&mut self, i: usize, target: Target, replica: &Replica, nodes: &[NodeLoad], current: &Current) {
        if let Some(key) = self.key(i, target, replica, nodes, current) {
            self.open.push(Reverse(key));
        }
    }
}

/// Whether two replicas of a service ask for the same.
pub(super) fn same_ask(a: &Replica, b: &Replica) -> bool {
    a.service == b.service
        && a.node == b.node
        && (a.request_cpu, a.request_memory, a.limit_cpu, a.limit_memory)
            == (b.request_cpu, b.request_memory, b.limit_cpu, b.limit_memory)
}

/// Count `replica` on `node`, in checked arithmetic: a total past what a `u64`
/// holds places nothing (the bounds of [`crate::validate::limits`] keep every
/// real total far below it).
pub(super) fn add(node: &mut NodeLoad, replica: &Replica) -> Result<(), String> {
    let sums = (
        node.requested_cpu.checked_add(replica.request_cpu),
        node.requested_memory.checked_add(replica.request_memory),
        node.limits_cpu.checked_add(replica.limit_cpu),
        node.limits_memory.checked_add(replica.limit_memory),
        node.replicas.checked_add(1),
    );
    let (Some(requested_cpu), Some(requested_memory), Some(limits_cpu), Some(limits_memory), Some(count)) = sums else {
        return Err(format!("its requests and limits would add up past what topo can count on {}", node.name));
    };
    // One lookup of the service on the node: a node of a large phase runs hundreds.
    let slot = node.services.get_mut(&replica.service);
    let Some(service_count) = slot.as_deref().copied().unwrap_or(0).checked_add(1) else {
        return Err(format!("{} would run more replicas than topo can count", node.name));
    };
    match slot {
        Some(slot) => *slot = service_count,
        None => {
            node.services.insert(replica.service.clone(), service_count);
        }
    }
    node.requested_cpu = requested_cpu;
    node.requested_memory = requested_memory;
    node.limits_cpu = limits_cpu;
    node.limits_memory = limits_memory;
    node.replicas = count;
    Ok(())
}

/// Undo [`add`] of `replica` on `node`, which took it: every sum back to what it was.
pub(super) fn remove(node: &mut NodeLoad, replica: &Replica) {
    node.requested_cpu = node.requested_cpu.saturating_sub(replica.request_cpu);
    node.requested_memory = node.requested_memory.saturating_sub(replica.request_memory);
    node.limits_cpu = node.limits_cpu.saturating_sub(replica.limit_cpu);
    node.limits_memory = node.limits_memory.saturating_sub(replica.limit_memory);
    node.replicas = node.replicas.saturating_sub(1);
    if let Some(count) = node.services.get_mut(&replica.service) {
        *count = count.saturating_sub(1);
        if *count == 0 {
            node.services.remove(&replica.service);
        }
    }
}

/// Why a node refuses a replica.
pub(super) enum Refusal {
    Memory(u64),
    Cpu(u64),
    Pods,
    OnePerNode,
}

/// Why `node`, running `of_service` replicas of the service, refuses `replica`.
pub(super) fn refusal(
    target: Target,
    hard: bool,
    replica: &Replica,
    node: &NodeLoad,
    of_service: u32,
) -> Option<Refusal> {
    let (free_cpu, free_memory) = match target {
        // Swarm admits against the node's total resources.
        Target::Swarm => (
            node.capacity_cpu.saturating_sub(node.requested_cpu),
            node.capacity_memory.saturating_sub(node.requested_memory),
        ),
        _ => (node.free_cpu(), node.free_memory()),
    };
    if replica.request_memory > free_memory {
        Some(Refusal::Memory(free_memory))
    } else if replica.request_cpu > free_cpu {
        Some(Refusal::Cpu(free_cpu))
    } else if target == Target::K8s && node.replicas >= MAX_PODS {
        Some(Refusal::Pods)
    } else if hard && matches!(target, Target::Swarm | Target::K8s) && of_service >= 1 {
        // Swarm's `max_replicas_per_node: 1`; on Kubernetes the render's required pod
        // anti-affinity on the hostname, which leaves a second pod on a node pending.
        Some(Refusal::OnePerNode)
    } else {
        None
    }
}

/// The index of the node the scheduler picks, or why none can take the replica.
pub(super) fn choose(
    target: Target,
    replica: &Replica,
    nodes: &[NodeLoad],
    current: &Current,
) -> Result<usize, String> {
    let service = current.service;
    let eligible = |i: usize| current.admits[i] && replica.node.as_ref().is_none_or(|bound| *bound == nodes[i].name);
    let Some(first) = (0..nodes.len()).find(|&i| eligible(i)) else {
        return Err(if nodes.is_empty() {
            "the phase has no node left".to_owned()
        } else {
            format!("no node matches its placement ({})", describe_placement(service))
        });
    };
    if target == Target::Compose {
        // No admission: the first eligible node (a compose phase has one).
        return Ok(first);
    }
    // A global replica has its node already: spreading has nothing to choose.
    let hard = service.placement.spread == Some(Spread::Hard) && !service.is_global();
    let refusal = |i: usize| refusal(target, hard, replica, &nodes[i], current.counts[i]);
    // The smallest by spread, then Swarm's fewest tasks or Kubernetes' most free share, then name.
    let mut best: Option<(usize, f64)> = None;
    for i in (first..nodes.len()).filter(|&i| eligible(i)) {
        if refusal(i).is_some() {
            continue;
        }
        let share = if target == Target::Swarm { 0.0 } else { free_share(&nodes[i], replica) };
        let better = match best {
            None => true,
            Some((b, best_share)) => {
                let (na, nb) = (&nodes[i], &nodes[b]);
                let spread = current.counts[i].cmp(&current.counts[b]);
                let rest = match target {
                    Target::Swarm => na.replicas.cmp(&nb.replicas),
                    // Least allocated: the larger free share wins, so compare b to a.
                    _ => best_share.total_cmp(&share),
                };
                // The nodes are in name order: the index is the name's rank.
                spread.then(rest).then(i.cmp(&b)).is_lt()
            }
        };
        if better {
            best = Some((i, share));
        }
    }
    if let Some((i, _)) = best {
        return Ok(i);
    }
    let refused: Vec<(usize, Refusal)> =
        (first..nodes.len()).filter(|&i| eligible(i)).filter_map(|i| refusal(i).map(|r| (i, r))).collect();
    let mut listed: Vec<String> = refused
        .iter()
        .take(LISTED_REJECTIONS)
        .map(|(i, refusal)| {
            let name = &nodes[*i].name;
            match refusal {
                Refusal::Memory(free) => {
                    format!("needs {} memory, {} free on {name}", mem(replica.request_memory), mem(*free))
                }
                Refusal::Cpu(free) => format!("needs {} cpu, {} free on {name}", cpu(replica.request_cpu), cpu(*free)),
                Refusal::Pods => format!("{name} already runs {MAX_PODS} pods"),
                Refusal::OnePerNode => format!("{name} already runs one (`spread: hard`: one replica per node)"),
            }
        })
        .collect();
    if refused.len() > LISTED_REJECTIONS {
        listed.push(format!("{} more nodes refuse it", refused.len() - LISTED_REJECTIONS));
    }
    Err(listed.join("; "))
}

/// Kubernetes' least-allocated score: the mean free share of cpu and memory after placing.
pub(super) fn free_share(node: &NodeLoad, replica: &Replica) -> f64 {
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
/// by hostname; on Kubernetes its volume binds it there. On Kubernetes that is
/// also every replica of a Deployment sharing a ReadWriteOnce claim: the
/// volume attaches to one node, and each replica runs there (the render warns
/// `single-node-volume`), so the plan places them all on it. The node is the one
/// this scheduler places it on, else the first its placement admits. A role or
/// a label is one node only until a second node gets it, so the placement
/// alone does not keep the task beside its data.
pub fn data_pins(phase: &Phase) -> BTreeMap<String, String> {
    let keeps_data = |s: &&Service| {
        let shares_one_attach = phase.target == Target::K8s
            && !s.stateful
            && s.own_volumes().any(|v| !v.read_only && v.access == AccessMode::ReadWriteOnce);
        !s.is_global()
            && s.placement.node.is_none()
            && s.own_volumes().any(|v| !v.read_only)
            && (s.replicas() == 1 || shares_one_attach)
    };
    let wanted: Vec<&Service> = phase.services.values().filter(keeps_data).collect();
    let sharing = phase.services.values().any(|s| s.shared_volumes().next().is_some());
    if (wanted.is_empty() && !sharing) || phase.target == Target::Compose {
        return BTreeMap::new();
    }
    let base = schedule(phase, phase.target, &replicas(phase, Load::Base), None);
    // Each service's first replica's node, looked up once per service.
    let mut first_node: BTreeMap<&str, Option<&String>> = BTreeMap::new();
    for p in &base.placed {
        first_node.entry(p.replica.service.as_str()).or_insert(p.node.as_ref());
    }
    let mut pins = BTreeMap::new();
    for service in wanted {
        let planned = first_node.get(service.name.as_str()).copied().flatten().cloned();
        let first = || phase.nodes.values().find(|n| service.placement.admits(n)).map(|n| n.name.clone());
        if let Some(node) = planned.or_else(first) {
            pins.insert(service.name.clone(), node);
        }
    }
    follow_volume_owners(phase, &mut pins);
    pins
}

const MAX_FOLLOW_ROUNDS: usize = 16;

/// The one node where a service's volumes are, when there is one: its pin,
/// the node its placement names, or the only node its placement admits.
pub fn volume_node<'p>(phase: &'p Phase, pins: &'p BTreeMap<String, String>, owner: &'p Service) -> Option<&'p str> {
    if let Some(node) = pins.get(&owner.name).or(owner.placement.node.as_ref()) {
        return Some(node);
    }
    let mut admitting = phase.nodes.values().filter(|n| owner.placement.admits(n));
    match (admitting.next(), admitting.next()) {
        (Some(only), None) => Some(&only.name),
        _ => None,
    }
}

/// A service mounting another's volume (`from`) runs on that service's node
/// wherever the volume lives on one node: always on Swarm (its volumes are
/// local), on Kubernetes when the claim is ReadWriteOnce. The owner's node is
/// its pin or its placement's node; an owner that follows a third service's
/// volume is resolved first (rounds until nothing changes).
pub fn follow_volume_owners(phase: &Phase, pins: &mut BTreeMap<String, String>) {
    let follows = |v: &&crate::model::Volume| match phase.target {
        Target::Compose => false,
        Target::Swarm => true,
        Target::K8s => v.access == AccessMode::ReadWriteOnce,
    };
    // An owner that follows another's volume is settled in a later round; a deeper chain than
    // this is left as it stands, and the render's `volume-not-shared` says where it breaks.
    for _ in 0..phase.services.len().min(MAX_FOLLOW_ROUNDS) {
        let mut changed = false;
        for service in phase.services.values() {
            let Some(owner) = service.shared_volumes().find(follows).and_then(|v| v.from.as_ref()) else { continue };
            let Some(owner) = phase.services.get(&owner.service) else { continue };
            let Some(node) = volume_node(phase, pins, owner).map(str::to_owned) else { continue };
            if service.placement.node.is_none() && pins.get(&service.name) != Some(&node) {
                pins.insert(service.name.clone(), node);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Both ways of scheduling place every replica alike, and say the same of those they cannot place.
    fn same_both_ways(phase: &Phase) {
        for load in [Load::Base, Load::Peak] {
            let asked = replicas(phase, load);
            let mut lost: Vec<Option<&str>> = vec![None];
            lost.extend(phase.nodes.keys().map(|n| Some(n.as_str())));
            for without in lost {
                let fast = schedule_with(phase, phase.target, &asked, without, true);
                let linear = schedule_with(phase, phase.target, &asked, without, false);
                let outcome = |s: &Schedule| -> Vec<(String, u32, Option<String>, Option<String>)> {
                    s.placed
                        .iter()
                        .map(|p| (p.replica.service.clone(), p.replica.index, p.node.clone(), p.reason.clone()))
                        .collect()
                };
                assert_eq!(outcome(&fast), outcome(&linear), "phase {} without {without:?}", phase.number);
            }
        }
    }

    fn phases_of(yaml: &str) -> Vec<Phase> {
        match crate::compile(yaml.as_bytes()) {
            Ok(compiled) => compiled.model.phases,
            Err(diags) => panic!("{:?}", diags.iter().map(|d| d.message.clone()).collect::<Vec<_>>()),
        }
    }

    #[test]
    fn the_ordered_runs_place_as_one_pass_per_replica_does_on_every_shipped_spec() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut specs = 0;
        for dir in ["examples", "specs", "tests/fixtures/valid"] {
            for entry in fs_err::read_dir(root.join(dir)).unwrap().map(|e| e.unwrap().path()) {
                if entry.extension().is_some_and(|e| e == "yaml") {
                    let text = fs_err::read_to_string(&entry).unwrap();
                    for phase in phases_of(&text) {
                        same_both_ways(&phase);
                    }
                    specs += 1;
                }
            }
        }
        assert!(specs >= 8, "found only {specs} specs");
    }

    /// Small services on many nodes: the ordered nodes look at a few nodes per replica, not at every node.
    #[test]
    fn the_work_of_the_placement_grows_with_the_replicas_not_with_replicas_times_nodes() {
        for target in ["swarm", "k8s"] {
            for nodes in [50usize, 400] {
                let mut yaml = format!("project: p\nphases:\n  1:\n    name: one\n    target: {target}\n    nodes:\n");
                for i in 0..nodes {
                    let role = if i == 0 { "manager" } else { "worker" };
                    yaml.push_str(&format!("      n{i:03}: {{ role: {role}, cpu: 16, memory: 64Gi }}\n"));
                }
                yaml.push_str("services:\n");
                for i in 0..60 {
                    let cpu = 100 + 10 * (i % 7);
                    yaml.push_str(&format!(
                        "  s{i:02}: {{ image: s:1.0, replicas: 3, resources: {{ requests: {{ cpu: {cpu}m, memory: 128Mi }} }} }}\n"
                    ));
                }
                for phase in phases_of(&yaml) {
                    let asked = replicas(&phase, Load::Base);
                    let (placed, examined) =
                        schedule_ordered(&phase, phase.target, &asked, empty_nodes(&phase, phase.target, None));
                    assert!(placed.fits());
                    let linear = (asked.len() * nodes) as u64;
                    let bound = 8 * asked.len() as u64 + 2 * nodes as u64;
                    assert!(
                        examined <= bound,
                        "{target}, {nodes} nodes: {examined} nodes looked at for {} replicas (a pass each: {linear})",
                        asked.len()
                    );
                }
            }
        }
    }

    #[test]
    fn the_ordered_runs_place_as_one_pass_per_replica_does_when_nodes_fill_up() {
        // Nodes of different sizes, services with and without placement and hard spreading,
        // more replicas than fit: every refusal and every tie.
        for target in ["swarm", "k8s"] {
            for (replicas, spread) in [(3, "soft"), (7, "hard"), (25, "soft"), (40, "hard")] {
                let yaml = format!(
                    "project: p
phases:
  1:
    name: one
    target: {target}
    nodes:
      a: {{ role: manager, cpu: 4, memory: 8Gi, labels: {{ tier: web }} }}
      b: {{ cpu: 2, memory: 4Gi, labels: {{ tier: web }} }}
      c: {{ cpu: 8, memory: 16Gi }}
      d: {{ cpu: 2, memory: 4Gi }}
      e: {{ cpu: 1, memory: 2Gi, labels: {{ tier: web }} }}
services:
  api:
    image: api:1.0
    replicas: {replicas}
    resources: {{ requests: {{ cpu: 300m, memory: 700Mi }} }}
    placement: {{ spread: {spread} }}
  cache:
    image: cache:1.0
    replicas: global
    resources: {{ requests: {{ cpu: 100m, memory: 256Mi }} }}
  web:
    image: web:1.0
    replicas: {replicas}
    resources: {{ requests: {{ cpu: 250m, memory: 512Mi }} }}
    placement: {{ labels: {{ tier: web }}, spread: {spread} }}
  worker:
    image: worker:1.0
    replicas: 2
    autoscale: {{ max: {replicas}, cpu: 70% }}
    resources: {{ requests: {{ cpu: 1, memory: 1Gi }} }}
"
                );
                for phase in phases_of(&yaml) {
                    same_both_ways(&phase);
                }
            }
        }
    }
}

#[cfg(test)]
mod checked {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A total past `u64::MAX` places nothing and says why, where wrapping would have found room.
    #[test]
    fn a_total_past_what_u64_holds_places_nothing() {
        let yaml = "project: p\nphases:\n  1: { name: one, target: compose, nodes: { a: { role: manager, cpu: 1, memory: 1Gi } } }\nservices:\n  web: { image: web:1.0 }\n";
        let phases = crate::compile(yaml.as_bytes()).ok().unwrap().model.phases;
        let mut nodes = empty_nodes(&phases[0], Target::Compose, None);
        nodes[0].limits_memory = u64::MAX - 1;
        let replica = Replica {
            service: "web".into(),
            index: 1,
            request_cpu: 0,
            request_memory: 0,
            limit_cpu: 0,
            limit_memory: 2,
            node: None,
        };
        let reason = add(&mut nodes[0], &replica).unwrap_err();
        assert!(reason.contains("past what topo can count"), "{reason}");
        assert_eq!((nodes[0].limits_memory, nodes[0].replicas), (u64::MAX - 1, 0), "nothing was counted");
    }
}
