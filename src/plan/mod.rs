//! The scaling plan: for each phase, does it fit its machines (as its target
//! admits work), where each replica lands, what it costs, what survives the
//! loss of a node; and between phases, what a migration involves.
//!
//! Pure functions of the resolved model; [`markdown`] and serde (JSON) print it.

mod cluster;
pub mod cost;
mod data;
pub mod html;
mod loss;
pub mod markdown;
pub mod migrate;
mod ops;
pub mod order;
mod ordered;
pub mod reserve;
pub mod schedule;
pub mod steps;

use crate::code::Code;
use std::collections::BTreeMap;

use serde::Serialize;

use crate::diag::{Diagnostic, Diagnostics};
use crate::model::{Model, Phase};
use crate::spec::{Cpu, Percent, Role, Target};
use crate::yaml::SpecPath;

use schedule::{Load, NodeLoad, Replica, Schedule, replicas, schedule};

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
    /// Swarm places every replica in some orders of the tasks, and may strand
    /// one in others (see [`order`]).
    OrderDependent,
    DoesNotFit,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Fits => "fits",
            Verdict::Tight => "tight",
            Verdict::OrderDependent => "order-dependent",
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
    /// Swarm services that some order of the tasks may leave pending.
    pub order_risks: Vec<order::OrderRisk>,
    /// Which replica runs where, at the phase's replicas (autoscaled services at their min).
    pub placement: Vec<PlacementRow>,
    /// The same at the peak, when some service autoscales.
    pub peak: Option<Peak>,
    /// After losing each node in turn.
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

/// The loss of each node in turn: the placement run again without it.
#[derive(Clone, Debug, Serialize)]
pub struct NPlusOne {
    /// Every replica is still placed, whichever one node is lost.
    pub fits: bool,
    /// The loss that stops the most (services down, then replicas missing),
    /// which the verdict is taken from; `None` when every loss is survived.
    pub worst: Option<String>,
    /// One per node, in name order.
    pub losses: Vec<NodeLoss>,
    /// Nodes looked at while re-placing the lost nodes' replicas: the work N+1 took, for the tests
    /// (it grows with the replicas, not with replicas × nodes).
    #[serde(skip)]
    pub examined: u64,
}

/// What losing one node does.
#[derive(Clone, Debug, Serialize)]
pub struct NodeLoss {
    /// The node taken away.
    pub lost: String,
    /// Every replica is still placed without it.
    pub fits: bool,
    /// Services left with no replica.
    pub down: Vec<String>,
    /// Services left with fewer replicas than asked: (service, running, asked).
    pub degraded: Vec<(String, u32, u32)>,
}

impl NodeLoss {
    /// Replicas asked for and not running.
    pub fn missing(&self) -> u32 {
        self.degraded.iter().map(|(_, up, wanted)| wanted - up).sum()
    }
}

/// The fewest nodes of the phase's largest size that could hold its requests.
#[derive(Clone, Debug, Serialize)]
pub struct LowerBound {
    pub by_cpu: u64,
    pub by_memory: u64,
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
    /// Half of the total price ÷ the cores: the rate the shares charge cpu at
    /// (on average over the nodes; each node's own half ÷ its own cores).
    pub per_cpu_cents: Option<u64>,
    /// The other half ÷ the GiB of memory.
    pub per_gib_cents: Option<u64>,
}

/// Plan every phase of the model (the migration steps name the spec `topo.yaml`).
pub fn plan(model: &Model) -> Plan {
    plan_for(model, migrate::DEFAULT_SPEC)
}

/// Plan every phase of the model read from `spec`, the path the migration steps' `topo render` commands name.
pub fn plan_for(model: &Model, spec: &str) -> Plan {
    let migrate = || model.phases.windows(2).map(|pair| migrate::migration(model, spec, &pair[0], &pair[1])).collect();
    let (phases, migrations) = std::thread::scope(|scope| {
        let migrations = crate::parallel::spawn_or_inline(scope, migrate);
        (plan_phases(&model.phases), migrations.get())
    });
    Plan { project: model.project.clone(), phases, migrations }
}

/// The fit of every phase, without the migrations between them: what `topo check` reports.
pub fn fit(model: &Model) -> Plan {
    Plan { project: model.project.clone(), phases: plan_phases(&model.phases), migrations: Vec::new() }
}

/// Each phase planned on a thread of its own (phases are independent, and a
/// large spec spends most of its planning time in them), in phase order.
fn plan_phases(phases: &[Phase]) -> Vec<PhasePlan> {
    crate::parallel::in_parallel(phases, plan_phase)
}

/// Plan one phase.
pub fn plan_phase(phase: &Phase) -> PhasePlan {
    let pinned = schedule::with_data_pins(phase);
    let phase = pinned.as_ref();
    let target = phase.target;
    let headroom_target = phase.headroom.fraction() * 100.0;
    let base_replicas = replicas(phase, Load::Base);
    let mut base = schedule(phase, target, &base_replicas, None);
    let mut reasons = Vec::new();
    let mut verdict = Verdict::Fits;

    let unplaced: Vec<String> = describe_unplaced(base.unplaced());
    if !unplaced.is_empty() {
        verdict = Verdict::DoesNotFit;
        reasons.extend(unplaced);
        if let Some(note) = better_order(phase, &base_replicas) {
            // Swarm takes the tasks in no fixed order: some orders place them all, others do not.
            if target == Target::Swarm {
                verdict = Verdict::OrderDependent;
            }
            reasons.push(note.0);
            base = note.1;
        }
    }

    for node in &base.nodes {
        node_reasons(target, node, phase.headroom, &mut verdict, &mut reasons);
    }

    let peak = peak(phase, &mut verdict, &mut reasons);

    let order_risks = if verdict < Verdict::DoesNotFit { order::risks(phase, &base_replicas) } else { Vec::new() };
    if !order_risks.is_empty() {
        verdict = verdict.max(Verdict::OrderDependent);
        reasons.extend(order_risks.iter().map(order::describe));
    }

    let n_plus_one = (phase.nodes.len() > 1).then(|| n_plus_one(phase, &base_replicas, &base));
    let nodes: Vec<NodeFit> = base.nodes.iter().map(|n| node_fit(phase, n)).collect();
    let lower_bound = lower_bound(&base, &base_replicas);
    let cost = cost::cost(&nodes, &base);
    PhasePlan {
        number: phase.number,
        name: phase.name.clone(),
        target,
        verdict,
        reasons,
        headroom_target,
        nodes,
        order_risks,
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

/// Autoscaled services at their `max`: a peak that does not fit makes the phase tight.
fn peak(phase: &Phase, verdict: &mut Verdict, reasons: &mut Vec<String>) -> Option<Peak> {
    let peak = phase.services.values().any(|s| s.autoscale().is_some()).then(|| {
        let peak_replicas = replicas(phase, Load::Peak);
        let at_peak = schedule(phase, phase.target, &peak_replicas, None);
        let unplaced: Vec<String> = describe_unplaced(at_peak.unplaced());
        Peak {
            fits: unplaced.is_empty(),
            replicas: phase
                .services
                .values()
                .filter(|s| s.autoscale().is_some())
                .map(|s| (s.name.clone(), s.peak_replicas()))
                .collect(),
            unplaced,
        }
    });
    if let Some(peak) = &peak
        && !peak.fits
    {
        *verdict = (*verdict).max(Verdict::Tight);
        for line in &peak.unplaced {
            reasons.push(format!("at the autoscaling peak, {line}"));
        }
    }
    peak
}

/// What one node's load makes of the verdict: reservations or limits beyond
/// what the target admits, over-committed limits, headroom under the target.
fn node_reasons(
    target: Target,
    node: &NodeLoad,
    target_free: Percent,
    verdict: &mut Verdict,
    reasons: &mut Vec<String>,
) {
    let name = &node.name;
    match target {
        // Swarm admits against the total: reservations may eat the reserve.
        Target::Swarm if node.requested_memory > node.allocatable_memory => {
            *verdict = Verdict::DoesNotFit;
            reasons.push(format!(
                "{name}: reservations of {} leave less than its {} reserve (Swarm admits against the total {})",
                mem(node.requested_memory),
                mem(node.reserve.memory.bytes()),
                mem(node.capacity_memory)
            ));
        }
        // Compose has no admission: memory limits beyond the node are the OOM killer's to settle.
        Target::Compose if node.limits_memory > node.allocatable_memory => {
            *verdict = Verdict::DoesNotFit;
            reasons.push(format!(
                "{name}: memory limits add up to {}, over its {} allocatable (compose admits anything; \
                 the OOM killer would decide)",
                mem(node.limits_memory),
                mem(node.allocatable_memory)
            ));
        }
        _ => {}
    }
    let mut tight = |reason: String| {
        *verdict = (*verdict).max(Verdict::Tight);
        reasons.push(reason);
    };
    if node.limits_memory > node.allocatable_memory && target != Target::Compose {
        tight(format!(
            "{name}: memory limits over-commit {} ({} of {})",
            times(node.limits_memory, node.allocatable_memory),
            mem(node.limits_memory),
            mem(node.allocatable_memory)
        ));
    }
    if node.limits_cpu > node.allocatable_cpu {
        tight(format!(
            "{name}: cpu limits over-commit {} ({} of {})",
            times(node.limits_cpu, node.allocatable_cpu),
            cpu(node.limits_cpu),
            cpu(node.allocatable_cpu)
        ));
    }
    let target_percent = target_free.fraction() * 100.0;
    let (free_cpu, free_memory) =
        (headroom(node.requested_cpu, node.allocatable_cpu), headroom(node.requested_memory, node.allocatable_memory));
    if free_cpu.min(free_memory) < target_percent && node.replicas > 0 {
        let (which, least) = if free_memory <= free_cpu {
            ("memory", percent_free(node.requested_memory, node.allocatable_memory))
        } else {
            ("cpu", percent_free(node.requested_cpu, node.allocatable_cpu))
        };
        tight(format!("{name}: {least} of {which} free after requests, under the {target_free} headroom target"));
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

/// One line per unplaced replica, or per run of replicas of one service that went nowhere for the same reason
/// (`web replicas 3–10000: …`): ten thousand stranded replicas make one line, not ten thousand.
fn describe_unplaced<'a>(unplaced: impl Iterator<Item = &'a schedule::Placed>) -> Vec<String> {
    let mut runs: Vec<(&str, u32, u32, &str)> = Vec::new();
    for placed in unplaced {
        let reason = placed.reason.as_deref().unwrap_or("cannot be placed");
        let index = placed.replica.index;
        match runs.last_mut() {
            Some((service, _, last, why))
                if *service == placed.replica.service && *why == reason && *last + 1 == index =>
            {
                *last = index;
            }
            _ => runs.push((&placed.replica.service, index, index, reason)),
        }
    }
    runs.into_iter()
        .map(|(service, first, last, reason)| {
            if first == last {
                format!("{service} replica {first}: {reason}")
            } else {
                format!("{service} replicas {first}–{last}: {reason}")
            }
        })
        .collect()
}

/// Lose each node in turn and re-place its replicas on what the others have left, as Swarm and
/// Kubernetes do (see [`loss`]): a node alone in carrying a label, a role or a size a service needs
/// is as much a single point of failure as the largest one.
fn n_plus_one(phase: &Phase, replicas: &[Replica], base: &Schedule) -> NPlusOne {
    let loss::NodeLosses { losses, examined } = loss::losses(phase, replicas, base);
    let worst = losses
        .iter()
        .filter(|loss| !loss.fits)
        .max_by(|a, b| (a.down.len(), a.missing(), &b.lost).cmp(&(b.down.len(), b.missing(), &a.lost)))
        .map(|loss| loss.lost.clone());
    NPlusOne { fits: worst.is_none(), worst, losses, examined }
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
    // In u128: no sum of `u64` requests can overflow it.
    let cpu: u128 = replicas.iter().map(|r| u128::from(r.request_cpu)).sum();
    let memory: u128 = replicas.iter().map(|r| u128::from(r.request_memory)).sum();
    let largest_cpu = schedule.nodes.iter().map(|n| n.allocatable_cpu).max().unwrap_or(0);
    let largest_memory = schedule.nodes.iter().map(|n| n.allocatable_memory).max().unwrap_or(0);
    let nodes = |sum: u128, size: u64| {
        if size == 0 { 0 } else { u64::try_from(sum.div_ceil(u128::from(size))).unwrap_or(u64::MAX) }
    };
    LowerBound {
        by_cpu: nodes(cpu, largest_cpu),
        by_memory: nodes(memory, largest_memory),
        given: u32::try_from(schedule.nodes.len()).unwrap_or(u32::MAX),
    }
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
                Code::PhaseTight,
                format!("phase {} ({}) is tight: {detail}", phase.number, phase.name),
                &path,
            )
            .help("`topo plan` shows each node's waterfall; add or resize a node, or lower requests"),
            Verdict::OrderDependent => Diagnostic::warning(
                Code::OrderDependentPlacement,
                format!("phase {} ({}) fits only in some orders of Swarm's tasks: {detail}", phase.number, phase.name),
                &path,
            )
            .help(
                "Swarm schedules a stack's tasks in no fixed order; `topo plan` names the services at risk \
                 and what takes their room",
            ),
            Verdict::DoesNotFit => Diagnostic::error(
                Code::PhaseDoesNotFit,
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

/// `numerator ÷ denominator` rounded half away from zero (0 for a zero denominator).
pub fn div_round(numerator: u128, denominator: u128) -> u128 {
    if denominator == 0 { 0 } else { (2 * numerator + denominator) / (2 * denominator) }
}

/// `numerator ÷ denominator` with `decimals` decimals, rounded half away from zero: exact, where
/// `format!("{:.1}")` of a float rounds 4.25 to 4.2.
pub fn decimal(numerator: u128, denominator: u128, decimals: u32) -> String {
    let scale = 10u128.pow(decimals);
    let scaled = div_round(numerator * scale, denominator);
    match decimals {
        0 => scaled.to_string(),
        _ => format!("{}.{:0width$}", scaled / scale, scaled % scale, width = decimals as usize),
    }
}

/// `used ÷ total` as a factor for people: `1.36×`.
pub fn times(used: u64, total: u64) -> String {
    format!("{}×", decimal(used.into(), total.into(), 2))
}

/// The share of `total` left after `used`, in whole percent: `12%`.
pub fn percent_free(used: u64, total: u64) -> String {
    format!("{}%", decimal(u128::from(total.saturating_sub(used)) * 100, total.into(), 0))
}

/// Memory for people: `1.5Gi`, `4.3Gi` (4.25Gi, half away from zero), `300Mi`.
pub fn mem(bytes: u64) -> String {
    const GI: u128 = 1 << 30;
    const MI: u128 = 1 << 20;
    let bytes = u128::from(bytes);
    // A figure that rounds to 1024Mi is 1Gi.
    if div_round(bytes, MI) >= 1024 {
        let text = decimal(bytes, GI, 1);
        format!("{}Gi", text.trim_end_matches(".0"))
    } else {
        format!("{}Mi", div_round(bytes, MI))
    }
}

/// CPU for people: `250m`, `2`, `1.5`, `116.8`.
pub fn cpu(millis: u64) -> String {
    if millis.is_multiple_of(1000) {
        Cpu::from_millis(millis).to_string()
    } else if millis > 1000 {
        let text = decimal(millis.into(), 1000, 2);
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        format!("{millis}m")
    }
}

/// Cents as money: `15.00`.
pub fn money(cents: u64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}
