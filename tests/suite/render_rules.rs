//! The rules target: the alert rules of every phase of every spec pass
//! `promtool check rules`, and `promtool test rules` proves that each kind of
//! trigger fires once its value has crossed its threshold for its `for`, and
//! stays silent just short of it. The test cases are computed from the model
//! (thresholds, `for`, limits, replicas, node sizes), so changing a threshold
//! in the spec below changes the test.

#![allow(clippy::unwrap_used, clippy::panic)]

use crate::support::specs;
use crate::support::validators;
use topo::emit::yaml::Serialised as _;

use specs::{root, valid_specs};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde::Serialize;
use serde_norway::Value;
use topo::model::{Model, PRESSURE_ALERTS, PRESSURE_RATIO_PERCENT, Phase, Trigger, names};
use topo::render::rules::{self, PRESSURE_FOR, Window};
use topo::spec::{Metric, Target, Threshold};

fn compile_bytes(bytes: &[u8], what: &str) -> topo::Compiled {
    match topo::compile(bytes) {
        Ok(compiled) => compiled,
        Err(diags) => panic!("{what} does not compile: {:?}", diags.iter().map(|d| &d.message).collect::<Vec<_>>()),
    }
}

fn compile(path: &Path) -> topo::Compiled {
    compile_bytes(&fs_err::read(path).unwrap(), &path.display().to_string())
}

fn render(model: &Model, phase: &Phase) -> topo::render::Rendered {
    topo::render::render_output(model, phase, topo::render::Output::Rules)
}

fn rules_of(yaml: &str) -> Vec<Value> {
    let file: Value = serde_norway::from_str(yaml).unwrap();
    file["groups"].as_sequence().unwrap().iter().flat_map(|g| g["rules"].as_sequence().unwrap().clone()).collect()
}

#[test]
fn finanzas_phase_3_snapshot() {
    let compiled = compile(&root().join("specs/finanzas.yaml"));
    let rendered = render(&compiled.model, compiled.model.phase(3).unwrap());
    assert_eq!(rendered.documents.len(), 1);
    assert_eq!(rendered.documents[0].file, names::RULES_FILE);
    assert!(rendered.diagnostics.is_empty());
    insta::assert_snapshot!("finanzas_k3s_rules", rendered.stream());
}

/// Every phase of every spec: `promtool check rules` accepts the file, alert
/// names are unique, and rendering twice gives the same bytes.
#[test]
fn every_phase_of_every_spec_passes_promtool_check_rules() {
    let mut checked = 0;
    for path in valid_specs() {
        let compiled = compile(&path);
        for phase in &compiled.model.phases {
            let rendered = render(&compiled.model, phase);
            let yaml = rendered.stream();
            assert_eq!(yaml, render(&compiled.model, phase).stream(), "{}: not deterministic", path.display());
            let rules = rules_of(&yaml);
            let mut names: Vec<&str> = rules.iter().map(|r| r["alert"].as_str().unwrap()).collect();
            let count = names.len();
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), count, "{} phase {}: duplicate alert names", path.display(), phase.number);
            let input = validators::TempInput::new(names::RULES_FILE, &yaml).unwrap();
            if rules.is_empty() {
                // Nothing to alert on (no trigger with a query, no requests on a Docker target):
                // still a file Prometheus loads. The helper refuses empty files, so run promtool directly.
                let has_requests = phase.services.values().any(|s| s.resources.requests.cpu.is_some());
                assert!(phase.target != Target::K8s && !has_requests, "{}: no rule", path.display());
                let promtool = validators::find_tool("promtool").unwrap();
                let output = Command::new(promtool).args(["check", "rules"]).arg(input.path()).output().unwrap();
                assert!(output.status.success(), "{}: {output:?}", path.display());
            } else {
                validators::promtool_check_rules(input.path())
                    .unwrap_or_else(|e| panic!("{} phase {}: {e}\n{yaml}", path.display(), phase.number));
            }
            checked += 1;
        }
    }
    assert!(checked >= 15, "only {checked} phases checked");
}

/// One trigger of each kind, on a phase of each target.
const EVERY_KIND: &str = r#"
project: shop
phases:
  1: { name: one, target: compose, nodes: { vps-1: { role: manager, cpu: 4, memory: 16Gi } } }
  2: { name: two, target: swarm, nodes: { vps-1: { role: manager, cpu: 4, memory: 16Gi }, vps-2: { cpu: 4, memory: 8Gi } } }
  3: { name: three, target: k8s, nodes: { n-1: { role: manager, cpu: 4, memory: 16Gi }, n-2: { cpu: 2, memory: 8Gi } } }
triggers:
  - { metric: cpu,         above: 80%,   for: 1h,  severity: critical, action: add a node }
  - { metric: memory,      above: 85%,   for: 30m, severity: critical, action: add memory }
  - { metric: disk,        above: 75%,             severity: warning,  action: expand the disk }
  - { metric: disk,        below: 5%,    for: 10m, severity: info,     action: use a smaller disk, name: TopoDiskIdle }
  - { metric: cpu,         above: 90%,   for: 15m, severity: warning,  action: scale the api, service: api }
  - { metric: memory,      above: 90%,   for: 15m, severity: warning,  action: raise the api's memory, service: api }
  - { metric: disk,        above: 80%,   for: 10m, severity: warning,  action: grow the database volume, service: db }
  - { metric: latency_p95, above: 300ms, for: 30m, severity: warning,  action: review queries }
  - { metric: latency_p99, above: 1s,    for: 10m, severity: critical, action: review queries now, service: api }
  - { metric: error_rate,  above: 2%,    for: 5m,  severity: critical, action: debug now }
  - { metric: queue_depth, above: 1000,  for: 15m, severity: warning,  action: add workers, service: worker }
  - { metric: restarts,    above: 3,     for: 10m, severity: critical, action: look at the crash loop }
  - metric: cache_hit_rate
    below: 90%
    for: 1h
    severity: warning
    action: grow the cache
    expr: sum(rate(cache_hits_total[5m])) / sum(rate(cache_lookups_total[5m]))
  - { metric: registered_users, above: 5000, severity: info, action: plan the next phase }
metrics: { http_requests: http_server_requests_total, status_label: status }
services:
  api:
    image: shop/api:1.0
    port: 8080
    replicas: { 1: 2, 2: 3 }
    resources: { requests: { cpu: 500m, memory: 512Mi }, limits: { cpu: "1", memory: 1Gi } }
  worker:
    image: shop/worker:1.0
    replicas: 2
    resources: { requests: { cpu: 250m, memory: 256Mi } }
  db:
    image: postgres:17
    port: 5432
    stateful: true
    placement: { role: manager }
    volumes: { data: { mount: /var/lib/postgresql/data, size: 10Gi } }
    resources: { requests: { cpu: "1", memory: 2Gi } }
"#;

/// A `promtool test rules` file.
#[derive(Serialize)]
struct TestFile {
    rule_files: Vec<String>,
    evaluation_interval: String,
    tests: Vec<TestGroup>,
}

#[derive(Serialize)]
struct TestGroup {
    name: String,
    interval: String,
    input_series: Vec<InputSeries>,
    alert_rule_test: Vec<AlertTest>,
}

#[derive(Serialize)]
struct InputSeries {
    series: String,
    values: String,
}

#[derive(Serialize)]
struct AlertTest {
    eval_time: String,
    alertname: String,
    exp_alerts: Vec<ExpAlert>,
}

#[derive(Serialize)]
struct ExpAlert {
    exp_labels: BTreeMap<String, String>,
}

type Labels = BTreeMap<String, String>;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

fn series(name: &str, labels: &Labels) -> String {
    let matchers: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    format!("{name}{{{}}}", matchers.join(","))
}

/// Minutes of samples every input series holds: longer than any evaluation.
const SAMPLES: u64 = 400;

/// A gauge holding `value` throughout.
fn gauge(name: &str, labels: &Labels, value: f64) -> InputSeries {
    InputSeries { series: series(name, labels), values: format!("{value}+0x{SAMPLES}") }
}

/// A counter growing by `per_second` every second (sampled each minute).
fn counter(name: &str, labels: &Labels, per_second: f64) -> InputSeries {
    InputSeries { series: series(name, labels), values: format!("0+{}x{SAMPLES}", per_second * 60.0) }
}

/// The labels that identify one container of `service` in cAdvisor or kube-state-metrics, and
/// the label its rules group by. Docker containers carry topo's own labels beside those Dokploy
/// gives them: a compose project and a stack named after the app, with a random suffix.
fn container_labels(target: Target, project: &str, phase: &str, service: &str, instance: &str) -> (Labels, Labels) {
    let dokploy_app = format!("{project}-x7k2pq");
    let topo = |more: &[(&str, &str)]| {
        let mut all =
            labels(&[(rules::PROJECT_LABEL, project), (rules::PHASE_LABEL, phase), (rules::SERVICE_LABEL, service)]);
        all.extend(labels(more));
        all
    };
    let group = labels(&[(rules::SERVICE_LABEL, service)]);
    match target {
        Target::Compose => (
            topo(&[
                ("container_label_com_docker_compose_project", &dokploy_app),
                ("container_label_com_docker_compose_service", service),
                ("name", &format!("{dokploy_app}-{service}-{instance}")),
            ]),
            group,
        ),
        Target::Swarm => {
            let swarm_service = format!("{dokploy_app}_{service}");
            (
                topo(&[
                    ("container_label_com_docker_stack_namespace", &dokploy_app),
                    ("container_label_com_docker_swarm_service_name", &swarm_service),
                    ("name", &format!("{swarm_service}.{instance}")),
                ]),
                group,
            )
        }
        Target::K8s => (
            labels(&[("namespace", project), ("pod", &format!("{service}-{instance}")), ("container", service)]),
            labels(&[("container", service)]),
        ),
    }
}

/// What a rule measures, as the test feeds it.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    NodeCpu,
    NodeMemory,
    NodeDisk,
    ServiceCpu,
    ServiceMemory,
    Volume,
    Latency(f64),
    ErrorRate,
    QueueDepth,
    Restarts,
    CacheHitRate,
    Pressure(&'static str),
}

fn kind_of(trigger: &Trigger, target: Target) -> Option<Kind> {
    let service = trigger.service.is_some();
    Some(match (&trigger.metric, service) {
        (Metric::Cpu, false) => Kind::NodeCpu,
        (Metric::Memory, false) => Kind::NodeMemory,
        (Metric::Disk, true) if target == Target::K8s => Kind::Volume,
        (Metric::Disk, _) => Kind::NodeDisk,
        (Metric::Cpu, true) => Kind::ServiceCpu,
        (Metric::Memory, true) => Kind::ServiceMemory,
        (Metric::LatencyP95, _) => Kind::Latency(0.95),
        (Metric::LatencyP99, _) => Kind::Latency(0.99),
        (Metric::ErrorRate, _) => Kind::ErrorRate,
        (Metric::QueueDepth, _) => Kind::QueueDepth,
        (Metric::Restarts, _) => Kind::Restarts,
        (Metric::Other(name), _) if name == "cache_hit_rate" => Kind::CacheHitRate,
        (Metric::Other(_), _) => return None,
    })
}

/// How long after the start the condition may take to become true: the range of its query.
fn settle_minutes(kind: Kind, target: Target) -> u64 {
    match (kind, target) {
        (Kind::Restarts, Target::Swarm) => 10,
        (Kind::Restarts, _) => 65,
        _ => 6,
    }
}

/// Input series under which a rule's query has the value `value`, and the labels of its result.
fn feed(model: &Model, phase: &Phase, trigger: &Trigger, kind: Kind, value: f64) -> (Vec<InputSeries>, Labels) {
    let project = model.project.as_str();
    let app = &model.metrics;
    let app_service = trigger.service.clone().unwrap_or_else(|| "api".to_owned());
    let app_labels = labels(&[(app.service_label.as_str(), app_service.as_str())]);
    let node = labels(&[("instance", "node-1:9100")]);
    match kind {
        Kind::NodeCpu => {
            let mut idle = node.clone();
            idle.insert("mode".into(), "idle".into());
            idle.insert("cpu".into(), "0".into());
            (vec![counter("node_cpu_seconds_total", &idle, 1.0 - value)], node)
        }
        Kind::NodeMemory => {
            let total = 16.0 * 1024.0 * 1024.0 * 1024.0;
            let series = vec![
                gauge("node_memory_MemTotal_bytes", &node, total),
                gauge("node_memory_MemAvailable_bytes", &node, (1.0 - value) * total),
            ];
            (series, node)
        }
        Kind::NodeDisk => {
            let mut fs = node.clone();
            fs.insert("mountpoint".into(), "/".into());
            fs.insert("fstype".into(), "ext4".into());
            let size = 200e9;
            let mut tmpfs = node.clone();
            tmpfs.insert("mountpoint".into(), "/run".into());
            tmpfs.insert("fstype".into(), "tmpfs".into());
            let series = vec![
                gauge("node_filesystem_size_bytes", &fs, size),
                gauge("node_filesystem_avail_bytes", &fs, (1.0 - value) * size),
                // A pseudo filesystem, always full and always ignored.
                gauge("node_filesystem_size_bytes", &tmpfs, 1e6),
                gauge("node_filesystem_avail_bytes", &tmpfs, 0.0),
            ];
            (series, fs)
        }
        Kind::ServiceCpu | Kind::ServiceMemory => {
            let service = &phase.services[trigger.service.as_deref().unwrap()];
            let (container, group) = container_labels(phase.target, project, &phase.name, &service.name, "1");
            // The same service of another phase (the old one, still running during a migration),
            // flat out: its containers are not this phase's.
            let (other, _) = container_labels(phase.target, project, "previous", &service.name, "1");
            let limits = service.resources.limits;
            let requests = service.resources.requests;
            let series = if kind == Kind::ServiceCpu {
                let cores = limits.cpu.or(requests.cpu).unwrap().millis() as f64 / 1000.0;
                let mut series = vec![counter("container_cpu_usage_seconds_total", &container, value * cores)];
                if phase.target != Target::K8s {
                    series.push(counter("container_cpu_usage_seconds_total", &other, cores));
                }
                series
            } else {
                let bytes = limits.memory.or(requests.memory).unwrap().bytes() as f64;
                let mut series = vec![gauge("container_memory_working_set_bytes", &container, value * bytes)];
                if phase.target != Target::K8s {
                    series.push(gauge("container_memory_working_set_bytes", &other, bytes));
                }
                series
            };
            (series, group)
        }
        Kind::Volume => {
            let service = &phase.services[trigger.service.as_deref().unwrap()];
            let volume = &service.volumes[0];
            let claim = format!("{}-{}-0", volume.name, service.name);
            let pvc = labels(&[("namespace", project), ("persistentvolumeclaim", &claim)]);
            let size = volume.size.unwrap().bytes() as f64;
            let series = vec![
                gauge("kubelet_volume_stats_capacity_bytes", &pvc, size),
                gauge("kubelet_volume_stats_used_bytes", &pvc, value * size),
            ];
            (series, labels(&[("persistentvolumeclaim", &claim)]))
        }
        Kind::Latency(quantile) => {
            // One bucket holds every request: the quantile interpolates to `quantile × its bound`.
            let bound = value / quantile;
            let bucket = format!("{}_bucket", app.http_duration);
            let mut finite = app_labels.clone();
            finite.insert("le".into(), bound.to_string());
            let mut infinite = app_labels.clone();
            infinite.insert("le".into(), "+Inf".into());
            (vec![counter(&bucket, &finite, 10.0), counter(&bucket, &infinite, 10.0)], app_labels)
        }
        Kind::ErrorRate => {
            let mut errors = app_labels.clone();
            errors.insert(app.status_label.clone(), "503".into());
            let mut ok = app_labels.clone();
            ok.insert(app.status_label.clone(), "200".into());
            let series = vec![
                counter(&app.http_requests, &errors, 100.0 * value),
                counter(&app.http_requests, &ok, 100.0 * (1.0 - value)),
            ];
            (series, app_labels)
        }
        Kind::QueueDepth => (vec![gauge(&app.queue_depth, &app_labels, value)], app_labels),
        Kind::Restarts => restarts(phase.target, project, &phase.name, value),
        Kind::CacheHitRate => {
            let series = vec![
                counter("cache_hits_total", &Labels::new(), 50.0 * value),
                counter("cache_lookups_total", &Labels::new(), 50.0),
            ];
            (series, Labels::new())
        }
        Kind::Pressure(_) => unreachable!("pressure series come from `pressure_feed`"),
    }
}

/// `value` restarts of the `api` service within the last hour.
fn restarts(target: Target, project: &str, phase: &str, value: f64) -> (Vec<InputSeries>, Labels) {
    let container_labels =
        |target, project, service, instance: &str| container_labels(target, project, phase, service, instance);
    match target {
        Target::K8s => {
            let (container, _) = container_labels(target, project, "api", "1");
            let group = labels(&[("namespace", project), ("container", "api")]);
            (vec![counter("kube_pod_container_status_restarts_total", &container, value / 3600.0)], group)
        }
        Target::Compose => {
            // Each restart in place starts the container's counters again from zero: a restart
            // every `period` minutes makes exactly `value` in every hour.
            let per_hour = value as u64;
            assert!(per_hour > 0 && 60 % per_hour == 0, "test thresholds whose restarts divide an hour");
            let period = 60 / per_hour;
            let values: Vec<String> = (0..SAMPLES).map(|minute| ((minute % period) * 30).to_string()).collect();
            let (container, group) = container_labels(target, project, "api", "1");
            (
                vec![InputSeries {
                    series: series("container_cpu_usage_seconds_total", &container),
                    values: values.join(" "),
                }],
                group,
            )
        }
        Target::Swarm => {
            // Swarm replaces a failed task with a new container: `value` containers that ran for a
            // minute, beside the one that runs throughout.
            let (running, group) = container_labels(target, project, "api", "1.running");
            let mut series = vec![gauge("container_last_seen", &running, 1.0)];
            for i in 0..value as u64 {
                let (gone, _) = container_labels(target, project, "api", &format!("1.gone{i}"));
                series.push(InputSeries { series: self::series("container_last_seen", &gone), values: "1 1".into() });
            }
            (series, group)
        }
    }
}

/// Input series under which the pressure ratio of `resource` is `ratio` (Docker CPU: the number of
/// cores is whole, so `ratio` is only approached).
fn pressure_feed(model: &Model, phase: &Phase, resource: &str, fires: bool) -> Vec<InputSeries> {
    let limit = PRESSURE_RATIO_PERCENT as f64 / 100.0;
    let factor = if fires { 1.02 } else { 0.98 };
    let request = |service: &topo::model::Service| match resource {
        "cpu" => service.resources.requests.cpu.map(|c| c.millis() as f64 / 1000.0),
        _ => service.resources.requests.memory.map(|m| m.bytes() as f64),
    };
    match phase.target {
        Target::K8s => {
            let allocatable: f64 = phase
                .nodes
                .values()
                .map(|n| if resource == "cpu" { n.cpu.millis() as f64 / 1000.0 } else { n.memory.bytes() as f64 })
                .sum();
            let mut series = Vec::new();
            for node in phase.nodes.keys() {
                let node_labels = labels(&[("node", node), ("resource", resource)]);
                let amount = if resource == "cpu" {
                    phase.nodes[node].cpu.millis() as f64 / 1000.0
                } else {
                    phase.nodes[node].memory.bytes() as f64
                };
                series.push(gauge("kube_node_status_allocatable", &node_labels, amount));
            }
            let pod = |name: &str| labels(&[("namespace", model.project.as_str()), ("pod", name)]);
            let mut running = pod("api-1");
            running.insert("phase".into(), "Running".into());
            series.push(gauge("kube_pod_status_phase", &running, 1.0));
            let mut requests = pod("api-1");
            requests.insert("container".into(), "api".into());
            requests.insert("resource".into(), resource.into());
            series.push(gauge("kube_pod_container_resource_requests", &requests, allocatable * limit * factor));
            // A finished pod's requests hold no room.
            let mut done = pod("job-1");
            done.insert("phase".into(), "Succeeded".into());
            series.push(gauge("kube_pod_status_phase", &done, 1.0));
            let mut done_requests = pod("job-1");
            done_requests.insert("container".into(), "job".into());
            done_requests.insert("resource".into(), resource.into());
            series.push(gauge("kube_pod_container_resource_requests", &done_requests, allocatable));
            series
        }
        Target::Compose | Target::Swarm => {
            let mut series = Vec::new();
            let mut requested = 0.0;
            for service in phase.services.values() {
                for replica in 0..service.replicas() {
                    let (container, _) = container_labels(
                        phase.target,
                        &model.project,
                        &phase.name,
                        &service.name,
                        &replica.to_string(),
                    );
                    series.push(gauge("container_last_seen", &container, 1.0));
                    // The same container of another phase holds no room on this one.
                    let (other, _) =
                        container_labels(phase.target, &model.project, "previous", &service.name, &replica.to_string());
                    series.push(gauge("container_last_seen", &other, 1.0));
                }
                requested += request(service).unwrap_or(0.0) * f64::from(service.replicas());
            }
            if resource == "cpu" {
                // The most cores under which the ratio is above the limit, or one more.
                let most = (requested / limit).ceil() as u64 - 1;
                assert!(most >= 1, "the requests of phase {} are too small to test", phase.number);
                let cores = if fires { most } else { most + 1 };
                for cpu in 0..cores {
                    let idle = labels(&[("instance", "node-1:9100"), ("cpu", &cpu.to_string()), ("mode", "idle")]);
                    series.push(counter("node_cpu_seconds_total", &idle, 0.5));
                }
            } else {
                let total = requested / (limit * factor);
                series.push(gauge("node_memory_MemTotal_bytes", &labels(&[("instance", "node-1:9100")]), total));
            }
            series
        }
    }
}

fn minutes(duration: Option<topo::spec::Duration>) -> u64 {
    duration.map_or(0, |d| d.millis().div_ceil(60_000))
}

/// The hot and cold test groups of one rule: it fires after `for` when the value is past the
/// threshold, not before, and never when the value is just short of it.
fn groups_for(
    alert: &str,
    rule_labels: &Labels,
    for_minutes: u64,
    settle: u64,
    hot: (Vec<InputSeries>, Labels),
    cold: Vec<InputSeries>,
) -> Vec<TestGroup> {
    let at = |m: u64| format!("{m}m");
    let after = for_minutes + settle;
    let mut fired = hot.1;
    fired.extend(rule_labels.clone());
    let mut hot_tests = Vec::new();
    if for_minutes >= 2 {
        hot_tests.push(AlertTest { eval_time: at(for_minutes - 1), alertname: alert.into(), exp_alerts: vec![] });
    }
    hot_tests.push(AlertTest {
        eval_time: at(after),
        alertname: alert.into(),
        exp_alerts: vec![ExpAlert { exp_labels: fired }],
    });
    vec![
        TestGroup {
            name: format!("{alert} fires"),
            interval: "1m".into(),
            input_series: hot.0,
            alert_rule_test: hot_tests,
        },
        TestGroup {
            name: format!("{alert} stays silent just short of its threshold"),
            interval: "1m".into(),
            input_series: cold,
            alert_rule_test: vec![AlertTest { eval_time: at(after), alertname: alert.into(), exp_alerts: vec![] }],
        },
    ]
}

/// The values just past a threshold and just short of it, in Prometheus' base units.
fn hot_and_cold(trigger: &Trigger, kind: Kind, target: Target) -> (f64, f64) {
    let threshold = rules::threshold_value(trigger.threshold);
    if kind == Kind::Restarts && target != Target::K8s {
        // Whole containers: one more than the threshold, and the threshold itself.
        assert!(matches!(trigger.threshold, Threshold::Number(_)));
        return (threshold.floor() + 1.0, threshold.floor());
    }
    let (past, short) = (threshold * 1.02, threshold * 0.98);
    if trigger.above { (past, short) } else { (short, past) }
}

#[test]
fn promtool_test_rules_proves_every_kind_of_trigger_fires_at_its_threshold() {
    let compiled = compile_bytes(EVERY_KIND.as_bytes(), "EVERY_KIND");
    let model = &compiled.model;
    let mut kinds_tested = Vec::new();
    for phase in &model.phases {
        let rendered = render(model, phase);
        let yaml = rendered.stream();
        let rules = rules_of(&yaml);
        let rule_labels: BTreeMap<String, Labels> = rules
            .iter()
            .map(|r| (r["alert"].as_str().unwrap().to_owned(), serde_norway::from_value(r["labels"].clone()).unwrap()))
            .collect();

        let mut groups = Vec::new();
        for trigger in &model.triggers {
            let Some(kind) = kind_of(trigger, phase.target) else {
                assert!(!rule_labels.contains_key(&trigger.name), "{} has no query, yet a rule", trigger.name);
                continue;
            };
            let labels = rule_labels.get(&trigger.name).unwrap_or_else(|| panic!("no rule for {}", trigger.name));
            let settle = settle_minutes(kind, phase.target);
            // A long `for` is an average over it, held for the rule's own short `for`: a value that
            // stays past the threshold from the start fires once that has passed.
            let for_minutes = minutes(Window::of(trigger).rule_for());
            if kind == Kind::Restarts && phase.target == Target::Swarm {
                assert!(for_minutes <= 40, "replaced containers count for an hour: test `for` up to 40m");
            }
            let (hot, cold) = hot_and_cold(trigger, kind, phase.target);
            let hot = feed(model, phase, trigger, kind, hot);
            let cold = feed(model, phase, trigger, kind, cold).0;
            groups.extend(groups_for(&trigger.name, labels, for_minutes, settle, hot, cold));
            kinds_tested.push((phase.target, kind));
        }
        for (resource, alert) in [("cpu", PRESSURE_ALERTS[0]), ("memory", PRESSURE_ALERTS[1])] {
            let labels = &rule_labels[alert];
            let hot = (pressure_feed(model, phase, resource, true), Labels::new());
            let cold = pressure_feed(model, phase, resource, false);
            groups.extend(groups_for(alert, labels, minutes(Some(PRESSURE_FOR)), 6, hot, cold));
            kinds_tested.push((phase.target, Kind::Pressure(resource)));
        }

        // Annotations print `$value`, whose exact digits are not what this test is about:
        // promtool compares them when present, so the tested copy of the rules leaves them out.
        let mut file: Value = serde_norway::from_str(&yaml).unwrap();
        for group in file["groups"].as_sequence_mut().unwrap() {
            for rule in group["rules"].as_sequence_mut().unwrap() {
                rule.as_mapping_mut().unwrap().remove("annotations");
            }
        }
        let input = validators::TempInput::new(names::RULES_FILE, &serde_norway::to_string(&file).unwrap()).unwrap();
        let test = TestFile {
            rule_files: vec![names::RULES_FILE.to_owned()],
            evaluation_interval: "1m".into(),
            tests: groups,
        };
        let test_path = input.add("alerts.test.yml", &serde_norway::to_string(&test).unwrap()).unwrap();
        validators::promtool_test_rules(&test_path).unwrap_or_else(|e| panic!("phase {}: {e}", phase.number));
    }
    for target in [Target::Compose, Target::Swarm, Target::K8s] {
        let kinds: Vec<Kind> = kinds_tested.iter().filter(|(t, _)| *t == target).map(|(_, k)| *k).collect();
        for expected in [
            Kind::NodeCpu,
            Kind::NodeMemory,
            Kind::NodeDisk,
            Kind::ServiceCpu,
            Kind::ServiceMemory,
            Kind::Latency(0.95),
            Kind::Latency(0.99),
            Kind::ErrorRate,
            Kind::QueueDepth,
            Kind::Restarts,
            Kind::CacheHitRate,
            Kind::Pressure("cpu"),
            Kind::Pressure("memory"),
        ] {
            assert!(kinds.contains(&expected), "{target:?}: {expected:?} untested");
        }
    }
    assert!(kinds_tested.contains(&(Target::K8s, Kind::Volume)));
}

/// A service's disk on a Docker target is its node's disk: said as a warning, and the rule
/// watches the nodes.
#[test]
fn a_service_disk_trigger_on_docker_targets_watches_the_nodes_and_says_so() {
    let compiled = compile_bytes(EVERY_KIND.as_bytes(), "EVERY_KIND");
    for phase in &compiled.model.phases {
        let rendered = render(&compiled.model, phase);
        let codes: Vec<&str> = rendered.diagnostics.iter().map(|d| d.code.as_str()).collect();
        let expected: &[&str] = if phase.target == Target::K8s { &[] } else { &["trigger-watches-nodes"] };
        assert_eq!(codes, expected, "phase {}", phase.number);
    }
}

/// A trigger on a service without a limit or request to measure against makes no rule, with a warning.
#[test]
fn a_service_cpu_trigger_needs_a_size() {
    let spec = "project: shop
phases: { 1: { name: one, target: compose, nodes: { vps-1: { role: manager, cpu: 2, memory: 4Gi } } } }
triggers: [ { metric: cpu, above: 80%, severity: warning, action: scale it, service: api } ]
services: { api: { image: shop/api:1.0 } }
";
    let compiled = compile_bytes(spec.as_bytes(), "spec");
    let rendered = render(&compiled.model, &compiled.model.phases[0]);
    let codes: Vec<&str> = rendered.diagnostics.iter().map(|d| d.code.as_str()).collect();
    assert_eq!(codes, ["trigger-without-query"]);
    assert!(rules_of(&rendered.stream()).is_empty());
}

/// The plan's pressure alerts are reserved: a trigger may not take their names.
#[test]
fn a_trigger_cannot_take_the_pressure_alert_name() {
    let spec = format!(
        "project: shop
phases: {{ 1: {{ name: one, target: compose, nodes: {{ vps-1: {{ role: manager, cpu: 2, memory: 4Gi }} }} }} }}
triggers: [ {{ metric: cpu, above: 80%, severity: warning, action: scale it, name: {} }} ]
services: {{ api: {{ image: shop/api:1.0 }} }}
",
        PRESSURE_ALERTS[0]
    );
    let Err(diags) = topo::compile(spec.as_bytes()) else { panic!("accepted") };
    assert!(diags.iter().any(|d| d.code == "duplicate-alert"));
}

/// Go templates in annotations: a `{{` in an action is printed, not run.
#[test]
fn an_action_with_braces_stays_text() {
    let spec = "project: shop
phases: { 1: { name: one, target: compose, nodes: { vps-1: { role: manager, cpu: 2, memory: 4Gi } } } }
triggers: [ { metric: cpu, above: 80%, severity: warning, action: 'run {{ scale }} now' } ]
services: { api: { image: shop/api:1.0 } }
";
    let compiled = compile_bytes(spec.as_bytes(), "spec");
    let yaml = render(&compiled.model, &compiled.model.phases[0]).stream();
    let input = validators::TempInput::new(names::RULES_FILE, &yaml).unwrap();
    validators::promtool_check_rules(input.path()).unwrap();
}

/// Long `for`s, as the seed's "CPU promedio > 70% por 7+ días" asks for them.
const LONG_WINDOWS: &str = r#"
project: shop
phases:
  1: { name: one, target: compose, nodes: { vps-1: { role: manager, cpu: 4, memory: 16Gi } } }
  2: { name: two, target: swarm, nodes: { vps-1: { role: manager, cpu: 4, memory: 16Gi }, vps-2: { cpu: 4, memory: 8Gi } } }
  3: { name: three, target: k8s, nodes: { n-1: { role: manager, cpu: 4, memory: 16Gi }, n-2: { cpu: 2, memory: 8Gi } } }
triggers:
  - { metric: cpu,        above: 80%, for: 7d, severity: critical, action: add a node }
  - { metric: memory,     above: 85%, for: 3d, severity: critical, action: add memory }
  - { metric: cpu,        above: 70%, for: 2d, severity: warning,  action: scale the api, service: api }
  - { metric: memory,     above: 75%, for: 1d, severity: warning,  action: raise the api's memory, service: api }
  - { metric: error_rate, above: 2%,  for: 6h, severity: warning,  action: look at the logs }
services:
  api:
    image: shop/api:1.0
    port: 8080
    replicas: 2
    resources: { limits: { cpu: "1", memory: 1Gi } }
"#;

/// Minutes the long-window test covers: a day and a half past the longest window.
const LONG_MINUTES: u64 = 8 * 24 * 60 + 12 * 60;
/// Minutes between its samples (two or three in each 5-minute rate), and between its evaluations
/// (a twelfth of a long window would be the rule's `for`, and an hour is the most).
const LONG_STEP: u64 = 2;
const LONG_EVALUATION: &str = "30m";

/// A load over time, as a share of what it is measured against, by minute.
type Load = fn(f64, u64) -> f64;

/// Past the threshold `t` all day, but for 20 minutes each night well under it (a backup window, a
/// quiet hour): the 5-minute value dips, the average stays above.
fn sustained_with_nightly_dips(t: f64, minute: u64) -> f64 {
    if minute % 1440 < 20 { 0.1 * t } else { (1.1 * t).min(1.0) }
}

/// Under the threshold `t` on average, though two hours a day above it.
fn lower_with_daily_peaks(t: f64, minute: u64) -> f64 {
    if minute % 1440 >= 600 && minute % 1440 < 720 { (1.2 * t).min(1.0) } else { 0.8 * t }
}

fn values(mut of: impl FnMut(u64) -> f64) -> String {
    (0..LONG_MINUTES / LONG_STEP).map(|i| format!("{}", of(i * LONG_STEP))).collect::<Vec<_>>().join(" ")
}

/// A counter whose rate from each sample to the next is `per_second(minute)`.
fn counter_by_minute(name: &str, labels: &Labels, per_second: impl Fn(u64) -> f64) -> InputSeries {
    let mut total = 0.0;
    let values = values(|m| {
        let now = total;
        total += per_second(m) * 60.0 * LONG_STEP as f64;
        now
    });
    InputSeries { series: series(name, labels), values }
}

fn gauge_by_minute(name: &str, labels: &Labels, of: impl Fn(u64) -> f64) -> InputSeries {
    InputSeries { series: series(name, labels), values: values(of) }
}

/// Input series under which the trigger's measure follows `load`, and the labels of its alert.
fn long_feed(model: &Model, phase: &Phase, trigger: &Trigger, load: Load) -> (Vec<InputSeries>, Labels) {
    let t = rules::threshold_value(trigger.threshold);
    let at = |m: u64| load(t, m);
    let node = labels(&[("instance", "node-1:9100")]);
    let api = |instance: &str| container_labels(phase.target, &model.project, &phase.name, "api", instance);
    match kind_of(trigger, phase.target).unwrap() {
        Kind::NodeCpu => {
            let idle = labels(&[("instance", "node-1:9100"), ("cpu", "0"), ("mode", "idle")]);
            (vec![counter_by_minute("node_cpu_seconds_total", &idle, |m| 1.0 - at(m))], node)
        }
        Kind::NodeMemory => {
            let total = 16.0 * GIB;
            let series = vec![
                gauge_by_minute("node_memory_MemTotal_bytes", &node, |_| total),
                gauge_by_minute("node_memory_MemAvailable_bytes", &node, |m| (1.0 - at(m)) * total),
            ];
            (series, node)
        }
        Kind::ServiceCpu => {
            let series = ["1", "2"].map(|i| counter_by_minute("container_cpu_usage_seconds_total", &api(i).0, at));
            (series.into(), api("1").1)
        }
        Kind::ServiceMemory => {
            let series =
                ["1", "2"].map(|i| gauge_by_minute("container_memory_working_set_bytes", &api(i).0, |m| at(m) * GIB));
            (series.into(), api("1").1)
        }
        Kind::ErrorRate => {
            let app = labels(&[(model.metrics.service_label.as_str(), "api")]);
            let mut errors = app.clone();
            errors.insert(model.metrics.status_label.clone(), "500".into());
            let mut ok = app.clone();
            ok.insert(model.metrics.status_label.clone(), "200".into());
            let name = &model.metrics.http_requests;
            let series = vec![
                counter_by_minute(name, &errors, |m| 10.0 * at(m)),
                counter_by_minute(name, &ok, |m| 10.0 * (1.0 - at(m))),
            ];
            (series, app)
        }
        other => panic!("no long-window feed for {other:?}"),
    }
}

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// A long `for` is an average over it: a load past the threshold with a dip each night fires (a
/// `for: 7d` over the 5-minute value would start again at every dip, and never fire), and a load
/// under it on average stays silent, however high its daily peaks.
#[test]
fn a_long_for_is_an_average_a_sustained_load_with_nightly_dips_fires_and_a_lower_one_does_not() {
    let compiled = compile_bytes(LONG_WINDOWS.as_bytes(), "LONG_WINDOWS");
    let model = &compiled.model;
    for phase in &model.phases {
        let yaml = render(model, phase).stream();
        let rule_labels: BTreeMap<String, Labels> = rules_of(&yaml)
            .iter()
            .map(|r| (r["alert"].as_str().unwrap().to_owned(), serde_norway::from_value(r["labels"].clone()).unwrap()))
            .collect();
        let mut groups = Vec::new();
        for trigger in &model.triggers {
            assert!(matches!(Window::of(trigger), Window::Averaged(_)), "{}", trigger.name);
            let (hot, mut fired) = long_feed(model, phase, trigger, sustained_with_nightly_dips);
            fired.extend(rule_labels[&trigger.name].clone());
            let (cold, _) = long_feed(model, phase, trigger, lower_with_daily_peaks);
            let eval_time = format!("{}m", LONG_MINUTES - 60);
            let alertname = trigger.name.clone();
            groups.push(TestGroup {
                name: format!("{alertname}: sustained, with nightly dips"),
                interval: format!("{LONG_STEP}m"),
                input_series: hot,
                alert_rule_test: vec![AlertTest {
                    eval_time: eval_time.clone(),
                    alertname: alertname.clone(),
                    exp_alerts: vec![ExpAlert { exp_labels: fired }],
                }],
            });
            groups.push(TestGroup {
                name: format!("{alertname}: lower on average, with daily peaks"),
                interval: format!("{LONG_STEP}m"),
                input_series: cold,
                alert_rule_test: vec![AlertTest { eval_time, alertname, exp_alerts: vec![] }],
            });
        }
        let mut file: Value = serde_norway::from_str(&yaml).unwrap();
        for group in file["groups"].as_sequence_mut().unwrap() {
            for rule in group["rules"].as_sequence_mut().unwrap() {
                rule.as_mapping_mut().unwrap().remove("annotations");
            }
        }
        let input = validators::TempInput::new(names::RULES_FILE, &serde_norway::to_string(&file).unwrap()).unwrap();
        let test = TestFile {
            rule_files: vec![names::RULES_FILE.to_owned()],
            evaluation_interval: LONG_EVALUATION.into(),
            tests: groups,
        };
        let test_path = input.add("alerts.test.yml", &serde_norway::to_string(&test).unwrap()).unwrap();
        validators::promtool_test_rules(&test_path).unwrap_or_else(|e| panic!("phase {}: {e}", phase.number));
    }
}
