//! `topo import`: an existing compose file → a spec with one compose phase.
//!
//! The stages: the compose text is read with topo's positioned YAML reader
//! (so every note has a line and column), each service becomes a typed
//! [`draft::ServiceDraft`] ([`read`]), a whole-file pass resolves what
//! crosses services (names, dependencies, shared volumes, routes, the node),
//! and [`draft::Draft::to_text`] writes YAML with comments where topo
//! guessed. The text is then compiled and planned like any spec: an import
//! that would write an invalid spec fails instead, since that is a bug.
//!
//! Nothing here reads the environment of the machine it runs on: `${VAR}`
//! stays as written, so the output depends only on the input.

mod commented;
mod credentials;
mod draft;
mod read;
mod traefik;
mod words;

use crate::code::Code;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use crate::diag::{Diagnostic, Diagnostics};
use crate::spec::{Cpu, Memory};
use crate::yaml::SpecPath;
use crate::yaml::{self, Entry, Node, Span, Value};

use draft::{Draft, ExposeDraft, NodeDraft, Noted};
use read::{ReadService, Reader, entries, is_null, scalar};

pub use words::{dns_1035 as service_name, is_secret_name};

/// Where the import reads from and what the user chose.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// `--project`; otherwise the file's `name`, otherwise `dir_name`.
    pub project: Option<String>,
    /// `--cpu` and `--memory`: the node's size; otherwise sized from the file's limits.
    pub cpu: Option<Cpu>,
    pub memory: Option<Memory>,
    /// Where relative `env_file` paths are read from: the compose file's directory.
    pub base_dir: Option<PathBuf>,
    /// The compose file's name, for the spec's header comment.
    pub file_name: String,
    /// The compose file's directory name: compose's own default project name.
    pub dir_name: Option<String>,
}

/// What an import made.
#[derive(Debug)]
pub struct Imported {
    /// The spec's text; `None` when the report has errors.
    pub spec: Option<String>,
    /// Every field dropped or approximated, and every error, located in the compose file.
    pub report: Diagnostics,
    /// The compose text with secret values masked, for printing the report's snippets.
    pub source: String,
    /// How many services were imported.
    pub services: usize,
}

/// The node gets the file's limits plus the Dokploy host's reserve, plus a
/// quarter so that the default 20% headroom stays free; at least this much.
pub const MIN_NODE_CPU: Cpu = Cpu::from_millis(2000);
pub const MIN_NODE_MEMORY: Memory = Memory::mebibytes(4096);

/// Import a compose file.
pub fn import(bytes: &[u8], options: &Options) -> Imported {
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(error) => {
            let lossy = crate::diag::mask::every_value(&String::from_utf8_lossy(bytes));
            let mut report = Diagnostics::default();
            report.push(not_utf8(bytes, error.valid_up_to()));
            return Imported { spec: None, report, source: lossy, services: 0 };
        }
    };
    let mut reader = Reader {
        report: Diagnostics::default(),
        base_dir: options.base_dir.clone(),
        declared_volumes: BTreeSet::new(),
        secret_names: BTreeMap::new(),
        project: String::new(),
    };
    let mut duplicates = Vec::new();
    let root = yaml::parse(text, &mut duplicates);
    for d in duplicates {
        reader.report.push(compose_wording(d.into()));
    }
    if let Ok(root) = &root {
        interpolation_errors(root, text, &mut reader.report);
    }
    let (spec, services) = match root {
        Ok(root) if !reader.report.has_errors() => convert(&root, options, &mut reader),
        Ok(_) => (None, 0),
        Err(d) => {
            reader.report.push(compose_wording(d.into()));
            (None, 0)
        }
    };
    // A compose file comes from anywhere: its snippets show keys, never values.
    let source = crate::diag::mask::every_value(text);
    reader.report.sort();
    let spec = spec.filter(|_| !reader.report.has_errors());
    Imported { spec, report: reader.report, source, services }
}

/// Most interpolation errors reported: one is enough to fix, and a file of a
/// million bad values must not print a million errors.
const MAX_INTERPOLATION_ERRORS: usize = 20;

/// Every value compose would refuse to interpolate, at the column of its `$`
/// (compose interpolates every value of the file, keys excepted).
fn interpolation_errors(root: &Node, text: &str, report: &mut Diagnostics) {
    let line_starts: Vec<usize> = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
    let mut found = 0;
    // Depth-first with one path, pushed and popped: the reader nests at most
    // `yaml::MAX_DEPTH` levels, and no path is kept per pending node.
    let mut path = Vec::new();
    interpolations_in(root, &mut path, text, &line_starts, &mut found, report);
}

fn interpolations_in(
    node: &Node,
    path: &mut Vec<crate::yaml::Segment>,
    text: &str,
    line_starts: &[usize],
    found: &mut usize,
    report: &mut Diagnostics,
) {
    if *found >= MAX_INTERPOLATION_ERRORS {
        return;
    }
    match &node.value {
        Value::Map(entries) => {
            for entry in entries {
                path.push(crate::yaml::Segment::Key(entry.key.scalar_text().unwrap_or_default().to_owned()));
                interpolations_in(&entry.value, path, text, line_starts, found, report);
                path.pop();
            }
        }
        Value::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                path.push(crate::yaml::Segment::Index(i));
                interpolations_in(item, path, text, line_starts, found, report);
                path.pop();
            }
        }
        Value::Scalar(value, _) => {
            let Some((at, why)) = words::interpolation_error(value) else { return };
            *found += 1;
            let pos = dollar_position(text, line_starts, node.span, value, at);
            let span =
                if pos.offset == node.span.start.offset { node.span } else { Span { start: pos, end: node.span.end } };
            let spec_path = path.iter().fold(SpecPath::root(), |p, segment| match segment {
                crate::yaml::Segment::Key(key) => p.key(key.clone()),
                crate::yaml::Segment::Index(i) => p.index(*i),
            });
            report.push(
                Diagnostic::error(Code::InvalidInterpolation, format!("invalid interpolation: {why}"), &spec_path)
                    .with_span(span)
                    .help("compose refuses this file too; write `$$` for a literal `$`".to_owned()),
            );
        }
    }
}

/// Where the `$` at byte `at` of a scalar's value is in the source: the same
/// `$` counted from the scalar's start (escapes aside, the `$`s of the value are
/// those of its source). The scalar's start when it cannot be found.
fn dollar_position(text: &str, line_starts: &[usize], span: Span, value: &str, at: usize) -> yaml::Pos {
    let nth = value[..at].matches('$').count();
    let source = text.get(span.start.offset..span.end.offset.min(text.len())).unwrap_or_default();
    let Some((index, _)) = source.match_indices('$').nth(nth) else { return span.start };
    let offset = span.start.offset + index;
    let line = line_starts.partition_point(|&start| start <= offset);
    let line_start = line_starts.get(line.saturating_sub(1)).copied().unwrap_or(0);
    let column = text.get(line_start..offset).map_or(1, |t| t.chars().count() + 1);
    yaml::Pos { line, column, offset }
}

fn compose_wording(mut d: Diagnostic) -> Diagnostic {
    fn reword(text: &str) -> String {
        text.replace("the spec", "the compose file").replace("a spec", "a compose file")
    }
    d.message = reword(&d.message);
    d.help = match d.code {
        Code::EmptySpec => Some("a compose file needs at least `services:`".to_owned()),
        _ => d.help.as_deref().map(reword),
    };
    d
}

fn not_utf8(bytes: &[u8], valid_up_to: usize) -> Diagnostic {
    let valid = String::from_utf8_lossy(&bytes[..valid_up_to]);
    let line = valid.matches('\n').count() + 1;
    let column = valid[valid.rfind('\n').map_or(0, |i| i + 1)..].chars().count() + 1;
    let pos = yaml::Pos { line, column, offset: valid_up_to };
    Diagnostic::syntax(
        Code::NotUtf8,
        format!("the compose file is not UTF-8 text: byte at offset {valid_up_to}"),
        Span::point(pos),
    )
    .help("save it as UTF-8")
}

fn convert(root: &Node, options: &Options, reader: &mut Reader) -> (Option<String>, usize) {
    let top = SpecPath::root();
    if !matches!(root.value, Value::Map(_)) {
        reader.error(
            Code::InvalidCompose,
            root,
            &top,
            format!("a compose file is a mapping, but this is {}", root.describe()),
            None,
        );
        return (None, 0);
    }
    let (project, project_note) = project_name(root, options);
    reader.project = project.clone();
    let services_node = top_level(root, reader);
    let Some(services) = services_node.filter(|e| !entries(&e.value).is_empty()) else {
        let at = services_node.map_or(root, |e| &e.key);
        reader.error(
            Code::NoServices,
            at,
            &top.key("services"),
            "the compose file has no services",
            Some("a compose file lists its containers under `services:`".to_owned()),
        );
        return (None, 0);
    };
    let mut read: Vec<ReadService> = Vec::new();
    for entry in entries(&services.value) {
        let name = entry.key.scalar_text().unwrap_or_default().to_owned();
        let merged = extends(reader, &services.value, &name, &entry.value, 0);
        if let Some(service) = reader.service(&name, &entry.key, &merged) {
            read.push(service);
        }
    }
    if reader.report.has_errors() {
        return (None, read.len());
    }
    let mut draft = Draft {
        header: vec![
            "yaml-language-server: $schema=topo.schema.json".to_owned(),
            format!(
                "Written by `topo import` from {}. A comment on a line says what topo guessed or changed;",
                options.file_name
            ),
            "the import report lists every field it left out. Review both, then add phases 2 and 3.".to_owned(),
        ],
        project: Noted { value: project, note: project_note },
        ..Default::default()
    };
    whole_file(reader, &mut read, &mut draft);
    size_node(&mut draft, options);
    let count = draft.services.len();
    let text = draft.to_text();
    (finish(reader, text, options, root), count)
}

/// The top-level keys beside `services` (read here: volumes, secrets; reported:
/// the rest); the `services` entry, when there is one.
fn top_level<'n>(root: &'n Node, reader: &mut Reader) -> Option<&'n Entry> {
    let top = SpecPath::root();
    let mut services_node = None;
    for entry in entries(root) {
        let name = entry.key.scalar_text().unwrap_or_default();
        let at = top.key(name);
        match name {
            "version" | "name" => {}
            _ if name.starts_with("x-") => {}
            "services" => services_node = Some(entry),
            "volumes" => top_volumes(reader, &entry.value, &at),
            "secrets" => {
                for secret in entries(&entry.value) {
                    let compose_name = secret.key.scalar_text().unwrap_or_default().to_owned();
                    let from_env = secret
                        .value
                        .get("environment")
                        .and_then(|e| scalar(&e.value))
                        .filter(|v| words::is_env_name(v));
                    let name = from_env.map_or_else(|| words::env_name(&compose_name), str::to_owned);
                    reader.secret_names.insert(compose_name, name);
                }
            }
            "networks" => {
                for network in entries(&entry.value) {
                    let network_name = network.key.scalar_text().unwrap_or_default();
                    if network_name != "default" {
                        reader.warn(
                            Code::Dropped,
                            &network.key,
                            &at.key(network_name),
                            format!("network `{network_name}` is not carried over: topo puts every service on the project's network (and exposed ones on Dokploy's)"),
                            None,
                        );
                    }
                }
            }
            "configs" => {
                for config in entries(&entry.value) {
                    let config_name = config.key.scalar_text().unwrap_or_default();
                    reader.warn(
                        Code::Dropped,
                        &config.key,
                        &at.key(config_name),
                        format!("config `{config_name}` is not carried over: topo has no configs"),
                        None,
                    );
                }
            }
            "include" => reader.warn(
                Code::Dropped,
                &entry.key,
                &at,
                "`include` is not followed: the services of included files are not imported",
                Some("import each included file on its own, or merge them first (`docker compose config`)".to_owned()),
            ),
            _ => reader.warn(
                Code::UnknownKey,
                &entry.key,
                &at,
                format!("`{name}` is not a top-level compose key; it is ignored"),
                None,
            ),
        }
    }
    services_node
}

fn project_name(root: &Node, options: &Options) -> (String, Option<String>) {
    let (raw, source) = if let Some(project) = &options.project {
        (project.clone(), "--project")
    } else if let Some(name) = root.get("name").and_then(|e| scalar(&e.value)).filter(|n| !words::interpolates(n)) {
        (name.to_owned(), "the compose file's `name`")
    } else if let Some(dir) = &options.dir_name {
        (dir.clone(), "the compose file's directory, as compose names projects")
    } else {
        ("app".to_owned(), "")
    };
    let project = words::dns_1123(&raw);
    let note = match source {
        "--project" if project == raw => None,
        "" => Some("no name to go by: name your project".to_owned()),
        _ => Some(format!("from {source}")),
    };
    (project, note)
}

fn top_volumes(reader: &mut Reader, value: &Node, at: &SpecPath) {
    for volume in entries(value) {
        let name = volume.key.scalar_text().unwrap_or_default().to_owned();
        reader.declared_volumes.insert(name.clone());
        for setting in entries(&volume.value) {
            let key = setting.key.scalar_text().unwrap_or_default();
            if is_null(&setting.value) || key.starts_with("x-") {
                continue;
            }
            let why = match key {
                "external" => "topo creates the volume itself: the data of the external volume is not in it",
                "name" => "topo names the volume after its service",
                "driver" | "driver_opts" => {
                    "topo uses the platform's default volume driver (and on k8s, `storage_class`)"
                }
                _ => "topo volumes have no such setting",
            };
            reader.warn(
                Code::Dropped,
                &setting.key,
                &at.key(&name).key(key),
                format!("`{key}` of volume `{name}` is not carried over: {why}"),
                None,
            );
        }
    }
}

/// The service with its `extends` parent's settings merged in (the child's win).
fn extends(reader: &mut Reader, services: &Node, name: &str, node: &Node, depth: usize) -> Node {
    let Some(entry) = node.get("extends") else { return node.clone() };
    let at = SpecPath::root().key("services").key(name).key("extends");
    let (parent, file) = match &entry.value.value {
        Value::Scalar(..) => (scalar(&entry.value).map(str::to_owned), None),
        _ => (
            entry.value.get("service").and_then(|e| scalar(&e.value)).map(str::to_owned),
            entry.value.get("file").and_then(|e| scalar(&e.value)).map(str::to_owned),
        ),
    };
    if let Some(file) = file {
        reader.warn(
            Code::Dropped,
            &entry.key,
            &at,
            format!("`extends` from `{file}` is not followed: only services of the same file are merged"),
            None,
        );
        return node.clone();
    }
    let Some(parent_node) = parent.as_deref().and_then(|p| services.get(p)).filter(|_| depth < 16) else {
        reader.warn(Code::Dropped, &entry.key, &at, "`extends` names no service of this file (or loops)", None);
        return node.clone();
    };
    let parent_name = parent.unwrap_or_default();
    let base = extends(reader, services, &parent_name, &parent_node.value, depth + 1);
    let mut merged: Vec<Entry> =
        entries(node).iter().filter(|e| e.key.scalar_text() != Some("extends")).cloned().collect();
    for inherited in entries(&base) {
        if !merged.iter().any(|e| e.key.scalar_text() == inherited.key.scalar_text()) {
            merged.push(Entry { merged: true, ..inherited.clone() });
        }
    }
    if depth == 0 {
        reader.warn(
            Code::Approximated,
            &entry.key,
            &at,
            format!("`extends: {parent_name}`: its settings are merged in, and a key set in both takes this service's whole value"),
            None,
        );
    }
    Node { value: Value::Map(merged), span: node.span }
}

/// What crosses services: names, dependencies, shared volumes, routes, the node's name and labels.
fn whole_file(reader: &mut Reader, read: &mut [ReadService], draft: &mut Draft) {
    let names = service_names(reader, read);
    dependencies(reader, read, &names);
    named_volumes(reader, read, &names);
    secret_interpolations(reader, read);
    routes_and_node(reader, read, &names, draft);
    draft.services = read.iter().map(|s| (names[&s.compose_name].clone(), s.draft.clone())).collect();
}

/// Each compose service's name in the spec (a valid one is kept).
fn service_names(reader: &mut Reader, read: &[ReadService]) -> BTreeMap<String, String> {
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    // A name that is valid already keeps it (other services reach it by that
    // name); the renamed ones take what is left: `web_app` beside `web-app`
    // becomes `web-app-2`, not the other way round.
    let mut taken: BTreeSet<String> =
        read.iter().map(|s| s.compose_name.clone()).filter(|name| words::dns_1035(name) == *name).collect();
    for service in read.iter() {
        let base = words::dns_1035(&service.compose_name);
        let mut name = base.clone();
        let mut n = 2;
        while name != service.compose_name && !taken.insert(name.clone()) {
            let suffix = format!("-{n}");
            let stem: String = base.chars().take(63 - suffix.len()).collect();
            name = format!("{}{suffix}", stem.trim_end_matches('-'));
            n += 1;
        }
        if name != service.compose_name {
            let (node, path) = &service.at;
            reader.warn(
                Code::Renamed,
                node,
                path,
                format!(
                    "service `{}` becomes `{name}`: Kubernetes names are lowercase letters, digits and `-`, at most 63",
                    service.compose_name
                ),
                Some(format!("other services reach it as `{name}` now: update host names in their settings")),
            );
        }
        names.insert(service.compose_name.clone(), name);
    }
    names
}

/// Dependencies: known services only, no cycles.
fn dependencies(reader: &mut Reader, read: &mut [ReadService], names: &BTreeMap<String, String>) {
    let has_health: BTreeSet<String> =
        read.iter().filter(|s| s.draft.health.is_some()).map(|s| s.compose_name.clone()).collect();
    let mut edges: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for service in read.iter_mut() {
        let own = names[&service.compose_name].clone();
        for dep in std::mem::take(&mut service.depends) {
            let Some(target) = names.get(&dep.name).cloned() else {
                reader.warn(
                    Code::Dropped,
                    &dep.node,
                    &dep.path,
                    format!("dependency `{}` is not a service of this file", dep.name),
                    None,
                );
                continue;
            };
            if target == own || service.draft.depends_on.contains(&target) {
                continue;
            }
            if reaches(&edges, &target, &own) {
                reader.warn(
                    Code::Dropped,
                    &dep.node,
                    &dep.path,
                    format!("dependency on `{}` closes a cycle", dep.name),
                    None,
                );
                continue;
            }
            match dep.condition.as_deref() {
                Some("service_healthy") if !has_health.contains(&dep.name) => reader.warn(
                    Code::Approximated,
                    &dep.node,
                    &dep.path,
                    format!("`{}` has no health check in this file: topo waits for it to start, not to be healthy", dep.name),
                    None,
                ),
                None | Some("service_started") if has_health.contains(&dep.name) => reader.warn(
                    Code::Approximated,
                    &dep.node,
                    &dep.path,
                    format!(
                        "`{}` has a health check, so topo waits for it to be healthy (`service_healthy`); compose waited only for it to start",
                        dep.name
                    ),
                    Some("usually what was meant; if this service must start while the dependency is still unhealthy, remove the dependency".to_owned()),
                ),
                Some("service_completed_successfully") => reader.warn(
                    Code::Approximated,
                    &dep.node,
                    &dep.path,
                    format!("`service_completed_successfully`: topo waits for `{}` to start (healthy when it has a check), not to finish", dep.name),
                    Some("run one-off jobs (migrations) outside the spec, or in the entrypoint".to_owned()),
                ),
                _ => {}
            }
            edges.entry(own.clone()).or_default().push(target.clone());
            service.draft.depends_on.push(target);
        }
    }
}

/// Named volumes and bind mounts: the first service to mount one declares it;
/// every other service mounting it mounts that one (`from`), as compose shared it.
fn named_volumes(reader: &mut Reader, read: &mut [ReadService], names: &BTreeMap<String, String>) {
    // Each source's first service (its index) and that service's key for it.
    let mut owners: BTreeMap<String, (usize, String)> = BTreeMap::new();
    // Owners' volumes that several writers share: ReadWriteMany.
    let mut written_by_many: Vec<(usize, String)> = Vec::new();
    for i in 0..read.len() {
        let own = names[&read[i].compose_name].clone();
        let mounts = read[i].named_volumes.clone();
        for (source, volume, node, path) in mounts {
            let bind = source.starts_with("bind:");
            let first = owners.get(&source).cloned().filter(|(owner, _)| *owner != i);
            let Some((owner_index, key)) = first else {
                if owners.contains_key(&source) {
                    continue;
                }
                owners.insert(source.clone(), (i, volume.clone()));
                if !bind {
                    reader.warn(
                        Code::Renamed,
                        &node,
                        &path,
                        format!("volume `{source}` becomes `{own}-{volume}` in the rendered compose file: the data now in `{source}` is not in it"),
                        Some(format!("before switching, copy the data (`docker run --rm -v OLD:/from -v NEW:/to alpine cp -a /from/. /to/`), or name the spec volume so that `{own}-<name>` matches")),
                    );
                }
                continue;
            };
            let owner = names[&read[owner_index].compose_name].clone();
            let shown = source.strip_prefix("bind:").unwrap_or(&source).to_owned();
            let draft = &mut read[i].draft;
            // Under the owner's key, unless this service already has a volume of that name.
            if key != volume && draft.volumes.iter().any(|(k, _)| *k == key) {
                reader.warn(
                    Code::Approximated,
                    &node,
                    &path,
                    format!("`{shown}` is shared with `{owner}` in compose; here `{own}` has a volume `{key}` of its own already, so it gets its own `{volume}`"),
                    Some(format!("rename `{own}`'s other volume `{key}`, then mount this one with `{key}: {{ from: {owner}, mount: … }}`")),
                );
                continue;
            }
            let replicas = draft.replicas.as_ref().map_or(1, |r| r.value);
            let Some((name, entry)) = draft.volumes.iter_mut().find(|(k, _)| *k == volume) else { continue };
            name.clone_from(&key);
            entry.value.from = Some(owner.clone());
            entry.note = Some(format!("`{owner}`'s volume, shared as in compose (`{shown}`)"));
            if replicas > 1 && !entry.value.read_only {
                written_by_many.push((owner_index, key));
            }
        }
    }
    for (i, key) in written_by_many {
        if let Some((_, entry)) = read[i].draft.volumes.iter_mut().find(|(k, _)| *k == key) {
            entry.value.shared = true;
        }
    }
}

/// Env values that interpolate a variable another service has as a secret
/// (`PAPERLESS_DBPASS: ${PAPERLESS_DBPASS}` beside the database's
/// `POSTGRES_PASSWORD: ${PAPERLESS_DBPASS}`): the same secret here too, and
/// a reference to it, rather than text that compose no longer fills in.
fn secret_interpolations(reader: &mut Reader, read: &mut [ReadService]) {
    let secrets: BTreeSet<String> = read.iter().flat_map(|s| s.draft.secrets.keys().cloned()).collect();
    for service in read.iter_mut() {
        for (key, (node, path)) in std::mem::take(&mut service.interpolated_env) {
            let Some(text) = service.draft.env.get(&key).map(|v| v.value.clone()) else { continue };
            let alone = secrets.contains(&key)
                && matches!(text.trim(), t if t == format!("${{{key}}}") || t == format!("${key}"));
            let references = read::secret_references(&key, &text, |v| secrets.contains(v))
                .filter(|(_, found)| found.iter().all(|v| secrets.contains(v)));
            if !alone && references.is_none() {
                continue;
            }
            // The line that said it would be passed literally no longer holds.
            reader.report.retain(|d| !(d.code == Code::Approximated && d.path == path));
            match references {
                Some((text, found)) => reader.env_references(service, &key, text, found, &node, &path),
                None => {
                    service.draft.env.remove(&key);
                    service.draft.secrets.insert(key.clone(), Some("another service has it as a secret".to_owned()));
                    reader.warn(
                        Code::Secret,
                        &node,
                        &path,
                        format!("`{key}` interpolates `${{{key}}}`, which another service has as a secret: it becomes the secret `{key}` here too"),
                        Some(format!("set `{key}` in the deploy environment (Dokploy's Environment tab)")),
                    );
                }
            }
        }
    }
}

/// Routes, the node's name and labels, and secrets given different values.
fn routes_and_node(reader: &mut Reader, read: &mut [ReadService], names: &BTreeMap<String, String>, draft: &mut Draft) {
    let routes: Vec<Option<traefik::Route>> = read.iter().map(|s| s.traefik.route()).collect();
    let certresolver = routes.iter().flatten().find_map(|r| r.certresolver.clone());
    if let Some(resolver) = &certresolver {
        draft.tls = Some(Noted::with_note(resolver.clone(), "from the Traefik labels' certresolver"));
    }
    let mut hosts: BTreeSet<(String, String)> = BTreeSet::new();
    let hostnames: BTreeSet<String> =
        read.iter().filter_map(|s| s.hostname.as_ref().map(|h| words::dns_1123(&h.0))).collect();
    let node_name = match hostnames.iter().next() {
        Some(host) if hostnames.len() == 1 => host.clone(),
        _ => "vps-1".to_owned(),
    };
    let mut node_labels: BTreeMap<String, String> = BTreeMap::new();
    let mut secret_values: BTreeMap<String, (String, String)> = BTreeMap::new();
    for (service, route) in read.iter_mut().zip(routes) {
        let name = names[&service.compose_name].clone();
        if let Some((host, node, path)) = &service.hostname {
            if hostnames.len() == 1 {
                service.draft.placement.node = Some(node_name.clone());
            } else {
                reader.warn(Code::Dropped, node, path, format!("`node.hostname == {host}` is not kept: the services name several hosts, and the imported phase has one node"), None);
            }
        }
        let labels = std::mem::take(&mut service.draft.placement.labels);
        for (key, value) in labels {
            match node_labels.get(&key) {
                Some(existing) if *existing != value => {
                    let (node, path) = &service.at;
                    reader.warn(Code::Dropped, node, path, format!("`{name}`'s placement on `{key}={value}` is not kept: another service asks for `{key}={existing}` and the phase has one node"), None);
                }
                _ => {
                    node_labels.insert(key.clone(), value.clone());
                    service.draft.placement.labels.insert(key, value);
                }
            }
        }
        if let Some(route) = route {
            expose(reader, service, &name, route, certresolver.is_some(), &mut hosts);
        }
        let replicas = service.draft.replicas.as_ref().map_or(1, |r| r.value);
        if replicas > 1 {
            for (_, volume) in service.draft.volumes.iter_mut().filter(|(_, v)| v.value.from.is_none()) {
                volume.value.shared = true;
                volume.note = Some(format!(
                    "the {replicas} replicas share it, as they did in compose: needs a ReadWriteMany storage class on k8s"
                ));
            }
        }
        for (secret, value) in &service.secret_values {
            match secret_values.get(secret) {
                Some((other, first)) if first != value => {
                    let (node, path) = &service.at;
                    reader.warn(
                        Code::Approximated,
                        node,
                        path,
                        format!("`{name}` and `{other}` had different values for `{secret}`: topo gives both the one secret `{secret}`"),
                        Some("give them secrets of different names if they must differ".to_owned()),
                    );
                }
                Some(_) => {}
                None => {
                    secret_values.insert(secret.clone(), (name.clone(), value.clone()));
                }
            }
        }
        draft.secrets.extend(service.draft.secrets.keys().cloned());
    }
    draft.node = NodeDraft { name: node_name, labels: node_labels, ..Default::default() };
}

fn reaches(edges: &BTreeMap<String, Vec<String>>, from: &str, to: &str) -> bool {
    let mut stack = vec![from.to_owned()];
    let mut seen = BTreeSet::new();
    while let Some(node) = stack.pop() {
        if node == to {
            return true;
        }
        if seen.insert(node.clone()) {
            stack.extend(edges.get(&node).into_iter().flatten().cloned());
        }
    }
    false
}

fn expose(
    reader: &mut Reader,
    service: &mut ReadService,
    name: &str,
    route: traefik::Route,
    ingress_tls: bool,
    hosts: &mut BTreeSet<(String, String)>,
) {
    for (node, path, message) in &route.notes {
        reader.warn(Code::Approximated, node, path, message.clone(), None);
    }
    let (node, path) = service.traefik.at.clone().unwrap_or_else(|| service.at.clone());
    let mut note = Vec::new();
    let host = route.host.clone().unwrap_or_else(|| {
        note.push("placeholder host: put your domain here".to_owned());
        format!("{name}.example.com")
    });
    let route_path = route.path.clone().unwrap_or_else(|| "/".to_owned());
    if !hosts.insert((host.clone(), route_path.clone())) {
        reader.warn(
            Code::Dropped,
            &node,
            &path,
            format!("`{name}`'s route {host}{route_path} is taken by an earlier service"),
            None,
        );
        return;
    }
    let draft = &mut service.draft;
    match route.port {
        Some(port) => {
            draft.ports.retain(|p| *p != port);
            if let Some(main) = draft.port.take().filter(|p| p.value != port) {
                draft.ports.insert(0, main.value);
            }
            draft.port = Some(Noted::with_note(port, "the Traefik load balancer's port"));
        }
        None if draft.port.is_some() => {}
        None => {
            draft.port =
                Some(Noted::with_note(80, "guessed: Traefik found the port in the image; put the port it listens on"));
            reader.warn(
                Code::Guessed,
                &node,
                &path,
                format!("`{name}` is routed by Traefik but names no port: topo guesses 80"),
                Some("set `port` to the port the service listens on".to_owned()),
            );
        }
    }
    if route.tls && !ingress_tls {
        reader.warn(
            Code::Approximated,
            &node,
            &path,
            format!("`{name}`'s router uses TLS without a certresolver: topo serves it without TLS"),
            Some("set `ingress.tls` to your certresolver (Dokploy's is `letsencrypt`)".to_owned()),
        );
    }
    let tls = (ingress_tls && !route.tls).then_some(false);
    let note = (!note.is_empty()).then(|| note.join("; ")).or_else(|| Some("from the Traefik labels".to_owned()));
    draft.expose = Some(Noted { value: ExposeDraft { host, path: route.path, tls }, note });
}

/// The node: the flags, or the file's limits plus the Dokploy host's reserve
/// plus a quarter (so that 20% stays free), rounded up to whole cores and GiB.
fn size_node(draft: &mut Draft, options: &Options) {
    let (need_cpu, need_memory) = needs(draft);
    let reserve = crate::plan::reserve::default_reserve(crate::spec::Target::Compose, crate::spec::Role::Manager);
    let want_cpu = reserve.cpu.millis() + need_cpu.div_ceil(4) * 5;
    let want_memory = reserve.memory.bytes() + need_memory.div_ceil(4) * 5;
    let cpu = Cpu::from_millis(want_cpu.div_ceil(1000).max(MIN_NODE_CPU.millis() / 1000) * 1000);
    let gib = 1u64 << 30;
    let memory = Memory::from_bytes(want_memory.div_ceil(gib).max(MIN_NODE_MEMORY.bytes() / gib) * gib);
    let guessed = format!(
        "sized from the compose limits ({} CPU, {} for all replicas) plus Dokploy's reserve and 20% headroom: put your machine's size here",
        Cpu::from_millis(need_cpu),
        words::memory_text(Memory::from_bytes(need_memory))
    );
    draft.node.cpu = options.cpu.unwrap_or(cpu);
    draft.node.memory = options.memory.unwrap_or(memory);
    draft.node.note = match (options.cpu, options.memory) {
        (Some(_), Some(_)) => None,
        _ => Some(guessed),
    };
}

/// CPU (millicores) and memory (bytes) the file's replicas are limited to (the reservation where no limit is given).
fn needs(draft: &Draft) -> (u64, u64) {
    let mut cpu = 0u64;
    let mut memory = 0u64;
    for (_, service) in &draft.services {
        let replicas = u64::from(service.replicas.as_ref().map_or(1, |r| r.value));
        let c = service.limits.cpu.or(service.requests.cpu).map_or(0, Cpu::millis);
        let m = service.limits.memory.or(service.requests.memory).map_or(0, Memory::bytes);
        cpu = cpu.saturating_add(c.saturating_mul(replicas));
        memory = memory.saturating_add(m.saturating_mul(replicas));
    }
    (cpu, memory)
}

/// Compile and plan the written spec: errors stop the import.
fn finish(reader: &mut Reader, text: String, options: &Options, root: &Node) -> Option<String> {
    let compiled = match crate::compile(text.as_bytes()) {
        Ok(compiled) => compiled,
        Err(diags) => {
            let first: Vec<String> =
                diags.iter().filter(|d| d.is_error()).take(3).map(|d| format!("{} ({})", d.message, d.path)).collect();
            reader.error(
                Code::ImportFailed,
                root,
                &SpecPath::root(),
                format!("topo wrote a spec it cannot read back: {}", first.join("; ")),
                Some("this is a bug in `topo import`: please report it with the compose file".to_owned()),
            );
            return None;
        }
    };
    let fit = crate::plan::diagnostics(&crate::plan::fit(&compiled.model));
    if fit.has_errors() {
        let detail: Vec<String> = fit.iter().filter(|d| d.is_error()).map(|d| d.message.clone()).collect();
        let help = if options.cpu.is_some() || options.memory.is_some() {
            "give a larger `--cpu`/`--memory`, or leave them out to size the node from the file".to_owned()
        } else {
            "this is a bug in `topo import`: please report it with the compose file".to_owned()
        };
        reader.error(Code::NodeTooSmall, root, &SpecPath::root(), detail.join("; "), Some(help));
        return None;
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_source_shows_no_value() {
        let imported = import(
            b"services:\n  web:\n    image: nginx\n    environment: {DB_PASSWORD: hunter2, X: y]\n",
            &Options::default(),
        );
        assert!(imported.report.has_errors());
        assert!(!imported.source.contains("hunter2") && !imported.source.contains("nginx"));
        assert!(imported.source.contains("environment: {DB_PASSWORD: "));
    }
}
