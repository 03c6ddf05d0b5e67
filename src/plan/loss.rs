//! N+1: what the loss of each node does, the way Swarm and Kubernetes handle it.
//!
//! When a node goes down, neither orchestrator redeploys the phase: the
//! replicas on the other nodes keep running where they are, and only the lost
//! node's replicas (a Swarm service's tasks, a ReplicaSet's pods) are created
//! again, on what the surviving nodes have left, in the order they were
//! created. That is what this module computes, loss by loss, starting each
//! time from the phase's own placement; replicas that were already pending
//! are tried again with them. A global replica bound to the lost node goes
//! with it (nothing to reschedule).
//!
//! This is the faithful answer, and it can differ from placing the whole
//! phase again without the node: a fresh placement packs the survivors from
//! scratch and may find room that the running placement does not leave (or
//! spread a service differently), which no real scheduler does after a loss.
//! Where the two differ, the fresh placement is the optimistic one.
//!
//! Each re-placed replica costs O(log n) and a walk over the nodes that
//! refuse it, not a pass over every node: the surviving nodes are kept ordered
//! by the scheduler's preference (Swarm: fewest tasks; Kubernetes: the largest
//! free share, among nodes of one allocatable size), and a service's own
//! replicas are on a few nodes, looked at directly. [`NodeLosses::examined`]
//! counts the nodes looked at, for the tests.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::model::{Node, Phase, Service};
use crate::spec::{Spread, Target};

use super::NodeLoss;
use super::schedule::{Current, NodeLoad, Replica, Schedule, add, choose, free_share, refusal, same_ask};

/// Float noise in a free share is far below this: a node whose exact share is further behind the best
/// one's cannot win on the float comparison the scheduler makes.
const SHARE_MARGIN: f64 = 1e-9;

/// Every loss of the phase, in node order, and the work they took.
pub struct NodeLosses {
    pub losses: Vec<NodeLoss>,
    /// Nodes looked at while re-placing replicas (the tests' measure of work).
    pub examined: u64,
}

/// The surviving nodes in the scheduler's order: `(class, key, free cpu, replicas, index)`, where
/// nodes of one class compare by `key` whatever the replica asks.
/// Nodes of one class with the same `(key, free cpu, replicas)` carry the same load and refuse alike.
type Order = BTreeSet<Entry>;
type Entry = (usize, u128, u64, u32, usize);

/// The nodes a placement admits, and those of them that survive in the scheduler's order.
struct Group {
    members: usize,
    order: Order,
}

/// What the re-placement of one loss works on: the base placement's loads, changed and restored.
struct World<'a> {
    phase: &'a Phase,
    target: Target,
    nodes: Vec<NodeLoad>,
    machines: Vec<Option<&'a Node>>,
    /// Each node's class (one per allocatable size on Kubernetes, one on Swarm).
    class: Vec<usize>,
    classes: usize,
    /// The nodes one placement admits, in [`Order`]: the first admits every node.
    groups: Vec<Group>,
    /// Each node's groups.
    groups_of: Vec<Vec<usize>>,
    /// Each placement's group, by its constraints; each service's.
    group_of: HashMap<String, usize>,
    service_group: HashMap<&'a str, usize>,
    /// Per service, the nodes that run some of its replicas (their counts are in `nodes`).
    hosts: HashMap<&'a str, BTreeSet<usize>>,
    examined: u64,
    /// One pass over the nodes per replica, as [`choose`] makes it (the tests' reference).
    slow: bool,
}

/// Lose each node of the phase in turn, from the placement `base` of `replicas`.
pub fn losses(phase: &Phase, replicas: &[Replica], base: &Schedule) -> NodeLosses {
    losses_with(phase, replicas, base, false)
}

/// [`losses`], from the ordered nodes or with one pass over the nodes per replica (`slow`): the same losses.
fn losses_with(phase: &Phase, replicas: &[Replica], base: &Schedule, slow: bool) -> NodeLosses {
    let mut world = World::new(phase, base, slow);
    let index_of = |name: &str| world.nodes.binary_search_by(|n| n.name.as_str().cmp(name)).ok();
    // Where each replica of the base runs; those on each node; those pending.
    let at: Vec<Option<usize>> = base.placed.iter().map(|p| p.node.as_deref().and_then(index_of)).collect();
    let mut on: Vec<Vec<usize>> = vec![Vec::new(); world.nodes.len()];
    let mut pending = Vec::new();
    for (k, node) in at.iter().enumerate() {
        match node {
            Some(i) => on[*i].push(k),
            None => pending.push(k),
        }
    }
    let mut asked: BTreeMap<&str, u32> = BTreeMap::new();
    for placed in &base.placed {
        *asked.entry(placed.replica.service.as_str()).or_default() += 1;
    }
    debug_assert_eq!(base.placed.len(), replicas.len());
    let losses = (0..world.nodes.len())
        .map(|lost| {
            let todo = merge(&on[lost], &pending);
            world.lose(lost, &todo, &base.placed, &asked)
        })
        .collect();
    NodeLosses { losses, examined: world.examined }
}

/// Two ascending lists of replica positions as one.
fn merge(a: &[usize], b: &[usize]) -> Vec<usize> {
    let mut out: Vec<usize> = a.iter().chain(b).copied().collect();
    out.sort_unstable();
    out
}

impl<'a> World<'a> {
    fn new(phase: &'a Phase, base: &Schedule, slow: bool) -> Self {
        let nodes = base.nodes.clone();
        let machines = nodes.iter().map(|n| phase.nodes.get(&n.name)).collect();
        let mut sizes: BTreeMap<(u64, u64), usize> = BTreeMap::new();
        let class = nodes
            .iter()
            .map(|n| match base.target {
                Target::K8s => {
                    let next = sizes.len();
                    *sizes.entry((n.allocatable_cpu, n.allocatable_memory)).or_insert(next)
                }
                _ => 0,
            })
            .collect();
        let mut hosts: HashMap<&'a str, BTreeSet<usize>> = HashMap::new();
        for (i, node) in nodes.iter().enumerate() {
            for service in node.services.keys() {
                if let Some((name, _)) = phase.services.get_key_value(service) {
                    hosts.entry(name.as_str()).or_default().insert(i);
                }
            }
        }
        let mut world = World {
            phase,
            target: base.target,
            nodes,
            machines,
            class,
            classes: sizes.len().max(1),
            groups: Vec::new(),
            groups_of: vec![Vec::new(); base.nodes.len()],
            group_of: HashMap::new(),
            service_group: HashMap::new(),
            hosts,
            examined: 0,
            slow,
        };
        world.group(None, None);
        world
    }

    /// Node `i`'s place in [`Order`]: Swarm's fewest tasks, or the largest free share of its size.
    fn entry(&self, i: usize) -> Entry {
        let node = &self.nodes[i];
        let key = match self.target {
            Target::K8s => {
                // The free share times 2·cpu·memory of the size, exactly: larger first.
                let share = u128::from(node.free_cpu()) * u128::from(node.allocatable_memory)
                    + u128::from(node.free_memory()) * u128::from(node.allocatable_cpu);
                u128::MAX - share
            }
            _ => u128::from(node.replicas),
        };
        match self.target {
            Target::K8s => (self.class[i], key, node.free_cpu(), node.replicas, i),
            _ => (self.class[i], key, 0, 0, i),
        }
    }

    /// Lose node `lost`: re-place the replicas `todo` (positions in `placed`), say what is down, restore.
    fn lose(
        &mut self,
        lost: usize,
        todo: &[usize],
        placed: &[super::schedule::Placed],
        asked: &BTreeMap<&str, u32>,
    ) -> NodeLoss {
        let lost_name = self.nodes[lost].name.clone();
        self.unlist(lost);
        let mut saved: BTreeMap<usize, NodeLoad> = BTreeMap::new();
        let mut missing: BTreeMap<&str, u32> = BTreeMap::new();
        let mut gone: BTreeMap<&str, u32> = BTreeMap::new();
        let mut last_failed: Option<&Replica> = None;
        for &k in todo {
            let replica = &placed[k].replica;
            let service = replica.service.as_str();
            if replica.node.as_deref() == Some(lost_name.as_str()) {
                // A global replica bound to the lost node: it goes with it.
                *gone.entry(service).or_default() += 1;
                continue;
            }
            if let Some(last) = last_failed
                && replica.node.is_none()
                && same_ask(last, replica)
            {
                *missing.entry(service).or_default() += 1;
                continue;
            }
            match self.place(lost, replica) {
                Some(i) => {
                    saved.entry(i).or_insert_with(|| self.nodes[i].clone());
                    self.unlist(i);
                    if add(&mut self.nodes[i], replica).is_ok() {
                        if let Some(name) = self.phase.services.get_key_value(service).map(|(n, _)| n.as_str()) {
                            self.hosts.entry(name).or_default().insert(i);
                        }
                        last_failed = None;
                    } else {
                        *missing.entry(service).or_default() += 1;
                        last_failed = Some(replica);
                    }
                    self.list(i);
                }
                None => {
                    *missing.entry(service).or_default() += 1;
                    last_failed = Some(replica);
                }
            }
        }
        // Restore the base placement for the next loss.
        for (i, node) in saved {
            self.unlist(i);
            let services: Vec<String> =
                self.nodes[i].services.keys().filter(|s| !node.services.contains_key(*s)).cloned().collect();
            for service in services {
                if let Some(set) = self.hosts.get_mut(service.as_str()) {
                    set.remove(&i);
                }
            }
            self.nodes[i] = node;
            self.list(i);
        }
        self.list(lost);
        let mut down = Vec::new();
        let mut degraded = Vec::new();
        for (service, &short) in &missing {
            let wanted = asked.get(service).copied().unwrap_or(0) - gone.get(service).copied().unwrap_or(0);
            let up = wanted.saturating_sub(short);
            if up == 0 {
                down.push((*service).to_owned());
            } else {
                degraded.push(((*service).to_owned(), up, wanted));
            }
        }
        NodeLoss { lost: lost_name, fits: missing.is_empty(), down, degraded }
    }

    /// The node the scheduler gives `replica` once `lost` is gone, or `None`.
    fn place(&mut self, lost: usize, replica: &Replica) -> Option<usize> {
        let service = self.phase.services.get(&replica.service)?;
        if replica.node.is_none() && matches!(self.target, Target::K8s | Target::Swarm) && !self.slow {
            return self.fast(lost, service, replica);
        }
        // Compose or a bound replica (rare): the scheduler's own pass over the nodes.
        self.examined += self.nodes.len() as u64;
        let machines: Vec<Option<&Node>> =
            self.machines.iter().enumerate().map(|(i, m)| if i == lost { None } else { *m }).collect();
        let current = Current::of(service, &machines, &self.nodes, true);
        choose(self.target, replica, &self.nodes, &current).ok()
    }

    fn admits(&self, service: &Service, i: usize) -> bool {
        self.machines[i].is_some_and(|node| service.placement.admits(node))
    }

    /// The scheduler's pick among the surviving nodes, from [`Order`] and the service's own nodes.
    fn fast(&mut self, lost: usize, service: &'a Service, replica: &Replica) -> Option<usize> {
        let target = self.target;
        let hard = service.placement.spread == Some(Spread::Hard) && !service.global;
        let hosted: Vec<(usize, u32)> = self.hosts.get(service.name.as_str()).map_or_else(Vec::new, |set| {
            set.iter().filter(|&&i| i != lost).map(|&i| (i, self.nodes[i].of(&service.name))).collect()
        });
        self.examined += hosted.len() as u64;
        let group = self.group_of_service(service, lost);
        // The fewest replicas of the service on an admitted node (the hard spread's skew).
        let admitted_hosted = hosted.iter().filter(|(i, _)| self.admits(service, *i)).count();
        let survivors = self.groups[group].members - usize::from(self.admits(service, lost));
        let least = if survivors > admitted_hosted {
            0
        } else {
            hosted.iter().filter(|(i, _)| self.admits(service, *i)).map(|(_, c)| *c).min().unwrap_or(0)
        };
        // Nodes without a replica of the service come first.
        if let Some(i) = self.best_elsewhere(group, &hosted, hard, least, replica) {
            return Some(i);
        }
        // Every node without one refuses it: the service's own nodes, fewest replicas first.
        let mut best: Option<(u32, f64, usize)> = None;
        for &(i, count) in &hosted {
            if !self.admits(service, i) || refusal(target, hard, least, replica, &self.nodes[i], count).is_some() {
                continue;
            }
            let rest = match target {
                Target::Swarm => f64::from(self.nodes[i].replicas),
                _ => -free_share(&self.nodes[i], replica),
            };
            let key = (count, rest, i);
            if best.is_none_or(|b| key.0.cmp(&b.0).then(key.1.total_cmp(&b.1)).then(key.2.cmp(&b.2)).is_lt()) {
                best = Some(key);
            }
        }
        best.map(|(_, _, i)| i)
    }

    /// The best of each class of `group` among the nodes that run no replica of the service (not `hosted`).
    fn best_elsewhere(
        &mut self,
        group: usize,
        hosted: &[(usize, u32)],
        hard: bool,
        least: u32,
        replica: &Replica,
    ) -> Option<usize> {
        let target = self.target;
        let mut best: Option<(usize, f64)> = None;
        let mut examined = 0u64;
        for class in 0..self.classes {
            let mut first: Option<u128> = None;
            let mut cursor: Entry = (class, 0, 0, 0, 0);
            while let Some(&(c, key, free_cpu, pods, i)) = self.groups[group].order.range(cursor..).next()
                && c == class
            {
                examined += 1;
                if let Some(first_key) = first {
                    // Behind the class's first by more than float noise (Swarm: any other key): it cannot win.
                    let behind = match target {
                        Target::K8s => {
                            let node = &self.nodes[i];
                            let scale = 2.0 * node.allocatable_cpu as f64 * node.allocatable_memory as f64;
                            (key - first_key) as f64 / scale > SHARE_MARGIN
                        }
                        _ => key != first_key,
                    };
                    if behind {
                        break;
                    }
                }
                // The next node; on Kubernetes past those with the same load, which refuse alike or lose on the index.
                cursor = match target {
                    Target::K8s => (c, key, free_cpu, pods + 1, 0),
                    _ => (c, key, free_cpu, pods, i + 1),
                };
                if hosted.iter().any(|(h, _)| *h == i) {
                    cursor = (c, key, free_cpu, pods, i + 1);
                    continue;
                }
                if refusal(target, hard, least, replica, &self.nodes[i], 0).is_some() {
                    continue;
                }
                first = first.or(Some(key));
                let share = if target == Target::Swarm { 0.0 } else { free_share(&self.nodes[i], replica) };
                let better = match best {
                    None => true,
                    Some((b, best_share)) => match target {
                        Target::Swarm => (self.nodes[i].replicas, i) < (self.nodes[b].replicas, b),
                        _ => best_share.total_cmp(&share).then(i.cmp(&b)).is_lt(),
                    },
                };
                if better {
                    best = Some((i, share));
                }
                if target == Target::Swarm {
                    // Fewest tasks, then name: the first that takes it.
                    break;
                }
            }
        }
        self.examined += examined;
        best.map(|(i, _)| i)
    }

    /// The group of the service's placement, made when first asked for (`lost` is out of its order).
    fn group_of_service(&mut self, service: &'a Service, lost: usize) -> usize {
        if let Some(&g) = self.service_group.get(service.name.as_str()) {
            return g;
        }
        let p = &service.placement;
        let g = if p.role.is_none() && p.node.is_none() && p.labels.is_empty() {
            0
        } else {
            let key = format!("{:?}", (p.role.map(|r| r.as_str()), &p.node, &p.labels));
            match self.group_of.get(&key) {
                Some(&g) => g,
                None => {
                    let g = self.group(Some(service), Some(lost));
                    self.group_of.insert(key, g);
                    g
                }
            }
        };
        self.service_group.insert(service.name.as_str(), g);
        g
    }

    /// A new group: the nodes `service` admits (every node for `None`), in order but for `lost`.
    fn group(&mut self, service: Option<&Service>, lost: Option<usize>) -> usize {
        let g = self.groups.len();
        let mut group = Group { members: 0, order: Order::new() };
        for i in 0..self.nodes.len() {
            self.examined += 1;
            if service.is_none_or(|s| self.admits(s, i)) {
                group.members += 1;
                self.groups_of[i].push(g);
                if Some(i) != lost {
                    group.order.insert(self.entry(i));
                }
            }
        }
        self.groups.push(group);
        g
    }

    /// Take node `i` out of the orders (before its load changes, or when it is lost).
    fn unlist(&mut self, i: usize) {
        let entry = self.entry(i);
        for &g in &self.groups_of[i] {
            self.groups[g].order.remove(&entry);
        }
    }

    /// Put node `i` back in the orders, at its current load.
    fn list(&mut self, i: usize) {
        let entry = self.entry(i);
        for &g in &self.groups_of[i] {
            self.groups[g].order.insert(entry);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::schedule::{Load, replicas, schedule, with_data_pins};

    fn phases_of(yaml: &str) -> Vec<Phase> {
        match crate::compile(yaml.as_bytes()) {
            Ok(compiled) => compiled.model.phases,
            Err(diags) => panic!("{:?}", diags.iter().map(|d| d.message.clone()).collect::<Vec<_>>()),
        }
    }

    type Outcome = (String, bool, Vec<String>, Vec<(String, u32, u32)>);

    fn outcome(losses: &NodeLosses) -> Vec<Outcome> {
        losses.losses.iter().map(|l| (l.lost.clone(), l.fits, l.down.clone(), l.degraded.clone())).collect()
    }

    /// The ordered nodes find what one pass over the nodes per replica finds, for every loss.
    fn same_both_ways(phase: &Phase) -> u64 {
        let phase = with_data_pins(phase);
        let mut examined = 0;
        for load in [Load::Base, Load::Peak] {
            let asked = replicas(&phase, load);
            let base = schedule(&phase, phase.target, &asked, None);
            let fast = losses_with(&phase, &asked, &base, false);
            let slow = losses_with(&phase, &asked, &base, true);
            assert_eq!(outcome(&fast), outcome(&slow), "phase {}", phase.number);
            examined += fast.examined;
        }
        examined
    }

    #[test]
    fn the_ordered_nodes_lose_as_one_pass_per_replica_does_on_every_shipped_spec() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut specs = 0;
        for dir in ["examples", "specs", "tests/fixtures/valid"] {
            for entry in fs_err::read_dir(root.join(dir)).unwrap().map(|e| e.unwrap().path()) {
                if entry.extension().is_some_and(|e| e == "yaml") {
                    for phase in phases_of(&fs_err::read_to_string(&entry).unwrap()) {
                        same_both_ways(&phase);
                    }
                    specs += 1;
                }
            }
        }
        assert!(specs >= 8, "found only {specs} specs");
    }

    /// A phase of `nodes` nodes of two sizes, three replicas per service, filled to `fill` services per node.
    fn big(target: &str, nodes: usize, per_node: usize, spread: &str) -> String {
        let mut yaml = format!("project: p\nphases:\n  1:\n    name: one\n    target: {target}\n    nodes:\n");
        for i in 0..nodes {
            let (role, size) =
                if i == 0 { ("manager", "cpu: 8, memory: 16Gi") } else { ("worker", "cpu: 4, memory: 8Gi") };
            let label = if i % 3 == 0 { ", labels: { tier: web }" } else { "" };
            yaml.push_str(&format!("      n{i:04}: {{ role: {role}, {size}{label} }}\n"));
        }
        yaml.push_str("services:\n");
        for s in 0..nodes * per_node / 3 {
            let placement = if s % 5 == 0 {
                "{ labels: { tier: web }, spread: soft }".to_owned()
            } else {
                format!("{{ spread: {spread} }}")
            };
            yaml.push_str(&format!(
                "  s{s:05}:\n    image: s:1.0\n    replicas: 3\n    resources: {{ requests: {{ cpu: {}m, memory: {}Mi }} }}\n    placement: {placement}\n",
                100 + 50 * (s % 4),
                200 + 100 * (s % 3),
            ));
        }
        yaml
    }

    #[test]
    fn the_ordered_nodes_lose_as_one_pass_per_replica_does_when_nodes_fill_up() {
        for target in ["swarm", "k8s"] {
            for spread in ["soft", "hard"] {
                // Roomy, then so full that a loss strands replicas.
                for per_node in [6, 20] {
                    for phase in phases_of(&big(target, 12, per_node, spread)) {
                        same_both_ways(&phase);
                    }
                }
            }
        }
    }

    #[test]
    fn the_work_of_n_plus_one_grows_with_the_replicas_not_with_replicas_times_nodes() {
        // Ten times the nodes and ten times the replicas: ten times the work, give or take, not a hundred.
        for target in ["swarm", "k8s"] {
            let work = |nodes: usize| -> (u64, u64) {
                let phase = &phases_of(&big(target, nodes, 6, "soft"))[0];
                let asked = replicas(phase, Load::Base);
                let base = schedule(phase, phase.target, &asked, None);
                (losses(phase, &asked, &base).examined, asked.len() as u64)
            };
            // 100 nodes and 200 services: the bounds of validate::limits.
            let (small, small_replicas) = work(10);
            let (large, large_replicas) = work(100);
            assert_eq!(large_replicas, 10 * small_replicas);
            assert!(large <= 15 * small, "{target}: {small} nodes examined for 10 nodes, {large} for 100");
            // A pass over the nodes per re-placed replica would examine 100 × 600 of them.
            assert!(large <= 20 * large_replicas, "{target}: {large} nodes examined for {large_replicas} replicas");
        }
    }
}
