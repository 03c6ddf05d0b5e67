//! The end-to-end lab seen from a test: three Docker Engines in network
//! namespaces (hostnames vps-1, vps-2, vps-3) forming one Swarm, started by
//! `scripts/lab up` (`scripts/e2e` does it). A lab that is not up fails the
//! test with the command to run; nothing here skips.
//!
//! Everything a test does goes through the docker CLI and Compose v2, the way
//! a user deploys what topo wrote.

#![allow(dead_code, clippy::unwrap_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use topo::model::{Phase, Probe, Service};

/// The lab's folder, as `scripts/lab` uses it.
pub fn lab_dir() -> PathBuf {
    std::env::var_os("TOPO_LAB_DIR").map_or_else(|| PathBuf::from("/var/lib/topo-lab"), PathBuf::from)
}

/// The lab's nodes: Swarm hostname → engine address.
pub const NODES: [&str; 3] = ["vps-1", "vps-2", "vps-3"];

/// The address of a node on the lab's bridge (what `docker swarm join` uses).
pub fn node_addr(node: &str) -> String {
    format!("10.231.0.1{}", node_number(node))
}

fn node_number(node: &str) -> &str {
    node.strip_prefix("vps-")
        .filter(|n| ["1", "2", "3"].contains(n))
        .unwrap_or_else(|| panic!("{node} is not a lab node"))
}

/// `DOCKER_HOST` for a node's engine.
pub fn docker_host(node: &str) -> String {
    format!("unix://{}/node-{}/docker.sock", lab_dir().display(), node_number(node))
}

/// The repository's root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Fails the test unless every engine answers; rejoins nodes an earlier test
/// took out of the Swarm (`scripts/lab up` is idempotent).
pub fn require_lab() {
    let state = |node: &str| {
        let out = Command::new("docker")
            .args(["-H", &docker_host(node), "info", "--format", "{{.Swarm.LocalNodeState}}"])
            .output();
        out.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()).unwrap_or_default()
    };
    if NODES.iter().all(|n| state(n) == "active") {
        ensure_base_images();
        return;
    }
    let up = Command::new(root().join("scripts/lab")).arg("up").output().unwrap();
    for node in NODES {
        let state = state(node);
        assert_eq!(
            state,
            "active",
            "the lab is not up ({node}: swarm state `{state}`): run `scripts/e2e`\n{}",
            String::from_utf8_lossy(&up.stderr)
        );
    }
}

/// The lab's base images as this checkout's `scripts/lab-images` makes them
/// (a no-op when they are current), once per test process.
fn ensure_base_images() {
    static BASE: std::sync::Once = std::sync::Once::new();
    BASE.call_once(|| {
        run(Command::new(root().join("scripts/lab-images")).arg("base"));
    });
}

/// A command's output; panics with everything it printed when it fails.
pub fn run(command: &mut Command) -> String {
    let out = output(command);
    assert!(out.status.success(), "{}", describe(command, &out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A command's output, whatever its exit status.
pub fn output(command: &mut Command) -> Output {
    command.stdin(Stdio::null()).output().unwrap_or_else(|e| panic!("{command:?}: cannot run: {e}"))
}

pub fn describe(command: &Command, out: &Output) -> String {
    format!(
        "{command:?} failed ({})\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        tail(&String::from_utf8_lossy(&out.stdout)),
        tail(&String::from_utf8_lossy(&out.stderr))
    )
}

/// The last lines of a long output, so a failing test stays readable.
fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let from = lines.len().saturating_sub(40);
    lines[from..].join("\n")
}

/// `docker -H <node> …`.
pub fn docker(node: &str) -> Command {
    let mut command = Command::new("docker");
    command.args(["-H", &docker_host(node)]);
    command
}

/// Compose v2, as the validators install it, talking to a node's engine.
pub fn compose(node: &str, project: &str, file: &Path) -> Command {
    let tool = std::env::var_os("TOPO_VALIDATORS")
        .map(|d| PathBuf::from(d).join("docker-compose-v2"))
        .filter(|p| p.exists())
        .unwrap_or_else(|| root().join(".venv/bin/docker-compose-v2"));
    let mut command = Command::new(tool);
    command.env("DOCKER_HOST", docker_host(node)).arg("-p").arg(project).arg("-f").arg(file);
    command
}

/// Polls `check` until it returns `Some`, at most `limit`; panics with `what` and the last state.
pub fn wait_for<T>(what: &str, limit: Duration, mut check: impl FnMut() -> Result<T, String>) -> T {
    let start = Instant::now();
    loop {
        match check() {
            Ok(value) => return value,
            Err(state) if start.elapsed() > limit => panic!("timed out after {limit:?} waiting for {what}: {state}"),
            Err(_) => std::thread::sleep(Duration::from_millis(500)),
        }
    }
}

/// The topo binary under test.
pub fn topo() -> Command {
    Command::new(env!("CARGO_BIN_EXE_topo"))
}

/// Compiles a spec with topo's library.
pub fn compile(spec: &Path) -> topo::Compiled {
    let bytes = fs_err::read(spec).unwrap();
    topo::compile(&bytes).unwrap_or_else(|d| panic!("{} does not compile: {d:?}", spec.display()))
}

/// What the lab builds for an image name.
#[derive(Debug, PartialEq, Eq)]
pub enum Standin {
    /// PostgreSQL with the official entrypoint's behaviour, PGDATA and uid:gid as the real image has them.
    Postgres { pgdata: &'static str, ids: &'static str },
    /// Redis with the official entrypoint's behaviour and the image's uid:gid.
    Redis { ids: &'static str },
    /// busybox httpd answering these ports and paths.
    Http { ports: BTreeMap<u16, BTreeSet<String>> },
}

/// The stand-in for an image, from what the services of the phase ask of it.
pub fn standin_for(image: &str, users: &[&Service]) -> Standin {
    let (repository, tag) = image.rsplit_once(':').filter(|(_, t)| !t.contains('/')).unwrap_or((image, "latest"));
    let name = repository.rsplit('/').next().unwrap_or(repository);
    if ["postgres", "pgvector", "postgis", "timescaledb"].contains(&name) {
        let major: String = tag.trim_start_matches("pg").chars().take_while(char::is_ascii_digit).collect();
        let pgdata = if major.parse::<u32>().is_ok_and(|m| m >= 18) {
            "/var/lib/postgresql/18/docker"
        } else {
            "/var/lib/postgresql/data"
        };
        // The Alpine images' postgres user is 70:70, the Debian ones' 999:999.
        let ids = if tag.contains("alpine") { "70:70" } else { "999:999" };
        return Standin::Postgres { pgdata, ids };
    }
    if ["redis", "valkey"].contains(&name) {
        // redis:*-alpine runs as 999:1000 (Alpine's `addgroup -S -g 1000 redis`), the Debian images as 999:999.
        return Standin::Redis { ids: if tag.contains("alpine") { "999:1000" } else { "999:999" } };
    }
    let mut ports: BTreeMap<u16, BTreeSet<String>> = BTreeMap::new();
    for service in users {
        for port in &service.ports {
            ports.entry(port.number).or_default();
        }
        for check in
            service.health.iter().flat_map(|h| [Some(&h.liveness), Some(&h.readiness), h.startup.as_ref()]).flatten()
        {
            if let Probe::Http { path, port } = &check.probe {
                ports.entry(*port).or_default().insert(path.clone());
            }
        }
    }
    Standin::Http { ports }
}

/// Builds, in every engine, an image of each name the phase uses.
pub fn build_images(phase: &Phase) {
    let mut by_image: BTreeMap<&str, Vec<&Service>> = BTreeMap::new();
    for service in phase.services.values() {
        by_image.entry(service.image.as_str()).or_default().push(service);
    }
    for (image, users) in by_image {
        build_image(image, &standin_for(image, &users));
    }
}

pub fn build_image(image: &str, standin: &Standin) {
    let script = root().join("scripts/lab-images");
    let mut command = Command::new(&script);
    match standin {
        Standin::Postgres { pgdata, ids } => command.args(["postgres", image, pgdata, ids]),
        Standin::Redis { ids } => command.args(["redis", image, ids]),
        Standin::Http { ports } => {
            command.args(["standin", image]);
            for (port, paths) in ports {
                command.arg(format!("{port}:{}", paths.iter().cloned().collect::<Vec<_>>().join(",")));
            }
            &mut command
        }
    };
    run(&mut command);
}

/// Renders one phase of a spec into `dir` with the topo binary; returns its stderr (warnings, notes).
pub fn render(spec: &Path, phase: u32, target: &str, dir: &Path) -> String {
    let mut command = topo();
    command
        .arg("render")
        .arg("--spec")
        .arg(spec)
        .args(["--phase", &phase.to_string(), "--target", target, "--out"])
        .arg(dir);
    let out = output(&mut command);
    assert!(out.status.success(), "{}", describe(&command, &out));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `topo plan --format json` of a spec.
pub fn plan_json(spec: &Path) -> serde_json::Value {
    let text = run(topo().arg("plan").arg("--spec").arg(spec).args(["--format", "json"]));
    serde_json::from_str(&text).unwrap()
}

/// Placeholder values for a spec's secrets: distinct, recognisable, never in a file topo writes.
pub fn secret_values(secrets: &[String]) -> Vec<(String, String)> {
    secrets
        .iter()
        .enumerate()
        .map(|(i, s)| (s.clone(), format!("e2e-{i}-{}-Xq7", s.to_lowercase().replace('_', ""))))
        .collect()
}

/// Every file under `dir`, with its text.
pub fn files_under(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs_err::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let text = String::from_utf8_lossy(&fs_err::read(&path).unwrap()).into_owned();
                found.push((path, text));
            }
        }
    }
    found
}

/// Asserts that no secret value appears in any file under `dir`.
pub fn assert_no_secret_in(dir: &Path, secrets: &[(String, String)]) {
    for (path, text) in files_under(dir) {
        for (name, value) in secrets {
            assert!(!text.contains(value.as_str()), "the value of {name} is in {}", path.display());
        }
    }
}

/// `docker inspect` of containers, as JSON.
pub fn inspect(node: &str, ids: &[String]) -> Vec<serde_json::Value> {
    if ids.is_empty() {
        return Vec::new();
    }
    let text = run(docker(node).arg("inspect").args(ids));
    serde_json::from_str(&text).unwrap()
}

/// The ids of a node's containers that carry a label (`key=value`).
pub fn containers_with(node: &str, label: &str) -> Vec<String> {
    run(docker(node).args(["ps", "-aq", "--no-trunc", "--filter", &format!("label={label}")]))
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// The lab's nodes that a phase names; panics when it names one the lab does not have.
pub fn phase_nodes(phase: &Phase) -> Vec<&str> {
    phase
        .nodes
        .keys()
        .map(|n| {
            assert!(NODES.contains(&n.as_str()), "phase {} names node {n}, which the lab does not have", phase.number);
            n.as_str()
        })
        .collect()
}

/// The lab's kernel has no IPsec (no ESP, no AES-GCM transform: `ip xfrm state
/// add … aead 'rfc4106(gcm(aes))'` fails), so an encrypted overlay network
/// drops every packet between nodes here. Before a stack is deployed on the
/// lab, this takes `encrypted` out of its networks' driver options, after
/// checking that topo wrote it where the phase asks for it. Returns the networks changed.
pub fn without_ipsec(stack_file: &Path) -> Vec<String> {
    let text = fs_err::read_to_string(stack_file).unwrap();
    let mut doc: serde_norway::Value = serde_norway::from_str(&text).unwrap();
    let mut changed = Vec::new();
    if let Some(networks) = doc.get_mut("networks").and_then(|n| n.as_mapping_mut()) {
        for (name, network) in networks.iter_mut() {
            let Some(opts) = network.get_mut("driver_opts").and_then(|o| o.as_mapping_mut()) else { continue };
            if opts.remove("encrypted").is_some() {
                changed.push(name.as_str().unwrap_or_default().to_string());
            }
        }
    }
    if !changed.is_empty() {
        fs_err::write(stack_file, serde_norway::to_string(&doc).unwrap()).unwrap();
    }
    changed
}
