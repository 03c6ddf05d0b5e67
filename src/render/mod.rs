//! Targets: pure functions from one resolved phase to typed documents (the
//! compose file, the stack file, the rule file, each Kubernetes object); the
//! emit stage turns them into bytes (`emit::yaml`). Each target also reports,
//! as warnings, whatever the spec asks that it cannot honour: nothing is
//! dropped silently.

pub mod compose;
pub mod docker;
pub mod k8s;
pub mod rules;
pub mod swarm;
pub mod volumes;

use std::sync::Arc;

use crate::code::Code;
use serde::Serialize;

use crate::diag::{Diagnostic, Diagnostics};
use crate::model::{Model, Node, Phase, Placement, Service};
use crate::spec::Role;
use crate::spec::Target;
use crate::yaml::SpecPath;

/// One typed document and the file it belongs to when written into a directory.
#[derive(Clone, Debug)]
pub struct Document {
    /// Path relative to the output directory, with `/` separators.
    pub file: String,
    pub body: Body,
}

/// What a document holds, as its target built it.
#[derive(Clone, Debug)]
pub enum Body {
    Compose(Arc<docker::File<docker_compose_types::Deploy>>),
    Swarm(Arc<docker::File<swarm::Deploy>>),
    Rules(Arc<rules::RuleFile>),
    K8s(Arc<k8s::Manifest>),
    Kustomization(Arc<k8s::kustomization::Kustomization>),
}

/// A body serialises as what it holds.
impl Serialize for Body {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Body::Compose(file) => file.serialize(serializer),
            Body::Swarm(file) => file.serialize(serializer),
            Body::Rules(file) => file.serialize(serializer),
            Body::K8s(object) => object.serialize(serializer),
            Body::Kustomization(kustomization) => kustomization.serialize(serializer),
        }
    }
}

/// What a target makes of one phase.
#[derive(Debug, Default)]
pub struct Rendered {
    /// The documents, in the order they are printed to stdout.
    pub documents: Vec<Document>,
    /// Files written only into a directory (a kustomization.yaml, say), never to stdout.
    pub directory_only: Vec<Document>,
    /// What the target could not honour (warnings), or refuses to render (errors), located at
    /// the spec path that asked for it.
    pub diagnostics: Diagnostics,
    /// Steps the user takes by hand before applying (create a Secret, label nodes), printed on stderr.
    pub notes: Vec<String>,
}

impl Rendered {
    pub(crate) fn warn(&mut self, code: Code, message: impl Into<String>, path: &SpecPath, help: &str) {
        self.diagnostics.push(Diagnostic::warning(code, message, path).help(help));
    }
}

/// The nodes of a phase that each placement admits, found once per distinct
/// placement rather than once per service (a phase has few placements and
/// many services).
pub struct Admitting<'p> {
    phase: &'p Phase,
    cache: std::cell::RefCell<std::collections::HashMap<PlacementKey, std::rc::Rc<[&'p Node]>>>,
}

type PlacementKey = (Option<Role>, Option<String>, Vec<(String, String)>);

impl<'p> Admitting<'p> {
    pub fn new(phase: &'p Phase) -> Self {
        Admitting { phase, cache: Default::default() }
    }

    /// The nodes `placement` admits, in node order.
    pub fn nodes(&self, placement: &Placement) -> std::rc::Rc<[&'p Node]> {
        let key: PlacementKey = (
            placement.role,
            placement.node.clone(),
            placement.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        );
        let mut cache = self.cache.borrow_mut();
        let phase = self.phase;
        cache
            .entry(key)
            .or_insert_with(|| match &placement.node {
                // A pinned placement admits its node at most: no need to look at the others.
                Some(name) => phase
                    .nodes
                    .get_key_value(name)
                    .filter(|(_, n)| placement.admits(n))
                    .map(|(_, n)| n)
                    .into_iter()
                    .collect(),
                None => phase.nodes.values().filter(|n| placement.admits(n)).collect(),
            })
            .clone()
    }
}

/// What `topo render` can produce for a phase: a deployment target, or its alert rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    Target(Target),
    Rules,
}

/// Render one phase as a target's files or as its alert rules.
pub fn render_output(model: &Model, phase: &Phase, output: Output) -> Rendered {
    match output {
        Output::Target(target) => render(model, phase, target),
        Output::Rules => rules::render(model, phase),
    }
}

/// Render one phase of the model for a target (its own, or another one).
pub fn render(model: &Model, phase: &Phase, target: Target) -> Rendered {
    match target {
        Target::K8s => k8s::render(model, phase),
        Target::Compose => compose::render(model, phase),
        Target::Swarm => swarm::render(model, phase),
    }
}

/// What `topo check` finds wrong with the targets' output beyond validation:
/// errors of a spec that compiles and renders, but whose output would not
/// start (an image the kubelet would refuse). Rendering reports the same as warnings.
pub fn check(model: &Model) -> Diagnostics {
    let mut diags = k8s::check(model);
    for phase in &model.phases {
        for diag in volumes::errors(phase, phase.target, &volumes::pins(phase)) {
            diags.push(diag);
        }
    }
    diags
}

/// The spec path of a service's field, for warnings.
pub fn service_path(service: &Service, field: &str) -> SpecPath {
    let path = SpecPath::root().key("services").key(service.name.as_str());
    if field.is_empty() { path } else { path.key(field) }
}
