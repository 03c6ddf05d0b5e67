//! The Swarm target: one stack file for `docker stack deploy` (and Dokploy's
//! stack mode). `docker-compose-types` lacks several Swarm fields
//! (`rollback_config`, `update_config.order`, `max_replicas_per_node`,
//! `endpoint_mode`), so `deploy` is our own typed struct around its pieces.

use crate::code::Code;
use docker_compose_types as dct;
use indexmap::IndexMap;
use serde::Serialize;

use crate::diag::Diagnostic;
use crate::model::names::{self, STACK_FILE as FILE};
use crate::model::{Model, Node, Phase, Service};
use crate::plan;
use crate::spec::{SecretsAs, Spread};

use super::docker::{self, File, Flavor};
use super::{Body, Document, Rendered, service_path};
use std::sync::Arc;

/// The stack file format version: 3.8 has every key used here
/// (`max_replicas_per_node` is the newest) and every Docker CLI since 19.03 reads it.
pub const VERSION: &str = "3.8";

/// A service's `deploy` section as `docker stack deploy` reads it.
#[derive(Debug, Serialize)]
pub struct Deploy {
    pub mode: Mode,
    /// None in `global` mode: one task per eligible node.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replicas: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint_mode: Option<EndpointMode>,
    /// Service labels: where Traefik's Swarm provider reads its configuration.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub placement: Option<Placement>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<dct::Resources>,
    pub restart_policy: dct::RestartPolicy,
    pub update_config: UpdateConfig,
    pub rollback_config: UpdateConfig,
}

#[derive(Clone, Copy, Debug, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Replicated,
    /// One task on every node the placement admits.
    Global,
}

#[derive(Clone, Copy, Debug, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EndpointMode {
    /// A virtual IP in front of the tasks (Swarm's default).
    Vip,
    /// DNS round robin over the tasks, no virtual IP.
    Dnsrr,
}

/// `deploy.placement` with the `max_replicas_per_node` the crate lacks.
#[derive(Debug, Serialize)]
pub struct Placement {
    #[serde(flatten)]
    pub base: dct::Placement,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_replicas_per_node: Option<u32>,
}

/// `update_config` or `rollback_config`, with the `order` the crate lacks.
#[derive(Debug, Serialize)]
pub struct UpdateConfig {
    #[serde(flatten)]
    pub base: dct::UpdateConfig,
    pub order: Order,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Order {
    /// Start the new task before stopping the old one: no gap in service.
    StartFirst,
    /// Stop the old task first: one writer at a time on a volume, and room on a full node.
    StopFirst,
}

pub fn render(model: &Model, phase: &Phase) -> Rendered {
    let mut rendered = Rendered::default();
    let mut services = IndexMap::new();
    let mut secrets = IndexMap::new();
    // Services that keep their data on one node, pinned there by hostname (the plan places them there too).
    let pinned = plan::schedule::data_pins(phase);
    let admitting = super::Admitting::new(phase);
    for service in phase.services.values() {
        let eligible = admitting.nodes(&service.placement);
        let mut entry = docker::service_entry::<Deploy>(model, service, Flavor::Swarm);
        entry.base.networks = docker::service_networks(service);
        // Container labels (what cAdvisor sees); Traefik reads the service's `deploy.labels`.
        entry.base.labels = dct::Labels::List(docker::topo_labels(model, phase, service));
        let pin = pinned.get(&service.name).map(String::as_str);
        entry.deploy = Some(deploy(model, phase, service, &eligible, pin));
        if service.secrets_as == SecretsAs::Files {
            for secret in &service.secrets {
                let external =
                    dct::ComposeSecret::External { external: true, name: names::swarm_secret_name(model, secret) };
                secrets.insert(secret.clone(), Some(external));
            }
        }
        services.insert(service.name.clone(), entry);
        docker::warn_common(&mut rendered, phase, service, Flavor::Swarm);
        docker::warn_ignored_settings(&mut rendered, service, Flavor::Swarm, eligible.len());
        warn(&mut rendered, service, &eligible, pin);
    }
    for diag in super::volumes::errors(phase, crate::spec::Target::Swarm, &pinned) {
        rendered.diagnostics.push(diag);
    }
    secrets.sort_keys();
    rendered.notes = notes(model, phase, &secrets);
    let mut networks = IndexMap::from([(docker::DEFAULT_NETWORK.to_owned(), dct::MapOrEmpty::Map(overlay(phase)))]);
    if phase.services.values().any(|s| s.expose.is_some()) {
        let (name, settings) = docker::dokploy_network();
        networks.insert(name, settings);
    }
    let file = File {
        version: Some(VERSION.to_owned()),
        services,
        top: dct::Compose {
            volumes: docker::top_level_volumes(phase),
            networks: dct::ComposeNetworks(networks),
            secrets: (!secrets.is_empty()).then_some(dct::ComposeSecrets(secrets)),
            ..Default::default()
        },
    };
    rendered.documents.push(Document { file: FILE.to_owned(), body: Body::Swarm(Arc::new(file)) });
    rendered
}

/// The stack's own overlay network: attachable, so that a one-off
/// `docker run --network <project>_default` (a migration, a psql shell) can
/// join it; encrypted between nodes (IPsec) unless the phase opts out, since
/// the services' traffic (database passwords included) crosses the hosts' network.
fn overlay(phase: &Phase) -> dct::NetworkSettings {
    let mut driver_opts = IndexMap::new();
    if phase.encrypt_network {
        driver_opts.insert("encrypted".to_owned(), Some(dct::SingleValue::String("true".to_owned())));
    }
    dct::NetworkSettings { driver: Some("overlay".to_owned()), attachable: true, driver_opts, ..Default::default() }
}

/// What to do by hand before `docker stack deploy`: label the nodes the
/// placement names, create the external secrets, export the others.
fn notes(model: &Model, phase: &Phase, files: &IndexMap<String, Option<dct::ComposeSecret>>) -> Vec<String> {
    let mut notes = Vec::new();
    let mut labelled: Vec<(&str, &str, &str)> = Vec::new();
    for service in phase.services.values() {
        for (key, value) in &service.placement.labels {
            for node in phase.nodes.values().filter(|n| n.labels.get(key) == Some(value)) {
                labelled.push((node.name.as_str(), key.as_str(), value.as_str()));
            }
        }
    }
    labelled.sort();
    labelled.dedup();
    for (node, key, value) in labelled {
        notes.push(format!("label the node (once): docker node update --label-add {key}={value} {node}"));
    }
    if phase.encrypt_network {
        notes.push(
            "the stack's overlay network is encrypted: open IP protocol 50 (ESP) between the nodes, besides 4789/udp"
                .to_owned(),
        );
    }
    for secret in files.keys() {
        notes.push(format!(
            "create the Swarm secret (once): printf %s \"${secret}\" | docker secret create {} -",
            names::swarm_secret_name(model, secret)
        ));
    }
    let mut from_env: Vec<&str> = phase
        .services
        .values()
        .filter(|s| s.secrets_as == SecretsAs::Env)
        .flat_map(|s| s.secrets.iter().map(String::as_str))
        .collect();
    from_env.sort();
    from_env.dedup();
    if !from_env.is_empty() {
        notes.push(format!("export {} before `docker stack deploy`, which reads no .env file", from_env.join(", ")));
    }
    notes
}

fn deploy(model: &Model, phase: &Phase, service: &Service, eligible: &[&Node], pin: Option<&str>) -> Deploy {
    let placement = &service.placement;
    let mut constraints = Vec::new();
    if let Some(role) = placement.role {
        constraints.push(format!("node.role == {}", role.as_str()));
    }
    if let Some(node) = placement.node.as_deref().or(pin) {
        constraints.push(format!("node.hostname == {node}"));
    }
    constraints.extend(placement.labels.iter().map(|(k, v)| format!("node.labels.{k} == {v}")));
    // A global service already runs one task per node; Swarm refuses `max_replicas_per_node` in global mode.
    let hard = placement.spread == Some(Spread::Hard) && !service.is_global();
    let placement = (!constraints.is_empty() || hard).then(|| Placement {
        base: dct::Placement { constraints, preferences: Vec::new() },
        max_replicas_per_node: hard.then_some(1),
    });
    // A new task cannot start beside the old one when the old one holds a
    // single-writer volume, or when every eligible node already runs its one replica.
    let full = hard && service.replicas() as usize >= eligible.len();
    let order = if service.stateful || docker::shared_volume(service).is_some() || full {
        Order::StopFirst
    } else {
        Order::StartFirst
    };
    let update = |failure_action: &str, delay: &str| UpdateConfig {
        base: dct::UpdateConfig {
            parallelism: Some(1),
            delay: Some(delay.to_owned()),
            failure_action: Some(failure_action.to_owned()),
            monitor: Some("30s".to_owned()),
            max_failure_ratio: None,
        },
        order,
    };
    Deploy {
        mode: if service.is_global() { Mode::Global } else { Mode::Replicated },
        replicas: (!service.is_global()).then_some(service.replicas()),
        // Nothing connects to a service without ports: it needs no virtual IP.
        endpoint_mode: service.ports.is_empty().then_some(EndpointMode::Dnsrr),
        labels: docker::traefik_labels(model, phase, service, Flavor::Swarm),
        placement,
        resources: docker::resources(service),
        restart_policy: dct::RestartPolicy {
            condition: Some("any".to_owned()),
            delay: Some("5s".to_owned()),
            max_attempts: None,
            window: Some("2m".to_owned()),
        },
        update_config: update("rollback", "10s"),
        rollback_config: update("pause", "0s"),
    }
}

/// `a`, `a and b`, `a, b and c`.
fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

fn warn(rendered: &mut Rendered, service: &Service, eligible: &[&Node], pin: Option<&str>) {
    if !service.depends_on.is_empty() {
        rendered.warn(
            Code::DependsOnIgnored,
            format!(
                "Swarm ignores `depends_on`: `{}` may start before {}, so it is left out of the stack",
                service.name,
                and_list(&service.depends_on.iter().map(|d| format!("`{d}`")).collect::<Vec<_>>())
            ),
            &service_path(service, "depends_on"),
            "make the service retry its connections at start-up; Swarm restarts it until they succeed",
        );
    }
    // A global service's tasks never move between nodes: each node keeps its own volume.
    let writable = service.volumes.iter().find(|v| !v.read_only);
    if let Some(volume) = writable
        && eligible.len() > 1
        && !service.is_global()
        && pin.is_none()
    {
        let nodes = eligible.iter().map(|n| n.name.as_str()).collect::<Vec<_>>().join(", ");
        let (code, what) = if service.stateful {
            (Code::StatefulNotPinned, "stateful service")
        } else {
            (Code::VolumeNotPinned, "service")
        };
        rendered.warn(
            code,
            format!(
                "{what} `{}` may run on any of {nodes}: volume `{}` is local to a node, so its data stays behind when Swarm moves the service",
                service.name, volume.name
            ),
            &service_path(service, "placement"),
            "pin it to one node: `placement: { node: <hostname> }`, or a role or label only one node has",
        );
    }
    let hard = service.placement.spread == Some(Spread::Hard);
    if hard && service.replicas() as usize > eligible.len() {
        rendered.warn(
            Code::SpreadUnsatisfiable,
            format!(
                "`{}` asks for {} replicas at most one per node, but only {} node{} admit it: the rest stay pending",
                service.name,
                service.replicas(),
                eligible.len(),
                if eligible.len() == 1 { "" } else { "s" }
            ),
            &service_path(service, "placement"),
            "add nodes, relax the placement, or lower the replicas for this phase",
        );
    }
    // Global: one task per node, each with its own local volume.
    if service.replicas() > 1
        && !hard
        && !service.is_global()
        && let Some(volume) = docker::shared_volume(service)
    {
        let pinned = eligible.len() <= 1;
        let message = if pinned {
            format!(
                "the {} replicas of `{}` all run on one node and would mount the same volume `{}`: a single-writer volume shared by several writers corrupts its data",
                service.replicas(),
                service.name,
                volume.name
            )
        } else {
            format!(
                "the {} replicas of `{}` can land on one node and then mount the same volume `{}`: a single-writer volume shared by several writers corrupts its data",
                service.replicas(),
                service.name,
                volume.name
            )
        };
        rendered.diagnostics.push(Diagnostic::error(Code::SharedVolume, message, &service_path(service, "replicas")).help(
            "run one replica, use `placement: { spread: hard }` so each replica has its own node and volume, or mark the volume `read_only: true` or `access: ReadWriteMany`",
        ));
    }
}
