//! The compose and Swarm targets: golden snapshots of specs/finanzas.yaml,
//! the properties users rely on (no secret values, depends_on conditions,
//! Traefik labels, placement), the warnings and errors of what a target cannot
//! honour, and the external validators on every spec we ship.

// Helpers of a test binary: failing loudly, with the context, is their job.
#![allow(clippy::unwrap_used, clippy::panic)]

use crate::support::compile_text;
use crate::support::specs;
use crate::support::validators;

use specs::{root, valid_specs};
use std::path::Path;

use serde_norway::Value;
use topo::diag::Severity;
use topo::spec::Target;
use validators::TempInput;

fn compile_file(path: &Path) -> topo::Compiled {
    compile_text(&fs_err::read_to_string(path).unwrap())
}

/// A phase rendered for a target: its one file, and the target's diagnostics.
struct Out {
    file: String,
    yaml: String,
    diags: Vec<topo::diag::Diagnostic>,
}

impl Out {
    fn value(&self) -> Value {
        serde_norway::from_str(&self.yaml).unwrap()
    }

    fn codes(&self) -> Vec<&str> {
        self.diags.iter().map(|d| d.code.as_str()).collect()
    }

    fn has(&self, code: &str, path: &str) -> bool {
        self.diags.iter().any(|d| d.code == code && d.path.to_string() == path)
    }
}

fn render(compiled: &topo::Compiled, phase: u32, target: Target) -> Out {
    let phase = compiled.model.phase(phase).unwrap();
    let rendered = topo::render::render(&compiled.model, phase, target);
    assert_eq!(rendered.documents.len(), 1, "one file");
    let doc = &rendered.documents[0];
    let yaml = topo::emit::yaml::text(&doc.body);
    assert!(yaml.ends_with('\n'));
    Out { file: doc.file.clone(), yaml, diags: rendered.diagnostics.iter().cloned().collect() }
}

fn finanzas() -> topo::Compiled {
    compile_file(&root().join("specs/finanzas.yaml"))
}

/// The file, then each diagnostic of the target: one snapshot per scenario.
fn snapshot_text(out: &Out) -> String {
    let mut text = format!("==== {} ====\n{}==== diagnostics ====\n", out.file, out.yaml);
    for d in &out.diags {
        let severity = if d.severity == Severity::Error { "error" } else { "warning" };
        text.push_str(&format!("{severity}[{}] at {}: {}\n", d.code, d.path, d.message));
    }
    text
}

fn get<'a>(value: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(value, |v, key| match v {
        Value::Sequence(items) => &items[key.parse::<usize>().unwrap()],
        _ => v.get(key).unwrap_or_else(|| panic!("no `{key}` in `{path}`")),
    })
}

fn strings(value: &Value) -> Vec<&str> {
    value.as_sequence().unwrap().iter().map(|v| v.as_str().unwrap()).collect()
}

#[test]
fn finanzas_phase_1_compose_snapshot() {
    let out = render(&finanzas(), 1, Target::Compose);
    assert_eq!(out.file, "docker-compose.yml");
    insta::assert_snapshot!(snapshot_text(&out));
}

#[test]
fn finanzas_phase_2_swarm_snapshot() {
    let out = render(&finanzas(), 2, Target::Swarm);
    assert_eq!(out.file, "stack.yml");
    insta::assert_snapshot!(snapshot_text(&out));
}

#[test]
fn compose_is_dokploy_ready() {
    let out = render(&finanzas(), 1, Target::Compose);
    let file = out.value();
    assert_eq!(get(&file, "networks.dokploy-network.external"), &Value::Bool(true));
    assert!(file.get("name").is_none() && file.get("version").is_none(), "Compose 1.29 rejects `name`");
    let backend = get(&file, "services.backend");
    assert_eq!(strings(get(backend, "networks")), ["default", "dokploy-network"]);
    assert_eq!(get(backend, "restart").as_str(), Some("unless-stopped"));
    assert_eq!(get(backend, "deploy.replicas").as_u64(), Some(2));
    assert_eq!(get(backend, "deploy.resources.limits.cpus").as_str(), Some("0.5"));
    assert_eq!(get(backend, "deploy.resources.limits.memory").as_str(), Some("1G"));
    assert_eq!(get(backend, "deploy.resources.reservations.memory").as_str(), Some("512M"));
    assert!(backend.get("ports").is_none(), "exposed services go through Traefik, nothing is published");
    assert_eq!(
        get(backend, "expose"),
        &serde_norway::from_str::<Value>("[4000]").unwrap(),
        "documented, not published"
    );
    let labels = strings(get(backend, "labels"));
    for label in [
        "traefik.enable=true",
        "traefik.docker.network=dokploy-network",
        "traefik.http.routers.finanzas-dokploy-backend-web.rule=Host(`api.tudominio.cloud`)",
        "traefik.http.routers.finanzas-dokploy-backend-web.entrypoints=web",
        "traefik.http.routers.finanzas-dokploy-backend-web.middlewares=finanzas-dokploy-backend-redirect-to-https",
        "traefik.http.routers.finanzas-dokploy-backend-websecure.entrypoints=websecure",
        "traefik.http.routers.finanzas-dokploy-backend-websecure.tls.certresolver=letsencrypt",
        "traefik.http.services.finanzas-dokploy-backend-websecure.loadbalancer.server.port=4000",
        "traefik.http.middlewares.finanzas-dokploy-backend-redirect-to-https.redirectscheme.scheme=https",
    ] {
        assert!(labels.contains(&label), "missing {label} in {labels:#?}");
    }
    // Not exposed: no labels, only the project's network.
    let postgres = get(&file, "services.postgres");
    assert_eq!(get(postgres, "expose.0").as_u64(), Some(5432));
    assert!(get(&file, "services.bullmq-worker").get("expose").is_none(), "no ports, no expose");
    assert!(postgres.get("networks").is_none());
    assert_eq!(
        strings(get(postgres, "labels")),
        ["topo.project=finanzas", "topo.service=postgres", "topo.phase=dokploy"]
    );
    assert_eq!(get(postgres, "volumes.0.source").as_str(), Some("postgres-data"));
    assert_eq!(get(&file, "volumes.postgres-data"), &Value::Mapping(Default::default()));
}

#[test]
fn compose_depends_on_waits_for_health_checks() {
    let out = render(&finanzas(), 1, Target::Compose);
    let file = out.value();
    assert_eq!(get(&file, "services.backend.depends_on.postgres.condition").as_str(), Some("service_healthy"));
    assert_eq!(get(&file, "services.backend.depends_on.redis.condition").as_str(), Some("service_healthy"));
    let spec = "project: shop
phases: { 1: { name: one, target: compose, nodes: { vps-1: { role: manager, cpu: 2, memory: 4Gi } } } }
services:
  web: { image: web:1.0, depends_on: [queue] }
  queue: { image: queue:1.0 }
";
    let out = render(&compile_text(spec), 1, Target::Compose);
    assert_eq!(get(&out.value(), "services.web.depends_on.queue.condition").as_str(), Some("service_started"));
}

#[test]
fn health_checks_become_docker_tests() {
    let file = render(&finanzas(), 1, Target::Compose).value();
    let backend = get(&file, "services.backend.healthcheck");
    // The spec says the image is Bun's: its own fetch, no wget or curl.
    assert_eq!(
        strings(get(backend, "test")),
        [
            "CMD",
            "bun",
            "-e",
            "fetch('http://127.0.0.1:4000/ready').then(r=>process.exit(r.ok?0:1)).catch(()=>process.exit(1))"
        ]
    );
    assert_eq!(strings(get(&file, "services.frontend.healthcheck.test"))[..3], ["CMD", "node", "-e"]);
    assert_eq!(strings(get(&file, "services.embedding.healthcheck.test"))[..3], ["CMD", "python3", "-c"]);
    assert_eq!(get(backend, "start_period").as_str(), Some("5s"), "initial_delay lengthens start_period");
    let postgres = get(&file, "services.postgres.healthcheck");
    assert_eq!(strings(get(postgres, "test")), ["CMD", "pg_isready", "-h", "127.0.0.1", "-U", "postgres"]);
    assert_eq!(get(&file, "services.embedding.healthcheck.start_period").as_str(), Some("1m"));

    let spec = "project: shop
phases: { 1: { name: one, target: compose, nodes: { vps-1: { role: manager, cpu: 2, memory: 4Gi } } } }
services:
  api: { image: api:1.0, port: 8080, health: { http: /health, compose_test: [/app/healthcheck, --port, 8080] } }
  db: { image: db:1.0, port: 5432, health: { tcp: 5432, compose_test: 'pg_isready -h $$HOSTNAME' } }
  cache: { image: cache:1.0, port: 6379, health: { tcp: 6379 } }
  web: { image: web:1.0, port: 80, health: { http: / } }
  bun: { image: \"oven/bun:1.2-slim\", port: 3000, health: { http: /health } }
";
    let out = render(&compile_text(spec), 1, Target::Compose);
    let file = out.value();
    // An image topo does not know: wget, else curl, and a warning that it may have neither.
    assert_eq!(
        strings(get(&file, "services.web.healthcheck.test")),
        ["CMD-SHELL", "wget -q -O /dev/null http://127.0.0.1:80/ || curl -fsS -o /dev/null http://127.0.0.1:80/"]
    );
    assert!(out.has("http-check-tool-unknown", "services.web.health"), "{:?}", out.codes());
    assert!(!out.has("http-check-tool-unknown", "services.api.health"), "compose_test is the override");
    // A Bun image by its name: Bun's fetch, no warning.
    assert_eq!(strings(get(&file, "services.bun.healthcheck.test"))[..3], ["CMD", "bun", "-e"]);
    assert!(!out.has("http-check-tool-unknown", "services.bun.health"));
    assert_eq!(strings(get(&file, "services.api.healthcheck.test")), ["CMD", "/app/healthcheck", "--port", "8080"]);
    assert_eq!(
        strings(get(&file, "services.db.healthcheck.test")),
        ["CMD-SHELL", "pg_isready -h $$$$HOSTNAME"],
        "a literal `$` is escaped from compose interpolation"
    );
    assert_eq!(
        strings(get(&file, "services.cache.healthcheck.test")),
        [
            "CMD-SHELL",
            "nc -z 127.0.0.1 6379 || nc -w 2 127.0.0.1 6379 </dev/null || bash -c '</dev/tcp/127.0.0.1/6379'"
        ]
    );
}

/// Every `${…}` in a rendered file is a required-secret interpolation of a declared secret
/// (`$${…}` is compose's escape: text).
fn assert_only_secret_interpolations(yaml: &str, secrets: &[String]) {
    let mut rest = yaml;
    while let Some(dollar) = rest.find('$') {
        if rest[dollar + 1..].starts_with('$') {
            rest = &rest[dollar + 2..];
            continue;
        }
        if !rest[dollar + 1..].starts_with('{') {
            rest = &rest[dollar + 1..];
            continue;
        }
        let start = dollar;
        let end = rest[start..].find('}').unwrap() + start;
        let inner = &rest[start + 2..end];
        let (name, message) = inner.split_once(":?").unwrap_or_else(|| panic!("`${{{inner}}}` is not `:?` required"));
        assert!(secrets.iter().any(|s| s == name), "`{name}` is not a declared secret");
        assert_eq!(message, format!("{name} is required"));
        rest = &rest[end..];
    }
}

#[test]
fn no_secret_value_anywhere() {
    let compiled = finanzas();
    for (phase, target) in [(1, Target::Compose), (2, Target::Swarm), (3, Target::Compose), (3, Target::Swarm)] {
        let out = render(&compiled, phase, target);
        assert_only_secret_interpolations(&out.yaml, &compiled.model.secrets);
        let file = out.value();
        for (name, service) in get(&file, "services").as_mapping().unwrap() {
            let env = get(service, "environment");
            for secret in &compiled.model.secrets {
                if let Some(value) = env.get(secret.as_str()) {
                    assert_eq!(
                        value.as_str(),
                        Some(format!("${{{secret}:?{secret} is required}}").as_str()),
                        "{name:?} {secret}"
                    );
                }
            }
        }
    }
    let backend = get(&render(&compiled, 2, Target::Swarm).value(), "services.backend.environment").clone();
    assert_eq!(get(&backend, "JWT_SECRET").as_str(), Some("${JWT_SECRET:?JWT_SECRET is required}"));
}

#[test]
fn swarm_secrets_as_files_are_external_secrets() {
    let spec = "project: shop
phases: { 1: { name: one, target: swarm, nodes: { vps-1: { role: manager, cpu: 2, memory: 4Gi } } } }
secrets: [DB_PASSWORD, API_KEY]
services:
  db: { image: postgres:17, secrets: [DB_PASSWORD], secrets_as: files, stateful: true, volumes: { data: { mount: /var/lib/postgresql/data } } }
  api: { image: api:1.0, secrets: [DB_PASSWORD, API_KEY] }
";
    let compiled = compile_text(spec);
    let swarm = render(&compiled, 1, Target::Swarm);
    let file = swarm.value();
    let db = get(&file, "services.db");
    assert_eq!(get(db, "environment.DB_PASSWORD_FILE").as_str(), Some("/run/secrets/DB_PASSWORD"));
    assert!(get(db, "environment").get("DB_PASSWORD").is_none());
    assert_eq!(strings(get(db, "secrets")), ["DB_PASSWORD"]);
    assert_eq!(get(&file, "secrets.DB_PASSWORD.external"), &Value::Bool(true));
    assert_eq!(get(&file, "secrets.DB_PASSWORD.name").as_str(), Some("shop_DB_PASSWORD"));
    assert!(get(&file, "secrets").get("API_KEY").is_none(), "`api` takes its secrets from the environment");
    assert_eq!(
        get(&file, "services.api.environment.DB_PASSWORD").as_str(),
        Some("${DB_PASSWORD:?DB_PASSWORD is required}")
    );
    // Compose has no secret store: env interpolation there.
    let compose = render(&compiled, 1, Target::Compose).value();
    assert_eq!(
        get(&compose, "services.db.environment.DB_PASSWORD").as_str(),
        Some("${DB_PASSWORD:?DB_PASSWORD is required}")
    );
    assert!(compose.get("secrets").is_none());
}

#[test]
fn swarm_phase_2_deploy() {
    let out = render(&finanzas(), 2, Target::Swarm);
    let file = out.value();
    assert_eq!(get(&file, "version").as_str(), Some("3.8"));
    for (service, replicas) in [("backend", 6), ("frontend", 4), ("bullmq-worker", 3), ("postgres", 1), ("redis", 1)] {
        assert_eq!(get(&file, &format!("services.{service}.deploy.replicas")).as_u64(), Some(replicas), "{service}");
    }
    let constraints = |service: &str| strings(get(&file, &format!("services.{service}.deploy.placement.constraints")));
    assert_eq!(constraints("bullmq-worker"), ["node.labels.tier == batch"]);
    // A role is one node only until a second manager joins: the hostname pins the volume's node.
    assert_eq!(constraints("postgres"), ["node.role == manager", "node.hostname == vps-1"]);
    assert_eq!(constraints("redis"), ["node.role == manager", "node.hostname == vps-1"]);
    assert_eq!(constraints("embedding"), ["node.labels.ram == high"]);

    let backend = get(&file, "services.backend");
    assert_eq!(get(backend, "deploy.update_config.order").as_str(), Some("start-first"));
    assert_eq!(get(backend, "deploy.update_config.failure_action").as_str(), Some("rollback"));
    assert_eq!(get(backend, "deploy.update_config.parallelism").as_u64(), Some(1));
    assert_eq!(get(backend, "deploy.rollback_config.order").as_str(), Some("start-first"));
    assert_eq!(get(backend, "deploy.restart_policy.condition").as_str(), Some("any"));
    assert_eq!(get(&file, "services.postgres.deploy.update_config.order").as_str(), Some("stop-first"));

    // Swarm ignores or rejects these: they are not in a stack.
    for (name, service) in get(&file, "services").as_mapping().unwrap() {
        for key in ["depends_on", "restart", "build", "security_opt", "container_name"] {
            assert!(service.get(key).is_none(), "{name:?} has `{key}`");
        }
    }
    // Container labels for cAdvisor; Traefik's only under `deploy.labels`.
    assert_eq!(strings(get(backend, "labels")), ["topo.project=finanzas", "topo.service=backend", "topo.phase=swarm"]);
    let labels = strings(get(backend, "deploy.labels"));
    assert!(labels.iter().all(|l| !l.starts_with("traefik.docker.")), "Traefik's Swarm provider skips it: {labels:#?}");
    for label in [
        "traefik.enable=true",
        "traefik.swarm.network=dokploy-network",
        "traefik.http.routers.finanzas-swarm-backend-websecure.rule=Host(`api.tudominio.cloud`)",
        "traefik.http.services.finanzas-swarm-backend-web.loadbalancer.server.port=4000",
        "traefik.http.services.finanzas-swarm-backend-websecure.loadbalancer.server.port=4000",
    ] {
        assert!(labels.contains(&label), "missing {label}");
    }
    assert_eq!(get(&file, "networks.default.driver").as_str(), Some("overlay"));
    assert_eq!(get(&file, "networks.default.attachable"), &Value::Bool(true));
    assert_eq!(get(&file, "networks.default.driver_opts.encrypted").as_str(), Some("true"), "three nodes: encrypted");
    assert_eq!(get(&file, "networks.dokploy-network.external"), &Value::Bool(true));

    assert!(out.has("depends-on-ignored", "services.backend.depends_on"));
    assert!(out.has("depends-on-ignored", "services.frontend.depends_on"));
    assert!(!out.codes().contains(&"stateful-not-pinned"), "postgres and redis are pinned to the one manager");
}

#[test]
fn swarm_placement_keywords() {
    let spec = "project: shop
phases:
  1:
    name: one
    target: swarm
    nodes:
      vps-1: { role: manager, cpu: 2, memory: 4Gi }
      vps-2: { cpu: 2, memory: 4Gi, labels: { tier: web } }
      vps-3: { cpu: 2, memory: 4Gi, labels: { tier: web } }
services:
  web: { image: web:1.0, port: 80, replicas: 3, placement: { role: worker, labels: { tier: web }, spread: hard } }
  pinned: { image: job:1.0, placement: { node: vps-2 } }
  db: { image: db:1.0, stateful: true, volumes: { data: { mount: /data } }, placement: { role: worker } }
";
    let out = render(&compile_text(spec), 1, Target::Swarm);
    let file = out.value();
    let web = get(&file, "services.web.deploy");
    assert_eq!(strings(get(web, "placement.constraints")), ["node.role == worker", "node.labels.tier == web"]);
    assert_eq!(get(web, "placement.max_replicas_per_node").as_u64(), Some(1));
    assert_eq!(
        get(web, "update_config.order").as_str(),
        Some("stop-first"),
        "every eligible node is full: start-first could not place the new task"
    );
    assert_eq!(strings(get(&file, "services.pinned.deploy.placement.constraints")), ["node.hostname == vps-2"]);
    assert_eq!(get(&file, "services.pinned.deploy.endpoint_mode").as_str(), Some("dnsrr"));
    assert!(out.has("spread-unsatisfiable", "services.web.placement"));
    // One replica with a local volume: pinned by hostname where the plan puts it, not warned about.
    assert_eq!(
        strings(get(&file, "services.db.deploy.placement.constraints")),
        ["node.role == worker", "node.hostname == vps-2"]
    );
    assert!(!out.codes().contains(&"stateful-not-pinned"), "{:?}", out.codes());
    assert!(out.diags.iter().all(|d| d.severity == Severity::Warning));
}

#[test]
fn replicas_sharing_a_volume_are_an_error() {
    let spec = "project: shop
phases:
  1: { name: one, target: compose, nodes: { vps-1: { role: manager, cpu: 2, memory: 4Gi } } }
  2: { name: two, target: swarm, nodes: { vps-1: { role: manager, cpu: 2, memory: 4Gi }, vps-2: { cpu: 2, memory: 4Gi } } }
services:
  db: { image: db:1.0, replicas: 2, volumes: { data: { mount: /data } }, placement: { role: manager } }
  files: { image: files:1.0, replicas: 2, volumes: { data: { mount: /srv, access: ReadWriteMany } } }
  spread: { image: kv:1.0, replicas: 2, volumes: { data: { mount: /data } }, placement: { 2: { spread: hard } } }
";
    let compiled = compile_text(spec);
    let compose = render(&compiled, 1, Target::Compose);
    let swarm = render(&compiled, 2, Target::Swarm);
    for out in [&compose, &swarm] {
        let errors: Vec<String> = out
            .diags
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .map(|d| format!("{} {}", d.code, d.path))
            .collect();
        assert!(errors.contains(&"shared-volume services.db.replicas".to_owned()), "{errors:?}");
        assert!(!errors.iter().any(|e| e.contains("files")), "ReadWriteMany is meant to be shared");
    }
    assert!(compose.has("shared-volume", "services.spread.replicas"), "one node: they share");
    assert!(!swarm.has("shared-volume", "services.spread.replicas"), "one replica per node: each has its own");
}

/// What Docker cannot do is one `settings-ignored` warning per service,
/// listing every such setting; settings about Kubernetes (`storage_class`, a
/// volume's `size`) and settings made moot (`run_as_non_root` with a
/// `run_as_user`) are not listed.
#[test]
fn settings_docker_cannot_honour_are_one_warning_per_service() {
    let spec = "project: shop
phases:
  1: { name: one, target: compose, nodes: { vps-1: { role: manager, cpu: 2, memory: 4Gi } } }
  2: { name: two, target: swarm, nodes: { vps-1: { role: manager, cpu: 2, memory: 4Gi }, vps-2: { cpu: 2, memory: 4Gi } } }
services:
  app:
    image: app:1.0
    security: { run_as_non_root: true, run_as_group: 1000, fs_group: 1000 }
  db:
    image: db:1.0
    volumes: { data: { mount: /data, size: 10Gi, storage_class: local-path, access: ReadWriteOnce } }
    security: { run_as_user: 999, run_as_non_root: true, fs_group: 999 }
  files:
    image: files:1.0
    replicas: 2
    volumes: { shared: { mount: /srv, access: ReadWriteMany }, seed: { mount: /seed, access: ReadOnlyMany } }
  plain: { image: \"nginxinc/nginx-unprivileged:1.27\" }
";
    let compiled = compile_text(spec);
    let compose = render(&compiled, 1, Target::Compose);
    let swarm = render(&compiled, 2, Target::Swarm);
    for out in [&compose, &swarm] {
        let ignored: Vec<&topo::diag::Diagnostic> = out.diags.iter().filter(|d| d.code == "settings-ignored").collect();
        let app = ignored.iter().find(|d| d.path.to_string() == "services.app").unwrap();
        for field in ["security.fs_group", "security.run_as_non_root", "security.run_as_group"] {
            assert!(app.message.contains(&format!("`{field}`")), "{}", app.message);
        }
        assert!(app.help.as_deref().unwrap_or_default().contains("run_as_user"), "{:?}", app.help);
        assert!(out.has("settings-ignored", "services.db.security.fs_group"), "one setting: located at it");
        let db = ignored.iter().find(|d| d.path.to_string().starts_with("services.db")).unwrap();
        assert!(!db.message.contains("run_as_non_root"), "moot with a run_as_user: {}", db.message);
        assert!(!db.message.contains("storage_class") && !db.message.contains("size"), "{}", db.message);
        assert!(
            !out.diags.iter().any(|d| d.path.to_string().starts_with("services.plain")),
            "a plain service is quiet"
        );
        assert_eq!(ignored.iter().filter(|d| d.path.to_string().starts_with("services.app")).count(), 1);
    }
    let files_ignored =
        |d: &&topo::diag::Diagnostic| d.code == "settings-ignored" && d.path.to_string().starts_with("services.files");
    assert!(!compose.diags.iter().any(|d| files_ignored(&d)), "one node shares it");
    assert!(swarm.has("settings-ignored", "services.files.volumes.shared.access"), "{:?}", swarm.codes());
    // A ReadOnlyMany volume is mounted read-only, as its access mode asks.
    for out in [&compose, &swarm] {
        let volumes = get(&out.value(), "services.files.volumes").as_sequence().unwrap().clone();
        let seed = volumes.iter().find(|v| get(v, "target").as_str() == Some("/seed")).unwrap();
        assert_eq!(get(seed, "read_only").as_bool(), Some(true));
    }
}

/// `replicas: global`: Swarm's `mode: global` (no replica count, no
/// `max_replicas_per_node`, each node its own volume); compose runs one, and
/// says so when the phase has more nodes.
#[test]
fn a_global_service_is_swarm_global_mode_and_one_compose_replica() {
    let spec = "project: shop
phases:
  1: { name: one, target: compose, nodes: { vps-1: { role: manager, cpu: 2, memory: 4Gi } } }
  2:
    name: two
    target: swarm
    nodes:
      vps-1: { role: manager, cpu: 2, memory: 4Gi }
      vps-2: { cpu: 2, memory: 4Gi }
      vps-3: { cpu: 2, memory: 4Gi }
services:
  agent:
    image: agent:1.2
    security: { run_as_user: 1000 }
    replicas: { 1: 1, 2: global }
    volumes: { buffer: { mount: /buffer } }
    placement: { spread: hard }
";
    let compiled = compile_text(spec);
    let swarm = render(&compiled, 2, Target::Swarm);
    let deploy = get(&swarm.value(), "services.agent.deploy").clone();
    assert_eq!(get(&deploy, "mode").as_str(), Some("global"));
    assert!(deploy.get("replicas").is_none(), "global mode has no replica count");
    assert!(deploy.get("placement").is_none(), "Swarm refuses max_replicas_per_node in global mode");
    assert!(swarm.diags.is_empty(), "each node keeps its own volume: {:?}", swarm.codes());
    let compose = render(&compiled, 1, Target::Compose);
    assert_eq!(get(&compose.value(), "services.agent.deploy.replicas").as_u64(), Some(1));
    assert!(compose.diags.is_empty(), "{:?}", compose.codes());
    // The three-node phase rendered for compose: one replica, and a warning.
    let squeezed = render(&compiled, 2, Target::Compose);
    assert_eq!(get(&squeezed.value(), "services.agent.deploy.replicas").as_u64(), Some(1));
    assert!(squeezed.has("global-one-node", "services.agent.replicas"), "{:?}", squeezed.codes());
    assert!(!squeezed.codes().contains(&"shared-volume"), "one replica shares nothing");
}

#[test]
fn the_cli_fails_on_a_target_error_and_writes_nothing() {
    let input = TempInput::new(
        "topo.yaml",
        "project: shop
phases: { 1: { name: one, target: compose, nodes: { vps-1: { role: manager, cpu: 2, memory: 4Gi } } } }
services:
  db: { image: db:1.0, replicas: 2, volumes: { data: { mount: /data } } }
",
    )
    .unwrap();
    let out_dir = input.dir().join("out");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_topo"))
        .args(["render", "--phase", "1", "--spec"])
        .arg(input.path())
        .arg("--out")
        .arg(&out_dir)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("error[shared-volume]") && stderr.contains("topo.yaml:4:"), "{stderr}");
    assert!(!out_dir.exists());
}

#[test]
fn render_writes_the_target_file_names() {
    let input =
        TempInput::new("topo.yaml", &fs_err::read_to_string(root().join("examples/minimal.yaml")).unwrap()).unwrap();
    for (target, file) in [("compose", "docker-compose.yml"), ("swarm", "stack.yml")] {
        let out_dir = input.dir().join(target);
        let status = std::process::Command::new(env!("CARGO_BIN_EXE_topo"))
            .args(["render", "--phase", "1", "--target", target, "--spec"])
            .arg(input.path())
            .arg("--out")
            .arg(&out_dir)
            .output()
            .unwrap()
            .status;
        assert!(status.success());
        assert!(out_dir.join(file).is_file(), "{target}: {file}");
    }
}

#[test]
fn rendering_is_deterministic() {
    let compiled = finanzas();
    for target in [Target::Compose, Target::Swarm] {
        let first = render(&compiled, 2, target).yaml;
        for _ in 0..3 {
            assert_eq!(render(&finanzas(), 2, target).yaml, first);
        }
    }
}

/// Every spec we ship, every phase, both targets: accepted by the tools our
/// users' pipelines run, with placeholder secrets in a clean environment.
#[test]
fn every_spec_passes_the_docker_validators() {
    let specs = valid_specs();
    // One thread per spec: the tools take most of the time.
    let results: Vec<(Vec<String>, usize)> = std::thread::scope(|scope| {
        let handles: Vec<_> = specs.iter().map(|spec| scope.spawn(move || validate_spec(spec))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let failures: Vec<String> = results.iter().flat_map(|(f, _)| f.clone()).collect();
    let checked: usize = results.iter().map(|(_, n)| n).sum();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(checked > 50, "only {checked} checks ran");
}

/// Every phase of one spec, both targets, through every Docker validator: the failures and the number of checks.
fn validate_spec(spec: &Path) -> (Vec<String>, usize) {
    let mut failures = Vec::new();
    let mut checked = 0;
    let compiled = compile_file(spec);
    let env: Vec<(&str, &str)> = compiled.model.secrets.iter().map(|s| (s.as_str(), "placeholder")).collect();
    for phase in &compiled.model.phases {
        for target in [Target::Compose, Target::Swarm] {
            let out = render(&compiled, phase.number, target);
            let what = format!("{} phase {} {}", spec.display(), phase.number, target.as_str());
            if let Some(error) = out.diags.iter().find(|d| d.severity == Severity::Error) {
                failures.push(format!("{what}: {} {}", error.code, error.message));
                continue;
            }
            assert_only_secret_interpolations(&out.yaml, &compiled.model.secrets);
            let file = TempInput::new(&out.file, &out.yaml).unwrap();
            let mut results = vec![
                ("compose v2 config", validators::compose_v2_config(file.path(), &env)),
                ("compose v1 config", validators::compose_v1_config(file.path(), &env)),
                ("compose-spec schema", validators::compose_schema(file.path())),
            ];
            if target == Target::Swarm {
                results.push(("docker stack config", validators::docker_stack_config(file.path(), &env)));
            }
            for (tool, result) in results {
                checked += 1;
                if let Err(e) = result {
                    failures.push(format!("{what}: {tool}: {e}"));
                }
            }
        }
    }
    (failures, checked)
}

/// A spec whose Redis takes its password from a secret in its arguments, beside a `$` of its own.
const SECRET_ARGS: &str = r#"
project: args
phases:
  1: { name: one, target: compose, nodes: { vps-1: { role: manager, cpu: 2, memory: 4Gi } } }
  2: { name: two, target: swarm, nodes: { vps-1: { role: manager, cpu: 2, memory: 4Gi } } }
secrets: [REDIS_PASSWORD, OTHER]
services:
  cache:
    image: redis:7.4
    port: 6379
    secrets: [REDIS_PASSWORD]
    secrets_as: files
    command: [redis-server, --requirepass, "${REDIS_PASSWORD}", --name, "a$b ${OTHER} ${NOT_A_SECRET}"]
  script:
    image: redis:7.4
    secrets: [REDIS_PASSWORD]
    command: [sh, -c, 'exec redis-server --requirepass "${REDIS_PASSWORD}" --name "${NOT_A_SECRET}"']
"#;

#[test]
fn a_secret_in_a_command_is_filled_in_at_deploy_and_the_rest_stays_text() {
    let compiled = compile_text(SECRET_ARGS);
    let warnings: Vec<(&str, String, &str)> = compiled
        .warnings
        .iter()
        .map(|d| (d.code.as_str(), d.path.to_string(), d.help.as_deref().unwrap_or("")))
        .collect();
    let unfilled: Vec<&(&str, String, &str)> = warnings.iter().filter(|w| w.0 == "command-variable").collect();
    assert_eq!(unfilled.len(), 2, "${{OTHER}} and ${{NOT_A_SECRET}}: {warnings:?}");
    assert!(unfilled.iter().all(|w| w.1 == "services.cache.command.4"), "{unfilled:?}");
    assert!(unfilled[0].2.contains("add `OTHER` to its `secrets`"), "a declared secret: give it: {unfilled:?}");
    assert!(unfilled[1].2.contains("declare `NOT_A_SECRET`"), "{unfilled:?}");

    let expected = ["redis-server", "--requirepass", "s3cret value", "--name", "a$b ${OTHER} ${NOT_A_SECRET}"];
    let out = render(&compiled, 1, Target::Compose);
    // A shell's script is text: the shell reads the secret from the container's environment.
    assert_eq!(
        strings(get(&out.value(), "services.script.command")),
        ["sh", "-c", "exec redis-server --requirepass \"$${REDIS_PASSWORD}\" --name \"$${NOT_A_SECRET}\""]
    );
    let command = strings(get(&out.value(), "services.cache.command")).join(" ");
    assert!(command.contains("${REDIS_PASSWORD:?REDIS_PASSWORD is required}"), "{command}");
    assert!(!command.contains("s3cret"), "no value in the file");
    let file = TempInput::new(&out.file, &out.yaml).unwrap();
    let resolved = validators::compose_v2_resolved(file.path(), &[("REDIS_PASSWORD", "s3cret value")]).unwrap();
    // `config` prints a literal `$` escaped again, as `$$`, so that its output reads back the same.
    let got: Vec<String> = resolved["services"]["cache"]["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().replace("$$", "$"))
        .collect();
    assert_eq!(got, expected, "Compose fills in the secret and leaves the rest as written");
    assert!(validators::compose_v2_config(file.path(), &[]).unwrap_err().contains("REDIS_PASSWORD is required"));

    // Swarm, with the secret delivered as a file: the argument is still the deployer's value.
    let out = render(&compiled, 2, Target::Swarm);
    let file = TempInput::new(&out.file, &out.yaml).unwrap();
    let stack = validators::docker_stack_resolved(file.path(), &[("REDIS_PASSWORD", "s3cret value")]).unwrap();
    let stack: Value = serde_norway::from_str(&stack).unwrap();
    assert_eq!(strings(get(&stack, "services.cache.command")), expected, "docker stack deploy fills it in");
}

#[test]
fn a_missing_secret_fails_the_deploy() {
    let out = render(&finanzas(), 1, Target::Compose);
    let file = TempInput::new(&out.file, &out.yaml).unwrap();
    let err = validators::compose_v2_config(file.path(), &[]).unwrap_err();
    assert!(err.contains("is required"), "{err}");
    let out = render(&finanzas(), 2, Target::Swarm);
    let file = TempInput::new(&out.file, &out.yaml).unwrap();
    let err = validators::docker_stack_config(file.path(), &[]).unwrap_err();
    assert!(err.contains("is required"), "{err}");
}

/// compose-lint's findings on finanzas, each with its reason (README, "compose-lint findings").
#[test]
fn compose_lint_findings_are_known() {
    let digest = ("CL-0019", "images are pinned by tag: the spec has no digests, and a tag is what users review");
    let no_new_privileges = ("CL-0003", "Swarm services cannot set `no-new-privileges` (no security_opt in a stack)");
    let compiled = finanzas();
    let compose = render(&compiled, 1, Target::Compose);
    let file = TempInput::new(&compose.file, &compose.yaml).unwrap();
    validators::compose_lint_allowing(file.path(), &[digest]).unwrap();
    let swarm = render(&compiled, 2, Target::Swarm);
    let file = TempInput::new(&swarm.file, &swarm.yaml).unwrap();
    validators::compose_lint_allowing(file.path(), &[digest, no_new_privileges]).unwrap();
}

#[test]
fn swarm_overlay_is_attachable_and_encrypted_across_nodes_unless_the_phase_opts_out() {
    let spec = "project: shop
phases:
  1: { name: one, target: swarm, nodes: { vps-1: { role: manager, cpu: 2, memory: 4Gi } } }
  2: { name: two, target: swarm, nodes: { vps-1: { role: manager, cpu: 2, memory: 4Gi }, vps-2: { cpu: 2, memory: 4Gi } } }
  3:
    name: three
    target: swarm
    encrypt_network: false
    nodes: { vps-1: { role: manager, cpu: 2, memory: 4Gi }, vps-2: { cpu: 2, memory: 4Gi } }
services:
  web: { image: web:1.0, port: 80 }
";
    let compiled = compile_text(spec);
    for (phase, encrypted) in [(1, false), (2, true), (3, false)] {
        let file = render(&compiled, phase, Target::Swarm).value();
        assert_eq!(get(&file, "networks.default.attachable"), &Value::Bool(true), "phase {phase}");
        let opts = get(&file, "networks.default").get("driver_opts");
        assert_eq!(opts.and_then(|o| o.get("encrypted")).is_some(), encrypted, "phase {phase}: {file:?}");
    }
}

#[test]
fn every_container_and_task_carries_topos_labels() {
    let compiled = finanzas();
    for (phase, target, name) in [(1, Target::Compose, "dokploy"), (2, Target::Swarm, "swarm")] {
        let file = render(&compiled, phase, target).value();
        for (service, entry) in get(&file, "services").as_mapping().unwrap() {
            let service = service.as_str().unwrap();
            // Service-level `labels` are container labels on Swarm too, which cAdvisor exports.
            let labels = strings(get(entry, "labels"));
            for label in
                ["topo.project=finanzas".to_owned(), format!("topo.service={service}"), format!("topo.phase={name}")]
            {
                assert!(labels.contains(&label.as_str()), "{service} in phase {phase}: {labels:?}");
            }
        }
    }
}

/// The official postgres and redis entrypoints start as root, chown their
/// data and drop to their user: with every capability dropped they need those
/// they use back, and postgres a writable `/var/run/postgresql`. Started as
/// their user (`run_as_user`) they skip that step and need none.
#[test]
fn known_database_images_start_under_topos_hardening() {
    let spec = "project: shop
phases:
  1: { name: one, target: compose, nodes: { vps-1: { role: manager, cpu: 4, memory: 8Gi } } }
  2: { name: two, target: swarm, nodes: { vps-1: { role: manager, cpu: 4, memory: 8Gi } } }
services:
  pg: { image: \"postgres:17\", volumes: { data: { mount: /var/lib/postgresql/data } } }
  pg-user:
    image: pgvector/pgvector:pg18
    volumes: { data: { mount: /var/lib/postgresql } }
    security: { run_as_user: 999, run_as_group: 999 }
  cache: { image: \"redis:8.2-alpine\", volumes: { data: { mount: /data } }, security: { capabilities: [NET_BIND_SERVICE] } }
  app: { image: registry.example.com/app:1.0 }
";
    let compiled = compile_text(spec);
    for (phase, target) in [(1, Target::Compose), (2, Target::Swarm)] {
        let out = render(&compiled, phase, target);
        let file = out.value();
        let service = |name: &str| get(&file, &format!("services.{name}")).clone();
        let tmpfs = |name: &str| -> Vec<String> {
            let volumes = service(name).get("volumes").and_then(Value::as_sequence).cloned().unwrap_or_default();
            let tmpfs = volumes.iter().filter(|v| v.get("type").and_then(Value::as_str) == Some("tmpfs"));
            tmpfs.map(|v| v.get("target").and_then(Value::as_str).unwrap().to_owned()).collect()
        };
        let pg = service("pg");
        assert_eq!(strings(get(&pg, "cap_drop")), ["ALL"]);
        assert_eq!(strings(get(&pg, "cap_add")), ["CHOWN", "DAC_OVERRIDE", "FOWNER", "SETGID", "SETUID"]);
        assert_eq!(get(&pg, "read_only"), &Value::Bool(true));
        assert!(pg.get("user").is_none(), "the entrypoint starts as root and drops to 999");
        assert_eq!(tmpfs("pg"), ["/tmp", "/var/run/postgresql"]);
        let pg_user = service("pg-user");
        assert!(pg_user.get("cap_add").is_none(), "started as its user: no root step, no capability");
        assert_eq!(get(&pg_user, "user").as_str(), Some("999:999"));
        assert_eq!(tmpfs("pg-user"), ["/tmp", "/var/run/postgresql"]);
        assert_eq!(
            strings(get(&service("cache"), "cap_add")),
            ["CHOWN", "DAC_READ_SEARCH", "SETGID", "SETUID", "NET_BIND_SERVICE"]
        );
        assert!(out.has("image-hardening-unknown", "services.app.image"), "{:?}", out.codes());
        let quiet = ["pg", "pg-user", "cache"];
        assert!(
            !out.diags.iter().any(|d| d.code == "image-hardening-unknown"
                && quiet.iter().any(|q| d.path.to_string() == format!("services.{q}.image"))),
            "{:?}",
            out.codes()
        );
    }
}

/// A volume mounted `from` another service: one named volume on compose; on
/// Swarm the service runs on the node of the owner's volume, as the plan
/// places it, and an owner spread over nodes is an error.
#[test]
fn a_volume_from_another_service_is_the_same_volume_on_its_node() {
    let spec = "project: cloud
phases:
  1: { name: one, target: compose, nodes: { vps-1: { role: manager, cpu: 4, memory: 8Gi } } }
  2:
    name: two
    target: swarm
    nodes:
      vps-1: { role: manager, cpu: 4, memory: 8Gi }
      vps-2: { role: worker, cpu: 4, memory: 8Gi }
      vps-3: { role: worker, cpu: 4, memory: 8Gi }
services:
  app:
    image: files:1.0
    placement: { 2: { role: worker } }
    volumes: { html: { mount: /var/www/html } }
  cron:
    image: files:1.0
    volumes: { html: { from: app, mount: /srv/html } }
  reader:
    image: files:1.0
    replicas: 2
    volumes: { html: { from: app, mount: /srv/html, read_only: true } }
";
    let compiled = compile_text(spec);
    let compose = render(&compiled, 1, Target::Compose).value();
    assert_eq!(get(&compose, "volumes").as_mapping().unwrap().len(), 1, "one named volume: the owner's");
    assert!(get(&compose, "volumes").get("app-html").is_some());
    for (service, target, read_only) in
        [("app", "/var/www/html", false), ("cron", "/srv/html", false), ("reader", "/srv/html", true)]
    {
        let mount = get(&compose, &format!("services.{service}.volumes.0"));
        assert_eq!(str_of(mount, "source"), "app-html", "{service}");
        assert_eq!(str_of(mount, "target"), target, "{service}");
        assert_eq!(mount.get("read_only").and_then(Value::as_bool).unwrap_or(false), read_only, "{service}");
    }

    let out = render(&compiled, 2, Target::Swarm);
    assert!(!out.diags.iter().any(|d| d.severity == Severity::Error), "{:?}", out.codes());
    let stack = out.value();
    let plan = topo::plan::plan(&compiled.model);
    let phase = plan.phases.iter().find(|p| p.number == 2).unwrap();
    let nodes_of = |service: &str| -> Vec<Option<String>> {
        let mut nodes: Vec<Option<String>> =
            phase.placement.iter().filter(|p| p.service == service).map(|p| p.node.clone()).collect();
        nodes.dedup();
        nodes
    };
    let app_node = nodes_of("app");
    assert_eq!(app_node.len(), 1, "{app_node:?}");
    let app_node = app_node[0].clone().expect("app is placed");
    assert!(app_node != "vps-1", "app is on a worker");
    for service in ["app", "cron", "reader"] {
        let constraints = strings(get(&stack, &format!("services.{service}.deploy.placement.constraints")));
        assert!(constraints.contains(&format!("node.hostname == {app_node}").as_str()), "{service}: {constraints:?}");
        assert_eq!(nodes_of(service), vec![Some(app_node.clone())], "the plan places {service} beside the volume");
    }

    let spread =
        compile_text(&spec.replace("    placement: { 2: { role: worker } }\n", "    replicas: { 1: 1, 2: 2 }\n"));
    let out = render(&spread, 2, Target::Swarm);
    let errors: Vec<String> =
        out.diags.iter().filter(|d| d.severity == Severity::Error).map(|d| format!("{} {}", d.code, d.path)).collect();
    assert!(errors.contains(&"volume-not-shared services.cron.volumes.html.from".to_owned()), "{errors:?}");
    assert!(errors.contains(&"volume-not-shared services.reader.volumes.html.from".to_owned()), "{errors:?}");
    assert!(render(&spread, 1, Target::Compose).diags.iter().all(|d| d.code != "volume-not-shared"), "one node");
}

fn str_of<'v>(value: &'v Value, key: &str) -> &'v str {
    value.get(key).and_then(Value::as_str).unwrap_or_else(|| panic!("no `{key}` in {value:?}"))
}

/// An env value naming a secret of the service (`${NAME}`) is filled in at
/// deploy time, by Compose and by `docker stack deploy`, with the rest as
/// written; the file holds no value, and a `${NAME}` that is no secret of the
/// service is text, with a warning.
#[test]
fn an_env_value_naming_a_secret_is_filled_in_at_deploy() {
    let spec = r#"project: shop
phases:
  1: { name: one, target: compose, nodes: { vps-1: { role: manager, cpu: 2, memory: 4Gi } } }
  2: { name: two, target: swarm, nodes: { vps-1: { role: manager, cpu: 2, memory: 4Gi } } }
secrets: [DB_PASSWORD]
services:
  db:
    image: postgres:17.2
    port: 5432
    secrets: [DB_PASSWORD]
    env: { POSTGRES_PASSWORD: "${DB_PASSWORD}" }
  api:
    image: api:1.0
    secrets: [DB_PASSWORD]
    depends_on: [db]
    env: { DATABASE_URL: "postgres://app:${DB_PASSWORD}@db/app?a=$b&c=${NOT_A_SECRET}" }
"#;
    let compiled = compile_text(spec);
    let unfilled: Vec<String> =
        compiled.warnings.iter().filter(|d| d.code == "env-variable").map(|d| d.path.to_string()).collect();
    assert_eq!(unfilled, ["services.api.env.DATABASE_URL"], "only ${{NOT_A_SECRET}}");
    assert!(!compiled.warnings.iter().any(|d| d.code == "secret-looking-env"), "a reference holds no value");
    let value = "p@ss w$rd";
    let url = format!("postgres://app:{value}@db/app?a=$b&c=${{NOT_A_SECRET}}");
    for (phase, target) in [(1, Target::Compose), (2, Target::Swarm)] {
        let out = render(&compiled, phase, target);
        assert!(out.yaml.contains("POSTGRES_PASSWORD: ${DB_PASSWORD:?DB_PASSWORD is required}"), "{}", out.yaml);
        let file = TempInput::new(&out.file, &out.yaml).unwrap();
        let env = |resolved: &Value, service: &str, key: &str| -> String {
            get(resolved, &format!("services.{service}.environment.{key}")).as_str().unwrap().replace("$$", "$")
        };
        let resolved: Value = match target {
            Target::Compose => {
                let json = validators::compose_v2_resolved(file.path(), &[("DB_PASSWORD", value)]).unwrap();
                serde_norway::from_str(&json.to_string()).unwrap()
            }
            _ => serde_norway::from_str(
                &validators::docker_stack_resolved(file.path(), &[("DB_PASSWORD", value)]).unwrap(),
            )
            .unwrap(),
        };
        assert_eq!(env(&resolved, "db", "POSTGRES_PASSWORD"), value, "{target:?}");
        assert_eq!(env(&resolved, "api", "DATABASE_URL"), url, "{target:?}");
    }
}
