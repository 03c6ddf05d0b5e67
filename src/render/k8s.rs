//! The Kubernetes target (K3s first, any conformant cluster): typed
//! `k8s-openapi` objects for one phase.
//!
//! Per service: a ConfigMap for its environment, a Deployment (stateless), a
//! DaemonSet (global) or a StatefulSet with a headless Service and volume
//! claim templates (stateful), a Service for its ports, an Ingress when
//! exposed, an HPA when autoscaled and a PodDisruptionBudget when more than
//! one replica of a Deployment or StatefulSet runs. Secrets are only
//! referenced: one Secret per project, created out of band or rendered as an
//! ExternalSecret or a SealedSecret ([`secrets`]). NetworkPolicies
//! allow exactly the traffic of the dependency graph ([`netpol`]); with
//! `monitoring:`, kube-prometheus-stack's objects ([`monitoring`]).

pub mod issuer;
pub mod kustomization;
pub mod monitoring;
pub mod netpol;
pub mod secrets;

use crate::code::Code;
use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    DaemonSet, DaemonSetSpec, Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment, StatefulSet,
    StatefulSetPersistentVolumeClaimRetentionPolicy, StatefulSetSpec,
};
use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec, MetricSpec, MetricTarget,
    ResourceMetricSource,
};
use k8s_openapi::api::core::v1::{
    Affinity, Capabilities, ConfigMap, ConfigMapEnvSource, Container, ContainerPort, EmptyDirVolumeSource,
    EnvFromSource, EnvVar, EnvVarSource, ExecAction, HTTPGetAction, LocalObjectReference, Namespace, NodeAffinity,
    NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, PersistentVolumeClaim, PersistentVolumeClaimSpec,
    PersistentVolumeClaimVolumeSource, PodAffinity, PodAffinityTerm, PodAntiAffinity, PodSecurityContext, PodSpec,
    PodTemplateSpec, Probe as K8sProbe, ResourceRequirements, SeccompProfile, SecretKeySelector, SecurityContext,
    Service as K8sService, ServicePort, ServiceSpec, TCPSocketAction, TopologySpreadConstraint, Volume as K8sVolume,
    VolumeMount, VolumeResourceRequirements,
};
use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule, IngressServiceBackend, IngressSpec,
    IngressTLS, ServiceBackendPort,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::Serialize;

use crate::diag::{Diagnostic, Diagnostics};
use crate::model::names::secret_name;
use crate::model::{
    Amounts, Arg, Autoscale, Check, DEFAULT_INGRESS_CLASS, Expose, Model, Phase, Probe, Service, Volume,
};
use crate::spec::{AccessMode, Duration, Role, Spread, Target};

use crate::image::known::{self as images, Family};

use super::{Admitting, Body, Document, Rendered, service_path};
use std::sync::Arc;

/// The label K3s (and kubeadm) put on control-plane nodes.
pub const CONTROL_PLANE_LABEL: &str = "node-role.kubernetes.io/control-plane";
/// The label every node carries with its name.
pub const HOSTNAME_LABEL: &str = "kubernetes.io/hostname";
/// The annotation cert-manager reads to issue an Ingress's certificate.
pub const CLUSTER_ISSUER_ANNOTATION: &str = "cert-manager.io/cluster-issuer";
/// Pod annotation carrying a digest of the service's ConfigMap, so an env change rolls the pods.
pub const CONFIG_DIGEST_ANNOTATION: &str = "topo.dev/config-digest";
/// Capabilities the `restricted` Pod Security Standard lets a container add.
const RESTRICTED_CAPABILITIES: [&str; 1] = ["NET_BIND_SERVICE"];

/// Render one phase as Kubernetes objects.
pub fn render(model: &Model, phase: &Phase) -> Rendered {
    render_with(model, phase, false).0
}

/// One rendered object as the kustomize tree needs it: its document, the
/// service it belongs to, and the typed object as JSON (never re-parsed text).
#[derive(Clone, Debug)]
pub struct TreeObject {
    pub document: Document,
    /// The object's kind, as Kubernetes names it (`Deployment`).
    pub kind: String,
    pub name: String,
    /// The service whose object this is; `None` for what the phase shares (the namespace, `default-deny`, …).
    pub service: Option<String>,
    pub value: serde_json::Value,
}

/// Render one phase, and each object with its service and its JSON value, in the order of the documents.
pub fn render_objects(model: &Model, phase: &Phase) -> (Rendered, Vec<TreeObject>) {
    render_with(model, phase, true)
}

fn render_with(model: &Model, phase: &Phase, keep_values: bool) -> (Rendered, Vec<TreeObject>) {
    let mut out = Objects { keep_values, ..Objects::default() };
    let mut rendered = Rendered::default();
    out.push("namespace.yaml", &model.project, namespace(model, phase));
    if !model.env.is_empty() {
        let name = shared_config_map_name(model);
        let mut labels = BTreeMap::new();
        labels.insert("app.kubernetes.io/part-of".to_owned(), model.project.clone());
        labels.insert("app.kubernetes.io/managed-by".to_owned(), "topo".to_owned());
        let config = ConfigMap {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(model.project.clone()),
                labels: Some(labels),
                ..Default::default()
            },
            data: Some(model.env.clone()),
            ..Default::default()
        };
        out.push("configmap.yaml", &name, config);
    }
    let admitting = Admitting::new(phase);
    for service in phase.services.values() {
        out.service = Some(service.name.clone());
        render_service(model, &admitting, service, &mut out, &mut rendered);
        out.service = None;
    }
    for diag in super::volumes::errors(phase, Target::K8s, &super::volumes::pins(phase)) {
        rendered.diagnostics.push(diag);
    }
    netpol::render(model, phase, &mut out);
    monitoring::render(model, phase, &mut out);
    issuer::render(model, phase, &mut out);
    secrets::render(model, phase, &mut out, &mut rendered.notes);
    if let Some(middleware) = https_redirect_middleware(model, phase) {
        out.push("middleware.yaml", HTTPS_REDIRECT_MIDDLEWARE, middleware);
    }
    out.objects.sort_by(|a, b| (a.kind, &a.name).cmp(&(b.kind, &b.name)));
    rendered.documents =
        out.objects.iter().map(|o| Document { file: o.file.clone(), body: Body::K8s(o.manifest.clone()) }).collect();
    let mut listed = std::collections::HashSet::new();
    let resources: Vec<String> =
        out.objects.iter().filter(|o| listed.insert(o.file.as_str())).map(|o| o.file.clone()).collect();
    // No `namespace:`: every namespaced object names its own, and kustomize
    // would put one on a cluster-scoped custom resource (a ClusterIssuer) too.
    let kustomization = kustomization::Kustomization::new(resources, Vec::new());
    rendered
        .directory_only
        .push(Document { file: "kustomization.yaml".into(), body: Body::Kustomization(Arc::new(kustomization)) });
    rendered.notes.extend(notes(phase));
    let objects = out
        .objects
        .into_iter()
        .filter_map(|o| {
            let value = o.value?;
            let document = Document { file: o.file, body: Body::K8s(o.manifest) };
            Some(TreeObject { document, kind: format!("{:?}", o.kind), name: o.name, service: o.service, value })
        })
        .collect();
    (rendered, objects)
}

/// What to do by hand before applying, after the secrets' notes: label the nodes.
fn notes(phase: &Phase) -> Vec<String> {
    let mut notes = Vec::new();
    let labelled: Vec<String> = phase
        .nodes
        .values()
        .filter(|n| !n.labels.is_empty())
        .map(|n| {
            let labels: Vec<String> = n.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("kubectl label node {} {}", n.name, labels.join(" "))
        })
        .collect();
    if !labelled.is_empty() && phase.services.values().any(|s| !s.placement.labels.is_empty()) {
        notes.push(format!("label the nodes that placement refers to:\n{}", labelled.join("\n")));
    }
    notes
}

/// Kinds in the order they are printed (dependencies first), each variant named as Kubernetes names the kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Namespace,
    ClusterIssuer,
    ConfigMap,
    ExternalSecret,
    SealedSecret,
    PersistentVolumeClaim,
    Deployment,
    StatefulSet,
    DaemonSet,
    Service,
    Ingress,
    Middleware,
    HorizontalPodAutoscaler,
    PodDisruptionBudget,
    NetworkPolicy,
    ServiceMonitor,
    PrometheusRule,
}

/// Every kind of object topo writes, each its typed value.
macro_rules! manifests {
    ($($kind:ident($ty:ty)),* $(,)?) => {
        /// One Kubernetes object, as its typed value.
        #[derive(Serialize)]
        #[serde(untagged)]
        pub enum Manifest {
            $($kind(Box<$ty>)),*
        }

        impl Manifest {
            fn kind(&self) -> Kind {
                match self {
                    $(Manifest::$kind(_) => Kind::$kind),*
                }
            }
        }

        $(impl From<$ty> for Manifest {
            fn from(object: $ty) -> Self {
                Manifest::$kind(Box::new(object))
            }
        })*
    };
}

manifests! {
    Namespace(Namespace),
    ClusterIssuer(issuer::ClusterIssuer),
    ConfigMap(ConfigMap),
    ExternalSecret(secrets::ExternalSecret),
    SealedSecret(secrets::SealedSecret),
    PersistentVolumeClaim(PersistentVolumeClaim),
    Deployment(Deployment),
    StatefulSet(StatefulSet),
    DaemonSet(DaemonSet),
    Service(K8sService),
    Ingress(Ingress),
    Middleware(Middleware),
    HorizontalPodAutoscaler(HorizontalPodAutoscaler),
    PodDisruptionBudget(PodDisruptionBudget),
    NetworkPolicy(k8s_openapi::api::networking::v1::NetworkPolicy),
    ServiceMonitor(monitoring::ServiceMonitor),
    PrometheusRule(monitoring::PrometheusRule),
}

impl std::fmt::Debug for Manifest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.kind())
    }
}

struct Object {
    kind: Kind,
    name: String,
    file: String,
    manifest: Arc<Manifest>,
    service: Option<String>,
    value: Option<serde_json::Value>,
}

#[derive(Default)]
struct Objects {
    objects: Vec<Object>,
    /// The service whose objects are being pushed, if any.
    service: Option<String>,
    /// Whether to keep each object as JSON too (for the kustomize tree).
    keep_values: bool,
}

impl Objects {
    fn push(&mut self, file: &str, name: &str, object: impl Into<Manifest>) {
        let manifest = object.into();
        // Typed objects have string keys and no non-finite floats: serialising cannot fail.
        let value =
            self.keep_values.then(|| serde_json::to_value(&manifest).expect("typed objects serialise to JSON values"));
        self.objects.push(Object {
            kind: manifest.kind(),
            name: name.to_owned(),
            file: file.to_owned(),
            manifest: Arc::new(manifest),
            service: self.service.clone(),
            value,
        });
    }

    /// Push an object of `service` from outside its `render_service`.
    fn push_for(&mut self, service: &Service, file: &str, name: &str, object: impl Into<Manifest>) {
        let outer = self.service.replace(service.name.clone());
        self.push(file, name, object);
        self.service = outer;
    }
}

/// The labels of an object that belongs to the project rather than to one service.
fn project_labels(model: &Model) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/part-of".to_owned(), model.project.clone()),
        ("app.kubernetes.io/managed-by".to_owned(), "topo".to_owned()),
    ])
}

fn namespace(model: &Model, phase: &Phase) -> Namespace {
    // Enforce the strictest Pod Security Standard every service meets.
    let restricted = phase.services.values().all(meets_restricted);
    let level = if restricted { "restricted" } else { "baseline" };
    let mut labels = BTreeMap::new();
    labels.insert("app.kubernetes.io/part-of".to_owned(), model.project.clone());
    labels.insert("app.kubernetes.io/managed-by".to_owned(), "topo".to_owned());
    labels.insert("pod-security.kubernetes.io/enforce".to_owned(), level.to_owned());
    labels.insert("pod-security.kubernetes.io/warn".to_owned(), "restricted".to_owned());
    Namespace {
        metadata: ObjectMeta { name: Some(model.project.clone()), labels: Some(labels), ..Default::default() },
        ..Default::default()
    }
}

fn meets_restricted(service: &Service) -> bool {
    service.security.run_as_non_root
        && service.security.capabilities.iter().all(|c| RESTRICTED_CAPABILITIES.contains(&c.as_str()))
}

/// Labels that select a service's pods: stable across versions.
fn selector_labels(model: &Model, service: &Service) -> BTreeMap<String, String> {
    selector_labels_of(model, &service.name)
}

fn selector_labels_of(model: &Model, service: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".to_owned(), service.to_owned()),
        ("app.kubernetes.io/instance".to_owned(), model.project.clone()),
    ])
}

/// The recommended labels: the selector labels plus part-of, managed-by and version.
fn labels(model: &Model, service: &Service) -> BTreeMap<String, String> {
    let mut labels = selector_labels(model, service);
    labels.insert("app.kubernetes.io/part-of".to_owned(), model.project.clone());
    labels.insert("app.kubernetes.io/managed-by".to_owned(), "topo".to_owned());
    if let Some(tag) = service.image.tag().filter(|t| is_label_value(t)) {
        labels.insert("app.kubernetes.io/version".to_owned(), tag.to_owned());
    }
    labels
}

/// A valid label value: at most 63 characters, alphanumerics with `-_.` inside.
fn is_label_value(value: &str) -> bool {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    value.len() <= 63
        && value.chars().all(ok_char)
        && value.chars().next().is_none_or(|c| c.is_ascii_alphanumeric())
        && value.chars().last().is_none_or(|c| c.is_ascii_alphanumeric())
}

fn meta(model: &Model, service: &Service, name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: Some(model.project.clone()),
        labels: Some(labels(model, service)),
        ..Default::default()
    }
}

fn selector(model: &Model, service: &Service) -> LabelSelector {
    LabelSelector { match_labels: Some(selector_labels(model, service)), ..Default::default() }
}

fn config_map_name(service: &Service) -> String {
    format!("{}-env", service.name)
}

/// The ConfigMap with the spec's shared `env`: `<project>-env`.
fn shared_config_map_name(model: &Model) -> String {
    format!("{}-env", model.project)
}

fn render_service(model: &Model, admitting: &Admitting, service: &Service, out: &mut Objects, rendered: &mut Rendered) {
    let name = service.name.as_str();
    let file = |kind: &str| format!("{name}-{kind}.yaml");

    if !service.own_env.is_empty() {
        let config = ConfigMap {
            metadata: meta(model, service, &config_map_name(service)),
            data: Some(service.own_env.clone()),
            ..Default::default()
        };
        out.push(&file("configmap"), &config_map_name(service), config);
    }

    warn_unhonoured(service, rendered);
    if service.stateful {
        stateful_set(model, service, out, rendered);
    } else {
        stateless_workload(model, admitting, service, out, rendered);
    }
    if !service.ports.is_empty() || service.stateful {
        out.push(&file("service"), name, k8s_service(model, service));
    }
    if let Some(expose) = &service.expose {
        for (ingress_name, ingress) in ingresses(model, service, expose) {
            out.push(&file("ingress"), &ingress_name, ingress);
        }
    }
    if let Some(autoscale) = service.autoscale() {
        out.push(&file("hpa"), name, autoscaler(model, service, autoscale));
    }
    if let Some(pdb) = disruption_budget(model, admitting, service, rendered) {
        out.push(&file("pdb"), name, pdb);
    }
}

/// The replicas a workload states: none when an autoscaler owns the count.
fn workload_replicas(service: &Service) -> Option<i32> {
    if service.autoscale().is_some() { None } else { Some(count(service.replicas())) }
}

/// A stateful service: a StatefulSet with a claim template per volume.
fn stateful_set(model: &Model, service: &Service, out: &mut Objects, rendered: &mut Rendered) {
    let name = service.name.as_str();
    let pod = pod_template(model, service);
    let replicas = workload_replicas(service);
    let claims = service.own_volumes().map(|v| claim_template(service, v, rendered)).collect::<Vec<_>>();
    let set = StatefulSet {
        metadata: meta(model, service, name),
        spec: Some(StatefulSetSpec {
            replicas,
            selector: selector(model, service),
            service_name: Some(name.to_owned()),
            template: pod,
            volume_claim_templates: (!claims.is_empty()).then_some(claims),
            // Keep the data when the set is deleted or scaled down: volumes are the one thing not re-creatable.
            persistent_volume_claim_retention_policy: Some(StatefulSetPersistentVolumeClaimRetentionPolicy {
                when_deleted: Some("Retain".to_owned()),
                when_scaled: Some("Retain".to_owned()),
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    out.push(&format!("{name}-statefulset.yaml"), name, set);
}

/// A stateless service: its claims, then a Deployment (or a DaemonSet when global).
fn stateless_workload(
    model: &Model,
    admitting: &Admitting,
    service: &Service,
    out: &mut Objects,
    rendered: &mut Rendered,
) {
    let name = service.name.as_str();
    let file = |kind: &str| format!("{name}-{kind}.yaml");
    let pod = pod_template(model, service);
    let replicas = workload_replicas(service);
    for volume in &service.volumes {
        if volume.access == AccessMode::ReadWriteOnce && service.peak_replicas() > 1 {
            rendered.warn(
                Code::SingleNodeVolume,
                format!(
                    "volume `{}` is ReadWriteOnce: every replica of `{}` must run on the node that mounts it",
                    volume.name, service.name
                ),
                &service_path(service, "volumes").key(volume.name.as_str()),
                "use `access: ReadWriteMany` on a storage class that supports it, one replica, or `stateful: true`",
            );
        }
        if volume.from.is_some() {
            continue;
        }
        let claim = PersistentVolumeClaim {
            metadata: meta(model, service, &claim_name(service, volume)),
            spec: Some(claim_spec(service, volume, rendered)),
            ..Default::default()
        };
        out.push(&file("pvc"), &claim_name(service, volume), claim);
    }
    // A ReadWriteOnce volume cannot be attached twice: roll by recreating, not surging.
    let single_attach =
        service.volumes.iter().any(|v| matches!(v.access, AccessMode::ReadWriteOnce | AccessMode::ReadWriteOncePod));
    let strategy = deployment_strategy(admitting, service, single_attach);
    if service.is_global() {
        // One pod per node the nodeSelector admits; the default rolling update replaces one node's pod at a time.
        let daemon_set = DaemonSet {
            metadata: meta(model, service, name),
            spec: Some(DaemonSetSpec { selector: selector(model, service), template: pod, ..Default::default() }),
            ..Default::default()
        };
        out.push(&file("daemonset"), name, daemon_set);
    } else {
        let deployment = Deployment {
            metadata: meta(model, service, name),
            spec: Some(DeploymentSpec {
                replicas,
                selector: selector(model, service),
                template: pod,
                strategy,
                ..Default::default()
            }),
            ..Default::default()
        };
        out.push(&file("deployment"), name, deployment);
    }
}

/// The Service in front of the pods: ClusterIP, or headless for a StatefulSet.
fn k8s_service(model: &Model, service: &Service) -> K8sService {
    K8sService {
        metadata: meta(model, service, &service.name),
        spec: Some(ServiceSpec {
            type_: (!service.stateful).then(|| "ClusterIP".to_owned()),
            // Stateful sets get a headless Service: stable per-pod DNS names.
            cluster_ip: service.stateful.then(|| "None".to_owned()),
            selector: Some(selector_labels(model, service)),
            ports: (!service.ports.is_empty()).then(|| {
                service
                    .ports
                    .iter()
                    .map(|p| ServicePort {
                        name: Some(p.name.clone()),
                        port: i32::from(p.number),
                        target_port: Some(IntOrString::String(p.name.clone())),
                        protocol: Some("TCP".to_owned()),
                        ..Default::default()
                    })
                    .collect()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The HorizontalPodAutoscaler of an autoscaled service.
fn autoscaler(model: &Model, service: &Service, autoscale: &Autoscale) -> HorizontalPodAutoscaler {
    let name = service.name.as_str();
    let metric = |resource: &str, percent: crate::spec::Percent| MetricSpec {
        type_: "Resource".to_owned(),
        resource: Some(ResourceMetricSource {
            name: resource.to_owned(),
            target: MetricTarget {
                type_: "Utilization".to_owned(),
                average_utilization: Some(i32::try_from(percent.whole()).unwrap_or(i32::MAX)),
                ..Default::default()
            },
        }),
        ..Default::default()
    };
    let mut metrics = Vec::new();
    metrics.extend(autoscale.cpu.map(|p| metric("cpu", p)));
    metrics.extend(autoscale.memory.map(|p| metric("memory", p)));
    HorizontalPodAutoscaler {
        metadata: meta(model, service, name),
        spec: Some(HorizontalPodAutoscalerSpec {
            scale_target_ref: CrossVersionObjectReference {
                api_version: Some("apps/v1".to_owned()),
                kind: if service.stateful { "StatefulSet" } else { "Deployment" }.to_owned(),
                name: name.to_owned(),
            },
            min_replicas: Some(count(autoscale.min)),
            max_replicas: count(autoscale.max),
            metrics: Some(metrics),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A budget of one replica down at a time, for a Deployment or StatefulSet
/// with at least two replicas. None for a DaemonSet (`kubectl drain` leaves
/// its pods alone, and a `maxUnavailable` budget needs a replica count), nor
/// when the placement admits one node only: draining that node evicts one
/// replica, its replacement can only go back to the cordoned node and stays
/// Pending, and the budget then blocks every other eviction, so the drain hangs.
fn disruption_budget(
    model: &Model,
    admitting: &Admitting,
    service: &Service,
    rendered: &mut Rendered,
) -> Option<PodDisruptionBudget> {
    if service.least_replicas() <= 1 || service.is_global() {
        return None;
    }
    let admitting = admitting.nodes(&service.placement);
    if let [node] = &*admitting {
        let node = &node.name;
        rendered.warn(
            Code::NoDisruptionBudget,
            format!(
                "every replica of `{}` runs on {node}, the one node its placement admits: a PodDisruptionBudget would make `kubectl drain {node}` hang (the evicted replica's replacement stays Pending), so there is none",
                service.name
            ),
            &service_path(service, "placement"),
            "let the placement admit a second node so that a drain can move replicas there; until then draining the node stops the service",
        );
        return None;
    }
    Some(PodDisruptionBudget {
        metadata: meta(model, service, &service.name),
        spec: Some(PodDisruptionBudgetSpec {
            max_unavailable: Some(IntOrString::Int(1)),
            selector: Some(selector(model, service)),
            // A pod that is not ready protects nothing: let a node drain evict it.
            unhealthy_pod_eviction_policy: Some("AlwaysAllow".to_owned()),
            ..Default::default()
        }),
        ..Default::default()
    })
}

/// The Traefik annotations an Ingress's router reads.
pub const ROUTER_ENTRYPOINTS_ANNOTATION: &str = "traefik.ingress.kubernetes.io/router.entrypoints";
pub const ROUTER_TLS_ANNOTATION: &str = "traefik.ingress.kubernetes.io/router.tls";
pub const ROUTER_MIDDLEWARES_ANNOTATION: &str = "traefik.ingress.kubernetes.io/router.middlewares";
/// The project's one Traefik Middleware: a permanent redirect to https.
pub const HTTPS_REDIRECT_MIDDLEWARE: &str = "redirect-to-https";

/// Whether the phase's Ingresses are Traefik's and some is served over TLS:
/// then plain HTTP is redirected, as the compose and Swarm labels do.
fn redirects_to_https(model: &Model, phase: &Phase) -> bool {
    model.ingress.class == DEFAULT_INGRESS_CLASS
        && phase.services.values().any(|s| s.expose.as_ref().is_some_and(|e| e.tls))
}

/// Traefik's Middleware custom resource (traefik.io/v1alpha1), as far as topo writes it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Middleware {
    api_version: &'static str,
    kind: &'static str,
    metadata: ObjectMeta,
    spec: MiddlewareSpec,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MiddlewareSpec {
    redirect_scheme: RedirectScheme,
}

#[derive(Serialize)]
struct RedirectScheme {
    scheme: &'static str,
    permanent: bool,
}

fn https_redirect_middleware(model: &Model, phase: &Phase) -> Option<Middleware> {
    redirects_to_https(model, phase).then(|| Middleware {
        api_version: "traefik.io/v1alpha1",
        kind: "Middleware",
        metadata: ObjectMeta {
            name: Some(HTTPS_REDIRECT_MIDDLEWARE.to_owned()),
            namespace: Some(model.project.clone()),
            labels: Some(project_labels(model)),
            ..Default::default()
        },
        spec: MiddlewareSpec { redirect_scheme: RedirectScheme { scheme: "https", permanent: true } },
    })
}

/// A service's Ingress. With TLS on Traefik, two: Traefik serves a TLS
/// router on `websecure` only (plain HTTP would get a 404), so a second
/// Ingress `<service>-http` on `web` carries the redirect middleware.
fn ingresses(model: &Model, service: &Service, expose: &Expose) -> Vec<(String, Ingress)> {
    let name = service.name.as_str();
    let traefik = model.ingress.class == DEFAULT_INGRESS_CLASS;
    let mut annotations = BTreeMap::new();
    if expose.tls
        && let Some(issuer) = &model.ingress.cluster_issuer
    {
        annotations.insert(CLUSTER_ISSUER_ANNOTATION.to_owned(), issuer.clone());
    }
    if !(expose.tls && traefik) {
        return vec![(name.to_owned(), ingress(model, service, expose, name, annotations, true))];
    }
    annotations.insert(ROUTER_ENTRYPOINTS_ANNOTATION.to_owned(), "websecure".to_owned());
    annotations.insert(ROUTER_TLS_ANNOTATION.to_owned(), "true".to_owned());
    let secure = ingress(model, service, expose, name, annotations, true);
    let middleware = format!("{}-{HTTPS_REDIRECT_MIDDLEWARE}@kubernetescrd", model.project);
    let plain = BTreeMap::from([
        (ROUTER_ENTRYPOINTS_ANNOTATION.to_owned(), "web".to_owned()),
        (ROUTER_MIDDLEWARES_ANNOTATION.to_owned(), middleware),
    ]);
    let http_name = format!("{name}-http");
    let redirect = ingress(model, service, expose, &http_name, plain, false);
    vec![(name.to_owned(), secure), (http_name, redirect)]
}

fn ingress(
    model: &Model,
    service: &Service,
    expose: &Expose,
    name: &str,
    annotations: BTreeMap<String, String>,
    tls: bool,
) -> Ingress {
    let port_name = service.ports.iter().find(|p| p.number == expose.port).map(|p| p.name.clone());
    let port = match port_name {
        Some(name) => ServiceBackendPort { name: Some(name), number: None },
        None => ServiceBackendPort { name: None, number: Some(i32::from(expose.port)) },
    };
    let mut metadata = meta(model, service, name);
    metadata.annotations = (!annotations.is_empty()).then_some(annotations);
    let tls = (tls && expose.tls).then(|| IngressTLS {
        hosts: Some(vec![expose.host.clone()]),
        secret_name: Some(format!("{}-tls", service.name)),
    });
    Ingress {
        metadata,
        spec: Some(IngressSpec {
            ingress_class_name: Some(model.ingress.class.clone()),
            rules: Some(vec![IngressRule {
                host: Some(expose.host.clone()),
                http: Some(HTTPIngressRuleValue {
                    paths: vec![HTTPIngressPath {
                        path: Some(expose.path.clone()),
                        path_type: "Prefix".to_owned(),
                        backend: IngressBackend {
                            service: Some(IngressServiceBackend { name: service.name.clone(), port: Some(port) }),
                            ..Default::default()
                        },
                    }],
                }),
            }]),
            tls: tls.map(|t| vec![t]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Warnings for what Kubernetes cannot do as the spec asks.
fn warn_unhonoured(service: &Service, rendered: &mut Rendered) {
    if !service.depends_on.is_empty() {
        rendered.warn(
            Code::DependsOnNotEnforced,
            format!(
                "Kubernetes starts `{}` without waiting for {}",
                service.name,
                service.depends_on.iter().map(|d| format!("`{d}`")).collect::<Vec<_>>().join(", ")
            ),
            &service_path(service, "depends_on"),
            "readiness probes keep traffic away until a pod is ready; make the service retry its connections at startup",
        );
    }
    // An error under `topo check`; rendering says it too, as a warning.
    if let Some(error) = unknown_user(service) {
        rendered.warn(Code::ImageUserUnknown, error.message, &error.path, error.help.as_deref().unwrap_or_default());
    }
}

fn count(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn seconds(duration: Duration) -> i32 {
    i32::try_from(duration.secs_ceil()).unwrap_or(i32::MAX)
}

fn pod_template(model: &Model, service: &Service) -> PodTemplateSpec {
    let (volumes, mounts) = pod_volumes(service);
    let container = container(model, service, mounts);
    let mut annotations = BTreeMap::new();
    if !service.env.is_empty() {
        annotations.insert(CONFIG_DIGEST_ANNOTATION.to_owned(), digest(&service.env));
    }
    let (node_selector, affinity) = node_selection(model, service);
    let spread = spread_constraints(model, service);
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(labels(model, service)),
            annotations: (!annotations.is_empty()).then_some(annotations),
            ..Default::default()
        }),
        spec: Some(PodSpec {
            automount_service_account_token: Some(false),
            enable_service_links: Some(false),
            termination_grace_period_seconds: Some(i64::from(seconds(service.stop_grace_period))),
            security_context: Some(pod_security(service)),
            containers: vec![container],
            volumes: (!volumes.is_empty()).then_some(volumes),
            node_selector,
            affinity,
            topology_spread_constraints: spread,
            image_pull_secrets: model
                .registries
                .get(service.image.registry())
                .map(|name| vec![LocalObjectReference { name: name.clone() }]),
            ..Default::default()
        }),
    }
}

/// The pod's volumes and the container's mounts: an emptyDir per writable
/// path of a read-only root, then each of the service's volumes (its claim,
/// unless a StatefulSet's claim template provides it).
fn pod_volumes(service: &Service) -> (Vec<K8sVolume>, Vec<VolumeMount>) {
    let security = &service.security;
    let mut volumes = Vec::new();
    let mut mounts = Vec::new();
    if security.read_only_root_filesystem {
        for (i, path) in security.writable.iter().enumerate() {
            let volume = if i == 0 { "tmp".to_owned() } else { format!("writable-{i}") };
            volumes.push(K8sVolume {
                name: volume.clone(),
                empty_dir: Some(EmptyDirVolumeSource::default()),
                ..Default::default()
            });
            mounts.push(VolumeMount { name: volume, mount_path: path.clone(), ..Default::default() });
        }
    }
    for volume in &service.volumes {
        if volume.from.is_some() || !service.stateful {
            volumes.push(K8sVolume {
                name: volume.name.clone(),
                persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                    claim_name: claim_name(service, volume),
                    read_only: volume.read_only.then_some(true),
                }),
                ..Default::default()
            });
        }
        mounts.push(VolumeMount {
            name: volume.name.clone(),
            mount_path: volume.mount.clone(),
            read_only: volume.read_only.then_some(true),
            ..Default::default()
        });
    }
    (volumes, mounts)
}

/// The container's environment: PGDATA where needed and each secret from the
/// project's Secret (`env`), then the shared and the service's own ConfigMap (`envFrom`).
fn container_env(model: &Model, service: &Service) -> (Option<Vec<EnvVar>>, Option<Vec<EnvFromSource>>) {
    let env: Vec<EnvVar> = pgdata_env(service)
        .into_iter()
        .chain(service.secrets.iter().map(|secret| EnvVar {
            name: secret.clone(),
            value_from: Some(EnvVarSource {
                secret_key_ref: Some(SecretKeySelector {
                    name: secret_name(model),
                    key: secret.clone(),
                    optional: Some(false),
                }),
                ..Default::default()
            }),
            ..Default::default()
        }))
        // After the secrets they name: the kubelet expands `$(NAME)` from the variables above it.
        .chain(service.secret_env.iter().map(|(key, arg)| EnvVar {
            name: key.clone(),
            value: Some(kubelet_args(std::slice::from_ref(arg)).remove(0)),
            ..Default::default()
        }))
        .collect();
    // The shared ConfigMap first: a later source wins, so the service's own values override it.
    let mut sources = Vec::new();
    if !model.env.is_empty() {
        sources.push(shared_config_map_name(model));
    }
    if !service.own_env.is_empty() {
        sources.push(config_map_name(service));
    }
    let env_from = (!sources.is_empty()).then(|| {
        sources
            .into_iter()
            .map(|name| EnvFromSource {
                config_map_ref: Some(ConfigMapEnvSource { name, optional: Some(false) }),
                ..Default::default()
            })
            .collect()
    });
    ((!env.is_empty()).then_some(env), env_from)
}

/// Arguments as the kubelet reads them: it expands `$(NAME)` from the container's env, where each
/// secret of the service is a variable of its own, and reads `$$` as one `$`; so a secret is
/// `$(NAME)` and every `$` of the text is doubled, to reach the process as written.
fn kubelet_args(args: &[Arg]) -> Vec<String> {
    args.iter().map(|a| a.render(|text| text.replace('$', "$$"), |secret| format!("$({secret})"))).collect()
}

/// The service's one container.
fn container(model: &Model, service: &Service, mounts: Vec<VolumeMount>) -> Container {
    let security = &service.security;
    let (env, env_from) = container_env(model, service);
    let health = service.health.as_ref();
    let startup = health.and_then(|h| h.startup.as_ref().map(|c| probe(c, None)).or_else(|| startup_from(&h.liveness)));
    Container {
        name: service.name.clone(),
        image: Some(service.image.to_string()),
        image_pull_policy: Some(if service.image.is_pinned() { "IfNotPresent" } else { "Always" }.to_owned()),
        command: service.entrypoint.as_deref().map(kubelet_args),
        args: service.command.as_deref().map(kubelet_args),
        ports: (!service.ports.is_empty()).then(|| {
            service
                .ports
                .iter()
                .map(|p| ContainerPort {
                    name: Some(p.name.clone()),
                    container_port: i32::from(p.number),
                    protocol: Some("TCP".to_owned()),
                    ..Default::default()
                })
                .collect()
        }),
        env,
        env_from,
        resources: resources(service),
        liveness_probe: health.map(|h| probe(&h.liveness, None)),
        readiness_probe: health.map(|h| probe(&h.readiness, None)),
        startup_probe: startup,
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".to_owned()]),
                add: (!security.capabilities.is_empty()).then(|| security.capabilities.clone()),
            }),
            read_only_root_filesystem: Some(security.read_only_root_filesystem),
            run_as_non_root: Some(security.run_as_non_root),
            ..Default::default()
        }),
        volume_mounts: (!mounts.is_empty()).then_some(mounts),
        ..Default::default()
    }
}

/// The pod's security context. `runAsNonRoot` needs a numeric user: the
/// kubelet refuses an image whose `USER` is root or a name. Without
/// `run_as_user`, a known image runs as its own user (its group, and that
/// group owning its volumes); `topo check` refuses an unknown one
/// (`image-user-unknown`). `OnRootMismatch` spares a large volume a walk of
/// every file at each start when its ownership is already right.
fn pod_security(service: &Service) -> PodSecurityContext {
    let security = &service.security;
    let known = images::known(&service.image).filter(|_| security.run_as_non_root && security.run_as_user.is_none());
    let fs_group = security.fs_group.or(known.filter(|_| !service.volumes.is_empty()).map(|k| k.gid));
    PodSecurityContext {
        run_as_non_root: Some(security.run_as_non_root),
        run_as_user: security.run_as_user.or(known.map(|k| k.uid)).map(i64::from),
        run_as_group: security.run_as_group.or(known.map(|k| k.gid)).map(i64::from),
        fs_group: fs_group.map(i64::from),
        fs_group_change_policy: fs_group.map(|_| "OnRootMismatch".to_owned()),
        seccomp_profile: Some(SeccompProfile { type_: "RuntimeDefault".to_owned(), ..Default::default() }),
        ..Default::default()
    }
}

/// The postgres images up to 17 keep PGDATA at `/var/lib/postgresql/data`.
/// A volume mounted there is root-owned on K3s's local-path provisioner
/// (fsGroup changes only its group), and initdb refuses a data directory its
/// user does not own: PGDATA goes one level down, into a directory initdb
/// creates, as the image's documentation recommends. postgres 18 images keep
/// their data in `/var/lib/postgresql/18/docker` below a volume at
/// `/var/lib/postgresql` and need nothing. An `env` PGDATA wins.
pub fn pgdata_env(service: &Service) -> Option<EnvVar> {
    const PGDATA: &str = "/var/lib/postgresql/data";
    let postgres = images::known(&service.image).is_some_and(|k| k.family == Family::Postgres);
    let up_to_17 = images::postgres_major(&service.image).is_none_or(|major| major <= 17);
    let mounted = service.volumes.iter().any(|v| v.mount.trim_end_matches('/') == PGDATA);
    (postgres && up_to_17 && mounted && !service.env.contains_key("PGDATA")).then(|| EnvVar {
        name: "PGDATA".to_owned(),
        value: Some(format!("{PGDATA}/pgdata")),
        ..Default::default()
    })
}

/// What `topo check` refuses in a Kubernetes phase: a service that must run
/// as non-root (the default) with an image whose user topo does not know and
/// no `run_as_user`. The kubelet would refuse to start it unless the image's
/// `USER` is numeric, which topo cannot see.
pub fn check(model: &Model) -> Diagnostics {
    let mut diags = Diagnostics::default();
    let k8s_services = model.phases.iter().filter(|p| p.target == Target::K8s).flat_map(|p| p.services.values());
    let mut seen = std::collections::BTreeSet::new();
    for service in k8s_services {
        if let Some(diag) = unknown_user(service)
            && seen.insert(service.name.clone())
        {
            diags.push(diag);
        }
    }
    for diag in netpol::unreachable(model) {
        diags.push(diag);
    }
    diags
}

/// The error of an unknown image's user, or none.
fn unknown_user(service: &Service) -> Option<Diagnostic> {
    let security = &service.security;
    if !security.run_as_non_root || security.run_as_user.is_some() || images::known(&service.image).is_some() {
        return None;
    }
    let message = format!(
        "Kubernetes must run `{}` as non-root, and topo does not know the user of `{}`: the kubelet refuses to start it unless the image's `USER` is numeric",
        service.name, service.image
    );
    let help = "add the image's numeric user to the service: `security: { run_as_user: 1000 }` (1000 is the `bun` and `node` user of images built on oven/bun and node; see `USER` in its Dockerfile), or `security: { run_as_non_root: false }` for an image that must start as root";
    Some(Diagnostic::error(Code::ImageUserUnknown, message, &service_path(service, "image")).help(help))
}

/// nodeSelector for what a label can say; node affinity for "not a
/// control-plane node"; pod anti-affinity for `spread: hard`.
fn node_selection(model: &Model, service: &Service) -> (Option<BTreeMap<String, String>>, Option<Affinity>) {
    let placement = &service.placement;
    let mut node_labels = BTreeMap::new();
    if placement.role == Some(Role::Manager) {
        node_labels.insert(CONTROL_PLANE_LABEL.to_owned(), "true".to_owned());
    }
    if let Some(node) = &placement.node {
        node_labels.insert(HOSTNAME_LABEL.to_owned(), node.clone());
    }
    node_labels.extend(placement.labels.clone());
    let node_affinity = (placement.role == Some(Role::Worker)).then(|| NodeAffinity {
        required_during_scheduling_ignored_during_execution: Some(NodeSelector {
            node_selector_terms: vec![NodeSelectorTerm {
                match_expressions: Some(vec![NodeSelectorRequirement {
                    key: CONTROL_PLANE_LABEL.to_owned(),
                    operator: "DoesNotExist".to_owned(),
                    values: None,
                }]),
                ..Default::default()
            }],
        }),
        ..Default::default()
    });
    let pod_anti_affinity = spreads_hard(service).then(|| PodAntiAffinity {
        required_during_scheduling_ignored_during_execution: Some(vec![PodAffinityTerm {
            label_selector: Some(selector(model, service)),
            topology_key: HOSTNAME_LABEL.to_owned(),
            ..Default::default()
        }]),
        ..Default::default()
    });
    // Beside the pods whose ReadWriteOnce claim it mounts: that volume attaches to their node only.
    let beside = volume_owners_beside(service);
    let pod_affinity = (!beside.is_empty()).then(|| PodAffinity {
        required_during_scheduling_ignored_during_execution: Some(
            beside
                .iter()
                .map(|owner| PodAffinityTerm {
                    label_selector: Some(LabelSelector {
                        match_labels: Some(selector_labels_of(model, owner)),
                        ..Default::default()
                    }),
                    topology_key: HOSTNAME_LABEL.to_owned(),
                    ..Default::default()
                })
                .collect(),
        ),
        ..Default::default()
    });
    let any = node_affinity.is_some() || pod_affinity.is_some() || pod_anti_affinity.is_some();
    let affinity = any.then_some(Affinity { node_affinity, pod_affinity, pod_anti_affinity });
    ((!node_labels.is_empty()).then_some(node_labels), affinity)
}

/// `spread: hard` means at most one replica per node, as Swarm's
/// `max_replicas_per_node: 1` does: a required pod anti-affinity on the
/// hostname. (A DaemonSet runs one pod per node by construction.)
fn spreads_hard(service: &Service) -> bool {
    service.placement.spread == Some(Spread::Hard) && service.peak_replicas() > 1 && !service.is_global()
}

/// How a Deployment rolls: `Recreate` when a single-attach volume cannot be
/// mounted twice; with `spread: hard` and a replica on every admitted node, one
/// old pod goes before its replacement comes (a surge pod has nowhere to go).
fn deployment_strategy(admitting: &Admitting, service: &Service, single_attach: bool) -> Option<DeploymentStrategy> {
    if single_attach {
        return Some(DeploymentStrategy { type_: Some("Recreate".to_owned()), ..Default::default() });
    }
    let admitting = admitting.nodes(&service.placement).len();
    (spreads_hard(service) && service.peak_replicas() as usize >= admitting).then(|| DeploymentStrategy {
        type_: Some("RollingUpdate".to_owned()),
        rolling_update: Some(RollingUpdateDeployment {
            max_surge: Some(IntOrString::Int(0)),
            max_unavailable: Some(IntOrString::Int(1)),
        }),
    })
}

/// Spread replicas over nodes, best effort, when more than one can run
/// (`spread: soft`, the default; `hard` is the anti-affinity above).
fn spread_constraints(model: &Model, service: &Service) -> Option<Vec<TopologySpreadConstraint>> {
    if service.peak_replicas() <= 1 || service.is_global() || spreads_hard(service) {
        return None;
    }
    Some(vec![TopologySpreadConstraint {
        max_skew: 1,
        topology_key: HOSTNAME_LABEL.to_owned(),
        when_unsatisfiable: "ScheduleAnyway".to_owned(),
        label_selector: Some(selector(model, service)),
        // Count only the pods of the same rollout, so a rolling update is not skewed by the old ones.
        match_label_keys: (!service.stateful).then(|| vec!["pod-template-hash".to_owned()]),
        ..Default::default()
    }])
}

fn quantities(amounts: Amounts) -> Option<BTreeMap<String, Quantity>> {
    let mut map = BTreeMap::new();
    if let Some(cpu) = amounts.cpu {
        map.insert("cpu".to_owned(), Quantity(cpu.to_string()));
    }
    if let Some(memory) = amounts.memory {
        map.insert("memory".to_owned(), Quantity(memory.to_string()));
    }
    (!map.is_empty()).then_some(map)
}

fn resources(service: &Service) -> Option<ResourceRequirements> {
    let requests = quantities(service.resources.requests);
    let limits = quantities(service.resources.limits);
    (requests.is_some() || limits.is_some()).then(|| ResourceRequirements { requests, limits, ..Default::default() })
}

fn probe(check: &Check, failure_threshold: Option<u32>) -> K8sProbe {
    let mut probe = K8sProbe {
        period_seconds: Some(seconds(check.interval).max(1)),
        timeout_seconds: Some(seconds(check.timeout).max(1)),
        failure_threshold: Some(count(failure_threshold.unwrap_or(check.retries).max(1))),
        initial_delay_seconds: check.initial_delay.map(seconds),
        ..Default::default()
    };
    match &check.probe {
        Probe::Http { path, port } => {
            probe.http_get = Some(HTTPGetAction {
                path: Some(path.clone()),
                port: IntOrString::Int(i32::from(*port)),
                ..Default::default()
            });
        }
        Probe::Tcp { port } => {
            probe.tcp_socket = Some(TCPSocketAction { port: IntOrString::Int(i32::from(*port)), ..Default::default() });
        }
        Probe::Exec { argv } => probe.exec = Some(ExecAction { command: Some(argv.clone()) }),
        Probe::Shell { line } => {
            probe.exec = Some(ExecAction { command: Some(vec!["/bin/sh".to_owned(), "-c".to_owned(), line.clone()]) });
        }
    }
    probe
}

/// A start period becomes a startup probe: the same check, allowed to fail
/// for the whole period before liveness takes over.
fn startup_from(check: &Check) -> Option<K8sProbe> {
    let period = check.start_period?;
    let interval = check.interval.millis().max(1000);
    let attempts = period.millis().div_ceil(interval);
    let mut startup = probe(check, Some(u32::try_from(attempts).unwrap_or(u32::MAX).max(1)));
    startup.initial_delay_seconds = check.initial_delay.map(seconds);
    Some(startup)
}

/// The claim a pod mounts for a volume: a Deployment's own, or, for a volume
/// `from` another service, that service's (a StatefulSet's is its first replica's).
fn claim_name(service: &Service, volume: &Volume) -> String {
    match &volume.from {
        Some(owner) if owner.stateful => format!("{}-{}-0", volume.name, owner.service),
        Some(owner) => format!("{}-{}", owner.service, volume.name),
        None => format!("{}-{}", service.name, volume.name),
    }
}

/// The services a pod must run beside: the owners of the volumes it mounts
/// `from` them when the claim attaches to one node (`ReadWriteOnce`).
pub fn volume_owners_beside(service: &Service) -> Vec<&str> {
    let mut owners: Vec<&str> = service
        .shared_volumes()
        .filter(|v| v.access == AccessMode::ReadWriteOnce)
        .filter_map(|v| v.from.as_ref().map(|o| o.service.as_str()))
        .collect();
    owners.sort_unstable();
    owners.dedup();
    owners
}

fn claim_spec(service: &Service, volume: &Volume, rendered: &mut Rendered) -> PersistentVolumeClaimSpec {
    let size = match volume.size {
        Some(size) => size.to_string(),
        None => {
            rendered.diagnostics.push(
                Diagnostic::error(
                    Code::VolumeWithoutSize,
                    format!("volume `{}` of `{}` needs a size on Kubernetes", volume.name, service.name),
                    &service_path(service, "volumes").key(volume.name.as_str()),
                )
                .help("give it one, for example `size: 10Gi`"),
            );
            "1Gi".to_owned()
        }
    };
    PersistentVolumeClaimSpec {
        access_modes: Some(vec![volume.access.as_str().to_owned()]),
        storage_class_name: volume.storage_class.clone(),
        resources: Some(VolumeResourceRequirements {
            requests: Some(BTreeMap::from([("storage".to_owned(), Quantity(size))])),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn claim_template(service: &Service, volume: &Volume, rendered: &mut Rendered) -> PersistentVolumeClaim {
    PersistentVolumeClaim {
        metadata: ObjectMeta { name: Some(volume.name.clone()), ..Default::default() },
        spec: Some(claim_spec(service, volume, rendered)),
        ..Default::default()
    }
}

/// A short, stable digest of a service's environment (FNV-1a, 64 bits, hex).
fn digest(env: &BTreeMap<String, String>) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for (key, value) in env {
        for byte in key.bytes().chain([0]).chain(value.bytes()).chain([0]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}
