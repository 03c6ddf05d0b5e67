//! What the compose and Swarm targets share: both write the compose file
//! format, so a service's image, command, environment, health check, security
//! settings, volumes and Traefik labels are built here once, as
//! `docker-compose-types` values. Where that crate lacks a field or orders
//! fields awkwardly, the typed wrappers below add it; no YAML is ever built
//! from text.

use crate::code::Code;
use docker_compose_types as dct;
use indexmap::IndexMap;
use serde::Serialize;

use crate::image::ImageRef;
use crate::model::names::{DOKPLOY_NETWORK, mounted_volume, volume_name};
use crate::model::{Arg, Check, Model, Phase, Probe, Service};
use crate::spec::{AccessMode, Cpu, Duration, HttpClient, Memory, SecretsAs};

use crate::image::known::{self as images, Family};

use super::{Rendered, service_path};

/// The network every service is on.
pub const DEFAULT_NETWORK: &str = "default";

/// A whole compose or stack file: `services` first, then the crate's top-level
/// sections (volumes, networks, secrets).
#[derive(Debug, Serialize)]
pub struct File<D> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    pub services: IndexMap<String, ServiceEntry<D>>,
    /// Only its top-level sections are used; its own `services` stays empty.
    #[serde(flatten)]
    pub top: dct::Compose,
}

/// One service: the crate's `Service`, with the fields a reader looks for
/// first (image, entrypoint, command) in front, and the health check and
/// `deploy` section (the target's own type) at the end.
#[derive(Debug, Serialize)]
pub struct ServiceEntry<D> {
    pub image: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<dct::Entrypoint>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<dct::Command>,
    /// The container ports, not published: the file documents them (and
    /// `topo import` reads them back); other services reach them on the
    /// project's network, the public through Traefik.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub expose: Vec<u16>,
    /// Everything else; its `image`, `entrypoint`, `command`, `expose`, `healthcheck` and `deploy` stay empty.
    #[serde(flatten)]
    pub base: dct::Service,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<dct::Healthcheck>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deploy: Option<D>,
}

/// Which of the two targets is rendering: the few places they differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    Compose,
    Swarm,
}

impl Flavor {
    fn name(self) -> &'static str {
        match self {
            Flavor::Compose => "compose",
            Flavor::Swarm => "Swarm",
        }
    }
}

/// The parts of a service both targets write the same way. The caller adds
/// `restart`, `depends_on`, labels (compose) or `deploy` (Swarm).
pub fn service_entry<D>(model: &Model, service: &Service, flavor: Flavor) -> ServiceEntry<D> {
    let security = &service.security;
    let start = root_start(service);
    let mut volumes: Vec<dct::Volumes> = service
        .volumes
        .iter()
        .map(|volume| {
            dct::Volumes::Advanced(dct::AdvancedVolumes {
                source: Some(mounted_volume(service, volume)),
                target: volume.mount.clone(),
                _type: "volume".to_owned(),
                // A ReadOnlyMany volume is mounted read-only, as its access mode says.
                read_only: volume.read_only || volume.access == AccessMode::ReadOnlyMany,
                bind: None,
                volume: None,
                tmpfs: None,
            })
        })
        .collect();
    if security.read_only_root_filesystem {
        // The root is read-only: the model's writable paths are tmpfs mounts.
        volumes.extend(security.writable.iter().map(|target| {
            dct::Volumes::Advanced(dct::AdvancedVolumes {
                source: None,
                target: target.clone(),
                _type: "tmpfs".to_owned(),
                read_only: false,
                bind: None,
                volume: None,
                tmpfs: None,
            })
        }));
    }
    let user = security.run_as_user.map(|uid| match security.run_as_group {
        Some(gid) => format!("{uid}:{gid}"),
        None => uid.to_string(),
    });
    let base = dct::Service {
        environment: environment(model, service, flavor),
        user,
        read_only: security.read_only_root_filesystem,
        cap_drop: vec!["ALL".to_owned()],
        cap_add: capabilities(&start, &security.capabilities),
        // Swarm services cannot set security options (`docker stack deploy` ignores them).
        security_opt: match flavor {
            Flavor::Compose => vec!["no-new-privileges:true".to_owned()],
            Flavor::Swarm => Vec::new(),
        },
        volumes,
        stop_grace_period: Some(service.stop_grace_period.go()),
        secrets: match (flavor, service.secrets_as) {
            (Flavor::Swarm, SecretsAs::Files) if !service.secrets.is_empty() => {
                Some(dct::Secrets::Simple(service.secrets.clone()))
            }
            _ => None,
        },
        ..Default::default()
    };
    ServiceEntry {
        image: service.image.to_string(),
        entrypoint: service.entrypoint.as_ref().map(|argv| dct::Entrypoint::List(command_args(argv))),
        command: service.command.as_ref().map(|argv| dct::Command::Args(command_args(argv))),
        expose: service.ports.iter().map(|p| p.number).collect(),
        base,
        healthcheck: service.health.as_ref().map(|health| healthcheck(&health.readiness, &service.image)),
        deploy: None,
    }
}

/// What a known image needs to start under topo's hardening (every
/// capability dropped, a read-only root) on Docker, which cannot run a
/// container as the image's user unless told (`user:`).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RootStart {
    /// Capabilities its entrypoint uses as root before it drops to its user.
    pub capabilities: &'static [&'static str],
}

/// The official postgres entrypoint, as root, creates and chowns PGDATA and
/// `/var/run/postgresql` (chown, and chmod of files it does not own: FOWNER;
/// reading them: DAC_OVERRIDE), then drops to postgres with gosu (SETUID,
/// SETGID); mysql, mariadb, mongo and rabbitmq do the same with their data
/// directories. The redis entrypoint chowns `/data` and drops with gosu or
/// su-exec; its `find` walks into the directories redis made there, 0700 and
/// redis's own (`appendonlydir`), which root may not enter without
/// DAC_READ_SEARCH: without it, a restart with an append-only file loops on
/// "Permission denied" (the lab's restart of `--appendonly yes` showed it). Started as a user (`run_as_user`), they skip that step: then they
/// need no capability, and a new named volume is already theirs, since Docker
/// copies the ownership of the image's directory (the user's) into it.
/// postgres also writes its socket and lock in `/var/run/postgresql`.
pub fn root_start(service: &Service) -> RootStart {
    const CHOWN_AND_DROP: &[&str] = &["CHOWN", "DAC_OVERRIDE", "FOWNER", "SETGID", "SETUID"];
    let Some(known) = images::known(&service.image) else { return RootStart::default() };
    let as_root = known.starts_as_root && service.security.run_as_user.is_none();
    let capabilities: &'static [&'static str] = match known.family {
        _ if !as_root => &[],
        Family::Redis => &["CHOWN", "DAC_READ_SEARCH", "SETGID", "SETUID"],
        Family::Postgres | Family::Other => CHOWN_AND_DROP,
    };
    RootStart { capabilities }
}

/// `cap_add`: what the image's entrypoint needs, then the spec's own, each once.
fn capabilities(start: &RootStart, asked: &[String]) -> Vec<String> {
    let mut all: Vec<String> = start.capabilities.iter().map(|c| (*c).to_owned()).collect();
    all.extend(asked.iter().filter(|c| !start.capabilities.contains(&c.as_str())).cloned());
    all
}

/// The environment: shared and own `env`, then each secret, sorted by name.
/// A secret is never a value: `${NAME:?NAME is required}` makes compose and
/// `docker stack deploy` fail when it is missing, or on Swarm with
/// `secrets_as: files`, `NAME_FILE` names the mounted secret.
fn environment(_model: &Model, service: &Service, flavor: Flavor) -> dct::Environment {
    let mut env: Vec<(String, String)> = service.env.iter().map(|(k, v)| (k.clone(), escape_dollars(v))).collect();
    env.extend(service.secret_env.iter().map(|(k, arg)| (k.clone(), arg.render(escape_dollars, required))));
    for secret in &service.secrets {
        match (flavor, service.secrets_as) {
            (Flavor::Swarm, SecretsAs::Files) => env.push((format!("{secret}_FILE"), format!("/run/secrets/{secret}"))),
            _ => env.push((secret.clone(), required(secret))),
        }
    }
    env.sort();
    dct::Environment::KvPair(env.into_iter().map(|(k, v)| (k, Some(dct::SingleValue::String(v)))).collect())
}

/// Compose and Swarm have one health check. They run the readiness check
/// (which is the liveness check when only one is given).
fn healthcheck(check: &Check, image: &ImageRef) -> dct::Healthcheck {
    let probe = check.compose_test.as_ref().unwrap_or(&check.probe);
    let client = check.http_client.or_else(|| images::http_client(image));
    let start_period = check.initial_delay.map_or(0, Duration::millis) + check.start_period.map_or(0, Duration::millis);
    dct::Healthcheck {
        test: Some(dct::HealthcheckTest::Multiple(health_test(probe, client))),
        interval: Some(check.interval.go()),
        timeout: Some(check.timeout.go()),
        retries: i64::from(check.retries),
        start_period: (start_period > 0).then(|| Duration::from_millis(start_period).go()),
        start_interval: None,
        disable: false,
    }
}

/// The `test` of a health check. An `http` or `tcp` check needs a program in
/// the image. For http: the client the spec or the image's name names (a
/// one-line fetch with the image's Bun, Node.js or Python runtime, or wget
/// or curl), else `wget` (BusyBox, in every Alpine image) or else `curl`;
/// for tcp: `nc -z`, else a plain `nc` that connects and sends nothing
/// (busybox builds without `-z`, Debian's among them), else bash's
/// `/dev/tcp`. `compose_test` replaces them.
pub fn health_test(probe: &Probe, client: Option<HttpClient>) -> Vec<String> {
    match probe {
        Probe::Exec { argv } => std::iter::once("CMD".to_owned()).chain(escape_all(argv)).collect(),
        Probe::Shell { line } => vec!["CMD-SHELL".to_owned(), escape_dollars(line)],
        Probe::Http { path, port } => {
            let url = format!("http://127.0.0.1:{port}{path}");
            match client {
                Some(client) => std::iter::once("CMD".to_owned()).chain(http_command(client, &url)).collect(),
                None => {
                    vec!["CMD-SHELL".to_owned(), format!("wget -q -O /dev/null {url} || curl -fsS -o /dev/null {url}")]
                }
            }
        }
        Probe::Tcp { port } => {
            vec![
                "CMD-SHELL".to_owned(),
                format!(
                    "nc -z 127.0.0.1 {port} || nc -w 2 127.0.0.1 {port} </dev/null || bash -c '</dev/tcp/127.0.0.1/{port}'"
                ),
            ]
        }
    }
}

/// One GET of `url` that exits 0 on a 2xx answer (after redirects) and
/// non-zero on any other status or error, with one program and no shell.
pub fn http_command(client: HttpClient, url: &str) -> Vec<String> {
    let fetch = format!("fetch('{url}').then(r=>process.exit(r.ok?0:1)).catch(()=>process.exit(1))");
    let argv: Vec<String> = match client {
        HttpClient::Bun => vec!["bun".into(), "-e".into(), fetch],
        HttpClient::Node => vec!["node".into(), "-e".into(), fetch],
        // urlopen raises on an HTTP error status and on a failed connection: exit 1.
        HttpClient::Python => {
            vec![
                "python3".into(),
                "-c".into(),
                format!("import urllib.request; urllib.request.urlopen('{url}', timeout=10)"),
            ]
        }
        HttpClient::Wget => vec!["wget".into(), "-q".into(), "-O".into(), "/dev/null".into(), url.into()],
        HttpClient::Curl => vec!["curl".into(), "-fsS".into(), "-o".into(), "/dev/null".into(), url.into()],
    };
    escape_all(&argv)
}

/// The label key that tells Traefik which network reaches the containers: each
/// provider reads only its own namespace, and Traefik's Swarm provider (since
/// v3.2.2) skips a service that carries labels of both, so each flavour writes
/// its provider's key and no other.
fn traefik_network_label(flavor: Flavor) -> &'static str {
    match flavor {
        Flavor::Compose => "traefik.docker.network",
        Flavor::Swarm => "traefik.swarm.network",
    }
}

/// The prefix of a service's Traefik router, service and middleware names:
/// project, phase and service, so that two copies of an app (two phases, or
/// staging beside production) on one Traefik do not share a router.
pub fn traefik_name(model: &Model, phase: &Phase, service: &Service) -> String {
    format!("{}-{}-{}", model.project, phase.name, service.name)
}

/// Traefik labels as Dokploy writes them for a domain: a `web` router and,
/// with TLS, a `websecure` router with the certresolver and a redirect from
/// `web`; each router has its own Traefik service with the load-balancer port.
pub fn traefik_labels(model: &Model, phase: &Phase, service: &Service, flavor: Flavor) -> Vec<String> {
    let Some(expose) = &service.expose else { return Vec::new() };
    let mut labels = vec!["traefik.enable=true".to_owned()];
    labels.push(format!("{}={DOKPLOY_NETWORK}", traefik_network_label(flavor)));
    let base = traefik_name(model, phase, service);
    let mut rule = format!("Host(`{}`)", expose.host);
    if expose.path != "/" {
        rule.push_str(&format!(" && PathPrefix(`{}`)", expose.path));
    }
    let tls = expose.tls.then_some(model.ingress.certresolver.as_deref()).flatten();
    let redirect = format!("{base}-redirect-to-https");
    let mut router = |entrypoint: &str, extra: &[String]| {
        let name = format!("{base}-{entrypoint}");
        labels.push(format!("traefik.http.routers.{name}.rule={rule}"));
        labels.push(format!("traefik.http.routers.{name}.entrypoints={entrypoint}"));
        labels.push(format!("traefik.http.routers.{name}.service={name}"));
        labels.extend(extra.iter().map(|label| format!("traefik.http.routers.{name}.{label}")));
        labels.push(format!("traefik.http.services.{name}.loadbalancer.server.port={}", expose.port));
    };
    match tls {
        Some(resolver) => {
            router("web", &[format!("middlewares={redirect}")]);
            router("websecure", &["tls=true".to_owned(), format!("tls.certresolver={resolver}")]);
            labels.push(format!("traefik.http.middlewares.{redirect}.redirectscheme.scheme=https"));
            labels.push(format!("traefik.http.middlewares.{redirect}.redirectscheme.permanent=true"));
        }
        None => router("web", &[]),
    }
    labels
}

/// topo's own container labels, on every container and Swarm task: what alert
/// rules select on, since Dokploy deploys a compose app under a project name
/// with a random suffix (`com.docker.compose.project` is not the spec's project).
pub fn topo_labels(model: &Model, phase: &Phase, service: &Service) -> Vec<String> {
    vec![
        format!("{TOPO_PROJECT_LABEL}={}", model.project),
        format!("{TOPO_SERVICE_LABEL}={}", service.name),
        format!("{TOPO_PHASE_LABEL}={}", phase.name),
    ]
}

/// The container labels topo puts on every container (cAdvisor exports them as
/// `container_label_topo_project`, `container_label_topo_service`, …).
pub const TOPO_PROJECT_LABEL: &str = "topo.project";
pub const TOPO_SERVICE_LABEL: &str = "topo.service";
pub const TOPO_PHASE_LABEL: &str = "topo.phase";

/// The top-level `networks` entry of Dokploy's network.
pub fn dokploy_network() -> (String, dct::MapOrEmpty<dct::NetworkSettings>) {
    let settings = dct::NetworkSettings { external: Some(dct::ComposeNetwork::Bool(true)), ..Default::default() };
    (DOKPLOY_NETWORK.to_owned(), dct::MapOrEmpty::Map(settings))
}

/// A service's `networks`: exposed services also join Dokploy's network, so Traefik reaches them.
pub fn service_networks(service: &Service) -> dct::Networks {
    if service.expose.is_some() {
        dct::Networks::Simple(vec![DEFAULT_NETWORK.to_owned(), DOKPLOY_NETWORK.to_owned()])
    } else {
        dct::Networks::default()
    }
}

/// Top-level named volumes of every service, in service order.
pub fn top_level_volumes(phase: &Phase) -> dct::TopLevelVolumes {
    dct::TopLevelVolumes(
        phase
            .services
            .values()
            .flat_map(|s| s.own_volumes().map(move |v| (volume_name(s, &v.name), dct::MapOrEmpty::Empty)))
            .collect(),
    )
}

/// `deploy.resources` in compose notation: `cpus: "0.25"`, `memory: 512M`.
pub fn resources(service: &Service) -> Option<dct::Resources> {
    let amounts = |cpu: Option<Cpu>, memory: Option<Memory>| {
        (cpu.is_some() || memory.is_some()).then(|| dct::Limits {
            cpus: cpu.map(Cpu::docker),
            memory: memory.map(Memory::docker),
            devices: None,
        })
    };
    let resources = &service.resources;
    let limits = amounts(resources.limits.cpu, resources.limits.memory);
    let reservations = amounts(resources.requests.cpu, resources.requests.memory);
    (limits.is_some() || reservations.is_some()).then_some(dct::Resources { limits, reservations })
}

/// Compose interpolates `$` everywhere in the file: a literal `$` is written `$$`.
pub fn escape_dollars(text: &str) -> String {
    text.replace('$', "$$")
}

fn escape_all(argv: &[String]) -> Vec<String> {
    argv.iter().map(|a| escape_dollars(a)).collect()
}

/// A command's arguments for compose and Swarm: text with its `$` escaped, each secret as the
/// same required interpolation as its env var (the deployer's value, filled in at deploy time).
fn command_args(argv: &[Arg]) -> Vec<String> {
    argv.iter().map(|a| a.render(escape_dollars, required)).collect()
}

/// `${NAME:?NAME is required}`: compose and `docker stack deploy` refuse to start without it.
pub fn required(secret: &str) -> String {
    format!("${{{secret}:?{secret} is required}}")
}

/// Warnings both targets share: what a compose file cannot say about health checks and autoscaling.
pub fn warn_common(rendered: &mut Rendered, phase: &Phase, service: &Service, flavor: Flavor) {
    let target = flavor.name();
    if let Some(health) = &service.health {
        if health.liveness != health.readiness {
            rendered.warn(
                Code::LivenessNotUsed,
                format!(
                    "{target} runs one health check: `{}` gets its readiness check; its liveness check is not used",
                    service.name
                ),
                &service_path(service, "health").key("liveness"),
                "give both the same check, or accept that only readiness runs here",
            );
        }
        if health.startup.is_some() {
            rendered.warn(
                Code::StartupNotUsed,
                format!("{target} has no startup probe: `{}`'s startup check is not used", service.name),
                &service_path(service, "health").key("startup"),
                "use `start_period` on the readiness check to give a slow starter time",
            );
        }
    }
    warn_image(rendered, service, flavor);
    // Validation already warns about a compose or swarm phase; this covers rendering a k8s phase here.
    if let Some(autoscale) = service.autoscale()
        && phase.target == crate::spec::Target::K8s
    {
        rendered.warn(
            Code::AutoscaleIgnored,
            format!(
                "{target} has no autoscaler: `{}` runs {} replicas (the autoscaler would go up to {})",
                service.name,
                service.replicas(),
                autoscale.max
            ),
            &service_path(service, "autoscale"),
            "raise `replicas` for this phase if the peak needs more",
        );
    }
}

/// What topo cannot know of an image it does not know: whether its http
/// check's program is in it, and whether it starts under topo's hardening.
fn warn_image(rendered: &mut Rendered, service: &Service, flavor: Flavor) {
    let target = flavor.name();
    if let Some(check) = service.health.as_ref().map(|h| &h.readiness)
        && matches!(check.probe, Probe::Http { .. })
        && check.compose_test.is_none()
        && check.http_client.is_none()
        && images::http_client(&service.image).is_none()
    {
        rendered.warn(
            Code::HttpCheckToolUnknown,
            format!(
                "{target} runs `{}`'s http check inside the container with wget or curl, and `{}` may have neither (slim and distroless images, oven/bun): then it never turns healthy",
                service.name, service.image
            ),
            &service_path(service, "health"),
            "say what the image has: `http_client: bun`, `node`, `python`, `wget` or `curl` on the check, or give it a `compose_test`",
        );
    }
    if images::known(&service.image).is_none() && service.security.run_as_user.is_none() {
        rendered.warn(
            Code::ImageHardeningUnknown,
            format!(
                "{target} starts `{}` with every capability dropped{}, as the image's own user: topo does not know `{}`, nor whether its entrypoint needs root (to chown its data or switch user)",
                service.name,
                if service.security.read_only_root_filesystem { " and a read-only root" } else { "" },
                service.image
            ),
            &service_path(service, "image"),
            "give its numeric user, `security: { run_as_user: <uid> }`, so it starts as that user; add `capabilities` or `writable` paths if it still needs them",
        );
    }
}

/// One setting of a service that a target cannot honour, and why.
struct Ignored {
    /// The field's path below the service (`security.fs_group`).
    field: Vec<String>,
    why: String,
    help: &'static str,
}

/// One warning per service for every setting Docker cannot honour, so that a
/// spec written for every target is not buried under one warning per field.
/// Settings *about* another target (`storage_class`, a volume's `size` as a
/// Kubernetes claim, `ingress.class`) are not listed: the README says what
/// compose and Swarm make of them.
pub fn warn_ignored_settings(rendered: &mut Rendered, service: &Service, flavor: Flavor, nodes_admitting: usize) {
    let security = &service.security;
    let mut ignored: Vec<Ignored> = Vec::new();
    let field = |parts: &[&str]| parts.iter().map(|p| (*p).to_owned()).collect::<Vec<_>>();
    if security.fs_group.is_some() {
        ignored.push(Ignored {
            field: field(&["security", "fs_group"]),
            why: "Docker gives mounted volumes no group: a new named volume keeps the owner of the image's directory at its mount path".to_owned(),
            help: "if that owner is not the service's user, chown the volume once: `docker run --rm -v <volume>:/v alpine chown -R <uid>:<gid> /v`",
        });
    }
    if security.run_as_non_root_asked && security.run_as_user.is_none() {
        ignored.push(Ignored {
            field: field(&["security", "run_as_non_root"]),
            why: "Docker cannot refuse to start a container as root: the image's own user runs".to_owned(),
            help: "give `run_as_user`, which Docker does honour",
        });
    }
    if security.run_as_group.is_some() && security.run_as_user.is_none() {
        ignored.push(Ignored {
            field: field(&["security", "run_as_group"]),
            why: "Docker sets a group only together with a user (`user: uid:gid`)".to_owned(),
            help: "give `run_as_user` as well",
        });
    }
    let spans_nodes = nodes_admitting > 1 && (service.replicas() > 1 || service.is_global());
    if flavor == Flavor::Swarm && spans_nodes {
        for volume in service.own_volumes().filter(|v| v.access == AccessMode::ReadWriteMany && !v.read_only) {
            ignored.push(Ignored {
                field: field(&["volumes", volume.name.as_str(), "access"]),
                why: "Swarm's named volumes are local to each node: replicas on different nodes do not share this one".to_owned(),
                help: "for data shared across nodes, use a volume driver (NFS, say) in the stack file by hand, or pin the service to one node",
            });
        }
    }
    if ignored.is_empty() {
        return;
    }
    let listed: Vec<String> = ignored.iter().map(|i| format!("`{}` ({})", i.field.join("."), i.why)).collect();
    let message = format!(
        "{} cannot honour {} of `{}`: {}",
        flavor.name(),
        if ignored.len() == 1 { "one setting" } else { "these settings" },
        service.name,
        listed.join("; ")
    );
    // One setting: point at it; several: at the service.
    let path = match ignored.as_slice() {
        [one] => one.field.iter().fold(service_path(service, ""), |path, key| path.key(key.as_str())),
        _ => service_path(service, ""),
    };
    let help: Vec<&str> = ignored.iter().map(|i| i.help).collect();
    rendered.warn(Code::SettingsIgnored, message, &path, &help.join("; "));
}

/// Whether replicas of a service would share one writable single-writer
/// volume: several replicas on one node mount the same named volume.
pub fn shared_volume(service: &Service) -> Option<&crate::model::Volume> {
    service
        .volumes
        .iter()
        .find(|v| !v.read_only && matches!(v.access, AccessMode::ReadWriteOnce | AccessMode::ReadWriteOncePod))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A spec with one exposed service, for the label tests.
    fn exposed() -> Model {
        let spec = "project: shop
phases:
  1: { name: one, target: compose, nodes: { vps-1: { role: manager, cpu: 2, memory: 4Gi } } }
  2: { name: two, target: swarm, nodes: { vps-1: { role: manager, cpu: 2, memory: 4Gi } } }
ingress: { tls: letsencrypt }
services:
  web: { image: web:1.0, port: 80, expose: { host: shop.example.com } }
";
        match crate::compile(spec.as_bytes()) {
            Ok(compiled) => compiled.model,
            Err(diags) => panic!("{:?}", diags.iter().map(|d| &d.message).collect::<Vec<_>>()),
        }
    }

    #[test]
    fn each_flavor_writes_only_its_own_traefik_providers_labels() {
        let model = exposed();
        // Traefik's docker provider reads `traefik.docker.*`, its Swarm provider
        // `traefik.swarm.*`; the Swarm provider skips a service carrying both.
        for (flavor, own, other) in [
            (Flavor::Compose, "traefik.docker.", "traefik.swarm."),
            (Flavor::Swarm, "traefik.swarm.", "traefik.docker."),
        ] {
            let phase = &model.phases[usize::from(flavor == Flavor::Swarm)];
            let labels = traefik_labels(&model, phase, &phase.services["web"], flavor);
            assert!(labels.contains(&format!("{own}network={DOKPLOY_NETWORK}")), "{flavor:?}: {labels:#?}");
            assert!(labels.iter().all(|l| !l.starts_with(other)), "{flavor:?} has {other}*: {labels:#?}");
            assert!(labels.iter().all(|l| l.starts_with("traefik.")), "{labels:#?}");
        }
    }

    #[test]
    fn router_names_carry_the_phase_so_two_copies_do_not_collide() {
        let model = exposed();
        let names = |i: usize| -> Vec<String> {
            let phase = &model.phases[i];
            traefik_labels(&model, phase, &phase.services["web"], Flavor::Compose)
                .iter()
                .filter_map(|l| {
                    l.strip_prefix("traefik.http.").map(|l| l.split('.').take(2).collect::<Vec<_>>().join("."))
                })
                .collect()
        };
        let (one, two) = (names(0), names(1));
        assert!(one.contains(&"routers.shop-one-web-websecure".to_owned()), "{one:#?}");
        assert!(one.contains(&"middlewares.shop-one-web-redirect-to-https".to_owned()), "{one:#?}");
        assert!(one.iter().all(|n| !two.contains(n)), "phases share a name: {one:#?} {two:#?}");
    }

    #[test]
    fn topo_labels_name_project_service_and_phase() {
        let model = exposed();
        let phase = &model.phases[0];
        assert_eq!(
            topo_labels(&model, phase, &phase.services["web"]),
            ["topo.project=shop", "topo.service=web", "topo.phase=one"]
        );
    }

    #[test]
    fn dollars_are_escaped() {
        assert_eq!(escape_dollars("a$b$$c"), "a$$b$$$$c");
        let test = health_test(&Probe::Shell { line: "test -n \"$PGUSER\"".into() }, None);
        assert_eq!(test, ["CMD-SHELL", "test -n \"$$PGUSER\""]);
    }

    #[test]
    fn http_and_tcp_checks_use_tools_in_the_image() {
        let http = health_test(&Probe::Http { path: "/ready".into(), port: 4000 }, None);
        assert_eq!(
            http[1],
            "wget -q -O /dev/null http://127.0.0.1:4000/ready || curl -fsS -o /dev/null http://127.0.0.1:4000/ready"
        );
        let tcp = health_test(&Probe::Tcp { port: 5432 }, None);
        assert_eq!(
            tcp[1],
            "nc -z 127.0.0.1 5432 || nc -w 2 127.0.0.1 5432 </dev/null || bash -c '</dev/tcp/127.0.0.1/5432'"
        );
        assert_eq!(health_test(&Probe::Exec { argv: vec!["pg_isready".into()] }, None), ["CMD", "pg_isready"]);
    }

    #[test]
    fn http_checks_with_the_images_own_runtime_need_no_extra_tool() {
        let probe = Probe::Http { path: "/ready".into(), port: 4000 };
        let url = "http://127.0.0.1:4000/ready";
        let fetch = format!("fetch('{url}').then(r=>process.exit(r.ok?0:1)).catch(()=>process.exit(1))");
        assert_eq!(health_test(&probe, Some(HttpClient::Bun)), ["CMD", "bun", "-e", fetch.as_str()]);
        assert_eq!(health_test(&probe, Some(HttpClient::Node)), ["CMD", "node", "-e", fetch.as_str()]);
        let python = health_test(&probe, Some(HttpClient::Python));
        assert_eq!(python[..3], ["CMD", "python3", "-c"]);
        assert_eq!(python[3], format!("import urllib.request; urllib.request.urlopen('{url}', timeout=10)"));
        assert_eq!(health_test(&probe, Some(HttpClient::Curl)), ["CMD", "curl", "-fsS", "-o", "/dev/null", url]);
        for client in HttpClient::ALL.map(|(_, c)| c) {
            let line = health_test(&probe, Some(client)).join(" ");
            assert_eq!(line.matches("http://").count(), 1, "one URL literal: {line}");
        }
    }
}
