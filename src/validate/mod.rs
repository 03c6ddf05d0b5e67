//! Semantic checks: a spec that reads fine but says something impossible.
//!
//! Every check runs and every finding is collected; none stops the others.
//! Findings carry spec paths only — positions are looked up when printed.

pub mod limits;
pub mod names;
mod network;
pub mod promql;
mod runtime;
mod secrets;

use crate::code::Code;
use std::collections::{BTreeMap, BTreeSet};

use crate::diag::{Diagnostic, Diagnostics, suggestion};
use crate::image::ImageRef;
use crate::model;
use crate::spec::phased::PhaseNumber;
use crate::spec::{Check, Command, Health, Metric, Phased, Role, Service, Spec, Target, Threshold};
use crate::yaml::SpecPath;

/// Check everything that can be checked without a plan.
pub fn validate(spec: &Spec) -> Diagnostics {
    let phases: BTreeSet<PhaseNumber> = spec.phases.0.keys().copied().collect();
    let mut v = Validator {
        spec,
        diags: Diagnostics::default(),
        declared_phases: phases.iter().map(u32::to_string).collect::<Vec<_>>().join(", "),
        phases,
        secrets: spec.secrets.iter().map(String::as_str).collect(),
        used_secrets: spec.services.values().flat_map(|s| &s.secrets).map(String::as_str).collect(),
        nodes: spec.phases.0.iter().map(|(number, phase)| (*number, model::resolve_nodes(phase))).collect(),
    };
    for diagnostic in limits::check(spec).into_iter().chain(promql::check(spec)) {
        v.push(diagnostic);
    }
    v.names();
    v.phases();
    v.shared();
    for (name, service) in &spec.services {
        v.service(name, service);
    }
    v.redis_passwords();
    v.dependency_cycles();
    v.exposed_routes();
    v.triggers();
    v.metrics();
    secrets::secret_looking_env(spec, &mut |d| v.push(d));
    secrets::secrets_from(spec, &mut |d| v.push(d));
    v.network();
    v.diags
}

/// Each finding once per spec location; the key names the finding (one code can have several).
#[derive(Default)]
struct Once(BTreeSet<(String, &'static str)>);

impl Once {
    /// True the first time `finding` is met at `at`.
    fn first(&mut self, at: &SpecPath, finding: &'static str) -> bool {
        self.0.insert((at.to_string(), finding))
    }
}

/// One service in one phase, as the per-phase checks read it.
#[derive(Clone, Copy)]
struct InPhase<'a> {
    name: &'a str,
    path: &'a SpecPath,
    service: &'a Service,
    number: u32,
    phase: &'a crate::spec::Phase,
    /// The scale the model resolves for the phase (a global service counts the nodes its placement admits).
    scale: &'a model::Scale,
    placement: &'a model::Placement,
}

/// Sets looked up once per name, so that checking n names costs O(n log n).
struct Validator<'s> {
    spec: &'s Spec,
    diags: Diagnostics,
    phases: BTreeSet<PhaseNumber>,
    /// `1, 2, 3`, for help lines.
    declared_phases: String,
    secrets: BTreeSet<&'s str>,
    /// The secrets some service uses.
    used_secrets: BTreeSet<&'s str>,
    /// Each phase's nodes, as the model resolves them.
    nodes: BTreeMap<PhaseNumber, BTreeMap<String, model::Node>>,
}

fn root() -> SpecPath {
    SpecPath::root()
}

impl Validator<'_> {
    fn push(&mut self, diagnostic: Diagnostic) {
        self.diags.push(diagnostic);
    }

    fn invalid_name(&mut self, path: SpecPath, what: &str, name: &str, why: String, rule: &str) {
        let fixed = names::sanitize_label(name);
        self.push(
            Diagnostic::error(Code::InvalidName, format!("{what} `{name}` {why}"), &path)
                .on_key()
                .label(format!("Kubernetes would reject this {what}"))
                .help(format!("{rule}; `{fixed}` would do")),
        );
    }

    fn names(&mut self) {
        let spec = self.spec;
        const LABEL: &str = "use a DNS-1123 label: lowercase letters, digits and `-`, at most 63 characters";
        if let Some(why) = names::dns1123_label(&spec.project) {
            self.invalid_name(root().key("project"), "project name", &spec.project, why, LABEL);
        }
        for (number, phase) in &spec.phases.0 {
            let path = root().key("phases").key(number.to_string());
            if let Some(why) = names::dns1123_label(&phase.name) {
                self.invalid_name(path.key("name"), "phase name", &phase.name, why, LABEL);
            }
            for (name, node) in &phase.nodes {
                let node_path = path.key("nodes").key(name);
                if let Some(why) = names::dns1123_label(name) {
                    self.invalid_name(node_path.clone(), "node name", name, why, LABEL);
                }
                self.labels(&node_path.key("labels"), &node.labels);
            }
        }
        for (name, service) in &spec.services {
            let path = root().key("services").key(name);
            if let Some(why) = names::dns1035_label(name) {
                self.invalid_name(
                    path.clone(),
                    "service name",
                    name,
                    why,
                    "use a DNS-1035 label: a lowercase letter, then lowercase letters, digits and `-`, at most 63 characters",
                );
            }
            for volume in service.volumes.keys() {
                if let Some(why) = names::dns1123_label(volume) {
                    self.invalid_name(path.key("volumes").key(volume), "volume name", volume, why, LABEL);
                }
            }
            for port in service.ports.keys() {
                // Kubernetes port names: an IANA service name, at most 15 characters.
                let why = names::dns1035_label(port)
                    .or_else(|| (port.len() > 15).then(|| "is longer than 15 characters".to_string()));
                if let Some(why) = why {
                    self.invalid_name(
                        path.key("ports").key(port),
                        "port name",
                        port,
                        why,
                        "use at most 15 lowercase letters, digits and `-`, starting with a letter",
                    );
                }
            }
            for key in service.env.keys() {
                self.env_name(&path.key("env").key(key), key);
            }
            for (phase, placement) in phased_entries(&service.placement) {
                let labels_path = phased_path(&path.key("placement"), phase).key("labels");
                self.labels(&labels_path, &placement.labels);
            }
        }
        for key in spec.env.keys() {
            self.env_name(&root().key("env").key(key), key);
        }
        for (i, secret) in spec.secrets.iter().enumerate() {
            if let Some(why) = names::secret_name(secret) {
                self.push(
                    Diagnostic::error(Code::InvalidName, format!("secret name `{secret}` {why}"), &root().key("secrets").index(i))
                        .help("a secret is also written as `${NAME}` in compose and stack files: use letters, digits and `_`, not starting with a digit"),
                );
            }
        }
    }

    fn env_name(&mut self, path: &SpecPath, key: &str) {
        if let Some(why) = names::env_name(key) {
            self.push(
                Diagnostic::error(Code::InvalidName, format!("environment variable `{key}` {why}"), path)
                    .on_key()
                    .help("use letters, digits, `_`, `.` and `-`, not starting with a digit"),
            );
        }
    }

    fn labels(&mut self, path: &SpecPath, labels: &BTreeMap<String, String>) {
        for (key, value) in labels {
            if let Some(why) = names::label_key(key) {
                self.push(
                    Diagnostic::error(Code::InvalidLabel, format!("label key `{key}` {why}"), &path.key(key)).on_key(),
                );
            }
            if let Some(why) = names::label_value(value) {
                self.push(Diagnostic::error(
                    Code::InvalidLabel,
                    format!("label value `{value}` {why}"),
                    &path.key(key),
                ));
            }
        }
    }

    fn phases(&mut self) {
        let spec = self.spec;
        if spec.phases.0.is_empty() {
            self.push(
                Diagnostic::error(Code::NoPhases, "the spec declares no phases", &root().key("phases"))
                    .help("declare at least one phase: `1: { name: dokploy, target: compose, nodes: { vps-1: { cpu: 4, memory: 16Gi } } }`"),
            );
        }
        let mut names: BTreeMap<&str, PhaseNumber> = BTreeMap::new();
        for (number, phase) in &spec.phases.0 {
            let path = root().key("phases").key(number.to_string());
            if let Some(first) = names.insert(&phase.name, *number) {
                self.push(
                    Diagnostic::error(
                        Code::DuplicatePhaseName,
                        format!("phase {number} has the same name as phase {first}"),
                        &path.key("name"),
                    )
                    .help("phase names name output directories: make them unique"),
                );
            }
            if phase.nodes.is_empty() {
                self.push(
                    Diagnostic::error(
                        Code::NoNodes,
                        format!("phase {number} (`{}`) has no nodes", phase.name),
                        &path.key("nodes"),
                    )
                    .help("a phase runs on at least one machine: `vps-1: { role: manager, cpu: 4, memory: 16Gi }`"),
                );
                continue;
            }
            let managers = phase.nodes.values().filter(|n| n.role == Some(Role::Manager)).count();
            match phase.target {
                Target::Compose if phase.nodes.len() > 1 => self.push(
                    Diagnostic::warning(
                        Code::ComposeMultipleNodes,
                        format!(
                            "phase {number} renders to compose, which runs on one node, but lists {} nodes",
                            phase.nodes.len()
                        ),
                        &path.key("nodes"),
                    )
                    .help("only one node will run the services: use `target: swarm` for several nodes"),
                ),
                Target::Swarm | Target::K8s if managers == 0 => self.push(
                    Diagnostic::error(
                        Code::NoManager,
                        format!(
                            "phase {number} renders to {} but has no node with `role: manager`",
                            phase.target.as_str()
                        ),
                        &path.key("nodes"),
                    )
                    .help(if phase.target == Target::Swarm {
                        "a Swarm needs a manager node to accept `docker stack deploy`"
                    } else {
                        "a K3s cluster needs a server (control-plane) node: give one node `role: manager`"
                    }),
                ),
                _ => {}
            }
            self.nodes(&path, phase);
        }
    }

    /// Each node has CPU and memory, and keeps some of each for the services.
    fn nodes(&mut self, path: &SpecPath, phase: &crate::spec::Phase) {
        for (name, node) in &phase.nodes {
            let node_path = path.key("nodes").key(name);
            if node.cpu.millis() == 0 {
                self.push(Diagnostic::error(
                    Code::NodeWithoutCapacity,
                    format!("node `{name}` has no CPU"),
                    &node_path.key("cpu"),
                ));
            }
            if node.memory.bytes() == 0 {
                self.push(Diagnostic::error(
                    Code::NodeWithoutCapacity,
                    format!("node `{name}` has no memory"),
                    &node_path.key("memory"),
                ));
            }
            if let Some(reserve) = &node.reserve {
                if reserve.cpu.is_some_and(|c| c >= node.cpu) {
                    self.push(Diagnostic::error(
                        Code::ReserveExceedsNode,
                        format!("node `{name}` reserves all of its {} CPU for the system", node.cpu),
                        &node_path.key("reserve").key("cpu"),
                    ));
                }
                if reserve.memory.is_some_and(|m| m.bytes() >= node.memory.bytes()) {
                    self.push(Diagnostic::error(
                        Code::ReserveExceedsNode,
                        format!("node `{name}` reserves all of its {} memory for the system", node.memory),
                        &node_path.key("reserve").key("memory"),
                    ));
                }
            }
        }
    }

    fn shared(&mut self) {
        let spec = self.spec;
        let mut seen = BTreeSet::new();
        for (i, secret) in spec.secrets.iter().enumerate() {
            if !seen.insert(secret) {
                self.push(Diagnostic::warning(
                    Code::DuplicateSecret,
                    format!("secret `{secret}` is declared twice"),
                    &root().key("secrets").index(i),
                ));
                // Everything else about it was said at its first declaration.
                continue;
            }
            if spec.env.contains_key(secret) {
                self.push(
                    Diagnostic::error(
                        Code::SecretInEnv,
                        format!("`{secret}` is both a secret and a shared env setting"),
                        &root().key("env").key(secret),
                    )
                    .on_key()
                    .help("a secret's value never goes in the spec: remove it from `env`"),
                );
            }
            if !self.used_secrets.contains(secret.as_str()) {
                self.push(
                    Diagnostic::warning(
                        Code::UnusedSecret,
                        format!("secret `{secret}` is declared but no service uses it"),
                        &root().key("secrets").index(i),
                    )
                    .help("list it in a service's `secrets`, or remove it"),
                );
            }
        }
        self.env_variables(None, &root(), &spec.env);
        if spec.services.is_empty() {
            self.push(Diagnostic::error(Code::NoServices, "the spec declares no services", &root().key("services")));
        }
    }

    /// Report phase keys that name no declared phase.
    fn phase_keys<T>(&mut self, path: &SpecPath, value: &Option<Phased<T>>) {
        let Some(value) = value else { return };
        for key in value.keys() {
            if !self.phases.contains(&key) {
                self.push(
                    Diagnostic::error(
                        Code::UnknownPhase,
                        format!("phase {key} is not declared"),
                        &path.key(key.to_string()),
                    )
                    .on_key()
                    .label("no such phase")
                    .help(format!("the declared phases are {}", self.declared_phases)),
                );
            }
        }
    }

    fn service(&mut self, name: &str, service: &Service) {
        let path = root().key("services").key(name);

        self.phase_keys(&path.key("replicas"), &service.replicas);
        self.phase_keys(&path.key("autoscale"), &service.autoscale);
        self.phase_keys(&path.key("resources"), &service.resources);
        self.phase_keys(&path.key("placement"), &service.placement);

        self.image(&path, &service.image);
        self.ports(&path, service);
        self.dependencies(name, &path, service);
        self.service_secrets(name, &path, service);
        self.command_secrets(name, &path, service);
        self.env_variables(Some((name, service)), &path, &service.env);
        self.volumes(name, &path, service);
        self.health(&path, service);
        self.expose(&path, service);
        self.per_phase(name, &path, service);
    }

    /// Each `depends_on` names another service.
    fn dependencies(&mut self, name: &str, path: &SpecPath, service: &Service) {
        let spec = self.spec;
        for (i, dependency) in service.depends_on.iter().enumerate() {
            let dep_path = path.key("depends_on").index(i);
            if dependency == name {
                self.push(Diagnostic::error(
                    Code::DependencyCycle,
                    format!("service `{name}` depends on itself"),
                    &dep_path,
                ));
            } else if !spec.services.contains_key(dependency) {
                self.push(
                    Diagnostic::error(
                        Code::UnknownService,
                        format!("`{name}` depends on `{dependency}`, which is not a service"),
                        &dep_path,
                    )
                    .label("no such service")
                    .help_opt(suggestion(dependency, spec.services.keys().map(String::as_str))),
                );
            }
        }
    }

    /// A `${NAME}` in `command` or `entrypoint` is the value of a secret of the service; any other
    /// is passed as text, which is rarely what was meant: say so.
    fn command_secrets(&mut self, name: &str, path: &SpecPath, service: &Service) {
        let entrypoint = service.entrypoint.as_ref().map(crate::model::argv).unwrap_or_default();
        for (field, command) in [("command", &service.command), ("entrypoint", &service.entrypoint)] {
            let Some(command) = command else { continue };
            let words = crate::model::argv(command);
            let before = if field == "command" { entrypoint.as_slice() } else { &[] };
            // A shell's script reads its variables from the environment: nothing to say.
            let script = crate::model::args::script_index(before, &words);
            for (i, arg) in words.iter().enumerate().filter(|&(i, _)| Some(i) != script) {
                let at = match command {
                    Command::Argv(_) => path.key(field).index(i),
                    Command::Line(_) => path.key(field),
                };
                for (_, _, variable) in crate::model::args::references(arg) {
                    if service.secrets.iter().any(|s| s == variable) {
                        continue;
                    }
                    let help = if self.secrets.contains(variable) {
                        format!("give `{name}` the secret to pass its value: add `{variable}` to its `secrets`")
                    } else {
                        format!(
                            "to pass a secret's value, declare `{variable}` in the top-level `secrets` and give it to \
                             `{name}`; to have a shell in the container read its environment, write `${variable}` \
                             inside `sh -c`"
                        )
                    };
                    self.push(
                        Diagnostic::warning(
                            Code::CommandVariable,
                            format!("`${{{variable}}}` in the `{field}` of `{name}` is not one of its secrets: it is passed as the text `${{{variable}}}`"),
                            &at,
                        )
                        .help(help),
                    );
                }
            }
        }
    }

    /// A `${NAME}` in a service's env value is the value of one of its secrets;
    /// any other (and every one in the shared env) is passed as text: say so.
    fn env_variables(
        &mut self,
        service: Option<(&str, &Service)>,
        path: &SpecPath,
        env: &BTreeMap<String, crate::spec::EnvValue>,
    ) {
        for (key, value) in env {
            let references: Vec<&str> = crate::model::args::references(&value.0).into_iter().map(|r| r.2).collect();
            for variable in braced_variables(&value.0) {
                let reference = references.contains(&variable);
                if reference && service.is_some_and(|(_, s)| s.secrets.iter().any(|x| x == variable)) {
                    continue;
                }
                let (whose, help) = match service {
                    Some((name, _)) if self.secrets.contains(variable) => (
                        format!("of `{name}`"),
                        format!("give `{name}` the secret to pass its value: add `{variable}` to its `secrets`"),
                    ),
                    Some((name, _)) => (
                        format!("of `{name}`"),
                        format!(
                            "to pass a secret's value, declare `{variable}` in the top-level `secrets` and give it to `{name}`; otherwise write the value itself"
                        ),
                    ),
                    None => (
                        "shared by every service".to_owned(),
                        format!(
                            "move `{key}` into the `env` of each service that has `{variable}` among its secrets, or write the value itself"
                        ),
                    ),
                };
                self.push(
                    Diagnostic::warning(
                        Code::EnvVariable,
                        format!("`${{{variable}}}` in env `{key}` {whose} is not one of its secrets: it is passed as the text `${{{variable}}}`"),
                        &path.key("env").key(key),
                    )
                    .help(help),
                );
            }
        }
    }

    /// Each secret a service uses is declared, and is not also in its `env`.
    fn service_secrets(&mut self, name: &str, path: &SpecPath, service: &Service) {
        let spec = self.spec;
        for (i, secret) in service.secrets.iter().enumerate() {
            if !self.secrets.contains(secret.as_str()) {
                let help = suggestion(secret, spec.secrets.iter().map(String::as_str))
                    .unwrap_or_else(|| format!("declare it in the top-level `secrets: [{secret}]`"));
                self.push(
                    Diagnostic::error(
                        Code::UndeclaredSecret,
                        format!("`{name}` uses secret `{secret}`, which is not declared"),
                        &path.key("secrets").index(i),
                    )
                    .label("not in the top-level `secrets`")
                    .help(help),
                );
            }
            if service.env.contains_key(secret) {
                self.push(
                    Diagnostic::error(
                        Code::SecretInEnv,
                        format!("`{secret}` is both a secret and an env setting of `{name}`"),
                        &path.key("env").key(secret),
                    )
                    .on_key()
                    .help("a secret's value never goes in the spec: remove it from `env`"),
                );
            }
        }
    }

    /// A stateful service has a volume; each volume has an absolute, distinct mount and, for k8s, a size.
    fn volumes(&mut self, name: &str, path: &SpecPath, service: &Service) {
        let spec = self.spec;
        let stateful = service.stateful.unwrap_or(false);
        if stateful && service.volumes.is_empty() {
            self.push(
                Diagnostic::error(
                    Code::StatefulWithoutVolume,
                    format!("stateful service `{name}` has no volume"),
                    &path.key("stateful"),
                )
                .help("its data would be lost on every restart: add `volumes: { data: { mount: /path, size: 10Gi } }`"),
            );
        }
        let has_k8s = spec.phases.0.values().any(|p| p.target == Target::K8s);
        let mut mounts = BTreeMap::new();
        for (volume_name, volume) in &service.volumes {
            let vpath = path.key("volumes").key(volume_name);
            if !volume.mount.starts_with('/') {
                self.push(Diagnostic::error(
                    Code::InvalidMount,
                    format!("mount path `{}` is not absolute", volume.mount),
                    &vpath.key("mount"),
                ));
            }
            if let Some(other) = mounts.insert(volume.mount.as_str(), volume_name) {
                self.push(Diagnostic::error(
                    Code::DuplicateMount,
                    format!("volumes `{other}` and `{volume_name}` are both mounted at `{}`", volume.mount),
                    &vpath.key("mount"),
                ));
            }
            if let Some(from) = &volume.from {
                self.volume_from(name, volume_name, &vpath, volume, from);
                continue;
            }
            if has_k8s && volume.size.is_none() {
                self.push(
                    Diagnostic::error(
                        Code::VolumeWithoutSize,
                        format!(
                            "volume `{volume_name}` of `{name}` has no size, and a k8s phase needs one for its claim"
                        ),
                        &vpath,
                    )
                    .on_key()
                    .help("add `size: 10Gi`"),
                );
            }
        }
    }

    /// A volume `from` another service names a service that declares that volume
    /// itself, and leaves what describes the volume (size, access, class) to it.
    fn volume_from(
        &mut self,
        name: &str,
        volume_name: &str,
        vpath: &SpecPath,
        volume: &crate::spec::Volume,
        from: &str,
    ) {
        let spec = self.spec;
        let at = vpath.key("from");
        self.volume_from_fields(volume_name, vpath, volume, from);
        if from == name {
            self.push(
                Diagnostic::error(
                    Code::VolumeFrom,
                    format!("volume `{volume_name}` of `{name}` is `from` `{name}` itself"),
                    &at,
                )
                .help("remove `from` to declare the service's own volume"),
            );
            return;
        }
        let Some(owner) = spec.services.get(from) else {
            self.push(
                Diagnostic::error(
                    Code::UnknownService,
                    format!("volume `{volume_name}` of `{name}` is from `{from}`, which is not a service"),
                    &at,
                )
                .label("no such service")
                .help_opt(suggestion(from, spec.services.keys().map(String::as_str))),
            );
            return;
        };
        match owner.volumes.get(volume_name) {
            None => {
                let declared: Vec<String> = owner.volumes.keys().map(|v| format!("`{v}`")).collect();
                let help = if declared.is_empty() {
                    format!(
                        "`{from}` declares no volume: declare `{volume_name}` in its `volumes`, then mount it here with `from: {from}`"
                    )
                } else {
                    format!(
                        "the key names the volume in `{from}`'s `volumes` ({}); the mount path may differ",
                        declared.join(", ")
                    )
                };
                self.push(
                    Diagnostic::error(
                        Code::VolumeFrom,
                        format!("`{from}` has no volume `{volume_name}` for `{name}` to mount"),
                        &vpath.clone(),
                    )
                    .on_key()
                    .help(help),
                );
            }
            Some(theirs) if theirs.from.is_some() => {
                let first = theirs.from.as_deref().unwrap_or_default();
                self.push(
                    Diagnostic::error(
                        Code::VolumeFrom,
                        format!("volume `{volume_name}` of `{from}` is itself from `{first}`: `{name}` cannot mount it through `{from}`"),
                        &at,
                    )
                    .help(format!("write `from: {first}`, the service that declares it")),
                );
            }
            Some(_) => {}
        }
    }

    /// What describes a volume `from` another service is the owner's to say.
    fn volume_from_fields(&mut self, volume_name: &str, vpath: &SpecPath, volume: &crate::spec::Volume, from: &str) {
        for (field, set) in [
            ("size", volume.size.is_some()),
            ("access", volume.access.is_some()),
            ("storage_class", volume.storage_class.is_some()),
        ] {
            if set {
                self.push(
                    Diagnostic::error(
                        Code::VolumeFrom,
                        format!("`{field}` of volume `{volume_name}` belongs to `{from}`, which declares it"),
                        &vpath.key(field),
                    )
                    .on_key()
                    .help(format!("remove it here and set it on `services.{from}.volumes.{volume_name}`")),
                );
            }
        }
    }

    fn image(&mut self, path: &SpecPath, image: &str) {
        let path = path.key("image");
        if image.is_empty() || image.contains(char::is_whitespace) {
            self.push(Diagnostic::error(Code::InvalidImage, format!("`{image}` is not an image reference"), &path));
            return;
        }
        let reference = ImageRef::parse(image);
        let last = reference.repository().rsplit('/').next().unwrap_or_default();
        if reference.tag().is_none() && image.split('@').next().is_some_and(|name| name.ends_with(':')) {
            let message = format!("`{image}` is not an image reference: its tag is empty");
            self.push(Diagnostic::error(Code::InvalidImage, message, &path).help(format!("write `{last}:<tag>`")));
            return;
        }
        if reference.digest().is_some() {
            return;
        }
        match reference.tag() {
            None => self.push(
                Diagnostic::warning(
                    Code::UnpinnedImage,
                    format!("image `{image}` has no tag, so it means `:latest`"),
                    &path,
                )
                .help("pin a version (`:1.4.2`) so every phase and every node runs the same build"),
            ),
            Some("latest") => self.push(
                Diagnostic::warning(Code::UnpinnedImage, format!("image `{image}` uses the `latest` tag"), &path)
                    .help("pin a version (`:1.4.2`) so every phase and every node runs the same build"),
            ),
            _ => {}
        }
    }

    fn ports(&mut self, path: &SpecPath, service: &Service) {
        let mut seen: BTreeMap<u16, SpecPath> = BTreeMap::new();
        let main = service.port.map(|p| (p, path.key("port")));
        let named = service.ports.iter().map(|(n, p)| (*p, path.key("ports").key(n)));
        for (port, port_path) in main.into_iter().chain(named) {
            if port == 0 {
                self.push(Diagnostic::error(Code::InvalidPort, "port 0 is not a port: use 1 to 65535", &port_path));
                continue;
            }
            if let Some(first) = seen.insert(port, port_path.clone()) {
                self.push(Diagnostic::error(
                    Code::DuplicatePort,
                    format!("port {port} is given twice (also at `{first}`)"),
                    &port_path,
                ));
            }
        }
        if service.ports.contains_key(model::MAIN_PORT_NAME) && service.port.is_some() {
            self.push(
                Diagnostic::error(
                    Code::DuplicatePort,
                    format!("`{}` names the main `port`; pick another name", model::MAIN_PORT_NAME),
                    &path.key("ports").key(model::MAIN_PORT_NAME),
                )
                .on_key(),
            );
        }
    }

    /// Variables in a check's command: a list runs without a shell, so its
    /// `${NAME}` reaches the program as text; a string runs through `sh -c`,
    /// which expands `$NAME` from the container's environment, empty when the
    /// service has no such variable.
    fn health_variables(&mut self, check_path: &SpecPath, service: &Service, check: &Check) {
        let spec = self.spec;
        let in_env = |name: &str| {
            service.env.contains_key(name)
                || spec.env.contains_key(name)
                || service.secrets.iter().any(|s| s == name)
                || IMAGE_VARIABLES.contains(&name)
        };
        for (field, command) in [("exec", &check.exec), ("compose_test", &check.compose_test)] {
            let at = check_path.key(field);
            match command {
                Some(Command::Argv(argv)) => {
                    for (i, arg) in argv.iter().enumerate() {
                        for (_, _, variable) in crate::model::args::references(arg) {
                            self.push(
                                Diagnostic::warning(
                                    Code::HealthVariable,
                                    format!("`${{{variable}}}` in this check's `{field}` list reaches the program as the text `${{{variable}}}`: a list runs without a shell"),
                                    &at.index(i),
                                )
                                .help(format!("to read the container's `{variable}`, write the check as a string, which runs through `/bin/sh -c`: `{field}: '… \"${variable}\" …'`")),
                            );
                        }
                    }
                }
                Some(Command::Line(line)) => {
                    let mut seen = std::collections::BTreeSet::new();
                    for variable in shell_variables(line) {
                        if in_env(variable) || !seen.insert(variable) {
                            continue;
                        }
                        self.push(
                            Diagnostic::warning(
                                Code::HealthVariable,
                                format!("this check's shell expands `${variable}` from the container's environment, and `{}` sets no `{variable}`: it expands to nothing", service_name(check_path)),
                                &at,
                            )
                            .help(format!("add `{variable}` to the service's `env` (or `secrets`), or write its value in the check")),
                        );
                    }
                }
                None => {}
            }
        }
    }

    fn health(&mut self, path: &SpecPath, service: &Service) {
        let Some(health) = &service.health else { return };
        let path = path.key("health");
        let checks: Vec<(SpecPath, &Check)> = match health {
            Health::One(check) => vec![(path.clone(), check)],
            Health::Probes(probes) => {
                if probes.liveness.is_none() && probes.readiness.is_none() {
                    self.push(
                        Diagnostic::error(
                            Code::InvalidCheck,
                            "`health` has a startup probe but neither `liveness` nor `readiness`",
                            &path,
                        )
                        .help("add `readiness:` (or `liveness:`); the startup probe only holds them back"),
                    );
                }
                [("liveness", &probes.liveness), ("readiness", &probes.readiness), ("startup", &probes.startup)]
                    .into_iter()
                    .filter_map(|(key, check)| check.as_ref().map(|c| (path.key(key), c)))
                    .collect()
            }
        };
        for (check_path, check) in checks {
            self.health_variables(&check_path, service, check);
            if check.http.is_some() && service.port_or_main(check.port).is_none() {
                self.push(
                    Diagnostic::error(
                        Code::CheckWithoutPort,
                        "an `http` check needs a port, and the service has none",
                        &check_path.key("http"),
                    )
                    .help("add `port:` to the check or to the service"),
                );
            }
            if let Some(http) = &check.http
                && !http.starts_with('/')
            {
                self.push(Diagnostic::error(
                    Code::InvalidCheck,
                    format!("`{http}` is not a URL path: it should start with `/`"),
                    &check_path.key("http"),
                ));
            }
            if let (Some(interval), Some(timeout)) = (check.interval, check.timeout)
                && timeout > interval
            {
                self.push(Diagnostic::warning(
                    Code::CheckTimeout,
                    format!("the check's timeout ({timeout}) is longer than its interval ({interval})"),
                    &check_path.key("timeout"),
                ));
            }
            if check.retries == Some(0) {
                self.push(Diagnostic::error(
                    Code::InvalidCheck,
                    "`retries: 0` would mark the service unhealthy before any check: use 1 or more",
                    &check_path.key("retries"),
                ));
            }
            for (field, command) in [("exec", &check.exec), ("compose_test", &check.compose_test)] {
                if let Some(Command::Argv(argv)) = command
                    && argv.len() == 1
                    && argv[0].contains(' ')
                {
                    self.push(
                        Diagnostic::warning(Code::ExecSingleArgument, format!("`{}` is one argument with spaces, run as a single program name", argv[0]), &check_path.key(field))
                            .help("split it into a list (`[pg_isready, -U, postgres]`), or write it as a string to run it through `/bin/sh -c`"),
                    );
                }
                if let Some(command) = command {
                    self.pg_isready_host(&check_path.key(field), command);
                }
            }
        }
    }

    fn expose(&mut self, path: &SpecPath, service: &Service) {
        let Some(expose) = &service.expose else { return };
        let path = path.key("expose");
        if service.port_or_main(expose.port).is_none() {
            self.push(
                Diagnostic::error(Code::ExposeWithoutPort, "an exposed service needs a port to route to", &path)
                    .on_key()
                    .help("add `port:` to the service or to `expose`"),
            );
        }
        if let Some(port) = expose.port {
            let known = service.port == Some(port) || service.ports.values().any(|p| *p == port);
            if !known {
                self.push(Diagnostic::warning(
                    Code::ExposeUnknownPort,
                    format!("`expose.port` {port} is not one of the service's ports"),
                    &path.key("port"),
                ));
            }
        }
        let host = &expose.host;
        let valid_host = host.len() <= 253
            && host
                .split('.')
                .enumerate()
                .all(|(i, part)| (i == 0 && part == "*") || names::dns1123_label(part).is_none());
        if !valid_host {
            self.push(
                Diagnostic::error(Code::InvalidHost, format!("`{host}` is not a valid host name"), &path.key("host"))
                    .help("a host name is lowercase labels separated by dots: `app.example.com`"),
            );
        }
        if let Some(url_path) = &expose.path
            && !url_path.starts_with('/')
        {
            self.push(Diagnostic::error(
                Code::InvalidPath,
                format!("`{url_path}` does not start with `/`"),
                &path.key("path"),
            ));
        }
        if expose.tls == Some(true) && self.spec.ingress.as_ref().and_then(|i| i.tls.as_ref()).is_none() {
            self.push(
                Diagnostic::error(
                    Code::TlsWithoutIssuer,
                    "`tls: true` but the spec names no certificate issuer",
                    &path.key("tls"),
                )
                .help("set `ingress.tls` to a cert-manager ClusterIssuer / Traefik certresolver name"),
            );
        }
    }

    /// Checks on the values in force in each phase.
    fn per_phase(&mut self, name: &str, path: &SpecPath, service: &Service) {
        let mut once = Once::default();
        for (number, phase) in &self.spec.phases.0 {
            let number = *number;
            let placement = model::resolve_placement(service, number);
            let scale = model::resolve_scale(service, number, &self.nodes[&number], &placement);
            let at = InPhase { name, path, service, number, phase, scale: &scale, placement: &placement };
            let resources =
                service.resources.as_ref().and_then(|r| r.at(number)).map(model::resolve_resources).unwrap_or_default();
            self.phase_resources(&at, &resources, &mut once);
            self.phase_autoscale(&at, &resources, &mut once);
            if self.phase_placement(&at, &mut once) {
                self.phase_stateful(&at, &mut once);
            }
        }
    }

    /// A request above its limit, in one phase.
    fn phase_resources(&mut self, at: &InPhase, resources: &model::Resources, once: &mut Once) {
        let InPhase { name, path, service, number, .. } = *at;
        let resources_path = phased_key_path(&path.key("resources"), &service.resources, number);
        let over = [
            (
                "CPU",
                resources
                    .requests
                    .cpu
                    .zip(resources.limits.cpu)
                    .filter(|(r, l)| r > l)
                    .map(|(r, l)| (r.to_string(), l.to_string())),
            ),
            (
                "memory",
                resources
                    .requests
                    .memory
                    .zip(resources.limits.memory)
                    .filter(|(r, l)| r.bytes() > l.bytes())
                    .map(|(r, l)| (r.to_string(), l.to_string())),
            ),
        ];
        for (what, pair) in over {
            if let Some((request, limit)) = pair
                && once.first(&resources_path, "request-above-limit")
            {
                self.push(
                    Diagnostic::error(Code::RequestAboveLimit, format!("`{name}` requests {request} {what} but is limited to {limit}"), &resources_path)
                        .help("a request is what the scheduler sets aside and cannot exceed the limit; raise the limit or lower the request"),
                );
            }
        }
    }

    /// Autoscaling in one phase: its range, its metrics and their requests, a target without an autoscaler.
    fn phase_autoscale(&mut self, at: &InPhase, resources: &model::Resources, once: &mut Once) {
        let InPhase { name, path, service, number, phase, scale, .. } = *at;
        let asked = service.autoscale.as_ref().and_then(|a| a.at(number)).and_then(Option::as_ref);
        if scale.is_global() && asked.is_some() {
            let at = phased_key_path(&path.key("autoscale"), &service.autoscale, number);
            if once.first(&at, "global-autoscale") {
                self.push(
                Diagnostic::error(
                    Code::GlobalAutoscale,
                    format!("`{name}` is global in phase {number} and autoscales there: a global service runs one replica per node, which no autoscaler changes"),
                    &at,
                )
                .help(format!("turn autoscaling off from phase {number} (`autoscale: {{ {number}: null }}`), or give `replicas` a number there")),
            );
            }
        } else if let model::Scale::Autoscaled { replicas, autoscale } = scale {
            let at = phased_key_path(&path.key("autoscale"), &service.autoscale, number);
            let min = autoscale.min;
            if autoscale.max < min && once.first(&at, "autoscale-range") {
                self.push(
                    Diagnostic::error(
                        Code::AutoscaleRange,
                        format!(
                            "`{name}` autoscales in phase {number} to at most {} replicas, below its minimum {min}",
                            autoscale.max
                        ),
                        &at.key("max"),
                    )
                    .help("`max` must be at least `min` (or the phase's `replicas`)"),
                );
            }
            if min == 0 && once.first(&at, "autoscale-zero") {
                self.push(Diagnostic::error(
                    Code::AutoscaleRange,
                    "a HorizontalPodAutoscaler cannot scale to zero replicas: the minimum must be at least 1",
                    &at,
                ));
            }
            if autoscale.cpu.is_none() && autoscale.memory.is_none() && once.first(&at, "autoscale-metric") {
                self.push(
                    Diagnostic::error(Code::AutoscaleWithoutMetric, format!("`{name}` autoscales on nothing"), &at)
                        .help("give a target utilisation: `cpu: 70%` and/or `memory: 80%`"),
                );
            }
            if autoscale.cpu.is_some() && resources.requests.cpu.is_none() && once.first(&at, "autoscale-cpu") {
                self.push(
                    Diagnostic::error(
                        Code::AutoscaleWithoutRequest,
                        format!(
                            "`{name}` autoscales on CPU in phase {number} but requests no CPU to measure it against"
                        ),
                        &at.key("cpu"),
                    )
                    .help("set `resources.requests.cpu` (or a CPU limit, which the request then defaults to)"),
                );
            }
            if autoscale.memory.is_some() && resources.requests.memory.is_none() && once.first(&at, "autoscale-memory")
            {
                self.push(
                Diagnostic::error(Code::AutoscaleWithoutRequest, format!("`{name}` autoscales on memory in phase {number} but requests no memory to measure it against"), &at.key("memory"))
                    .help("set `resources.requests.memory` (or a memory limit, which the request then defaults to)"),
            );
            }
            if phase.target != Target::K8s && once.first(&at, "autoscale-ignored") {
                self.push(
                Diagnostic::warning(Code::AutoscaleIgnored, format!("phase {number} renders to {}, which has no autoscaler: `{name}` runs {replicas} replicas there", phase.target.as_str()), &at)
                    .help("start the autoscale map at the first k8s phase"),
            );
            }
        }
    }

    /// Placement in one phase: the nodes it names or asks for exist. False when it names an unknown node
    /// (the checks that depend on where the service runs are then skipped).
    fn phase_placement(&mut self, at: &InPhase, once: &mut Once) -> bool {
        let InPhase { name, path, service, number, phase, placement: admits, .. } = *at;
        let Some(placement) = service.placement.as_ref().and_then(|p| p.at(number)) else { return true };
        let at = phased_key_path(&path.key("placement"), &service.placement, number);
        if let Some(node) = &placement.node
            && !phase.nodes.contains_key(node)
        {
            if once.first(&at.key("node"), "unknown-node") {
                self.push(
                    Diagnostic::error(
                        Code::UnknownNode,
                        format!("`{name}` is placed on node `{node}`, which phase {number} does not have"),
                        &at.key("node"),
                    )
                    .help_opt(suggestion(node, phase.nodes.keys().map(String::as_str))),
                );
            }
            return false;
        }
        let mut each_satisfiable = true;
        if let Some(role) = placement.role
            && !phase.nodes.values().any(|n| n.role.unwrap_or_default() == role)
        {
            each_satisfiable = false;
            if once.first(&at.key("role"), "no-matching-node") {
                self.push(Diagnostic::error(
                    Code::NoMatchingNode,
                    format!("`{name}` needs a {} node, and phase {number} has none", role.as_str()),
                    &at.key("role"),
                ));
            }
        }
        for (key, value) in &placement.labels {
            if !phase.nodes.values().any(|n| n.labels.get(key) == Some(value)) {
                each_satisfiable = false;
                if once.first(&at.key("labels").key(key), "no-matching-node") {
                    self.push(
                        Diagnostic::error(
                            Code::NoMatchingNode,
                            format!("`{name}` needs a node labelled `{key}={value}`, and phase {number} has none"),
                            &at.key("labels").key(key),
                        )
                        .help(format!("add `labels: {{ {key}: {value} }}` to a node of phase {number}")),
                    );
                }
            }
        }
        let admitted = self.nodes[&number].values().any(|node| admits.admits(node));
        if each_satisfiable && !admitted && once.first(&at, "no-matching-node") {
            self.push(Diagnostic::error(
                Code::NoMatchingNode,
                format!("no node of phase {number} meets all of `{name}`'s placement constraints at once"),
                &at,
            ));
        }
        true
    }

    /// A stateful service that is global, or runs several replicas, in one phase.
    fn phase_stateful(&mut self, at: &InPhase, once: &mut Once) {
        let InPhase { name, path, service, number, scale, .. } = *at;
        let (global, replicas) = (scale.is_global(), scale.replicas());
        let stateful = service.stateful.unwrap_or(false);
        let replicas_path = phased_key_path(&path.key("replicas"), &service.replicas, number);
        if stateful && global && once.first(&replicas_path, "global-stateful") {
            self.push(
            Diagnostic::error(
                Code::GlobalStateful,
                format!("stateful `{name}` is global in phase {number}: a stateful service keeps its data on one node (a StatefulSet claim, a pinned Swarm volume), and a global one runs on every node"),
                &replicas_path,
            )
            .help("give it a number of replicas, or drop `stateful: true` if each node may keep its own data"),
        );
        }
        if stateful && !global && replicas > 1 && once.first(&path.key("replicas"), "stateful-replicas") {
            self.push(
            Diagnostic::warning(
                Code::StatefulReplicas,
                format!("stateful `{name}` runs {replicas} replicas in phase {number}: each gets its own volume, and topo sets up no replication between them"),
                &phased_key_path(&path.key("replicas"), &service.replicas, number),
            )
            .help("keep a database at one replica unless the image replicates by itself"),
        );
        }
    }

    fn dependency_cycles(&mut self) {
        let services = &self.spec.services;
        // Depth-first search with colours; each cycle reported once, at its first member.
        let mut state: BTreeMap<&str, u8> = BTreeMap::new();
        let mut cycles: Vec<Vec<String>> = Vec::new();
        for start in services.keys() {
            let mut stack: Vec<(&str, usize)> = vec![(start.as_str(), 0)];
            if state.get(start.as_str()).copied().unwrap_or(0) != 0 {
                continue;
            }
            state.insert(start, 1);
            while let Some((current, next)) = stack.pop() {
                let deps = services.get(current).map(|s| s.depends_on.as_slice()).unwrap_or_default();
                if let Some(dep) = deps.get(next) {
                    stack.push((current, next + 1));
                    if dep == current || !services.contains_key(dep) {
                        continue;
                    }
                    match state.get(dep.as_str()).copied().unwrap_or(0) {
                        0 => {
                            state.insert(dep, 1);
                            stack.push((dep, 0));
                        }
                        1 => {
                            let from = stack.iter().position(|(s, _)| *s == dep).unwrap_or(0);
                            let mut cycle: Vec<String> = stack[from..].iter().map(|(s, _)| s.to_string()).collect();
                            cycle.push(dep.clone());
                            cycles.push(cycle);
                        }
                        _ => {}
                    }
                } else {
                    state.insert(current, 2);
                }
            }
        }
        for cycle in cycles {
            let first = &cycle[0];
            let second = &cycle[1];
            let index = services[first].depends_on.iter().position(|d| d == second).unwrap_or(0);
            self.push(
                Diagnostic::error(
                    Code::DependencyCycle,
                    format!("services depend on each other in a cycle: {}", cycle.join(" → ")),
                    &root().key("services").key(first).key("depends_on").index(index),
                )
                .help("no service of a cycle could ever start first: remove one of these dependencies"),
            );
        }
    }

    fn exposed_routes(&mut self) {
        let mut routes: BTreeMap<(String, String), &str> = BTreeMap::new();
        for (name, service) in &self.spec.services {
            let Some(expose) = &service.expose else { continue };
            let route = (expose.host.clone(), expose.path.clone().unwrap_or_else(|| "/".into()));
            if let Some(other) = routes.insert(route.clone(), name) {
                self.push(Diagnostic::error(
                    Code::DuplicateRoute,
                    format!("`{name}` and `{other}` are both exposed at {}{}", route.0, route.1),
                    &root().key("services").key(name).key("expose").key("host"),
                ));
            }
        }
    }

    fn triggers(&mut self) {
        let spec = self.spec;
        let mut alert_names = BTreeMap::new();
        for (i, trigger) in spec.triggers.iter().enumerate() {
            let path = root().key("triggers").index(i);
            let (threshold, threshold_key) = match (trigger.above, trigger.below) {
                (Some(t), _) => (t, "above"),
                (None, Some(t)) => (t, "below"),
                (None, None) => continue,
            };
            if let Some(expected) = trigger.metric.threshold_kind()
                && trigger.expr.is_none()
                && threshold.kind() != expected
            {
                self.push(Diagnostic::error(
                    Code::InvalidThreshold,
                    format!(
                        "a `{}` trigger needs {} in `{threshold_key}`",
                        trigger.metric.as_str(),
                        expected.describe()
                    ),
                    &path.key(threshold_key),
                ));
            }
            if let Threshold::Percent(p) = threshold
                && p.whole() > 100
                && matches!(trigger.metric, Metric::Cpu | Metric::Memory | Metric::Disk | Metric::ErrorRate)
            {
                self.push(Diagnostic::error(
                    Code::InvalidThreshold,
                    format!("{p} of a whole can never be reached"),
                    &path.key(threshold_key),
                ));
            }
            self.trigger_metric(&path, trigger);
            if let Some(service) = &trigger.service
                && !spec.services.contains_key(service)
            {
                self.push(
                    Diagnostic::error(
                        Code::UnknownService,
                        format!("trigger watches `{service}`, which is not a service"),
                        &path.key("service"),
                    )
                    .help_opt(suggestion(service, spec.services.keys().map(String::as_str))),
                );
            }
            self.trigger_alert(&path, i, trigger, &mut alert_names);
        }
    }

    /// A metric that is not built in: a typo of one, or a trigger with no query.
    fn trigger_metric(&mut self, path: &SpecPath, trigger: &crate::spec::Trigger) {
        if let Metric::Other(metric) = &trigger.metric
            && trigger.expr.is_none()
        {
            let built_in = Metric::BUILT_IN.iter().map(|(name, _)| *name);
            match suggestion(metric, built_in) {
                Some(help) => self.push(
                    Diagnostic::error(
                        Code::UnknownMetric,
                        format!("`{metric}` is not a built-in metric"),
                        &path.key("metric"),
                    )
                    .help(help),
                ),
                None => self.push(
                    Diagnostic::warning(
                        Code::TriggerWithoutQuery,
                        format!(
                            "topo has no query for `{metric}`: it goes in the plan's checklist but makes no alert rule"
                        ),
                        &path.key("metric"),
                    )
                    .help("add `expr:` with the PromQL that measures it to get an alert rule"),
                ),
            }
        }
    }

    /// The alert a trigger makes has a Prometheus name, not the plan's own nor another trigger's.
    fn trigger_alert(
        &mut self,
        path: &SpecPath,
        i: usize,
        trigger: &crate::spec::Trigger,
        alert_names: &mut BTreeMap<String, usize>,
    ) {
        let alert = trigger.name.clone().unwrap_or_else(|| model::default_alert_name(trigger));
        let valid_alert = alert.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && alert.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid_alert {
            self.push(Diagnostic::error(
                Code::InvalidName,
                format!("alert name `{alert}` is not a Prometheus name (letters, digits, `_`)"),
                &path.key("name"),
            ));
        }
        if model::PRESSURE_ALERTS.contains(&alert.as_str()) {
            self.push(
                Diagnostic::error(
                    Code::DuplicateAlert,
                    format!("`{alert}` is the name of the plan's own pressure alert"),
                    &path.key("name"),
                )
                .help("give the trigger another `name:`"),
            );
        }
        if let Some(first) = alert_names.insert(alert.clone(), i) {
            self.push(
                Diagnostic::error(
                    Code::DuplicateAlert,
                    format!("triggers {first} and {i} both make the alert `{alert}`"),
                    path,
                )
                .help("give one of them its own `name:`, or a different `severity` or `service`"),
            );
        }
    }
}

impl Validator<'_> {
    fn metrics(&mut self) {
        let Some(metrics) = &self.spec.metrics else { return };
        let path = root().key("metrics");
        let names = [
            ("http_duration", &metrics.http_duration),
            ("http_requests", &metrics.http_requests),
            ("queue_depth", &metrics.queue_depth),
        ];
        for (key, name) in names {
            let Some(name) = name else { continue };
            let valid = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_' || c == ':')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
            if !valid {
                self.push(Diagnostic::error(
                    Code::InvalidName,
                    format!("`{name}` is not a Prometheus metric name (letters, digits, `_` and `:`)"),
                    &path.key(key),
                ));
            } else if key == "http_duration" && name.ends_with("_bucket") {
                self.push(
                    Diagnostic::error(
                        Code::InvalidName,
                        format!("`{name}` names the histogram's buckets"),
                        &path.key(key),
                    )
                    .help(format!("name the histogram itself: `{}`", name.trim_end_matches("_bucket"))),
                );
            }
        }
        for (key, label) in [("status_label", &metrics.status_label), ("service_label", &metrics.service_label)] {
            let Some(label) = label else { continue };
            let valid = label.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !label.starts_with("__");
            if !valid {
                self.push(Diagnostic::error(
                    Code::InvalidName,
                    format!("`{label}` is not a Prometheus label name (letters, digits, `_`)"),
                    &path.key(key),
                ));
            }
        }
    }
}

/// The (phase, value) pairs written in a phased field, or (None, value) for one value.
fn phased_entries<T>(value: &Option<Phased<T>>) -> Vec<(Option<PhaseNumber>, &T)> {
    match value {
        None => Vec::new(),
        Some(Phased::All(v)) => vec![(None, v)],
        Some(Phased::ByPhase(map)) => map.iter().map(|(k, v)| (Some(*k), v)).collect(),
    }
}

fn phased_path(path: &SpecPath, phase: Option<PhaseNumber>) -> SpecPath {
    match phase {
        Some(number) => path.key(number.to_string()),
        None => path.clone(),
    }
}

/// The path of the map entry that gives a phased field its value in `phase`.
fn phased_key_path<T>(path: &SpecPath, value: &Option<Phased<T>>, phase: PhaseNumber) -> SpecPath {
    match value {
        Some(Phased::ByPhase(map)) => match map.range(..=phase).next_back() {
            Some((key, _)) => path.key(key.to_string()),
            None => path.clone(),
        },
        _ => path.clone(),
    }
}

/// The shell's own variables and those every image's environment has: a check may read them.
const IMAGE_VARIABLES: [&str; 12] =
    ["HOME", "PATH", "HOSTNAME", "PWD", "USER", "SHELL", "TERM", "IFS", "LANG", "PGDATA", "PG_MAJOR", "JAVA_HOME"];

/// The service's name in a path under `services.<name>`.
fn service_name(path: &SpecPath) -> String {
    path.to_string().split('.').nth(1).unwrap_or_default().to_owned()
}

/// Each `${NAME…}` in `text` (a plain `${NAME}` or one with an operator,
/// `${NAME:-default}`), but not compose's escaped `$${…}`: what reads as
/// interpolation, and which topo passes as text unless it names a secret.
fn braced_variables(text: &str) -> Vec<&str> {
    crate::model::args::dollars(text)
        .into_iter()
        .filter(|d| d.braced && matches!(d.after, Some(b'}' | b':' | b'-' | b'?' | b'+' | b'=')))
        .map(|d| &text[d.name.0..d.name.1])
        .collect()
}

/// Each `$NAME` and `${NAME…}` a shell expands in `text` (not `$$`, the PID).
fn shell_variables(text: &str) -> Vec<&str> {
    crate::model::args::dollars(text).into_iter().map(|d| &text[d.name.0..d.name.1]).collect()
}
