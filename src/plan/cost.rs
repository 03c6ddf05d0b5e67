//! What a phase costs per month, and who pays for it.
//!
//! A node's price is split half by cpu and half by memory; each service pays
//! for the share of each node its requests take, the reserves and the
//! allocatable nobody requests take the rest. The rates printed per cpu and
//! per GiB are those halves divided by the cores and the GiB, so a service's
//! share is its requests times the rates (on nodes of one price per size).

use std::collections::BTreeMap;

use crate::model::Phase;

use super::schedule::Schedule;
use super::{Cost, NodeFit, div_round, money};

const GIB: u128 = 1 << 30;

pub fn cost(nodes: &[NodeFit], schedule: &Schedule) -> Cost {
    let mut cost = Cost::default();
    let all_priced = nodes.iter().all(|n| n.cost_cents.is_some());
    // Checked: the bounds on prices and nodes keep the total far below `u64::MAX`; past it, no total.
    let total = nodes.iter().filter_map(|n| n.cost_cents).try_fold(0u64, u64::checked_add);
    let all_priced = all_priced && total.is_some();
    let total = total.unwrap_or(0);
    cost.total_cents = all_priced.then_some(total);
    let mut per_service: BTreeMap<String, f64> = BTreeMap::new();
    let (mut reserve, mut headroom) = (0.0, 0.0);
    // The replicas on each node, in placement order: one pass, not one per node.
    let mut on: BTreeMap<&str, Vec<&super::schedule::Replica>> = BTreeMap::new();
    for placed in &schedule.placed {
        if let Some(node) = &placed.node {
            on.entry(node.as_str()).or_default().push(&placed.replica);
        }
    }
    for node in nodes {
        let Some(price) = node.cost_cents else { continue };
        let price = price as f64;
        let share = |used: u64, capacity: u64| if capacity == 0 { 0.0 } else { used as f64 / capacity as f64 };
        // Each resource carries half of the node's price.
        let split = |cpu: u64, memory: u64| {
            price * (share(cpu, node.load.capacity_cpu) + share(memory, node.load.capacity_memory)) / 2.0
        };
        reserve += split(node.load.reserve.cpu.millis(), node.load.reserve.memory.bytes());
        headroom += split(
            node.load.allocatable_cpu.saturating_sub(node.load.requested_cpu),
            node.load.allocatable_memory.saturating_sub(node.load.requested_memory),
        );
        for replica in on.get(node.load.name.as_str()).into_iter().flatten() {
            *per_service.entry(replica.service.clone()).or_default() +=
                split(replica.request_cpu, replica.request_memory);
        }
    }
    // `f64::round` rounds half away from zero, as every printed figure does.
    cost.per_service_cents = per_service.into_iter().map(|(k, v)| (k, v.round() as u64)).collect();
    cost.reserve_cents = reserve.round() as u64;
    cost.headroom_cents = headroom.round() as u64;
    if all_priced && !nodes.is_empty() {
        let millis: u128 = nodes.iter().map(|n| u128::from(n.load.capacity_cpu)).sum();
        let bytes: u128 = nodes.iter().map(|n| u128::from(n.load.capacity_memory)).sum();
        // Half of the price over the cores (in millicores) and over the GiB, exactly.
        let price = u128::from(total);
        let rate = |per: u128, amount: u128| u64::try_from(div_round(price * per, 2 * amount)).unwrap_or(u64::MAX);
        cost.per_cpu_cents = (millis > 0).then(|| rate(1000, millis));
        cost.per_gib_cents = (bytes > 0).then(|| rate(GIB, bytes));
    }
    cost
}

/// The nodes of both phases whose price per month changes: `vps-1: 15.00 →
/// 40.00 (+25.00), same size`. A migration's cost change is otherwise only
/// explained by the nodes it adds and removes.
pub fn repriced_nodes(a: &Phase, b: &Phase) -> Vec<String> {
    b.nodes
        .values()
        .filter_map(|new| {
            let old = a.nodes.get(&new.name)?;
            if old.cost_cents == new.cost_cents {
                return None;
            }
            let price = |cents: Option<u64>| cents.map_or("no cost".to_owned(), money);
            let change = match (old.cost_cents, new.cost_cents) {
                (Some(x), Some(y)) if y >= x => format!(" (+{})", money(y - x)),
                (Some(x), Some(y)) => format!(" (−{})", money(x - y)),
                _ => String::new(),
            };
            let resized = old.cpu != new.cpu || old.memory != new.memory || old.disk != new.disk;
            let size = if resized { "resized too" } else { "same size" };
            Some(format!("{}: {} → {}{change}, {size}", new.name, price(old.cost_cents), price(new.cost_cents)))
        })
        .collect()
}
