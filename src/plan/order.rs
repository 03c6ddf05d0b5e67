//! Whether a Swarm phase's placement holds whatever order its tasks arrive in.
//!
//! Swarm's scheduler (swarmkit, `manager/scheduler`) takes the tasks of a
//! stack in no fixed order: for each it keeps the nodes that meet its
//! constraints, have its reservations free and run fewer than
//! `max_replicas_per_node` of its service, then spreads. The name-order
//! placement of [`super::schedule`] is one order among many: a service pinned
//! to a node can find it taken by others that could have gone anywhere.
//!
//! For each service `S` (each bound replica, for a global one) with the set
//! `E` of nodes it may run on, this module proves that every replica of `S`
//! is placed whatever the order, by either of two sufficient conditions, in
//! each resource `S` requests, with each node's allocatable as its capacity
//! (the plan's fit criterion; Swarm itself admits against the engine's total,
//! which is larger, and both conditions only get easier with more room):
//!
//! 1. **Room left per node.** On each node of `E`, count everything the other
//!    services could put there (all their replicas that may run there, one
//!    per node under `max_replicas_per_node: 1`, at most the node); if what
//!    is left holds `S`'s replicas, counted per node, no order can strand one.
//! 2. **Not enough to block every node.** A replica of `S` is stranded only
//!    if each node of `E` is blocked: the load on it in some resource is
//!    above its capacity less `S`'s request, and so (loads being multiples of
//!    the requests' greatest common divisor `g`) at least the next multiple of
//!    `g`, its *block*. Each replica that may land on `E` weighs the largest
//!    share of a block it can fill (its request ÷ the block, the worst node
//!    and resource); `S`'s own earlier replicas weigh 1 each under hard
//!    spreading. If all the weights add up to less than the number of nodes
//!    in `E`, they cannot block them all.
//!
//! A service neither proves safe is *at risk*, and the phase
//! *order-dependent*. The check is conservative (it ignores that Swarm spreads
//! a service over the least loaded nodes), so an order-dependent phase may
//! still deploy in every run; each risk says whether topo found an order that
//! strands it: the others' tasks first, placed by Swarm's own rules.

use serde::Serialize;

use crate::model::Phase;
use crate::spec::{Spread, Target};

use super::schedule::{NodeLoad, Replica, empty_nodes, schedule};
use super::{cpu, mem};

/// A service whose placement depends on the order of the tasks.
#[derive(Clone, Debug, Serialize)]
pub struct OrderRisk {
    pub service: String,
    /// Its replicas that must find room there.
    pub replicas: u32,
    /// The nodes it may run on.
    pub nodes: Vec<String>,
    /// Services whose tasks may take that room first.
    pub competitors: Vec<String>,
    /// A replica the others-first order leaves pending, with why, when that order strands one.
    pub stranded: Option<String>,
}

/// What one service (or one bound replica of a global service) asks of the nodes.
struct Demand<'a> {
    service: &'a str,
    replicas: u32,
    /// cpu (millicores) and memory (bytes) per replica.
    request: [u64; 2],
    /// Indices of the nodes it may run on, ascending (looked up by binary search).
    nodes: Vec<usize>,
    /// Replicas one node may run (1 under hard spreading or for a bound replica).
    per_node: u32,
}

/// The services of a Swarm phase at risk of staying pending in some order of
/// their tasks; none on other targets.
pub fn risks(phase: &Phase, replicas: &[Replica]) -> Vec<OrderRisk> {
    if phase.target != Target::Swarm {
        return Vec::new();
    }
    let nodes = empty_nodes(phase, Target::Swarm, None);
    let capacity: Vec<[u64; 2]> = nodes.iter().map(|n| [n.allocatable_cpu, n.allocatable_memory]).collect();
    let demands = demands(phase, replicas, &nodes);
    let mut risks: Vec<OrderRisk> = Vec::new();
    for (index, demand) in demands.iter().enumerate() {
        let room: Vec<usize> = demand.nodes.iter().copied().filter(|&n| fits(demand.request, capacity[n])).collect();
        if demand.request == [0, 0]
            || (!room.is_empty()
                && (room_per_node(&demands, index, &room, &capacity)
                    || too_little_to_block(&demands, index, &room, &capacity)))
        {
            continue;
        }
        let competitors = competitors(&demands, index, &demand.nodes);
        match risks.iter_mut().find(|r| r.service == demand.service) {
            // A global service: one risk, over every node whose replica is at risk.
            Some(risk) => {
                risk.replicas += demand.replicas;
                risk.nodes.extend(demand.nodes.iter().map(|&n| nodes[n].name.clone()));
                for name in competitors {
                    if !risk.competitors.contains(&name) {
                        risk.competitors.push(name);
                    }
                }
            }
            None => risks.push(OrderRisk {
                service: demand.service.to_owned(),
                replicas: demand.replicas,
                nodes: demand.nodes.iter().map(|&n| nodes[n].name.clone()).collect(),
                competitors,
                stranded: None,
            }),
        }
    }
    for risk in &mut risks {
        risk.competitors.sort();
        risk.stranded = others_first(phase, replicas, &risk.service);
    }
    risks
}

/// The demands of a phase, service by service; a global service's bound replicas one by one.
fn demands<'a>(phase: &Phase, replicas: &'a [Replica], nodes: &[NodeLoad]) -> Vec<Demand<'a>> {
    let mut demands: Vec<Demand<'a>> = Vec::new();
    for replica in replicas {
        let Some(service) = phase.services.get(&replica.service) else { continue };
        if replica.node.is_none()
            && let Some(last) = demands.last_mut()
            && last.service == replica.service
        {
            last.replicas += 1;
            continue;
        }
        let eligible = (0..nodes.len())
            .filter(|&i| phase.nodes.get(&nodes[i].name).is_some_and(|n| service.placement.admits(n)))
            .filter(|&i| replica.node.as_ref().is_none_or(|bound| *bound == nodes[i].name))
            .collect();
        let hard = service.placement.spread == Some(Spread::Hard);
        demands.push(Demand {
            service: &replica.service,
            replicas: 1,
            request: [replica.request_cpu, replica.request_memory],
            nodes: eligible,
            per_node: if hard || replica.node.is_some() { 1 } else { u32::MAX },
        });
    }
    demands
}

fn fits(request: [u64; 2], capacity: [u64; 2]) -> bool {
    request[0] <= capacity[0] && request[1] <= capacity[1]
}

/// Condition 1: on each node, what the others could put there at most, and how many replicas of
/// the demand fit in what is left; safe if they add up to its replicas.
fn room_per_node(demands: &[Demand], index: usize, room: &[usize], capacity: &[[u64; 2]]) -> bool {
    let demand = &demands[index];
    let mut slots: u64 = 0;
    for &node in room {
        let mut others = [0u64; 2];
        for (j, other) in demands.iter().enumerate() {
            if j != index && other.nodes.binary_search(&node).is_ok() {
                let count = u64::from(other.replicas.min(other.per_node));
                for (sum, request) in others.iter_mut().zip(other.request) {
                    *sum = sum.saturating_add(count.saturating_mul(request));
                }
            }
        }
        let here = (0..2)
            .filter(|&d| demand.request[d] > 0)
            .map(|d| capacity[node][d].saturating_sub(others[d]) / demand.request[d])
            .min()
            .unwrap_or(u64::MAX);
        slots = slots.saturating_add(here.min(u64::from(demand.per_node)));
    }
    slots >= u64::from(demand.replicas)
}

/// Condition 2: the weights of every replica that may land on the nodes, against their number.
fn too_little_to_block(demands: &[Demand], index: usize, room: &[usize], capacity: &[[u64; 2]]) -> bool {
    let demand = &demands[index];
    let resources: Vec<usize> = (0..2).filter(|&d| demand.request[d] > 0).collect();
    // Loads are sums of requests: multiples of their greatest common divisor.
    let grain: Vec<u64> = (0..2)
        .map(|d| {
            let reaching = demands.iter().filter(|o| o.nodes.iter().any(|n| room.binary_search(n).is_ok()));
            reaching.map(|o| o.request[d]).fold(demand.request[d], gcd).max(1)
        })
        .collect();
    // The least load that blocks a node: the first multiple of the grain above capacity − request.
    let block = |node: usize, d: usize| {
        let threshold = capacity[node][d] - demand.request[d];
        (threshold / grain[d] + 1) * grain[d]
    };
    let weight = |request: [u64; 2], on: &[usize]| -> f64 {
        let mut heaviest: f64 = 0.0;
        for &node in on {
            for &d in &resources {
                heaviest = heaviest.max(request[d] as f64 / block(node, d) as f64);
            }
        }
        heaviest
    };
    let own = if demand.per_node == 1 { 1.0 } else { weight(demand.request, room) };
    let mut total = f64::from(demand.replicas - 1) * own;
    for (j, other) in demands.iter().enumerate() {
        let on: Vec<usize> = other.nodes.iter().copied().filter(|n| room.binary_search(n).is_ok()).collect();
        if j == index || on.is_empty() {
            continue;
        }
        let most = u64::from(other.per_node).saturating_mul(on.len() as u64).min(u64::from(other.replicas));
        total += most as f64 * weight(other.request, &on);
    }
    // Floating point only ever makes this stricter.
    total < room.len() as f64 * (1.0 - 1e-9)
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// The other services that may run on `nodes` and reserve something.
fn competitors(demands: &[Demand], index: usize, nodes: &[usize]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for (j, other) in demands.iter().enumerate() {
        let reaches = other.nodes.iter().any(|n| nodes.binary_search(n).is_ok());
        let name = other.service.to_owned();
        if j != index
            && reaches
            && other.request != [0, 0]
            && other.service != demands[index].service
            && !names.contains(&name)
        {
            names.push(name);
        }
    }
    names
}

/// Swarm's own placement when every other service's tasks come first: the
/// replica of `service` it leaves pending, with why, if any.
fn others_first(phase: &Phase, replicas: &[Replica], service: &str) -> Option<String> {
    let (mine, others): (Vec<Replica>, Vec<Replica>) = replicas.iter().cloned().partition(|r| r.service == service);
    let order: Vec<Replica> = others.into_iter().chain(mine).collect();
    let placed = schedule(phase, Target::Swarm, &order, None);
    let stranded = placed.unplaced().find(|p| p.replica.service == service)?;
    Some(format!("replica {}: {}", stranded.replica.index, stranded.reason.as_deref().unwrap_or("cannot be placed")))
}

/// One line for the plan's reasons: what is at risk, what takes its room, what makes it safe.
pub fn describe(risk: &OrderRisk, replicas: &[Replica]) -> String {
    let requests =
        replicas.iter().find(|r| r.service == risk.service).map_or([0, 0], |r| [r.request_cpu, r.request_memory]);
    let nodes = risk.nodes.join(", ");
    let what = if risk.replicas == 1 { "its replica".to_owned() } else { format!("its {} replicas", risk.replicas) };
    let asks = format!("{} cpu, {} each", cpu(requests[0]), mem(requests[1]));
    let found = match &risk.stranded {
        Some(stranded) => format!("when their tasks come first, Swarm leaves {} {stranded}", risk.service),
        None => "topo cannot rule out an order that strands one".to_owned(),
    };
    let competitors =
        if risk.competitors.is_empty() { "other replicas".to_owned() } else { risk.competitors.join(", ") };
    format!(
        "{service} ({what}, {asks}) may stay pending on {nodes} in some order of the tasks: {competitors} may take \
         the room first ({found}); safe whatever the order: keep {competitors} off {nodes} with placement, give \
         {nodes} more room, or lower the requests",
        service = risk.service
    )
}
