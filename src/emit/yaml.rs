//! The one place typed documents become bytes: YAML as kubectl and
//! `docker stack` (go-yaml v2, YAML 1.1) read it, documents joined into a
//! stream for stdout or grouped into files for a directory.

use serde::Serialize;

use crate::render::{Body, Document, Rendered};

/// Serialise a typed object as one YAML document.
pub fn to_yaml<T: Serialize>(value: &T) -> String {
    let mut options = serde_saphyr::SerializerOptions::default();
    // A long string stays on one line (a Traefik rule, a shell command): folded, it would
    // read the same to a parser and worse to a reviewer or grep.
    options.folded_wrap_chars = usize::MAX;
    // Written into one buffer per thread, reused, then copied out at its length: a string per
    // document grown by doubling, among the serialiser's own small allocations, leaves the heap
    // of a large render in pieces (a third more peak memory at 1,000 services).
    thread_local! {
        static BUFFER: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
    }
    BUFFER.with_borrow_mut(|yaml| {
        yaml.clear();
        // Typed objects have string keys and no non-finite floats: serialising cannot fail.
        serde_saphyr::to_fmt_writer_with_options(yaml, value, options).expect("typed objects serialise to YAML");
        quote_yaml11_booleans(yaml)
    })
}

/// A document's text, ending with a newline, without a `---` marker.
pub fn text(body: &Body) -> String {
    let mut yaml = to_yaml(body);
    if !yaml.ends_with('\n') {
        yaml.push('\n');
    }
    yaml
}

/// What a rendered phase is as text.
pub trait Serialised {
    /// Every document as one multi-document YAML stream.
    fn stream(&self) -> String;
    /// Every file for `--out DIR`: documents that share a file are joined as one stream. Sorted by path.
    fn files(&self) -> Vec<(String, String)>;
}

impl Serialised for Rendered {
    fn stream(&self) -> String {
        let documents: Vec<&Document> = self.documents.iter().collect();
        join_documents(texts(&documents).iter().map(String::as_str))
    }

    fn files(&self) -> Vec<(String, String)> {
        let documents: Vec<&Document> = self.documents.iter().chain(&self.directory_only).collect();
        let texts = texts(&documents);
        group_by_file(documents.iter().zip(&texts).map(|(d, text)| (d.file.as_str(), text.as_str())))
    }
}

/// Fewest documents worth a thread: below, starting one costs more than it saves.
const DOCUMENTS_PER_THREAD: usize = 256;

/// Each document's [`text`], in order: a large render's (thousands of Kubernetes objects, where
/// serialising is most of the time) in as many parts as the machine has cores, on threads.
pub fn texts(documents: &[&Document]) -> Vec<String> {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let part = documents.len().div_ceil(cores).max(DOCUMENTS_PER_THREAD);
    if part >= documents.len() {
        return documents.iter().map(|d| text(&d.body)).collect();
    }
    let parts: Vec<&[&Document]> = documents.chunks(part).collect();
    let texts = crate::parallel::in_parallel(&parts, |part| part.iter().map(|d| text(&d.body)).collect::<Vec<_>>());
    texts.into_iter().flatten().collect()
}

/// `(file, document)` pairs as files: documents that share a file are joined as one stream. Sorted by path.
pub fn group_by_file<'a>(docs: impl Iterator<Item = (&'a str, &'a str)>) -> Vec<(String, String)> {
    let mut files: std::collections::BTreeMap<&str, Vec<&str>> = std::collections::BTreeMap::new();
    for (file, yaml) in docs {
        files.entry(file).or_default().push(yaml);
    }
    files.into_iter().map(|(file, docs)| (file.to_owned(), join_documents(docs.into_iter()))).collect()
}

pub fn join_documents<'a>(docs: impl Iterator<Item = &'a str> + Clone) -> String {
    // Sized once: a stream of thousands of objects grown by doubling would hold two copies.
    let mut out = String::with_capacity(docs.clone().map(|doc| doc.len() + 4).sum());
    for (i, doc) in docs.enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        out.push_str(doc);
    }
    out
}

// kubectl and `docker stack` (go-yaml v2) read YAML 1.1, where
// `KONG_DATABASE: off` is `false` and an `args` item `yes` is not a string at
// all. serde-saphyr quotes such values (its YAML 1.1 compatibility, on by
// default) but reads keys as YAML 1.2 does and leaves an `ON:` key plain.
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
