//! The external validators of DESIGN.md, "Real checks, not self-checks", for
//! integration tests (`use crate::support::validators;`).
//!
//! Every check takes a file (or directory) path and returns `Ok` only when the
//! tool accepted it; `Err` holds the command line and everything the tool
//! printed, or says that the tool is missing. A missing tool is an error, never
//! a skip: `scripts/setup-validators` installs all of them (`scripts/test`
//! runs it and exports `TOPO_VALIDATORS`). To check a string, write it with
//! [`TempInput::new`] and pass [`TempInput::path`].
//!
//! Tools are looked up in `$TOPO_VALIDATORS`, then in this repository's
//! `.venv/bin`, then on `PATH`.

// Each test module uses only some of these.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Debian's Compose v1 (package `docker-compose`).
pub const COMPOSE_V1: &str = "/usr/bin/docker-compose";

/// The Kubernetes version that [`kubernetes_validate`] checks against.
pub const KUBERNETES_VERSION: &str = "1.33.0";

/// A file in a fresh temporary directory of its own (removed on drop), for
/// checking a string. The directory's name starts with `topo-`, which Compose
/// takes as the project name.
pub struct TempInput {
    dir: tempfile::TempDir,
    path: PathBuf,
}

impl TempInput {
    /// Writes `contents` to `<new temp dir>/<file_name>`.
    pub fn new(file_name: &str, contents: &str) -> Result<Self, String> {
        let dir = tempfile::Builder::new().prefix("topo-").tempdir().map_err(|e| format!("temp dir: {e}"))?;
        let path = dir.path().join(file_name);
        fs_err::write(&path, contents).map_err(|e| e.to_string())?;
        Ok(Self { dir, path })
    }

    /// Writes one more file beside the first (a rules file beside its test,
    /// a resource beside `kustomization.yaml`) and returns its path.
    pub fn add(&self, file_name: &str, contents: &str) -> Result<PathBuf, String> {
        let path = self.dir.path().join(file_name);
        if let Some(parent) = path.parent() {
            fs_err::create_dir_all(parent).map_err(|e| e.to_string())?;
        }
        fs_err::write(&path, contents).map_err(|e| e.to_string())?;
        Ok(path)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// Where a validator is: `$TOPO_VALIDATORS/NAME`, `<repo>/.venv/bin/NAME`, or
/// the first `NAME` on `PATH`.
/// An absolute `name` is taken as it is.
pub fn find_tool(name: &str) -> Result<PathBuf, String> {
    if Path::new(name).is_absolute() {
        return if is_executable(Path::new(name)) {
            Ok(PathBuf::from(name))
        } else {
            Err(format!("validator `{name}` not found: run scripts/setup-validators"))
        };
    }
    search_dirs().iter().map(|dir| dir.join(name)).find(|candidate| is_executable(candidate)).ok_or_else(|| {
        format!(
            "validator `{name}` not found (looked in $TOPO_VALIDATORS, .venv/bin and PATH): \
             run scripts/setup-validators"
        )
    })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    path.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// `$TOPO_VALIDATORS`, `<repo>/.venv/bin`, then `PATH`.
fn search_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(dir) = std::env::var_os("TOPO_VALIDATORS").filter(|d| !d.is_empty()) {
        dirs.push(PathBuf::from(dir));
    }
    dirs.push(Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv").join("bin"));
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    dirs
}

/// `PATH` for a tool run in a clean environment: [`search_dirs`].
fn clean_path() -> std::ffi::OsString {
    std::env::join_paths(search_dirs()).unwrap_or_default()
}

/// Runs `tool args…`; `env` is `Some` for a clean environment (only `PATH`,
/// `HOME` and those variables).
fn run<S: AsRef<OsStr>>(tool: &str, args: &[S], env: Option<&[(&str, &str)]>) -> Result<(Output, String), String> {
    let program = find_tool(tool)?;
    let mut command = Command::new(&program);
    command.args(args).stdin(Stdio::null());
    if let Some(vars) = env {
        command.env_clear().env("PATH", clean_path());
        if let Some(home) = std::env::var_os("HOME") {
            command.env("HOME", home);
        }
        command.envs(vars.iter().copied());
    }
    let mut line = program.display().to_string();
    for arg in args {
        let _ = write!(line, " {}", arg.as_ref().to_string_lossy());
    }
    let output = command.output().map_err(|e| format!("{line}: cannot run: {e}"))?;
    Ok((output, line))
}

/// The command line, its exit status and all it printed.
fn report(line: &str, output: &Output, why: &str) -> String {
    let mut text = format!("{line}\n{why} ({})", output.status);
    for (name, bytes) in [("stdout", &output.stdout), ("stderr", &output.stderr)] {
        let s = String::from_utf8_lossy(bytes);
        if !s.trim().is_empty() {
            let _ = write!(text, "\n--- {name}\n{}", s.trim_end());
        }
    }
    text
}

fn printed(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// Runs the tool and fails on a non-zero exit status.
fn check<S: AsRef<OsStr>>(tool: &str, args: &[S], env: Option<&[(&str, &str)]>) -> Result<Output, String> {
    let (output, line) = run(tool, args, env)?;
    if output.status.success() { Ok(output) } else { Err(report(&line, &output, "rejected")) }
}

fn path_arg(path: &Path) -> &OsStr {
    path.as_os_str()
}

/// `kubernetes-validate --strict --kubernetes-version 1.33.0 FILE`.
pub fn kubernetes_validate(path: impl AsRef<Path>) -> Result<(), String> {
    kubernetes_validate_version(path, KUBERNETES_VERSION)
}

/// `kubernetes-validate --strict --kubernetes-version VERSION FILE`. Besides
/// a non-zero exit, fails on any `WARN` line (it only warns, and exits 0, for
/// a kind or apiVersion it has no schema for: a removed API, a CRD) and when
/// no resource was validated at all (an empty file).
pub fn kubernetes_validate_version(path: impl AsRef<Path>, version: &str) -> Result<(), String> {
    // Custom resources are checked against their vendored schema; the rest goes to the tool.
    let text = fs_err::read_to_string(path.as_ref()).map_err(|e| e.to_string())?;
    let built_in = TempInput::new("built-in.yaml", &split_custom_resources(&text)?)?;
    let args =
        [OsStr::new("--strict"), OsStr::new("--kubernetes-version"), OsStr::new(version), path_arg(built_in.path())];
    let (output, line) = run("kubernetes-validate", &args, None)?;
    let text = printed(&output);
    if !output.status.success() {
        return Err(report(&line, &output, "rejected"));
    }
    if text.lines().any(|l| l.starts_with("WARN") || l.contains("Couldn't find schema")) {
        return Err(report(&line, &output, "warned (no schema is not a pass)"));
    }
    if !text.lines().any(|l| l.starts_with("INFO") && l.contains(" passed ")) {
        return Err(report(&line, &output, "validated no resource"));
    }
    Ok(())
}

/// The custom resources topo emits, by `apiVersion` and `kind`, and the
/// vendored JSON Schema of each (`tests/crd-schemas/`, see its README).
pub const CUSTOM_RESOURCES: [(&str, &str, &str); 6] = [
    ("bitnami.com/v1alpha1", "SealedSecret", "tests/crd-schemas/bitnami.com/sealedsecret_v1alpha1.json"),
    ("cert-manager.io/v1", "ClusterIssuer", "tests/crd-schemas/cert-manager.io/clusterissuer_v1.json"),
    ("external-secrets.io/v1", "ExternalSecret", "tests/crd-schemas/external-secrets.io/externalsecret_v1.json"),
    ("traefik.io/v1alpha1", "Middleware", "tests/crd-schemas/traefik.io/middleware_v1alpha1.json"),
    ("monitoring.coreos.com/v1", "PrometheusRule", "tests/crd-schemas/monitoring.coreos.com/prometheusrule_v1.json"),
    ("monitoring.coreos.com/v1", "ServiceMonitor", "tests/crd-schemas/monitoring.coreos.com/servicemonitor_v1.json"),
];

/// Validates every custom resource of a YAML stream against its vendored
/// schema (a kind with none is an error, as kubernetes-validate's "no schema"
/// is), and returns the stream of the other, built-in, objects.
///
/// As strictly as `kubernetes-validate --strict` checks a built-in kind: the
/// schema is made [strict](strict_schema) (no unknown field wherever the CRD
/// does not preserve unknown fields, `apiVersion`, `kind`, `metadata` and
/// `metadata.name` required, `apiVersion` and `kind` exactly the vendored
/// ones), and the object's `metadata`, which a CRD schema leaves open, goes
/// to kubernetes-validate as the metadata of a ConfigMap: the real ObjectMeta
/// schema, unknown fields and types included.
pub fn split_custom_resources(stream: &str) -> Result<String, String> {
    let mut built_in: Vec<String> = Vec::new();
    for text in stream.split("\n---\n") {
        let doc: serde_json::Value = serde_norway::from_str(text).map_err(|e| format!("not YAML: {e}\n{text}"))?;
        let api_version = doc["apiVersion"].as_str().unwrap_or_default();
        let kind = doc["kind"].as_str().unwrap_or_default();
        let group = api_version.rsplit_once('/').map_or("", |(group, _)| group);
        if !group.contains('.') || group.ends_with(".k8s.io") {
            built_in.push(text.to_owned());
            continue;
        }
        let Some((_, _, file)) = CUSTOM_RESOURCES.iter().find(|(v, k, _)| *v == api_version && *k == kind) else {
            return Err(format!("no vendored schema for {kind} ({api_version})"));
        };
        let schema = strict_schema(&vendored_schema(file)?, api_version, kind);
        let validator = jsonschema::validator_for(&schema).map_err(|e| e.to_string())?;
        let errors: Vec<String> =
            validator.iter_errors(&doc).map(|e| format!("{e} at {}", e.instance_path())).collect();
        if !errors.is_empty() {
            return Err(format!("{kind} ({api_version}) against {file}:\n{}\n{text}", errors.join("\n")));
        }
        let carrier = serde_json::json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": doc["metadata"] });
        built_in.push(serde_norway::to_string(&carrier).map_err(|e| e.to_string())?);
    }
    Ok(built_in.join("\n---\n"))
}

/// The vendored JSON Schema at `file` (relative to the repository).
pub fn vendored_schema(file: &str) -> Result<serde_json::Value, String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    let text = fs_err::read_to_string(&path).map_err(|e| e.to_string())?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// A CRD's schema made as strict as kubernetes-validate's `--strict`: every
/// object schema with `properties` and neither `additionalProperties` nor
/// `x-kubernetes-preserve-unknown-fields` admits no other property; the root
/// requires `apiVersion`, `kind` (both fixed) and `metadata` with a `name`.
pub fn strict_schema(schema: &serde_json::Value, api_version: &str, kind: &str) -> serde_json::Value {
    let mut schema = schema.clone();
    close_objects(&mut schema);
    let root = schema.as_object_mut().expect("a CRD schema is an object");
    let properties = root.entry("properties").or_insert_with(|| serde_json::json!({}));
    properties["apiVersion"] = serde_json::json!({ "const": api_version });
    properties["kind"] = serde_json::json!({ "const": kind });
    properties["metadata"] = serde_json::json!({ "type": "object", "required": ["name"] });
    let mut required: Vec<serde_json::Value> =
        root.get("required").and_then(|r| r.as_array()).cloned().unwrap_or_default();
    for field in ["apiVersion", "kind", "metadata"] {
        if !required.iter().any(|r| r == field) {
            required.push(field.into());
        }
    }
    root.insert("required".to_owned(), required.into());
    root.insert("additionalProperties".to_owned(), false.into());
    schema
}

fn close_objects(schema: &mut serde_json::Value) {
    match schema {
        serde_json::Value::Object(map) => {
            let open = map.contains_key("additionalProperties")
                || map.get("x-kubernetes-preserve-unknown-fields").and_then(serde_json::Value::as_bool) == Some(true);
            if map.contains_key("properties") && !open {
                map.insert("additionalProperties".to_owned(), false.into());
            }
            for (key, value) in map.iter_mut() {
                // `properties` maps names to schemas: recurse into each schema, not the map itself.
                if key == "properties" {
                    value.as_object_mut().into_iter().flat_map(|m| m.values_mut()).for_each(close_objects);
                } else {
                    close_objects(value);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(close_objects),
        _ => {}
    }
}

/// `docker stack config -c FILE` (the docker CLI; needs no daemon) in a clean
/// environment: only `PATH`, `HOME` and `env`, the placeholder values of the
/// file's `${NAME}` variables. It checks the v3 schema and types, not
/// references: also run [`compose_v2_config`] on a stack file.
pub fn docker_stack_config(path: impl AsRef<Path>, env: &[(&str, &str)]) -> Result<(), String> {
    stack_config(path.as_ref(), env).map(drop)
}

/// `docker stack config -c FILE` with `env`: what both stack checks run.
fn stack_config(path: &Path, env: &[(&str, &str)]) -> Result<Output, String> {
    let args = [OsStr::new("stack"), OsStr::new("config"), OsStr::new("-c"), path_arg(path)];
    check("docker", &args, Some(env))
}

/// Debian's `docker-compose` 1.29 (Compose v1): `-f FILE config -q`, in a
/// clean environment as for [`docker_stack_config`]. It rejects some valid
/// modern keys (top-level `name`, `develop`, `healthcheck.start_interval`).
pub fn compose_v1_config(path: impl AsRef<Path>, env: &[(&str, &str)]) -> Result<(), String> {
    let args = [OsStr::new("-f"), path_arg(path.as_ref()), OsStr::new("config"), OsStr::new("-q")];
    // Debian's, whatever else is called docker-compose on PATH.
    check(COMPOSE_V1, &args, Some(env)).map(drop)
}

/// Compose v2 (`docker-compose-v2`, 2.40.3): `-f FILE config -q`, in a clean
/// environment as for [`docker_stack_config`]. What Dokploy runs.
pub fn compose_v2_config(path: impl AsRef<Path>, env: &[(&str, &str)]) -> Result<(), String> {
    let args = [OsStr::new("-f"), path_arg(path.as_ref()), OsStr::new("config"), OsStr::new("-q")];
    check("docker-compose-v2", &args, Some(env)).map(drop)
}

/// The file as Compose v2 reads it with `env` (interpolated, normalised): `config --format json`.
pub fn compose_v2_resolved(path: impl AsRef<Path>, env: &[(&str, &str)]) -> Result<serde_json::Value, String> {
    let args =
        [OsStr::new("-f"), path_arg(path.as_ref()), OsStr::new("config"), OsStr::new("--format"), OsStr::new("json")];
    let out = check("docker-compose-v2", &args, Some(env))?;
    serde_json::from_slice(&out.stdout).map_err(|e| format!("compose config printed no JSON: {e}"))
}

/// The stack file as `docker stack deploy` reads it with `env` (interpolated): `docker stack config`.
pub fn docker_stack_resolved(path: impl AsRef<Path>, env: &[(&str, &str)]) -> Result<String, String> {
    let out = stack_config(path.as_ref(), env)?;
    String::from_utf8(out.stdout).map_err(|e| e.to_string())
}

/// `check-jsonschema --builtin-schema vendor.compose-spec FILE`: the
/// compose-spec JSON Schema, all errors at once; no interpolation, no
/// references.
pub fn compose_schema(path: impl AsRef<Path>) -> Result<(), String> {
    let args = [OsStr::new("--builtin-schema"), OsStr::new("vendor.compose-spec"), path_arg(path.as_ref())];
    check("check-jsonschema", &args, None).map(drop)
}

/// `promtool check rules FILE`. Also fails when the file holds no rule.
pub fn promtool_check_rules(path: impl AsRef<Path>) -> Result<(), String> {
    let args = [OsStr::new("check"), OsStr::new("rules"), path_arg(path.as_ref())];
    let (output, line) = run("promtool", &args, None)?;
    if !output.status.success() {
        return Err(report(&line, &output, "rejected"));
    }
    if printed(&output).contains("SUCCESS: 0 rules found") {
        return Err(report(&line, &output, "found no rule"));
    }
    Ok(())
}

/// `promtool test rules FILE`: a unit test file, whose `rule_files` are
/// relative to it.
pub fn promtool_test_rules(path: impl AsRef<Path>) -> Result<(), String> {
    let args = [OsStr::new("test"), OsStr::new("rules"), path_arg(path.as_ref())];
    check("promtool", &args, None).map(drop)
}

/// `kubectl kustomize DIR`: the built YAML.
pub fn kubectl_kustomize(dir: impl AsRef<Path>) -> Result<String, String> {
    let args = [OsStr::new("kustomize"), path_arg(dir.as_ref())];
    let output = check("kubectl", &args, None)?;
    String::from_utf8(output.stdout).map_err(|e| format!("kubectl kustomize printed non-UTF-8: {e}"))
}

/// `compose-lint check --fail-on low FILE`: fails on any finding.
pub fn compose_lint(path: impl AsRef<Path>) -> Result<(), String> {
    compose_lint_allowing(path, &[])
}

/// compose-lint, failing on any finding whose rule is not in `allowed`, a
/// list of `(rule id, why it is accepted)`, e.g.
/// `("CL-0019", "images are pinned by tag: the spec has no digests")`. Every
/// reason must be given, and every allowed rule must still be found (else the
/// allowance is stale).
pub fn compose_lint_allowing(path: impl AsRef<Path>, allowed: &[(&str, &str)]) -> Result<(), String> {
    if let Some((rule, _)) = allowed.iter().find(|(_, why)| why.trim().is_empty()) {
        return Err(format!("compose-lint: allowing {rule} needs a reason"));
    }
    let args =
        [OsStr::new("check"), OsStr::new("--fail-on"), OsStr::new("low"), OsStr::new("--format"), OsStr::new("json")];
    let mut args: Vec<&OsStr> = args.to_vec();
    args.push(path_arg(path.as_ref()));
    let (output, line) = run("compose-lint", &args, None)?;
    // Exit 0: nothing found; 1: findings; anything else: the file could not be linted.
    if !matches!(output.status.code(), Some(0 | 1)) {
        return Err(report(&line, &output, "could not lint"));
    }
    let json: serde_json::Value = serde_json::from_slice(&output.stdout)
        .map_err(|e| report(&line, &output, &format!("printed no JSON report ({e})")))?;
    let findings = json["findings"].as_array().cloned().unwrap_or_default();
    let mut unexplained = String::new();
    let mut seen: Vec<String> = Vec::new();
    for finding in &findings {
        if finding["suppressed"].as_bool() == Some(true) {
            continue;
        }
        let rule = finding["rule_id"].as_str().unwrap_or("?");
        seen.push(rule.to_owned());
        if !allowed.iter().any(|(id, _)| *id == rule) {
            let _ = writeln!(
                unexplained,
                "{}:{} {} {} [{}] {}",
                finding["file"].as_str().unwrap_or("?"),
                finding["line"],
                finding["severity"].as_str().unwrap_or("?"),
                rule,
                finding["service"].as_str().unwrap_or("-"),
                finding["message"].as_str().unwrap_or("")
            );
        }
    }
    if !unexplained.is_empty() {
        return Err(format!("{line}\nfindings neither fixed nor explained:\n{unexplained}"));
    }
    if output.status.code() == Some(1) && findings.is_empty() {
        return Err(report(&line, &output, "failed without a finding"));
    }
    let stale: Vec<&str> = allowed.iter().map(|(id, _)| *id).filter(|id| !seen.iter().any(|s| s == id)).collect();
    if !stale.is_empty() {
        return Err(format!("{line}\nallowed but not found (remove the allowance): {}", stale.join(", ")));
    }
    Ok(())
}

/// `checkov --framework kubernetes --skip-download --compact --quiet -f FILE`
/// (or `-d DIR`): installed only with `TOPO_CHECKOV=1 scripts/setup-validators`;
/// `Err` when it is missing. `skip` lists check ids (`CKV_K8S_…`) to skip.
pub fn checkov_kubernetes(path: impl AsRef<Path>, skip: &[&str]) -> Result<(), String> {
    let path = path.as_ref();
    let mut args: Vec<&OsStr> =
        ["--framework", "kubernetes", "--skip-download", "--compact", "--quiet"].into_iter().map(OsStr::new).collect();
    args.push(OsStr::new(if path.is_dir() { "-d" } else { "-f" }));
    args.push(path.as_os_str());
    let skip = skip.join(",");
    if !skip.is_empty() {
        args.push(OsStr::new("--skip-check"));
        args.push(OsStr::new(&skip));
    }
    check("checkov", &args, None).map(drop)
}

/// `(name, value)` pairs borrowed, as the checks of compose files with variables take them.
pub fn env_refs(vars: &[(String, String)]) -> Vec<(&str, &str)> {
    vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}
