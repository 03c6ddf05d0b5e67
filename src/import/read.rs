//! Reading a compose file's services into drafts of spec services.
//!
//! Every compose key is either carried over, approximated, or dropped; each
//! of the last two leaves a note in the report with the key's position, so
//! nothing is lost silently.

use crate::code::Code;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use crate::diag::{Diagnostic, Diagnostics};
use crate::image::ImageRef;
use crate::spec::{Cpu, Memory, Role};
use crate::yaml::SpecPath;
use crate::yaml::{Entry, Node, Value};

use super::draft::{CheckDraft, CommandDraft, Noted, ServiceDraft, VolumeDraft};
use super::words::{
    dns_1123, env_name, go_duration, interpolates, interpolations, is_env_key, is_env_name, is_secret_name,
    is_secret_value, port_range, port_spec, secret_arg, split_outside_interpolations, unescape_dollars,
};
use super::{credentials, traefik};

/// The size given to every volume: compose volumes have none, and a Kubernetes claim needs one.
/// `value` of the env variable `name` with its variables as references to
/// secrets (`${NAME}`), when every variable in it is a plain `${NAME}` or
/// `$NAME` that is a secret: one `is_secret` picks, or the only one when the
/// value is nothing else (it carries `name`'s secret). `None` when a variable
/// is left (a default, an operator, a plain setting) or names `name` itself.
pub fn secret_references(name: &str, value: &str, is_secret: impl Fn(&str) -> bool) -> Option<(String, Vec<String>)> {
    let vars = interpolations(value);
    if vars.is_empty() || vars.iter().any(|v| v == name || !is_env_name(v)) {
        return None;
    }
    let alone = vars.len() == 1 && {
        let v = &vars[0];
        let trimmed = value.trim();
        trimmed == format!("${{{v}}}") || trimmed == format!("${v}")
    };
    let mut found = Vec::new();
    let text = secret_arg(value, |v| alone || is_secret(v), &mut found);
    // Every variable became a reference, and nothing else reads as one.
    let left = crate::model::args::references(&text).len() == interpolations(&text).len();
    (found.len() == vars.iter().collect::<BTreeSet<_>>().len() && left).then_some((text, found))
}

/// The key of a volume in the service's `volumes`: its source without the
/// service's own prefix, numbered when the service has one of that name.
fn volume_key(read: &ReadService, name_from: &str) -> String {
    let service = dns_1123(&read.compose_name);
    let mut base = dns_1123(name_from);
    if let Some(rest) = base.strip_prefix(&format!("{service}-")) {
        base = rest.to_owned();
    }
    let mut name = base.clone();
    let mut n = 2;
    while read.draft.volumes.iter().any(|(existing, _)| *existing == name) {
        name = format!("{base}-{n}");
        n += 1;
    }
    name
}

/// What another service mounting the same thing would share: a named volume,
/// or a bind mount of the project's files (`bind:PATH`). The host's own
/// directories (`/sys`, the Docker socket) are each node's: not shared data.
fn shareable_source(kind: &str, source: Option<&str>) -> Option<String> {
    match (kind, source) {
        ("volume", Some(source)) => Some(source.to_owned()),
        ("bind", Some(source)) if !is_host_system_path(source) => {
            Some(format!("bind:{}", source.trim_end_matches('/')))
        }
        _ => None,
    }
}

/// A bind mount's source that is the host's system rather than the project's
/// data: the root, `/proc`, `/sys`, `/dev`, `/run`, `/etc`, Docker's state and socket…
fn is_host_system_path(source: &str) -> bool {
    const SYSTEM: [&str; 11] =
        ["/proc", "/sys", "/dev", "/run", "/var/run", "/var/lib/docker", "/etc", "/usr", "/lib", "/boot", "/tmp"];
    let path = source.trim_end_matches('/');
    path.is_empty()
        || SYSTEM.iter().any(|p| path == *p || path.starts_with(&format!("{p}/")))
        || path.ends_with("docker.sock")
}

pub const GUESSED_VOLUME_SIZE: Memory = Memory::mebibytes(10 * 1024);

/// Images whose services keep data: with a volume, they are imported as `stateful`.
const DATABASE_IMAGES: [&str; 24] = [
    "postgres",
    "postgis",
    "pgvector",
    "timescaledb",
    "mysql",
    "mariadb",
    "percona",
    "mongo",
    "mongodb",
    "redis",
    "valkey",
    "keydb",
    "elasticsearch",
    "opensearch",
    "rabbitmq",
    "cassandra",
    "clickhouse-server",
    "influxdb",
    "minio",
    "etcd",
    "zookeeper",
    "kafka",
    "neo4j",
    "couchdb",
];

/// Service keys of the compose specification that topo does not carry over, with why.
const DROPPED_KEYS: [(&str, &str); 52] = [
    ("annotations", "topo writes its own metadata"),
    ("attach", "a `docker compose up` display setting"),
    ("blkio_config", "topo has no block-IO limits"),
    ("cgroup", "topo does not set cgroup namespaces"),
    ("cgroup_parent", "topo does not set cgroup parents"),
    ("container_name", "a fixed container name forbids replicas; compose names containers itself"),
    ("cpu_count", "topo's CPU is `resources`"),
    ("cpu_percent", "topo's CPU is `resources`"),
    ("cpu_period", "topo's CPU is `resources`"),
    ("cpu_quota", "topo's CPU is `resources`"),
    ("cpu_rt_period", "topo's CPU is `resources`"),
    ("cpu_rt_runtime", "topo's CPU is `resources`"),
    ("cpu_shares", "topo's CPU is `resources`"),
    ("cpuset", "topo does not pin CPUs"),
    ("credential_spec", "Windows only"),
    ("develop", "a development setting (`docker compose watch`)"),
    ("device_cgroup_rules", "topo does not give access to devices"),
    ("devices", "topo does not give access to devices"),
    ("dns", "topo uses the platform's DNS"),
    ("dns_opt", "topo uses the platform's DNS"),
    ("dns_search", "topo uses the platform's DNS"),
    ("domainname", "topo does not set domain names"),
    ("external_links", "topo services reach each other by service name"),
    ("extra_hosts", "topo does not edit /etc/hosts"),
    ("gpus", "topo does not schedule GPUs"),
    ("group_add", "topo sets only the main group (`security.run_as_group`)"),
    ("hostname", "each replica gets its own host name; others reach it by service name"),
    ("init", "topo does not inject an init process"),
    ("ipc", "topo does not share IPC namespaces"),
    ("isolation", "Windows only"),
    ("label_file", "topo writes its own labels"),
    ("links", "topo services reach each other by service name; add `depends_on` for start-up order"),
    ("logging", "topo leaves logging to the platform's default driver"),
    ("mac_address", "topo does not set MAC addresses"),
    ("mem_swappiness", "topo's memory is `resources`"),
    ("memswap_limit", "topo's memory is `resources`"),
    ("network_mode", "topo puts services on its own networks"),
    ("networks", "topo puts every service on the project's network (and exposed ones on Dokploy's)"),
    ("oom_kill_disable", "topo's memory is `resources`"),
    ("oom_score_adj", "topo's memory is `resources`"),
    ("pid", "topo does not share PID namespaces"),
    ("pids_limit", "topo has no PID limits"),
    ("platform", "the platform follows the node"),
    ("pull_policy", "each target chooses its own pull policy"),
    ("runtime", "topo uses the platform's runtime"),
    ("security_opt", "topo sets its own (`no-new-privileges`)"),
    ("shm_size", "topo does not size /dev/shm"),
    ("stdin_open", "an interactive setting"),
    ("stop_signal", "topo uses the image's stop signal"),
    ("storage_opt", "topo does not set storage options"),
    ("sysctls", "topo does not set kernel parameters"),
    ("tty", "an interactive setting"),
];

/// More keys dropped for the same reason as one of [`DROPPED_KEYS`].
const DROPPED_MORE: [(&str, &str); 8] = [
    ("ulimits", "topo does not set ulimits"),
    ("userns_mode", "topo does not set user namespaces"),
    ("uts", "topo does not share UTS namespaces"),
    ("volumes_from", "topo volumes belong to one service"),
    ("working_dir", "topo uses the image's working directory"),
    ("post_start", "topo has no lifecycle hooks"),
    ("pre_stop", "topo has no lifecycle hooks"),
    ("use_api_socket", "topo never mounts the Docker socket for you"),
];

/// A compose service read: its draft, and what the whole-file pass still resolves.
pub struct ReadService {
    pub compose_name: String,
    pub draft: ServiceDraft,
    /// `depends_on` entries: the compose name, the condition, where it was written.
    pub depends: Vec<Dependency>,
    /// Named volumes used (compose name → the spec volume name), for sharing between services.
    /// Each named volume and bind mount: its compose source (a bind's as `bind:PATH`),
    /// its key in the draft's `volumes`, where it is.
    pub named_volumes: Vec<(String, String, Node, SpecPath)>,
    /// Traefik's view of the service.
    pub traefik: traefik::Routes,
    /// Where the service is defined.
    pub at: (Node, SpecPath),
    /// Placement constraints that need the node to have a name or labels.
    pub hostname: Option<(String, Node, SpecPath)>,
    /// Values of the secrets it receives, by name, to tell when two services had different ones.
    pub secret_values: BTreeMap<String, String>,
    /// Env entries whose value interpolates variables, kept as text: where each is, for the
    /// file-wide pass that turns those naming another service's secret into references.
    pub interpolated_env: BTreeMap<String, (Node, SpecPath)>,
}

impl ReadService {
    fn new(compose_name: &str, image: Noted<String>, at: (Node, SpecPath)) -> Self {
        ReadService {
            compose_name: compose_name.to_owned(),
            draft: ServiceDraft::new(image),
            depends: Vec::new(),
            named_volumes: Vec::new(),
            traefik: traefik::Routes::default(),
            at,
            hostname: None,
            secret_values: BTreeMap::new(),
            interpolated_env: BTreeMap::new(),
        }
    }
}

pub struct Dependency {
    pub name: String,
    pub condition: Option<String>,
    pub node: Node,
    pub path: SpecPath,
}

/// Longest `command`, `entrypoint` or health check carried over: each is checked for
/// credentials word by word, and no real command is longer.
const MAX_COMMAND_BYTES: usize = 64 * 1024;

/// The reading state of one compose file.
pub struct Reader {
    pub report: Diagnostics,
    pub base_dir: Option<PathBuf>,
    /// Top-level `volumes`: the names declared there.
    pub declared_volumes: BTreeSet<String>,
    /// Top-level `secrets`: compose name → spec secret name.
    pub secret_names: BTreeMap<String, String>,
    pub project: String,
}

pub fn scalar(node: &Node) -> Option<&str> {
    if is_null(node) {
        return None;
    }
    node.scalar_text()
}

pub fn entries(node: &Node) -> &[Entry] {
    node.entries().unwrap_or_default()
}

pub fn items(node: &Node) -> &[Node] {
    match &node.value {
        Value::Seq(items) => items,
        _ => &[],
    }
}

pub fn is_null(node: &Node) -> bool {
    matches!(node.resolve(), Some(crate::yaml::Resolved::Null))
}

fn key_text(entry: &Entry) -> &str {
    entry.key.scalar_text().unwrap_or_default()
}

/// A scalar or a list of scalars, as strings.
fn strings(node: &Node) -> Vec<(String, &Node)> {
    match &node.value {
        Value::Seq(items) => items.iter().filter_map(|n| scalar(n).map(|s| (s.to_owned(), n))).collect(),
        Value::Scalar(..) => scalar(node).map(|s| vec![(s.to_owned(), node)]).unwrap_or_default(),
        Value::Map(_) => Vec::new(),
    }
}

fn truthy(node: &Node) -> Option<bool> {
    match scalar(node)?.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "y" => Some(true),
        "false" | "no" | "off" | "n" => Some(false),
        _ => None,
    }
}

impl Reader {
    pub fn warn(&mut self, code: Code, node: &Node, path: &SpecPath, message: impl Into<String>, help: Option<String>) {
        self.report.push(Diagnostic::warning(code, message, path).with_span(node.span).help_opt(help));
    }

    pub fn error(
        &mut self,
        code: Code,
        node: &Node,
        path: &SpecPath,
        message: impl Into<String>,
        help: Option<String>,
    ) {
        self.report.push(Diagnostic::error(code, message, path).with_span(node.span).help_opt(help));
    }

    fn dropped(&mut self, node: &Node, path: &SpecPath, what: &str, why: &str) {
        self.warn(Code::Dropped, node, path, format!("{what} is not carried over: {why}"), None);
    }

    fn expect_kind(&mut self, node: &Node, path: &SpecPath, expected: &str) {
        self.error(
            Code::InvalidCompose,
            node,
            path,
            format!("expected {expected}, found {}", node.describe()),
            Some("docker compose would refuse this file too".to_owned()),
        );
    }

    /// Read one service (its `extends` already merged in).
    pub fn service(&mut self, compose_name: &str, key: &Node, node: &Node) -> Option<ReadService> {
        let path = SpecPath::root().key("services").key(compose_name);
        if !matches!(node.value, Value::Map(_)) {
            self.expect_kind(node, &path, "a mapping of service settings");
            return None;
        }
        let image = self.image(compose_name, key, node, &path)?;
        let mut read = ReadService::new(compose_name, image, (key.clone(), path.clone()));
        let mut env_files = None;
        let mut environment = None;
        let mut legacy = Legacy::default();
        let mut profiles = None;
        for entry in entries(node) {
            let name = key_text(entry);
            let at = path.key(name);
            let value = &entry.value;
            match name {
                "image" | "build" | "extends" => {}
                _ if name.starts_with("x-") => {}
                _ if is_null(value) => {}
                "command" => read.draft.command = self.command(&mut read, value, &at, "command"),
                "entrypoint" => read.draft.entrypoint = self.command(&mut read, value, &at, "entrypoint"),
                "environment" => environment = Some((value, at)),
                "env_file" => env_files = Some((value, at)),
                "ports" => self.ports(&mut read, value, &at),
                "expose" => self.expose(&mut read, value, &at),
                "healthcheck" => read.draft.health = self.healthcheck(value, &at),
                "deploy" => self.deploy(&mut read, value, &at),
                "mem_limit" => legacy.mem_limit = Some((value, at)),
                "mem_reservation" => legacy.mem_reservation = Some((value, at)),
                "cpus" => legacy.cpus = Some((value, at)),
                "scale" => legacy.scale = Some((value, at)),
                "labels" => self.labels(&mut read, value, &at),
                "volumes" => self.volumes(&mut read, value, &at),
                "tmpfs" => self.tmpfs_list(&mut read, value, &at),
                "secrets" => self.secrets(&mut read, value, &at),
                "configs" => self.configs(value, &at),
                "depends_on" => self.depends_on(&mut read, value, &at),
                "profiles" => profiles = Some((value, at)),
                "user" => self.user(&mut read, value, &at),
                "read_only" => read.draft.security.read_only_root = truthy(value).unwrap_or(false),
                "cap_add" | "cap_drop" => self.capabilities(&mut read, name == "cap_add", value, &at),
                "privileged" if truthy(value) == Some(true) => {
                    self.dropped(&entry.key, &at, "`privileged: true`", "topo never runs privileged containers; add the capabilities the image needs to `security.capabilities`");
                }
                "privileged" => {}
                "stop_grace_period" => match scalar(value).and_then(go_duration) {
                    Some(grace) => read.draft.stop_grace_period = Some(grace),
                    None => self.dropped(value, &at, "`stop_grace_period`", "it is not a duration"),
                },
                "restart" => self.restart(value, &at),
                _ => self.other_key(entry, name, &at),
            }
        }
        if let Some((value, at)) = env_files {
            self.env_files(&mut read, value, &at);
        }
        if let Some((value, at)) = environment {
            self.environment(&mut read, value, &at);
        }
        for (what, at) in [("command", "command"), ("entrypoint", "entrypoint"), ("healthcheck", "healthcheck")] {
            if let Some(entry) = node.get(at) {
                self.command_credentials(&mut read, what, &entry.value, &path.key(at));
            }
        }
        self.legacy(&mut read, legacy);
        if let Some((value, at)) = profiles {
            self.profiles(&mut read, compose_name, value, &at);
        }
        self.stateful_guess(&mut read);
        self.traefik_service(&read, key, &path);
        Some(read)
    }

    /// A Traefik of the file's own: Dokploy already runs one, which topo's labels are for.
    fn traefik_service(&mut self, read: &ReadService, key: &Node, path: &SpecPath) {
        if ImageRef::parse(&read.draft.image.value).name() == "traefik" {
            self.warn(
                Code::TraefikService,
                key,
                path,
                format!(
                    "`{}` runs Traefik, which Dokploy already runs: topo's labels are for Dokploy's",
                    read.compose_name
                ),
                Some("remove this service from the spec unless you deploy without Dokploy".to_owned()),
            );
        }
    }

    fn tmpfs_list(&mut self, read: &mut ReadService, value: &Node, at: &SpecPath) {
        for (target, node) in strings(value) {
            let target = split_outside_interpolations(&target, b':')[0].to_owned();
            self.tmpfs(read, &target, node, at);
        }
    }

    fn configs(&mut self, value: &Node, at: &SpecPath) {
        for (i, item) in items(value).iter().enumerate() {
            self.dropped(
                item,
                &at.index(i),
                "a config",
                "topo has no configs; bake the file into the image, or mount it from a volume",
            );
        }
    }

    /// `cap_add` (each by name; `ALL` is approximated) and `cap_drop` (`ALL` clears what was added).
    fn capabilities(&mut self, read: &mut ReadService, add: bool, value: &Node, at: &SpecPath) {
        if add {
            for (cap, node) in strings(value) {
                let cap = capability(&cap);
                if cap == "ALL" {
                    self.warn(
                        Code::Approximated,
                        node,
                        at,
                        "`cap_add: [ALL]` becomes Docker's default capabilities",
                        Some("topo adds capabilities by name: list the ones the image needs".to_owned()),
                    );
                } else {
                    read.draft.security.capabilities.insert(cap);
                }
            }
        } else {
            for (cap, _) in strings(value) {
                let cap = capability(&cap);
                if cap == "ALL" {
                    read.draft.security.capabilities.clear();
                } else {
                    read.draft.security.capabilities.remove(&cap);
                }
            }
        }
    }

    fn restart(&mut self, value: &Node, at: &SpecPath) {
        let policy = scalar(value).unwrap_or_default();
        if policy != "unless-stopped" {
            self.warn(
                Code::Approximated,
                value,
                at,
                format!("`restart: {policy}` becomes `unless-stopped` (compose) and Swarm's `restart_policy: any`"),
                Some("topo restarts every service".to_owned()),
            );
        }
    }

    /// A key topo has no home for (dropped, with why), or one compose does not know.
    fn other_key(&mut self, entry: &Entry, name: &str, at: &SpecPath) {
        if let Some((_, why)) = DROPPED_KEYS.iter().chain(DROPPED_MORE.iter()).find(|(k, _)| *k == name) {
            self.dropped(&entry.key, at, &format!("`{name}`"), why);
        } else {
            self.warn(
                Code::UnknownKey,
                &entry.key,
                at,
                format!("`{name}` is not a compose service key; it is ignored"),
                crate::diag::suggestion(
                    name,
                    [
                        "environment",
                        "healthcheck",
                        "depends_on",
                        "volumes",
                        "ports",
                        "command",
                        "entrypoint",
                        "deploy",
                        "labels",
                        "image",
                    ],
                ),
            );
        }
    }

    /// A service in a compose profile runs only when asked: imported with 0 replicas.
    fn profiles(&mut self, read: &mut ReadService, compose_name: &str, value: &Node, at: &SpecPath) {
        let names: Vec<String> = strings(value).into_iter().map(|(s, _)| s).collect();
        if !names.is_empty() {
            read.draft.replicas = Some(Noted::with_note(
                0,
                format!("compose profile {}: it ran only with `--profile`; raise to run it", names.join(", ")),
            ));
            self.warn(
                Code::Approximated,
                value,
                at,
                format!(
                    "service `{compose_name}` only runs with `--profile {}`: it is imported with 0 replicas",
                    names[0]
                ),
                Some("set `replicas` to run it".to_owned()),
            );
        }
    }

    fn image(&mut self, compose_name: &str, key: &Node, node: &Node, path: &SpecPath) -> Option<Noted<String>> {
        let image = node.get("image").and_then(|e| scalar(&e.value).map(|s| (s.trim().to_owned(), &e.value)));
        let build = node.get("build").filter(|e| !is_null(&e.value));
        match (image, build) {
            (Some((image, at)), build) if !image.is_empty() => {
                // `${TAG:?message}` is compose's "required"; the message does not fit in an image reference.
                let image = super::words::without_required_messages(&image);
                if let Some(build) = build {
                    self.dropped(
                        &build.key,
                        &path.key("build"),
                        "`build`",
                        "topo runs images; the image named by `image` is what runs",
                    );
                }
                if interpolates(&image) {
                    self.warn(
                        Code::Approximated,
                        at,
                        &path.key("image"),
                        format!("the image `{image}` is interpolated: compose and Swarm fill it in at deploy time, Kubernetes does not"),
                        Some("write the image's real name once you move past compose".to_owned()),
                    );
                }
                Some(Noted::plain(image))
            }
            (_, Some(build)) => {
                let placeholder = format!("{}-{}:latest", self.project, dns_1123(compose_name));
                self.warn(
                    Code::BuildPlaceholder,
                    &build.key,
                    &path.key("build"),
                    format!("`{compose_name}` is built from source and names no image: topo writes the placeholder `{placeholder}`"),
                    Some("build and push the image to a registry, then put its name in the spec".to_owned()),
                );
                Some(Noted::with_note(
                    placeholder,
                    "placeholder: compose built this service from source (`build`); put your registry's image here",
                ))
            }
            _ => {
                self.error(
                    Code::MissingImage,
                    key,
                    path,
                    format!("service `{compose_name}` has neither `image` nor `build`"),
                    Some("docker compose refuses it too: give it an `image`".to_owned()),
                );
                None
            }
        }
    }

    /// `command` or `entrypoint`: a string (split like a shell) or a list. A variable that names a
    /// secret (by its shape, or one the service has) becomes the spec's `${NAME}`, which each target
    /// fills in at deploy time as compose did, and the service gets the secret; any other
    /// interpolation is kept as text, and reported.
    fn command(&mut self, read: &mut ReadService, value: &Node, at: &SpecPath, what: &str) -> Option<CommandDraft> {
        let mut secrets = Vec::new();
        let mut arg = |text: &str| {
            let is_secret = |name: &str| is_secret_name(name) || read.draft.secrets.contains_key(name);
            secret_arg(text, is_secret, &mut secrets)
        };
        let command = match &value.value {
            Value::Scalar(..) => {
                let line = arg(scalar(value)?);
                if shell_words::split(&line).map_or(true, |words| words.is_empty()) {
                    self.dropped(value, at, &format!("`{what}`"), "it is empty or has an unterminated quote");
                    return None;
                }
                CommandDraft::Line(line)
            }
            Value::Seq(list) => {
                let argv: Vec<String> = list.iter().map(|n| arg(scalar(n).unwrap_or_default())).collect();
                if argv.is_empty() || list.iter().any(|n| !matches!(n.value, Value::Scalar(..))) {
                    self.dropped(
                        value,
                        at,
                        &format!("`{what}`"),
                        "an empty list clears the image's own, which topo cannot say",
                    );
                    return None;
                }
                CommandDraft::Argv(argv)
            }
            Value::Map(_) => {
                self.expect_kind(value, at, "a string or a list");
                return None;
            }
        };
        let raw = match &value.value {
            Value::Seq(list) => list.iter().filter_map(scalar).collect::<Vec<_>>().join(" "),
            _ => scalar(value).unwrap_or_default().to_owned(),
        };
        let others: Vec<String> = interpolations(&raw).into_iter().filter(|v| !secrets.contains(v)).collect();
        if !others.is_empty() {
            let mut listed: Vec<String> = Vec::new();
            for v in others.iter().map(|v| format!("`${{{v}}}`")) {
                if !listed.contains(&v) {
                    listed.push(v);
                }
            }
            self.warn(
                Code::Approximated,
                value,
                at,
                format!("`{what}` interpolates {}: compose filled it in at deploy time; topo keeps the text as written and its targets pass it literally", listed.join(", ")),
                Some("write the value, make the variable a secret of the service, or read it inside the container (`sh -c`)".to_owned()),
            );
        }
        for name in secrets {
            self.warn(
                Code::Secret,
                value,
                at,
                format!("`{what}` passes `${{{name}}}`: it becomes the secret `{name}` of the service, which each target fills in at deploy time as compose did"),
                Some(format!("set `{name}` in the deploy environment (Dokploy's Environment tab)")),
            );
            read.draft.secrets.entry(name).or_insert_with(|| Some(format!("its value is an argument of `{what}`")));
        }
        Some(command)
    }

    /// A container port that is interpolated with a default (`${PORT:-3000}`):
    /// the default, with a note; `None` when there is none.
    fn port_default<T>(
        &mut self,
        item: &Node,
        at: &SpecPath,
        text: &str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Option<T> {
        let resolved = super::words::with_defaults(text);
        let parsed = parse(&resolved).filter(|_| resolved != text)?;
        self.warn(
            Code::Approximated,
            item,
            at,
            format!("`{text}` interpolates its container port: topo takes the default, `{resolved}`"),
            Some("if the variable is set where the file is deployed, write its value instead".to_owned()),
        );
        Some(parsed)
    }

    fn ports(&mut self, read: &mut ReadService, value: &Node, at: &SpecPath) {
        for (i, item) in items(value).iter().enumerate() {
            let at = at.index(i);
            let (spec, published_note) = match &item.value {
                Value::Scalar(..) => {
                    let text = scalar(item).unwrap_or_default();
                    (port_spec(text).or_else(|| self.port_default(item, &at, text, port_spec)), text.to_owned())
                }
                Value::Map(_) => {
                    let target = item.get("target").and_then(|e| scalar(&e.value)).unwrap_or_default();
                    let target = &if port_range(target).is_none()
                        && port_range(&super::words::with_defaults(target)).is_some()
                    {
                        self.port_default(item, &at, target, |t| Some(t.to_owned()));
                        super::words::with_defaults(target)
                    } else {
                        target.to_owned()
                    };
                    let protocol =
                        item.get("protocol").and_then(|e| scalar(&e.value)).unwrap_or("tcp").to_ascii_lowercase();
                    let published = item.get("published").and_then(|e| scalar(&e.value));
                    let spec = port_range(target)
                        .map(|(container, truncated)| words_port(container, protocol, published.is_some(), truncated));
                    (spec, published.map(|p| format!("{p}:{target}")).unwrap_or_default())
                }
                Value::Seq(_) => (None, String::new()),
            };
            let Some(spec) = spec else {
                self.dropped(item, &at, "this port", "its container port is not a number (or is interpolated)");
                continue;
            };
            self.port_notes(item, &at, &spec.protocol, spec.truncated);
            if spec.published {
                self.warn(
                    Code::Approximated,
                    item,
                    &at,
                    format!("`{published_note}` publishes a host port, and topo's compose target publishes none: the container port is kept"),
                    Some("exposed services are reached through Traefik (`expose`), the others on the project's network".to_owned()),
                );
            }
            add_ports(&mut read.draft, &spec.container);
        }
        if !matches!(value.value, Value::Seq(_)) {
            self.expect_kind(value, at, "a list of ports");
        }
    }

    fn port_notes(&mut self, item: &Node, at: &SpecPath, protocol: &str, truncated: bool) {
        if protocol != "tcp" {
            self.warn(
                Code::Approximated,
                item,
                at,
                format!("a `{protocol}` port is imported as a port number; topo's Services and health checks use TCP"),
                None,
            );
        }
        if truncated {
            self.warn(
                Code::Approximated,
                item,
                at,
                format!("a port range longer than {} ports: only its first port is kept", super::words::MAX_RANGE),
                Some("list the ports the service really listens on".to_owned()),
            );
        }
    }

    fn expose(&mut self, read: &mut ReadService, value: &Node, at: &SpecPath) {
        for (i, (text, item)) in strings(value).into_iter().enumerate() {
            let at = at.index(i);
            let (ports, protocol) = match text.split_once('/') {
                Some((p, proto)) => (p.to_owned(), proto.to_ascii_lowercase()),
                None => (text.clone(), "tcp".to_owned()),
            };
            match port_range(&ports).or_else(|| self.port_default(item, &at, &ports, port_range)) {
                Some((ports, truncated)) => {
                    self.port_notes(item, &at, &protocol, truncated);
                    add_ports(&mut read.draft, &ports);
                }
                None => self.dropped(item, &at, "this port", "it is not a port number"),
            }
        }
    }

    fn healthcheck(&mut self, value: &Node, at: &SpecPath) -> Option<Noted<CheckDraft>> {
        if !matches!(value.value, Value::Map(_)) {
            self.expect_kind(value, at, "a mapping");
            return None;
        }
        if value.get("disable").is_some_and(|e| truthy(&e.value) == Some(true)) {
            self.warn(
                Code::Approximated,
                value,
                at,
                "`disable: true` turns off the image's own health check; topo writes no check, so the image's own (if any) runs",
                None,
            );
            return None;
        }
        let exec = self.health_test(value, at)?;
        let mut check = CheckDraft { exec, interval: None, timeout: None, retries: None, start_period: None };
        self.health_timings(value, at, &mut check);
        Some(Noted::plain(check))
    }

    /// A word of a health check's `test` as topo writes it: compose fills in `${…}` when it
    /// deploys, while topo's targets pass the text to the check as it is (and the container's
    /// shell, in shell form, finds no such variable). A default is taken; anything else is
    /// reported.
    fn health_word(&mut self, node: &Node, at: &SpecPath, raw: &str) -> String {
        if !interpolates(raw) {
            return unescape_dollars(raw);
        }
        let resolved = super::words::with_defaults(raw);
        let at = at.key("test");
        if resolved != raw {
            self.warn(
                Code::Approximated,
                node,
                &at,
                format!("the health check interpolates {}, which compose filled in at deploy time: topo takes the default and writes `{}`", dollar_list(raw), unescape_dollars(&resolved)),
                Some("if the variable is set where the file is deployed, write its value instead".to_owned()),
            );
        }
        if interpolates(&resolved) {
            self.warn(
                Code::Approximated,
                node,
                &at,
                format!("the health check interpolates {}, which compose filled in at deploy time: topo's targets pass the text as it is, which only a shell-form check in a container that has the variable expands", dollar_list(&resolved)),
                Some("write the value; in shell form, `$$NAME` reads a variable the container itself has".to_owned()),
            );
        }
        unescape_dollars(&resolved)
    }

    /// The check's command, from `test` (string: shell form; list: `CMD` or `CMD-SHELL`).
    fn health_test(&mut self, value: &Node, at: &SpecPath) -> Option<CommandDraft> {
        let test = value.get("test").map(|e| &e.value);
        let exec = match test.map(|t| &t.value) {
            None => {
                self.dropped(
                    value,
                    at,
                    "this health check",
                    "it has no `test`: it only retimes the image's own check, which topo cannot do",
                );
                return None;
            }
            Some(Value::Scalar(..)) => {
                let line = self.health_word(test.unwrap_or(value), at, test.and_then(scalar).unwrap_or_default());
                if line.trim().is_empty() {
                    self.dropped(value, at, "this health check", "its `test` is empty");
                    return None;
                }
                CommandDraft::Line(line)
            }
            Some(Value::Seq(list)) => {
                let words: Vec<String> =
                    list.iter().map(|n| self.health_word(n, at, scalar(n).unwrap_or_default())).collect();
                match words.split_first() {
                    Some((first, _)) if first == "NONE" => {
                        self.warn(
                            Code::Approximated,
                            value,
                            at,
                            "`test: [NONE]` turns off the image's own health check; topo writes no check, so the image's own (if any) runs",
                            None,
                        );
                        return None;
                    }
                    Some((first, rest)) if first == "CMD" && !rest.is_empty() => CommandDraft::Argv(rest.to_vec()),
                    Some((first, rest)) if first == "CMD-SHELL" && !rest.is_empty() => {
                        CommandDraft::Line(rest.join(" "))
                    }
                    Some((first, _)) if first != "CMD" && first != "CMD-SHELL" => {
                        let at = at.key("test");
                        self.warn(
                            Code::Approximated,
                            test.unwrap_or(value),
                            &at,
                            "a `test` list without `CMD` or `CMD-SHELL` is run as `CMD`",
                            None,
                        );
                        CommandDraft::Argv(words.clone())
                    }
                    _ => {
                        self.dropped(value, at, "this health check", "its `test` runs nothing");
                        return None;
                    }
                }
            }
            Some(Value::Map(_)) => {
                self.expect_kind(test.unwrap_or(value), &at.key("test"), "a string or a list");
                return None;
            }
        };
        Some(exec)
    }

    /// The check's `interval`, `timeout`, `start_period` and `retries`; other keys reported.
    fn health_timings(&mut self, value: &Node, at: &SpecPath, check: &mut CheckDraft) {
        for entry in entries(value) {
            let name = key_text(entry);
            let field_at = at.key(name);
            match name {
                "test" | "disable" => {}
                "interval" | "timeout" | "start_period" => match scalar(&entry.value).and_then(go_duration) {
                    Some(d) if d.millis() == 0 => {}
                    Some(d) => {
                        let slot = match name {
                            "interval" => &mut check.interval,
                            "timeout" => &mut check.timeout,
                            _ => &mut check.start_period,
                        };
                        *slot = Some(d);
                    }
                    None => self.dropped(&entry.value, &field_at, &format!("`{name}`"), "it is not a duration"),
                },
                "retries" => match scalar(&entry.value).and_then(|s| s.parse::<u32>().ok()) {
                    Some(0) => self.dropped(
                        &entry.value,
                        &field_at,
                        "`retries: 0`",
                        "topo needs at least 1; the default, 3, applies",
                    ),
                    Some(n) => check.retries = Some(n),
                    None => self.dropped(&entry.value, &field_at, "`retries`", "it is not a whole number"),
                },
                "start_interval" => {
                    self.dropped(&entry.key, &field_at, "`start_interval`", "topo checks at `interval` from the start")
                }
                _ if name.starts_with("x-") => {}
                _ => self.warn(
                    Code::UnknownKey,
                    &entry.key,
                    &field_at,
                    format!("`{name}` is not a health check key; it is ignored"),
                    None,
                ),
            }
        }
    }

    fn deploy(&mut self, read: &mut ReadService, value: &Node, at: &SpecPath) {
        for entry in entries(value) {
            let name = key_text(entry);
            let field_at = at.key(name);
            let v = &entry.value;
            match name {
                "replicas" => match scalar(v).and_then(|s| s.parse::<u32>().ok()) {
                    Some(n) => read.draft.replicas = Some(Noted::plain(n)),
                    None => self.dropped(v, &field_at, "`replicas`", "it is not a whole number"),
                },
                "mode" => {
                    match scalar(v).unwrap_or("replicated") {
                        "replicated" => {}
                        // One replica per node: Swarm's global mode, a DaemonSet, one replica on compose.
                        "global" => read.draft.global = true,
                        mode => self.dropped(
                            v,
                            &field_at,
                            &format!("`mode: {mode}`"),
                            "topo runs replicated or global services",
                        ),
                    }
                }
                "resources" => self.resources(read, v, &field_at),
                "placement" => self.placement(read, v, &field_at),
                "labels" => self.labels(read, v, &field_at),
                "restart_policy" | "update_config" | "rollback_config" => self.warn(
                    Code::Approximated,
                    &entry.key,
                    &field_at,
                    format!("`deploy.{name}` is replaced by topo's own (documented in the README)"),
                    None,
                ),
                "endpoint_mode" => {
                    self.dropped(&entry.key, &field_at, "`endpoint_mode`", "topo chooses it from the service's ports")
                }
                _ if name.starts_with("x-") => {}
                _ => self.warn(
                    Code::UnknownKey,
                    &entry.key,
                    &field_at,
                    format!("`{name}` is not a deploy key; it is ignored"),
                    None,
                ),
            }
        }
    }

    fn resources(&mut self, read: &mut ReadService, value: &Node, at: &SpecPath) {
        for entry in entries(value) {
            let name = key_text(entry);
            let field_at = at.key(name);
            let amounts = match name {
                "limits" => &mut read.draft.limits,
                "reservations" => &mut read.draft.requests,
                _ => {
                    self.warn(
                        Code::UnknownKey,
                        &entry.key,
                        &field_at,
                        format!("`{name}` is not a resources key; it is ignored"),
                        None,
                    );
                    continue;
                }
            };
            let mut dropped = Vec::new();
            for inner in entries(&entry.value) {
                let key = key_text(inner);
                match key {
                    "cpus" => match scalar(&inner.value).and_then(Cpu::from_docker) {
                        Some(cpu) => amounts.cpu = Some(cpu),
                        None => dropped.push((
                            inner.value.clone(),
                            field_at.key(key),
                            "`cpus`",
                            "it is not a number of CPUs",
                        )),
                    },
                    "memory" => match scalar(&inner.value).and_then(Memory::from_docker) {
                        Some(memory) => amounts.memory = Some(memory),
                        None => dropped.push((
                            inner.value.clone(),
                            field_at.key(key),
                            "`memory`",
                            "it is not a memory size",
                        )),
                    },
                    "pids" => dropped.push((inner.key.clone(), field_at.key(key), "`pids`", "topo has no PID limits")),
                    "devices" | "generic_resources" => dropped.push((
                        inner.key.clone(),
                        field_at.key(key),
                        "devices",
                        "topo does not schedule devices or GPUs",
                    )),
                    _ => {}
                }
            }
            for (node, path, what, why) in dropped {
                self.dropped(&node, &path, what, why);
            }
        }
    }

    fn placement(&mut self, read: &mut ReadService, value: &Node, at: &SpecPath) {
        for entry in entries(value) {
            let name = key_text(entry);
            let field_at = at.key(name);
            match name {
                "constraints" => {
                    for (i, (text, node)) in strings(&entry.value).into_iter().enumerate() {
                        self.constraint(read, &text, node, &field_at.index(i));
                    }
                }
                "max_replicas_per_node" => {
                    if scalar(&entry.value) == Some("1") {
                        read.draft.placement.spread_hard = true;
                    } else {
                        self.warn(
                            Code::Approximated,
                            &entry.value,
                            &field_at,
                            "`max_replicas_per_node` above 1 is not kept: topo spreads replicas softly",
                            None,
                        );
                    }
                }
                "preferences" => self.dropped(
                    &entry.key,
                    &field_at,
                    "placement `preferences`",
                    "topo spreads replicas over nodes by itself",
                ),
                _ => self.warn(
                    Code::UnknownKey,
                    &entry.key,
                    &field_at,
                    format!("`{name}` is not a placement key; it is ignored"),
                    None,
                ),
            }
        }
    }

    fn constraint(&mut self, read: &mut ReadService, text: &str, node: &Node, at: &SpecPath) {
        let parsed = text.split_once("==").map(|(k, v)| (k.trim(), v.trim().trim_matches(['"', '\''])));
        let placement = &mut read.draft.placement;
        match parsed {
            Some(("node.role", "manager")) => placement.role = Some(Role::Manager),
            Some(("node.hostname", host)) if !host.is_empty() => {
                read.hostname = Some((host.to_owned(), node.clone(), at.clone()));
            }
            Some((key, value)) if key.starts_with("node.labels.") && !value.is_empty() => {
                let label = key.trim_start_matches("node.labels.").to_owned();
                if valid_label(&label) && valid_label(value) {
                    placement.labels.insert(label, value.to_owned());
                } else {
                    self.dropped(
                        node,
                        at,
                        &format!("the constraint `{text}`"),
                        "its label is not a valid Kubernetes label",
                    );
                }
            }
            Some(("node.role", "worker")) => self.warn(
                Code::Approximated,
                node,
                at,
                "`node.role == worker` is not kept: the one node of an imported phase is the manager",
                Some("add `placement: { role: worker }` for the phases that have workers".to_owned()),
            ),
            _ => self.dropped(
                node,
                at,
                &format!("the constraint `{text}`"),
                "topo places by `role`, `node` and `labels` (equality only)",
            ),
        }
    }

    fn labels(&mut self, read: &mut ReadService, value: &Node, at: &SpecPath) {
        let pairs: Vec<(String, String, Node, SpecPath)> = match &value.value {
            Value::Seq(list) => list
                .iter()
                .enumerate()
                .filter_map(|(i, n)| {
                    let text = scalar(n)?;
                    let (k, v) = text.split_once('=').unwrap_or((text, ""));
                    Some((k.trim().to_owned(), v.to_owned(), n.clone(), at.index(i)))
                })
                .collect(),
            Value::Map(list) => list
                .iter()
                .map(|e| {
                    let k = key_text(e).to_owned();
                    (k.clone(), scalar(&e.value).unwrap_or_default().to_owned(), e.key.clone(), at.key(k))
                })
                .collect(),
            Value::Scalar(..) => {
                self.expect_kind(value, at, "a list or a mapping of labels");
                return;
            }
        };
        for (key, value, node, path) in pairs {
            if let Some(why) = read.traefik.add(&key, &value, &node, &path) {
                // A key that is no label key (`admin:hash`, words with spaces) may be a value: not quoted.
                let label_key = !key.is_empty()
                    && key.len() <= 253
                    && key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/'));
                let what = if label_key { format!("the label `{key}`") } else { "a label".to_owned() };
                self.dropped(&node, &path, &what, why);
            }
        }
    }

    fn volumes(&mut self, read: &mut ReadService, value: &Node, at: &SpecPath) {
        for (i, item) in items(value).iter().enumerate() {
            let at = at.index(i);
            let mount = match &item.value {
                Value::Scalar(..) => short_volume(scalar(item).unwrap_or_default()),
                Value::Map(_) => {
                    let get = |k: &str| item.get(k).and_then(|e| scalar(&e.value)).map(str::to_owned);
                    let kind = get("type").unwrap_or_else(|| "volume".to_owned());
                    let read_only = item.get("read_only").is_some_and(|e| truthy(&e.value) == Some(true));
                    for extra in ["bind", "volume", "tmpfs", "consistency"] {
                        if let Some(e) = item.get(extra) {
                            self.dropped(
                                &e.key,
                                &at.key(extra),
                                &format!("`{extra}` options"),
                                "topo volumes have no such options",
                            );
                        }
                    }
                    Mount { kind, source: get("source"), target: get("target").unwrap_or_default(), read_only }
                }
                Value::Seq(_) => {
                    self.expect_kind(item, &at, "a volume");
                    continue;
                }
            };
            self.mount(read, mount, item, &at);
        }
    }

    fn mount(&mut self, read: &mut ReadService, mount: Mount, item: &Node, at: &SpecPath) {
        if !mount.target.starts_with('/') {
            self.dropped(item, at, "this volume", "its container path is not absolute (or is interpolated)");
            return;
        }
        if read.draft.volumes.iter().any(|(_, v)| v.value.mount == mount.target) {
            self.dropped(item, at, "this volume", "another volume of the service is mounted at the same path");
            return;
        }
        let (name_from, note) = match (mount.kind.as_str(), &mount.source) {
            ("tmpfs", _) => {
                self.tmpfs(read, &mount.target, item, at);
                return;
            }
            ("volume", Some(source)) if !source.is_empty() => {
                if !self.declared_volumes.contains(source) {
                    self.warn(
                        Code::Approximated,
                        item,
                        at,
                        format!("volume `{source}` is not declared under the top-level `volumes`"),
                        None,
                    );
                }
                (source.clone(), None)
            }
            ("volume", _) => {
                self.warn(
                    Code::Approximated,
                    item,
                    at,
                    format!(
                        "the anonymous volume at `{}` becomes a named volume that outlives the container",
                        mount.target
                    ),
                    None,
                );
                (last_component(&mount.target), Some("was an anonymous volume".to_owned()))
            }
            ("bind", source) => {
                let source = source.clone().unwrap_or_default();
                self.warn(
                    Code::BindMount,
                    item,
                    at,
                    format!("the bind mount of `{source}` becomes a named volume at `{}`: the host's files are not in it", mount.target),
                    Some("copy the files into the volume once, or bake them into the image; a single file mounted this way becomes an empty directory".to_owned()),
                );
                (last_component(&mount.target), Some(format!("was a bind mount of {source}")))
            }
            (kind, _) => {
                self.dropped(item, at, &format!("a `{kind}` mount"), "topo mounts named volumes only");
                return;
            }
        };
        let name = volume_key(read, &name_from);
        if let Some(source) = shareable_source(&mount.kind, mount.source.as_deref()) {
            read.named_volumes.push((source, name.clone(), item.clone(), at.clone()));
        }
        let volume = VolumeDraft {
            mount: mount.target,
            size: GUESSED_VOLUME_SIZE,
            read_only: mount.read_only,
            shared: false,
            from: None,
        };
        let note = match note {
            Some(n) => format!("{n}; size guessed"),
            None => "size guessed: compose volumes have none".to_owned(),
        };
        read.draft.volumes.push((name, Noted::with_note(volume, note)));
    }

    fn tmpfs(&mut self, read: &mut ReadService, target: &str, node: &Node, at: &SpecPath) {
        if !target.starts_with('/') {
            self.dropped(node, at, "this tmpfs", "its path is not absolute");
            return;
        }
        if !read.draft.security.writable.iter().any(|w| w == target) {
            read.draft.security.writable.push(target.to_owned());
        }
        self.warn(
            Code::Approximated,
            node,
            at,
            format!("the tmpfs at `{target}` becomes a writable path (`security.writable`), mounted as tmpfs (emptyDir on k8s) when the root filesystem is read-only"),
            None,
        );
    }

    fn secrets(&mut self, read: &mut ReadService, value: &Node, at: &SpecPath) {
        for (i, item) in items(value).iter().enumerate() {
            let at = at.index(i);
            let (source, target) = match &item.value {
                Value::Scalar(..) => (scalar(item).unwrap_or_default().to_owned(), None),
                _ => (
                    item.get("source").and_then(|e| scalar(&e.value)).unwrap_or_default().to_owned(),
                    item.get("target").and_then(|e| scalar(&e.value)).map(str::to_owned),
                ),
            };
            if source.is_empty() {
                self.dropped(item, &at, "this secret", "it names no secret");
                continue;
            }
            let name = self.secret_names.get(&source).cloned().unwrap_or_else(|| env_name(&source));
            let file = target.unwrap_or_else(|| source.clone());
            let file = if file.starts_with('/') { file } else { format!("/run/secrets/{file}") };
            self.warn(
                Code::Approximated,
                item,
                &at,
                format!("secret `{source}` (the file {file}) becomes the secret `{name}`: an environment variable on compose and k8s, the file /run/secrets/{name} on Swarm"),
                Some(format!("point the application at `{name}` (or `{name}_FILE` on Swarm), and set `{name}` in the deploy environment")),
            );
            read.draft.secrets.insert(name, Some(format!("was the compose secret {source}")));
            read.draft.secrets_as_files = true;
        }
    }

    fn depends_on(&mut self, read: &mut ReadService, value: &Node, at: &SpecPath) {
        match &value.value {
            Value::Seq(list) => {
                for (i, item) in list.iter().enumerate() {
                    if let Some(name) = scalar(item) {
                        read.depends.push(Dependency {
                            name: name.to_owned(),
                            condition: None,
                            node: item.clone(),
                            path: at.index(i),
                        });
                    }
                }
            }
            Value::Map(list) => {
                for entry in list {
                    let name = key_text(entry).to_owned();
                    let condition = entry.value.get("condition").and_then(|e| scalar(&e.value)).map(str::to_owned);
                    if entry.value.get("required").is_some_and(|e| truthy(&e.value) == Some(false)) {
                        self.warn(
                            Code::Approximated,
                            &entry.key,
                            &at.key(&name),
                            "`required: false` is not kept: topo's dependencies are required",
                            None,
                        );
                    }
                    if let Some(restart) = entry.value.get("restart") {
                        self.dropped(
                            &restart.key,
                            &at.key(&name).key("restart"),
                            "`restart`",
                            "topo does not restart dependants",
                        );
                    }
                    read.depends.push(Dependency {
                        name: name.clone(),
                        condition,
                        node: entry.key.clone(),
                        path: at.key(&name),
                    });
                }
            }
            Value::Scalar(..) => self.expect_kind(value, at, "a list or a mapping of services"),
        }
    }

    fn user(&mut self, read: &mut ReadService, value: &Node, at: &SpecPath) {
        let text = scalar(value).unwrap_or_default();
        let (user, group) = match split_outside_interpolations(text, b':').as_slice() {
            [user, group, ..] => (*user, Some(*group)),
            _ => (text, None),
        };
        let security = &mut read.draft.security;
        match user.parse::<u32>() {
            Ok(uid) => {
                security.run_as_user = Some(uid);
                security.run_as_non_root = uid != 0;
            }
            Err(_) => {
                self.dropped(
                    value,
                    at,
                    &format!("`user: {text}`"),
                    "topo takes numeric ids (`security.run_as_user`); the image's user applies",
                );
                return;
            }
        }
        match group.map(str::parse::<u32>) {
            Some(Ok(gid)) => security.run_as_group = Some(gid),
            Some(Err(_)) => self.dropped(value, at, "the group name", "topo takes a numeric group id"),
            None => {}
        }
    }

    fn environment(&mut self, read: &mut ReadService, value: &Node, at: &SpecPath) {
        let pairs: Vec<(String, Option<String>, Node, Node, SpecPath)> = match &value.value {
            Value::Seq(list) => list
                .iter()
                .enumerate()
                .filter_map(|(i, n)| {
                    let text = scalar(n)?;
                    let (k, v) = match text.split_once('=') {
                        Some((k, v)) => (k.to_owned(), Some(v.to_owned())),
                        None => (text.to_owned(), None),
                    };
                    Some((k, v, n.clone(), n.clone(), at.index(i)))
                })
                .collect(),
            Value::Map(list) => list
                .iter()
                .map(|e| {
                    let k = key_text(e).to_owned();
                    let v = if is_null(&e.value) { None } else { scalar(&e.value).map(str::to_owned) };
                    (k.clone(), v, e.key.clone(), e.value.clone(), at.key(k))
                })
                .collect(),
            Value::Scalar(..) => {
                self.expect_kind(value, at, "a list or a mapping");
                return;
            }
        };
        for (name, value, key_node, value_node, path) in pairs {
            self.env_var(read, &name, value, &key_node, Some(&value_node), &path, None);
        }
    }

    /// One environment variable, from `environment` or an env file (`from`).
    #[allow(clippy::too_many_arguments)]
    fn env_var(
        &mut self,
        read: &mut ReadService,
        name: &str,
        value: Option<String>,
        key_node: &Node,
        value_node: Option<&Node>,
        path: &SpecPath,
        from: Option<&str>,
    ) {
        let name = name.trim();
        if !is_env_key(name) {
            // The name is not shown: a malformed entry may be a value.
            self.dropped(
                key_node,
                path,
                "a variable with an invalid name",
                "topo's environment names are letters, digits, `_`, `.` and `-`, not starting with a digit",
            );
            return;
        }
        let secret = is_secret_name(name) || value.as_deref().is_some_and(is_secret_value);
        if (secret || value.is_none()) && !is_env_name(name) {
            // A secret is written as `${NAME}` in compose and stack files: it needs a shell name.
            self.dropped(
                key_node,
                path,
                &format!("the secret-looking variable `{name}` (its value is not copied)"),
                "a secret's name must be letters, digits and `_`; set it in the deploy environment under such a name",
            );
            return;
        }
        let Some(value) = value else {
            // `- NAME` without a value: compose passed the deploy environment's value through.
            read.draft.env.remove(name);
            read.draft
                .secrets
                .insert(name.to_owned(), Some("compose passed it through from the deploy environment".to_owned()));
            self.warn(
                Code::Secret,
                key_node,
                path,
                format!("`{name}` has no value: compose passed it through from the deploy environment, so it becomes the secret `{name}`"),
                None,
            );
            return;
        };
        if secret {
            self.secret_var(read, name, value, key_node, path, from);
            return;
        }
        if read.draft.secrets.contains_key(name) {
            read.draft.secrets.remove(name);
        }
        let text = unescape_dollars(&value);
        let note = if interpolates(&value) {
            read.interpolated_env.insert(name.to_owned(), (value_node.unwrap_or(key_node).clone(), path.clone()));
            self.warn(
                Code::Approximated,
                value_node.unwrap_or(key_node),
                path,
                format!("`{name}` interpolates {}: compose filled it in at deploy time; topo keeps the text as written, and its targets pass it literally", dollar_list(&value)),
                Some("write the value, or make the variable a secret".to_owned()),
            );
            Some(format!("compose interpolated {}: now passed literally", dollar_list(&value)))
        } else {
            from.map(|f| format!("from {f}"))
        };
        read.draft.env.insert(name.to_owned(), Noted { value: text, note });
    }

    /// A variable that looks secret: it becomes a secret, its value kept for the report's checks only.
    fn secret_var(
        &mut self,
        read: &mut ReadService,
        name: &str,
        value: String,
        key_node: &Node,
        path: &SpecPath,
        from: Option<&str>,
    ) {
        read.draft.env.remove(name);
        if let Some((text, found)) = secret_references(name, &value, is_secret_name) {
            self.env_references(read, name, text, found, key_node, path);
            return;
        }
        let vars: Vec<String> = interpolations(&value).into_iter().filter(|v| v != name).collect();
        read.secret_values.insert(name.to_owned(), value);
        let note = from.map_or_else(|| "value not copied".to_owned(), |f| format!("from {f}; value not copied"));
        read.draft.secrets.insert(name.to_owned(), Some(note));
        let help = if vars.is_empty() {
            format!("set `{name}` in the deploy environment (Dokploy's Environment tab)")
        } else {
            format!(
                "compose built it from {}: set `{name}` itself in the deploy environment now (Dokploy's Environment tab)",
                vars.iter().map(|v| format!("`${{{v}}}`")).collect::<Vec<_>>().join(", ")
            )
        };
        self.warn(
            Code::Secret,
            key_node,
            path,
            format!("`{name}` looks secret: it becomes the secret `{name}`, and its value is not copied"),
            Some(help),
        );
    }

    /// A secret-looking variable built from other variables (`POSTGRES_PASSWORD:
    /// ${DB_PASS}`, `DATABASE_URL: postgres://app:${DB_PASSWORD}@db/app`):
    /// the variables become the service's secrets and the value refers to them,
    /// so that the deployer sets each once, as compose had it.
    pub fn env_references(
        &mut self,
        read: &mut ReadService,
        name: &str,
        text: String,
        found: Vec<String>,
        node: &Node,
        path: &SpecPath,
    ) {
        let list = found.iter().map(|v| format!("`{v}`")).collect::<Vec<_>>().join(", ");
        let written = found.iter().map(|v| format!("`${{{v}}}`")).collect::<Vec<_>>().join(", ");
        for secret in &found {
            read.draft.secrets.entry(secret.clone()).or_insert_with(|| Some(format!("interpolated into `{name}`")));
        }
        read.draft.env.insert(name.to_owned(), Noted::with_note(text, format!("refers to the secret {list}")));
        self.warn(
            Code::Secret,
            node,
            path,
            format!("`{name}` interpolates {written}: the service gets the secret {list}, and `{name}` refers to it, which each target fills in at deploy time as compose did"),
            Some(format!("set {list} in the deploy environment (Dokploy's Environment tab)")),
        );
    }

    /// Credentials written into `command`, `entrypoint` or the health check's
    /// `test` become secrets the command reads from the environment
    /// ([`credentials`]); a command whose credential cannot be moved is dropped.
    fn command_credentials(&mut self, read: &mut ReadService, what: &str, node: &Node, at: &SpecPath) {
        let slot = match what {
            "command" => read.draft.command.clone(),
            "entrypoint" => read.draft.entrypoint.clone(),
            _ => read.draft.health.as_ref().map(|h| h.value.exec.clone()),
        };
        let Some(command) = slot else { return };
        let length = match &command {
            CommandDraft::Line(line) => line.len(),
            CommandDraft::Argv(argv) => argv.iter().map(String::len).sum(),
        };
        if length > MAX_COMMAND_BYTES {
            set_slot(read, what, None);
            self.dropped(
                node,
                at,
                &format!("`{what}`"),
                &format!("it is longer than {MAX_COMMAND_BYTES} bytes: too long to check for credentials"),
            );
            return;
        }
        if what == "command" && self.command_into_entrypoint(read, &command, node, at) {
            return;
        }
        let entrypoint = what == "entrypoint";
        // The health check's string runs through `/bin/sh -c`; `command` and `entrypoint` are split, not run by a shell.
        let (script, shell_argv) = match &command {
            CommandDraft::Line(line) if what == "healthcheck" => (line.clone(), None),
            CommandDraft::Line(line) => match shell_words::split(line) {
                Ok(argv) => script_and_argv(argv, entrypoint),
                Err(_) => return,
            },
            CommandDraft::Argv(argv) => script_and_argv(argv.clone(), entrypoint),
        };
        let (rewritten, moved_all) = rewrite_rounds(read, &script);
        if moved_all.is_empty() && !rewritten.is_empty() {
            return;
        }
        let leftover = moved_all.iter().any(|m| rewritten.contains(&m.value) && m.value.len() >= 6);
        if rewritten.is_empty() || leftover {
            set_slot(read, what, None);
            self.warn(
                Code::Secret,
                node,
                at,
                format!("`{what}` carries a credential topo cannot move into a secret: it is not copied"),
                Some("write it with a secret read from the environment (`sh -c '… \"$NAME\"'`), and list the secret in `secrets`".to_owned()),
            );
            return;
        }
        let rebuilt = match shell_argv {
            None => CommandDraft::Line(rewritten),
            Some((mut argv, index)) => {
                argv[index] = rewritten;
                CommandDraft::Argv(argv)
            }
        };
        set_slot(read, what, Some(rebuilt));
        self.report_moved(read, what, node, at, moved_all);
    }

    /// Each moved credential becomes a secret of the service, reported once.
    fn report_moved(
        &mut self,
        read: &mut ReadService,
        what: &str,
        node: &Node,
        at: &SpecPath,
        moved_all: Vec<credentials::Moved>,
    ) {
        let mut reported = BTreeSet::new();
        for m in moved_all {
            read.secret_values.insert(m.name.clone(), m.value);
            read.draft
                .secrets
                .entry(m.name.clone())
                .or_insert_with(|| Some(format!("was written in `{what}`; value not copied")));
            if !reported.insert(m.name.clone()) {
                continue;
            }
            self.warn(
                Code::Secret,
                node,
                at,
                format!("a credential in `{what}` ({}) becomes the secret `{}`: the command reads it from the environment through `sh -c`, and its value is not copied", m.how, m.name),
                Some(format!("set `{}` in the deploy environment (Dokploy's Environment tab); the image needs `/bin/sh`", m.name)),
            );
        }
    }

    /// A `command` with a credential that is only arguments (to the service's
    /// `entrypoint`, or to the image's when it starts with `-`) cannot run
    /// through `sh -c` alone: it joins the entrypoint, which does, or it is
    /// dropped when the entrypoint is the image's. Whether it was handled here.
    fn command_into_entrypoint(
        &mut self,
        read: &mut ReadService,
        command: &CommandDraft,
        node: &Node,
        at: &SpecPath,
    ) -> bool {
        let Some(argv) = argv_of(command) else { return false };
        let args_only = read.draft.entrypoint.is_some() || argv.first().is_some_and(|a| a.starts_with('-'));
        let known = known_values(read);
        let carries = credentials::rewrite(&credentials::script_of(&argv), &known, &mut |_, _| "X".to_owned())
            .is_none_or(|(_, moved)| !moved.is_empty());
        if !args_only || !carries {
            return false;
        }
        match read.draft.entrypoint.as_ref().and_then(argv_of) {
            Some(mut merged) => {
                merged.extend(argv);
                read.draft.entrypoint = Some(CommandDraft::Argv(merged));
                read.draft.command = None;
                self.warn(
                    Code::Approximated,
                    node,
                    at,
                    "`command` carries a credential and runs as arguments of `entrypoint`: it is joined to the entrypoint, which reads the credential from the environment",
                    None,
                );
            }
            None => {
                read.draft.command = None;
                self.warn(
                    Code::Secret,
                    node,
                    at,
                    "`command` passes a credential to the image's entrypoint, where it cannot be read from the environment: the command is not copied",
                    Some("write `entrypoint` and `command` together in the spec, with the credential as a secret (`sh -c '… \"$NAME\"'`)".to_owned()),
                );
            }
        }
        true
    }

    fn env_files(&mut self, read: &mut ReadService, value: &Node, at: &SpecPath) {
        let files: Vec<(String, bool, Node, SpecPath)> = match &value.value {
            Value::Scalar(..) => vec![(scalar(value).unwrap_or_default().to_owned(), true, value.clone(), at.clone())],
            Value::Seq(list) => list
                .iter()
                .enumerate()
                .filter_map(|(i, n)| match &n.value {
                    Value::Scalar(..) => Some((scalar(n)?.to_owned(), true, n.clone(), at.index(i))),
                    Value::Map(_) => {
                        let path = n.get("path").and_then(|e| scalar(&e.value))?.to_owned();
                        let required = n.get("required").is_none_or(|e| truthy(&e.value) != Some(false));
                        Some((path, required, n.clone(), at.index(i)))
                    }
                    Value::Seq(_) => None,
                })
                .collect(),
            Value::Map(_) => Vec::new(),
        };
        for (file, required, node, path) in files {
            let Some(text) = self.env_file_text(&file, required, &node, &path) else { continue };
            for (number, line) in text.lines().enumerate() {
                let line = line.trim();
                let line = line.strip_prefix("export ").unwrap_or(line).trim_start();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                let (name, value) = match line.split_once('=') {
                    Some((k, v)) => (k.trim(), Some(env_file_value(v))),
                    None => (line, None),
                };
                // A line without `=` passes the variable through from the deploy environment; one that
                // does not read as a variable's name may be a value itself, so only its number is shown.
                let bare_name = value.is_some()
                    || (is_env_name(name)
                        && !name.chars().any(|c| c.is_ascii_lowercase())
                        && crate::secret_shape::shape(name).is_none());
                if !is_env_key(name) || !bare_name {
                    self.dropped(
                        &node,
                        &path,
                        &format!("line {} of env file `{file}`", number + 1),
                        "it is not `NAME=value` with a variable name of letters, digits, `_`, `.` and `-`",
                    );
                    continue;
                }
                self.env_var(read, name, value, &node, None, &path, Some(&file));
            }
        }
    }

    /// The text of an env file inside the project directory (the compose file's), at most
    /// [`crate::yaml::MAX_BYTES`]; `None` with a note when it is missing, outside, too large or not text.
    fn env_file_text(&mut self, file: &str, required: bool, node: &Node, path: &SpecPath) -> Option<String> {
        let project = self.base_dir.clone().filter(|d| !d.as_os_str().is_empty()).unwrap_or_else(|| PathBuf::from("."));
        let relative = std::path::Path::new(file);
        let escapes = relative.is_absolute()
            || file.starts_with('~')
            || relative.components().any(|c| matches!(c, std::path::Component::ParentDir));
        let full = project.join(relative);
        // A symbolic link may lead out of the project too.
        let resolved = (!escapes)
            .then(|| Some((fs_err::canonicalize(&full).ok()?, fs_err::canonicalize(&project).ok()?)))
            .flatten();
        let outside = escapes || resolved.as_ref().is_some_and(|(file, project)| !file.starts_with(project));
        if outside {
            self.error(
                Code::EnvFileOutside,
                node,
                path,
                format!("env file `{file}` is outside the compose file's directory: topo does not read it"),
                Some("copy the file next to the compose file (or below it), or add its variables to the spec by hand (secrets by name only)".to_owned()),
            );
            return None;
        }
        let limit = crate::yaml::MAX_BYTES;
        // Only a regular file: a FIFO or a device would block or never end.
        let regular = fs_err::metadata(&full).is_ok_and(|m| m.is_file());
        let read = fs_err::File::open(&full).and_then(|f| {
            if !regular {
                return Err(std::io::Error::other("not a regular file"));
            }
            crate::read_bounded(f)
        });
        match read {
            Ok(bytes) if bytes.len() > limit => {
                self.error(
                    Code::EnvFileTooLarge,
                    node,
                    path,
                    format!("env file `{file}` is larger than {limit} bytes: topo does not read it"),
                    None,
                );
                None
            }
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => Some(text),
                Err(_) => {
                    self.error(
                        Code::EnvFileNotText,
                        node,
                        path,
                        format!("env file `{file}` is not UTF-8 text"),
                        Some("save it as UTF-8".to_owned()),
                    );
                    None
                }
            },
            Err(_) => {
                let status = if required { "compose would refuse to start without it" } else { "it is optional" };
                self.warn(
                    Code::EnvFileMissing,
                    node,
                    path,
                    format!("env file `{file}` is not there ({status}): its variables are not imported"),
                    Some("run `topo import` where the file is, or add its variables to the spec by hand (secrets by name only)".to_owned()),
                );
                None
            }
        }
    }

    fn legacy(&mut self, read: &mut ReadService, legacy: Legacy<'_>) {
        let mut set = |this: &mut Self, slot_cpu: bool, limit: bool, entry: Option<(&Node, SpecPath)>, key: &str| {
            let Some((value, at)) = entry else { return };
            let amounts = if limit { &mut read.draft.limits } else { &mut read.draft.requests };
            if slot_cpu {
                match scalar(value).and_then(Cpu::from_docker) {
                    Some(cpu) if amounts.cpu.is_none() => amounts.cpu = Some(cpu),
                    Some(_) => this.warn(
                        Code::Approximated,
                        value,
                        &at,
                        format!("`{key}` is overridden by `deploy.resources`"),
                        None,
                    ),
                    None => this.dropped(value, &at, &format!("`{key}`"), "it is not a number of CPUs"),
                }
            } else {
                match scalar(value).and_then(Memory::from_docker) {
                    Some(memory) if amounts.memory.is_none() => amounts.memory = Some(memory),
                    Some(_) => this.warn(
                        Code::Approximated,
                        value,
                        &at,
                        format!("`{key}` is overridden by `deploy.resources`"),
                        None,
                    ),
                    None => this.dropped(value, &at, &format!("`{key}`"), "it is not a memory size"),
                }
            }
        };
        set(self, true, true, legacy.cpus, "cpus");
        set(self, false, true, legacy.mem_limit, "mem_limit");
        set(self, false, false, legacy.mem_reservation, "mem_reservation");
        if let Some((value, at)) = legacy.scale {
            match scalar(value).and_then(|s| s.parse::<u32>().ok()) {
                Some(n) if read.draft.replicas.is_none() => read.draft.replicas = Some(Noted::plain(n)),
                Some(_) => {
                    self.warn(Code::Approximated, value, &at, "`scale` is overridden by `deploy.replicas`", None)
                }
                None => self.dropped(value, &at, "`scale`", "it is not a whole number"),
            }
        }
        // A request above its limit is an error in topo: compose would only have warned.
        let (limits, requests) = (&read.draft.limits, &mut read.draft.requests);
        if let (Some(limit), Some(request)) = (limits.cpu, requests.cpu)
            && request > limit
        {
            requests.cpu = Some(limit);
        }
        if let (Some(limit), Some(request)) = (limits.memory, requests.memory)
            && request > limit
        {
            requests.memory = Some(limit);
        }
    }

    fn stateful_guess(&mut self, read: &mut ReadService) {
        let image = ImageRef::parse(&read.draft.image.value);
        let name = image.name();
        // A global service runs on every node; data that lives on one node cannot.
        if DATABASE_IMAGES.contains(&name) && !read.draft.volumes.is_empty() && !read.draft.global {
            read.draft.stateful = Some(Noted::with_note(
                true,
                format!("guessed from the image ({name}): a StatefulSet on k8s, pinned on Swarm"),
            ));
        }
    }
}

#[derive(Default)]
struct Legacy<'n> {
    mem_limit: Option<(&'n Node, SpecPath)>,
    mem_reservation: Option<(&'n Node, SpecPath)>,
    cpus: Option<(&'n Node, SpecPath)>,
    scale: Option<(&'n Node, SpecPath)>,
}

struct Mount {
    kind: String,
    source: Option<String>,
    target: String,
    read_only: bool,
}

/// `SOURCE:TARGET[:MODE]` or `TARGET`.
fn short_volume(text: &str) -> Mount {
    let parts = split_outside_interpolations(text, b':');
    let (source, target, mode) = match parts.as_slice() {
        [target] => (None, *target, ""),
        [source, target] => (Some(*source), *target, ""),
        [source, target, mode, ..] => (Some(*source), *target, *mode),
        [] => (None, "", ""),
    };
    let kind = match source {
        None => "volume",
        Some(s) if s.starts_with(['.', '/', '~', '$']) || s.contains('/') => "bind",
        Some(_) => "volume",
    };
    Mount {
        kind: kind.to_owned(),
        source: source.map(str::to_owned),
        target: target.to_owned(),
        read_only: mode.split(',').any(|m| m == "ro"),
    }
}

/// An image's repository name without registry, tag or digest: `pgvector/pgvector:pg18` → `pgvector`.
fn last_component(path: &str) -> String {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    match parts.as_slice() {
        [] => "root".to_owned(),
        [.., last] => (*last).to_owned(),
    }
}

fn words_port(container: Vec<u16>, protocol: String, published: bool, truncated: bool) -> super::words::PortSpec {
    super::words::PortSpec { container, protocol, published, truncated }
}

fn add_ports(draft: &mut ServiceDraft, ports: &[u16]) {
    for &port in ports {
        if draft.all_ports().any(|p| p == port) {
            continue;
        }
        if draft.port.is_none() {
            draft.port = Some(Noted::plain(port));
        } else {
            draft.ports.push(port);
        }
    }
}

fn capability(name: &str) -> String {
    let upper = name.trim().to_ascii_uppercase();
    upper.strip_prefix("CAP_").unwrap_or(&upper).to_owned()
}

fn valid_label(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 63
        && text.starts_with(|c: char| c.is_ascii_alphanumeric())
        && text.ends_with(|c: char| c.is_ascii_alphanumeric())
        && text.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// The variables of a compose text, for a message: `${DOMAIN}, ${TAG}`.
fn dollar_list(text: &str) -> String {
    let mut vars: Vec<String> = Vec::new();
    for var in interpolations(text).into_iter().map(|v| format!("`${{{v}}}`")) {
        if !vars.contains(&var) {
            vars.push(var);
        }
    }
    vars.join(", ")
}

/// The values of a service's secrets that a command may carry as they are (value → name).
fn known_values(read: &ReadService) -> BTreeMap<String, String> {
    read.secret_values
        .iter()
        .filter(|(_, value)| value.len() >= 4 && !value.contains('$'))
        .map(|(name, value)| (value.clone(), name.clone()))
        .collect()
}

/// A command as its argument list (a string is split as compose splits it).
fn argv_of(command: &CommandDraft) -> Option<Vec<String>> {
    match command {
        CommandDraft::Argv(argv) => Some(argv.clone()),
        CommandDraft::Line(line) => shell_words::split(line).ok(),
    }
}

/// The script a command runs, and the argument list to put it back into (with the script's index):
/// `sh -c SCRIPT` keeps its script; any other list becomes `sh -c 'exec …'` (an entrypoint passes
/// the image's command on with `"$@"`).
fn script_and_argv(argv: Vec<String>, entrypoint: bool) -> (String, Option<(Vec<String>, usize)>) {
    if let Some(index) = credentials::shell_script(&argv) {
        return (argv[index].clone(), Some((argv, index)));
    }
    let mut script = credentials::script_of(&argv);
    let mut shell = vec!["sh".to_owned(), "-c".to_owned(), String::new()];
    if entrypoint {
        script.push_str(" \"$@\"");
        shell.push("sh".to_owned());
    }
    (script, Some((shell, 2)))
}

/// A value in an env file: surrounding quotes removed, a trailing ` # comment` dropped.
fn env_file_value(raw: &str) -> String {
    let raw = raw.trim();
    for quote in ['"', '\''] {
        if raw.len() >= 2 && raw.starts_with(quote) && raw.ends_with(quote) {
            return raw[1..raw.len() - 1].to_owned();
        }
    }
    match raw.find(" #") {
        Some(i) => raw[..i].trim_end().to_owned(),
        None => raw.to_owned(),
    }
}

/// The script with its credentials replaced by `$NAME` (empty when one could
/// not be moved), and what was moved. A credential repeated in the script is
/// found again by its value on the next round.
fn rewrite_rounds(read: &ReadService, script: &str) -> (String, Vec<credentials::Moved>) {
    let mut known = known_values(read);
    let service = env_name(&read.compose_name);
    let mut rewritten = script.to_owned();
    let mut moved_all: Vec<credentials::Moved> = Vec::new();
    // A credential repeated in the script is found again by its value on the next round.
    for _ in 0..3 {
        let taken = &read.secret_values;
        let env = &read.draft.env;
        let mut name_for = |name: &credentials::Name, value: &str| {
            let base = match name {
                credentials::Name::Exact(n) => n.clone(),
                credentials::Name::Suffix(s) => format!("{service}{s}"),
            };
            let mut candidate = base.clone();
            let mut n = 2;
            while env.contains_key(&candidate) || taken.get(&candidate).is_some_and(|v| v != value) {
                candidate = format!("{base}_{n}");
                n += 1;
            }
            candidate
        };
        let Some((next, moved)) = credentials::rewrite(&rewritten, &known, &mut name_for) else {
            rewritten.clear();
            break;
        };
        if moved.is_empty() {
            break;
        }
        for m in &moved {
            known.insert(m.value.clone(), m.name.clone());
        }
        rewritten = next;
        moved_all.extend(moved);
    }
    (rewritten, moved_all)
}

/// Sets (or, with `None`, drops) the `command`, `entrypoint` or the health check's command.
fn set_slot(read: &mut ReadService, what: &str, command: Option<CommandDraft>) {
    match (what, command) {
        ("command", command) => read.draft.command = command,
        ("entrypoint", command) => read.draft.entrypoint = command,
        (_, None) => read.draft.health = None,
        (_, Some(command)) => {
            if let Some(health) = &mut read.draft.health {
                health.value.exec = command;
            }
        }
    }
}
