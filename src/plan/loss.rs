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

use std::collections::BTreeMap;

use crate::model::Phase;

use super::NodeLoss;
use super::ordered::Ordered;
use super::schedule::{Replica, Schedule, same_ask};

/// Every loss of the phase, in node order, and the work they took.
pub struct NodeLosses {
    pub losses: Vec<NodeLoss>,
    /// Nodes looked at while re-placing replicas (the tests' measure of work).
    pub examined: u64,
}

/// Lose each node of the phase in turn, from the placement `base` of `replicas`.
pub fn losses(phase: &Phase, replicas: &[Replica], base: &Schedule) -> NodeLosses {
    losses_with(phase, replicas, base, false)
}

/// [`losses`], from the ordered nodes or with one pass over the nodes per replica (`slow`): the same losses.
fn losses_with(phase: &Phase, replicas: &[Replica], base: &Schedule, slow: bool) -> NodeLosses {
    let mut world = Ordered::new(phase, base.target, base.nodes.clone(), slow);
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

impl<'a> Ordered<'a> {
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
        // What the loss placed, undone in reverse for the next loss.
        let mut taken: Vec<(usize, &Replica)> = Vec::new();
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
            match self.place(Some(lost), replica) {
                Some(i) if self.take(i, replica).is_ok() => {
                    taken.push((i, replica));
                    last_failed = None;
                }
                // No node, or the sums would pass what topo can count.
                _ => {
                    *missing.entry(service).or_default() += 1;
                    last_failed = Some(replica);
                }
            }
        }
        // Restore the base placement for the next loss.
        for (i, replica) in taken.into_iter().rev() {
            self.untake(i, replica);
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
