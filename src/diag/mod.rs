//! Diagnostics: what topo tells a user about a spec.
//!
//! A diagnostic is data — a severity, a stable code, a message, a spec path
//! and a help line. Its line and column are looked up from the path only when
//! it is printed ([`Diagnostics::locate`]), so the validation stages never deal
//! with positions they do not have.

pub mod mask;
mod render;

use crate::code::Code;
use serde::Serialize;

pub use render::{FULL_WARNINGS_PER_CODE, printed_in_full, render_human, render_human_summarised, render_json};

use crate::yaml::{KeyIndex, Node, Point, Span, SpecPath};

/// How bad a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// The stage that found a problem.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// The text is not readable YAML (or not UTF-8).
    Syntax,
    /// The YAML does not have the shape of a spec: wrong type, unknown or missing field.
    Shape,
    /// The spec reads, but says something impossible or inconsistent.
    Semantic,
    /// The output cannot be written where it was asked to go (`--out`).
    Output,
}

/// One thing topo has to say about a spec.
#[derive(Clone, Debug, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    /// Stable identifier, kebab-case (`unknown-field`); safe to match on.
    pub code: Code,
    pub kind: Kind,
    pub message: String,
    /// Where in the spec; the root for problems of the whole file.
    pub path: SpecPath,
    #[serde(skip)]
    pub point: Point,
    /// Line and column, filled from `path` by [`Diagnostics::locate`] unless known already.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub span: Option<Span>,
    /// Text of the caret label: what was found there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

impl Diagnostic {
    fn new(severity: Severity, kind: Kind, code: Code, message: impl Into<String>) -> Self {
        Self {
            severity,
            code,
            kind,
            message: message.into(),
            path: SpecPath::root(),
            point: Point::Value,
            span: None,
            label: None,
            help: None,
        }
    }

    pub fn syntax(code: Code, message: impl Into<String>, span: Span) -> Self {
        Self::new(Severity::Error, Kind::Syntax, code, message).with_span(span)
    }

    /// A spec file that cannot be read at all.
    pub fn unreadable(message: impl Into<String>) -> Self {
        Self::new(Severity::Error, Kind::Syntax, Code::UnreadableSpec, message)
    }

    /// An output path topo refuses, or cannot write: nothing was written.
    pub fn output(code: Code, message: impl Into<String>) -> Self {
        Self::new(Severity::Error, Kind::Output, code, message)
    }

    pub fn shape(code: Code, message: impl Into<String>, path: &SpecPath) -> Self {
        Self::new(Severity::Error, Kind::Shape, code, message).at(path)
    }

    pub fn error(code: Code, message: impl Into<String>, path: &SpecPath) -> Self {
        Self::new(Severity::Error, Kind::Semantic, code, message).at(path)
    }

    pub fn warning(code: Code, message: impl Into<String>, path: &SpecPath) -> Self {
        Self::new(Severity::Warning, Kind::Semantic, code, message).at(path)
    }

    #[must_use]
    pub fn at(mut self, path: &SpecPath) -> Self {
        self.path = path.clone();
        self
    }

    /// Point at the key of the mapping entry named by the path, not its value.
    #[must_use]
    pub fn on_key(mut self) -> Self {
        self.point = Point::Key;
        self
    }

    #[must_use]
    pub fn with_span(mut self, span: Span) -> Self {
        self.span = Some(span);
        self
    }

    #[must_use]
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    #[must_use]
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    #[must_use]
    pub fn help_opt(mut self, help: Option<String>) -> Self {
        self.help = help;
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl From<crate::yaml::Error> for Diagnostic {
    fn from(error: crate::yaml::Error) -> Self {
        let crate::yaml::Error { code, message, span, path, label, help } = error;
        Self { label, help, ..Self::syntax(code, message, span).at(&path) }
    }
}

/// Every diagnostic of one run, in the order they were found.
#[derive(Clone, Debug, Default)]
pub struct Diagnostics {
    list: Vec<Diagnostic>,
    /// How many of `list` are errors: the decoder asks after every list and
    /// mapping it reads, so counting each time would be quadratic.
    errors: usize,
}

impl Diagnostics {
    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.errors += usize::from(diagnostic.is_error());
        self.list.push(diagnostic);
    }

    pub fn extend(&mut self, other: Diagnostics) {
        self.errors += other.errors;
        self.list.extend(other.list);
    }

    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.list.iter()
    }

    /// Keep only the diagnostics `keep` accepts.
    pub fn retain(&mut self, keep: impl FnMut(&Diagnostic) -> bool) {
        self.list.retain(keep);
        self.errors = self.list.iter().filter(|d| d.is_error()).count();
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn error_count(&self) -> usize {
        self.errors
    }

    pub fn warning_count(&self) -> usize {
        self.list.len() - self.errors
    }

    pub fn has_errors(&self) -> bool {
        self.errors > 0
    }

    /// Give every diagnostic without a position the position of its path in `root`.
    ///
    /// A path that goes further than the document (an inherited phase value,
    /// a missing field) points at the deepest node that exists.
    pub fn locate(&mut self, root: &Node) {
        let mut index = KeyIndex::default();
        for diagnostic in &mut self.list {
            if diagnostic.span.is_none() {
                diagnostic.span = Some(root.span_in(&diagnostic.path, diagnostic.point, &mut index));
            }
        }
    }

    /// Sort by position, errors before warnings at the same place; stable otherwise.
    pub fn sort(&mut self) {
        self.list.sort_by_key(|d| {
            let at = d.span.map(|s| (s.start.line, s.start.column));
            (at, d.severity)
        });
    }
}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;

    fn into_iter(self) -> Self::IntoIter {
        self.list.into_iter()
    }
}

/// The name among `candidates` closest to `input`, if it is close enough to be a typo.
pub fn did_you_mean<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let input_lower = input.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|candidate| {
            // Optimal string alignment: a swapped pair of letters is one edit.
            let distance = strsim::osa_distance(&input_lower, &candidate.to_ascii_lowercase());
            (distance, candidate)
        })
        .filter(|(distance, candidate)| {
            let longest = candidate.len().max(input.len());
            let allowed = match longest {
                0..=3 => 1,
                4..=8 => 2,
                _ => 3,
            };
            *distance <= allowed && *distance < candidate.len()
        })
        .min()
        .map(|(_, candidate)| candidate)
}

/// "did you mean `x`?" help text when a close name exists.
pub fn suggestion<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    did_you_mean(input, candidates).map(|name| format!("did you mean `{name}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let fields = ["image", "replicas", "resources", "depends_on"];
        assert_eq!(did_you_mean("imgae", fields), Some("image"));
        assert_eq!(did_you_mean("replica", fields), Some("replicas"));
        assert_eq!(did_you_mean("dependson", fields), Some("depends_on"));
        assert_eq!(did_you_mean("Image", fields), Some("image"));
        assert_eq!(did_you_mean("volumes", fields), None);
        assert_eq!(did_you_mean("x", ["y"]), None);
        assert_eq!(did_you_mean("dependencies", fields), None);
        assert_eq!(did_you_mean("kompose", ["compose", "swarm", "k8s"]), Some("compose"));
    }

    #[test]
    fn paths_print_dotted() {
        let path = SpecPath::root().key("services").key("backend").key("replicas").key("3");
        assert_eq!(path.to_string(), "services.backend.replicas.3");
        assert_eq!(SpecPath::root().key("secrets").index(2).to_string(), "secrets.2");
        assert_eq!(SpecPath::root().to_string(), "(document)");
    }
}
