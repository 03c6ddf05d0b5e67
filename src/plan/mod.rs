//! The scaling plan: for each phase, does it fit its machines (as its target
//! admits work), where each replica lands, what it costs, what survives the
//! loss of a node; and between phases, what a migration involves.
//!
//! Pure functions of the resolved model; [`markdown`] and serde (JSON) print it.

mod cluster;
mod data;
pub mod markdown;
pub mod migrate;
mod ops;
pub mod reserve;
pub mod schedule;
pub mod steps;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::diag::{Diagnostic, Diagnostics, SpecPath};
use crate::model::{Model, Phase};
use crate::spec::{Cpu, Role, Target};

use schedule::{Load, NodeLoad, Replica, Schedule, replicas, schedule};

/// Share of allocatable above which the pressure alert fires (and the plan calls a node loaded).
pub const PRESSURE_RATIO: f64 = 0.85;

/// The whole plan.
#[derive(Clone, Debug, Serialize)]
pub struct Plan {
    pub project: String,
    pub phases: Vec<PhasePlan>,
    /// From each phase to the next.
    pub migrations: Vec<migrate::Migration>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Fits,
    Tight,
    DoesNotFit,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Fits => "fits",
            Verdict::Tight => "tight",
            Verdict::DoesNotFit => "does not fit",
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct PhasePlan {
    pub number: u32,
    pub name: String,
    pub target: Target,
    pub verdict: Verdict,
    /// Why the verdict is not `fits`, one line each.
    pub reasons: Vec<String>,
    /// The headroom the phase aims to keep free on every node, in percent.
    pub headroom_target: f64,
    pub nodes: Vec<NodeFit>,
    /// Which replica runs where, at the phase's replicas (autoscaled services at their min).
    pub placement: Vec<PlacementRow>,
    /// The same at the peak, when some service autoscales.
    pub peak: Option<Peak>,
    /// After losing the largest node.
    pub n_plus_one: Option<NPlusOne>,
    pub lower_bound: LowerBound,
    pub cost: Cost,
}

/// A node after placement: its load, and what the plan makes of it.
#[derive(Clone, Debug, Serialize)]
pub struct NodeFit {
    #[serde(flatten)]
    pub load: NodeLoad,
    pub role: Role,
    /// Limits over allocatable (1.0 = exactly committed).
    pub limit_ratio_cpu: f64,
    pub limit_ratio_memory: f64,
    /// Free share of allocatable after requests, in percent.
    pub headroom_cpu: f64,
    pub headroom_memory: f64,
    pub cost_cents: Option<u64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct PlacementRow {
    pub service: String,
    pub replica: u32,
    pub node: Option<String>,
    pub reason: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Peak {
    pub fits: bool,
    /// Replicas per autoscaled service at the peak.
    pub replicas: BTreeMap<String, u32>,
    /// Replicas that cannot be placed at the peak, with why.
    pub unplaced: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct NPlusOne {
    /// The node taken away (the largest).
    pub lost: String,
    pub fits: bool,
    /// Services left with no replica.
    pub down: Vec<String>,
    /// Services left with fewer replicas than asked: (service, running, asked).
    pub degraded: Vec<(String, u32, u32)>,
}

/// The fewest nodes of the phase's largest size that could hold its requests.
#[derive(Clone, Debug, Serialize)]
pub struct LowerBound {
    pub by_cpu: u32,
    pub by_memory: u32,
    pub given: u32,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Cost {
    /// Per month, in cents; `None` when some node has no cost.
    pub total_cents: Option<u64>,
    /// Each service's share, by the requests of its replicas on each node.
    pub per_service_cents: BTreeMap<String, u64>,
    /// What the reserves (OS, orchestrator) cost.
    pub reserve_cents: u64,
    /// What the capacity nobody requested costs.
    pub headroom_cents: u64,
    pub per_cpu_cents: Option<u64>,
    pub per_gib_cents: Option<u64>,
}

/// Plan every phase of the model (the migration steps name the spec `topo.yaml`).
pub fn plan(model: &Model) -> Plan {
    plan_for(model, migrate::DEFAULT_SPEC)
}

/// Plan every phase of the model read from `spec`, the path the migration steps' `topo render` commands name.
pub fn plan_for(model: &Model, spec: &str) -> Plan {
    let phases: Vec<PhasePlan> = model.phases.iter().map(plan_phase).collect();
    let migrations = model.phases.windows(2).map(|pair| migrate::migration(model, spec, &pair[0], &pair[1])).collect();
    Plan { project: model.project.clone(), phases, migrations }
}

/// Plan one phase.
pub fn plan_phase(phase: &Phase) -> PhasePlan {
    let target = phase.target;
    let headroom_target = phase.headroom.fraction() * 100.0;
    let base_replicas = replicas(phase, Load::Base);
    let mut base = schedule(phase, target, &base_replicas, None);
    let mut reasons = Vec::new();
    let mut verdict = Verdict::Fits;

    let unplaced: Vec<String> = base.unplaced().map(describe_unplaced).collect();
    if !unplaced.is_empty() {
        verdict = Verdict::DoesNotFit;
        reasons.extend(unplaced);
        if let Some(note) = better_order(phase, &base_replicas) {
            reasons.push(note.0);
            base = note.1;
        }
    }

    for node in &base.nodes {
        let name = &node.name;
        match target {
            // Swarm admits against the total: reservations may eat the reserve.
            Target::Swarm if node.requested_memory > node.allocatable_memory => {
                verdict = Verdict::DoesNotFit;
                reasons.push(format!(
                    "{name}: reservations of {} leave less than its {} reserve (Swarm admits against the total {})",
                    mem(node.requested_memory),
                    mem(node.reserve.memory.bytes()),
                    mem(node.capacity_memory)
                ));
            }
            // Compose has no admission: memory limits beyond the node are the OOM killer's to settle.
            Target::Compose if node.limits_memory > node.allocatable_memory => {
                verdict = Verdict::DoesNotFit;
                reasons.push(format!(
                    "{name}: memory limits add up to {}, over its {} allocatable (compose admits anything; \
                     the OOM killer would decide)",
                    mem(node.limits_memory),
                    mem(node.allocatable_memory)
                ));
            }
            _ => {}
        }
        let tight = |verdict: &mut Verdict| *verdict = (*verdict).max(Verdict::Tight);
        if node.limits_memory > node.allocatable_memory && target != Target::Compose {
            tight(&mut verdict);
            reasons.push(format!(
                "{name}: memory limits over-commit {:.2}× ({} of {})",
                ratio(node.limits_memory, node.allocatable_memory),
                mem(node.limits_memory),
                mem(node.allocatable_memory)
            ));
        }
        if node.limits_cpu > node.allocatable_cpu {
            tight(&mut verdict);
            reasons.push(format!(
                "{name}: cpu limits over-commit {:.2}× ({} of {})",
                ratio(node.limits_cpu, node.allocatable_cpu),
                cpu(node.limits_cpu),
                cpu(node.allocatable_cpu)
            ));
        }
        let (free_cpu, free_memory) = (
            headroom(node.requested_cpu, node.allocatable_cpu),
            headroom(node.requested_memory, node.allocatable_memory),
        );
        let least = free_cpu.min(free_memory);
        if least < headroom_target && node.replicas > 0 {
            tight(&mut verdict);
            let which = if free_memory <= free_cpu { "memory" } else { "cpu" };
            reasons.push(format!(
                "{name}: {least:.0}% of {which} free after requests, under the {headroom_target:.0}% headroom target"
            ));
        }
    }

    let peak = phase.services.values().any(|s| s.autoscale.is_some()).then(|| {
        let peak_replicas = replicas(phase, Load::Peak);
        let at_peak = schedule(phase, target, &peak_replicas, None);
        let unplaced: Vec<String> = at_peak.unplaced().map(describe_unplaced).collect();
        Peak {
            fits: unplaced.is_empty(),
            replicas: phase
                .services
                .values()
                .filter(|s| s.autoscale.is_some())
                .map(|s| (s.name.clone(), s.peak_replicas()))
                .collect(),
            unplaced,
        }
    });
    if let Some(peak) = &peak
        && !peak.fits
    {
        verdict = verdict.max(Verdict::Tight);
        for line in &peak.unplaced {
            reasons.push(format!("at the autoscaling peak, {line}"));
        }
    }

    let n_plus_one = (phase.nodes.len() > 1).then(|| n_plus_one(phase, &base_replicas));
    let nodes: Vec<NodeFit> = base.nodes.iter().map(|n| node_fit(phase, n)).collect();
    let lower_bound = lower_bound(&base, &base_replicas);
    let cost = cost(&nodes, &base);
    PhasePlan {
        number: phase.number,
        name: phase.name.clone(),
        target,
        verdict,
        reasons,
        headroom_target,
        nodes,
        placement: base
            .placed
            .iter()
            .map(|p| PlacementRow {
                service: p.replica.service.clone(),
                replica: p.replica.index,
                node: p.node.clone(),
                reason: p.reason.clone(),
            })
            .collect(),
        peak,
        n_plus_one,
        lower_bound,
        cost,
    }
}

/// When name order strands a replica, whether creating the largest first places them all.
fn better_order(phase: &Phase, replicas: &[Replica]) -> Option<(String, Schedule)> {
    let mut ordered = replicas.to_vec();
    ordered.sort_by(|a, b| {
        (b.request_memory, b.request_cpu, &a.service, a.index).cmp(&(
            a.request_memory,
            a.request_cpu,
            &b.service,
            b.index,
        ))
    });
    let again = schedule(phase, phase.target, &ordered, None);
    if !again.fits() || phase.target == Target::Compose {
        return None;
    }
    let mut services: Vec<&str> = Vec::new();
    for replica in &ordered {
        if !services.contains(&replica.service.as_str()) {
            services.push(&replica.service);
        }
    }
    let how = match phase.target {
        Target::Swarm => {
            "deploy the services one by one in this order (`docker service create`/`scale`), or pin the large ones with placement constraints"
        }
        _ => "create them in this order, or pin the large ones with placement so the scheduler cannot strand them",
    };
    Some((format!("creating the largest replicas first places every one: {}; {how}", services.join(", ")), again))
}

fn describe_unplaced(placed: &schedule::Placed) -> String {
    format!(
        "{} replica {}: {}",
        placed.replica.service,
        placed.replica.index,
        placed.reason.as_deref().unwrap_or("cannot be placed")
    )
}

fn n_plus_one(phase: &Phase, replicas: &[Replica]) -> NPlusOne {
    let largest = phase
        .nodes
        .values()
        .max_by(|a, b| (a.memory.bytes(), a.cpu.millis(), &b.name).cmp(&(b.memory.bytes(), b.cpu.millis(), &a.name)))
        .map(|n| n.name.clone())
        .unwrap_or_default();
    let after = schedule(phase, phase.target, replicas, Some(&largest));
    let mut asked: BTreeMap<&str, u32> = BTreeMap::new();
    let mut running: BTreeMap<&str, u32> = BTreeMap::new();
    for placed in &after.placed {
        *asked.entry(&placed.replica.service).or_default() += 1;
        if placed.node.is_some() {
            *running.entry(&placed.replica.service).or_default() += 1;
        }
    }
    let mut down = Vec::new();
    let mut degraded = Vec::new();
    for (service, wanted) in asked {
        let up = running.get(service).copied().unwrap_or(0);
        if up == 0 {
            down.push(service.to_owned());
        } else if up < wanted {
            degraded.push((service.to_owned(), up, wanted));
        }
    }
    NPlusOne { lost: largest, fits: after.fits(), down, degraded }
}

fn node_fit(phase: &Phase, load: &NodeLoad) -> NodeFit {
    let node = phase.nodes.get(&load.name);
    NodeFit {
        load: load.clone(),
        role: node.map_or(Role::Worker, |n| n.role),
        limit_ratio_cpu: ratio(load.limits_cpu, load.allocatable_cpu),
        limit_ratio_memory: ratio(load.limits_memory, load.allocatable_memory),
        headroom_cpu: headroom(load.requested_cpu, load.allocatable_cpu),
        headroom_memory: headroom(load.requested_memory, load.allocatable_memory),
        cost_cents: node.and_then(|n| n.cost_cents),
    }
}

fn lower_bound(schedule: &Schedule, replicas: &[Replica]) -> LowerBound {
    let cpu: u64 = replicas.iter().map(|r| r.request_cpu).sum();
    let memory: u64 = replicas.iter().map(|r| r.request_memory).sum();
    let largest_cpu = schedule.nodes.iter().map(|n| n.allocatable_cpu).max().unwrap_or(0);
    let largest_memory = schedule.nodes.iter().map(|n| n.allocatable_memory).max().unwrap_or(0);
    let nodes = |sum: u64, size: u64| if size == 0 { 0 } else { u32::try_from(sum.div_ceil(size)).unwrap_or(u32::MAX) };
    LowerBound {
        by_cpu: nodes(cpu, largest_cpu),
        by_memory: nodes(memory, largest_memory),
        given: u32::try_from(schedule.nodes.len()).unwrap_or(u32::MAX),
    }
}

fn cost(nodes: &[NodeFit], schedule: &Schedule) -> Cost {
    let mut cost = Cost::default();
    let all_priced = nodes.iter().all(|n| n.cost_cents.is_some());
    let total: u64 = nodes.iter().filter_map(|n| n.cost_cents).sum();
    cost.total_cents = all_priced.then_some(total);
    let mut per_service: BTreeMap<String, f64> = BTreeMap::new();
    let (mut reserve, mut headroom) = (0.0, 0.0);
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
        for placed in schedule.placed.iter().filter(|p| p.node.as_deref() == Some(node.load.name.as_str())) {
            *per_service.entry(placed.replica.service.clone()).or_default() +=
                split(placed.replica.request_cpu, placed.replica.request_memory);
        }
    }
    cost.per_service_cents = per_service.into_iter().map(|(k, v)| (k, v.round() as u64)).collect();
    cost.reserve_cents = reserve.round() as u64;
    cost.headroom_cents = headroom.round() as u64;
    if all_priced && !nodes.is_empty() {
        let cores: u64 = nodes.iter().map(|n| n.load.capacity_cpu).sum();
        let gib: u64 = nodes.iter().map(|n| n.load.capacity_memory).sum();
        cost.per_cpu_cents = (cores > 0).then(|| (total as f64 * 1000.0 / cores as f64).round() as u64);
        cost.per_gib_cents = (gib > 0).then(|| (total as f64 * (1u64 << 30) as f64 / gib as f64).round() as u64);
    }
    cost
}

/// Fit diagnostics for `topo check`: an error for a phase that does not fit, a warning for a tight one.
pub fn diagnostics(plan: &Plan) -> Diagnostics {
    let mut diags = Diagnostics::default();
    for phase in &plan.phases {
        let path = SpecPath::root().key("phases").key(phase.number.to_string()).key("nodes");
        let detail = phase.reasons.join("; ");
        let diag = match phase.verdict {
            Verdict::Fits => continue,
            Verdict::Tight => Diagnostic::warning(
                "phase-tight",
                format!("phase {} ({}) is tight: {detail}", phase.number, phase.name),
                &path,
            )
            .help("`topo plan` shows each node's waterfall; add or resize a node, or lower requests"),
            Verdict::DoesNotFit => Diagnostic::error(
                "phase-does-not-fit",
                format!("phase {} ({}) does not fit its nodes: {detail}", phase.number, phase.name),
                &path,
            )
            .help("`topo plan` shows each node's waterfall; add or resize a node, lower requests or replicas"),
        };
        diags.push(diag.on_key());
    }
    diags
}

fn ratio(used: u64, total: u64) -> f64 {
    if total == 0 { 0.0 } else { used as f64 / total as f64 }
}

fn headroom(used: u64, total: u64) -> f64 {
    if total == 0 { 0.0 } else { 100.0 * total.saturating_sub(used) as f64 / total as f64 }
}

/// Memory for people: `1.5Gi`, `300Mi`.
pub fn mem(bytes: u64) -> String {
    const GI: f64 = (1u64 << 30) as f64;
    const MI: u64 = 1 << 20;
    if bytes >= 1 << 30 {
        let gib = bytes as f64 / GI;
        let text = format!("{gib:.1}");
        format!("{}Gi", text.trim_end_matches(".0"))
    } else {
        format!("{}Mi", bytes / MI)
    }
}

/// CPU for people: `250m`, `2`, `1.5`.
pub fn cpu(millis: u64) -> String {
    if millis.is_multiple_of(1000) || millis >= 10_000 {
        Cpu::from_millis(millis).to_string()
    } else if millis > 1000 {
        let text = format!("{:.2}", millis as f64 / 1000.0);
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        format!("{millis}m")
    }
}

/// Cents as money: `15.00`.
pub fn money(cents: u64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}
