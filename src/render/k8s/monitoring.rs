//! The objects kube-prometheus-stack reads, when the spec says it runs
//! (`monitoring:`): a `PrometheusRule` with the phase's alert rules — the same
//! typed rules the rules target writes — and a `ServiceMonitor` for each
//! service that declares `metrics`. Both carry `release: <helm release>`, the
//! label the stack's default rule and ServiceMonitor selectors match. Without
//! `monitoring:` there are none: `kubectl apply` fails on a kind whose CRD the
//! cluster lacks.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use serde::Serialize;

use crate::model::names::rule_name;
use crate::model::{MetricsEndpoint, Model, Phase, Service};
use crate::render::Rendered;
use crate::render::rules::{self, RuleFile};

use super::{Objects, labels, project_labels, selector_labels};

/// The API group and version of prometheus-operator's resources.
pub const API_VERSION: &str = "monitoring.coreos.com/v1";
/// The label kube-prometheus-stack's default selectors match.
pub const RELEASE_LABEL: &str = "release";

/// A `PrometheusRule` (monitoring.coreos.com/v1): its spec is a rules file's body.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PrometheusRule {
    api_version: &'static str,
    kind: &'static str,
    metadata: ObjectMeta,
    spec: RuleFile,
}

/// A `ServiceMonitor` (monitoring.coreos.com/v1), as far as topo writes it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceMonitor {
    api_version: &'static str,
    kind: &'static str,
    metadata: ObjectMeta,
    spec: ServiceMonitorSpec,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ServiceMonitorSpec {
    selector: LabelSelector,
    endpoints: Vec<Endpoint>,
}

/// One scrape endpoint: a named port of the selected Services.
#[derive(Serialize)]
struct Endpoint {
    port: String,
    path: String,
}

/// The phase's PrometheusRule and ServiceMonitors, when the spec names a monitoring stack.
pub(super) fn render(model: &Model, phase: &Phase, out: &mut Objects) {
    if !model.monitoring.enabled {
        return;
    }
    // The rules target reports the rules' warnings and notes; here they would be said twice.
    let (file, _notes) = rules::rule_file(model, phase, &mut Rendered::default());
    let rule = PrometheusRule {
        api_version: API_VERSION,
        kind: "PrometheusRule",
        metadata: ObjectMeta {
            name: Some(rule_name(model)),
            namespace: Some(model.project.clone()),
            labels: Some(with_release(model, project_labels(model))),
            ..Default::default()
        },
        spec: file,
    };
    out.push("prometheusrule.yaml", &rule_name(model), rule);
    for service in phase.services.values() {
        if let Some(metrics) = &service.metrics {
            let monitor = service_monitor(model, service, metrics);
            let file = format!("{}-servicemonitor.yaml", service.name);
            out.push_for(service, &file, &service.name, monitor);
        }
    }
}

fn service_monitor(model: &Model, service: &Service, metrics: &MetricsEndpoint) -> ServiceMonitor {
    ServiceMonitor {
        api_version: API_VERSION,
        kind: "ServiceMonitor",
        metadata: ObjectMeta {
            name: Some(service.name.clone()),
            namespace: Some(model.project.clone()),
            labels: Some(with_release(model, labels(model, service))),
            ..Default::default()
        },
        spec: ServiceMonitorSpec {
            selector: LabelSelector { match_labels: Some(selector_labels(model, service)), ..Default::default() },
            endpoints: vec![Endpoint { port: metrics.port.name.clone(), path: metrics.path.clone() }],
        },
    }
}

fn with_release(model: &Model, mut labels: BTreeMap<String, String>) -> BTreeMap<String, String> {
    labels.insert(RELEASE_LABEL.to_owned(), model.monitoring.release.clone());
    labels
}
