//! A small YAML tree with comments, and its deterministic emitter.
//!
//! serde's YAML serialisers cannot write comments, and an imported spec needs
//! them where topo guessed. The tree is tiny (scalars, sequences, mappings,
//! anchors and aliases) and so is the emitter: block mappings, flow
//! collections when they are short and hold only scalars, and scalars quoted
//! whenever a plain scalar would read back as something else. The importer
//! re-reads everything it emits with topo's own reader, so a quoting mistake
//! is caught there, not by the user.

use crate::yaml::{Resolved, YAML11_BOOLEANS, resolve_plain};

/// One YAML value.
#[derive(Clone, Debug, PartialEq)]
pub enum Yaml {
    /// A string: quoted when a plain scalar would not read back as this string.
    Str(String),
    /// A whole number, written plain.
    Int(u64),
    /// A boolean, written plain.
    Bool(bool),
    Seq(Vec<Yaml>),
    Map(Vec<Field>),
    /// `*name`: the value anchored as `&name` earlier in the document.
    Alias(String),
}

/// One `key: value` entry of a mapping, with its comments.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    pub key: String,
    pub value: Yaml,
    /// Comment lines written above the entry.
    pub above: Vec<String>,
    /// A comment at the end of the entry's first line.
    pub comment: Option<String>,
    /// `&name` on the value.
    pub anchor: Option<String>,
}

impl Field {
    pub fn new(key: impl Into<String>, value: Yaml) -> Self {
        Self { key: key.into(), value, above: Vec::new(), comment: None, anchor: None }
    }

    #[must_use]
    pub fn comment(mut self, comment: Option<String>) -> Self {
        self.comment = comment;
        self
    }

    #[must_use]
    pub fn above(mut self, lines: Vec<String>) -> Self {
        self.above = lines;
        self
    }

    #[must_use]
    pub fn anchor(mut self, name: &str) -> Self {
        self.anchor = Some(name.to_owned());
        self
    }
}

impl Yaml {
    pub fn str(text: impl Into<String>) -> Self {
        Yaml::Str(text.into())
    }

    pub fn strs<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> Self {
        Yaml::Seq(items.into_iter().map(|s| Yaml::Str(s.as_ref().to_owned())).collect())
    }

    fn is_scalar(&self) -> bool {
        matches!(self, Yaml::Str(_) | Yaml::Int(_) | Yaml::Bool(_) | Yaml::Alias(_))
    }

    /// The value on one line, if it can be written there.
    fn flow(&self) -> Option<String> {
        self.flow_in(false)
    }

    /// `nested`: inside `[...]` or `{...}`, where a `:` or `#` in a plain
    /// scalar confuses some YAML 1.1 readers: those are quoted there.
    fn flow_in(&self, nested: bool) -> Option<String> {
        match self {
            Yaml::Str(s) if nested && s.contains([':', '#']) => Some(double_quoted(s)),
            Yaml::Str(s) => Some(scalar(s)),
            Yaml::Int(i) => Some(i.to_string()),
            Yaml::Bool(b) => Some(b.to_string()),
            Yaml::Alias(name) => Some(format!("*{name}")),
            Yaml::Seq(items) if items.is_empty() => Some("[]".to_owned()),
            Yaml::Map(fields) if fields.is_empty() => Some("{}".to_owned()),
            Yaml::Seq(items) if items.iter().all(Yaml::is_scalar) => {
                let items: Option<Vec<String>> = items.iter().map(|i| i.flow_in(true)).collect();
                Some(format!("[{}]", items?.join(", ")))
            }
            Yaml::Map(fields)
                if fields.iter().all(|f| {
                    f.value.is_scalar() && f.above.is_empty() && f.comment.is_none() && f.anchor.is_none()
                }) =>
            {
                let fields: Option<Vec<String>> =
                    fields.iter().map(|f| Some(format!("{}: {}", key(&f.key), f.value.flow_in(true)?))).collect();
                Some(format!("{{ {} }}", fields?.join(", ")))
            }
            _ => None,
        }
    }
}

/// Longest line the emitter writes a flow collection on.
const WIDTH: usize = 100;

/// A document: header comment lines, then a top-level mapping.
pub fn document(header: &[String], fields: &[Field]) -> String {
    let mut out = String::new();
    for line in header {
        push_comment_line(&mut out, "", line);
    }
    emit_map(&mut out, fields, 0, None);
    out
}

fn push_comment_line(out: &mut String, indent: &str, text: &str) {
    out.push_str(indent);
    out.push('#');
    if !text.is_empty() {
        out.push(' ');
        out.push_str(&one_line(text));
    }
    out.push('\n');
}

/// Comments are one line each: a line break would end the comment.
fn one_line(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// `first` replaces the indentation of the first entry (`"  - "` in a sequence).
fn emit_map(out: &mut String, fields: &[Field], indent: usize, first: Option<&str>) {
    let pad = " ".repeat(indent);
    for (i, field) in fields.iter().enumerate() {
        let lead = match (i, first) {
            (0, Some(prefix)) => prefix.to_owned(),
            _ => pad.clone(),
        };
        for line in &field.above {
            push_comment_line(out, if i == 0 && first.is_some() { "" } else { &pad }, line);
        }
        let head = format!(
            "{lead}{}:{}",
            key(&field.key),
            field.anchor.as_ref().map(|a| format!(" &{a}")).unwrap_or_default()
        );
        let flow = field.value.flow().filter(|text| head.len() + 1 + text.len() <= WIDTH || field.value.is_scalar());
        match flow {
            Some(text) => {
                out.push_str(&head);
                out.push(' ');
                out.push_str(&text);
                push_trailing(out, field.comment.as_deref());
            }
            None => {
                out.push_str(&head);
                push_trailing(out, field.comment.as_deref());
                match &field.value {
                    Yaml::Map(children) => emit_map(out, children, indent + 2, None),
                    Yaml::Seq(items) => emit_seq(out, items, indent + 2),
                    // Scalars always have a flow form.
                    _ => {}
                }
            }
        }
    }
}

fn push_trailing(out: &mut String, comment: Option<&str>) {
    if let Some(comment) = comment {
        out.push_str("   # ");
        out.push_str(&one_line(comment));
    }
    out.push('\n');
}

fn emit_seq(out: &mut String, items: &[Yaml], indent: usize) {
    let pad = " ".repeat(indent);
    for item in items {
        match item {
            Yaml::Map(fields) if !fields.is_empty() && item.flow().is_none_or(|t| indent + 2 + t.len() > WIDTH) => {
                emit_map(out, fields, indent + 2, Some(&format!("{pad}- ")));
            }
            Yaml::Seq(children) if item.flow().is_none_or(|t| indent + 2 + t.len() > WIDTH) => {
                out.push_str(&pad);
                out.push_str("-\n");
                emit_seq(out, children, indent + 2);
            }
            _ => {
                out.push_str(&pad);
                out.push_str("- ");
                out.push_str(&item.flow().unwrap_or_default());
                out.push('\n');
            }
        }
    }
}

/// A mapping key: plain when safe, and a whole number stays plain (phase numbers).
fn key(text: &str) -> String {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) { text.to_owned() } else { scalar(text) }
}

/// A string as a YAML scalar that reads back as exactly this string, in block
/// and in flow context.
pub fn scalar(text: &str) -> String {
    if plain_is_safe(text) { text.to_owned() } else { double_quoted(text) }
}

fn plain_is_safe(text: &str) -> bool {
    let Some(first) = text.chars().next() else { return false };
    if !matches!(resolve_plain(text), Resolved::Str(_)) {
        return false;
    }
    // Quoted so that no YAML 1.1 reader takes them for booleans (any case of on/off too).
    if YAML11_BOOLEANS.contains(&text) || text.eq_ignore_ascii_case("on") || text.eq_ignore_ascii_case("off") {
        return false;
    }
    if text.starts_with(char::is_whitespace) || text.ends_with(char::is_whitespace) {
        return false;
    }
    if text.starts_with("---") || text.starts_with("...") {
        return false;
    }
    // Indicators that cannot start a plain scalar; `-`, `?` and `:` can when a
    // character other than a space follows.
    if "#,[]{}&*!|>'\"%@`".contains(first) {
        return false;
    }
    if matches!(first, '-' | '?' | ':') {
        match text.chars().nth(1) {
            None => return false,
            Some(c) if c.is_whitespace() || ",[]{}".contains(c) => return false,
            _ => {}
        }
    }
    if text.contains(": ") || text.contains(" #") || text.ends_with(':') {
        return false;
    }
    // Flow indicators end a plain scalar inside `[...]` and `{...}`.
    if text.contains([',', '[', ']', '{', '}']) {
        return false;
    }
    // Anything unusual: quoting is always correct.
    text.chars().all(|c| !c.is_control() && !matches!(c, '\u{85}' | '\u{2028}' | '\u{2029}' | '\u{feff}'))
}

fn double_quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() || matches!(c, '\u{85}' | '\u{2028}' | '\u{2029}' | '\u{feff}') => {
                let code = u32::from(c);
                if code <= 0xff {
                    out.push_str(&format!("\\x{code:02x}"));
                } else {
                    out.push_str(&format!("\\u{code:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::{Value, parse};

    fn read_back(text: &str) -> String {
        let doc = format!("a: {}\nb: [{}]\n", scalar(text), scalar(text));
        let root = parse(&doc, &mut Vec::new()).unwrap_or_else(|e| panic!("{doc}: {}", e.message));
        let a = &root.get("a").expect("a").value;
        let Some(Resolved::Str(block)) = a.resolve() else { panic!("{doc}: not a string") };
        let b = &root.get("b").expect("b").value;
        let Value::Seq(items) = &b.value else { panic!("{doc}: not a list") };
        let Some(Resolved::Str(flow)) = items[0].resolve() else { panic!("{doc}: not a string in flow") };
        assert_eq!(block, flow, "{doc}");
        block.to_owned()
    }

    #[test]
    fn scalars_read_back_as_written() {
        for text in [
            "plain",
            "1",
            "0123",
            "1.5",
            "true",
            "yes",
            "null",
            "",
            " x",
            "a: b",
            "a #b",
            "-U",
            "-",
            "- x",
            "--flag",
            "${DB_PASSWORD}",
            "${A:-b,c}",
            "[x]",
            "{x}",
            "*a",
            "&a",
            "!x",
            "x\ny",
            "tab\there",
            "quote\"s",
            "back\\",
            "'single'",
            "%x",
            "@x",
            "`x`",
            "é",
            "a,b",
            "?",
            "?x",
            ":x",
            "x:",
            "http://h:80/p",
            "---",
            "...",
            "\u{85}",
            "\u{2028}",
            "~",
            "0x1f",
            ".inf",
            "1e3",
            "on",
            "OFF",
        ] {
            assert_eq!(read_back(text), text);
        }
        assert_eq!(scalar("-U"), "-U");
        assert_eq!(scalar("redis:8.2-alpine"), "redis:8.2-alpine");
        assert_eq!(scalar("1"), "\"1\"");
    }

    #[test]
    fn short_collections_are_flow_long_ones_block() {
        let fields = vec![
            Field::new("ports", Yaml::Seq(vec![Yaml::Int(80), Yaml::Int(443)])),
            Field::new(
                "node",
                Yaml::Map(vec![Field::new("cpu", Yaml::Int(4)), Field::new("memory", Yaml::str("8Gi"))]),
            )
            .comment(Some("sized".into())),
            Field::new("env", Yaml::Map(vec![Field::new("A", Yaml::str("x")).comment(Some("guessed".into()))])),
            Field::new("list", Yaml::strs(["a".repeat(60), "b".repeat(60)])),
        ];
        let text = document(&["header".into()], &fields);
        assert_eq!(
            text,
            format!(
                "# header\nports: [80, 443]\nnode: {{ cpu: 4, memory: 8Gi }}   # sized\nenv:\n  A: x   # guessed\nlist:\n  - {}\n  - {}\n",
                "a".repeat(60),
                "b".repeat(60)
            )
        );
    }

    #[test]
    fn anchors_and_sequences_of_mappings() {
        let fields = vec![
            Field::new("x-base", Yaml::Map(vec![Field::new("a", Yaml::Int(1))])).anchor("base"),
            Field::new("use", Yaml::Alias("base".into())),
            Field::new(
                "items",
                Yaml::Seq(vec![Yaml::Map(vec![
                    Field::new("k", Yaml::str("v")),
                    Field::new("long", Yaml::str("z".repeat(120))),
                ])]),
            ),
        ];
        let text = document(&[], &fields);
        assert_eq!(
            text,
            format!("x-base: &base {{ a: 1 }}\nuse: *base\nitems:\n  - k: v\n    long: {}\n", "z".repeat(120))
        );
        assert!(parse(&text, &mut Vec::new()).is_ok());
    }
}
