//! The spec language: the types a `topo.yaml` is read into.
//!
//! These are the *raw* types: what the user wrote, absent fields left absent.
//! Defaults, inheritance between phases and the merging of shared settings
//! happen in [`crate::model`]. The doc comments here are the descriptions of
//! `topo schema`, so they are written for spec authors.

pub mod decode;
pub mod load;
pub mod network;
pub mod phased;
pub mod quantity;
pub mod secrets;

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Serialize;

pub use network::{Allow, IngressController, Monitoring, Peer, ServiceMetrics};
pub use phased::{PhaseMap, Phased};
pub use quantity::{Cpu, Duration, Memory, Percent, QuantityError, QuantityKind};
pub use secrets::{ExternalSecrets, SealedSecrets, SecretsFrom, StoreKind};

/// A topo spec: one project's services, and the machines of each growth phase.
#[derive(Clone, Debug, JsonSchema)]
#[schemars(deny_unknown_fields, extend("patternProperties" = { "^x-": {} }))]
pub struct Spec {
    /// Names the compose project, the Swarm stack, the Kubernetes namespace and the label prefix. A DNS-1123 label: lowercase letters, digits and `-`, at most 63 characters.
    pub project: String,
    /// The growth phases, keyed by phase number in growth order (`1`, `2`, `3`).
    pub phases: PhaseMap<Phase>,
    /// How exposed services are reached from outside.
    pub ingress: Option<Ingress>,
    /// Non-secret settings shared by every service: a ConfigMap on k8s, `environment` on compose and Swarm. A service's own `env` overrides them.
    #[serde(default)]
    pub env: BTreeMap<String, EnvValue>,
    /// Names of the secrets the services may use. Only names: a value never appears in the spec or in any output.
    #[serde(default)]
    pub secrets: Vec<String>,
    /// Kubernetes: where the Secret `<project>-secrets` that the pods read the `secrets` from comes from, in every Kubernetes phase (default `out-of-band`: you create it).
    pub secrets_from: Option<SecretsFrom>,
    /// When to move to the next phase: become Prometheus alert rules and a table in the plan.
    #[serde(default)]
    pub triggers: Vec<Trigger>,
    /// The names of your services' own Prometheus metrics, which the `latency_p95`, `latency_p99`, `error_rate` and `queue_depth` triggers query.
    pub metrics: Option<Metrics>,
    /// Where kube-prometheus-stack runs, for the ServiceMonitors, PrometheusRules and NetworkPolicies of Kubernetes phases.
    pub monitoring: Option<Monitoring>,
    /// Private registries, by host (`registry.example.com`, `docker.io` for Docker Hub): the pull credentials the images from each need.
    #[serde(default)]
    pub registries: BTreeMap<String, Registry>,
    /// The services, by name. A name is a DNS-1035 label (starts with a letter), because it becomes a Kubernetes Service.
    pub services: BTreeMap<String, Service>,
}

/// One growth phase: the machines it runs on and the target it renders to.
#[derive(Clone, Debug, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Phase {
    /// Short name of the phase (`dokploy`, `swarm`, `k3s`); a DNS-1123 label, used in output directory names.
    pub name: String,
    /// What `topo render --phase N` emits by default for this phase.
    pub target: Target,
    /// The machines of this phase, by hostname.
    pub nodes: BTreeMap<String, Node>,
    /// The free share of each node the plan aims to keep (default `20%`); less makes the phase `tight`.
    pub headroom: Option<Percent>,
    /// Swarm: encrypt the overlay network's traffic between nodes (IPsec, `driver_opts: { encrypted: "true" }`). Default `true` when the phase has more than one node; `false` opts out (encryption costs some throughput).
    pub encrypt_network: Option<bool>,
    /// Kubernetes: NetworkPolicies from the dependency graph, denying all other traffic (default `true`); `false` renders none.
    pub network_policies: Option<bool>,
}

/// What a phase renders to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, JsonSchema, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// Docker Compose on one node (Dokploy's compose mode).
    Compose,
    /// A Docker Swarm stack (`docker stack deploy`, Dokploy's multi-server mode).
    Swarm,
    /// Kubernetes manifests (K3s first, any conformant cluster).
    K8s,
}

impl Target {
    pub const ALL: [(&'static str, Target); 3] =
        [("compose", Target::Compose), ("swarm", Target::Swarm), ("k8s", Target::K8s)];

    pub fn as_str(self) -> &'static str {
        match self {
            Target::Compose => "compose",
            Target::Swarm => "swarm",
            Target::K8s => "k8s",
        }
    }
}

/// A node's part in its cluster.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, JsonSchema, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A Swarm manager or a Kubernetes control-plane (K3s server) node; the Dokploy host.
    Manager,
    /// A node that only runs workloads.
    #[default]
    Worker,
}

impl Role {
    pub const ALL: [(&'static str, Role); 2] = [("manager", Role::Manager), ("worker", Role::Worker)];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Manager => "manager",
            Role::Worker => "worker",
        }
    }
}

/// A machine.
#[derive(Clone, Debug, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Node {
    /// `manager` or `worker` (default `worker`).
    pub role: Option<Role>,
    /// CPU cores (`4`, `"8"`).
    pub cpu: Cpu,
    /// Memory (`16Gi`).
    pub memory: Memory,
    /// Disk size (`200Gi`), checked against the volumes placed on the node.
    pub disk: Option<Memory>,
    /// Price per month, in the currency of your invoices (USD in the examples).
    pub cost: Option<f64>,
    /// Node labels (`tier: batch`), matched by `placement.labels`: Swarm node labels, Kubernetes node labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// What the OS and the orchestrator keep for themselves on this node, overriding topo's default for the phase's target and the node's role.
    pub reserve: Option<Reserve>,
}

/// CPU and memory kept back from workloads.
#[derive(Clone, Debug, Default, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Reserve {
    pub cpu: Option<Cpu>,
    pub memory: Option<Memory>,
}

/// Ingress settings shared by every exposed service.
#[derive(Clone, Debug, Default, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Ingress {
    /// The ingress class: Kubernetes `ingressClassName` (default `traefik`, as K3s ships). Compose and Swarm always use Traefik labels.
    pub class: Option<String>,
    /// TLS for exposed hosts: the name of a cert-manager ClusterIssuer (k8s) that is also the Traefik certresolver (compose, Swarm), or both named apart.
    pub tls: Option<Tls>,
    /// Where the ingress controller runs (Kubernetes NetworkPolicies let it reach exposed services).
    pub controller: Option<IngressController>,
    /// Kubernetes: render the cert-manager ClusterIssuer that `tls` names, for this ACME account (opt-in; without it the issuer must exist).
    pub acme: Option<Acme>,
}

/// A registry's pull credentials: only the name of where they are kept, never a value.
#[derive(Clone, Debug, PartialEq, Eq, JsonSchema, Serialize)]
#[schemars(deny_unknown_fields)]
pub struct Registry {
    /// Kubernetes: the `docker-registry` Secret every pod pulling from this registry lists in `imagePullSecrets` (the plan's steps create it with `kubectl create secret docker-registry`).
    pub pull_secret: String,
}

/// An ACME account for cert-manager's ClusterIssuer, answering HTTP-01 challenges through the ingress class.
#[derive(Clone, Debug, PartialEq, Eq, JsonSchema, Serialize)]
#[schemars(deny_unknown_fields)]
pub struct Acme {
    /// The account's contact address (expiry notices).
    pub email: String,
    /// The ACME directory (default Let's Encrypt's production one, `https://acme-v02.api.letsencrypt.org/directory`).
    pub server: Option<String>,
}

/// Where certificates come from.
#[derive(Clone, Debug, PartialEq, Eq, JsonSchema, Serialize)]
#[serde(untagged)]
pub enum Tls {
    /// One name for both the ClusterIssuer and the certresolver.
    Same(String),
    /// Different names on Kubernetes and on Traefik.
    Split(TlsNames),
}

/// The certificate issuer's name on each side.
#[derive(Clone, Debug, PartialEq, Eq, JsonSchema, Serialize)]
#[schemars(deny_unknown_fields)]
pub struct TlsNames {
    /// cert-manager ClusterIssuer (k8s targets).
    pub cluster_issuer: String,
    /// Traefik certresolver (compose and Swarm targets; Dokploy's is `letsencrypt`).
    pub certresolver: String,
}

/// An environment value: strings, numbers and booleans are all passed as text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(transparent)]
pub struct EnvValue(#[schemars(with = "ScalarText")] pub String);

/// A scalar taken as text.
#[derive(JsonSchema)]
#[schemars(untagged)]
#[allow(dead_code)]
enum ScalarText {
    String(String),
    Number(f64),
    Bool(bool),
}

/// When it is time to move on: an alert rule and a row of the plan.
#[derive(Clone, Debug, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Trigger {
    /// What is measured: a built-in metric (`cpu`, `memory`, `disk`, `latency_p95`, `latency_p99`, `error_rate`, `queue_depth`, `restarts`) or a name of yours with `expr`. A metric without a query (`registered_users`) still appears in the plan's checklist, but makes no alert rule.
    pub metric: Metric,
    /// Fire when the value rises above this: a percentage for `cpu`, `memory`, `disk` and `error_rate`, a duration for latencies, a number for `queue_depth` and `restarts`. Exactly one of `above` and `below`.
    pub above: Option<Threshold>,
    /// Fire when the value falls below this (a cache hit rate, free disk).
    pub below: Option<Threshold>,
    /// How long the condition must hold before the alert fires (`7d`, `30m`); absent fires at once.
    #[serde(rename = "for")]
    pub for_: Option<Duration>,
    /// `info`, `warning` or `critical`.
    pub severity: AlertSeverity,
    /// What to do when it fires.
    pub action: String,
    /// Limit the trigger to one service's containers (default: whole nodes for cpu, memory and disk; every service otherwise).
    pub service: Option<String>,
    /// A PromQL expression whose value is compared with the threshold; replaces the built-in query of a built-in metric.
    pub expr: Option<String>,
    /// The alert's name (default: made from the metric, the service and the severity, like `TopoCpuCritical`).
    pub name: Option<String>,
}

/// The names of the application metrics behind the built-in `latency_p95`, `latency_p99`, `error_rate` and `queue_depth` triggers.
#[derive(Clone, Debug, Default, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Metrics {
    /// A histogram of HTTP request durations in seconds, named without its `_bucket` suffix (default `http_request_duration_seconds`).
    pub http_duration: Option<String>,
    /// A counter of HTTP requests, with the status code in `status_label` (default `http_requests_total`).
    pub http_requests: Option<String>,
    /// The label of `http_requests` that holds the status code; `5xx` responses are errors (default `code`).
    pub status_label: Option<String>,
    /// The label of your metrics that names the service, as your scrape configuration sets it (default `job`).
    pub service_label: Option<String>,
    /// A gauge of the jobs waiting in a queue (default `queue_depth`).
    pub queue_depth: Option<String>,
}

/// A measured quantity a trigger watches.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Metric {
    Cpu,
    Memory,
    Disk,
    LatencyP95,
    LatencyP99,
    ErrorRate,
    QueueDepth,
    Restarts,
    /// A metric topo has no built-in query for.
    Other(String),
}

impl Metric {
    pub const BUILT_IN: [(&'static str, Metric); 8] = [
        ("cpu", Metric::Cpu),
        ("memory", Metric::Memory),
        ("disk", Metric::Disk),
        ("latency_p95", Metric::LatencyP95),
        ("latency_p99", Metric::LatencyP99),
        ("error_rate", Metric::ErrorRate),
        ("queue_depth", Metric::QueueDepth),
        ("restarts", Metric::Restarts),
    ];

    pub fn parse(name: &str) -> Metric {
        Self::BUILT_IN
            .iter()
            .find(|(n, _)| *n == name)
            .map_or_else(|| Metric::Other(name.to_owned()), |(_, m)| m.clone())
    }

    pub fn as_str(&self) -> &str {
        match self {
            Metric::Other(name) => name,
            known => Self::BUILT_IN.iter().find(|(_, m)| m == known).map_or("", |(name, _)| name),
        }
    }

    /// The kind of threshold a built-in metric is compared with.
    pub fn threshold_kind(&self) -> Option<ThresholdKind> {
        match self {
            Metric::Cpu | Metric::Memory | Metric::Disk | Metric::ErrorRate => Some(ThresholdKind::Percent),
            Metric::LatencyP95 | Metric::LatencyP99 => Some(ThresholdKind::Duration),
            Metric::QueueDepth | Metric::Restarts => Some(ThresholdKind::Number),
            Metric::Other(_) => None,
        }
    }
}

impl Serialize for Metric {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl JsonSchema for Metric {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Metric".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let built_in: Vec<&str> = Self::BUILT_IN.iter().map(|(name, _)| *name).collect();
        schemars::json_schema!({
            "description": "A built-in metric, or a name of yours (lowercase letters, digits and `_`).",
            "type": "string",
            "anyOf": [ { "enum": built_in }, { "pattern": METRIC_NAME_PATTERN } ]
        })
    }
}

/// What a metric name looks like.
pub const METRIC_NAME_PATTERN: &str = "^[a-z][a-z0-9_]*$";

/// The kinds of threshold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThresholdKind {
    Percent,
    Duration,
    Number,
}

impl ThresholdKind {
    pub fn describe(self) -> &'static str {
        match self {
            ThresholdKind::Percent => "a percentage (`80%`)",
            ThresholdKind::Duration => "a duration (`300ms`)",
            ThresholdKind::Number => "a number (`50`)",
        }
    }
}

/// A trigger threshold.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Threshold {
    Percent(Percent),
    Duration(Duration),
    Number(f64),
}

impl Threshold {
    pub fn kind(&self) -> ThresholdKind {
        match self {
            Threshold::Percent(_) => ThresholdKind::Percent,
            Threshold::Duration(_) => ThresholdKind::Duration,
            Threshold::Number(_) => ThresholdKind::Number,
        }
    }
}

/// How loud an alert is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, JsonSchema, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertSeverity {
    Info,
    Warning,
    Critical,
}

impl AlertSeverity {
    pub const ALL: [(&'static str, AlertSeverity); 3] =
        [("info", AlertSeverity::Info), ("warning", AlertSeverity::Warning), ("critical", AlertSeverity::Critical)];

    pub fn as_str(self) -> &'static str {
        match self {
            AlertSeverity::Info => "info",
            AlertSeverity::Warning => "warning",
            AlertSeverity::Critical => "critical",
        }
    }
}

/// One service: a container image run as one or more replicas.
#[derive(Clone, Debug, JsonSchema)]
#[schemars(deny_unknown_fields, extend("patternProperties" = { "^x-": {} }))]
pub struct Service {
    /// The container image, with a tag (`redis:8.2-alpine`) or digest.
    pub image: String,
    /// The port the service listens on: a Kubernetes Service port, the Traefik target port.
    pub port: Option<u16>,
    /// More ports, named (`{ metrics: 9100 }`) or as a list (`[9100]`, named `port-9100`).
    #[serde(default)]
    #[schemars(with = "PortsForm")]
    pub ports: BTreeMap<String, u16>,
    /// Overrides the image's entrypoint (Kubernetes `command`, compose `entrypoint`). A list, or a string split like a shell would. `${NAME}` of one of the service's `secrets` is its value, filled in at deploy time; any other `$` is text (a shell's `sh -c` script is text whole).
    pub entrypoint: Option<Command>,
    /// Overrides the image's command, keeping its entrypoint (Kubernetes `args`, compose `command`). A list, or a string split like a shell would. `${NAME}` of one of the service's `secrets` is its value, filled in at deploy time (`[redis-server, --requirepass, "${REDIS_PASSWORD}"]`); any other `$` is text (a shell's `sh -c` script is text whole).
    pub command: Option<Command>,
    /// Replicas per phase (default 1): a number, or `global` for one replica on every node the phase's placement admits (Swarm `mode: global`, a Kubernetes DaemonSet). With `autoscale` it is the autoscaler's minimum; a global service cannot autoscale.
    pub replicas: Option<Phased<Replicas>>,
    /// A HorizontalPodAutoscaler on k8s phases; `null` turns it off from a phase on. Compose and Swarm have no autoscaler: there `replicas` stands.
    pub autoscale: Option<Phased<Option<Autoscale>>>,
    /// CPU and memory per replica. Requests default to limits when only limits are given, as Kubernetes does.
    pub resources: Option<Phased<Resources>>,
    /// The service's own environment, added to (and overriding) the shared `env`.
    #[serde(default)]
    pub env: BTreeMap<String, EnvValue>,
    /// The declared secrets this service receives as environment variables.
    #[serde(default)]
    pub secrets: Vec<String>,
    /// How the service receives its secrets on Swarm: `env` (default) or `files`. Compose always uses `env`.
    pub secrets_as: Option<SecretsAs>,
    /// How to tell the service is alive and ready.
    pub health: Option<Health>,
    /// Publish the service on a host name through the ingress (Traefik on compose and Swarm).
    pub expose: Option<Expose>,
    /// Services that must be running (and healthy, when they have a health check) first.
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// A database or other service that keeps data: a StatefulSet on k8s, pinned to one node on Swarm. Needs a volume.
    pub stateful: Option<bool>,
    /// Persistent volumes, by name.
    #[serde(default)]
    pub volumes: BTreeMap<String, Volume>,
    /// Where replicas may run, per phase.
    pub placement: Option<Phased<Placement>>,
    /// Relaxes topo's restrictive default security settings.
    pub security: Option<Security>,
    /// How long a replica gets to stop before it is killed (default 30s).
    pub stop_grace_period: Option<Duration>,
    /// Where the service serves Prometheus metrics: a ServiceMonitor on Kubernetes, which the monitoring namespace may scrape.
    pub metrics: Option<ServiceMetrics>,
    /// Traffic on Kubernetes beyond `depends_on`: callers and destinations outside the spec.
    pub allow: Option<Allow>,
}

impl Service {
    /// The port of an `expose`, a `metrics` endpoint or an `http` check: its
    /// own when it names one, else the service's main `port`. The one place
    /// this fallback is decided; `None` when neither is set.
    pub fn port_or_main(&self, own: Option<u16>) -> Option<u16> {
        own.or(self.port)
    }
}

/// How many replicas of a service run in a phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Replicas {
    /// This many, placed by the target's scheduler.
    Count(u32),
    /// Exactly one on every node the placement admits: Swarm `mode: global`, a Kubernetes DaemonSet; compose runs one.
    Global,
}

impl Replicas {
    /// The word for [`Replicas::Global`].
    pub const GLOBAL: &'static str = "global";
}

impl JsonSchema for Replicas {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Replicas".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A number of replicas, or `global` for one replica on every node the placement admits.",
            "anyOf": [
                { "type": "integer", "format": "uint32", "minimum": 0 },
                { "const": Self::GLOBAL }
            ]
        })
    }
}

/// How a service receives its secrets on Swarm.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SecretsAs {
    /// Each secret is an environment variable interpolated at deploy time (`${NAME}`), from the environment of `docker stack deploy`.
    #[default]
    Env,
    /// Each secret is an external Swarm secret (`<project>_<NAME>`, created with `docker secret create`) mounted at `/run/secrets/<NAME>`, and `<NAME>_FILE` points to it: the `_FILE` convention of the official postgres, mariadb and mysql images, among others. Only for images that read it.
    Files,
}

impl SecretsAs {
    pub const ALL: [(&'static str, SecretsAs); 2] = [("env", SecretsAs::Env), ("files", SecretsAs::Files)];
}

/// The two ways to write extra ports.
#[derive(JsonSchema)]
#[schemars(untagged)]
#[allow(dead_code)]
enum PortsForm {
    Named(BTreeMap<String, u16>),
    List(Vec<u16>),
}

/// A command line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Command {
    /// Each element is one argument.
    Argv(#[schemars(with = "Vec<ScalarText>")] Vec<String>),
    /// Split into arguments like a POSIX shell would (quotes respected), but not run by a shell.
    Line(String),
}

/// Scale between the phase's `replicas` and `max` on CPU and/or memory utilisation of the requests.
#[derive(Clone, Debug, PartialEq, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Autoscale {
    /// Fewest replicas (default: the phase's `replicas`).
    pub min: Option<u32>,
    /// Most replicas.
    pub max: u32,
    /// Target average CPU use, as a share of the CPU request (`70%`).
    pub cpu: Option<Percent>,
    /// Target average memory use, as a share of the memory request (`80%`).
    pub memory: Option<Percent>,
}

/// Requests and limits of one replica.
#[derive(Clone, Debug, Default, PartialEq, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Resources {
    /// What the scheduler reserves for a replica (Swarm: reservations).
    pub requests: Option<ResourceAmounts>,
    /// The most a replica may use.
    pub limits: Option<ResourceAmounts>,
}

/// CPU and memory.
#[derive(Clone, Copy, Debug, Default, PartialEq, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ResourceAmounts {
    pub cpu: Option<Cpu>,
    pub memory: Option<Memory>,
}

/// Health checks: one check used for liveness and readiness, or each named.
#[derive(Clone, Debug, PartialEq, JsonSchema)]
#[serde(untagged)]
#[allow(clippy::large_enum_variant)] // a spec holds a handful of these
pub enum Health {
    Probes(Probes),
    One(Check),
}

/// Separate checks (Kubernetes liveness, readiness and startup probes; compose and Swarm use `readiness`, or `liveness` without it).
#[derive(Clone, Debug, PartialEq, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Probes {
    /// Restart the replica when this fails.
    pub liveness: Option<Check>,
    /// Send traffic only while this passes.
    pub readiness: Option<Check>,
    /// Hold the other checks until this passes once (slow starters).
    pub startup: Option<Check>,
}

/// One health check: exactly one of `http`, `tcp` or `exec`, and its timing.
#[derive(Clone, Debug, PartialEq, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Check {
    /// An HTTP GET of this path answers 2xx or 3xx.
    pub http: Option<String>,
    /// A TCP connection to this port opens.
    pub tcp: Option<u16>,
    /// This command exits 0: a list is run as is, a string by `/bin/sh -c`.
    pub exec: Option<Command>,
    /// Port of the `http` check (default: the service's `port`).
    pub port: Option<u16>,
    /// Wait this long after the container starts before the first check (Kubernetes `initialDelaySeconds`; on compose and Swarm it lengthens `start_period`).
    pub initial_delay: Option<Duration>,
    /// Time between checks (default `10s`).
    pub interval: Option<Duration>,
    /// Time a check may take (default `5s`).
    pub timeout: Option<Duration>,
    /// Failures in a row before the replica counts as unhealthy (default 3).
    pub retries: Option<u32>,
    /// Grace after start during which failures do not count: compose `start_period`, a Kubernetes startup probe.
    pub start_period: Option<Duration>,
    /// The command compose and Swarm run instead of topo's own probe (their `healthcheck.test`): a list runs as is, a string through `/bin/sh -c`. Use it when the image has neither `wget` nor `curl` for an `http` check, or neither `nc` nor `bash` for a `tcp` check. Kubernetes keeps the `http`, `tcp` or `exec` check.
    pub compose_test: Option<Command>,
    /// The program compose and Swarm run inside the container for an `http` check: `bun`, `node` or `python` (a one-line fetch with the image's own runtime), `wget` or `curl`. Default: from the image name (`oven/bun*` → bun, `node*` → node, `python*` → python), else wget with curl as fallback. Kubernetes probes over the network and ignores it.
    pub http_client: Option<HttpClient>,
}

/// The program that makes an `http` health check's request inside the container.
#[derive(Clone, Copy, Debug, PartialEq, Eq, JsonSchema, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HttpClient {
    /// `bun -e` with `fetch` (Bun images).
    Bun,
    /// `node -e` with `fetch` (Node.js 18 and later).
    Node,
    /// `python3 -c` with `urllib.request` (Python images).
    Python,
    /// `wget -q -O /dev/null` (BusyBox in every Alpine image, or GNU wget).
    Wget,
    /// `curl -fsS -o /dev/null`.
    Curl,
}

impl HttpClient {
    pub const ALL: [(&'static str, HttpClient); 5] = [
        ("bun", HttpClient::Bun),
        ("node", HttpClient::Node),
        ("python", HttpClient::Python),
        ("wget", HttpClient::Wget),
        ("curl", HttpClient::Curl),
    ];
}

/// A public host name routed to the service.
#[derive(Clone, Debug, PartialEq, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Expose {
    /// The host name (`app.example.com`).
    pub host: String,
    /// Path prefix (default `/`).
    pub path: Option<String>,
    /// Service port to route to (default: the service's `port`).
    pub port: Option<u16>,
    /// Serve it over TLS with `ingress.tls` (default `true` when `ingress.tls` is set).
    pub tls: Option<bool>,
}

/// A persistent volume: the service's own, or with `from`, another service's.
#[derive(Clone, Debug, PartialEq, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Volume {
    /// Where it is mounted in the container (an absolute path).
    pub mount: String,
    /// Mount the volume of this name that another service declares, instead of a volume of its own (an app's files shared with its cron or worker). Its `size`, `access` and `storage_class` are the owner's. On compose both mount one named volume; on Swarm, whose volumes are local to a node, this service runs on the owner's node; on Kubernetes it mounts the owner's claim, on the owner's node unless the claim is `ReadWriteMany` or `ReadOnlyMany`. The plan places it accordingly.
    pub from: Option<String>,
    /// Its size (`50Gi`): the PersistentVolumeClaim's request on k8s, checked against node disks by the plan (Docker's local volumes have no quota). Required when a phase renders to k8s.
    pub size: Option<Memory>,
    /// Kubernetes access mode (default `ReadWriteOnce`). Compose and Swarm mount a `ReadOnlyMany` volume read-only, and let several replicas share only a `ReadWriteMany` or read-only volume.
    pub access: Option<AccessMode>,
    /// Kubernetes StorageClass (default: the cluster's default class; K3s ships `local-path`).
    pub storage_class: Option<String>,
    /// Mount it read-only.
    pub read_only: Option<bool>,
}

/// Who may mount a volume (Kubernetes access modes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, JsonSchema, Serialize)]
pub enum AccessMode {
    ReadWriteOnce,
    ReadWriteOncePod,
    ReadOnlyMany,
    ReadWriteMany,
}

impl AccessMode {
    pub const ALL: [(&'static str, AccessMode); 4] = [
        ("ReadWriteOnce", AccessMode::ReadWriteOnce),
        ("ReadWriteOncePod", AccessMode::ReadWriteOncePod),
        ("ReadOnlyMany", AccessMode::ReadOnlyMany),
        ("ReadWriteMany", AccessMode::ReadWriteMany),
    ];

    pub fn as_str(self) -> &'static str {
        Self::ALL.iter().find(|(_, m)| *m == self).map_or("ReadWriteOnce", |(name, _)| name)
    }
}

/// Where a service's replicas may run. All given conditions must hold.
#[derive(Clone, Debug, Default, PartialEq, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Placement {
    /// Only on nodes of this role (Swarm `node.role`, K3s control-plane label).
    pub role: Option<Role>,
    /// Only on this node (by hostname).
    pub node: Option<String>,
    /// Only on nodes carrying all these labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// How replicas are spread over nodes: `soft` (default; prefer different nodes) or `hard` (at most one per node).
    pub spread: Option<Spread>,
}

/// Spreading of replicas over nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, JsonSchema, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Spread {
    /// Prefer different nodes; pack when there are too few.
    Soft,
    /// Never two replicas on one node.
    Hard,
}

/// Relaxations of the restrictive defaults (non-root, read-only root filesystem, no privilege escalation, all capabilities dropped).
#[derive(Clone, Debug, Default, PartialEq, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Security {
    /// Run as this user id (many official images need theirs: postgres 999, redis 999).
    pub run_as_user: Option<u32>,
    /// Run as this group id.
    pub run_as_group: Option<u32>,
    /// Group that owns mounted volumes (Kubernetes `fsGroup`). Docker cannot set it: compose and Swarm warn.
    pub fs_group: Option<u32>,
    /// Require a non-root user (default `true`; set `false` for images that must start as root).
    pub run_as_non_root: Option<bool>,
    /// Mount the root filesystem read-only (default `true`; `/tmp` is a writable emptyDir).
    pub read_only_root_filesystem: Option<bool>,
    /// Linux capabilities to add back after dropping all (`NET_BIND_SERVICE`, `CHOWN`, …).
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// More writable directories (emptyDir on k8s) when the root filesystem is read-only.
    #[serde(default)]
    pub writable: Vec<String>,
}
