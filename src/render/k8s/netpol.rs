//! NetworkPolicies from the dependency graph.
//!
//! `default-deny` isolates every pod of the namespace for ingress and egress
//! and lets it resolve names (DNS to CoreDNS in kube-system, UDP and TCP 53).
//! Each service's own policy then allows, on ingress: the services that
//! `depends_on` it, on its ports; the ingress controller, on the exposed port;
//! the monitoring namespace, on the metrics port; and the spec's `allow.from`.
//! On egress: what it `depends_on`, on their ports, and `allow.to`. Policies
//! add up, so a connection passes when the caller's egress and the callee's
//! ingress both allow it; nothing else does.

use crate::code::Code;
use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
    NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::diag::Diagnostic;
use crate::model::{Model, Phase, Service};
use crate::render::service_path;
use crate::spec::{Peer, Target};

use super::{Objects, meta, project_labels, selector};

/// The namespace label Kubernetes sets on every namespace (1.21 and later).
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";
/// Where CoreDNS runs (K3s, kubeadm).
pub const DNS_NAMESPACE: &str = "kube-system";
/// The label of CoreDNS's pods (K3s, kubeadm).
pub const DNS_POD_LABEL: (&str, &str) = ("k8s-app", "kube-dns");
/// The name of the namespace-wide policy.
pub const DEFAULT_DENY: &str = "default-deny";
/// The label and port of cert-manager's HTTP-01 solver pods, which it runs in
/// the namespace of the certificate's Ingress.
pub const ACME_SOLVER_LABEL: (&str, &str) = ("acme.cert-manager.io/http01-solver", "true");
pub const ACME_SOLVER_PORT: u16 = 8089;
/// The policy that lets the ingress controller reach them.
pub const ACME_SOLVER_POLICY: &str = "acme-http01-solver";

/// The phase's NetworkPolicies, unless the phase opts out.
pub(super) fn render(model: &Model, phase: &Phase, out: &mut Objects) {
    if !phase.network_policies {
        return;
    }
    out.push("networkpolicy.yaml", DEFAULT_DENY, default_deny(model));
    if model.ingress.cluster_issuer.is_some()
        && phase.services.values().any(|s| s.expose.as_ref().is_some_and(|e| e.tls))
    {
        out.push("networkpolicy.yaml", ACME_SOLVER_POLICY, acme_solver(model));
    }
    let callers = callers(phase);
    for service in phase.services.values() {
        let policy =
            service_policy(model, phase, callers.get(service.name.as_str()).map_or(&[], Vec::as_slice), service);
        let file = format!("{}-networkpolicy.yaml", service.name);
        out.push_for(service, &file, &service.name, policy);
    }
}

fn default_deny(model: &Model) -> NetworkPolicy {
    let dns = NetworkPolicyPeer {
        namespace_selector: Some(match_labels([(NAMESPACE_NAME_LABEL, DNS_NAMESPACE)])),
        pod_selector: Some(match_labels([DNS_POD_LABEL])),
        ..Default::default()
    };
    let dns_port = |protocol: &str| NetworkPolicyPort {
        port: Some(IntOrString::Int(53)),
        protocol: Some(protocol.to_owned()),
        ..Default::default()
    };
    NetworkPolicy {
        metadata: ObjectMeta {
            name: Some(DEFAULT_DENY.to_owned()),
            namespace: Some(model.project.clone()),
            labels: Some(project_labels(model)),
            ..Default::default()
        },
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector::default()),
            policy_types: Some(vec!["Ingress".to_owned(), "Egress".to_owned()]),
            egress: Some(vec![NetworkPolicyEgressRule {
                to: Some(vec![dns]),
                ports: Some(vec![dns_port("UDP"), dns_port("TCP")]),
            }]),
            ingress: None,
        }),
    }
}

/// cert-manager answers an HTTP-01 challenge from a solver pod it starts in
/// this namespace, behind a temporary Ingress: the ingress controller must
/// reach it, or no certificate is ever issued.
fn acme_solver(model: &Model) -> NetworkPolicy {
    let ingress = &model.ingress;
    NetworkPolicy {
        metadata: ObjectMeta {
            name: Some(ACME_SOLVER_POLICY.to_owned()),
            namespace: Some(model.project.clone()),
            labels: Some(project_labels(model)),
            ..Default::default()
        },
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(match_labels([ACME_SOLVER_LABEL])),
            policy_types: Some(vec!["Ingress".to_owned()]),
            ingress: Some(vec![NetworkPolicyIngressRule {
                from: Some(vec![namespace_peer(&ingress.controller_namespace, &ingress.controller_pods)]),
                ports: Some(tcp_ports(&[ACME_SOLVER_PORT])),
            }]),
            egress: None,
        }),
    }
}

/// The services that depend on each service, in name order: one pass over the graph.
fn callers(phase: &Phase) -> BTreeMap<&str, Vec<&Service>> {
    let mut callers: BTreeMap<&str, Vec<&Service>> = BTreeMap::new();
    for caller in phase.services.values() {
        let mut named = std::collections::HashSet::new();
        for dependency in caller.depends_on.iter().filter(|d| named.insert(d.as_str())) {
            callers.entry(dependency.as_str()).or_default().push(caller);
        }
    }
    callers
}

fn service_policy(model: &Model, phase: &Phase, callers: &[&Service], service: &Service) -> NetworkPolicy {
    NetworkPolicy {
        metadata: meta(model, service, &service.name),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(selector(model, service)),
            policy_types: Some(vec!["Ingress".to_owned(), "Egress".to_owned()]),
            ingress: non_empty(ingress_rules(model, callers, service)),
            egress: non_empty(egress_rules(model, phase, service)),
        }),
    }
}

fn ingress_rules(model: &Model, callers: &[&Service], service: &Service) -> Vec<NetworkPolicyIngressRule> {
    let own_ports: Vec<u16> = service.ports.iter().map(|p| p.number).collect();
    let mut rules = Vec::new();
    let callers: Vec<NetworkPolicyPeer> = callers.iter().map(|caller| pods_peer(model, caller)).collect();
    if !callers.is_empty() && !own_ports.is_empty() {
        rules.push(NetworkPolicyIngressRule { from: Some(callers), ports: Some(tcp_ports(&own_ports)) });
    }
    if let Some(expose) = &service.expose {
        let ingress = &model.ingress;
        let controller = namespace_peer(&ingress.controller_namespace, &ingress.controller_pods);
        rules.push(NetworkPolicyIngressRule { from: Some(vec![controller]), ports: Some(tcp_ports(&[expose.port])) });
    }
    if let Some(metrics) = &service.metrics {
        let monitoring = namespace_peer(&model.monitoring.namespace, &BTreeMap::new());
        rules.push(NetworkPolicyIngressRule {
            from: Some(vec![monitoring]),
            ports: Some(tcp_ports(&[metrics.port.number])),
        });
    }
    for peer in &service.allow.from {
        let ports = if peer.ports.is_empty() { &own_ports } else { &peer.ports };
        rules.push(NetworkPolicyIngressRule { from: spec_peer(peer).map(|p| vec![p]), ports: some_ports(ports) });
    }
    rules
}

fn egress_rules(model: &Model, phase: &Phase, service: &Service) -> Vec<NetworkPolicyEgressRule> {
    let mut rules = Vec::new();
    for dependency in service.depends_on.iter().filter_map(|d| phase.services.get(d)) {
        let ports: Vec<u16> = dependency.ports.iter().map(|p| p.number).collect();
        if !ports.is_empty() {
            rules.push(NetworkPolicyEgressRule {
                to: Some(vec![pods_peer(model, dependency)]),
                ports: Some(tcp_ports(&ports)),
            });
        }
    }
    for peer in &service.allow.to {
        rules.push(NetworkPolicyEgressRule { to: spec_peer(peer).map(|p| vec![p]), ports: some_ports(&peer.ports) });
    }
    rules
}

/// The pods of a service of the project.
fn pods_peer(model: &Model, service: &Service) -> NetworkPolicyPeer {
    NetworkPolicyPeer { pod_selector: Some(selector(model, service)), ..Default::default() }
}

/// The pods of another namespace carrying `pods` (all of them when empty).
fn namespace_peer(namespace: &str, pods: &BTreeMap<String, String>) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        namespace_selector: Some(match_labels([(NAMESPACE_NAME_LABEL, namespace)])),
        pod_selector: (!pods.is_empty())
            .then(|| LabelSelector { match_labels: Some(pods.clone()), ..Default::default() }),
        ..Default::default()
    }
}

/// A peer of `allow`; `None` for one that names nothing, which is anyone.
fn spec_peer(peer: &Peer) -> Option<NetworkPolicyPeer> {
    let pods =
        (!peer.pods.is_empty()).then(|| LabelSelector { match_labels: Some(peer.pods.clone()), ..Default::default() });
    if let Some(cidr) = &peer.cidr {
        return Some(NetworkPolicyPeer {
            ip_block: Some(IPBlock { cidr: cidr.clone(), except: None }),
            ..Default::default()
        });
    }
    if let Some(namespace) = &peer.namespace {
        let mut peer = namespace_peer(namespace, &BTreeMap::new());
        peer.pod_selector = pods;
        return Some(peer);
    }
    pods.map(|pods| NetworkPolicyPeer { pod_selector: Some(pods), ..Default::default() })
}

/// A list, or `None` for an empty one: no rule of that direction.
fn non_empty<T>(rules: Vec<T>) -> Option<Vec<T>> {
    (!rules.is_empty()).then_some(rules)
}

fn tcp_ports(ports: &[u16]) -> Vec<NetworkPolicyPort> {
    ports
        .iter()
        .map(|port| NetworkPolicyPort {
            port: Some(IntOrString::Int(i32::from(*port))),
            protocol: Some("TCP".to_owned()),
            ..Default::default()
        })
        .collect()
}

/// `None` (every port) for no ports.
fn some_ports(ports: &[u16]) -> Option<Vec<NetworkPolicyPort>> {
    (!ports.is_empty()).then(|| tcp_ports(ports))
}

fn match_labels<'a>(labels: impl IntoIterator<Item = (&'a str, &'a str)>) -> LabelSelector {
    LabelSelector {
        match_labels: Some(labels.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect()),
        ..Default::default()
    }
}

/// Services with ports that no NetworkPolicy lets anyone reach, in a
/// Kubernetes phase that renders them: nothing in the phase `depends_on`
/// them, they are not exposed and `allow.from` names no caller. Warned once
/// per service, at its first such phase.
pub fn unreachable(model: &Model) -> Vec<Diagnostic> {
    let mut warned = BTreeSet::new();
    let mut diags = Vec::new();
    for phase in model.phases.iter().filter(|p| p.target == Target::K8s && p.network_policies) {
        let callees: BTreeSet<&str> =
            phase.services.values().flat_map(|caller| caller.depends_on.iter().map(String::as_str)).collect();
        for service in phase.services.values() {
            let called = callees.contains(service.name.as_str());
            if service.ports.is_empty()
                || called
                || service.expose.is_some()
                || !service.allow.from.is_empty()
                || !warned.insert(service.name.clone())
            {
                continue;
            }
            let ports: Vec<String> = service.ports.iter().map(|p| p.number.to_string()).collect();
            diags.push(
                Diagnostic::warning(
                    Code::UnreachableService,
                    format!(
                        "nothing may reach `{}` in phase {} ({}): no service depends on it, it is not exposed and its `allow` has no `from`, so its NetworkPolicy admits no caller on port {}",
                        service.name,
                        phase.number,
                        phase.name,
                        ports.join(", ")
                    ),
                    &service_path(service, ""),
                )
                .on_key()
                .label("no caller may connect")
                .help(format!(
                    "add `{}` to the `depends_on` of the services that call it, or `allow: {{ from: [...] }}` for callers outside the spec",
                    service.name
                )),
            );
        }
    }
    diags
}
