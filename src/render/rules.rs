//! Prometheus alert rules from the spec's triggers, for one phase.
//!
//! Each built-in metric is queried from the exporters the phase's target runs
//! with: node-exporter for nodes on every target; cAdvisor's `container_*`
//! series for compose and swarm, selected by the `topo.*` labels topo puts on
//! every container; the kubelet's cAdvisor and volume statistics and
//! kube-state-metrics for k8s. Latency, error rate and queue depth come from
//! the services' own metrics, named in the spec's `metrics`. A trigger's own
//! `expr` is used as written. The plan's pressure rule (Σ requests above 85%
//! of what the nodes offer) follows the triggers.
//!
//! Thresholds are written in Prometheus' base units: percentages as ratios,
//! durations in seconds.

use crate::code::Code;
use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::names::RULES_FILE as FILE;
use crate::model::{self, Model, Phase, Service, Trigger};
use crate::spec::{Duration, Metric, Target, Threshold};
use crate::yaml::SpecPath;

use super::{Body, Document, Rendered};

/// The window of `rate()` over counters and histograms.
pub const RATE_WINDOW: &str = "5m";
/// The window restarts are counted over: a `restarts` threshold is restarts per hour.
pub const RESTARTS_WINDOW: &str = "1h";
/// How long the pressure condition must hold before it fires.
pub const PRESSURE_FOR: Duration = Duration::from_secs(15 * 60);
/// Filesystems that are not disks: node-exporter reports them too.
const PSEUDO_FILESYSTEMS: &str = "tmpfs|ramfs|overlay|squashfs|nsfs|fuse.lxcfs";

/// A Prometheus rules file: `rule_files:` in prometheus.yml loads it.
#[derive(Debug, Serialize)]
pub struct RuleFile {
    pub groups: Vec<RuleGroup>,
}

#[derive(Debug, Serialize)]
pub struct RuleGroup {
    pub name: String,
    pub rules: Vec<AlertRule>,
}

#[derive(Debug, Serialize)]
pub struct AlertRule {
    pub alert: String,
    pub expr: String,
    #[serde(rename = "for", skip_serializing_if = "Option::is_none")]
    pub for_: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub annotations: Annotations,
}

#[derive(Debug, Serialize)]
pub struct Annotations {
    pub summary: String,
    pub description: String,
    pub action: String,
}

pub fn render(model: &Model, phase: &Phase) -> Rendered {
    let mut rendered = Rendered::default();
    let (file, notes) = rule_file(model, phase, &mut rendered);
    rendered.documents.push(Document { file: FILE.to_owned(), body: Body::Rules(std::sync::Arc::new(file)) });
    rendered.notes.extend(notes);
    rendered
}

/// The phase's rules as typed objects, and the notes on what they need.
pub fn rule_file(model: &Model, phase: &Phase, rendered: &mut Rendered) -> (RuleFile, Vec<String>) {
    let containers = Containers { target: phase.target, project: &model.project, phase: &phase.name };
    let mut rules = Vec::new();
    for (index, trigger) in model.triggers.iter().enumerate() {
        let path = SpecPath::root().key("triggers").index(index);
        if let Some(rule) = trigger_rule(model, phase, &containers, trigger, &path, rendered) {
            rules.push(rule);
        }
    }
    rules.extend(pressure_rules(model, phase, &containers));
    let group = RuleGroup { name: format!("topo-{}-{}", model.project, phase.name), rules };
    let notes = vec![format!(
        "alert rules for phase {} ({}): load {FILE} with `rule_files:` in prometheus.yml; they read {}",
        phase.number,
        phase.name,
        containers.exporters()
    )];
    (RuleFile { groups: vec![group] }, notes)
}

/// What a rule's value is, for its annotations.
struct Measure {
    /// `CPU use`, `p95 latency`.
    subject: String,
    /// Where it is measured, with template references: `on {{ $labels.instance }}`.
    scope: String,
    /// How `$value` prints.
    value: &'static str,
}

struct Query {
    expr: String,
    measure: Measure,
}

/// Over what a trigger's value is taken. A short `for` keeps Prometheus'
/// meaning (the 5-minute value must stay past the threshold for all of it);
/// from [`AVERAGED_FROM`] on, the value is the average over the whole `for`
/// and the rule fires when that average is past the threshold, for
/// [`Window::rule_for`]: a sustained load with a dip each night is still a
/// sustained load, where a 7-day `for` over a 5-minute value resets at the
/// first dip and never fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Window {
    /// The 5-minute value, held for the trigger's `for` (or none).
    Instant(Option<Duration>),
    /// The average over this window.
    Averaged(Duration),
}

/// The shortest `for` that becomes an average over the window.
pub const AVERAGED_FROM: Duration = Duration::from_secs(3600);
/// The longest `for` of an averaged rule.
pub const AVERAGED_FOR_MAX: Duration = Duration::from_secs(3600);

impl Window {
    pub fn of(trigger: &Trigger) -> Window {
        match trigger.for_ {
            Some(held) if held >= AVERAGED_FROM => Window::Averaged(held),
            held => Window::Instant(held),
        }
    }

    /// The range of `rate()` and friends.
    fn range(self) -> String {
        match self {
            Window::Instant(_) => RATE_WINDOW.to_owned(),
            Window::Averaged(window) => window.to_string(),
        }
    }

    /// An instant expression (a 5-minute rate, say) as it is, or its average
    /// over the window by a subquery, one point per [`RATE_WINDOW`]. A
    /// `rate(…[7d])` would be cheaper but divides by the whole window: with less
    /// history than that (a node that just joined) an idle counter would read
    /// as a busy CPU.
    fn average(self, expr: &str) -> String {
        match self {
            Window::Instant(_) => expr.to_owned(),
            Window::Averaged(window) => format!("avg_over_time(({expr})[{window}:{RATE_WINDOW}])"),
        }
    }

    /// A gauge's value: as it is, or its average over the samples in the window.
    fn gauge(self, series: &str) -> String {
        match self {
            Window::Instant(_) => series.to_owned(),
            Window::Averaged(window) => format!("avg_over_time({series}[{window}])"),
        }
    }

    /// The rule's `for`: the trigger's own, or for an average a twelfth of the
    /// window in whole minutes, at most [`AVERAGED_FOR_MAX`]. It rides over a
    /// missed evaluation, and keeps a Prometheus with little history (whose
    /// average covers only what it has) from firing on its first minutes.
    pub fn rule_for(self) -> Option<Duration> {
        match self {
            Window::Instant(held) => held,
            Window::Averaged(window) => {
                let minutes = (window.millis() / 12).div_ceil(60_000).max(1);
                Some(Duration::from_secs(minutes * 60).min(AVERAGED_FOR_MAX))
            }
        }
    }

    /// How the summary says it: ` for 30m`, ` on average over 7d`.
    fn held(self) -> String {
        match self {
            Window::Instant(held) => held.map(|d| format!(" for {d}")).unwrap_or_default(),
            Window::Averaged(window) => format!(" on average over {window}"),
        }
    }

    /// How the description says it: ` for at least 30m`, ` on average over the last 7d`.
    fn held_at_least(self) -> String {
        match self {
            Window::Instant(held) => held.map(|d| format!(" for at least {d}")).unwrap_or_default(),
            Window::Averaged(window) => format!(" on average over the last {window}"),
        }
    }
}

fn trigger_rule(
    model: &Model,
    phase: &Phase,
    containers: &Containers,
    trigger: &Trigger,
    path: &SpecPath,
    rendered: &mut Rendered,
) -> Option<AlertRule> {
    let threshold = threshold_value(trigger.threshold);
    let comparison = if trigger.above { ">" } else { "<" };
    let window = Window::of(trigger);
    let query = match &trigger.expr {
        Some(expr) => Query {
            expr: format!("{} {comparison} {threshold}", own_query(expr, window)),
            measure: Measure {
                // A name of the user's: Prometheus expands templates in annotations and labels alike.
                subject: template_text(trigger.metric.as_str()),
                scope: String::new(),
                value: value_format(trigger),
            },
        },
        // Validation has already warned (`trigger-without-query`): the trigger stays in the plan only.
        None if matches!(trigger.metric, Metric::Other(_)) => return None,
        None => {
            let service = trigger.service.as_ref().and_then(|name| phase.services.get(name));
            let query = built_in_query(model, containers, trigger, window, service, path, rendered)?;
            Query { expr: format!("{} {comparison} {threshold}", query.expr), measure: query.measure }
        }
    };
    let direction = if trigger.above { "above" } else { "below" };
    let action = template_text(&trigger.action);
    let Measure { subject, scope, value } = query.measure;
    let summary =
        format!("{subject}{scope} {direction} {}{}: {action}", threshold_text(trigger.threshold), window.held());
    let description = format!(
        "{subject}{scope} is {{{{ $value | {value} }}}}, {direction} {}{}. {} phase {} ({}): {action}.",
        threshold_text(trigger.threshold),
        window.held_at_least(),
        model.project,
        phase.number,
        phase.name
    );
    let mut labels = BTreeMap::from([
        ("severity".to_owned(), trigger.severity.as_str().to_owned()),
        ("project".to_owned(), model.project.clone()),
        ("metric".to_owned(), template_text(trigger.metric.as_str())),
    ]);
    if let Some(service) = &trigger.service {
        labels.insert("service".to_owned(), service.clone());
    }
    Some(AlertRule {
        alert: trigger.name.clone(),
        expr: query.expr,
        for_: window.rule_for().map(|d| d.to_string()),
        labels,
        annotations: Annotations { summary, description, action },
    })
}

/// A trigger's own `expr`: as written, or averaged over a long window by a
/// subquery (one point per [`RATE_WINDOW`]), since topo cannot rewrite its ranges.
fn own_query(expr: &str, window: Window) -> String {
    match window {
        Window::Instant(_) => format!("({})", expr.trim()),
        Window::Averaged(over) => format!("avg_over_time(({})[{over}:{RATE_WINDOW}])", expr.trim()),
    }
}

/// The query of a built-in metric, without its comparison; `None` (with a warning) when there is none.
fn built_in_query(
    model: &Model,
    containers: &Containers,
    trigger: &Trigger,
    window: Window,
    service: Option<&Service>,
    path: &SpecPath,
    rendered: &mut Rendered,
) -> Option<Query> {
    let query = match (&trigger.metric, service) {
        (Metric::Cpu, None) => Query {
            expr: format!(
                "1 - {}",
                window.average(&format!(
                    "avg by (instance) (rate(node_cpu_seconds_total{{mode=\"idle\"}}[{RATE_WINDOW}]))"
                ))
            ),
            measure: node_measure("CPU use"),
        },
        (Metric::Memory, None) => Query {
            expr: format!(
                "1 - {} / {}",
                window.gauge("node_memory_MemAvailable_bytes"),
                window.gauge("node_memory_MemTotal_bytes")
            ),
            measure: node_measure("Memory use"),
        },
        (Metric::Disk, service) => disk_query(containers, window, service, path, rendered),
        (Metric::Cpu | Metric::Memory, Some(service)) => {
            service_query(containers, &trigger.metric, window, service, path, rendered)?
        }
        (Metric::LatencyP95 | Metric::LatencyP99 | Metric::ErrorRate | Metric::QueueDepth, _) => {
            app_query(model, trigger, window)
        }
        (Metric::Restarts, _) => restarts_query(containers, trigger.service.as_deref(), window),
        (Metric::Other(_), _) => return None,
    };
    Some(query)
}

/// A node's filesystems, or a k8s service's volumes.
fn disk_query(
    containers: &Containers,
    window: Window,
    service: Option<&Service>,
    path: &SpecPath,
    rendered: &mut Rendered,
) -> Query {
    if let Some(service) = service {
        if containers.target == Target::K8s && service.own_volumes().next().is_some() {
            return volume_query(containers, service, window);
        }
        rendered.warn(
            Code::TriggerWatchesNodes,
            format!(
                "there is no per-service disk metric for `{}` on a {} phase: this rule watches the nodes' filesystems",
                service.name,
                containers.target.as_str()
            ),
            &path.key("service"),
            "local volumes live on the node's disk; on k8s, a service's volumes are watched through kubelet volume statistics",
        );
    }
    let fs = format!("fstype!~\"{PSEUDO_FILESYSTEMS}\"");
    Query {
        expr: format!(
            "1 - {} / {}",
            window.gauge(&format!("node_filesystem_avail_bytes{{{fs}}}")),
            window.gauge(&format!("node_filesystem_size_bytes{{{fs}}}"))
        ),
        measure: Measure {
            subject: "Disk use".to_owned(),
            scope: " of {{ $labels.mountpoint }} on {{ $labels.instance }}".to_owned(),
            value: "humanizePercentage",
        },
    }
}

/// A service's CPU or memory use, as a share of its limit (else its request).
fn service_query(
    containers: &Containers,
    metric: &Metric,
    window: Window,
    service: &Service,
    path: &SpecPath,
    rendered: &mut Rendered,
) -> Option<Query> {
    let group = containers.group_label();
    let selector = containers.selector(Some(&service.name));
    let (limits, requests) = (service.resources.limits, service.resources.requests);
    if *metric == Metric::Cpu {
        let Some(cpu) = limits.cpu.or(requests.cpu) else {
            warn_without_size(rendered, path, service, "cpu");
            return None;
        };
        return Some(Query {
            expr: format!(
                "{} / {}",
                window.average(&format!(
                    "avg by ({group}) (rate(container_cpu_usage_seconds_total{{{selector}}}[{RATE_WINDOW}]))"
                )),
                cpu.cores_decimal(),
            ),
            measure: container_measure(containers, "CPU use", &format!("its {cpu} CPU")),
        });
    }
    let Some(memory) = limits.memory.or(requests.memory) else {
        warn_without_size(rendered, path, service, "memory");
        return None;
    };
    Some(Query {
        expr: format!(
            "avg by ({group}) ({}) / {}",
            window.gauge(&format!("container_memory_working_set_bytes{{{selector}}}")),
            memory.bytes(),
        ),
        measure: container_measure(containers, "Memory use", &format!("its {memory}")),
    })
}

/// Latency, error rate and queue depth, from the services' own metrics. Over
/// a long window, a latency quantile is that of every request in the window,
/// the error rate the share of errors among them (ratios of rates over the
/// same window, right even with less history than the window), the queue
/// depth its average.
fn app_query(model: &Model, trigger: &Trigger, window: Window) -> Query {
    let app = &model.metrics;
    let label = &app.service_label;
    let app_selector = trigger.service.as_ref().map(|s| format!("{label}=\"{s}\"")).unwrap_or_default();
    let scope = format!(" of {{{{ $labels.{label} }}}}");
    let range = window.range();
    match trigger.metric {
        Metric::LatencyP95 | Metric::LatencyP99 => {
            let (quantile, name) = if trigger.metric == Metric::LatencyP95 { ("0.95", "p95") } else { ("0.99", "p99") };
            Query {
                expr: format!(
                    "histogram_quantile({quantile}, sum by (le, {label}) (rate({metric}_bucket{braces}[{range}])))",
                    metric = app.http_duration,
                    braces = braces(&app_selector),
                ),
                measure: Measure { subject: format!("{name} latency"), scope, value: "humanizeDuration" },
            }
        }
        Metric::ErrorRate => {
            let errors = join_matchers(&[&app_selector, &format!("{}=~\"5..\"", app.status_label)]);
            Query {
                expr: format!(
                    "sum by ({label}) (rate({metric}{{{errors}}}[{range}])) / sum by ({label}) (rate({metric}{all}[{range}]))",
                    metric = app.http_requests,
                    all = braces(&app_selector),
                ),
                measure: Measure { subject: "HTTP 5xx error rate".to_owned(), scope, value: "humanizePercentage" },
            }
        }
        // Every replica of a worker may report the same queue: the largest report, not the sum.
        _ => Query {
            expr: format!(
                "max by ({label}) ({})",
                window.gauge(&format!("{}{}", app.queue_depth, braces(&app_selector)))
            ),
            measure: Measure { subject: "Queue depth".to_owned(), scope, value: "humanize" },
        },
    }
}

fn warn_without_size(rendered: &mut Rendered, path: &SpecPath, service: &Service, resource: &str) {
    rendered.warn(
        Code::TriggerWithoutQuery,
        format!("`{}` has no {resource} limit or request to measure its use against: no alert rule", service.name),
        &path.key("service"),
        &format!("give `{}` a {resource} limit or request, or write the query in `expr:`", service.name),
    );
}

fn node_measure(subject: &str) -> Measure {
    Measure { subject: subject.to_owned(), scope: " on {{ $labels.instance }}".to_owned(), value: "humanizePercentage" }
}

fn container_measure(containers: &Containers, subject: &str, of: &str) -> Measure {
    Measure {
        subject: format!("{subject} (of {of})"),
        scope: format!(" of {{{{ $labels.{} }}}}", containers.group_label()),
        value: "humanizePercentage",
    }
}

/// A k8s service's volumes, through the kubelet's volume statistics of its claims.
fn volume_query(containers: &Containers, service: &Service, window: Window) -> Query {
    let claims: Vec<String> = service
        .own_volumes()
        .map(|volume| {
            if service.stateful {
                // StatefulSet claims are `<template>-<set>-<ordinal>`.
                format!("{}-{}-[0-9]+", volume.name, service.name)
            } else {
                format!("{}-{}", service.name, volume.name)
            }
        })
        .collect();
    let selector = format!("namespace=\"{}\",persistentvolumeclaim=~\"{}\"", containers.project, claims.join("|"));
    Query {
        expr: format!(
            "max by (persistentvolumeclaim) ({} / {})",
            window.gauge(&format!("kubelet_volume_stats_used_bytes{{{selector}}}")),
            window.gauge(&format!("kubelet_volume_stats_capacity_bytes{{{selector}}}"))
        ),
        measure: Measure {
            subject: "Disk use".to_owned(),
            scope: " of volume {{ $labels.persistentvolumeclaim }}".to_owned(),
            value: "humanizePercentage",
        },
    }
}

/// Restarts per hour, per service: those of the last hour, or over a long
/// window their number divided by its hours.
fn restarts_query(containers: &Containers, service: Option<&str>, window: Window) -> Query {
    let group = containers.group_label();
    let selector = containers.selector(service);
    let (range, per_hour) = match window {
        Window::Instant(_) => (RESTARTS_WINDOW.to_owned(), String::new()),
        Window::Averaged(over) => (over.to_string(), format!(" / {}", over.millis() as f64 / 3_600_000.0)),
    };
    let expr = match containers.target {
        Target::K8s => format!(
            "sum by (namespace, container) (increase(kube_pod_container_status_restarts_total{{{selector}}}[{range}])){per_hour}"
        ),
        // Docker restarts a compose container in place: the same series, whose counters start again from zero.
        Target::Compose => {
            format!("sum by ({group}) (resets(container_cpu_usage_seconds_total{{{selector}}}[{range}])){per_hour}")
        }
        // Swarm replaces a failed task with a new container: count the containers gone within the window.
        Target::Swarm => format!(
            "(count by ({group}) (last_over_time(container_last_seen{{{selector}}}[{range}])) - count by ({group}) (container_last_seen{{{selector}}})){per_hour}"
        ),
    };
    let subject = match (containers.target, window) {
        (Target::Swarm, Window::Instant(_)) => "Containers replaced in the last hour",
        (Target::K8s | Target::Compose, Window::Instant(_)) => "Restarts in the last hour",
        (Target::Swarm, Window::Averaged(_)) => "Containers replaced per hour",
        (Target::K8s | Target::Compose, Window::Averaged(_)) => "Restarts per hour",
    };
    Query {
        expr,
        measure: Measure {
            subject: subject.to_owned(),
            scope: format!(" of {{{{ $labels.{group} }}}}"),
            value: "humanize",
        },
    }
}

/// The plan's own rule: the requests of what runs, against what the nodes offer.
fn pressure_rules(model: &Model, phase: &Phase, containers: &Containers) -> Vec<AlertRule> {
    let ratio = model::PRESSURE_RATIO_PERCENT as f64 / 100.0;
    let [cpu_alert, memory_alert] = model::PRESSURE_ALERTS;
    let resources = [("cpu", cpu_alert), ("memory", memory_alert)];
    resources
        .into_iter()
        .filter_map(|(resource, alert)| {
            let (requested, offered, value) = match containers.target {
                Target::K8s => {
                    let running = "kube_pod_status_phase{phase=~\"Pending|Running\"} == 1";
                    (
                        format!(
                            "sum(kube_pod_container_resource_requests{{resource=\"{resource}\"}} and on (namespace, pod) ({running}))"
                        ),
                        format!("sum(kube_node_status_allocatable{{resource=\"{resource}\"}})"),
                        "Σ requests of every pod",
                    )
                }
                Target::Compose | Target::Swarm => {
                    // Docker applies no CPU reservation to a container's cgroup: count the containers
                    // that run, and multiply by each service's requests from the spec.
                    let terms: Vec<String> = phase
                        .services
                        .values()
                        .filter_map(|service| {
                            let amount = match resource {
                                "cpu" => service.resources.requests.cpu.map(|c| c.cores_decimal()),
                                _ => service.resources.requests.memory.map(|m| m.bytes().to_string()),
                            }?;
                            let selector = containers.selector(Some(&service.name));
                            Some(format!("(count(container_last_seen{{{selector}}}) or vector(0)) * {amount}"))
                        })
                        .collect();
                    if terms.is_empty() {
                        return None;
                    }
                    let offered = match resource {
                        "cpu" => "count(node_cpu_seconds_total{mode=\"idle\"})",
                        _ => "sum(node_memory_MemTotal_bytes)",
                    };
                    (format!("({})", terms.join(" + ")), offered.to_owned(), "Σ requests of the running containers")
                }
            };
            let offered_name = if containers.target == Target::K8s { "allocatable" } else { "capacity" };
            let action = "add a node or lower the requests";
            let title = if resource == "cpu" { "CPU" } else { "Memory" };
            Some(AlertRule {
                alert: alert.to_owned(),
                expr: format!("{requested} / {offered} > {ratio}"),
                for_: Some(PRESSURE_FOR.to_string()),
                labels: BTreeMap::from([
                    ("severity".to_owned(), "warning".to_owned()),
                    ("project".to_owned(), model.project.clone()),
                    ("metric".to_owned(), format!("{resource}_requests")),
                ]),
                annotations: Annotations {
                    summary: format!(
                        "{title} requests above {}% of the nodes' {resource} {offered_name} for {PRESSURE_FOR}: {action}",
                        model::PRESSURE_RATIO_PERCENT
                    ),
                    description: format!(
                        "{value} is {{{{ $value | humanizePercentage }}}} of the nodes' {resource} {offered_name}: \
                         new replicas may find no room. {} phase {} ({}): {action}; `topo plan --phase {}` shows the fit.",
                        model.project, phase.number, phase.name, phase.number
                    ),
                    action: action.to_owned(),
                },
            })
        })
        .collect()
}

/// cAdvisor's names of the container labels topo puts on every container and
/// Swarm task (`topo.project`, `topo.phase`, `topo.service`). Rules select on
/// them rather than on Docker's own labels: Dokploy deploys a compose app and a
/// stack under a name with a random suffix, never the spec's project.
pub const PROJECT_LABEL: &str = "container_label_topo_project";
pub const PHASE_LABEL: &str = "container_label_topo_phase";
pub const SERVICE_LABEL: &str = "container_label_topo_service";

/// How a phase's containers are found in cAdvisor's and kube-state-metrics' series.
struct Containers<'a> {
    target: Target,
    project: &'a str,
    phase: &'a str,
}

impl Containers<'_> {
    /// The label that names a container's service.
    fn group_label(&self) -> &'static str {
        match self.target {
            Target::Compose | Target::Swarm => SERVICE_LABEL,
            Target::K8s => "container",
        }
    }

    /// Matchers for one service's containers, or for every container of the project.
    fn selector(&self, service: Option<&str>) -> String {
        let (project, phase) = (self.project, self.phase);
        match (self.target, service) {
            (Target::Compose | Target::Swarm, Some(s)) => {
                format!("{PROJECT_LABEL}=\"{project}\",{PHASE_LABEL}=\"{phase}\",{SERVICE_LABEL}=\"{s}\"")
            }
            (Target::Compose | Target::Swarm, None) => {
                format!("{PROJECT_LABEL}=\"{project}\",{PHASE_LABEL}=\"{phase}\",{SERVICE_LABEL}!=\"\"")
            }
            (Target::K8s, Some(s)) => format!("namespace=\"{project}\",container=\"{s}\""),
            // The kubelet's cAdvisor also reports a pod's sandbox (`POD`) and the pod as a whole (no container).
            (Target::K8s, None) => format!("namespace=\"{project}\",container!=\"\",container!=\"POD\""),
        }
    }

    fn exporters(&self) -> &'static str {
        match self.target {
            Target::Compose | Target::Swarm => "node-exporter and cAdvisor (with container labels) metrics",
            Target::K8s => "node-exporter, kubelet/cAdvisor and kube-state-metrics metrics",
        }
    }
}

/// `{matchers}`, or nothing for none.
fn braces(matchers: &str) -> String {
    if matchers.is_empty() { String::new() } else { format!("{{{matchers}}}") }
}

fn join_matchers(matchers: &[&str]) -> String {
    matchers.iter().filter(|m| !m.is_empty()).copied().collect::<Vec<_>>().join(",")
}

/// A threshold in Prometheus' base units: a ratio for a percentage, seconds for a duration.
pub fn threshold_value(threshold: Threshold) -> f64 {
    match threshold {
        Threshold::Percent(p) => p.fraction(),
        Threshold::Duration(d) => d.millis() as f64 / 1000.0,
        Threshold::Number(n) => n,
    }
}

/// How the alert's `$value` is printed, by the kind of its threshold.
fn value_format(trigger: &Trigger) -> &'static str {
    match trigger.threshold {
        Threshold::Percent(_) => "humanizePercentage",
        Threshold::Duration(_) => "humanizeDuration",
        Threshold::Number(_) => "humanize",
    }
}

/// Text of the spec inside a Go template: `{{` would start an action.
fn template_text(text: &str) -> String {
    text.replace("{{", "{{ \"{{\" }}")
}

/// The threshold as the spec writes it: `80%`, `300ms`, `1000`.
pub fn threshold_text(threshold: Threshold) -> String {
    match threshold {
        Threshold::Percent(p) => p.to_string(),
        Threshold::Duration(d) => d.to_string(),
        Threshold::Number(n) => n.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    /// Every rule topo emits, for every shipped spec and every phase, is PromQL Prometheus would load.
    #[test]
    fn every_emitted_rule_expression_parses() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut rules = 0;
        for dir in ["examples", "specs", "tests/fixtures/valid"] {
            for path in fs_err::read_dir(root.join(dir)).unwrap().map(|e| e.unwrap().path()) {
                if path.extension().is_none_or(|e| e != "yaml") {
                    continue;
                }
                let Ok(compiled) = crate::compile(&fs_err::read(&path).unwrap()) else { continue };
                for phase in &compiled.model.phases {
                    let mut rendered = super::super::Rendered::default();
                    let (file, _) = rule_file(&compiled.model, phase, &mut rendered);
                    for rule in file.groups.iter().flat_map(|g| &g.rules) {
                        if let Some(reason) = crate::validate::promql::parse_error(&rule.expr) {
                            panic!("{}: rule {}: `{}`: {reason}", path.display(), rule.alert, rule.expr);
                        }
                        rules += 1;
                    }
                }
            }
        }
        assert!(rules > 20, "only {rules} rules");
    }
}
