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

use foldhash::HashMap;
use std::rc::Rc;

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
    /// Services whose tasks may take that room first: the first [`LISTED_COMPETITORS`] by name.
    pub competitors: Vec<String>,
    /// How many more services may take it, beyond those listed.
    #[serde(skip_serializing_if = "is_zero")]
    pub more_competitors: usize,
    /// A replica the others-first order leaves pending, with why, when that order strands one (tried
    /// for the first [`TRIED_ORDERS`] risks of a phase).
    pub stranded: Option<String>,
    /// cpu (millicores) and memory (bytes) each replica requests.
    #[serde(skip)]
    pub request: [u64; 2],
}

/// Competitors a risk names; the others are counted, so that a phase's risks grow with the
/// services at risk, not with their product with every other service.
pub const LISTED_COMPETITORS: usize = 10;

/// Risks of a phase whose others-first order is tried, each a placement of the whole phase:
/// enough to show how an order strands a service, without placing the phase once per service.
pub const TRIED_ORDERS: usize = 3;

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// What makes two demands alike for the proofs: their node set, request, replicas and per-node limit.
type Alike = (*const Vec<usize>, [u64; 2], u32, u32);

/// What one service (or one bound replica of a global service) asks of the nodes.
struct Demand<'a> {
    service: &'a str,
    replicas: u32,
    /// cpu (millicores) and memory (bytes) per replica.
    request: [u64; 2],
    /// Indices of the nodes it may run on, ascending (looked up by binary search), shared by the
    /// demands of one placement.
    nodes: Rc<Vec<usize>>,
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
    let loads = Loads::of(&demands, nodes.len());
    let (groups, group_of) = groups(&demands);
    let mut risks: Vec<OrderRisk> = Vec::new();
    // The competitors of the last risk: a service's demands are consecutive (one per bound
    // replica of a global service), so each risk's set is complete when the next begins.
    let mut competition = Competition::of(&demands);
    let mut competing: Vec<usize> = Vec::new();
    // Demands alike in nodes, request, replicas and per-node limit are alike safe or at risk: proven once.
    let mut proven: HashMap<Alike, bool> = HashMap::default();
    for (index, demand) in demands.iter().enumerate() {
        let key = (Rc::as_ptr(&demand.nodes), demand.request, demand.replicas, demand.per_node);
        let safe = *proven.entry(key).or_insert_with(|| {
            let room: Vec<usize> =
                demand.nodes.iter().copied().filter(|&n| fits(demand.request, capacity[n])).collect();
            demand.request == [0, 0]
                || (!room.is_empty()
                    && (room_per_node(&demands, index, &room, &capacity, &loads)
                        || too_little_to_block(&demands, index, &room, &capacity, (&groups, &group_of))))
        });
        if safe {
            continue;
        }
        let names = demand.nodes.iter().map(|&n| nodes[n].name.clone());
        match risks.last_mut() {
            // A global service: one risk, over every node whose replica is at risk.
            Some(risk) if risk.service == demand.service => {
                risk.replicas += demand.replicas;
                risk.nodes.extend(names);
            }
            last => {
                if let Some(risk) = last {
                    competition.list(risk, &mut competing);
                }
                risks.push(OrderRisk {
                    service: demand.service.to_owned(),
                    replicas: demand.replicas,
                    nodes: names.collect(),
                    competitors: Vec::new(),
                    more_competitors: 0,
                    stranded: None,
                    request: demand.request,
                });
            }
        }
        competition.add(risks.len(), index, &demand.nodes, &mut competing);
    }
    if let Some(risk) = risks.last_mut() {
        competition.list(risk, &mut competing);
    }
    for risk in risks.iter_mut().take(TRIED_ORDERS) {
        risk.stranded = others_first(phase, replicas, &risk.service);
    }
    risks
}

/// The services that may take a risk's room, found by node set: the demands of one placement share
/// theirs, so a risk looks at each set once, not at every demand.
struct Competition<'a> {
    /// Each node set, with the services (by rank in name order) of its demands that reserve something.
    sets: Vec<(Rc<Vec<usize>>, Vec<usize>)>,
    /// Each demand's service, by rank.
    rank: Vec<usize>,
    names: Vec<&'a str>,
    /// The risk (1-based) that last counted each service.
    stamp: Vec<usize>,
}

impl<'a> Competition<'a> {
    fn of(demands: &[Demand<'a>]) -> Self {
        let mut names: Vec<&'a str> = Vec::new();
        let mut rank = Vec::with_capacity(demands.len());
        let mut set_of: HashMap<*const Vec<usize>, usize> = HashMap::default();
        let mut sets: Vec<(Rc<Vec<usize>>, Vec<usize>)> = Vec::new();
        for demand in demands {
            // A service's demands are consecutive, and services come in name order.
            if names.last() != Some(&demand.service) {
                names.push(demand.service);
            }
            let r = names.len() - 1;
            rank.push(r);
            if demand.request == [0, 0] {
                continue;
            }
            let s = *set_of.entry(Rc::as_ptr(&demand.nodes)).or_insert_with(|| {
                sets.push((Rc::clone(&demand.nodes), Vec::new()));
                sets.len() - 1
            });
            if sets[s].1.last() != Some(&r) {
                sets[s].1.push(r);
            }
        }
        let stamp = vec![0; names.len()];
        Competition { sets, rank, names, stamp }
    }

    /// The other services that may run on `nodes` and reserve something, added to `into` for risk `risk`.
    fn add(&mut self, risk: usize, index: usize, nodes: &[usize], into: &mut Vec<usize>) {
        let own = self.rank[index];
        for (set, members) in &self.sets {
            if reaches(set, nodes) {
                for &r in members {
                    if r != own && self.stamp[r] != risk {
                        self.stamp[r] = risk;
                        into.push(r);
                    }
                }
            }
        }
    }

    /// The first [`LISTED_COMPETITORS`] of `competing` by name named in `risk`, the others counted.
    fn list(&self, risk: &mut OrderRisk, competing: &mut Vec<usize>) {
        competing.sort_unstable();
        risk.more_competitors = competing.len().saturating_sub(LISTED_COMPETITORS);
        risk.competitors = competing.iter().take(LISTED_COMPETITORS).map(|&r| self.names[r].to_owned()).collect();
        competing.clear();
    }
}

/// What every demand could put on each node at most (all its replicas, one per node under
/// `max_replicas_per_node: 1`), summed once: condition 1 takes a demand's own share out of it.
struct Loads {
    per_node: Vec<[u128; 2]>,
}

impl Loads {
    fn of(demands: &[Demand], nodes: usize) -> Self {
        let mut per_node = vec![[0u128; 2]; nodes];
        for demand in demands {
            let share = demand.most_per_node();
            for &n in demand.nodes.iter() {
                for (sum, one) in per_node[n].iter_mut().zip(share) {
                    *sum += one;
                }
            }
        }
        Loads { per_node }
    }
}

impl Demand<'_> {
    /// What it can put on one node at most, per resource.
    fn most_per_node(&self) -> [u128; 2] {
        let count = u128::from(self.replicas.min(self.per_node));
        self.request.map(|r| count * u128::from(r))
    }
}

/// The demands of a phase, service by service; a global service's bound replicas one by one.
fn demands<'a>(phase: &Phase, replicas: &'a [Replica], nodes: &[NodeLoad]) -> Vec<Demand<'a>> {
    let mut demands: Vec<Demand<'a>> = Vec::new();
    let mut shared: HashMap<String, Rc<Vec<usize>>> = HashMap::default();
    for replica in replicas {
        let Some(service) = phase.services.get(&replica.service) else { continue };
        if replica.node.is_none()
            && let Some(last) = demands.last_mut()
            && last.service == replica.service
        {
            last.replicas += 1;
            continue;
        }
        // Services of one placement share its nodes: computed once per placement, not per service.
        let key = format!("{:?}", (&service.placement.role, &service.placement.node, &service.placement.labels));
        let admitted = shared.entry(key).or_insert_with(|| {
            let admits = |i: &usize| phase.nodes.get(&nodes[*i].name).is_some_and(|n| service.placement.admits(n));
            Rc::new((0..nodes.len()).filter(admits).collect())
        });
        let eligible = match &replica.node {
            None => Rc::clone(admitted),
            Some(bound) => Rc::new(
                nodes
                    .binary_search_by(|n| n.name.as_str().cmp(bound))
                    .ok()
                    .filter(|i| admitted.binary_search(i).is_ok())
                    .into_iter()
                    .collect(),
            ),
        };
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
fn room_per_node(demands: &[Demand], index: usize, room: &[usize], capacity: &[[u64; 2]], loads: &Loads) -> bool {
    let demand = &demands[index];
    let own = demand.most_per_node();
    let mut slots: u64 = 0;
    for &node in room {
        // Everything that reaches the node, less the demand itself (every node of `room` is one of its own).
        let others: [u128; 2] = [0, 1].map(|d| loads.per_node[node][d] - own[d]);
        let here = (0..2)
            .filter(|&d| demand.request[d] > 0)
            .map(|d| {
                let left = u128::from(capacity[node][d]).saturating_sub(others[d]);
                u64::try_from(left).unwrap_or(u64::MAX) / demand.request[d]
            })
            .min()
            .unwrap_or(u64::MAX);
        slots = slots.saturating_add(here.min(u64::from(demand.per_node)));
    }
    slots >= u64::from(demand.replicas)
}

/// Demands of one node set and one request, taken together by condition 2: what each adds depends
/// only on those and on its replicas.
struct Group {
    nodes: Rc<Vec<usize>>,
    request: [u64; 2],
    /// Replicas of its demands without a per-node limit, summed.
    free: u64,
    /// Replicas of each of its demands with one per node.
    one_per_node: Vec<u32>,
}

/// The demands grouped for condition 2; and each demand's group.
fn groups(demands: &[Demand]) -> (Vec<Group>, Vec<usize>) {
    let mut index: HashMap<(*const Vec<usize>, [u64; 2]), usize> = HashMap::default();
    let mut groups: Vec<Group> = Vec::new();
    let mut of = Vec::with_capacity(demands.len());
    for demand in demands {
        let g = *index.entry((Rc::as_ptr(&demand.nodes), demand.request)).or_insert_with(|| {
            groups.push(Group {
                nodes: Rc::clone(&demand.nodes),
                request: demand.request,
                free: 0,
                one_per_node: Vec::new(),
            });
            groups.len() - 1
        });
        match demand.per_node {
            1 => groups[g].one_per_node.push(demand.replicas),
            _ => groups[g].free += u64::from(demand.replicas),
        }
        of.push(g);
    }
    (groups, of)
}

/// Condition 2: the weights of every replica that may land on the nodes, against their number.
fn too_little_to_block(
    demands: &[Demand],
    index: usize,
    room: &[usize],
    capacity: &[[u64; 2]],
    (groups, group_of): (&[Group], &[usize]),
) -> bool {
    let demand = &demands[index];
    let resources: Vec<usize> = (0..2).filter(|&d| demand.request[d] > 0).collect();
    let reaching: Vec<usize> = (0..groups.len()).filter(|&g| reaches(&groups[g].nodes, room)).collect();
    // Loads are sums of requests: multiples of their greatest common divisor.
    let grain: Vec<u64> =
        (0..2).map(|d| reaching.iter().map(|&g| groups[g].request[d]).fold(demand.request[d], gcd).max(1)).collect();
    // The least load that blocks a node: the first multiple of the grain above capacity − request.
    let block = |node: usize, d: usize| {
        let threshold = capacity[node][d] - demand.request[d];
        (threshold / grain[d] + 1) * grain[d]
    };
    let weight = |request: [u64; 2], on: &mut dyn Iterator<Item = usize>| -> f64 {
        let mut heaviest: f64 = 0.0;
        for node in on {
            for &d in &resources {
                heaviest = heaviest.max(request[d] as f64 / block(node, d) as f64);
            }
        }
        heaviest
    };
    let own = if demand.per_node == 1 { 1.0 } else { weight(demand.request, &mut room.iter().copied()) };
    let mut total = f64::from(demand.replicas - 1) * own;
    for &g in &reaching {
        let group = &groups[g];
        let on: Vec<usize> = if group.nodes.len() <= room.len() {
            group.nodes.iter().copied().filter(|n| room.binary_search(n).is_ok()).collect()
        } else {
            room.iter().copied().filter(|n| group.nodes.binary_search(n).is_ok()).collect()
        };
        // The demand itself is not one of the others.
        let mine = group_of[index] == g;
        let free = group.free - if mine && demand.per_node != 1 { u64::from(demand.replicas) } else { 0 };
        let mut skip_own = mine && demand.per_node == 1;
        let mut most = free;
        for &replicas in &group.one_per_node {
            if skip_own && replicas == demand.replicas {
                skip_own = false;
                continue;
            }
            most += (on.len() as u64).min(u64::from(replicas));
        }
        if most > 0 {
            total += most as f64 * weight(group.request, &mut on.iter().copied());
        }
    }
    // Floating point only ever makes this stricter.
    total < room.len() as f64 * (1.0 - 1e-9)
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// Whether two ascending lists of nodes share one (the shorter looked up in the longer).
fn reaches(a: &[usize], b: &[usize]) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    short.iter().any(|n| long.binary_search(n).is_ok())
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
pub fn describe(risk: &OrderRisk) -> String {
    let requests = risk.request;
    let nodes = risk.nodes.join(", ");
    let what = if risk.replicas == 1 { "its replica".to_owned() } else { format!("its {} replicas", risk.replicas) };
    let asks = format!("{} cpu, {} each", cpu(requests[0]), mem(requests[1]));
    let found = match &risk.stranded {
        Some(stranded) => format!("when their tasks come first, Swarm leaves {} {stranded}", risk.service),
        None => "topo cannot rule out an order that strands one".to_owned(),
    };
    let competitors = match (risk.competitors.is_empty(), risk.more_competitors) {
        (true, _) => "other replicas".to_owned(),
        (false, 0) => risk.competitors.join(", "),
        (false, more) => format!("{} and {more} more services", risk.competitors.join(", ")),
    };
    format!(
        "{service} ({what}, {asks}) may stay pending on {nodes} in some order of the tasks: {competitors} may take \
         the room first ({found}); safe whatever the order: keep {competitors} off {nodes} with placement, give \
         {nodes} more room, or lower the requests",
        service = risk.service
    )
}
