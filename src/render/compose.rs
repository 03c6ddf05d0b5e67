//! The compose target: one `docker-compose.yml` for one node, ready for
//! Dokploy's compose mode (Traefik labels, its external network) and for a
//! plain `docker compose up`.

use crate::code::Code;
use docker_compose_types as dct;
use indexmap::IndexMap;

use crate::model::names::COMPOSE_FILE as FILE;
use crate::model::{Model, Node, Phase, Service};
use crate::spec::{Role, Spread, Target};

use super::docker::{self, File, Flavor};
use super::{Body, Document, Rendered, service_path};
use std::sync::Arc;

pub fn render(model: &Model, phase: &Phase) -> Rendered {
    let mut rendered = Rendered::default();
    let node = compose_node(phase);
    let mut services = IndexMap::new();
    for service in phase.services.values() {
        let mut entry = docker::service_entry::<dct::Deploy>(model, service, Flavor::Compose);
        entry.base.restart = Some("unless-stopped".to_owned());
        entry.base.depends_on = depends_on(phase, service);
        let mut labels = docker::topo_labels(model, phase, service);
        labels.extend(docker::traefik_labels(model, phase, service, Flavor::Compose));
        entry.base.labels = dct::Labels::List(labels);
        entry.base.networks = docker::service_networks(service);
        entry.deploy = Some(dct::Deploy {
            replicas: Some(i64::from(replicas(service))),
            resources: docker::resources(service),
            ..Default::default()
        });
        services.insert(service.name.clone(), entry);
        docker::warn_common(&mut rendered, phase, service, Flavor::Compose);
        docker::warn_ignored_settings(&mut rendered, service, Flavor::Compose, 1);
        warn(&mut rendered, node, service);
    }
    let mut networks = IndexMap::new();
    if phase.services.values().any(|s| s.expose.is_some()) {
        let (name, settings) = docker::dokploy_network();
        networks.insert(name, settings);
    }
    let file = File {
        version: None,
        services,
        top: dct::Compose {
            volumes: docker::top_level_volumes(phase),
            networks: dct::ComposeNetworks(networks),
            ..Default::default()
        },
    };
    rendered.documents.push(Document { file: FILE.to_owned(), body: Body::Compose(Arc::new(file)) });
    let mut secrets: Vec<&str> = phase.services.values().flat_map(|s| s.secrets.iter().map(String::as_str)).collect();
    secrets.sort();
    secrets.dedup();
    if !secrets.is_empty() {
        rendered.notes.push(format!(
            "set {} in Dokploy's Environment tab, or in a .env file beside {FILE}: compose refuses to start without them",
            secrets.join(", ")
        ));
    }
    rendered
}

/// Replicas on the one compose node: a global service runs one.
fn replicas(service: &Service) -> u32 {
    service.fixed_replicas(Target::Compose)
}

/// The node compose runs on: the phase's manager (the Dokploy host), else its first node.
fn compose_node(phase: &Phase) -> Option<&Node> {
    phase.nodes.values().find(|n| n.role == Role::Manager).or_else(|| phase.nodes.values().next())
}

/// Each dependency with `service_healthy` when it has a health check, `service_started` otherwise.
fn depends_on(phase: &Phase, service: &Service) -> dct::DependsOnOptions {
    if service.depends_on.is_empty() {
        return dct::DependsOnOptions::default();
    }
    let conditions = service
        .depends_on
        .iter()
        .map(|name| {
            let healthy = phase.services.get(name).is_some_and(|dep| dep.health.is_some());
            let condition = if healthy {
                dct::DependsCondition::service_healthy()
            } else {
                dct::DependsCondition::service_started()
            };
            (name.clone(), condition)
        })
        .collect();
    dct::DependsOnOptions::Conditional(conditions)
}

fn warn(rendered: &mut Rendered, node: Option<&Node>, service: &Service) {
    if service.is_global() && service.replicas() > 1 {
        rendered.warn(
            Code::GlobalOneNode,
            format!(
                "compose runs one replica of global `{}` on its one node; this phase has {} nodes that would each run one",
                service.name, service.replicas()
            ),
            &service_path(service, "replicas"),
            "render this phase for swarm (`mode: global`) or k8s (a DaemonSet) to run one on every node",
        );
    }
    let replicas = replicas(service);
    if let Some(node) = node
        && !service.placement.admits(node)
    {
        rendered.warn(
            Code::PlacementIgnored,
            format!(
                "compose runs every service on one node ({}), which `{}`'s placement excludes; it runs there anyway",
                node.name, service.name
            ),
            &service_path(service, "placement"),
            "render this phase for swarm to honour placement, or relax it for this phase",
        );
    }
    if replicas > 1 && service.placement.spread == Some(Spread::Hard) {
        rendered.warn(
            Code::SpreadIgnored,
            format!(
                "compose runs all {} replicas of `{}` on one node: `spread: hard` cannot hold",
                replicas, service.name
            ),
            &service_path(service, "placement"),
            "render this phase for swarm, or use one replica here",
        );
    }
    if replicas > 1
        && let Some(volume) = docker::shared_volume(service)
    {
        rendered.diagnostics.push(
            crate::diag::Diagnostic::error(
                Code::SharedVolume,
                format!(
                    "the {} replicas of `{}` would all mount volume `{}` on the one compose node: a single-writer volume shared by several writers corrupts its data",
                    replicas, service.name, volume.name
                ),
                &service_path(service, "replicas"),
            )
            .help("run one replica in this phase, or mark the volume `read_only: true` or `access: ReadWriteMany` if the application shares it safely"),
        );
    }
}
