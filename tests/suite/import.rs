//! `topo import`: every compose fixture imports to a spec that passes
//! `topo check`, renders to compose, Swarm and Kubernetes files the external
//! validators accept, and keeps each service's image, command, ports,
//! environment names, volumes and health check. Malformed files fail with a
//! position; secret values never appear anywhere; generated and mutated
//! compose files never make it panic.

// Helpers of a test binary: failing loudly, with the context, is their job.
#![allow(clippy::unwrap_used, clippy::panic)]

use crate::support::TOPO;
use crate::support::validators::{self, env_refs};
use topo::emit::yaml::Serialised as _;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use proptest::prelude::*;
use serde_norway::Value;
use topo::import::{Imported, Options, import};
use topo::spec::Target;
use validators::TempInput;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/compose")
}

/// Every importable fixture: `tests/fixtures/compose/*.yml`.
fn valid_fixtures() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs_err::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "{files:?}");
    files
}

fn options(project: &str) -> Options {
    Options {
        project: Some(project.to_owned()),
        base_dir: Some(fixtures()),
        file_name: "docker-compose.yml".to_owned(),
        ..Default::default()
    }
}

fn import_file(path: &Path) -> (Imported, String) {
    let imported = import(&fs_err::read(path).unwrap(), &options("demo"));
    let Some(spec) = imported.spec.clone() else {
        let messages: Vec<String> = imported.report.iter().map(|d| format!("{}: {}", d.code, d.message)).collect();
        panic!("{} did not import:\n{}", path.display(), messages.join("\n"));
    };
    (imported, spec)
}

fn compile(spec: &str) -> topo::Compiled {
    topo::compile(spec.as_bytes())
        .unwrap_or_else(|d| panic!("{spec}\n{:#?}", d.iter().map(|d| &d.message).collect::<Vec<_>>()))
}

/// One phase rendered for a target, with no error from the target.
fn render(compiled: &topo::Compiled, target: Target) -> topo::render::Rendered {
    let phase = compiled.model.phase(1).unwrap();
    let rendered = topo::render::render(&compiled.model, phase, target);
    let errors: Vec<&str> = rendered.diagnostics.iter().filter(|d| d.is_error()).map(|d| d.message.as_str()).collect();
    assert!(errors.is_empty(), "{target:?}: {errors:?}");
    rendered
}

/// Placeholder values for each `${NAME…}` interpolation in a rendered file.
fn placeholders(text: &str) -> Vec<(String, String)> {
    let mut names = BTreeSet::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i + 1 < bytes.len() {
        if bytes[i] == b'$' && bytes[i + 1] == b'$' {
            i += 2;
            continue;
        }
        if bytes[i] == b'$' && bytes[i + 1] == b'{' {
            let name: String = text[i + 2..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            names.insert(name);
        }
        i += 1;
    }
    names.into_iter().map(|n| (n, "placeholder".to_owned())).collect()
}

/// The compose, stack and Kubernetes files of an imported spec, through every validator.
fn validate_all(spec: &str) -> Result<(), String> {
    let compiled = compile(spec);
    let compose = render(&compiled, Target::Compose).stream();
    let vars = placeholders(&compose);
    let input = TempInput::new("docker-compose.yml", &compose)?;
    validators::compose_v2_config(input.path(), &env_refs(&vars))?;
    validators::compose_v1_config(input.path(), &env_refs(&vars))?;
    let stack = render(&compiled, Target::Swarm).stream();
    let vars = placeholders(&stack);
    let input = TempInput::new("stack.yml", &stack)?;
    validators::docker_stack_config(input.path(), &env_refs(&vars))?;
    validators::compose_v2_config(input.path(), &env_refs(&vars))?;
    let k8s = render(&compiled, Target::K8s).stream();
    let input = TempInput::new("k8s.yml", &k8s)?;
    validators::kubernetes_validate(input.path())
}

#[test]
fn every_fixture_imports_checks_renders_and_validates() {
    let mut failures = Vec::new();
    for path in valid_fixtures() {
        let (imported, spec) = import_file(&path);
        assert!(!imported.report.has_errors());
        // `topo check` as the CLI runs it: compile, then the fit of every phase.
        let compiled = compile(&spec);
        let fit = topo::plan::diagnostics(&topo::plan::plan(&compiled.model));
        assert!(!fit.has_errors(), "{}: {:?}", path.display(), fit.iter().map(|d| &d.message).collect::<Vec<_>>());
        if let Err(error) = validate_all(&spec) {
            failures.push(format!("{}:\n{error}", path.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The compose file as compose reads it: merges applied, `extends` in the same file followed.
fn compose_services(path: &Path) -> Vec<(String, Value)> {
    let mut doc: Value = serde_norway::from_str(&fs_err::read_to_string(path).unwrap()).unwrap();
    doc.apply_merge().unwrap();
    let services = doc.get("services").and_then(Value::as_mapping).unwrap().clone();
    let resolve = |name: &str| -> Value {
        let mut service = services.get(name).unwrap().clone();
        let mut depth = 0;
        while let Some(parent) = service.get("extends").and_then(Value::as_str).map(str::to_owned) {
            let base = services.get(parent.as_str()).unwrap().as_mapping().unwrap().clone();
            let own = service.as_mapping_mut().unwrap();
            own.remove("extends");
            for (k, v) in base {
                if !own.contains_key(&k) {
                    own.insert(k, v);
                }
            }
            depth += 1;
            assert!(depth < 10);
        }
        service
    };
    services.keys().map(|k| k.as_str().unwrap().to_owned()).map(|k| (k.clone(), resolve(&k))).collect()
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => String::new(),
    }
}

/// A command as argv, with compose's `$$` read as `$`.
fn argv(value: &Value) -> Vec<String> {
    let words = match value {
        Value::Sequence(items) => items.iter().map(text).collect(),
        other => shell_words::split(&text(other)).unwrap(),
    };
    words.into_iter().map(|w| w.replace("$$", "$")).collect()
}

fn env_names(service: &Value) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    match service.get("environment") {
        Some(Value::Mapping(map)) => names.extend(map.keys().map(text)),
        Some(Value::Sequence(items)) => {
            names.extend(items.iter().map(|i| text(i).split('=').next().unwrap_or_default().to_owned()))
        }
        _ => {}
    }
    let files: Vec<String> = match service.get("env_file") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Sequence(items)) => items.iter().map(|i| i.get("path").map_or_else(|| text(i), text)).collect(),
        _ => Vec::new(),
    };
    for file in files {
        if let Ok(contents) = fs_err::read_to_string(fixtures().join(file)) {
            for line in contents.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
                let line = line.strip_prefix("export ").unwrap_or(line);
                names.insert(line.split('=').next().unwrap_or_default().trim().to_owned());
            }
        }
    }
    names
}

/// Container paths of volumes (not tmpfs).
fn volume_targets(service: &Value) -> BTreeSet<String> {
    let mut targets = BTreeSet::new();
    for item in service.get("volumes").and_then(Value::as_sequence).into_iter().flatten() {
        match item {
            Value::String(s) => {
                let parts = colon_fields(s);
                targets.insert(if parts.len() == 1 { parts[0].clone() } else { parts[1].clone() });
            }
            other if other.get("type").and_then(Value::as_str) != Some("tmpfs") => {
                targets.insert(text(other.get("target").unwrap()));
            }
            _ => {}
        }
    }
    targets
}

/// A short volume's fields, split at the colons outside `${…}` (`${DATA:-./data}:/data`).
fn colon_fields(text: &str) -> Vec<String> {
    let (mut fields, mut field, mut depth) = (Vec::new(), String::new(), 0usize);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '$' if chars.peek() == Some(&'{') => depth += 1,
            '}' if depth > 0 => depth -= 1,
            ':' if depth == 0 => {
                fields.push(std::mem::take(&mut field));
                continue;
            }
            _ => {}
        }
        field.push(c);
    }
    fields.push(field);
    fields
}

/// Container ports of `ports` and `expose`.
fn container_ports(service: &Value) -> BTreeSet<u16> {
    let mut ports = BTreeSet::new();
    for item in service.get("ports").and_then(Value::as_sequence).into_iter().flatten() {
        let container = match item {
            Value::Mapping(_) => text(item.get("target").unwrap()),
            other => {
                let t = text(other);
                let t = t.split('/').next().unwrap_or_default().to_owned();
                t.rsplit(':').next().unwrap_or_default().to_owned()
            }
        };
        let (a, b) = container.split_once('-').unwrap_or((&container, &container));
        let (a, b): (u16, u16) = (a.parse().unwrap(), b.parse().unwrap());
        ports.extend(a..=b.min(a + 15));
    }
    for item in service.get("expose").and_then(Value::as_sequence).into_iter().flatten() {
        ports.insert(text(item).split('/').next().unwrap().parse().unwrap());
    }
    ports
}

/// The health check test in compose's list form, `$$` read as `$`; `None` when there is none or it is off.
fn health_test(service: &Value) -> Option<Vec<String>> {
    let check = service.get("healthcheck")?;
    if check.get("disable").and_then(Value::as_bool) == Some(true) {
        return None;
    }
    let test: Vec<String> = match check.get("test")? {
        Value::String(s) => vec!["CMD-SHELL".to_owned(), s.clone()],
        other => argv(other),
    };
    let test: Vec<String> = test.into_iter().map(|w| w.replace("$$", "$")).collect();
    (test.first().map(String::as_str) != Some("NONE")).then_some(test)
}

#[test]
fn round_trip_keeps_image_command_ports_env_volumes_and_health() {
    for path in valid_fixtures() {
        let (_, spec) = import_file(&path);
        let compiled = compile(&spec);
        let rendered: Value = serde_norway::from_str(&render(&compiled, Target::Compose).stream()).unwrap();
        let file = path.display();
        for (compose_name, original) in compose_services(&path) {
            let name = topo::import::service_name(&compose_name);
            let out =
                rendered.get("services").and_then(|s| s.get(&name)).unwrap_or_else(|| panic!("{file}: no `{name}`"));
            let spec_service = &compiled.spec.services[&name];
            if let Some(image) = original.get("image") {
                assert_eq!(text(out.get("image").unwrap()), text(image), "{file}: {name} image");
            }
            for key in ["command", "entrypoint"] {
                if let Some(command) = original.get(key) {
                    assert_eq!(argv(out.get(key).unwrap()), argv(command), "{file}: {name} {key}");
                }
            }
            // The rendered file holds every port (as `expose`), so the round trip is checked on it.
            let spec_ports: BTreeSet<u16> =
                spec_service.port.into_iter().chain(spec_service.ports.values().copied()).collect();
            let out_ports = container_ports(out);
            assert_eq!(out_ports, spec_ports, "{file}: {name} renders the spec's ports");
            assert!(container_ports(&original).is_subset(&out_ports), "{file}: {name} ports {out_ports:?}");
            let out_env: BTreeSet<String> = match out.get("environment") {
                Some(Value::Mapping(map)) => map.keys().map(text).collect(),
                _ => BTreeSet::new(),
            };
            let missing: Vec<String> = env_names(&original).into_iter().filter(|n| !out_env.contains(n)).collect();
            assert!(missing.is_empty(), "{file}: {name} environment lacks {missing:?}");
            let out_volumes = volume_targets(out);
            assert!(volume_targets(&original).is_subset(&out_volumes), "{file}: {name} volumes {out_volumes:?}");
            let out_test = health_test(out);
            assert_eq!(out_test, health_test(&original), "{file}: {name} health check");
        }
    }
}

#[test]
fn seed_import_snapshot() {
    let path = fixtures().join("dokploy-seed.yml");
    let mut options = options("finanzas");
    options.file_name = "docker-compose.yml".to_owned();
    let imported = import(&fs_err::read(&path).unwrap(), &options);
    let report = topo::diag::render_human(&imported.report, "docker-compose.yml", &imported.source, false);
    let spec = imported.spec.expect("imports");
    insta::assert_snapshot!(format!("==== topo.yaml ====\n{spec}==== report ====\n{report}"));
}

#[test]
fn secret_values_are_never_copied() {
    // (`postgres://finanzas:${DB_PASSWORD}@…` is no value: it refers to the secret, and each target fills it in.)
    let secrets = ["sk_live_not_a_real_key", "not-a-real-password"];
    for path in valid_fixtures() {
        let (imported, spec) = import_file(&path);
        let compiled = compile(&spec);
        let mut outputs = vec![
            spec.clone(),
            topo::diag::render_human(&imported.report, "f.yml", &imported.source, false),
            topo::diag::render_json(&imported.report, "f.yml", true),
        ];
        for target in [Target::Compose, Target::Swarm, Target::K8s] {
            outputs.push(render(&compiled, target).stream());
        }
        for output in &outputs {
            for secret in secrets {
                assert!(!output.contains(secret), "{}: `{secret}` leaked:\n{output}", path.display());
            }
        }
    }
    // A file that does not even parse: the line with the secret is masked in the snippet.
    let out = run(&["import", fixtures().join("malformed/secret-on-bad-line.yml").to_str().unwrap()], None);
    assert_eq!(out.0, Some(1));
    assert!(!out.2.contains("unclosed"), "{}", out.2);
}

#[test]
fn secret_looking_names_become_secrets() {
    let (_, spec) = import_file(&fixtures().join("long-syntax.yml"));
    let compiled = compile(&spec);
    let api = &compiled.spec.services["api"];
    for name in ["STRIPE_API_KEY", "SESSION_SECRET", "DB_PASSWORD", "JWT_SIGNING_KEY"] {
        assert!(api.secrets.contains(&name.to_owned()), "{name}: {:?}", api.secrets);
        assert!(compiled.spec.secrets.contains(&name.to_owned()));
    }
    assert_eq!(api.env["PRICE_TEMPLATE"].0, "$5 per month", "`$$` is compose's literal `$`");
    let expose = api.expose.as_ref().unwrap();
    assert_eq!((expose.host.as_str(), expose.path.as_deref()), ("shop.example.com", Some("/api")));
    assert_eq!(api.port, Some(8080));
    assert!(compiled.spec.services["db"].stateful == Some(true));
}

fn run(args: &[&str], stdin: Option<&str>) -> (Option<i32>, String, String) {
    let mut child = Command::new(TOPO)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut input = child.stdin.take().unwrap();
        input.write_all(stdin.unwrap_or_default().as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn malformed_files_exit_1_with_a_position() {
    let dir = fixtures().join("malformed");
    let mut files: Vec<PathBuf> = fs_err::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert!(files.len() >= 8);
    for file in files {
        let shown = file.to_str().unwrap();
        let (code, stdout, stderr) = run(&["import", shown], None);
        assert_eq!(code, Some(1), "{shown}: {stderr}");
        assert!(stdout.is_empty(), "{shown}: nothing on stdout");
        let located = stderr.lines().any(|l| {
            l.trim_start().strip_prefix("--> ").and_then(|rest| rest.strip_prefix(shown)).is_some_and(|pos| {
                let mut parts = pos.trim_start_matches(':').split(':');
                parts.next().is_some_and(|l| l.parse::<usize>().is_ok())
                    && parts.next().is_some_and(|c| c.parse::<usize>().is_ok())
            })
        });
        assert!(located, "{shown}: no file:line:col in\n{stderr}");
        assert!(!stderr.contains("panicked"), "{shown}: {stderr}");
    }
}

#[test]
fn cli_reads_stdin_writes_out_and_reports_json() {
    let compose = fs_err::read_to_string(fixtures().join("minimal.yml")).unwrap();
    let (code, stdout, _) = run(&["import", "-", "--project", "shop"], Some(&compose));
    assert_eq!(code, Some(0));
    assert!(stdout.contains("project: shop") && stdout.contains("image: nginx"), "{stdout}");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("topo.yaml");
    let fixture = fixtures().join("long-syntax.yml");
    let args = ["import", fixture.to_str().unwrap(), "--out", out.to_str().unwrap(), "--format", "json"];
    let (code, stdout, stderr) = run(&args, None);
    assert_eq!(code, Some(0), "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let diagnostics = report["diagnostics"].as_array().unwrap();
    assert!(diagnostics.iter().all(|d| d["line"].as_u64().is_some() && d["column"].as_u64().is_some()));
    assert!(diagnostics.iter().any(|d| d["code"] == "dropped"));
    let written = fs_err::read_to_string(&out).unwrap();
    assert!(written.contains("project: shop"), "the compose file's `name`");
    let (code, _, _) = run(&["check", "--spec", out.to_str().unwrap()], None);
    assert_eq!(code, Some(0));
    let (code, _, stderr) = run(&["import", "/nonexistent/compose.yml"], None);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("cannot read"), "{stderr}");
}

#[test]
fn output_is_deterministic_and_node_follows_the_flags() {
    let bytes = fs_err::read(fixtures().join("dokploy-seed.yml")).unwrap();
    let first = import(&bytes, &options("finanzas")).spec.unwrap();
    assert_eq!(first, import(&bytes, &options("finanzas")).spec.unwrap());
    let mut sized = options("finanzas");
    sized.cpu = Some(topo::spec::Cpu::parse("8").unwrap());
    sized.memory = Some(topo::spec::Memory::parse("32Gi").unwrap());
    let spec = import(&bytes, &sized).spec.unwrap();
    assert!(spec.contains("vps-1: { role: manager, cpu: 8, memory: 32Gi }"), "{spec}");
    let mut tiny = options("finanzas");
    tiny.memory = Some(topo::spec::Memory::parse("3Gi").unwrap());
    let imported = import(&bytes, &tiny);
    assert!(imported.spec.is_none());
    assert!(imported.report.iter().any(|d| d.code == "node-too-small"));
}

// ---- robustness: generated and mutated compose files ----

fn arb_name() -> impl Strategy<Value = String> {
    "[a-zA-Z][a-zA-Z0-9_.-]{0,12}"
}

fn arb_env_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9 ._:/@,#-]{0,20}",
        Just("${VAR}".to_owned()),
        Just("${VAR:-x}".to_owned()),
        Just("$$literal".to_owned()),
        Just("postgres://u:p@db/x".to_owned()),
        Just("true".to_owned()),
        Just("0123".to_owned()),
    ]
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

prop_compose! {
    fn arb_service()(
        image in prop_oneof![Just(None), "[a-z]{1,8}(:[0-9]\\.[0-9]{1,2})?".prop_map(Some)],
        ports in prop::collection::vec((1u16..65535, prop::bool::ANY, prop::bool::ANY), 0..4),
        env in prop::collection::btree_map("[A-Z][A-Z_]{0,10}", arb_env_value(), 0..5),
        env_list in prop::bool::ANY,
        volumes in prop::collection::vec(("[a-z_]{1,8}", "/[a-z]{1,8}(/[a-z]{1,5})?", 0u8..4), 0..3),
        health in 0u8..6,
        replicas in 0u32..4,
        cpus in prop_oneof![Just(None), (1u32..4000).prop_map(Some)],
        memory in prop_oneof![Just(None), (1u32..4096).prop_map(Some)],
        command in prop_oneof![Just(None), "[a-z]{1,6}( -[a-z]| [a-z0-9$]{1,6}){0,3}".prop_map(Some)],
        host in prop_oneof![Just(None), "[a-z]{1,8}\\.(com|io)".prop_map(Some), Just(Some("${DOMAIN}".to_owned()))],
        user in prop_oneof![Just(None), Just(Some("1000:1000".to_owned())), Just(Some("node".to_owned())), Just(Some("0".to_owned()))],
        restart in prop_oneof![Just("no"), Just("always"), Just("unless-stopped")],
    ) -> String {
        let mut s = String::new();
        match image {
            Some(image) => s.push_str(&format!("    image: {}\n", quote(&image))),
            None => s.push_str("    build: .\n"),
        }
        if let Some(command) = command {
            s.push_str(&format!("    command: {}\n", quote(&command)));
        }
        if !ports.is_empty() {
            s.push_str("    ports:\n");
            for (port, published, long) in ports {
                match (long, published) {
                    (true, true) => s.push_str(&format!("      - {{ target: {port}, published: \"{port}\" }}\n")),
                    (true, false) => s.push_str(&format!("      - {{ target: {port} }}\n")),
                    (false, true) => s.push_str(&format!("      - \"{port}:{port}\"\n")),
                    (false, false) => s.push_str(&format!("      - {port}\n")),
                }
            }
        }
        if !env.is_empty() {
            s.push_str("    environment:\n");
            for (k, v) in env {
                if env_list {
                    s.push_str(&format!("      - {}\n", quote(&format!("{k}={v}"))));
                } else {
                    s.push_str(&format!("      {k}: {}\n", quote(&v)));
                }
            }
        }
        if !volumes.is_empty() {
            s.push_str("    volumes:\n");
            for (name, target, kind) in volumes {
                match kind {
                    0 => s.push_str(&format!("      - {name}:{target}\n")),
                    1 => s.push_str(&format!("      - ./{name}:{target}:ro\n")),
                    2 => s.push_str(&format!("      - {target}\n")),
                    _ => s.push_str(&format!("      - {{ type: tmpfs, target: {target} }}\n")),
                }
            }
        }
        match health {
            0 => s.push_str("    healthcheck: { test: [\"CMD\", \"true\"], interval: 5s }\n"),
            1 => s.push_str("    healthcheck: { test: \"exit 0\", retries: 2, timeout: 1m }\n"),
            2 => s.push_str("    healthcheck: { test: [\"NONE\"] }\n"),
            3 => s.push_str("    healthcheck: { disable: true }\n"),
            _ => {}
        }
        s.push_str(&format!("    restart: {}\n", quote(restart)));
        if let Some(user) = user {
            s.push_str(&format!("    user: {}\n", quote(&user)));
        }
        s.push_str(&format!("    deploy:\n      replicas: {replicas}\n"));
        if cpus.is_some() || memory.is_some() {
            s.push_str("      resources:\n        limits:\n");
            if let Some(c) = cpus {
                s.push_str(&format!("          cpus: \"{}.{:03}\"\n", c / 1000, c % 1000));
            }
            if let Some(m) = memory {
                s.push_str(&format!("          memory: {m}m\n"));
            }
        }
        if let Some(host) = host {
            s.push_str(&format!("    labels:\n      - \"traefik.http.routers.r.rule=Host(`{host}`)\"\n"));
        }
        s
    }
}

prop_compose! {
    fn arb_compose()(
        services in prop::collection::btree_map(arb_name(), arb_service(), 1..5),
        deps in prop::collection::vec((0usize..5, 0usize..5, 0u8..3), 0..5),
        version in prop::bool::ANY,
    ) -> String {
        let names: Vec<&String> = services.keys().collect();
        let mut s = if version { "version: \"3.8\"\n".to_owned() } else { String::new() };
        s.push_str("services:\n");
        for (i, (name, body)) in services.iter().enumerate() {
            s.push_str(&format!("  {}:\n{body}", quote(name)));
            let mine: Vec<(usize, u8)> = deps.iter().filter(|(a, _, _)| *a == i).map(|(_, b, c)| (*b, *c)).collect();
            if !mine.is_empty() {
                s.push_str("    depends_on:\n");
                let mut seen = BTreeSet::new();
                for (b, c) in mine {
                    let target = names[b % names.len()];
                    if seen.insert(target) {
                        let condition = ["service_started", "service_healthy", "service_completed_successfully"][usize::from(c)];
                        s.push_str(&format!("      {}: {{ condition: {condition} }}\n", quote(target)));
                    }
                }
            }
        }
        s
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// A random but valid compose file always imports, and its spec compiles
    /// and renders to all three targets without an error.
    #[test]
    fn generated_compose_files_import(compose in arb_compose()) {
        let imported = import(compose.as_bytes(), &options("gen"));
        let errors: Vec<String> = imported.report.iter().filter(|d| d.is_error()).map(|d| format!("{}: {}", d.code, d.message)).collect();
        prop_assert!(errors.is_empty(), "{compose}\n{errors:?}");
        let spec = imported.spec.unwrap();
        let compiled = compile(&spec);
        for target in [Target::Compose, Target::Swarm, Target::K8s] {
            render(&compiled, target);
        }
    }
}

/// A handful of generated files also go through the external validators.
#[test]
fn generated_compose_files_pass_the_validators() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]);
    let mut runner = TestRunner::new_with_rng(Config::default(), rng);
    let mut failures = Vec::new();
    for _ in 0..12 {
        let compose = arb_compose().new_tree(&mut runner).unwrap().current();
        let spec = import(compose.as_bytes(), &options("gen")).spec.unwrap();
        if let Err(error) = validate_all(&spec) {
            failures.push(format!("{compose}\n{error}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// A tiny deterministic generator (xorshift), so the mutations are the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self, below: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % below.max(1) as u64) as usize
    }
}

/// Mutated fixtures (lines dropped, doubled, swapped, truncated, bytes changed)
/// never panic, and whatever imports is a valid spec (import checks it itself).
#[test]
fn mutated_fixtures_never_panic() {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let noise =
        [":", "-", " ", "\t", "{", "[", "\"", "'", "&a", "*a", "<<", "\n", "${", "$$", "#", "!tag", "\u{0}", "é"];
    let mut imported_ok = 0;
    for path in valid_fixtures() {
        let original = fs_err::read_to_string(&path).unwrap();
        for _ in 0..300 {
            let mut lines: Vec<String> = original.lines().map(str::to_owned).collect();
            for _ in 0..1 + rng.next(3) {
                let i = rng.next(lines.len());
                match rng.next(6) {
                    0 if lines.len() > 1 => {
                        lines.remove(i);
                    }
                    1 => {
                        let line = lines[i].clone();
                        lines.insert(i, line);
                    }
                    2 => {
                        let j = rng.next(lines.len());
                        lines.swap(i, j);
                    }
                    3 => {
                        let line = &mut lines[i];
                        let cut = line
                            .char_indices()
                            .map(|(k, _)| k)
                            .nth(rng.next(line.chars().count() + 1))
                            .unwrap_or(line.len());
                        line.truncate(cut);
                    }
                    _ => {
                        let line = &mut lines[i];
                        let at = line
                            .char_indices()
                            .map(|(k, _)| k)
                            .nth(rng.next(line.chars().count() + 1))
                            .unwrap_or(line.len());
                        line.insert_str(at, noise[rng.next(noise.len())]);
                    }
                }
            }
            let text = lines.join("\n");
            let imported = import(text.as_bytes(), &options("fuzz"));
            if let Some(spec) = imported.spec {
                assert!(topo::compile(spec.as_bytes()).is_ok(), "{text}");
                imported_ok += 1;
            } else {
                assert!(
                    imported.report.iter().any(|d| d.is_error() && d.span.is_some()),
                    "{text}: an error with a position"
                );
            }
        }
    }
    assert!(imported_ok > 100, "most mutations still import ({imported_ok})");
}

/// What importing one fixture gives: the spec (or none) and the report, as a reviewer reads them.
fn import_text(path: &Path) -> String {
    let mut options = options("demo");
    options.base_dir = path.parent().map(Path::to_path_buf);
    options.file_name = path.file_name().unwrap().to_str().unwrap().to_owned();
    let imported = import(&fs_err::read(path).unwrap(), &options);
    let report = topo::diag::render_human(&imported.report, &options.file_name, &imported.source, false);
    let spec = imported.spec.as_deref().unwrap_or("(none: the file cannot be imported)\n");
    format!("==== topo.yaml ====\n{spec}==== report ====\n{report}")
}

/// Beside every compose fixture (tests/fixtures/compose, its malformed/ and
/// tests/fixtures/compose-corpus) lies `<name>.expected`: the spec and report
/// that `topo import` makes of it, reviewed like a snapshot. `TOPO_BLESS=1`
/// rewrites them; otherwise any difference, or a missing file, fails.
#[test]
fn every_compose_fixture_imports_to_the_output_beside_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let bless = std::env::var_os("TOPO_BLESS").is_some_and(|v| v == "1");
    let mut files = Vec::new();
    for dir in ["compose", "compose/malformed", "compose-corpus"] {
        for path in fs_err::read_dir(root.join(dir)).unwrap().map(|e| e.unwrap().path()) {
            if path.extension().is_some_and(|e| e == "yml" || e == "yaml") {
                files.push(path);
            }
        }
    }
    files.sort();
    assert!(files.len() > 80, "only {} fixtures", files.len());
    let mut differ = Vec::new();
    for path in &files {
        let actual = import_text(path);
        let expected_path = path.with_extension("expected");
        if bless {
            fs_err::write(&expected_path, &actual).unwrap();
            continue;
        }
        match fs_err::read_to_string(&expected_path) {
            Ok(expected) if expected == actual => {}
            Ok(expected) => {
                let line = expected.lines().zip(actual.lines()).position(|(a, b)| a != b).unwrap_or(0) + 1;
                differ.push(format!("{}: differs from line {line}", expected_path.display()));
            }
            Err(_) => differ.push(format!("{}: missing", expected_path.display())),
        }
    }
    assert!(differ.is_empty(), "import output changed (TOPO_BLESS=1 rewrites, then review):\n{}", differ.join("\n"));
}
