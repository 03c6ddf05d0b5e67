//! The nodes of a phase in the scheduler's order of preference, kept as replicas land.
//!
//! Swarm takes the node with the fewest tasks of the service, then the fewest
//! tasks; Kubernetes the fewest of the service, then the largest free share.
//! Keeping every node in that order (per placement, and per allocatable size
//! on Kubernetes, whose free share compares alike within one size whatever the
//! replica asks) makes each replica cost O(log n) and a walk over the nodes
//! that refuse it, plus the few nodes that run the service already, instead
//! of a pass over every node. The base placement ([`super::schedule`]) and the
//! N+1 losses ([`super::loss`]) both place through it; [`Ordered::examined`]
//! counts the nodes looked at, for the tests.

use std::collections::{BTreeMap, BTreeSet};

use foldhash::HashMap;

use crate::model::{Node, Phase, Service};
use crate::spec::{Spread, Target};

use super::schedule::{Current, NodeLoad, Replica, add, choose, free_share, refusal, remove};

/// Float noise in a free share is far below this: a node whose exact share is further behind the best
/// one's cannot win on the float comparison the scheduler makes.
const SHARE_MARGIN: f64 = 1e-9;

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

/// A phase's nodes with their loads, in the scheduler's order.
pub(super) struct Ordered<'a> {
    phase: &'a Phase,
    target: Target,
    pub(super) nodes: Vec<NodeLoad>,
    pub(super) machines: Vec<Option<&'a Node>>,
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
    hosts: HashMap<&'a str, BTreeMap<usize, u32>>,
    pub(super) examined: u64,
    /// One pass over the nodes per replica, as [`choose`] makes it (the tests' reference).
    slow: bool,
    /// The service last looked up by name: replicas come service by service, and a
    /// large phase's map of services costs a dozen string comparisons a lookup.
    last: Option<(&'a String, &'a Service)>,
}

impl<'a> Ordered<'a> {
    /// `nodes` (the phase's, in name order, with what runs on them) as `target` orders them; `slow`
    /// places by one pass over the nodes per replica instead (the tests' reference).
    pub(super) fn new(phase: &'a Phase, target: Target, nodes: Vec<NodeLoad>, slow: bool) -> Self {
        let machines = nodes.iter().map(|n| phase.nodes.get(&n.name)).collect();
        let mut sizes: BTreeMap<(u64, u64), usize> = BTreeMap::new();
        let class = nodes
            .iter()
            .map(|n| match target {
                Target::K8s => {
                    let next = sizes.len();
                    *sizes.entry((n.allocatable_cpu, n.allocatable_memory)).or_insert(next)
                }
                _ => 0,
            })
            .collect();
        let mut hosts: HashMap<&'a str, BTreeMap<usize, u32>> = HashMap::default();
        for (i, node) in nodes.iter().enumerate() {
            for (service, &count) in &node.services {
                if let Some((name, _)) = phase.services.get_key_value(service) {
                    hosts.entry(name.as_str()).or_default().insert(i, count);
                }
            }
        }
        let mut world = Ordered {
            phase,
            target,
            groups_of: vec![Vec::new(); nodes.len()],
            nodes,
            machines,
            class,
            classes: sizes.len().max(1),
            groups: Vec::new(),
            group_of: HashMap::default(),
            service_group: HashMap::default(),
            hosts,
            examined: 0,
            slow,
            last: None,
        };
        world.group(None, None);
        world
    }

    /// The phase's service of that name (and the map's own copy of the name).
    fn service(&mut self, name: &str) -> Option<(&'a String, &'a Service)> {
        if let Some(last) = self.last.filter(|(n, _)| n.as_str() == name) {
            return Some(last);
        }
        let found = self.phase.services.get_key_value(name);
        self.last = found.or(self.last);
        found
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

    /// The node the scheduler gives `replica` (once `lost` is gone), or `None`.
    pub(super) fn place(&mut self, lost: Option<usize>, replica: &Replica) -> Option<usize> {
        let (_, service) = self.service(&replica.service)?;
        if replica.node.is_none() && matches!(self.target, Target::K8s | Target::Swarm) && !self.slow {
            return self.fast(lost, service, replica);
        }
        // Compose or a bound replica (rare): the scheduler's own pass over the nodes.
        self.examined += self.nodes.len() as u64;
        let machines: Vec<Option<&Node>> =
            self.machines.iter().enumerate().map(|(i, m)| if Some(i) == lost { None } else { *m }).collect();
        let current = Current::of(service, &machines, &self.nodes, true);
        choose(self.target, replica, &self.nodes, &current).ok()
    }

    fn admits(&self, service: &Service, i: usize) -> bool {
        self.machines[i].is_some_and(|node| service.placement.admits(node))
    }

    /// The scheduler's pick among the surviving nodes, from [`Order`] and the service's own nodes.
    fn fast(&mut self, lost: Option<usize>, service: &'a Service, replica: &Replica) -> Option<usize> {
        let target = self.target;
        let hard = service.placement.spread == Some(Spread::Hard) && !service.is_global();
        let group = self.group_of_service(service, lost);
        // The admitted nodes that run some of its replicas, in node order (for the binary search of
        // [`Self::best_elsewhere`]); membership of the group is the placement's answer, looked up once.
        let groups_of = &self.groups_of;
        let hosted: Vec<(usize, u32)> = self.hosts.get(service.name.as_str()).map_or_else(Vec::new, |counts| {
            counts
                .iter()
                .filter(|&(&i, _)| Some(i) != lost && groups_of[i].contains(&group))
                .map(|(&i, &count)| (i, count))
                .collect()
        });
        self.examined += hosted.len() as u64;
        let admitted_hosted = hosted.len();
        let survivors =
            self.groups[group].members - usize::from(lost.is_some_and(|l| self.groups_of[l].contains(&group)));
        // Nodes without a replica of the service come first (when some admitted node has none).
        if survivors > admitted_hosted
            && let Some(i) = self.best_elsewhere(group, &hosted, hard, replica)
        {
            return Some(i);
        }
        // Every node without one refuses it: the service's own nodes, fewest replicas first.
        let mut best: Option<(u32, f64, usize)> = None;
        for &(i, count) in &hosted {
            if refusal(target, hard, replica, &self.nodes[i], count).is_some() {
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
                if hosted.binary_search_by_key(&i, |&(h, _)| h).is_ok() {
                    cursor = (c, key, free_cpu, pods, i + 1);
                    continue;
                }
                if refusal(target, hard, replica, &self.nodes[i], 0).is_some() {
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
    fn group_of_service(&mut self, service: &'a Service, lost: Option<usize>) -> usize {
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
                    let g = self.group(Some(service), lost);
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
    pub(super) fn unlist(&mut self, i: usize) {
        let entry = self.entry(i);
        for &g in &self.groups_of[i] {
            self.groups[g].order.remove(&entry);
        }
    }

    /// Put node `i` back in the orders, at its current load.
    pub(super) fn list(&mut self, i: usize) {
        let entry = self.entry(i);
        for &g in &self.groups_of[i] {
            self.groups[g].order.insert(entry);
        }
    }

    /// Count `replica` on node `i`, keeping the orders and the service's nodes.
    pub(super) fn take(&mut self, i: usize, replica: &Replica) -> Result<(), String> {
        self.unlist(i);
        let added = add(&mut self.nodes[i], replica);
        if added.is_ok()
            && let Some((name, _)) = self.service(&replica.service)
        {
            *self.hosts.entry(name.as_str()).or_default().entry(i).or_default() += 1;
        }
        self.list(i);
        added
    }

    /// Undo [`Self::take`] of `replica` on node `i`.
    pub(super) fn untake(&mut self, i: usize, replica: &Replica) {
        self.unlist(i);
        remove(&mut self.nodes[i], replica);
        if let Some(counts) = self.hosts.get_mut(replica.service.as_str())
            && let Some(count) = counts.get_mut(&i)
        {
            *count -= 1;
            if *count == 0 {
                counts.remove(&i);
            }
        }
        self.list(i);
    }
}
