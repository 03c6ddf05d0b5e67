//! Text → [`Spec`]: syntax errors from the YAML reader, shape errors from decoding.

use crate::code::Code;
use std::collections::{BTreeMap, BTreeSet};

use crate::diag::{Diagnostic, Diagnostics, did_you_mean, suggestion};
use crate::yaml::SpecPath;

use super::decode::{Decode, Decoder, Fields, keyword, keyword_or_alias, parse_scalar, scalar_key, scalar_text};
use super::phased::PhaseNumber;
use super::*;
use crate::yaml::{self, Node, Resolved, Value};

/// A spec read from text, with the YAML tree it came from (for positions).
pub struct Loaded {
    pub spec: Spec,
    pub tree: Node,
}

/// Read a spec. On failure, every syntax and shape error found.
pub fn load(text: &str) -> Result<Loaded, Diagnostics> {
    let mut decoder = Decoder::default();
    let mut duplicates = Vec::new();
    let parsed = yaml::parse(text, &mut duplicates);
    for duplicate in duplicates {
        decoder.diags.push(duplicate.into());
    }
    let tree = match parsed {
        Ok(tree) => tree,
        Err(fatal) => {
            let mut diags = decoder.diags;
            diags.push(fatal.into());
            diags.sort();
            return Err(diags);
        }
    };
    let spec = Spec::decode(&mut decoder, &tree, &SpecPath::root());
    match spec {
        Some(spec) if !decoder.diags.has_errors() => Ok(Loaded { spec, tree }),
        _ => {
            let mut diags = decoder.diags;
            diags.locate(&tree);
            diags.sort();
            Err(diags)
        }
    }
}

impl Decode for Spec {
    const EXPECTED: &'static str = "a mapping with `project`, `phases` and `services`";

    fn decode(d: &mut Decoder, node: &Node, path: &SpecPath) -> Option<Self> {
        if !matches!(node.value, Value::Map(_)) {
            d.push(
                Diagnostic::shape(
                    Code::InvalidType,
                    format!("expected {}, found {}", Self::EXPECTED, node.describe()),
                    path,
                )
                .with_span(node.span)
                .help("a spec starts with `project: <name>` at the top level"),
            );
            return None;
        }
        let mut f = Fields::open(d, node, path, "spec")?.with_extensions();
        let project = f.req(d, "project");
        let phases = f.req(d, "phases");
        let ingress = f.opt(d, "ingress");
        let env = f.opt(d, "env").unwrap_or_default();
        let secrets = f.opt(d, "secrets").unwrap_or_default();
        let secrets_from = f.opt(d, "secrets_from");
        let triggers = f.opt(d, "triggers").unwrap_or_default();
        let metrics = f.opt(d, "metrics");
        let monitoring = f.opt(d, "monitoring");
        let registries = f.opt(d, "registries").unwrap_or_default();
        let services = f.req(d, "services");
        f.finish(d);
        Some(Spec {
            project: project?,
            phases: phases?,
            ingress,
            env,
            secrets,
            secrets_from,
            triggers,
            metrics,
            monitoring,
            registries,
            services: services?,
        })
    }
}

impl<T: Decode> Decode for PhaseMap<T> {
    const EXPECTED: &'static str = "a mapping from phase number to phase";

    fn decode(d: &mut Decoder, node: &Node, path: &SpecPath) -> Option<Self> {
        let Some(entries) = node.entries() else {
            d.wrong_type(node, path, Self::EXPECTED);
            return None;
        };
        let mut map = BTreeMap::new();
        let mut seen = BTreeSet::new();
        for entry in entries {
            let Some(number) = phase_key(d, &entry.key, path) else { continue };
            if !first_time(d, &mut seen, number, &entry.key, path) {
                continue;
            }
            if let Some(value) = T::decode(d, &entry.value, &path.key(number.to_string())) {
                map.insert(number, value);
            }
        }
        Some(PhaseMap(map))
    }
}

/// A key that names a phase: a whole number.
fn phase_key(d: &mut Decoder, key: &Node, path: &SpecPath) -> Option<PhaseNumber> {
    if let Some(number) = as_phase_number(key) {
        return Some(number);
    }
    let text = scalar_key(d, key, path)?;
    d.push(
        Diagnostic::shape(Code::InvalidPhaseKey, format!("`{text}` is not a phase number"), &path.key(text))
            .with_span(key.span)
            .label("expected a whole number")
            .help("phases are keyed by number in growth order: `1:`, `2:`, `3:`"),
    );
    None
}

/// Whether `number` is new among the phase keys of one map; `01` and `1` are the same phase.
fn first_time(
    d: &mut Decoder,
    seen: &mut BTreeSet<PhaseNumber>,
    number: PhaseNumber,
    key: &Node,
    path: &SpecPath,
) -> bool {
    if seen.insert(number) {
        return true;
    }
    let text = key.scalar_text().unwrap_or_default();
    d.push(
        Diagnostic::shape(
            Code::DuplicateKey,
            format!("phase {number} is given twice (here as `{text}`)"),
            &path.key(text),
        )
        .with_span(key.span)
        .label("same phase number as an earlier key")
        .help("write each phase number once, without leading zeros"),
    );
    false
}

fn as_phase_number(key: &Node) -> Option<PhaseNumber> {
    match key.resolve()? {
        Resolved::Int(i) => PhaseNumber::try_from(i).ok(),
        Resolved::Str(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => s.parse().ok(),
        _ => None,
    }
}

impl<T: Decode> Decode for Phased<T> {
    const EXPECTED: &'static str = "a value, or a map from phase number to value";

    fn decode(d: &mut Decoder, node: &Node, path: &SpecPath) -> Option<Self> {
        let Some(entries) = node.entries() else {
            return T::decode(d, node, path).map(Phased::All);
        };
        let numbered = entries.iter().filter(|e| as_phase_number(&e.key).is_some()).count();
        if numbered == 0 || entries.is_empty() {
            return T::decode(d, node, path).map(Phased::All);
        }
        if numbered < entries.len() {
            let stray = entries.iter().find(|e| as_phase_number(&e.key).is_none())?;
            let name = stray.key.scalar_text().unwrap_or("?");
            d.push(
                Diagnostic::shape(
                    Code::MixedPhaseMap,
                    format!("`{name}` sits among phase numbers: a phased value is one value or a map from phase number to value, not both"),
                    &path.key(name),
                )
                .with_span(stray.key.span)
                .help("move it into each phase's value, or write the value once without phase numbers"),
            );
            return None;
        }
        let before = d.diags.error_count();
        let mut map = BTreeMap::new();
        let mut seen = BTreeSet::new();
        for entry in entries {
            let number = as_phase_number(&entry.key)?;
            if !first_time(d, &mut seen, number, &entry.key, path) {
                continue;
            }
            if let Some(value) = T::decode(d, &entry.value, &path.key(number.to_string())) {
                map.insert(number, value);
            }
        }
        (d.diags.error_count() == before).then_some(Phased::ByPhase(map))
    }
}

impl Decode for Phase {
    const EXPECTED: &'static str = "a phase";

    fn decode(d: &mut Decoder, node: &Node, path: &SpecPath) -> Option<Self> {
        let mut f = Fields::open(d, node, path, "phase")?;
        let name = f.req(d, "name");
        let target = f.req(d, "target");
        let nodes = f.req(d, "nodes");
        let headroom = f.opt(d, "headroom");
        let encrypt_network = f.opt(d, "encrypt_network");
        let network_policies = f.opt(d, "network_policies");
        f.finish(d);
        Some(Phase { name: name?, target: target?, nodes: nodes?, headroom, encrypt_network, network_policies })
    }
}

impl Decode for Target {
    const EXPECTED: &'static str = "a target (`compose`, `swarm` or `k8s`)";

    fn decode(d: &mut Decoder, node: &Node, path: &SpecPath) -> Option<Self> {
        let aliases = [
            ("kubernetes", "k8s"),
            ("k3s", "k8s"),
            ("kube", "k8s"),
            ("docker-compose", "compose"),
            ("dokploy", "compose"),
            ("docker-swarm", "swarm"),
            ("stack", "swarm"),
        ];
        keyword_or_alias(d, node, path, "target", &Target::ALL, &aliases)
    }
}

impl Decode for Role {
    const EXPECTED: &'static str = "a role (`manager` or `worker`)";

    fn decode(d: &mut Decoder, node: &Node, path: &SpecPath) -> Option<Self> {
        let aliases = [("master", "manager"), ("server", "manager"), ("control-plane", "manager"), ("agent", "worker")];
        keyword_or_alias(d, node, path, "role", &Role::ALL, &aliases)
    }
}

impl Decode for super::Node {
    const EXPECTED: &'static str = "a node";

    fn decode(d: &mut Decoder, node: &yaml::Node, path: &SpecPath) -> Option<Self> {
        let mut f = Fields::open(d, node, path, "node")?;
        let role = f.opt(d, "role");
        let cpu = f.req(d, "cpu");
        let memory = f.req(d, "memory");
        let disk = f.opt(d, "disk");
        let cost = f.opt(d, "cost");
        let labels = f.opt(d, "labels").unwrap_or_default();
        let reserve = f.opt(d, "reserve");
        f.finish(d);
        if let (Some(c), Some(raw)) = (cost, node.get("cost"))
            && c < 0.0
        {
            d.invalid_value(&raw.value, &path.key("cost"), "a cost cannot be negative");
        }
        Some(super::Node { role, cpu: cpu?, memory: memory?, disk, cost, labels, reserve })
    }
}

impl Decode for Reserve {
    const EXPECTED: &'static str = "a reserve (`cpu`, `memory`)";

    fn decode(d: &mut Decoder, node: &yaml::Node, path: &SpecPath) -> Option<Self> {
        let mut f = Fields::open(d, node, path, "reserve")?;
        let cpu = f.opt(d, "cpu");
        let memory = f.opt(d, "memory");
        f.finish(d);
        Some(Reserve { cpu, memory })
    }
}

impl Decode for Ingress {
    const EXPECTED: &'static str = "ingress settings";

    fn decode(d: &mut Decoder, node: &yaml::Node, path: &SpecPath) -> Option<Self> {
        let mut f = Fields::open(d, node, path, "ingress")?;
        let class = f.opt(d, "class");
        let tls = f.opt(d, "tls");
        let controller = f.opt(d, "controller");
        let acme = f.opt(d, "acme");
        f.finish(d);
        Some(Ingress { class, tls, controller, acme })
    }
}

impl Decode for super::Registry {
    const EXPECTED: &'static str = "a registry's pull credentials (`pull_secret`)";

    fn decode(d: &mut Decoder, node: &yaml::Node, path: &SpecPath) -> Option<Self> {
        let mut f = Fields::open(d, node, path, "registry")?;
        let pull_secret = f.req(d, "pull_secret");
        f.finish(d);
        Some(super::Registry { pull_secret: pull_secret? })
    }
}

impl Decode for super::Acme {
    const EXPECTED: &'static str = "an ACME account (`email`, `server`)";

    fn decode(d: &mut Decoder, node: &yaml::Node, path: &SpecPath) -> Option<Self> {
        let mut f = Fields::open(d, node, path, "acme")?;
        let email = f.req(d, "email");
        let server = f.opt(d, "server");
        f.finish(d);
        Some(super::Acme { email: email?, server })
    }
}

impl Decode for Metrics {
    const EXPECTED: &'static str = "metric names";

    fn decode(d: &mut Decoder, node: &yaml::Node, path: &SpecPath) -> Option<Self> {
        let mut f = Fields::open(d, node, path, "metrics")?;
        let http_duration = f.opt(d, "http_duration");
        let http_requests = f.opt(d, "http_requests");
        let status_label = f.opt(d, "status_label");
        let service_label = f.opt(d, "service_label");
        let queue_depth = f.opt(d, "queue_depth");
        f.finish(d);
        Some(Metrics { http_duration, http_requests, status_label, service_label, queue_depth })
    }
}

impl Decode for Tls {
    const EXPECTED: &'static str = "an issuer name, or `cluster_issuer` and `certresolver`";

    fn decode(d: &mut Decoder, node: &yaml::Node, path: &SpecPath) -> Option<Self> {
        if node.entries().is_none() {
            return String::decode(d, node, path).map(Tls::Same);
        }
        let mut f = Fields::open(d, node, path, "tls")?;
        let cluster_issuer = f.req(d, "cluster_issuer");
        let certresolver = f.req(d, "certresolver");
        f.finish(d);
        Some(Tls::Split(TlsNames { cluster_issuer: cluster_issuer?, certresolver: certresolver? }))
    }
}

impl Decode for EnvValue {
    const EXPECTED: &'static str = "a string, number or boolean";

    fn decode(d: &mut Decoder, node: &yaml::Node, path: &SpecPath) -> Option<Self> {
        scalar_text(d, node, path, Self::EXPECTED).map(EnvValue)
    }
}

impl Decode for Trigger {
    const EXPECTED: &'static str = "a trigger";

    fn decode(d: &mut Decoder, node: &yaml::Node, path: &SpecPath) -> Option<Self> {
        let mut f = Fields::open(d, node, path, "trigger")?;
        let metric = f.req(d, "metric");
        let above = f.opt(d, "above");
        let below = f.opt(d, "below");
        let for_ = f.opt(d, "for");
        let severity = f.req(d, "severity");
        let action = f.req(d, "action");
        let service = f.opt(d, "service");
        let expr = f.opt(d, "expr");
        let name = f.opt(d, "name");
        f.finish(d);
        if above.is_none() && below.is_none() && node.get("above").is_none() && node.get("below").is_none() {
            d.push(
                Diagnostic::shape(Code::InvalidThreshold, "a trigger needs a threshold: `above` or `below`", path)
                    .with_span(node.span)
                    .help("`above: 80%` fires when the value rises past 80%; `below: 20%` when it falls under 20%"),
            );
            return None;
        }
        if above.is_some() && below.is_some() {
            d.push(
                Diagnostic::shape(
                    Code::InvalidThreshold,
                    "a trigger has one threshold: `above` or `below`, not both",
                    path,
                )
                .with_span(node.span),
            );
            return None;
        }
        Some(Trigger { metric: metric?, above, below, for_, severity: severity?, action: action?, service, expr, name })
    }
}

impl Decode for Metric {
    const EXPECTED: &'static str = "a metric";

    fn decode(d: &mut Decoder, node: &yaml::Node, path: &SpecPath) -> Option<Self> {
        let name = String::decode(d, node, path)?;
        let valid = name.starts_with(|c: char| c.is_ascii_lowercase())
            && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid {
            d.invalid_value(
                node,
                path,
                format!("`{name}` is not a metric name: use lowercase letters, digits and `_`, starting with a letter"),
            );
            return None;
        }
        Some(Metric::parse(&name))
    }
}

impl Decode for AlertSeverity {
    const EXPECTED: &'static str = "a severity";

    fn decode(d: &mut Decoder, node: &yaml::Node, path: &SpecPath) -> Option<Self> {
        keyword(d, node, path, "severity", &AlertSeverity::ALL)
    }
}

impl Decode for Threshold {
    const EXPECTED: &'static str = "a percentage (`80%`), a duration (`300ms`) or a number";

    fn decode(d: &mut Decoder, node: &yaml::Node, path: &SpecPath) -> Option<Self> {
        match node.resolve() {
            Some(Resolved::Int(i)) if i >= 0 => Some(Threshold::Number(i as f64)),
            Some(Resolved::Float(f)) if f.is_finite() && f >= 0.0 => Some(Threshold::Number(f)),
            Some(Resolved::Str(text)) if text.trim_end().ends_with('%') => {
                parse_scalar(d, node, path, Self::EXPECTED, false, Percent::parse).map(Threshold::Percent)
            }
            Some(Resolved::Str(text)) if is_percent_in_words(text) => {
                d.push(
                    Diagnostic::shape(
                        Code::InvalidValue,
                        format!("`{text}` is not a valid percentage: write it with a `%` sign"),
                        path,
                    )
                    .with_span(node.span)
                    .label("expected a percentage like `80%`")
                    .help(format!("write `{}%`", text.split_whitespace().next().unwrap_or("80"))),
                );
                None
            }
            Some(Resolved::Str(_)) => {
                parse_scalar(d, node, path, Self::EXPECTED, false, Duration::parse).map(Threshold::Duration)
            }
            _ => {
                d.wrong_type(node, path, Self::EXPECTED);
                None
            }
        }
    }
}

impl Decode for Service {
    const EXPECTED: &'static str = "a service";

    fn decode(d: &mut Decoder, node: &yaml::Node, path: &SpecPath) -> Option<Self> {
        let mut f = Fields::open(d, node, path, "service")?.with_extensions();
        let image = f.req(d, "image");
        let port = f.opt(d, "port");
        let ports = f.raw("ports").and_then(|n| decode_ports(d, n, &path.key("ports"))).unwrap_or_default();
        let entrypoint = f.opt(d, "entrypoint");
        let command = f.opt(d, "command");
        let replicas = f.opt(d, "replicas");
        let autoscale = f.opt(d, "autoscale");
        let resources = f.opt(d, "resources");
        let env = f.opt(d, "env").unwrap_or_default();
        let secrets = f.opt(d, "secrets").unwrap_or_default();
        let secrets_as = f.opt(d, "secrets_as");
        let health = f.opt(d, "health");
        let expose = f.opt(d, "expose");
        let depends_on = f.opt(d, "depends_on").unwrap_or_default();
        let stateful = f.opt(d, "stateful");
        let volumes = f.opt(d, "volumes").unwrap_or_default();
        let placement = f.opt(d, "placement");
        let security = f.opt(d, "security");
        let stop_grace_period = f.opt(d, "stop_grace_period");
        let metrics = f.opt(d, "metrics");
        let allow = f.opt(d, "allow");
        f.finish(d);
        Some(Service {
            image: image?,
            port,
            ports,
            entrypoint,
            command,
            replicas,
            autoscale,
            resources,
            env,
            secrets,
            secrets_as,
            health,
            expose,
            depends_on,
            stateful,
            volumes,
            placement,
            security,
            stop_grace_period,
            metrics,
            allow,
        })
    }
}

impl Decode for Replicas {
    const EXPECTED: &'static str = "a whole number, or `global` for one replica on every node";

    fn decode(d: &mut Decoder, node: &yaml::Node, path: &SpecPath) -> Option<Self> {
        match node.resolve() {
            Some(Resolved::Str(text)) if text == Replicas::GLOBAL => Some(Replicas::Global),
            // A number too large for the core schema's integers is still a number: u32 says it is out of range.
            Some(Resolved::Str(text)) if !(node.is_plain() && yaml::is_core_int(text)) => {
                let aliases = ["daemonset", "every-node", "each-node", "per-node", "all", "all-nodes"];
                let help = if aliases.iter().any(|a| a.eq_ignore_ascii_case(text)) {
                    Some("topo calls this `global`".to_owned())
                } else {
                    suggestion(text, [Replicas::GLOBAL])
                };
                // A word unlike `global` (`three`) is a number written as a string.
                let Some(help) = help else {
                    d.wrong_type(node, path, Self::EXPECTED);
                    return None;
                };
                d.push(
                    Diagnostic::shape(Code::InvalidValue, format!("`{text}` is not a number of replicas"), path)
                        .with_span(node.span)
                        .label("expected a whole number or `global`")
                        .help(help),
                );
                None
            }
            Some(Resolved::Int(_) | Resolved::Str(_)) => u32::decode(d, node, path).map(Replicas::Count),
            _ => {
                d.wrong_type(node, path, Self::EXPECTED);
                None
            }
        }
    }
}

/// `{ metrics: 9100 }`, or `[9100, 9200]` named `port-9100`, `port-9200`.
fn decode_ports(d: &mut Decoder, node: &yaml::Node, path: &SpecPath) -> Option<BTreeMap<String, u16>> {
    match &node.value {
        Value::Seq(_) => {
            let list: Vec<u16> = Decode::decode(d, node, path)?;
            let mut ports = BTreeMap::new();
            for (i, port) in list.into_iter().enumerate() {
                if ports.insert(format!("port-{port}"), port).is_some() {
                    d.push(Diagnostic::shape(
                        Code::DuplicatePort,
                        format!("port {port} is listed twice"),
                        &path.index(i),
                    ));
                }
            }
            Some(ports)
        }
        _ => Decode::decode(d, node, path),
    }
}

impl Decode for Command {
    const EXPECTED: &'static str = "a command: a list of arguments or one line";

    fn decode(d: &mut Decoder, node: &yaml::Node, path: &SpecPath) -> Option<Self> {
        match &node.value {
            Value::Seq(items) => {
                let before = d.diags.error_count();
                let argv: Vec<String> = items
                    .iter()
                    .enumerate()
                    .filter_map(|(i, item)| scalar_text(d, item, &path.index(i), "an argument (a string)"))
                    .collect();
                if argv.is_empty() {
                    d.invalid_value(node, path, "a command needs at least one argument");
                }
                (d.diags.error_count() == before).then_some(Command::Argv(argv))
            }
            Value::Scalar(..) => {
                let line = scalar_text(d, node, path, Self::EXPECTED)?;
                match shell_words::split(&line) {
                    Ok(words) if !words.is_empty() => Some(Command::Line(line)),
                    Ok(_) => {
                        d.invalid_value(node, path, "a command needs at least one argument");
                        None
                    }
                    Err(_) => {
                        d.invalid_value(node, path, "this command line has an unterminated quote");
                        None
                    }
                }
            }
            Value::Map(_) => {
                d.wrong_type(node, path, Self::EXPECTED);
                None
            }
        }
    }
}

impl Decode for Autoscale {
    const EXPECTED: &'static str = "autoscale settings";

    fn decode(d: &mut Decoder, node: &yaml::Node, path: &SpecPath) -> Option<Self> {
        let mut f = Fields::open(d, node, path, "autoscale")?;
        let min = f.opt(d, "min");
        let max = f.req(d, "max");
        let cpu = f.opt(d, "cpu");
        let memory = f.opt(d, "memory");
        f.finish(d);
        Some(Autoscale { min, max: max?, cpu, memory })
    }
}

impl Decode for Resources {
    const EXPECTED: &'static str = "resources (`requests`, `limits`)";

    fn decode(d: &mut Decoder, node: &yaml::Node, path: &SpecPath) -> Option<Self> {
        let mut f = Fields::open(d, node, path, "resources")?;
        let requests = f.opt(d, "requests");
        let limits = f.opt(d, "limits");
        f.finish(d);
        Some(Resources { requests, limits })
    }
}

impl Decode for ResourceAmounts {
    const EXPECTED: &'static str = "`cpu` and `memory`";

    fn decode(d: &mut Decoder, node: &yaml::Node, path: &SpecPath) -> Option<Self> {
        let mut f = Fields::open(d, node, path, "resource amount")?;
        let cpu = f.opt(d, "cpu");
        let memory = f.opt(d, "memory");
        f.finish(d);
        Some(ResourceAmounts { cpu, memory })
    }
}

/// `80 percent`, `80 pct`: a number, then a word for percent.
fn is_percent_in_words(text: &str) -> bool {
    let mut words = text.split_whitespace();
    let number = words.next().is_some_and(|n| n.parse::<f64>().is_ok_and(f64::is_finite));
    let unit = words.next().map(str::to_ascii_lowercase);
    number && words.next().is_none() && matches!(unit.as_deref(), Some("percent" | "pct" | "per-cent" | "percentage"))
}

const PROBE_KEYS: [&str; 3] = ["liveness", "readiness", "startup"];
const CHECK_KEYS: [&str; 11] = [
    "http",
    "tcp",
    "exec",
    "port",
    "initial_delay",
    "interval",
    "timeout",
    "retries",
    "start_period",
    "compose_test",
    "http_client",
];

impl Decode for Health {
    const EXPECTED: &'static str = "a health check";

    fn decode(d: &mut Decoder, node: &yaml::Node, path: &SpecPath) -> Option<Self> {
        // Probes when a key names a probe; also when none names a check field
        // and one is a typo of a probe name, so that the typo is what is reported.
        let keys = || node.entries().unwrap_or_default().iter().filter_map(|e| e.key.scalar_text());
        let is_probes = keys().any(|k| PROBE_KEYS.contains(&k))
            || (!keys().any(|k| CHECK_KEYS.contains(&k)) && keys().any(|k| did_you_mean(k, PROBE_KEYS).is_some()));
        if !is_probes {
            return Check::decode(d, node, path).map(Health::One);
        }
        let mut f = Fields::open(d, node, path, "set of probes")?;
        let liveness = f.opt(d, "liveness");
        let readiness = f.opt(d, "readiness");
        let startup = f.opt(d, "startup");
        f.finish(d);
        Some(Health::Probes(Probes { liveness, readiness, startup }))
    }
}

impl Decode for Check {
    const EXPECTED: &'static str = "a check (`http`, `tcp` or `exec`)";

    fn decode(d: &mut Decoder, node: &yaml::Node, path: &SpecPath) -> Option<Self> {
        let mut f = Fields::open(d, node, path, "health check")?;
        let http = f.opt(d, "http");
        let tcp = f.opt(d, "tcp");
        let exec = f.opt(d, "exec");
        let port = f.opt(d, "port");
        let initial_delay = f.opt(d, "initial_delay");
        let interval = f.opt(d, "interval");
        let timeout = f.opt(d, "timeout");
        let retries = f.opt(d, "retries");
        let start_period = f.opt(d, "start_period");
        let compose_test = f.opt(d, "compose_test");
        let http_client = f.opt(d, "http_client");
        f.finish(d);
        let kinds = [http.is_some(), tcp.is_some(), exec.is_some()].iter().filter(|k| **k).count();
        let given = ["http", "tcp", "exec"].iter().filter(|k| node.get(k).is_some()).count();
        if kinds != 1 && given == kinds {
            d.push(
                Diagnostic::shape(
                    Code::InvalidCheck,
                    if kinds == 0 {
                        "a health check needs one of `http`, `tcp` or `exec`".to_string()
                    } else {
                        "a health check has exactly one of `http`, `tcp` and `exec`".to_string()
                    },
                    path,
                )
                .with_span(node.span)
                .help("`http: /health` (with `port` unless the service has one), `tcp: 5432`, or `exec: [pg_isready]`"),
            );
            return None;
        }
        Some(Check {
            http,
            tcp,
            exec,
            port,
            initial_delay,
            interval,
            timeout,
            retries,
            start_period,
            compose_test,
            http_client,
        })
    }
}

impl Decode for Expose {
    const EXPECTED: &'static str = "`host` (and `path`, `port`, `tls`)";

    fn decode(d: &mut Decoder, node: &yaml::Node, path: &SpecPath) -> Option<Self> {
        let mut f = Fields::open(d, node, path, "expose")?;
        let host = f.req(d, "host");
        let url_path = f.opt(d, "path");
        let port = f.opt(d, "port");
        let tls = f.opt(d, "tls");
        f.finish(d);
        Some(Expose { host: host?, path: url_path, port, tls })
    }
}

impl Decode for Volume {
    const EXPECTED: &'static str = "a volume (`mount`, `size`)";

    fn decode(d: &mut Decoder, node: &yaml::Node, path: &SpecPath) -> Option<Self> {
        let mut f = Fields::open(d, node, path, "volume")?;
        let mount = f.req(d, "mount");
        let from = f.opt(d, "from");
        let size = f.opt(d, "size");
        let access = f.opt(d, "access");
        let storage_class = f.opt(d, "storage_class");
        let read_only = f.opt(d, "read_only");
        f.finish(d);
        Some(Volume { mount: mount?, from, size, access, storage_class, read_only })
    }
}

impl Decode for AccessMode {
    const EXPECTED: &'static str = "an access mode";

    fn decode(d: &mut Decoder, node: &yaml::Node, path: &SpecPath) -> Option<Self> {
        keyword(d, node, path, "access mode", &AccessMode::ALL)
    }
}

impl Decode for Placement {
    const EXPECTED: &'static str = "a placement (`role`, `node`, `labels`, `spread`)";

    fn decode(d: &mut Decoder, node: &yaml::Node, path: &SpecPath) -> Option<Self> {
        let mut f = Fields::open(d, node, path, "placement")?;
        let role = f.opt(d, "role");
        let on_node = f.opt(d, "node");
        let labels = f.opt(d, "labels").unwrap_or_default();
        let spread = f.opt(d, "spread");
        f.finish(d);
        Some(Placement { role, node: on_node, labels, spread })
    }
}

impl Decode for Spread {
    const EXPECTED: &'static str = "`soft` or `hard`";

    fn decode(d: &mut Decoder, node: &yaml::Node, path: &SpecPath) -> Option<Self> {
        keyword(d, node, path, "spread", &[("soft", Spread::Soft), ("hard", Spread::Hard)])
    }
}

impl Decode for HttpClient {
    const EXPECTED: &'static str = "`bun`, `node`, `python`, `wget` or `curl`";

    fn decode(d: &mut Decoder, node: &yaml::Node, path: &SpecPath) -> Option<Self> {
        keyword(d, node, path, "HTTP client", &HttpClient::ALL)
    }
}

impl Decode for SecretsAs {
    const EXPECTED: &'static str = "`env` or `files`";

    fn decode(d: &mut Decoder, node: &yaml::Node, path: &SpecPath) -> Option<Self> {
        keyword(d, node, path, "secret delivery", &SecretsAs::ALL)
    }
}

impl Decode for Security {
    const EXPECTED: &'static str = "security settings";

    fn decode(d: &mut Decoder, node: &yaml::Node, path: &SpecPath) -> Option<Self> {
        let mut f = Fields::open(d, node, path, "security setting")?;
        let run_as_user = f.opt(d, "run_as_user");
        let run_as_group = f.opt(d, "run_as_group");
        let fs_group = f.opt(d, "fs_group");
        let run_as_non_root = f.opt(d, "run_as_non_root");
        let read_only_root_filesystem = f.opt(d, "read_only_root_filesystem");
        let capabilities = f.opt(d, "capabilities").unwrap_or_default();
        let writable = f.opt(d, "writable").unwrap_or_default();
        f.finish(d);
        Some(Security {
            run_as_user,
            run_as_group,
            fs_group,
            run_as_non_root,
            read_only_root_filesystem,
            capabilities,
            writable,
        })
    }
}

/// Quantities: strings in Kubernetes notation, or bare numbers where that makes sense.
macro_rules! decode_quantity {
    ($ty:ty, $expected:literal, $numbers:literal) => {
        impl Decode for $ty {
            const EXPECTED: &'static str = $expected;

            fn decode(d: &mut Decoder, node: &yaml::Node, path: &SpecPath) -> Option<Self> {
                parse_scalar(d, node, path, Self::EXPECTED, $numbers, <$ty>::parse)
            }
        }
    };
}

decode_quantity!(Cpu, "a CPU quantity (`250m`, `0.5`, `2`)", true);
decode_quantity!(Memory, "a memory quantity (`512Mi`, `1Gi`, `1.5G`)", true);
decode_quantity!(Percent, "a percentage (`70%`)", false);
decode_quantity!(Duration, "a duration (`30s`, `5m`, `7d`)", false);
