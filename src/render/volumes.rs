//! Volumes one service mounts `from` another: what each target can share.
//!
//! Compose runs on one node, so both services mount the one named volume.
//! Swarm's named volumes are local to a node: the service runs on the node
//! where the owner's volume is, which needs the owner on one node. On
//! Kubernetes the service mounts the owner's claim; a `ReadWriteOnce` claim
//! attaches to one node, so its pods run beside the owner's (a pod affinity),
//! and a `ReadWriteOncePod` claim admits one pod only.

use std::collections::BTreeMap;

use crate::code::Code;
use crate::diag::Diagnostic;
use crate::model::{Phase, Service, Volume};
use crate::spec::{AccessMode, Target};

use super::service_path;

/// The data pins a phase's shared volumes are checked against; none to compute
/// when no service mounts another's volume.
pub fn pins(phase: &Phase) -> BTreeMap<String, String> {
    let sharing = phase.services.values().any(|s| s.shared_volumes().next().is_some());
    if sharing { crate::plan::schedule::data_pins(phase) } else { BTreeMap::new() }
}

/// The errors of a phase's shared volumes, rendered for `target`, with the
/// phase's [`data_pins`](crate::plan::schedule::data_pins).
pub fn errors(phase: &Phase, target: Target, pins: &BTreeMap<String, String>) -> Vec<Diagnostic> {
    if target == Target::Compose {
        return Vec::new();
    }
    let mut out = Vec::new();
    for service in phase.services.values() {
        for volume in service.shared_volumes() {
            let Some(owner) = volume.from.as_ref().and_then(|o| phase.services.get(&o.service)) else { continue };
            if let Some(error) = error(phase, target, pins, service, owner, volume) {
                out.push(error);
            }
        }
    }
    out
}

fn error(
    phase: &Phase,
    target: Target,
    pins: &BTreeMap<String, String>,
    service: &Service,
    owner: &Service,
    volume: &Volume,
) -> Option<Diagnostic> {
    let at = service_path(service, "volumes").key(volume.name.as_str()).key("from");
    let what = format!(
        "in phase {} ({}), `{}` mounts volume `{}` of `{}`",
        phase.number,
        target.as_str(),
        service.name,
        volume.name,
        owner.name
    );
    let fail = |why: String, help: &str| {
        Some(Diagnostic::error(Code::VolumeNotShared, format!("{what}: {why}"), &at).help(help))
    };
    let target_name = target.as_str();
    if target == Target::K8s {
        if let Some((why, help)) = k8s_refusal(owner, volume) {
            return fail(why, help);
        }
        if matches!(volume.access, AccessMode::ReadWriteMany | AccessMode::ReadOnlyMany) {
            return None;
        }
    }
    // The volume lives on one node: the owner's, and the service goes there.
    if owner.peak_replicas() == 0 && !owner.is_global() {
        // It never runs: the volume is wherever this service creates it.
        return None;
    }
    let Some(node) = crate::plan::schedule::volume_node(phase, pins, owner) else {
        let why = if owner.is_global() {
            format!("`{}` runs on every node, each with its own volume on {target_name}", owner.name)
        } else if owner.peak_replicas() == 1 {
            format!(
                "`{}` mounts its volumes read-only and is not kept on one node, and a {target_name} volume stays on the node that mounts it",
                owner.name
            )
        } else {
            format!(
                "`{}` runs {} replicas that can land on different nodes, and a {target_name} volume stays on the node that mounts it",
                owner.name,
                owner.peak_replicas()
            )
        };
        return fail(why, "run one replica of the owner, or pin it with `placement: { node: … }`");
    };
    beside_owner(phase, pins, service, node).and_then(|(why, help)| fail(why, help))
}

/// Why Kubernetes cannot share the owner's claim, whatever the nodes.
fn k8s_refusal(owner: &Service, volume: &Volume) -> Option<(String, &'static str)> {
    if volume.access == AccessMode::ReadWriteOncePod {
        return Some((
            "its claim is ReadWriteOncePod, which one pod only may mount".to_owned(),
            "give the owner's volume `access: ReadWriteOnce` (pods on one node) or `ReadWriteMany`",
        ));
    }
    if volume.from.as_ref().is_some_and(|o| o.stateful) && owner.peak_replicas() > 1 {
        return Some((
            format!("`{}` is a StatefulSet of {} replicas, each with its own claim", owner.name, owner.peak_replicas()),
            "share a volume of a single-replica service, or of a Deployment with `access: ReadWriteMany`",
        ));
    }
    None
}

/// Why the service cannot run beside the owner's volume on `node`.
fn beside_owner(
    phase: &Phase,
    pins: &BTreeMap<String, String>,
    service: &Service,
    node: &str,
) -> Option<(String, &'static str)> {
    if service.is_global() {
        return Some((
            format!("it runs on every node, and the volume is on `{node}` only"),
            "give it a replica count instead of `replicas: global`",
        ));
    }
    if let Some(own) = &service.placement.node
        && own.as_str() != node
    {
        return Some((
            format!("it is placed on `{own}`, and the volume is on `{node}`"),
            "place both services on one node, or remove this service's `placement.node`",
        ));
    }
    // Its pin is the first such volume's node: another one elsewhere cannot be beside it too.
    if let Some(pin) = pins.get(&service.name)
        && pin.as_str() != node
    {
        return Some((
            format!("it runs on `{pin}`, beside another volume it mounts, and this one is on `{node}`"),
            "place the owners on one node (`placement: { node: … }`), or make all but one of the volumes `ReadWriteMany`",
        ));
    }
    if let Some(node) = phase.nodes.get(node)
        && !service.placement.admits(node)
    {
        return Some((
            format!("its placement does not admit `{}`, the node of the volume", node.name),
            "relax its placement (role, labels) so that it admits the owner's node",
        ));
    }
    None
}
