//! The spec an import writes, as typed values with the notes topo attaches
//! where it guessed; [`Draft::to_text`] turns it into YAML with those notes as
//! comments.

use std::collections::{BTreeMap, BTreeSet};

use crate::spec::{Cpu, Duration, Memory, Role};

use super::commented::{Field, Yaml, document};
use super::words::memory_text;

/// A value and the comment written beside it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Noted<T> {
    pub value: T,
    pub note: Option<String>,
}

impl<T> Noted<T> {
    pub fn plain(value: T) -> Self {
        Self { value, note: None }
    }

    pub fn with_note(value: T, note: impl Into<String>) -> Self {
        Self { value, note: Some(note.into()) }
    }
}

/// The name of the anchor holding Docker's default security settings.
pub const COMPOSE_SECURITY: &str = "compose-security";

#[derive(Clone, Debug, Default)]
pub struct Draft {
    pub header: Vec<String>,
    pub project: Noted<String>,
    pub node: NodeDraft,
    /// `ingress.tls`, from a Traefik certresolver.
    pub tls: Option<Noted<String>>,
    pub secrets: BTreeSet<String>,
    /// Services in the compose file's order.
    pub services: Vec<(String, ServiceDraft)>,
}

#[derive(Clone, Debug, Default)]
pub struct NodeDraft {
    pub name: String,
    pub cpu: Cpu,
    pub memory: Memory,
    pub labels: BTreeMap<String, String>,
    pub note: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommandDraft {
    Argv(Vec<String>),
    Line(String),
}

impl CommandDraft {
    fn yaml(&self) -> Yaml {
        match self {
            CommandDraft::Argv(argv) => Yaml::strs(argv),
            CommandDraft::Line(line) => Yaml::str(line.clone()),
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Amounts {
    pub cpu: Option<Cpu>,
    pub memory: Option<Memory>,
}

impl Amounts {
    pub fn is_empty(&self) -> bool {
        self.cpu.is_none() && self.memory.is_none()
    }

    fn yaml(&self) -> Yaml {
        let mut fields = Vec::new();
        if let Some(cpu) = self.cpu {
            fields.push(Field::new("cpu", cpu_yaml(cpu)));
        }
        if let Some(memory) = self.memory {
            fields.push(Field::new("memory", Yaml::str(memory_text(memory))));
        }
        Yaml::Map(fields)
    }
}

fn cpu_yaml(cpu: Cpu) -> Yaml {
    if cpu.millis().is_multiple_of(1000) { Yaml::Int(cpu.millis() / 1000) } else { Yaml::str(cpu.to_string()) }
}

#[derive(Clone, Debug)]
pub struct CheckDraft {
    pub exec: CommandDraft,
    pub interval: Option<Duration>,
    pub timeout: Option<Duration>,
    pub retries: Option<u32>,
    pub start_period: Option<Duration>,
}

#[derive(Clone, Debug)]
pub struct ExposeDraft {
    pub host: String,
    pub path: Option<String>,
    pub tls: Option<bool>,
}

#[derive(Clone, Debug)]
pub struct VolumeDraft {
    pub mount: String,
    pub size: Memory,
    pub read_only: bool,
    pub shared: bool,
    /// The service whose volume of this name it mounts, as compose shared it.
    pub from: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct PlacementDraft {
    pub role: Option<Role>,
    pub node: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub spread_hard: bool,
}

impl PlacementDraft {
    fn is_empty(&self) -> bool {
        self.role.is_none() && self.node.is_none() && self.labels.is_empty() && !self.spread_hard
    }
}

/// Docker's default capabilities: what a compose container has unless `cap_drop` says otherwise.
pub const DOCKER_CAPABILITIES: [&str; 14] = [
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "NET_RAW",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecurityDraft {
    pub run_as_user: Option<u32>,
    pub run_as_group: Option<u32>,
    pub run_as_non_root: bool,
    pub read_only_root: bool,
    pub capabilities: BTreeSet<String>,
    pub writable: Vec<String>,
}

impl SecurityDraft {
    /// What a compose container gets when its service says nothing.
    pub fn compose_default() -> Self {
        Self {
            run_as_user: None,
            run_as_group: None,
            run_as_non_root: false,
            read_only_root: false,
            capabilities: DOCKER_CAPABILITIES.iter().map(|c| (*c).to_owned()).collect(),
            writable: Vec::new(),
        }
    }

    fn fields(&self) -> Vec<Field> {
        let mut fields = Vec::new();
        if let Some(uid) = self.run_as_user {
            fields.push(Field::new("run_as_user", Yaml::Int(u64::from(uid))));
        }
        if let Some(gid) = self.run_as_group {
            fields.push(Field::new("run_as_group", Yaml::Int(u64::from(gid))));
        }
        fields.push(Field::new("run_as_non_root", Yaml::Bool(self.run_as_non_root)));
        fields.push(Field::new("read_only_root_filesystem", Yaml::Bool(self.read_only_root)));
        fields.push(Field::new("capabilities", Yaml::strs(&self.capabilities)));
        if !self.writable.is_empty() {
            fields.push(Field::new("writable", Yaml::strs(&self.writable)));
        }
        fields
    }
}

#[derive(Clone, Debug)]
pub struct ServiceDraft {
    /// Comment lines above the service.
    pub above: Vec<String>,
    pub image: Noted<String>,
    pub port: Option<Noted<u16>>,
    pub ports: Vec<u16>,
    pub entrypoint: Option<CommandDraft>,
    pub command: Option<CommandDraft>,
    pub replicas: Option<Noted<u32>>,
    /// compose `deploy.mode: global`: `replicas: global` (wins over `replicas`).
    pub global: bool,
    pub requests: Amounts,
    pub limits: Amounts,
    pub env: BTreeMap<String, Noted<String>>,
    /// Each secret, with a comment.
    pub secrets: BTreeMap<String, Option<String>>,
    pub secrets_as_files: bool,
    pub health: Option<Noted<CheckDraft>>,
    pub expose: Option<Noted<ExposeDraft>>,
    pub depends_on: Vec<String>,
    pub stateful: Option<Noted<bool>>,
    pub volumes: Vec<(String, Noted<VolumeDraft>)>,
    pub placement: PlacementDraft,
    pub security: SecurityDraft,
    pub stop_grace_period: Option<Duration>,
}

impl ServiceDraft {
    pub fn new(image: Noted<String>) -> Self {
        Self {
            above: Vec::new(),
            image,
            port: None,
            ports: Vec::new(),
            entrypoint: None,
            command: None,
            replicas: None,
            global: false,
            requests: Amounts::default(),
            limits: Amounts::default(),
            env: BTreeMap::new(),
            secrets: BTreeMap::new(),
            secrets_as_files: false,
            health: None,
            expose: None,
            depends_on: Vec::new(),
            stateful: None,
            volumes: Vec::new(),
            placement: PlacementDraft::default(),
            security: SecurityDraft::compose_default(),
            stop_grace_period: None,
        }
    }

    /// Every replica's ports: the main one first.
    pub fn all_ports(&self) -> impl Iterator<Item = u16> + '_ {
        self.port.iter().map(|p| p.value).chain(self.ports.iter().copied())
    }

    fn fields(&self) -> Vec<Field> {
        let mut f = vec![Field::new("image", Yaml::str(self.image.value.clone())).comment(self.image.note.clone())];
        if let Some(port) = &self.port {
            f.push(Field::new("port", Yaml::Int(u64::from(port.value))).comment(port.note.clone()));
        }
        if !self.ports.is_empty() {
            f.push(Field::new("ports", Yaml::Seq(self.ports.iter().map(|p| Yaml::Int(u64::from(*p))).collect())));
        }
        if let Some(entrypoint) = &self.entrypoint {
            f.push(Field::new("entrypoint", entrypoint.yaml()));
        }
        if let Some(command) = &self.command {
            f.push(Field::new("command", command.yaml()));
        }
        if self.global {
            f.push(
                Field::new("replicas", Yaml::Str("global".to_owned()))
                    .comment(Some("compose `deploy.mode: global`".to_owned())),
            );
        } else if let Some(replicas) = &self.replicas {
            f.push(Field::new("replicas", Yaml::Int(u64::from(replicas.value))).comment(replicas.note.clone()));
        }
        if !self.requests.is_empty() || !self.limits.is_empty() {
            let mut resources = Vec::new();
            if !self.requests.is_empty() {
                resources.push(Field::new("requests", self.requests.yaml()));
            }
            if !self.limits.is_empty() {
                resources.push(Field::new("limits", self.limits.yaml()));
            }
            f.push(Field::new("resources", Yaml::Map(resources)));
        }
        if !self.env.is_empty() {
            let env = self
                .env
                .iter()
                .map(|(name, value)| {
                    Field::new(name.clone(), Yaml::str(value.value.clone())).comment(value.note.clone())
                })
                .collect();
            f.push(Field::new("env", Yaml::Map(env)));
        }
        if !self.secrets.is_empty() {
            let notes: Vec<String> =
                self.secrets.iter().filter_map(|(name, note)| note.as_ref().map(|n| format!("{name}: {n}"))).collect();
            f.push(Field::new("secrets", Yaml::strs(self.secrets.keys())).above(notes));
            if self.secrets_as_files {
                f.push(
                    Field::new("secrets_as", Yaml::str("files"))
                        .comment(Some("compose mounted them as files under /run/secrets".to_owned())),
                );
            }
        }
        f.extend(self.health_field());
        f.extend(self.expose_field());
        if !self.depends_on.is_empty() {
            f.push(Field::new("depends_on", Yaml::strs(&self.depends_on)));
        }
        if let Some(stateful) = &self.stateful {
            f.push(Field::new("stateful", Yaml::Bool(stateful.value)).comment(stateful.note.clone()));
        }
        f.extend(self.volumes_field());
        f.extend(self.placement_field());
        if self.security == SecurityDraft::compose_default() {
            f.push(Field::new("security", Yaml::Alias(COMPOSE_SECURITY.to_owned())));
        } else {
            f.push(
                Field::new("security", Yaml::Map(self.security.fields()))
                    .comment(Some("from the compose service's own settings".to_owned())),
            );
        }
        if let Some(grace) = self.stop_grace_period {
            f.push(Field::new("stop_grace_period", Yaml::str(grace.to_string())));
        }
        f
    }

    /// `health`, its timings only when set.
    fn health_field(&self) -> Option<Field> {
        let health = self.health.as_ref()?;
        let check = &health.value;
        let mut fields = vec![Field::new("exec", check.exec.yaml())];
        for (name, value) in
            [("interval", check.interval), ("timeout", check.timeout), ("start_period", check.start_period)]
        {
            if let Some(value) = value {
                fields.push(Field::new(name, Yaml::str(value.to_string())));
            }
        }
        if let Some(retries) = check.retries {
            fields.push(Field::new("retries", Yaml::Int(u64::from(retries))));
        }
        Some(Field::new("health", Yaml::Map(fields)).comment(health.note.clone()))
    }

    /// `expose`: host, then path and tls when set.
    fn expose_field(&self) -> Option<Field> {
        let expose = self.expose.as_ref()?;
        let mut fields = vec![Field::new("host", Yaml::str(expose.value.host.clone()))];
        if let Some(path) = &expose.value.path {
            fields.push(Field::new("path", Yaml::str(path.clone())));
        }
        if let Some(tls) = expose.value.tls {
            fields.push(Field::new("tls", Yaml::Bool(tls)));
        }
        Some(Field::new("expose", Yaml::Map(fields)).comment(expose.note.clone()))
    }

    /// `volumes`, by name.
    fn volumes_field(&self) -> Option<Field> {
        if self.volumes.is_empty() {
            return None;
        }
        let volumes = self
            .volumes
            .iter()
            .map(|(name, volume)| {
                let v = &volume.value;
                let mut fields = Vec::new();
                if let Some(from) = &v.from {
                    fields.push(Field::new("from", Yaml::str(from.clone())));
                }
                fields.push(Field::new("mount", Yaml::str(v.mount.clone())));
                if v.from.is_none() {
                    fields.push(Field::new("size", Yaml::str(memory_text(v.size))));
                }
                if v.shared && v.from.is_none() {
                    fields.push(Field::new("access", Yaml::str("ReadWriteMany")));
                }
                if v.read_only {
                    fields.push(Field::new("read_only", Yaml::Bool(true)));
                }
                Field::new(name.clone(), Yaml::Map(fields)).comment(volume.note.clone())
            })
            .collect();
        Some(Field::new("volumes", Yaml::Map(volumes)))
    }

    /// `placement`, when it says anything.
    fn placement_field(&self) -> Option<Field> {
        if self.placement.is_empty() {
            return None;
        }
        let p = &self.placement;
        let mut fields = Vec::new();
        if let Some(role) = p.role {
            fields.push(Field::new("role", Yaml::str(role.as_str())));
        }
        if let Some(node) = &p.node {
            fields.push(Field::new("node", Yaml::str(node.clone())));
        }
        if !p.labels.is_empty() {
            let labels = p.labels.iter().map(|(k, v)| Field::new(k.clone(), Yaml::str(v.clone()))).collect();
            fields.push(Field::new("labels", Yaml::Map(labels)));
        }
        if p.spread_hard {
            fields.push(Field::new("spread", Yaml::str("hard")));
        }
        Some(Field::new("placement", Yaml::Map(fields)))
    }
}

impl Draft {
    /// The spec as YAML text, notes as comments.
    pub fn to_text(&self) -> String {
        let mut fields =
            vec![Field::new("project", Yaml::str(self.project.value.clone())).comment(self.project.note.clone())];
        let node = &self.node;
        let mut node_fields = vec![
            Field::new("role", Yaml::str("manager")),
            Field::new("cpu", cpu_yaml(node.cpu)),
            Field::new("memory", Yaml::str(memory_text(node.memory))),
        ];
        if !node.labels.is_empty() {
            let labels = node.labels.iter().map(|(k, v)| Field::new(k.clone(), Yaml::str(v.clone()))).collect();
            node_fields.push(Field::new("labels", Yaml::Map(labels)));
        }
        let nodes = vec![Field::new(node.name.clone(), Yaml::Map(node_fields)).comment(node.note.clone())];
        let phase = vec![
            Field::new("name", Yaml::str("dokploy")),
            Field::new("target", Yaml::str("compose")),
            Field::new("nodes", Yaml::Map(nodes)),
        ];
        fields.push(Field::new("phases", Yaml::Map(vec![Field::new("1", Yaml::Map(phase))])));
        if let Some(tls) = &self.tls {
            fields.push(
                Field::new("ingress", Yaml::Map(vec![Field::new("tls", Yaml::str(tls.value.clone()))]))
                    .comment(tls.note.clone()),
            );
        }
        if !self.secrets.is_empty() {
            fields.push(
                Field::new("secrets", Yaml::strs(&self.secrets))
                    .comment(Some("names only: set their values in the deploy environment".to_owned())),
            );
        }
        if self.services.iter().any(|(_, s)| s.security == SecurityDraft::compose_default()) {
            fields.push(
                Field::new("x-compose-security", Yaml::Map(SecurityDraft::compose_default().fields()))
                    .anchor(COMPOSE_SECURITY)
                    .above(vec![
                        "Docker's defaults, so that each image runs as it did under compose (root allowed,".to_owned(),
                        "writable root filesystem, Docker's default capabilities). topo's own defaults are".to_owned(),
                        "stricter: tighten each service's `security` once you know what its image needs.".to_owned(),
                    ]),
            );
        }
        let services = self
            .services
            .iter()
            .map(|(name, service)| Field::new(name.clone(), Yaml::Map(service.fields())).above(service.above.clone()))
            .collect();
        fields.push(Field::new("services", Yaml::Map(services)));
        document(&self.header, &fields)
    }
}
