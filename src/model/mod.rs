//! The resolved model: one complete, target-neutral view of each phase.
//!
//! Built from a spec that passed validation. Here phased values are resolved,
//! the shared `env` is merged into each service, requests fall back to limits,
//! and every default is applied — last, so that nothing upstream has to know
//! them. Targets and the plan read only these types.

pub mod args;
pub mod names;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::image::{ImageRef, known};
use crate::spec::{
    self, AccessMode, AlertSeverity, Cpu, Duration, HttpClient, Memory, Metric, Percent, Role, SecretsAs, Spread,
    Target, Threshold,
};
pub use args::{Arg, Piece};

/// Share of a node the plan aims to keep free, unless a phase says otherwise.
pub const DEFAULT_HEADROOM: u64 = 20;
/// Ingress class when the spec names none (K3s ships Traefik).
pub const DEFAULT_INGRESS_CLASS: &str = "traefik";
/// Health check timing defaults (compose's and Kubernetes' usual values).
pub const DEFAULT_CHECK_INTERVAL: Duration = Duration::from_secs(10);
pub const DEFAULT_CHECK_TIMEOUT: Duration = Duration::from_secs(5);
pub const DEFAULT_CHECK_RETRIES: u32 = 3;
pub const DEFAULT_STOP_GRACE: Duration = Duration::from_secs(30);

/// A whole resolved spec.
#[derive(Clone, Debug, Serialize)]
pub struct Model {
    pub project: String,
    pub ingress: Ingress,
    /// Every declared secret name, sorted.
    pub secrets: Vec<String>,
    /// Where the Kubernetes Secret of those secrets comes from.
    pub secrets_from: SecretsSource,
    /// The shared env, as given (each service's `env` already includes it).
    pub env: BTreeMap<String, String>,
    pub triggers: Vec<Trigger>,
    /// The names of the application metrics that built-in triggers query.
    pub metrics: AppMetrics,
    /// Where kube-prometheus-stack runs (Kubernetes phases).
    pub monitoring: Monitoring,
    /// Registry host → the name of its pull Secret (Kubernetes `imagePullSecrets`).
    pub registries: BTreeMap<String, String>,
    /// Phases in growth order.
    pub phases: Vec<Phase>,
}

impl Model {
    pub fn phase(&self, number: u32) -> Option<&Phase> {
        self.phases.iter().find(|p| p.number == number)
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Ingress {
    pub class: String,
    /// cert-manager ClusterIssuer for k8s targets; `None` without TLS.
    pub cluster_issuer: Option<String>,
    /// Traefik certresolver for compose and Swarm targets; `None` without TLS.
    pub certresolver: Option<String>,
    /// The ingress controller's namespace and pod labels (empty: every pod of it), for NetworkPolicies.
    pub controller_namespace: String,
    pub controller_pods: BTreeMap<String, String>,
    /// The ACME account of the ClusterIssuer topo renders (`ingress.acme`); none: the issuer exists already.
    pub acme: Option<Acme>,
}

/// How often External Secrets Operator reads the values again, by default.
pub const DEFAULT_SECRETS_REFRESH: Duration = Duration::from_secs(3600);
/// Where `kubeseal` looks for the sealed-secrets controller by default (its own defaults).
pub const DEFAULT_SEALED_SECRETS_NAMESPACE: &str = "kube-system";
pub const DEFAULT_SEALED_SECRETS_CONTROLLER: &str = "sealed-secrets-controller";

/// Where the project's Kubernetes Secret comes from (`secrets_from`), defaults applied.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub enum SecretsSource {
    /// Created by the user (`kubectl create secret generic`).
    #[default]
    OutOfBand,
    /// An ExternalSecret synced from a store.
    External {
        store: String,
        /// `SecretStore` or `ClusterSecretStore`.
        store_kind: &'static str,
        refresh: Duration,
        /// Every declared secret → its key in the store.
        keys: BTreeMap<String, String>,
    },
    /// A SealedSecret unsealed by the controller.
    Sealed {
        controller_namespace: String,
        controller_name: String,
        /// Secret → ciphertext, for the secrets the spec gives one for.
        encrypted: BTreeMap<String, String>,
    },
}

/// Let's Encrypt's production ACME directory.
pub const DEFAULT_ACME_SERVER: &str = "https://acme-v02.api.letsencrypt.org/directory";

#[derive(Clone, Debug, Serialize)]
pub struct Acme {
    pub email: String,
    pub server: String,
}

/// Where K3s runs its Traefik and CoreDNS.
pub const DEFAULT_CONTROLLER_NAMESPACE: &str = "kube-system";
/// The label of the pods of K3s' Traefik (its Helm chart's `app.kubernetes.io/name`).
pub const TRAEFIK_POD_LABEL: (&str, &str) = ("app.kubernetes.io/name", "traefik");
pub const DEFAULT_MONITORING_NAMESPACE: &str = "monitoring";
pub const DEFAULT_MONITORING_RELEASE: &str = "kube-prometheus-stack";
pub const DEFAULT_METRICS_PATH: &str = "/metrics";

/// kube-prometheus-stack's place.
#[derive(Clone, Debug, Serialize)]
pub struct Monitoring {
    /// The spec names the stack (`monitoring:`): render the PrometheusRule and ServiceMonitors its CRDs define.
    pub enabled: bool,
    pub namespace: String,
    /// The Helm release name: the `release` label its selectors want.
    pub release: String,
}

/// Where a service serves its metrics.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MetricsEndpoint {
    pub port: Port,
    pub path: String,
}

/// Application metric names; the defaults are the Prometheus client libraries' usual names.
pub const DEFAULT_HTTP_DURATION: &str = "http_request_duration_seconds";
pub const DEFAULT_HTTP_REQUESTS: &str = "http_requests_total";
pub const DEFAULT_STATUS_LABEL: &str = "code";
/// What a scrape job is named after, in Prometheus' own and kube-prometheus' ServiceMonitor configurations.
pub const DEFAULT_SERVICE_LABEL: &str = "job";
pub const DEFAULT_QUEUE_DEPTH: &str = "queue_depth";

#[derive(Clone, Debug, Serialize)]
pub struct AppMetrics {
    /// Histogram base name, without `_bucket`.
    pub http_duration: String,
    pub http_requests: String,
    pub status_label: String,
    pub service_label: String,
    pub queue_depth: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Trigger {
    pub name: String,
    pub metric: Metric,
    /// Fire when the value is above (`true`) or below (`false`) the threshold.
    pub above: bool,
    pub threshold: Threshold,
    #[serde(rename = "for", skip_serializing_if = "Option::is_none")]
    pub for_: Option<Duration>,
    pub severity: AlertSeverity,
    pub action: String,
    pub service: Option<String>,
    pub expr: Option<String>,
}

/// One phase, fully resolved.
#[derive(Clone, Debug, Serialize)]
pub struct Phase {
    pub number: u32,
    pub name: String,
    pub target: Target,
    pub headroom: Percent,
    /// Swarm: encrypt the overlay network between nodes (the spec's `encrypt_network`, else whether the phase has several nodes).
    pub encrypt_network: bool,
    /// Kubernetes: render NetworkPolicies (the spec's `network_policies`, default `true`).
    pub network_policies: bool,
    pub nodes: BTreeMap<String, Node>,
    pub services: BTreeMap<String, Service>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Node {
    pub name: String,
    pub role: Role,
    pub cpu: Cpu,
    pub memory: Memory,
    pub disk: Option<Memory>,
    /// Price per month in cents.
    pub cost_cents: Option<u64>,
    pub labels: BTreeMap<String, String>,
    /// The spec's own reserve for this node; the plan supplies per-target defaults where absent.
    pub reserve_cpu: Option<Cpu>,
    pub reserve_memory: Option<Memory>,
}

/// A service as it runs in one phase.
#[derive(Clone, Debug, Serialize)]
pub struct Service {
    pub name: String,
    pub image: ImageRef,
    /// The main port first (named after the service's protocol role: `http`), then named ports by name.
    pub ports: Vec<Port>,
    /// Its arguments may name the service's secrets (`${NAME}`), which each target fills in.
    pub entrypoint: Option<Vec<Arg>>,
    pub command: Option<Vec<Arg>>,
    /// How many replicas run in this phase: a count, an autoscaler's range, or one per node.
    pub scale: Scale,
    pub resources: Resources,
    /// Shared env merged with the service's own (which wins): what the container sees.
    pub env: BTreeMap<String, String>,
    /// What the service's own `env` adds to, or changes in, the shared env
    /// (a target that ships the shared env once, as Kubernetes does, adds only these).
    pub own_env: BTreeMap<String, String>,
    /// Its own env entries whose value names one of its secrets (`DB_URL:
    /// postgres://app:${DB_PASSWORD}@db/app`): never a value in any output,
    /// each target fills the secret in (not in `env` or `own_env`).
    pub secret_env: BTreeMap<String, args::Arg>,
    pub secrets: Vec<String>,
    /// How Swarm delivers the secrets (compose always uses env).
    pub secrets_as: SecretsAs,
    pub health: Option<Health>,
    pub expose: Option<Expose>,
    pub depends_on: Vec<String>,
    pub stateful: bool,
    pub volumes: Vec<Volume>,
    pub placement: Placement,
    pub security: Security,
    pub stop_grace_period: Duration,
    pub metrics: Option<MetricsEndpoint>,
    /// Traffic beyond `depends_on` (Kubernetes NetworkPolicies).
    pub allow: spec::Allow,
}

impl Service {
    /// The volumes it declares itself, not those it mounts `from` another service.
    pub fn own_volumes(&self) -> impl Iterator<Item = &Volume> {
        self.volumes.iter().filter(|v| v.from.is_none())
    }

    /// The volumes it mounts `from` another service.
    pub fn shared_volumes(&self) -> impl Iterator<Item = &Volume> {
        self.volumes.iter().filter(|v| v.from.is_some())
    }

    /// The service's main port, if it listens on one.
    pub fn main_port(&self) -> Option<u16> {
        self.ports.first().map(|p| p.number)
    }

    /// The count where no autoscaler runs ([`Scale::replicas`]).
    pub fn replicas(&self) -> u32 {
        self.scale.replicas()
    }

    /// One replica on each node the placement admits ([`Scale::is_global`]).
    pub fn is_global(&self) -> bool {
        self.scale.is_global()
    }

    /// The autoscaler, when one owns the count.
    pub fn autoscale(&self) -> Option<&Autoscale> {
        self.scale.autoscale()
    }

    /// Replicas at the peak: the autoscaler's max, or the fixed count.
    pub fn peak_replicas(&self) -> u32 {
        self.autoscale().map_or(self.replicas(), |a| a.max.max(self.replicas()))
    }

    /// The fixed count as `target` runs it: a global service runs one replica per node its placement
    /// admits, which on compose (one node) is one.
    pub fn fixed_replicas(&self, target: Target) -> u32 {
        if self.is_global() && target == Target::Compose { 1 } else { self.replicas() }
    }

    /// The fewest replicas that run: the autoscaler's min, or the fixed count.
    pub fn least_replicas(&self) -> u32 {
        self.autoscale().map_or(self.replicas(), |a| a.min)
    }
}

/// How many replicas of a service run in a phase.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum Scale {
    /// A count the scheduler places.
    Fixed(u32),
    /// An autoscaler (Kubernetes) between its min and max; `replicas` is what
    /// the targets without one (compose, Swarm) run.
    Autoscaled { replicas: u32, autoscale: Autoscale },
    /// One replica on each of the `nodes` nodes the placement admits.
    Global { nodes: u32 },
}

impl Scale {
    /// The count where no autoscaler runs: the fixed count, the autoscaled
    /// service's `replicas`, or a global service's nodes.
    pub fn replicas(&self) -> u32 {
        match *self {
            Scale::Fixed(n) | Scale::Autoscaled { replicas: n, .. } | Scale::Global { nodes: n } => n,
        }
    }

    /// One replica on each node the placement admits (Swarm `mode: global`, a DaemonSet).
    pub fn is_global(&self) -> bool {
        matches!(self, Scale::Global { .. })
    }

    /// The autoscaler, when one owns the count.
    pub fn autoscale(&self) -> Option<&Autoscale> {
        match self {
            Scale::Autoscaled { autoscale, .. } => Some(autoscale),
            Scale::Fixed(_) | Scale::Global { .. } => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Port {
    pub name: String,
    pub number: u16,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Autoscale {
    pub min: u32,
    pub max: u32,
    pub cpu: Option<Percent>,
    pub memory: Option<Percent>,
}

/// Requests and limits; a request absent in the spec is the limit, as in Kubernetes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Resources {
    pub requests: Amounts,
    pub limits: Amounts,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Amounts {
    pub cpu: Option<Cpu>,
    pub memory: Option<Memory>,
}

/// Liveness and readiness always both set (one check serves both when only one was given).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Health {
    pub liveness: Check,
    pub readiness: Check,
    pub startup: Option<Check>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Check {
    pub probe: Probe,
    pub interval: Duration,
    pub timeout: Duration,
    pub retries: u32,
    pub initial_delay: Option<Duration>,
    pub start_period: Option<Duration>,
    /// What compose and Swarm run instead of their rendering of `probe`: only `Exec` or `Shell`.
    pub compose_test: Option<Probe>,
    /// The program compose and Swarm make an `http` check's request with, when the spec names one.
    pub http_client: Option<HttpClient>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Probe {
    Http {
        path: String,
        port: u16,
    },
    Tcp {
        port: u16,
    },
    /// Run as is.
    Exec {
        argv: Vec<String>,
    },
    /// Run by `/bin/sh -c`.
    Shell {
        line: String,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Expose {
    pub host: String,
    pub path: String,
    pub port: u16,
    pub tls: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Volume {
    pub name: String,
    pub mount: String,
    /// The service that declares it, when it is not this one (`from`); its
    /// size, access and storage class are then that service's.
    pub from: Option<VolumeOwner>,
    pub size: Option<Memory>,
    pub access: AccessMode,
    pub storage_class: Option<String>,
    pub read_only: bool,
}

/// The service whose volume another one mounts.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VolumeOwner {
    pub service: String,
    /// A StatefulSet on Kubernetes: its claim is its first replica's (`<volume>-<service>-0`).
    pub stateful: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Placement {
    pub role: Option<Role>,
    pub node: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub spread: Option<Spread>,
}

impl Placement {
    /// Whether `node` satisfies every constraint.
    pub fn admits(&self, node: &Node) -> bool {
        self.role.is_none_or(|role| role == node.role)
            && self.node.as_ref().is_none_or(|name| *name == node.name)
            && self.labels.iter().all(|(k, v)| node.labels.get(k) == Some(v))
    }
}

/// Security settings with topo's restrictive defaults applied.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Security {
    pub run_as_user: Option<u32>,
    pub run_as_group: Option<u32>,
    pub fs_group: Option<u32>,
    pub run_as_non_root: bool,
    /// Whether the spec itself asked for `run_as_non_root: true` (rather than
    /// topo's default): a target that cannot enforce it warns only then.
    pub run_as_non_root_asked: bool,
    pub read_only_root_filesystem: bool,
    pub capabilities: Vec<String>,
    /// Paths a read-only root keeps writable (tmpfs on Docker, emptyDir on
    /// Kubernetes): `/tmp`, what the image writes outside its volumes, then
    /// the spec's `writable`, each once. Empty when the root is writable.
    pub writable: Vec<String>,
}

/// Resolve a validated spec. Call only on a spec without errors: values the
/// validator guarantees (a main port for an http check, say) are taken as given.
pub fn resolve(spec: &spec::Spec) -> Model {
    let (cluster_issuer, certresolver) = match spec.ingress.as_ref().and_then(|i| i.tls.as_ref()) {
        Some(spec::Tls::Same(name)) => (Some(name.clone()), Some(name.clone())),
        Some(spec::Tls::Split(names)) => (Some(names.cluster_issuer.clone()), Some(names.certresolver.clone())),
        None => (None, None),
    };
    let class = spec.ingress.as_ref().and_then(|i| i.class.clone()).unwrap_or_else(|| DEFAULT_INGRESS_CLASS.to_owned());
    let controller = spec.ingress.as_ref().and_then(|i| i.controller.clone()).unwrap_or_default();
    let default_pods = if class == DEFAULT_INGRESS_CLASS {
        BTreeMap::from([(TRAEFIK_POD_LABEL.0.to_owned(), TRAEFIK_POD_LABEL.1.to_owned())])
    } else {
        BTreeMap::new()
    };
    let ingress = Ingress {
        class,
        cluster_issuer,
        certresolver,
        controller_namespace: controller.namespace.unwrap_or_else(|| DEFAULT_CONTROLLER_NAMESPACE.to_owned()),
        controller_pods: controller.pods.unwrap_or(default_pods),
        acme: spec.ingress.as_ref().and_then(|i| i.acme.as_ref()).map(|a| Acme {
            email: a.email.clone(),
            server: a.server.clone().unwrap_or_else(|| DEFAULT_ACME_SERVER.to_owned()),
        }),
    };
    let monitoring = Monitoring {
        enabled: spec.monitoring.is_some(),
        ..resolve_monitoring(spec.monitoring.clone().unwrap_or_default())
    };

    let mut secrets = spec.secrets.clone();
    secrets.sort();
    secrets.dedup();
    let phases = spec
        .phases
        .0
        .iter()
        .map(|(number, phase)| resolve_phase(spec, *number, phase, ingress.certresolver.is_some()))
        .collect();
    Model {
        project: spec.project.clone(),
        env: spec.env.iter().map(|(k, v)| (k.clone(), v.0.clone())).collect(),
        ingress,
        secrets_from: resolve_secrets_from(spec, &secrets),
        secrets,
        triggers: spec.triggers.iter().map(resolve_trigger).collect(),
        metrics: resolve_metrics(spec.metrics.as_ref()),
        monitoring,
        registries: spec.registries.iter().map(|(host, r)| (host.clone(), r.pull_secret.clone())).collect(),
        phases,
    }
}

fn resolve_secrets_from(spec: &spec::Spec, secrets: &[String]) -> SecretsSource {
    match spec.secrets_from.clone().unwrap_or_default() {
        spec::SecretsFrom::OutOfBand => SecretsSource::OutOfBand,
        spec::SecretsFrom::ExternalSecrets(external) => SecretsSource::External {
            store: external.store,
            store_kind: external.store_kind.unwrap_or_default().as_str(),
            refresh: external.refresh.unwrap_or(DEFAULT_SECRETS_REFRESH),
            keys: secrets
                .iter()
                .map(|s| {
                    let key = external.keys.get(s).cloned().unwrap_or_else(|| format!("{}/{s}", spec.project));
                    (s.clone(), key)
                })
                .collect(),
        },
        spec::SecretsFrom::SealedSecrets(sealed) => SecretsSource::Sealed {
            controller_namespace: sealed
                .controller_namespace
                .unwrap_or_else(|| DEFAULT_SEALED_SECRETS_NAMESPACE.to_owned()),
            controller_name: sealed.controller_name.unwrap_or_else(|| DEFAULT_SEALED_SECRETS_CONTROLLER.to_owned()),
            encrypted: sealed.encrypted,
        },
    }
}

fn resolve_monitoring(monitoring: spec::Monitoring) -> Monitoring {
    Monitoring {
        enabled: true,
        namespace: monitoring.namespace.unwrap_or_else(|| DEFAULT_MONITORING_NAMESPACE.to_owned()),
        release: monitoring.release.unwrap_or_else(|| DEFAULT_MONITORING_RELEASE.to_owned()),
    }
}

fn resolve_metrics(metrics: Option<&spec::Metrics>) -> AppMetrics {
    let metrics = metrics.cloned().unwrap_or_default();
    let or = |value: Option<String>, default: &str| value.unwrap_or_else(|| default.to_owned());
    AppMetrics {
        http_duration: or(metrics.http_duration, DEFAULT_HTTP_DURATION),
        http_requests: or(metrics.http_requests, DEFAULT_HTTP_REQUESTS),
        status_label: or(metrics.status_label, DEFAULT_STATUS_LABEL),
        service_label: or(metrics.service_label, DEFAULT_SERVICE_LABEL),
        queue_depth: or(metrics.queue_depth, DEFAULT_QUEUE_DEPTH),
    }
}

fn resolve_trigger(trigger: &spec::Trigger) -> Trigger {
    Trigger {
        name: trigger.name.clone().unwrap_or_else(|| default_alert_name(trigger)),
        metric: trigger.metric.clone(),
        above: trigger.below.is_none(),
        // Validation guarantees exactly one of `above` and `below`.
        threshold: trigger.above.or(trigger.below).unwrap_or(Threshold::Number(0.0)),
        for_: trigger.for_,
        severity: trigger.severity,
        action: trigger.action.clone(),
        service: trigger.service.clone(),
        expr: trigger.expr.clone(),
    }
}

/// The alerts of the plan's own pressure rule (Σ requests against allocatable), which triggers may not take.
pub const PRESSURE_ALERTS: [&str; 2] = ["TopoCpuRequestsPressure", "TopoMemoryRequestsPressure"];
/// The share of allocatable above which the requests of a phase put its nodes under pressure.
pub const PRESSURE_RATIO_PERCENT: u64 = 85;

/// `TopoCpuCritical`, `TopoLatencyP95Warning`, `TopoQueueDepthWorkerWarning`.
pub fn default_alert_name(trigger: &spec::Trigger) -> String {
    let mut name = String::from("Topo");
    let words = [trigger.metric.as_str(), trigger.service.as_deref().unwrap_or(""), trigger.severity.as_str()];
    for word in words.iter().flat_map(|w| w.split(['_', '-'])) {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            name.extend(first.to_uppercase());
            name.push_str(chars.as_str());
        }
    }
    name
}

fn resolve_phase(spec: &spec::Spec, number: u32, phase: &spec::Phase, tls_available: bool) -> Phase {
    let nodes = resolve_nodes(phase);
    let services = spec
        .services
        .iter()
        .map(|(name, service)| (name.clone(), resolve_service(spec, number, &nodes, name, service, tls_available)))
        .collect();
    Phase {
        number,
        name: phase.name.clone(),
        target: phase.target,
        headroom: phase.headroom.unwrap_or_else(|| Percent::from_whole(DEFAULT_HEADROOM)),
        encrypt_network: phase.encrypt_network.unwrap_or(nodes.len() > 1),
        network_policies: phase.network_policies.unwrap_or(true),
        nodes,
        services,
    }
}

/// A phase's nodes, with their defaults (role, reserve) and cost in cents.
pub fn resolve_nodes(phase: &spec::Phase) -> BTreeMap<String, Node> {
    phase
        .nodes
        .iter()
        .map(|(name, node)| {
            let reserve = node.reserve.clone().unwrap_or_default();
            let resolved = Node {
                name: name.clone(),
                role: node.role.unwrap_or_default(),
                cpu: node.cpu,
                memory: node.memory,
                disk: node.disk,
                cost_cents: node.cost.map(|c| (c * 100.0).round() as u64),
                labels: node.labels.clone(),
                reserve_cpu: reserve.cpu,
                reserve_memory: reserve.memory,
            };
            (name.clone(), resolved)
        })
        .collect()
}

/// The name of a service's main port when it speaks HTTP (it is exposed or has an http check):
/// what Kubernetes Services and Traefik call it. Otherwise it is `tcp`, so that tools which read
/// the protocol from a port's name (service meshes) do not take a database for a web server.
pub const MAIN_PORT_NAME: &str = "http";
pub const MAIN_TCP_PORT_NAME: &str = "tcp";

fn main_port_name(service: &spec::Service) -> String {
    let checks: Vec<&spec::Check> = match &service.health {
        Some(spec::Health::One(check)) => vec![check],
        Some(spec::Health::Probes(p)) => [&p.liveness, &p.readiness, &p.startup].into_iter().flatten().collect(),
        None => Vec::new(),
    };
    let http = service.expose.is_some() || checks.iter().any(|c| c.http.is_some());
    let name = if http { MAIN_PORT_NAME } else { MAIN_TCP_PORT_NAME };
    if service.ports.contains_key(name) { "main".to_owned() } else { name.to_owned() }
}

fn resolve_service(
    spec: &spec::Spec,
    phase: u32,
    nodes: &BTreeMap<String, Node>,
    name: &str,
    service: &spec::Service,
    tls_available: bool,
) -> Service {
    let mut ports: Vec<Port> =
        service.port.map(|number| Port { name: main_port_name(service), number }).into_iter().collect();
    ports.extend(service.ports.iter().map(|(name, number)| Port { name: name.clone(), number: *number }));

    let placement = resolve_placement(service, phase);

    let scale = resolve_scale(service, phase, nodes, &placement);

    let resources = service.resources.as_ref().and_then(|r| r.at(phase)).map(resolve_resources).unwrap_or_default();

    let (mut env, mut own_env) = resolve_env(spec, service);
    let secret_env = secret_env(service, &mut env, &mut own_env);

    let expose = service.expose.as_ref().map(|e| Expose {
        host: e.host.clone(),
        path: e.path.clone().unwrap_or_else(|| "/".to_owned()),
        port: service.port_or_main(e.port).unwrap_or_default(),
        tls: e.tls.unwrap_or(true) && tls_available,
    });

    // Validation guarantees the port is one of the service's.
    let metrics = service.metrics.as_ref().and_then(|m| {
        let number = service.port_or_main(m.port)?;
        let port = ports.iter().find(|p| p.number == number)?.clone();
        Some(MetricsEndpoint { port, path: m.path.clone().unwrap_or_else(|| DEFAULT_METRICS_PATH.to_owned()) })
    });
    let image = ImageRef::parse(&service.image);
    Service {
        name: name.to_owned(),
        image: image.clone(),
        ports,
        entrypoint: service.entrypoint.as_ref().map(|c| args::parse_args(&[], &argv(c), &service.secrets)),
        command: service.command.as_ref().map(|c| {
            let before = service.entrypoint.as_ref().map(argv).unwrap_or_default();
            args::parse_args(&before, &argv(c), &service.secrets)
        }),
        scale,
        resources,
        env,
        own_env,
        secret_env,
        secrets: service.secrets.clone(),
        secrets_as: service.secrets_as.unwrap_or_default(),
        health: service.health.as_ref().and_then(|h| resolve_health(h, service)),
        expose,
        depends_on: service.depends_on.clone(),
        stateful: service.stateful.unwrap_or(false),
        volumes: resolve_volumes(spec, service),
        placement,
        security: resolve_security(service, &image),
        stop_grace_period: service.stop_grace_period.unwrap_or(DEFAULT_STOP_GRACE),
        metrics,
        allow: service.allow.clone().unwrap_or_default(),
    }
}

/// The service's placement in force in `phase` (none: any node).
pub fn resolve_placement(service: &spec::Service, phase: u32) -> Placement {
    service
        .placement
        .as_ref()
        .and_then(|p| p.at(phase))
        .map(|p| Placement { role: p.role, node: p.node.clone(), labels: p.labels.clone(), spread: p.spread })
        .unwrap_or_default()
}

/// The phase's scale: `replicas: global` counts the nodes the placement
/// admits; an autoscaler's min defaults to `replicas`. Validation rejects
/// autoscaling a global service; a global one is never autoscaled here.
pub fn resolve_scale(
    service: &spec::Service,
    phase: u32,
    nodes: &BTreeMap<String, Node>,
    placement: &Placement,
) -> Scale {
    let asked = service.replicas.as_ref().and_then(|r| r.at(phase)).copied().unwrap_or(spec::Replicas::Count(1));
    let replicas = match asked {
        spec::Replicas::Count(n) => n,
        spec::Replicas::Global => {
            let nodes = nodes.values().filter(|n| placement.admits(n)).count().try_into().unwrap_or(u32::MAX);
            return Scale::Global { nodes };
        }
    };
    match service.autoscale.as_ref().and_then(|a| a.at(phase)).and_then(Option::as_ref) {
        Some(a) => Scale::Autoscaled {
            replicas,
            autoscale: Autoscale { min: a.min.unwrap_or(replicas), max: a.max, cpu: a.cpu, memory: a.memory },
        },
        None => Scale::Fixed(replicas),
    }
}

/// The env a service sees (the shared `env`, then its own), and its own
/// entries that differ from the shared ones (Kubernetes puts those in the
/// service's ConfigMap, beside the shared one).
fn resolve_env(spec: &spec::Spec, service: &spec::Service) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let mut env: BTreeMap<String, String> = spec.env.iter().map(|(k, v)| (k.clone(), v.0.clone())).collect();
    let own_env: BTreeMap<String, String> =
        service.env.iter().filter(|(k, v)| env.get(*k) != Some(&v.0)).map(|(k, v)| (k.clone(), v.0.clone())).collect();
    env.extend(own_env.iter().map(|(k, v)| (k.clone(), v.clone())));
    (env, own_env)
}

/// The service's own env entries that name one of its secrets, taken out of
/// the plain env (the shared env's are text: secrets are each service's).
fn secret_env(
    service: &spec::Service,
    env: &mut BTreeMap<String, String>,
    own_env: &mut BTreeMap<String, String>,
) -> BTreeMap<String, args::Arg> {
    let mut out = BTreeMap::new();
    for (key, value) in &service.env {
        let arg = args::Arg::parse(&value.0, &service.secrets);
        if arg.secrets().next().is_some() {
            env.remove(key);
            own_env.remove(key);
            out.insert(key.clone(), arg);
        }
    }
    out
}

/// The service's volumes, with their defaults: ReadWriteOnce, writable. A
/// volume `from` another service takes that service's size, access and class.
fn resolve_volumes(spec: &spec::Spec, service: &spec::Service) -> Vec<Volume> {
    service
        .volumes
        .iter()
        .map(|(name, v)| {
            let owner_service = v.from.as_ref().and_then(|from| spec.services.get(from));
            let owner = owner_service.and_then(|s| s.volumes.get(name)).unwrap_or(v);
            Volume {
                name: name.clone(),
                mount: v.mount.clone(),
                from: v.from.as_ref().map(|from| VolumeOwner {
                    service: from.clone(),
                    stateful: owner_service.and_then(|s| s.stateful).unwrap_or(false),
                }),
                size: owner.size,
                access: owner.access.unwrap_or(AccessMode::ReadWriteOnce),
                storage_class: owner.storage_class.clone(),
                read_only: v.read_only.unwrap_or(false),
            }
        })
        .collect()
}

/// The security settings, with their defaults: non-root, a read-only root
/// with the image's writable paths (and the spec's) as scratch space.
fn resolve_security(service: &spec::Service, image: &ImageRef) -> Security {
    let security = service.security.clone().unwrap_or_default();
    let read_only_root = security.read_only_root_filesystem.unwrap_or(true);
    Security {
        run_as_user: security.run_as_user,
        run_as_group: security.run_as_group,
        fs_group: security.fs_group,
        run_as_non_root: security.run_as_non_root.unwrap_or(true),
        run_as_non_root_asked: security.run_as_non_root == Some(true),
        read_only_root_filesystem: read_only_root,
        capabilities: security.capabilities,
        writable: if read_only_root { writable_paths(image, &security.writable) } else { Vec::new() },
    }
}

/// Requests default to limits, per resource, as Kubernetes does.
pub fn resolve_resources(resources: &spec::Resources) -> Resources {
    let requests = resources.requests.unwrap_or_default();
    let limits = resources.limits.unwrap_or_default();
    Resources {
        requests: Amounts { cpu: requests.cpu.or(limits.cpu), memory: requests.memory.or(limits.memory) },
        limits: Amounts { cpu: limits.cpu, memory: limits.memory },
    }
}

/// A command as argv: lists as they are, lines split like a shell would.
pub fn argv(command: &spec::Command) -> Vec<String> {
    match command {
        spec::Command::Argv(args) => args.clone(),
        // Validated at load time: a line always splits.
        spec::Command::Line(line) => shell_words::split(line).unwrap_or_else(|_| vec![line.clone()]),
    }
}

/// One check serves as both liveness and readiness when only one is given;
/// `None` for a startup probe alone (which validation rejects).
fn resolve_health(health: &spec::Health, service: &spec::Service) -> Option<Health> {
    match health {
        spec::Health::One(check) => {
            let check = resolve_check(check, service);
            Some(Health { liveness: check.clone(), readiness: check, startup: None })
        }
        spec::Health::Probes(probes) => {
            let liveness = probes.liveness.as_ref().or(probes.readiness.as_ref())?;
            let readiness = probes.readiness.as_ref().or(probes.liveness.as_ref())?;
            Some(Health {
                liveness: resolve_check(liveness, service),
                readiness: resolve_check(readiness, service),
                startup: probes.startup.as_ref().map(|c| resolve_check(c, service)),
            })
        }
    }
}

fn resolve_check(check: &spec::Check, service: &spec::Service) -> Check {
    let probe = if let Some(path) = &check.http {
        Probe::Http { path: path.clone(), port: service.port_or_main(check.port).unwrap_or_default() }
    } else if let Some(port) = check.tcp {
        Probe::Tcp { port }
    } else {
        match &check.exec {
            Some(spec::Command::Argv(args)) => Probe::Exec { argv: args.clone() },
            Some(spec::Command::Line(line)) => Probe::Shell { line: line.clone() },
            None => Probe::Tcp { port: service.port_or_main(check.port).unwrap_or_default() },
        }
    };
    Check {
        probe,
        interval: check.interval.unwrap_or(DEFAULT_CHECK_INTERVAL),
        timeout: check.timeout.unwrap_or(DEFAULT_CHECK_TIMEOUT),
        retries: check.retries.unwrap_or(DEFAULT_CHECK_RETRIES),
        initial_delay: check.initial_delay,
        start_period: check.start_period,
        compose_test: check.compose_test.as_ref().map(|test| match test {
            spec::Command::Argv(args) => Probe::Exec { argv: args.clone() },
            spec::Command::Line(line) => Probe::Shell { line: line.clone() },
        }),
        http_client: check.http_client,
    }
}

/// The writable paths of a read-only root: `/tmp`, the image's own (postgres's
/// socket directory), then the spec's, each once, in that order.
fn writable_paths(image: &ImageRef, asked: &[String]) -> Vec<String> {
    let mut paths: Vec<String> = vec!["/tmp".to_owned()];
    for path in known::writable_dirs(image).iter().copied().chain(asked.iter().map(String::as_str)) {
        if !paths.iter().any(|p| p == path) {
            paths.push(path.to_owned());
        }
    }
    paths
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile(text: &str) -> Model {
        match crate::compile(text.as_bytes()) {
            Ok(compiled) => compiled.model,
            Err(diags) => panic!("{:#?}", diags.iter().map(|d| &d.message).collect::<Vec<_>>()),
        }
    }

    const BASE: &str = "project: shop
phases:
  1: { name: one, target: compose, nodes: { vps-1: { role: manager, cpu: 4, memory: 8Gi } } }
  2: { name: two, target: swarm, nodes: { vps-1: { role: manager, cpu: 4, memory: 8Gi }, vps-2: { cpu: 2, memory: 4Gi, labels: { tier: batch } } } }
  3: { name: three, target: k8s, nodes: { n-1: { role: manager, cpu: 4, memory: 8Gi, cost: 12.5 } } }
env: { NODE_ENV: production, LOG_LEVEL: info }
secrets: [DB_PASSWORD]
";

    #[test]
    fn phased_values_inherit_and_default() {
        let model = compile(&format!(
            "{BASE}services:
  web:
    image: web:1.0
    replicas: {{ 2: 4 }}
    autoscale: {{ 3: {{ max: 8, cpu: 70% }} }}
    resources: {{ limits: {{ cpu: 500m, memory: 512Mi }} }}
"
        ));
        let replicas: Vec<u32> = model.phases.iter().map(|p| p.services["web"].replicas()).collect();
        assert_eq!(replicas, [1, 4, 4], "default 1 before the first phase given, then inherited");
        assert_eq!(model.phases[0].services["web"].autoscale(), None);
        let autoscale = model.phases[2].services["web"].autoscale().cloned().unwrap();
        assert_eq!((autoscale.min, autoscale.max), (4, 8), "min is the phase's replicas");
        assert_eq!(model.phases[2].services["web"].peak_replicas(), 8);
    }

    #[test]
    fn requests_default_to_limits_per_resource() {
        let model = compile(&format!(
            "{BASE}services:
  web:
    image: web:1.0
    resources: {{ requests: {{ cpu: 100m }}, limits: {{ cpu: 500m, memory: 512Mi }} }}
"
        ));
        let resources = model.phases[0].services["web"].resources;
        assert_eq!(resources.requests.cpu, Some(Cpu::from_millis(100)));
        assert_eq!(resources.requests.memory, Some(Memory::mebibytes(512)));
        assert_eq!(resources.limits.cpu, Some(Cpu::from_millis(500)));
    }

    #[test]
    fn env_merges_shared_and_own_and_own_wins() {
        let model = compile(&format!(
            "{BASE}services:
  web: {{ image: web:1.0, env: {{ LOG_LEVEL: debug, PORT: 8080 }}, secrets: [DB_PASSWORD] }}
"
        ));
        let web = &model.phases[0].services["web"];
        let env: Vec<(&str, &str)> = web.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(env, [("LOG_LEVEL", "debug"), ("NODE_ENV", "production"), ("PORT", "8080")]);
        assert_eq!(web.secrets, ["DB_PASSWORD"]);
    }

    #[test]
    fn one_check_serves_liveness_and_readiness_with_defaults() {
        let model = compile(&format!(
            "{BASE}services:
  web: {{ image: web:1.0, port: 3000, health: {{ http: /healthz }}, expose: {{ host: shop.example.com }} }}
  db:
    image: postgres:17
    port: 5432
    health: {{ liveness: {{ exec: pg_isready -U app }}, readiness: {{ tcp: 5432, interval: 2s }} }}
"
        ));
        let web = &model.phases[0].services["web"];
        let health = web.health.clone().unwrap();
        assert_eq!(health.liveness, health.readiness);
        assert_eq!(health.liveness.probe, Probe::Http { path: "/healthz".into(), port: 3000 });
        assert_eq!(health.liveness.interval, DEFAULT_CHECK_INTERVAL);
        assert_eq!(health.liveness.retries, DEFAULT_CHECK_RETRIES);
        let expose = web.expose.clone().unwrap();
        assert_eq!((expose.path.as_str(), expose.port, expose.tls), ("/", 3000, false), "no issuer: no TLS");
        let db = model.phases[0].services["db"].health.clone().unwrap();
        assert_eq!(db.liveness.probe, Probe::Shell { line: "pg_isready -U app".into() });
        assert_eq!(db.readiness.probe, Probe::Tcp { port: 5432 });
        assert_eq!(db.readiness.interval, Duration::from_secs(2));
    }

    #[test]
    fn placement_and_security_defaults() {
        let model = compile(&format!(
            "{BASE}services:
  worker:
    image: worker:1.0
    command: bun run 'worker file.ts'
    placement: {{ 2: {{ labels: {{ tier: batch }} }}, 3: {{ role: manager }} }}
    security: {{ run_as_user: 999 }}
"
        ));
        let at = |i: usize| &model.phases[i].services["worker"];
        assert_eq!(at(0).placement, Placement::default());
        assert_eq!(at(1).placement.labels.get("tier").map(String::as_str), Some("batch"));
        assert_eq!(at(2).placement.role, Some(Role::Manager));
        assert!(at(1).placement.admits(&model.phases[1].nodes["vps-2"]));
        assert!(!at(1).placement.admits(&model.phases[1].nodes["vps-1"]));
        let words: Vec<String> =
            at(0).command.clone().unwrap().iter().map(|a| a.render(str::to_owned, str::to_owned)).collect();
        assert_eq!(words, ["bun", "run", "worker file.ts"]);
        let security = &at(0).security;
        assert!(security.run_as_non_root && security.read_only_root_filesystem);
        assert_eq!(security.run_as_user, Some(999));
        assert_eq!(model.phases[2].nodes["n-1"].cost_cents, Some(1250));
        assert_eq!(model.phases[1].nodes["vps-2"].role, Role::Worker, "role defaults to worker");
    }

    #[test]
    fn alert_names_are_derived_from_metric_service_and_severity() {
        let model = compile(&format!(
            "{BASE}triggers:
  - {{ metric: latency_p95, above: 300ms, severity: warning, action: look }}
  - {{ metric: queue_depth, above: 50, severity: critical, action: scale, service: worker }}
services:
  worker: {{ image: worker:1.0, secrets: [DB_PASSWORD] }}
"
        ));
        let names: Vec<&str> = model.triggers.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["TopoLatencyP95Warning", "TopoQueueDepthWorkerCritical"]);
    }
}
