//! The spec's words for traffic on Kubernetes: who else may call a service or
//! be called by it (beyond `depends_on`), where the ingress controller and the
//! monitoring stack run, and where a service serves its metrics.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Serialize;

use crate::yaml::SpecPath;

use super::decode::{Decode, Decoder, Fields};
use crate::yaml::Node;

/// Traffic the dependency graph does not show, for a service's Kubernetes NetworkPolicy: callers and destinations outside the spec (an external database, a cron job in another namespace).
#[derive(Clone, Debug, Default, PartialEq, JsonSchema, Serialize)]
#[schemars(deny_unknown_fields)]
pub struct Allow {
    /// Who else may connect to this service (its callers within the spec, from `depends_on`, always may).
    #[serde(default)]
    pub from: Vec<Peer>,
    /// Where else this service may connect (what it `depends_on` it always may).
    #[serde(default)]
    pub to: Vec<Peer>,
}

/// One end of a connection: an address range outside the cluster, or pods of a namespace. With neither `cidr`, `namespace` nor `pods`: anyone, anywhere.
#[derive(Clone, Debug, Default, PartialEq, JsonSchema, Serialize)]
#[schemars(deny_unknown_fields)]
pub struct Peer {
    /// Addresses outside the cluster (`10.0.8.0/24`, `0.0.0.0/0` for any). A NetworkPolicy cannot name a host: give the host's address range.
    pub cidr: Option<String>,
    /// Pods of this namespace (all of them, or those `pods` selects).
    pub namespace: Option<String>,
    /// Pods carrying all these labels, in `namespace` or else in the project's namespace.
    #[serde(default)]
    pub pods: BTreeMap<String, String>,
    /// TCP ports: in `from`, ports of this service (default: all of them); in `to`, the peer's ports (default: any).
    #[serde(default)]
    pub ports: Vec<u16>,
}

/// Where the ingress controller's pods run: the NetworkPolicies let them reach exposed services.
#[derive(Clone, Debug, Default, PartialEq, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct IngressController {
    /// Its namespace (default `kube-system`, where K3s runs Traefik).
    pub namespace: Option<String>,
    /// Labels of its pods (default `app.kubernetes.io/name: traefik` with the `traefik` class, else every pod of the namespace).
    pub pods: Option<BTreeMap<String, String>>,
}

/// The Prometheus stack of Kubernetes phases (kube-prometheus-stack).
#[derive(Clone, Debug, Default, PartialEq, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Monitoring {
    /// The namespace Prometheus runs in: its scrapes may reach the services' metrics ports (default `monitoring`).
    pub namespace: Option<String>,
    /// The Helm release of kube-prometheus-stack: the `release` label its default selectors pick ServiceMonitors and PrometheusRules by (default `kube-prometheus-stack`).
    pub release: Option<String>,
}

/// Where a service serves Prometheus metrics: a ServiceMonitor on Kubernetes, and a NetworkPolicy rule letting the monitoring namespace scrape it.
#[derive(Clone, Debug, Default, PartialEq, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ServiceMetrics {
    /// The port, one of the service's ports (default: its `port`).
    pub port: Option<u16>,
    /// The HTTP path (default `/metrics`).
    pub path: Option<String>,
}

impl Decode for Allow {
    const EXPECTED: &'static str = "allowed traffic (`from`, `to`)";

    fn decode(d: &mut Decoder, node: &Node, path: &SpecPath) -> Option<Self> {
        let mut f = Fields::open(d, node, path, "allow")?;
        let from = f.opt(d, "from").unwrap_or_default();
        let to = f.opt(d, "to").unwrap_or_default();
        f.finish(d);
        Some(Allow { from, to })
    }
}

impl Decode for Peer {
    const EXPECTED: &'static str = "a peer (`cidr`, `namespace`, `pods`, `ports`)";

    fn decode(d: &mut Decoder, node: &Node, path: &SpecPath) -> Option<Self> {
        let mut f = Fields::open(d, node, path, "peer")?;
        let cidr = f.opt(d, "cidr");
        let namespace = f.opt(d, "namespace");
        let pods = f.opt(d, "pods").unwrap_or_default();
        let ports = f.opt(d, "ports").unwrap_or_default();
        f.finish(d);
        Some(Peer { cidr, namespace, pods, ports })
    }
}

impl Decode for IngressController {
    const EXPECTED: &'static str = "the ingress controller's place (`namespace`, `pods`)";

    fn decode(d: &mut Decoder, node: &Node, path: &SpecPath) -> Option<Self> {
        let mut f = Fields::open(d, node, path, "controller")?;
        let namespace = f.opt(d, "namespace");
        let pods = f.opt(d, "pods");
        f.finish(d);
        Some(IngressController { namespace, pods })
    }
}

impl Decode for Monitoring {
    const EXPECTED: &'static str = "monitoring settings (`namespace`, `release`)";

    fn decode(d: &mut Decoder, node: &Node, path: &SpecPath) -> Option<Self> {
        let mut f = Fields::open(d, node, path, "monitoring")?;
        let namespace = f.opt(d, "namespace");
        let release = f.opt(d, "release");
        f.finish(d);
        Some(Monitoring { namespace, release })
    }
}

impl Decode for ServiceMetrics {
    const EXPECTED: &'static str = "a metrics endpoint (`port`, `path`)";

    fn decode(d: &mut Decoder, node: &Node, path: &SpecPath) -> Option<Self> {
        let mut f = Fields::open(d, node, path, "metrics")?;
        let port = f.opt(d, "port");
        let metrics_path = f.opt(d, "path");
        f.finish(d);
        Some(ServiceMetrics { port, path: metrics_path })
    }
}
