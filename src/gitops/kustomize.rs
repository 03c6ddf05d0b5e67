//! A kustomize tree for the Kubernetes phases: a base with the objects every
//! k8s phase has (as the first of them renders them), and an overlay per phase
//! that adds its own objects and patches the base ones where they differ
//! (replicas, resources, placement, …) with RFC 6902 JSON patches.
//!
//! A small spec is one kustomization per phase (`overlays/<phase>`). A large
//! one is split into parts that GitOps tools build independently, because
//! kustomize's time grows with the square of the objects of one build: the
//! objects every service shares (`shared`) and groups of services
//! (`group-NN`), the same in the base and each overlay
//! (`overlays/<phase>/<part>`). A service's group depends only on its name and
//! on the number of groups, so adding a service moves no other.
//!
//! `kubectl kustomize` of a phase's overlay (or of each of its parts) rebuilds
//! exactly the objects that `topo render --phase N --target k8s` prints.
//! Every lookup is by key, so the tree costs time linear in the objects.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;
use serde_json::Value;

use crate::emit::yaml::{group_by_file, texts, to_yaml};
use crate::render::Document;
use crate::render::k8s::TreeObject;
use crate::render::k8s::kustomization::{Kustomization, PatchRef, PatchTarget};

/// Above this many services in one Kubernetes phase, the tree is split into parts.
pub const SPLIT_ABOVE_SERVICES: usize = 50;
/// How many services a group holds on average, at most.
pub const GROUP_SERVICES: usize = 50;
/// The part of the objects no one service owns.
pub const SHARED_PART: &str = "shared";

/// One phase's rendered objects.
pub struct PhaseObjects {
    /// The overlay's directory name, `<number>-<name>`.
    pub dir: String,
    pub objects: Vec<TreeObject>,
}

/// How the phases are cut into kustomizations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// One kustomization per phase.
    Whole,
    /// `shared` plus this many groups of services per phase.
    Split { groups: usize },
}

impl Layout {
    /// Whole up to [`SPLIT_ABOVE_SERVICES`] services in every phase, else enough
    /// groups (a power of two) for [`GROUP_SERVICES`] services each on average.
    pub fn for_services(most: usize) -> Self {
        if most <= SPLIT_ABOVE_SERVICES {
            return Layout::Whole;
        }
        Layout::Split { groups: most.div_ceil(GROUP_SERVICES).next_power_of_two() }
    }

    /// The part an object of `service` (or a shared one) belongs to: `""` when whole.
    pub fn part(self, service: Option<&str>) -> String {
        match (self, service) {
            (Layout::Whole, _) => String::new(),
            (Layout::Split { .. }, None) => SHARED_PART.to_owned(),
            (Layout::Split { groups }, Some(service)) => {
                let width = (groups - 1).to_string().len().max(2);
                format!("group-{:0width$}", fnv1a(service) % groups as u64)
            }
        }
    }

    /// A directory of the tree: `base` or `overlays/<phase>`, then the part if split.
    fn dir(self, top: &str, part: &str) -> String {
        if part.is_empty() { top.to_owned() } else { format!("{top}/{part}") }
    }

    /// The path from an overlay to its base.
    fn base_from_overlay(self, part: &str) -> String {
        if part.is_empty() { "../../base".to_owned() } else { format!("../../../base/{part}") }
    }
}

/// FNV-1a, 64 bits: a stable hash, the same on every machine and release.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3))
}

/// One RFC 6902 operation.
#[derive(Serialize)]
struct Op {
    op: &'static str,
    path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<Value>,
}

/// What identifies an object across phases.
fn key(object: &TreeObject) -> (&str, &str) {
    (object.kind.as_str(), object.name.as_str())
}

/// One kustomization being filled: its files (in order, once each) and patches.
#[derive(Default)]
struct Part {
    resources: Vec<String>,
    listed: HashSet<String>,
    patches: Vec<PatchRef>,
}

impl Part {
    fn list(&mut self, file: &str) {
        if self.listed.insert(file.to_owned()) {
            self.resources.push(file.to_owned());
        }
    }
}

/// The files of the tree, relative to the `k8s/` directory: `base/…` and `overlays/<phase>/…`.
pub fn tree(phases: &[PhaseObjects], layout: Layout) -> Vec<(String, String)> {
    // Serialised together at the end, where a large tree's thousands of objects can share the cores.
    let mut files: Vec<(String, &Document)> = Vec::new();
    let mut owned: Vec<(String, String)> = Vec::new();
    let Some(first) = phases.first() else { return Vec::new() };
    // The base: objects every phase has, as the first phase renders them.
    let mut phases_with: HashMap<(&str, &str), usize> = HashMap::new();
    for phase in phases {
        let keys: HashSet<(&str, &str)> = phase.objects.iter().map(key).collect();
        for k in keys {
            *phases_with.entry(k).or_default() += 1;
        }
    }
    let mut base: HashMap<(&str, &str), (&TreeObject, String)> = HashMap::new();
    let mut base_parts: BTreeMap<String, Part> = BTreeMap::new();
    if layout == Layout::Whole {
        base_parts.insert(String::new(), Part::default());
    }
    for object in first.objects.iter().filter(|o| phases_with[&key(o)] == phases.len()) {
        let part = layout.part(object.service.as_deref());
        files.push((format!("{}/{}", layout.dir("base", &part), object.document.file), &object.document));
        base_parts.entry(part.clone()).or_default().list(&object.document.file);
        base.entry(key(object)).or_insert((object, part));
    }
    for (part, kustomization) in &base_parts {
        let text = to_yaml(&Kustomization::new(kustomization.resources.clone(), Vec::new()));
        owned.push((format!("{}/kustomization.yaml", layout.dir("base", part)), text));
    }
    for phase in phases {
        let top = format!("overlays/{}", phase.dir);
        let mut parts: BTreeMap<String, Part> = BTreeMap::new();
        for part in base_parts.keys() {
            parts.entry(part.clone()).or_default().list(&layout.base_from_overlay(part));
        }
        for object in &phase.objects {
            match base.get(&key(object)) {
                None => {
                    let part = layout.part(object.service.as_deref());
                    files.push((format!("{}/{}", layout.dir(&top, &part), object.document.file), &object.document));
                    parts.entry(part).or_default().list(&object.document.file);
                }
                Some((base_object, part)) => {
                    if base_object.value == object.value {
                        continue;
                    }
                    let mut ops = Vec::new();
                    diff(&base_object.value, &object.value, &mut String::new(), &mut ops);
                    if ops.is_empty() {
                        continue;
                    }
                    let file = format!("{}-{}.patch.yaml", object.name, object.kind.to_lowercase());
                    owned.push((format!("{}/{file}", layout.dir(&top, part)), to_yaml(&ops)));
                    let entry = parts.entry(part.clone()).or_default();
                    entry.patches.push(PatchRef { path: file, target: patch_target(object) });
                }
            }
        }
        for (part, kustomization) in parts {
            let text = to_yaml(&Kustomization::new(kustomization.resources, kustomization.patches));
            owned.push((format!("{}/kustomization.yaml", layout.dir(&top, &part)), text));
        }
    }
    // Objects that share a file (two claims of one service) become one multi-document file.
    let texts = texts(&files.iter().map(|(_, document)| *document).collect::<Vec<_>>());
    let objects = files.iter().zip(&texts).map(|((path, _), text)| (path.as_str(), text.as_str()));
    group_by_file(objects.chain(owned.iter().map(|(path, text)| (path.as_str(), text.as_str()))))
}

/// What a patch applies to: the object's group, version, kind and name.
fn patch_target(object: &TreeObject) -> PatchTarget {
    let api_version = object.value.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    PatchTarget {
        group: group.to_owned(),
        version: version.to_owned(),
        kind: object.kind.clone(),
        name: object.name.clone(),
    }
}

/// RFC 6902 operations that turn `from` into `to`. Maps are diffed key by key;
/// lists of the same length element by element, other lists are replaced.
fn diff(from: &Value, to: &Value, path: &mut String, ops: &mut Vec<Op>) {
    match (from, to) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, va) in a {
                let len = path.len();
                push_segment(path, k);
                match b.get(k) {
                    Some(vb) => diff(va, vb, path, ops),
                    None => ops.push(Op { op: "remove", path: path.clone(), value: None }),
                }
                path.truncate(len);
            }
            for (k, vb) in b {
                if !a.contains_key(k) {
                    let len = path.len();
                    push_segment(path, k);
                    ops.push(Op { op: "add", path: path.clone(), value: Some(vb.clone()) });
                    path.truncate(len);
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (va, vb)) in a.iter().zip(b).enumerate() {
                let len = path.len();
                push_segment(path, &i.to_string());
                diff(va, vb, path, ops);
                path.truncate(len);
            }
        }
        _ if from == to => {}
        _ => ops.push(Op { op: "replace", path: path.clone(), value: Some(to.clone()) }),
    }
}

/// Append one JSON-pointer segment, escaped (`~` → `~0`, `/` → `~1`).
fn push_segment(path: &mut String, segment: &str) {
    path.push('/');
    path.push_str(&segment.replace('~', "~0").replace('/', "~1"));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ops(from: Value, to: Value) -> Vec<(String, String, Option<Value>)> {
        let mut out = Vec::new();
        diff(&from, &to, &mut String::new(), &mut out);
        out.into_iter().map(|o| (o.op.to_owned(), o.path, o.value)).collect()
    }

    #[test]
    fn diff_is_minimal_and_escapes_keys() {
        let from = json!({"spec": {"replicas": 2, "x": 1, "labels": {"app.kubernetes.io/name": "a"}}});
        let to = json!({"spec": {"labels": {"app.kubernetes.io/name": "b"}, "y": [1]}});
        assert_eq!(
            ops(from, to),
            [
                ("replace".to_owned(), "/spec/labels/app.kubernetes.io~1name".to_owned(), Some(json!("b"))),
                ("remove".to_owned(), "/spec/replicas".to_owned(), None),
                ("remove".to_owned(), "/spec/x".to_owned(), None),
                ("add".to_owned(), "/spec/y".to_owned(), Some(json!([1]))),
            ]
        );
    }

    #[test]
    fn lists_of_another_length_are_replaced() {
        assert_eq!(
            ops(json!({"a": [1, 2]}), json!({"a": [1, 3]})),
            [("replace".to_owned(), "/a/1".to_owned(), Some(json!(3)))]
        );
        assert_eq!(
            ops(json!({"a": [1, 2]}), json!({"a": [1]})),
            [("replace".to_owned(), "/a".to_owned(), Some(json!([1])))]
        );
        assert!(ops(json!({"a": {"b": [1]}}), json!({"a": {"b": [1]}})).is_empty());
    }
}
