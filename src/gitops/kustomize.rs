//! A kustomize tree for the Kubernetes phases: a base with the objects every
//! k8s phase has (as the first of them renders them), and an overlay per phase
//! that adds its own objects and patches the base ones where they differ
//! (replicas, resources, placement, …) with RFC 6902 JSON patches.
//!
//! `kubectl kustomize <dir>/k8s/overlays/<phase>` rebuilds exactly the objects
//! that `topo render --phase N --target k8s` prints.

use serde::Serialize;
use serde_json::Value;

use crate::target::{Document, group_by_file, to_yaml};

/// One phase's rendered objects, as `(file, object)`.
pub struct PhaseObjects {
    /// The overlay's directory name, `<number>-<name>`.
    pub dir: String,
    pub objects: Vec<(Document, Value)>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Kustomization {
    api_version: &'static str,
    kind: &'static str,
    resources: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    patches: Vec<PatchRef>,
}

#[derive(Serialize)]
struct PatchRef {
    path: String,
    target: PatchTarget,
}

#[derive(Serialize)]
struct PatchTarget {
    #[serde(skip_serializing_if = "String::is_empty")]
    group: String,
    version: String,
    kind: String,
    name: String,
}

/// One RFC 6902 operation.
#[derive(Serialize)]
struct Op {
    op: &'static str,
    path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<Value>,
}

fn key(value: &Value) -> (String, String) {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    (text(&value["kind"]), text(&value["metadata"]["name"]))
}

/// The files of the tree, relative to the `k8s/` directory: `base/…` and `overlays/<phase>/…`.
pub fn tree(phases: &[PhaseObjects]) -> Vec<(String, String)> {
    let mut files = Vec::new();
    let Some(first) = phases.first() else { return files };
    // The base: objects every phase has, as the first phase renders them.
    let base: Vec<&(Document, Value)> = first
        .objects
        .iter()
        .filter(|(_, v)| phases.iter().all(|p| p.objects.iter().any(|(_, w)| key(w) == key(v))))
        .collect();
    let mut base_resources = Vec::new();
    for (doc, _) in &base {
        files.push((format!("base/{}", doc.file), doc.yaml.clone()));
        if !base_resources.contains(&doc.file) {
            base_resources.push(doc.file.clone());
        }
    }
    let kustomization = Kustomization {
        api_version: "kustomize.config.k8s.io/v1beta1",
        kind: "Kustomization",
        resources: base_resources,
        patches: Vec::new(),
    };
    files.push(("base/kustomization.yaml".to_owned(), to_yaml(&kustomization)));

    for phase in phases {
        let mut resources = vec!["../../base".to_owned()];
        let mut patches = Vec::new();
        for (doc, value) in &phase.objects {
            match base.iter().find(|(_, b)| key(b) == key(value)) {
                None => {
                    files.push((format!("overlays/{}/{}", phase.dir, doc.file), doc.yaml.clone()));
                    if !resources.contains(&doc.file) {
                        resources.push(doc.file.clone());
                    }
                }
                Some((_, base_value)) => {
                    let mut ops = Vec::new();
                    diff(base_value, value, &mut String::new(), &mut ops);
                    if ops.is_empty() {
                        continue;
                    }
                    let (kind, name) = key(value);
                    let file = format!("{}-{}.patch.yaml", name, kind.to_lowercase());
                    files.push((format!("overlays/{}/{file}", phase.dir), to_yaml(&ops)));
                    let api_version = value["apiVersion"].as_str().unwrap_or_default();
                    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
                    patches.push(PatchRef {
                        path: file,
                        target: PatchTarget { group: group.to_owned(), version: version.to_owned(), kind, name },
                    });
                }
            }
        }
        let kustomization =
            Kustomization { api_version: "kustomize.config.k8s.io/v1beta1", kind: "Kustomization", resources, patches };
        files.push((format!("overlays/{}/kustomization.yaml", phase.dir), to_yaml(&kustomization)));
    }
    // Objects that share a file (two claims of one service) become one multi-document file.
    group_by_file(files.iter().map(|(path, text)| (path.as_str(), text.as_str())))
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
