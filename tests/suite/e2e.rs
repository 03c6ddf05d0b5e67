//! End-to-end: what topo writes, deployed on real engines (the lab of
//! `scripts/lab`: three Docker Engines in one Swarm). Run with `scripts/e2e`,
//! which starts the lab and runs this binary (`--features e2e`).
//!
//! - every compose phase of the repository's specs: `docker compose up --wait`,
//!   healthy, started in dependency order, secrets only from the environment,
//!   PostgreSQL logins, data surviving `down` and `up`;
//! - every Swarm phase: `docker stack deploy` converges, every task on a node
//!   its constraints allow, services reach each other across nodes;
//! - a rolling update that never stops answering; a drain of each node against
//!   the plan's N+1; verdicts never more optimistic than the scheduler;
//! - the plan's migration from compose to Swarm, run as printed, with its rows.

#![allow(clippy::unwrap_used, clippy::panic)]

use crate::support::lab;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use lab::{Standin, docker, run, wait_for};
use topo::model::{Model, Phase, Service};
use topo::spec::Target;

/// The specs the lab deploys: the shipped ones, the examples, and the lab's own
/// (sized to its nodes: 2 cpu, 23.5 GiB each).
fn e2e_specs() -> Vec<PathBuf> {
    let mut specs = Vec::new();
    for dir in ["specs", "examples", "tests/fixtures/e2e"] {
        for entry in fs_err::read_dir(lab::root().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml") {
                specs.push(path);
            }
        }
    }
    specs.sort();
    specs
}

fn phases_of(target: Target) -> Vec<(PathBuf, Model, u32)> {
    let mut found = Vec::new();
    for spec in e2e_specs() {
        let model = lab::compile(&spec).model;
        for phase in model.phases.iter().filter(|p| p.target == target) {
            found.push((spec.clone(), model.clone(), phase.number));
        }
    }
    found
}

fn name_of(spec: &Path) -> String {
    spec.file_stem().unwrap().to_string_lossy().replace(['.', '_'], "-")
}

// ---------------------------------------------------------------- compose

/// The network Dokploy creates on its server and every compose file joins.
fn ensure_dokploy_network() {
    let exists = lab::output(docker("vps-1").args(["network", "inspect", "dokploy-network"])).status.success();
    if !exists {
        run(docker("vps-1").args(["network", "create", "--driver", "overlay", "--attachable", "dokploy-network"]));
    }
}

struct ComposeRun<'a> {
    project: String,
    file: PathBuf,
    secrets: Vec<(String, String)>,
    phase: &'a Phase,
}

impl ComposeRun<'_> {
    fn client<'s>(&'s self, service: &'s Service) -> Client<'s> {
        Client {
            node: "vps-1",
            network: format!("{}_default", self.project),
            image: service.image.as_str(),
            host: &service.name,
        }
    }

    fn command(&self) -> std::process::Command {
        let mut command = lab::compose("vps-1", &self.project, &self.file);
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("DOCKER_HOST", lab::docker_host("vps-1"));
        command.envs(self.secrets.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        command
    }

    fn up(&self) {
        let mut up = self.command();
        up.args(["up", "--detach", "--wait", "--wait-timeout", "240", "--pull", "never"]);
        let out = lab::output(&mut up);
        if !out.status.success() {
            let ps = lab::output(self.command().args(["ps", "--all"]));
            let logs = lab::output(self.command().args(["logs", "--tail", "15"]));
            panic!(
                "{}\n--- compose ps\n{}\n--- compose logs\n{}",
                lab::describe(&up, &out),
                String::from_utf8_lossy(&ps.stdout),
                String::from_utf8_lossy(&logs.stdout)
            );
        }
    }

    fn down(&self, volumes: bool) {
        let mut down = self.command();
        down.args(["down", "--timeout", "20"]);
        if volumes {
            down.arg("--volumes");
        }
        run(&mut down);
    }

    /// The containers of one service, inspected.
    fn containers(&self, service: &str) -> Vec<serde_json::Value> {
        let ids = lab::containers_with("vps-1", &format!("com.docker.compose.project={}", self.project));
        lab::inspect("vps-1", &ids)
            .into_iter()
            .filter(|c| c["Config"]["Labels"]["com.docker.compose.service"] == service)
            .collect()
    }
}

/// A failing test leaves nothing running for the next one.
impl Drop for ComposeRun<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let _ = lab::output(self.command().args(["down", "--volumes", "--timeout", "5"]));
        }
    }
}

impl Drop for Stack<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let _ = lab::output(docker("vps-1").args(["stack", "rm", &self.name]));
        }
    }
}

fn compose_replicas(service: &Service) -> usize {
    if service.is_global() { 1 } else { service.replicas() as usize }
}

/// Every service has its replicas running, and healthy where it has a check.
fn assert_running_and_healthy(run: &ComposeRun) {
    for service in run.phase.services.values() {
        let containers = run.containers(&service.name);
        assert_eq!(containers.len(), compose_replicas(service), "{}: {} containers", service.name, containers.len());
        for c in &containers {
            assert_eq!(c["State"]["Status"], "running", "{} is {}", c["Name"], c["State"]["Status"]);
            if !c["State"]["Health"].is_null() {
                assert_eq!(c["State"]["Health"]["Status"], "healthy", "{}: {}", c["Name"], c["State"]["Health"]);
            }
        }
    }
}

/// Each secret a service uses is in its environment with the deploy's value.
/// Each secret is in the environment with the deploy's value, and so is each env entry that
/// names secrets (`DB_URL: postgres://app:${DB_PASSWORD}@db/app`), filled in. Returns how many
/// of those entries it checked.
fn assert_secrets_arrive(run: &ComposeRun) -> usize {
    let mut filled = 0;
    let value = |name: &str| run.secrets.iter().find(|(k, _)| k == name).unwrap().1.clone();
    for service in run.phase.services.values() {
        for c in run.containers(&service.name) {
            let env: Vec<&str> = c["Config"]["Env"].as_array().unwrap().iter().filter_map(|v| v.as_str()).collect();
            for secret in &service.secrets {
                let value = value(secret);
                assert!(
                    env.contains(&format!("{secret}={value}").as_str()),
                    "{}: {secret} did not arrive",
                    service.name
                );
            }
            for (key, arg) in &service.secret_env {
                let expected = format!("{key}={}", arg.render(str::to_owned, value));
                assert!(env.contains(&expected.as_str()), "{}: {key} did not arrive as {expected}", service.name);
                filled += 1;
            }
        }
    }
    filled
}

/// A command that names a secret (`${NAME}`) reaches the container with the deploy's value in its
/// place, and the rest of each argument as the spec wrote it.
fn assert_command_secrets_arrive(run: &ComposeRun) -> usize {
    let mut checked = 0;
    for service in run.phase.services.values() {
        for (field, args) in [("Cmd", &service.command), ("Entrypoint", &service.entrypoint)] {
            let Some(args) = args.as_ref().filter(|a| a.iter().any(|a| a.secrets().next().is_some())) else { continue };
            let value = |name: &str| run.secrets.iter().find(|(k, _)| k == name).unwrap().1.clone();
            let expected: Vec<String> = args.iter().map(|a| a.render(str::to_owned, value)).collect();
            for c in run.containers(&service.name) {
                let got: Vec<String> = serde_json::from_value(c["Config"][field].clone()).unwrap();
                assert_eq!(got, expected, "{}: its {field} with the secrets' values", service.name);
                checked += 1;
            }
        }
    }
    checked
}

/// Docker's event log: `(time in ns, container name, status)` of starts and health changes.
fn events_since(since: &str) -> Vec<(i64, String, String)> {
    let until = run(docker("vps-1").args(["info", "--format", "{{.SystemTime}}"]));
    let text = run(docker("vps-1").args([
        "events",
        "--since",
        since,
        "--until",
        until.trim(),
        "--filter",
        "type=container",
        "--format",
        "{{.TimeNano}} {{.Actor.Attributes.name}} {{.Status}}",
    ]));
    text.lines()
        .filter_map(|l| {
            let mut parts = l.splitn(3, ' ');
            Some((parts.next()?.parse().ok()?, parts.next()?.to_string(), parts.next()?.to_string()))
        })
        .collect()
}

/// A dependant starts only after each dependency it waits for is healthy.
fn assert_started_in_order(run: &ComposeRun, since: &str) {
    let events = events_since(since);
    let first =
        |name: &str, status: &str| events.iter().filter(|(_, n, s)| n == name && s == status).map(|(t, _, _)| *t).min();
    for service in run.phase.services.values() {
        for dependency in &service.depends_on {
            let Some(dep) = run.phase.services.get(dependency) else { continue };
            if dep.health.is_none() {
                continue;
            }
            for d in run.containers(dependency) {
                let d_name = d["Name"].as_str().unwrap().trim_start_matches('/').to_string();
                let healthy =
                    first(&d_name, "health_status: healthy").unwrap_or_else(|| panic!("{d_name} never turned healthy"));
                for c in run.containers(&service.name) {
                    let name = c["Name"].as_str().unwrap().trim_start_matches('/').to_string();
                    let started = first(&name, "start").unwrap_or_else(|| panic!("no start event for {name}"));
                    assert!(started >= healthy, "{name} started before its dependency {d_name} was healthy");
                }
            }
        }
    }
}

/// The value a service's environment gives a variable: its own env, then the spec's.
fn env_value(model: &Model, service: &Service, key: &str, secrets: &[(String, String)]) -> Option<String> {
    if service.secrets.iter().any(|s| s == key) {
        return secrets.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    }
    if let Some(arg) = service.secret_env.get(key) {
        let value = |name: &str| secrets.iter().find(|(k, _)| k == name).unwrap().1.clone();
        return Some(arg.render(str::to_owned, value));
    }
    service.env.get(key).or_else(|| model.env.get(key)).cloned()
}

struct Postgres {
    user: String,
    db: String,
    password: String,
}

fn postgres_login(model: &Model, service: &Service, secrets: &[(String, String)]) -> Postgres {
    let user = env_value(model, service, "POSTGRES_USER", secrets).unwrap_or_else(|| "postgres".into());
    let db = env_value(model, service, "POSTGRES_DB", secrets).unwrap_or_else(|| user.clone());
    let password =
        env_value(model, service, "POSTGRES_PASSWORD", secrets).expect("a postgres service without POSTGRES_PASSWORD");
    Postgres { user, db, password }
}

/// Where `psql` connects from: a throwaway container of the database's image on
/// the deployment's network, as another service would (inside the database's own
/// container, the official image trusts 127.0.0.1 without a password).
struct Client<'a> {
    node: &'a str,
    network: String,
    image: &'a str,
    host: &'a str,
}

/// `psql` over the network with a password; `Err` holds what psql said.
fn psql(client: &Client, login: &Postgres, password: &str, sql: &str) -> Result<String, String> {
    let url = format!("postgresql://{}@{}:5432/{}", login.user, client.host, login.db);
    let out = lab::output(
        docker(client.node).args(["run", "--rm", "--network", &client.network, "--entrypoint", "psql"]).args([
            "--env",
            &format!("PGPASSWORD={password}"),
            client.image,
            &url,
            "-v",
            "ON_ERROR_STOP=1",
            "-tAc",
            sql,
        ]),
    );
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn is_postgres(service: &Service) -> bool {
    matches!(lab::standin_for(service.image.as_str(), &[service]), Standin::Postgres { .. })
}

/// Writes a marker into each volume of each stateful service: rows for postgres, a file otherwise.
fn write_markers(model: &Model, run: &ComposeRun) {
    for service in run.phase.services.values().filter(|s| !s.volumes.is_empty()) {
        let c = run.containers(&service.name);
        let id = c[0]["Id"].as_str().unwrap();
        if is_postgres(service) {
            let login = postgres_login(model, service, &run.secrets);
            psql(
                &run.client(service),
                &login,
                &login.password,
                "create table e2e_marker (n int); insert into e2e_marker select generate_series(1, 1000)",
            )
            .unwrap_or_else(|e| panic!("{}: {e}", service.name));
        } else {
            for volume in service.volumes.iter().filter(|v| !v.read_only) {
                // As the volume's owner, which the service's process runs as (root in the
                // container has no DAC_OVERRIDE under `cap_drop: [ALL]`).
                let owner = lab::run(docker("vps-1").args(["exec", id, "stat", "-c", "%u:%g", &volume.mount]));
                let write = format!("echo e2e > '{}/.topo-e2e'", volume.mount);
                lab::run(docker("vps-1").args(["exec", "--user", owner.trim(), id, "sh", "-c", &write]));
            }
        }
    }
}

fn assert_markers(model: &Model, run: &ComposeRun) {
    for service in run.phase.services.values().filter(|s| !s.volumes.is_empty()) {
        let c = run.containers(&service.name);
        let id = c[0]["Id"].as_str().unwrap();
        if is_postgres(service) {
            let login = postgres_login(model, service, &run.secrets);
            let count = psql(&run.client(service), &login, &login.password, "select count(*) from e2e_marker").unwrap();
            assert_eq!(count, "1000", "{}: rows after down and up", service.name);
        } else {
            for volume in service.volumes.iter().filter(|v| !v.read_only) {
                let text = lab::run(docker("vps-1").args(["exec", id, "cat", &format!("{}/.topo-e2e", volume.mount)]));
                assert_eq!(text.trim(), "e2e", "{}: the file in {} after down and up", service.name, volume.mount);
            }
        }
    }
}

/// The volumes services mount `from` another, as `(sharer, mount, owner, owner's mount)`.
fn shared_mounts(phase: &Phase) -> Vec<(&Service, &str, &Service, &str)> {
    let mut out = Vec::new();
    for service in phase.services.values() {
        for volume in service.volumes.iter() {
            let Some(owner) = volume.from.as_ref().map(|o| &phase.services[&o.service]) else { continue };
            let theirs = owner.volumes.iter().find(|v| v.name == volume.name).expect("the owner declares it");
            out.push((service, volume.mount.as_str(), owner, theirs.mount.as_str()));
        }
    }
    out
}

/// A file written into a volume by its owner's container is there in the
/// container of each service mounting it `from` the owner. `containers` gives
/// each service's `(node, container id)`. Returns the mounts checked.
fn assert_volumes_shared(phase: &Phase, containers: impl Fn(&str) -> Vec<(String, String)>) -> usize {
    let shared = shared_mounts(phase);
    for (service, mount, owner, owner_mount) in &shared {
        let (owner_node, owner_id) = containers(&owner.name).into_iter().next().expect("the owner runs");
        let token = format!("shared-{}-{}", service.name, std::process::id());
        // As the mount's owner: root in the container has no DAC_OVERRIDE under `cap_drop: [ALL]`.
        let who = lab::run(docker(&owner_node).args(["exec", &owner_id, "stat", "-c", "%u:%g", owner_mount]));
        let write = format!("echo {token} > '{owner_mount}/.topo-e2e-shared'");
        lab::run(docker(&owner_node).args(["exec", "--user", who.trim(), &owner_id, "sh", "-c", &write]));
        let theirs = containers(&service.name);
        assert!(!theirs.is_empty(), "{} runs", service.name);
        for (node, id) in theirs {
            assert_eq!(node, owner_node, "{} runs beside {}, whose volume it mounts", service.name, owner.name);
            let text = lab::run(docker(&node).args(["exec", &id, "cat", &format!("{mount}/.topo-e2e-shared")]));
            assert_eq!(
                text.trim(),
                token,
                "{} reads at {mount} what {} wrote at {owner_mount}",
                service.name,
                owner.name
            );
        }
    }
    shared.len()
}

/// PostgreSQL accepts the password from the environment, and only that one.
fn assert_postgres_logins(model: &Model, run: &ComposeRun) {
    for service in run.phase.services.values().filter(|s| is_postgres(s)) {
        let login = postgres_login(model, service, &run.secrets);
        let client = run.client(service);
        assert_eq!(
            psql(&client, &login, &login.password, "select 1").unwrap_or_else(|e| panic!("{}: {e}", service.name)),
            "1"
        );
        let refused = psql(&client, &login, "not-the-password", "select 1").unwrap_err();
        assert!(refused.contains("password authentication failed"), "{}: {refused}", service.name);
    }
}

#[test]
fn compose_phases_come_up_healthy_in_order_with_their_data() {
    lab::require_lab();
    ensure_dokploy_network();
    let phases = phases_of(Target::Compose);
    assert!(phases.iter().any(|(s, _, _)| s.ends_with("specs/finanzas.yaml")), "finanzas has a compose phase");
    let mut commands_with_secrets = 0;
    let mut shared_mounts = 0;
    for (spec, model, number) in &phases {
        let phase = model.phase(*number).unwrap();
        eprintln!("e2e: compose up {} phase {number}", spec.display());
        lab::build_images(phase);
        let dir = tempfile::tempdir().unwrap();
        lab::render(spec, *number, "compose", dir.path());
        let secrets = lab::secret_values(&model.secrets);
        lab::assert_no_secret_in(dir.path(), &secrets);
        let run = ComposeRun {
            project: format!("e2e-{}-{number}", name_of(spec)),
            file: dir.path().join("docker-compose.yml"),
            secrets,
            phase,
        };
        run.down(true);
        let since = lab::run(docker("vps-1").args(["info", "--format", "{{.SystemTime}}"])).trim().to_string();
        run.up();
        assert_running_and_healthy(&run);
        assert_started_in_order(&run, &since);
        assert_secrets_arrive(&run);
        commands_with_secrets += assert_command_secrets_arrive(&run);
        assert_postgres_logins(model, &run);
        write_markers(model, &run);
        run.down(false);
        run.up();
        assert_running_and_healthy(&run);
        assert_markers(model, &run);
        shared_mounts += assert_volumes_shared(phase, |service| {
            let ids = run.containers(service).iter().map(|c| c["Id"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
            ids.into_iter().map(|id| ("vps-1".to_owned(), id)).collect()
        });
        run.down(true);
    }
    assert!(commands_with_secrets > 0, "lab-secret-args.yaml starts a container with a secret in its command");
    assert!(shared_mounts > 0, "lab-shared-volume.yaml mounts a volume of another service");
}

// ---------------------------------------------------------------- swarm

/// Makes the Swarm look like a phase: its nodes active and labelled by the
/// commands topo printed, the lab's other nodes drained, old labels gone.
fn prepare_swarm(phase: &Phase, notes: &str) {
    let wanted = lab::phase_nodes(phase);
    for node in lab::NODES {
        let labels = run(docker("vps-1").args([
            "node",
            "inspect",
            node,
            "--format",
            "{{range $k, $v := .Spec.Labels}}{{$k}} {{end}}",
        ]));
        for key in labels.split_whitespace() {
            run(docker("vps-1").args(["node", "update", "--label-rm", key, node]));
        }
        let availability = if wanted.contains(&node) { "active" } else { "drain" };
        run(docker("vps-1").args(["node", "update", "--availability", availability, node]));
    }
    for line in notes.lines() {
        if let Some(at) = line.find("docker node update --label-add") {
            let words = shell_words::split(&line[at..]).unwrap();
            run(docker("vps-1").args(&words[1..]));
        }
    }
    for node in wanted {
        let expected = &phase.nodes[node].labels;
        let labels = run(docker("vps-1").args(["node", "inspect", node, "--format", "{{json .Spec.Labels}}"]));
        let got: BTreeMap<String, String> = serde_json::from_str(labels.trim()).unwrap_or_default();
        for (k, v) in expected {
            assert_eq!(got.get(k), Some(v), "{node}: topo's notes did not label {k}={v}");
        }
    }
}

struct Stack<'a> {
    name: String,
    file: PathBuf,
    secrets: Vec<(String, String)>,
    phase: &'a Phase,
}

/// One task as `docker service ps` shows it.
#[derive(Clone, Debug)]
struct Task {
    service: String,
    node: String,
    state: String,
    error: String,
}

impl Stack<'_> {
    fn deploy(&self) {
        let mut deploy = docker("vps-1");
        deploy
            .args(["stack", "deploy", "--detach=true", "--resolve-image", "never", "--prune", "-c"])
            .arg(&self.file)
            .arg(&self.name);
        deploy.envs(self.secrets.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        run(&mut deploy);
    }

    fn remove(&self) {
        let _ = lab::output(docker("vps-1").args(["stack", "rm", &self.name]));
        wait_for("the stack's containers to go", Duration::from_secs(120), || {
            let left: usize = lab::NODES
                .iter()
                .map(|n| lab::containers_with(n, &format!("com.docker.stack.namespace={}", self.name)).len())
                .sum();
            let networks = run(docker("vps-1").args([
                "network",
                "ls",
                "-q",
                "--filter",
                &format!("label=com.docker.stack.namespace={}", self.name),
            ]));
            if left == 0 && networks.trim().is_empty() {
                return Ok(());
            }
            // `docker stack rm` gives up on a network whose tasks are still stopping: remove it once they are gone.
            if left == 0 {
                let _ = lab::output(docker("vps-1").arg("network").arg("rm").args(networks.split_whitespace()));
            }
            Err(format!("{left} containers and networks {networks:?} left"))
        });
    }

    /// The tasks that should be running now.
    fn tasks(&self) -> Vec<Task> {
        let out = lab::output(docker("vps-1").args([
            "stack",
            "ps",
            &self.name,
            "--filter",
            "desired-state=running",
            "--no-trunc",
            "--format",
            "{{.Name}}\t{{.Node}}\t{{.CurrentState}}\t{{.Error}}",
        ]));
        // Before the first task exists, `docker stack ps` fails with "nothing found in stack".
        let text = String::from_utf8_lossy(&out.stdout);
        text.lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                let service =
                    f.first()?.strip_prefix(&format!("{}_", self.name))?.rsplit_once('.').map_or(f[0], |(s, _)| s);
                Some(Task {
                    service: service.to_string(),
                    node: f.get(1)?.to_string(),
                    state: f.get(2)?.split_whitespace().next()?.to_string(),
                    error: f.get(3).unwrap_or(&"").to_string(),
                })
            })
            .collect()
    }

    /// Every replica running, and healthy where the service has a check.
    fn converged(&self) -> Result<(), String> {
        let tasks = self.tasks();
        for service in self.phase.services.values() {
            let running = tasks.iter().filter(|t| t.service == service.name && t.state == "Running").count();
            let want = if service.is_global() {
                lab::phase_nodes(self.phase)
                    .into_iter()
                    .filter(|n| service.placement.admits(&self.phase.nodes[*n]))
                    .count()
            } else {
                service.replicas() as usize
            };
            if running != want {
                return Err(format!("{}: {running} of {want} running; tasks {tasks:?}", service.name));
            }
        }
        for node in lab::phase_nodes(self.phase) {
            let unhealthy = run(docker(node).args([
                "ps",
                "--filter",
                &format!("label=com.docker.stack.namespace={}", self.name),
                "--format",
                "{{.Names}} {{.Status}}",
            ]));
            if let Some(line) =
                unhealthy.lines().find(|l| l.contains("(health: starting)") || l.contains("(unhealthy)"))
            {
                return Err(format!("{node}: {line}"));
            }
        }
        Ok(())
    }

    /// Waits for convergence, or for the scheduler to settle with tasks pending; returns the pending ones.
    fn settle(&self, limit: Duration) -> Vec<Task> {
        let start = std::time::Instant::now();
        // The scheduler has settled when the same tasks stay pending for "no suitable
        // node" while every other task runs: no order of events will place them now.
        let mut stuck_since: Option<(std::time::Instant, usize)> = None;
        loop {
            if self.converged().is_ok() {
                return Vec::new();
            }
            let tasks = self.tasks();
            let pending: Vec<Task> = tasks
                .iter()
                .filter(|t| t.state == "Pending" && t.error.contains("no suitable node"))
                .cloned()
                .collect();
            let others_run = tasks.iter().all(|t| t.state == "Running" || t.state == "Pending");
            stuck_since = match stuck_since {
                Some((at, n)) if n == pending.len() && others_run && !pending.is_empty() => Some((at, n)),
                _ if others_run && !pending.is_empty() => Some((std::time::Instant::now(), pending.len())),
                _ => None,
            };
            if stuck_since.is_some_and(|(at, _)| at.elapsed() > Duration::from_secs(20)) {
                return pending;
            }
            if start.elapsed() > limit {
                if pending.is_empty() {
                    panic!("the stack {} did not converge in {limit:?}: {}", self.name, self.converged().unwrap_err());
                }
                return pending;
            }
            std::thread::sleep(Duration::from_millis(1000));
        }
    }

    fn containers_of(&self, service: &str) -> Vec<(String, String)> {
        let mut found = Vec::new();
        for node in lab::NODES {
            for id in lab::containers_with(node, &format!("com.docker.swarm.service.name={}_{service}", self.name)) {
                found.push((node.to_string(), id));
            }
        }
        found
    }
}

fn assert_placement_allowed(stack: &Stack) {
    for task in stack.tasks() {
        let service = &stack.phase.services[&task.service];
        let node = stack
            .phase
            .nodes
            .get(&task.node)
            .unwrap_or_else(|| panic!("{task:?} runs on a node the phase does not have"));
        assert!(
            service.placement.admits(node),
            "{task:?}: placement {:?} does not admit {}",
            service.placement,
            node.name
        );
        assert_no_hard_spread_violation(stack, service);
    }
}

fn assert_no_hard_spread_violation(stack: &Stack, service: &Service) {
    if service.placement.spread != Some(topo::spec::Spread::Hard) {
        return;
    }
    let mut per_node: BTreeMap<String, usize> = BTreeMap::new();
    for t in stack.tasks().into_iter().filter(|t| t.service == service.name && t.state == "Running") {
        *per_node.entry(t.node).or_default() += 1;
    }
    assert!(per_node.values().all(|&n| n <= 1), "{}: spread hard but {per_node:?}", service.name);
}

/// The IPs a container has, on every network it is on.
fn task_ips(node: &str, id: &str) -> Vec<String> {
    let ips = run(docker(node).args([
        "inspect",
        id,
        "--format",
        "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}",
    ]));
    ips.split_whitespace().map(str::to_string).collect()
}

/// From a task of each service with a shell, its dependencies answer on their ports,
/// from another node where the placement allows it.
fn assert_reach_across_nodes(stack: &Stack) -> usize {
    let mut crossed = 0;
    for service in stack.phase.services.values() {
        if !matches!(lab::standin_for(service.image.as_str(), &[service]), Standin::Http { .. }) {
            continue;
        }
        let from = stack.containers_of(&service.name);
        let Some((from_node, from_id)) = from.first() else { continue };
        for dependency in &service.depends_on {
            let dep = &stack.phase.services[dependency];
            let Some(port) = dep.main_port() else { continue };
            let targets = stack.containers_of(dependency);
            let (to_node, to_id) = targets.iter().find(|(n, _)| n != from_node).or(targets.first()).unwrap();
            let names = run(docker(from_node).args(["exec", from_id, "nslookup", &format!("tasks.{dependency}")]));
            let ips = task_ips(to_node, to_id);
            let ip = ips
                .iter()
                .find(|ip| names.lines().any(|l| l.trim() == format!("Address: {ip}")))
                .unwrap_or_else(|| panic!("{from_node}: tasks.{dependency} resolves to none of {ips:?}: {names}"));
            let out = lab::output(docker(from_node).args([
                "exec",
                from_id,
                "sh",
                "-c",
                &format!("echo | timeout 5 nc {ip} {port}"),
            ]));
            assert!(
                out.status.success(),
                "{}@{from_node} cannot reach {dependency}@{to_node} ({ip}:{port})",
                service.name
            );
            if from_node != to_node {
                crossed += 1;
            }
        }
    }
    crossed
}

fn deploy_stack<'a>(spec: &Path, model: &Model, phase: &'a Phase, suffix: &str) -> (Stack<'a>, tempfile::TempDir) {
    lab::build_images(phase);
    let dir = tempfile::tempdir().unwrap();
    let notes = lab::render(spec, phase.number, "swarm", dir.path());
    let secrets = lab::secret_values(&model.secrets);
    lab::assert_no_secret_in(dir.path(), &secrets);
    prepare_swarm(phase, &notes);
    let encrypted = lab::without_ipsec(&dir.path().join("stack.yml"));
    assert_eq!(
        !encrypted.is_empty(),
        phase.encrypt_network,
        "phase {}: encrypted overlay networks {encrypted:?}",
        phase.number
    );
    let stack =
        Stack { name: format!("{}{suffix}", name_of(spec)), file: dir.path().join("stack.yml"), secrets, phase };
    stack.remove();
    stack.deploy();
    (stack, dir)
}

#[test]
fn swarm_phases_converge_placed_and_reachable_across_nodes() {
    lab::require_lab();
    ensure_dokploy_network();
    let phases = phases_of(Target::Swarm);
    assert!(phases.iter().any(|(s, _, _)| s.ends_with("specs/finanzas.yaml")), "finanzas has a Swarm phase");
    let mut crossed = 0;
    let mut shared_mounts = 0;
    for (spec, model, number) in &phases {
        let phase = model.phase(*number).unwrap();
        eprintln!("e2e: stack deploy {} phase {number}", spec.display());
        let (stack, _dir) = deploy_stack(spec, model, phase, "");
        let pending = stack.settle(Duration::from_secs(240));
        let verdict = verdict_of(spec, *number);
        if pending.is_empty() {
            assert_placement_allowed(&stack);
            crossed += assert_reach_across_nodes(&stack);
            shared_mounts += assert_volumes_shared(phase, |service| stack.containers_of(service));
        } else {
            assert!(
                !["fits", "tight"].contains(&verdict.as_str()),
                "{} phase {number}: plan says {verdict}, tasks pending {pending:?}",
                spec.display()
            );
        }
        stack.remove();
    }
    assert!(crossed > 0, "no dependency was reached across nodes");
    assert!(shared_mounts > 0, "lab-shared-volume.yaml mounts a volume of another service on Swarm");
}

/// The plan's verdict for a phase, as `topo plan --format json` gives it.
fn verdict_of(spec: &Path, number: u32) -> String {
    let plan = lab::plan_json(spec);
    let phase = plan["phases"].as_array().unwrap().iter().find(|p| p["number"] == number).unwrap();
    phase["verdict"]
        .as_str()
        .map_or_else(|| phase["verdict"]["kind"].as_str().unwrap_or_default().to_string(), str::to_string)
}

fn lab_spec(name: &str) -> PathBuf {
    lab::root().join("tests/fixtures/e2e").join(name)
}

/// Deploys every Swarm phase of the lab's own specs five times. A run that leaves a
/// task pending means topo must not have said "fits" or "tight"; a "does not fit"
/// must show in some run.
#[test]
fn swarm_verdicts_are_never_more_optimistic_than_the_scheduler() {
    lab::require_lab();
    ensure_dokploy_network();
    let mut judged = BTreeSet::new();
    // The lab's capacity specs: sized so that their phases fit, fit only in some orders, or do not fit.
    // (Its other specs prove features, and fit with room to spare; the Swarm test deploys them.)
    let capacity = ["lab-fits.yaml", "lab-order.yaml", "lab-overfull.yaml"]
        .map(|f| lab::root().join("tests/fixtures/e2e").join(f));
    let phases: Vec<_> = phases_of(Target::Swarm).into_iter().filter(|(s, _, _)| capacity.contains(s)).collect();
    assert!(capacity.iter().all(|c| phases.iter().any(|(s, _, _)| s == c)), "each capacity spec has a Swarm phase");
    for (spec, model, number) in phases {
        let phase = model.phase(number).unwrap();
        let verdict = verdict_of(&spec, number);
        let mut pending_runs = 0;
        for attempt in 1..=5 {
            let (stack, _dir) = deploy_stack(&spec, &model, phase, "");
            let pending = stack.settle(Duration::from_secs(90));
            eprintln!(
                "e2e: {} phase {number} run {attempt}: verdict {verdict}, {} pending",
                spec.display(),
                pending.len()
            );
            if !pending.is_empty() {
                pending_runs += 1;
                assert!(
                    !["fits", "tight"].contains(&verdict.as_str()),
                    "{} phase {number}: plan says {verdict}, run {attempt} left {pending:?}",
                    spec.display()
                );
            }
            stack.remove();
        }
        if verdict == "does-not-fit" {
            assert!(
                pending_runs > 0,
                "{} phase {number}: plan says does-not-fit, yet every run placed every task",
                spec.display()
            );
        }
        judged.insert(verdict);
    }
    for kind in ["fits", "does-not-fit"] {
        assert!(judged.contains(kind), "the lab's specs cover no `{kind}` phase: {judged:?}");
    }
}

/// A rolling update to a new tag keeps a multi-replica service answering: a client
/// polls it the whole time and counts failures.
#[test]
fn swarm_rolling_update_keeps_answering() {
    lab::require_lab();
    ensure_dokploy_network();
    let spec = lab_spec("lab-fits.yaml");
    let model = lab::compile(&spec).model;
    let phase = model.phases.iter().find(|p| p.target == Target::Swarm).unwrap();
    let (stack, _dir) = deploy_stack(&spec, &model, phase, "-update");
    stack.settle(Duration::from_secs(180));
    let api = phase
        .services
        .values()
        .find(|s| s.replicas() > 1 && s.expose.is_some())
        .expect("a multi-replica exposed service");
    let port = api.main_port().unwrap();
    let path = match api.health.as_ref().map(|h| &h.readiness.probe) {
        Some(topo::model::Probe::Http { path, .. }) => path.clone(),
        _ => "/".to_string(),
    };
    let next = format!("{}-next", api.image);
    lab::build_image(&next, &lab::standin_for(api.image.as_str(), &[api]));
    // The client: a stand-in container on the stack's network, polling every task by name.
    let (client_node, client) = stack.containers_of(
        &phase
            .services
            .values()
            .find(|s| s.name != api.name && matches!(lab::standin_for(s.image.as_str(), &[s]), Standin::Http { .. }))
            .unwrap()
            .name,
    )[0]
    .clone();
    let poll = format!(
        "ok=0; fail=0; while [ ! -e /tmp/stop ]; do for ip in $(nslookup tasks.{name} 2>/dev/null | awk '/^Address/ && NR > 2 {{ print $NF }}'); do \
         if timeout 3 wget -q -O /dev/null http://$ip:{port}{path}; then ok=$((ok+1)); else fail=$((fail+1)); fi; done; sleep 0.2; done; echo $ok $fail",
        name = api.name
    );
    let poller = std::thread::spawn({
        let (node, id) = (client_node.clone(), client.clone());
        move || lab::run(docker(&node).args(["exec", &id, "sh", "-c", &poll]))
    });
    std::thread::sleep(Duration::from_secs(3));
    run(docker("vps-1").args([
        "service",
        "update",
        "--detach=false",
        "--quiet",
        "--image",
        &next,
        &format!("{}_{}", stack.name, api.name),
    ]));
    let updated = wait_for("every task on the new tag", Duration::from_secs(240), || {
        let images = run(docker("vps-1").args([
            "service",
            "ps",
            "--filter",
            "desired-state=running",
            "--format",
            "{{.Image}} {{.CurrentState}}",
            &format!("{}_{}", stack.name, api.name),
        ]));
        if images.lines().count() == api.replicas() as usize
            && images.lines().all(|l| l.starts_with(&next) && l.contains("Running"))
        {
            Ok(images)
        } else {
            Err(images)
        }
    });
    std::thread::sleep(Duration::from_secs(5));
    run(docker(&client_node).args(["exec", &client, "touch", "/tmp/stop"]));
    let counts = poller.join().unwrap();
    let (ok, fail): (u32, u32) = {
        let mut it = counts.split_whitespace().map(|n| n.parse().unwrap());
        (it.next().unwrap(), it.next().unwrap())
    };
    eprintln!("e2e: rolling update of {}: {ok} answers, {fail} failures\n{updated}", api.name);
    assert!(ok > 20, "the client polled too little ({ok})");
    assert_eq!(fail, 0, "{fail} requests failed during the rolling update of {}", api.name);
    stack.remove();
}

/// Drains each node in turn: what keeps running is what the plan's N+1 says for that node.
#[test]
fn swarm_drain_of_each_node_matches_the_plans_n_plus_1() {
    lab::require_lab();
    ensure_dokploy_network();
    let spec = lab_spec("lab-fits.yaml");
    let model = lab::compile(&spec).model;
    let phase = model.phases.iter().find(|p| p.target == Target::Swarm).unwrap();
    let plan = lab::plan_json(&spec);
    let plan_phase = plan["phases"].as_array().unwrap().iter().find(|p| p["number"] == phase.number).unwrap().clone();
    let (stack, _dir) = deploy_stack(&spec, &model, phase, "-drain");
    stack.settle(Duration::from_secs(180));
    for node in lab::phase_nodes(phase) {
        let expected = n_plus_1_down(&plan_phase, node);
        run(docker("vps-1").args(["node", "update", "--availability", "drain", node]));
        let down = wait_for(&format!("the Swarm to settle after draining {node}"), Duration::from_secs(120), || {
            let tasks = stack.tasks();
            if tasks.iter().any(|t| t.node == node && t.state == "Running")
                || tasks.iter().any(|t| !["Running", "Pending"].contains(&t.state.as_str()))
            {
                return Err(format!("{tasks:?}"));
            }
            let mut down = BTreeSet::new();
            for service in phase.services.values() {
                if !tasks.iter().any(|t| t.service == service.name && t.state == "Running") {
                    down.insert(service.name.clone());
                }
            }
            if down == expected { Ok(down) } else { Err(format!("down {down:?}, plan {expected:?}; tasks {tasks:?}")) }
        });
        eprintln!("e2e: drained {node}: down {down:?} as the plan says");
        run(docker("vps-1").args(["node", "update", "--availability", "active", node]));
        stack.settle(Duration::from_secs(180));
    }
    stack.remove();
}

/// The services the plan says stop when `node` is lost.
fn n_plus_1_down(plan_phase: &serde_json::Value, node: &str) -> BTreeSet<String> {
    let losses = plan_phase["n_plus_one"]["losses"]
        .as_array()
        .unwrap_or_else(|| panic!("no per-node N+1 in {}", plan_phase["n_plus_one"]));
    let loss = losses.iter().find(|l| l["lost"] == node).unwrap_or_else(|| panic!("no N+1 for {node}"));
    loss["down"].as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect()
}

// ---------------------------------------------------------------- migration

/// A docker CLI configuration whose Compose plugin is the validators' Compose v2,
/// for the plan's `docker compose …` commands.
fn docker_config(dir: &Path) -> PathBuf {
    let plugins = dir.join("docker-config/cli-plugins");
    fs_err::create_dir_all(&plugins).unwrap();
    let compose = lab::compose("vps-1", "x", Path::new("x")).get_program().to_owned();
    let link = plugins.join("docker-compose");
    if !link.exists() {
        std::os::unix::fs::symlink(compose, &link).unwrap();
    }
    dir.join("docker-config")
}

/// Steps the lab cannot carry out, by the start of their title, and why.
const NOT_IN_THE_LAB: [(&str, &str); 2] = [
    ("Log in to ", "the lab has no registry: its images are built on every node"),
    ("Check every exposed host", "the lab runs no Traefik and has no public address or certificate"),
];

/// The shell a step's commands run in: the workstation's directory, the node's engine.
fn step_shell(workdir: &Path, on: Option<&str>, env: &BTreeMap<String, String>) -> std::process::Command {
    let mut shell = std::process::Command::new("sh");
    shell.current_dir(workdir).env_clear();
    let topo_dir = Path::new(env!("CARGO_BIN_EXE_topo")).parent().unwrap().to_owned();
    let path =
        std::env::join_paths([topo_dir].into_iter().chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())))
            .unwrap();
    shell.env("PATH", path).env("HOME", workdir).env("DOCKER_CONFIG", docker_config(workdir));
    shell.env("DOCKER_HOST", lab::docker_host(on.unwrap_or("vps-1")));
    shell.envs(env);
    shell
}

/// Runs a migration's steps as `topo plan` prints them: each step's commands in
/// one `sh -e` on its node; a value a step prints becomes the input that names it.
fn run_steps(migration: &serde_json::Value, workdir: &Path, mut env: BTreeMap<String, String>) -> Vec<String> {
    let mut skipped = Vec::new();
    let inputs = migration["inputs"].as_array().unwrap();
    for (i, step) in migration["steps"].as_array().unwrap().iter().enumerate() {
        let title = step["title"].as_str().unwrap();
        if step["manual"] == true {
            eprintln!("e2e: step {} (by hand, done by the lab): {title}", i + 1);
            continue;
        }
        if let Some((_, why)) = NOT_IN_THE_LAB.iter().find(|(start, _)| title.starts_with(start)) {
            eprintln!("e2e: step {} skipped ({why}): {title}", i + 1);
            skipped.push(title.to_string());
            continue;
        }
        let on = step["on"].as_str();
        let script =
            step["commands"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect::<Vec<_>>().join("\n");
        eprintln!("e2e: step {} on {}: {title}", i + 1, on.unwrap_or("the workstation"));
        let stdout = run(step_shell(workdir, on, &env).args(["-e", "-c", &script]));
        if on.is_none() && workdir.join("stack.yml").exists() {
            lab::without_ipsec(&workdir.join("stack.yml"));
        }
        for input in inputs.iter().filter(|input| input["printed_by"] == i + 1) {
            let value = stdout.lines().last().unwrap_or_default().trim().to_string();
            assert!(!value.is_empty(), "step {} printed no {}", i + 1, input["name"]);
            env.insert(input["name"].as_str().unwrap().to_string(), value);
        }
    }
    skipped
}

/// Takes vps-2 and vps-3 out of the Swarm: the new machines of a migration.
fn make_new_machines(nodes: &[&str]) {
    for node in nodes {
        let _ = lab::output(docker(node).args(["swarm", "leave", "--force"]));
        let _ = lab::output(docker("vps-1").args(["node", "rm", "--force", node]));
    }
}

/// Phase 1 of finanzas on Compose with rows in PostgreSQL, then the plan's
/// migration to phase 2 run step by step: the Swarm serves the same rows.
#[test]
fn migration_from_compose_to_swarm_runs_as_printed_and_keeps_the_rows() {
    lab::require_lab();
    ensure_dokploy_network();
    let spec = lab::root().join("specs/finanzas.yaml");
    let model = lab::compile(&spec).model;
    let (one, two) = (model.phase(1).unwrap(), model.phase(2).unwrap());
    assert_eq!((one.target, two.target), (Target::Compose, Target::Swarm));
    lab::build_images(one);
    lab::build_images(two);
    let workdir = tempfile::tempdir().unwrap();
    fs_err::create_dir_all(workdir.path().join("specs")).unwrap();
    fs_err::copy(&spec, workdir.path().join("specs/finanzas.yaml")).unwrap();
    let project = model.project.clone();
    // Nothing of an earlier run: no stack, no compose project, no volumes.
    let stack =
        Stack { name: project.clone(), file: PathBuf::new(), secrets: lab::secret_values(&model.secrets), phase: two };
    stack.remove();
    lab::render(&spec, 1, "compose", workdir.path());
    let compose = ComposeRun {
        project: project.clone(),
        file: workdir.path().join("docker-compose.yml"),
        secrets: stack.secrets.clone(),
        phase: one,
    };
    compose.down(true);
    make_new_machines(&["vps-2", "vps-3"]);
    for node in lab::NODES {
        let labels = run(docker("vps-1").args(["node", "ls", "--format", "{{.Hostname}}"]));
        if labels.contains(node) {
            run(docker("vps-1").args(["node", "update", "--availability", "active", node]));
        }
    }

    compose.up();
    let postgres = &one.services["postgres"];
    let login = postgres_login(&model, postgres, &compose.secrets);
    psql(&compose.client(postgres), &login, &login.password, "create table ledger (id int primary key, amount numeric); insert into ledger select n, n * 1.5 from generate_series(1, 5000) n")
        .unwrap();
    let before =
        psql(&compose.client(postgres), &login, &login.password, "select count(*), sum(amount) from ledger").unwrap();
    // The migration, from the plan's own text.
    let plan = serde_json::from_str::<serde_json::Value>(&run(step_shell(workdir.path(), None, &BTreeMap::new())
        .args(["-c", "topo plan --spec specs/finanzas.yaml --format json"])))
    .unwrap();
    let migration = plan["migrations"].as_array().unwrap().iter().find(|m| m["from"] == 1 && m["to"] == 2).unwrap();
    let mut env: BTreeMap<String, String> = stack.secrets.iter().cloned().collect();
    env.insert("MANAGER_ADDR".into(), lab::node_addr("vps-1"));
    let skipped = run_steps(migration, workdir.path(), env);
    assert!(skipped.len() <= NOT_IN_THE_LAB.len(), "skipped {skipped:?}");

    // Phase 2 runs on the Swarm, placed as its constraints say, and serves the same rows.
    wait_for("phase 2 to converge", Duration::from_secs(300), || stack.converged());
    assert_placement_allowed(&stack);
    let (node, id) = stack.containers_of("postgres")[0].clone();
    let url = format!("postgresql://{}@127.0.0.1:5432/{}", login.user, login.db);
    let after =
        run(docker(&node).args(["exec", &id, "psql", &url, "-tAc", "select count(*), sum(amount) from ledger"]));
    assert_eq!(after.trim(), before, "the rows in phase 2");
    let leftover = lab::containers_with("vps-1", &format!("com.docker.compose.project={project}"));
    assert!(leftover.is_empty(), "phase 1's containers still exist: {leftover:?}");
    stack.remove();
    run(docker("vps-1").args([
        "volume",
        "rm",
        "-f",
        &format!("{project}_postgres-data"),
        &format!("{project}_redis-data"),
    ]));
}

// ---------------------------------------------------------------- imported stacks

/// The compose files of self-hosted stacks under `tests/fixtures/e2e/import/`.
fn import_fixtures() -> Vec<PathBuf> {
    crate::support::specs::compose_files("tests/fixtures/e2e/import")
}

/// What a user does after `topo import`: add a Swarm phase on the three lab
/// nodes below the imported compose phase.
fn with_swarm_phase(spec: &str) -> String {
    let phase = "  2:\n    name: swarm\n    target: swarm\n    nodes:\n      vps-1: { role: manager, cpu: 2, memory: 23Gi }\n      vps-2: { role: worker, cpu: 2, memory: 23Gi }\n      vps-3: { role: worker, cpu: 2, memory: 23Gi }\n";
    let at = spec.find("\nsecrets:").or_else(|| spec.find("\nservices:")).expect("the imported spec has services");
    format!("{}\n{phase}{}", &spec[..at], &spec[at + 1..])
}

/// A self-hosted stack's compose file, as its users have it (a shared volume,
/// a secret in a command): `topo import` writes a spec that `topo check
/// --strict` passes, and it runs on the lab as compose ran it, healthy, with
/// the secrets in their places and the volume shared; with a Swarm phase
/// added, on the three-node Swarm too.
#[test]
fn imported_self_hosted_stacks_run_on_the_lab() {
    lab::require_lab();
    ensure_dokploy_network();
    let fixtures = import_fixtures();
    assert!(!fixtures.is_empty(), "tests/fixtures/e2e/import has compose files");
    let (mut shared, mut commands, mut references) = (0, 0, 0);
    for compose in fixtures {
        eprintln!("e2e: import {}", compose.display());
        let dir = tempfile::tempdir().unwrap();
        let spec = dir.path().join(format!("{}.yaml", name_of(&compose)));
        let mut import = lab::topo();
        import.arg("import").arg(&compose).arg("--out").arg(&spec);
        let out = lab::output(&mut import);
        assert!(out.status.success(), "{}", lab::describe(&import, &out));
        let text = with_swarm_phase(&fs_err::read_to_string(&spec).unwrap());
        fs_err::write(&spec, &text).unwrap();
        let mut check = lab::topo();
        check.args(["check", "--strict", "--spec"]).arg(&spec);
        let out = lab::output(&mut check);
        assert!(out.status.success(), "{}\n{text}", lab::describe(&check, &out));

        let model = lab::compile(&spec).model;
        let compose_phase = model.phase(1).unwrap();
        lab::build_images(compose_phase);
        let files = dir.path().join("compose");
        lab::render(&spec, 1, "compose", &files);
        let secrets = lab::secret_values(&model.secrets);
        lab::assert_no_secret_in(&files, &secrets);
        let run = ComposeRun {
            project: format!("e2e-import-{}", name_of(&compose)),
            file: files.join("docker-compose.yml"),
            secrets,
            phase: compose_phase,
        };
        run.down(true);
        run.up();
        assert_running_and_healthy(&run);
        references += assert_secrets_arrive(&run);
        commands += assert_command_secrets_arrive(&run);
        assert_postgres_logins(&model, &run);
        shared += assert_volumes_shared(compose_phase, |service| {
            let ids = run.containers(service).iter().map(|c| c["Id"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
            ids.into_iter().map(|id| ("vps-1".to_owned(), id)).collect()
        });
        run.down(true);

        let swarm_phase = model.phase(2).unwrap();
        let (stack, _files) = deploy_stack(&spec, &model, swarm_phase, "-import");
        let pending = stack.settle(Duration::from_secs(240));
        assert!(pending.is_empty(), "{}: tasks pending {pending:?}", compose.display());
        assert_placement_allowed(&stack);
        shared += assert_volumes_shared(swarm_phase, |service| stack.containers_of(service));
        stack.remove();
    }
    assert!(shared > 0, "an imported stack shares a volume");
    assert!(commands > 0, "an imported stack passes a secret in a command");
    assert!(references > 0, "an imported stack builds an env value from a secret");
}
