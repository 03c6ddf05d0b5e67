//! Upper bounds on every count and size a spec may give.
//!
//! Each bound is far beyond what a real deployment writes, and keeps the work
//! and the arithmetic behind `check`, `plan` and `render` bounded and exact:
//! the plan places a replica in O(log n) plus the nodes that already run its
//! service (so a few large services spread over every node are its worst
//! case: replicas × nodes), the N+1 check re-places each lost node's replicas,
//! and the sums of requests, limits and prices per node and per phase are
//! `u64`. Within these bounds none of those sums can overflow. The README's
//! limits table lists them, with the time the worst case takes; `over-limit`
//! is their diagnostic.

use crate::code::Code;
use crate::diag::Diagnostic;
use crate::spec::{Autoscale, Check, Cpu, Duration, Health, Memory, Percent, Phased, Replicas, ResourceAmounts, Spec};
use crate::yaml::SpecPath;

/// Phases in a spec.
pub const MAX_PHASES: usize = 10;
/// Nodes in one phase.
pub const MAX_NODES: usize = 2_000;
/// Services in a spec.
pub const MAX_SERVICES: usize = 10_000;
/// Replicas of one service (`replicas`, `autoscale.min`, `autoscale.max`).
pub const MAX_REPLICAS: u32 = 5_000;
/// Replicas of all services in all phases together, each phase at its autoscaling peak (a global
/// service counts one per node of the phase). With [`MAX_NODES`] it bounds the plan's work.
pub const MAX_SPEC_REPLICAS: u64 = 150_000;
/// Volumes and ports of one service.
pub const MAX_PER_SERVICE: usize = 100;
/// CPU of a node or of a replica, in cores.
pub const MAX_CPU: Cpu = Cpu::from_millis(100_000 * 1000);
/// Memory of a node or of a replica, a node's disk and a volume's size: 1Pi.
pub const MAX_MEMORY: Memory = Memory::from_bytes(1 << 50);
/// A node's price per month.
pub const MAX_COST: f64 = 1_000_000.0;
/// Any duration: 10 years, well within Go's `time.Duration` (~292 years), Prometheus' durations and Kubernetes' `int32` seconds.
pub const MAX_DURATION: Duration = Duration::from_secs(10 * 365 * 24 * 3600);
/// A percentage (an autoscaling target, a headroom).
pub const MAX_PERCENT: u64 = 1000;
/// A health check's `retries`.
pub const MAX_RETRIES: u32 = 1000;

/// Every bound of the spec, as diagnostics.
pub fn check(spec: &Spec) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let root = SpecPath::root();
    count(&mut out, &root.key("phases"), "phases", spec.phases.0.len(), MAX_PHASES);
    count(&mut out, &root.key("services"), "services", spec.services.len(), MAX_SERVICES);
    for (number, phase) in &spec.phases.0 {
        let path = root.key("phases").key(number.to_string());
        count(&mut out, &path.key("nodes"), "nodes in one phase", phase.nodes.len(), MAX_NODES);
        if let Some(headroom) = phase.headroom {
            percent(&mut out, &path.key("headroom"), headroom, 100);
        }
        nodes(&mut out, &path, phase);
    }
    for (name, service) in &spec.services {
        service_bounds(&mut out, &root.key("services").key(name), service);
    }
    for (index, trigger) in spec.triggers.iter().enumerate() {
        let path = root.key("triggers").index(index);
        if let Some(held) = trigger.for_ {
            duration(&mut out, &path.key("for"), held);
        }
        for (key, threshold) in [("above", trigger.above), ("below", trigger.below)] {
            if let Some(crate::spec::Threshold::Duration(d)) = threshold {
                duration(&mut out, &path.key(key), d);
            }
        }
    }
    phase_replicas(spec, &mut out);
    out
}

/// The bounds of each node's amounts and price.
fn nodes(out: &mut Vec<Diagnostic>, path: &SpecPath, phase: &crate::spec::Phase) {
    for (name, node) in &phase.nodes {
        let node_path = path.key("nodes").key(name);
        cpu(out, &node_path.key("cpu"), node.cpu);
        memory(out, &node_path.key("memory"), node.memory);
        if let Some(disk) = node.disk {
            memory(out, &node_path.key("disk"), disk);
        }
        if let Some(reserve) = &node.reserve {
            amounts(out, &node_path.key("reserve"), reserve.cpu, reserve.memory);
        }
        if let Some(cost) = node.cost
            && !(0.0..=MAX_COST).contains(&cost)
        {
            out.push(
                over(&node_path.key("cost"), format!("a price of {cost}"), "1000000 per month")
                    .help("a node's `cost` is its price per month, from 0 to 1000000"),
            );
        }
    }
}

/// The bounds of one service: its lists, replicas, autoscaling, resources, sizes and timings.
fn service_bounds(out: &mut Vec<Diagnostic>, path: &SpecPath, service: &crate::spec::Service) {
    count(out, &path.key("volumes"), "volumes", service.volumes.len(), MAX_PER_SERVICE);
    count(out, &path.key("ports"), "ports", service.ports.len(), MAX_PER_SERVICE);
    for (phase, replicas) in entries(&path.key("replicas"), &service.replicas) {
        if let Replicas::Count(n) = replicas {
            replica_count(out, &phase, *n, "replicas");
        }
    }
    for (phase, autoscale) in entries(&path.key("autoscale"), &service.autoscale) {
        let Some(Autoscale { min, max, cpu, memory }) = autoscale else { continue };
        if let Some(min) = min {
            replica_count(out, &phase.key("min"), *min, "replicas at least");
        }
        replica_count(out, &phase.key("max"), *max, "replicas at most");
        for (key, target) in [("cpu", cpu), ("memory", memory)] {
            if let Some(target) = target {
                percent(out, &phase.key(key), *target, MAX_PERCENT);
            }
        }
    }
    for (phase, resources) in entries(&path.key("resources"), &service.resources) {
        for (key, given) in [("requests", &resources.requests), ("limits", &resources.limits)] {
            if let Some(ResourceAmounts { cpu, memory }) = given {
                amounts(out, &phase.key(key), *cpu, *memory);
            }
        }
    }
    for (volume_name, volume) in &service.volumes {
        if let Some(size) = volume.size {
            memory(out, &path.key("volumes").key(volume_name).key("size"), size);
        }
    }
    if let Some(grace) = service.stop_grace_period {
        duration(out, &path.key("stop_grace_period"), grace);
    }
    if let Some(health) = &service.health {
        let health_path = path.key("health");
        match health {
            Health::One(one) => check_timing(out, &health_path, one),
            Health::Probes(probes) => {
                for (key, probe) in
                    [("liveness", &probes.liveness), ("readiness", &probes.readiness), ("startup", &probes.startup)]
                {
                    if let Some(probe) = probe {
                        check_timing(out, &health_path.key(key), probe);
                    }
                }
            }
        }
    }
}

/// A list or map longer than `max`: the error is on its key.
fn count(out: &mut Vec<Diagnostic>, path: &SpecPath, what: &str, n: usize, max: usize) {
    if n > max {
        out.push(over(path, format!("{n} {what}"), &max.to_string()).on_key());
    }
}

/// A bound passed: `{what} is over topo's limit of {max}`.
fn over(path: &SpecPath, what: String, max: &str) -> Diagnostic {
    Diagnostic::error(Code::OverLimit, format!("{what} is over topo's limit of {max}"), path)
        .help("topo bounds every count and size (see the limits table in the README); no real deployment needs more")
}

fn replica_count(out: &mut Vec<Diagnostic>, path: &SpecPath, n: u32, what: &str) {
    if n > MAX_REPLICAS {
        out.push(over(path, format!("{n} {what}"), &format!("{MAX_REPLICAS} replicas per service")));
    }
}

fn cpu(out: &mut Vec<Diagnostic>, path: &SpecPath, cpu: Cpu) {
    if cpu > MAX_CPU {
        out.push(over(path, format!("{cpu} CPU"), &format!("{MAX_CPU} cores")));
    }
}

fn memory(out: &mut Vec<Diagnostic>, path: &SpecPath, memory: Memory) {
    if memory.bytes() > MAX_MEMORY.bytes() {
        out.push(over(path, format!("{memory} of memory or storage"), &MAX_MEMORY.to_string()));
    }
}

fn amounts(out: &mut Vec<Diagnostic>, path: &SpecPath, given_cpu: Option<Cpu>, given_memory: Option<Memory>) {
    if let Some(c) = given_cpu {
        cpu(out, &path.key("cpu"), c);
    }
    if let Some(m) = given_memory {
        memory(out, &path.key("memory"), m);
    }
}

fn percent(out: &mut Vec<Diagnostic>, path: &SpecPath, percent: Percent, max: u64) {
    if percent > Percent::from_whole(max) {
        out.push(over(path, percent.to_string(), &format!("{max}%")));
    }
}

fn duration(out: &mut Vec<Diagnostic>, path: &SpecPath, duration: Duration) {
    if duration > MAX_DURATION {
        out.push(
            over(path, format!("a duration of {duration}"), &format!("{MAX_DURATION} (10 years)")).help(
                "Compose and Swarm read durations as Go's `time.Duration`, Prometheus as its own, Kubernetes in `int32` seconds: \
                 topo keeps every duration within 10 years, which all of them accept",
            ),
        );
    }
}

fn check_timing(out: &mut Vec<Diagnostic>, path: &SpecPath, check: &Check) {
    let timings = [
        ("initial_delay", check.initial_delay),
        ("interval", check.interval),
        ("timeout", check.timeout),
        ("start_period", check.start_period),
    ];
    for (key, value) in timings {
        if let Some(value) = value {
            duration(out, &path.key(key), value);
        }
    }
    if let Some(retries) = check.retries
        && retries > MAX_RETRIES
    {
        out.push(over(&path.key("retries"), format!("{retries} retries"), &MAX_RETRIES.to_string()));
    }
}

/// The values of a phased field with the path each is written at.
fn entries<'a, T>(path: &SpecPath, value: &'a Option<Phased<T>>) -> Vec<(SpecPath, &'a T)> {
    match value {
        None => Vec::new(),
        Some(Phased::All(v)) => vec![(path.clone(), v)],
        Some(Phased::ByPhase(map)) => map.iter().map(|(k, v)| (path.key(k.to_string()), v)).collect(),
    }
}

/// The replicas of every phase at its peak, all services together, against [`MAX_SPEC_REPLICAS`].
/// A bound taken before anything is resolved, so it does not ask the model: a
/// global service counts every node of its phase (at most what it resolves to).
fn phase_replicas(spec: &Spec, out: &mut Vec<Diagnostic>) {
    let mut total: u64 = 0;
    for (number, phase) in &spec.phases.0 {
        for service in spec.services.values() {
            let replicas = service.replicas.as_ref().and_then(|r| r.at(*number)).copied().unwrap_or(Replicas::Count(1));
            let count = match replicas {
                Replicas::Count(n) => u64::from(n),
                Replicas::Global => phase.nodes.len() as u64,
            };
            let autoscale = service.autoscale.as_ref().and_then(|a| a.at(*number)).and_then(Option::as_ref);
            // A service over its own bound is reported there: here it counts at the bound.
            let peak = autoscale.map_or(count, |a| count.max(u64::from(a.max))).min(u64::from(MAX_REPLICAS));
            total = total.saturating_add(peak);
        }
    }
    if total > MAX_SPEC_REPLICAS {
        out.push(
            over(
                &SpecPath::root().key("phases"),
                format!("{total} replicas in all phases together, each at its peak,"),
                &format!("{MAX_SPEC_REPLICAS} replicas in a spec"),
            )
            .on_key(),
        );
    }
}
