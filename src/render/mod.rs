//! Targets: pure functions from one resolved phase to typed objects, then to
//! YAML documents. Each target also reports, as warnings, whatever the spec
//! asks that it cannot honour: nothing is dropped silently.

pub mod compose;
pub mod docker;
pub mod k8s;
pub mod rules;
pub mod swarm;

use crate::code::Code;
use serde::Serialize;

use crate::diag::{Diagnostic, Diagnostics};
use crate::model::{Model, Node, Phase, Placement, Service};
use crate::spec::Role;
use crate::spec::Target;
use crate::yaml::SpecPath;

/// One YAML document and the file it belongs to when written into a directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Document {
    /// Path relative to the output directory, with `/` separators.
    pub file: String,
    /// The document's YAML, ending with a newline, without a `---` marker.
    pub yaml: String,
}

/// What a target makes of one phase.
#[derive(Debug, Default)]
pub struct Rendered {
    /// The documents, in the order they are printed to stdout.
    pub documents: Vec<Document>,
    /// Files written only into a directory (a kustomization.yaml, say), never to stdout.
    pub directory_only: Vec<Document>,
    /// What the target could not honour, located at the spec path that asked for it.
    pub warnings: Diagnostics,
    /// Steps the user takes by hand before applying (create a Secret, label nodes), printed on stderr.
    pub notes: Vec<String>,
}

impl Rendered {
    /// Every document as one multi-document YAML stream.
    pub fn stream(&self) -> String {
        join_documents(self.documents.iter().map(|d| d.yaml.as_str()))
    }

    /// Every file for `--out DIR`: documents that share a file are joined as one stream. Sorted by path.
    pub fn files(&self) -> Vec<(String, String)> {
        group_by_file(self.documents.iter().chain(&self.directory_only).map(|d| (d.file.as_str(), d.yaml.as_str())))
    }

    pub(crate) fn warn(&mut self, code: Code, message: impl Into<String>, path: &SpecPath, help: &str) {
        self.warnings.push(Diagnostic::warning(code, message, path).help(help));
    }
}

/// `(file, document)` pairs as files: documents that share a file are joined as one stream. Sorted by path.
pub fn group_by_file<'a>(docs: impl Iterator<Item = (&'a str, &'a str)>) -> Vec<(String, String)> {
    let mut files: std::collections::BTreeMap<&str, Vec<&str>> = std::collections::BTreeMap::new();
    for (file, yaml) in docs {
        files.entry(file).or_default().push(yaml);
    }
    files.into_iter().map(|(file, docs)| (file.to_owned(), join_documents(docs.into_iter()))).collect()
}

fn join_documents<'a>(docs: impl Iterator<Item = &'a str>) -> String {
    let mut out = String::new();
    for (i, doc) in docs.enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        out.push_str(doc);
    }
    out
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
    k8s::check(model)
}

/// Serialise a typed object as one YAML document.
pub fn to_yaml<T: Serialize>(value: &T) -> String {
    // Typed objects have string keys and no non-finite floats: serialising cannot fail.
    quote_yaml11_booleans(&serde_norway::to_string(value).expect("typed objects serialise to YAML"))
}

// serde_norway writes YAML 1.2, where [`YAML11_BOOLEANS`] are strings, so it
// leaves them plain; but kubectl and `docker stack` (go-yaml v2) read YAML
// 1.1, where `KONG_DATABASE: off` becomes `false`, and an `args` item `yes`
// is not a string at all.
use crate::yaml::YAML11_BOOLEANS;

/// Single-quotes every plain key or value that YAML 1.1 would read as a
/// boolean, outside block scalars (`|`, `>`), whose lines are text.
fn quote_yaml11_booleans(yaml: &str) -> String {
    let quote = |word: &str| if YAML11_BOOLEANS.contains(&word) { format!("'{word}'") } else { word.to_owned() };
    let mut out = String::with_capacity(yaml.len() + 16);
    // The column of the key or item that opened a block scalar: its text is indented further.
    let mut block: Option<usize> = None;
    for line in yaml.split_inclusive('\n') {
        let text = line.trim_end_matches('\n');
        let indent = text.len() - text.trim_start_matches(' ').len();
        if let Some(column) = block {
            if text.trim().is_empty() || indent > column {
                out.push_str(line);
                continue;
            }
            block = None;
        }
        // Sequence dashes first (`- - key: value`), then a key, then a value.
        let mut column = indent;
        let mut rest = &text[indent..];
        while let Some(after) = rest.strip_prefix("- ") {
            rest = after;
            column += 2;
        }
        let (key, value) = match rest.split_once(": ") {
            Some((key, value)) if !key.starts_with(['\'', '"']) => (Some(key), value),
            _ => match rest.strip_suffix(':') {
                Some(key) if !key.starts_with(['\'', '"']) && !key.contains(": ") => (Some(key), ""),
                _ if rest == "-" => (None, ""),
                _ => (None, rest),
            },
        };
        let opens_block = value.starts_with(['|', '>']) && value.len() <= 3 && !value.contains(' ');
        if opens_block {
            // A key's text is indented past the key; an item's, past its dash.
            block = Some(if key.is_none() && column > indent { column - 2 } else { column });
        }
        out.push_str(&text[..column]);
        match key {
            Some(key) => {
                out.push_str(&quote(key));
                out.push(':');
                if !value.is_empty() {
                    out.push(' ');
                    out.push_str(&if opens_block { value.to_owned() } else { quote(value) });
                }
            }
            None => out.push_str(&if opens_block { value.to_owned() } else { quote(value) }),
        }
        out.push_str(&line[text.len()..]);
    }
    out
}

/// The spec path of a service's field, for warnings.
pub fn service_path(service: &Service, field: &str) -> SpecPath {
    let path = SpecPath::root().key("services").key(service.name.as_str());
    if field.is_empty() { path } else { path.key(field) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml11_booleans_are_quoted_outside_block_scalars() {
        let yaml = "data:\n  KONG_DATABASE: off\n  other: 'yes'\n  ON: 1\n  plain: offline\nargs:\n- --appendonly\n- yes\n- - n\nscript: |\n  set: off\n  on\nnext: No\nitems:\n- name: |-\n    y\n  value: Y\n";
        let want = "data:\n  KONG_DATABASE: 'off'\n  other: 'yes'\n  'ON': 1\n  plain: offline\nargs:\n- --appendonly\n- 'yes'\n- - 'n'\nscript: |\n  set: off\n  on\nnext: 'No'\nitems:\n- name: |-\n    y\n  value: 'Y'\n";
        assert_eq!(quote_yaml11_booleans(yaml), want);
        #[derive(Serialize)]
        struct Env {
            a: String,
            b: Vec<String>,
        }
        let env = Env { a: "off".to_owned(), b: vec!["yes".to_owned(), "multi\nline: on".to_owned()] };
        let parsed: serde_norway::Value = serde_norway::from_str(&to_yaml(&env)).unwrap();
        assert_eq!(parsed["a"].as_str(), Some("off"));
        assert_eq!(parsed["b"][0].as_str(), Some("yes"));
        assert_eq!(parsed["b"][1].as_str(), Some("multi\nline: on"));
    }
}
