//! YAML text → a tree of nodes that remember where they came from.
//!
//! Built on saphyr's event parser, with the limits a tool fed untrusted files
//! needs: a size cap, a nesting cap, a cap on what aliases may expand to (so
//! an alias bomb is an error, not an out-of-memory), duplicate keys reported,
//! and `<<` merge keys honoured. Scalars keep their style so the decoder can
//! tell `1` (a number) from `"1"` (a string), as YAML 1.2's core schema does.

use crate::code::Code;
use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span as RawSpan};
use serde::Serialize;

mod flow;
mod path;

pub use path::{Point, Segment, SpecPath};

/// The plain scalars YAML 1.1 reads as booleans (its `bool` type's regular
/// expression), which YAML 1.2 and topo read as strings: the writers quote
/// them, and the reader's type errors explain them.
pub const YAML11_BOOLEANS: &[&str] =
    &["y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF"];

/// Largest spec file topo reads.
pub const MAX_BYTES: usize = 4 * 1024 * 1024;
/// Deepest nesting of sequences and mappings.
pub const MAX_DEPTH: usize = 64;
/// Most nodes a document may have once its aliases are expanded.
pub const MAX_NODES: usize = 1_000_000;
/// Most bytes of keys and scalars a document may hold once its aliases are
/// expanded (the copies an anchor keeps count too): one large string aliased
/// many times is as much an alias bomb as many small nodes.
pub const MAX_EXPANDED_BYTES: usize = 16 * 1024 * 1024;

/// A position in the source: 1-based line and column (in characters), and byte offset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
    pub offset: usize,
}

/// A range of source text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Span {
    pub start: Pos,
    pub end: Pos,
}

impl Span {
    pub fn point(pos: Pos) -> Self {
        Self { start: pos, end: pos }
    }
}

impl Serialize for Span {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("Span", 4)?;
        s.serialize_field("line", &self.start.line)?;
        s.serialize_field("column", &self.start.column)?;
        s.serialize_field("end_line", &self.end.line)?;
        s.serialize_field("end_column", &self.end.column)?;
        s.end()
    }
}

/// What is wrong with the YAML itself: a stable code (`yaml-syntax`,
/// `duplicate-key`, …), a message, where, and what to do. The layers above
/// turn it into their diagnostic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub code: Code,
    pub message: String,
    pub span: Span,
    /// The path of the node being read, when known.
    pub path: SpecPath,
    /// Text of the caret label: what was found there.
    pub label: Option<String>,
    pub help: Option<String>,
}

impl Error {
    pub fn new(code: Code, message: impl Into<String>, span: Span) -> Self {
        Self { code, message: message.into(), span, path: SpecPath::root(), label: None, help: None }
    }

    #[must_use]
    pub fn at(mut self, path: &SpecPath) -> Self {
        self.path = path.clone();
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
}

/// How a scalar was written; quoting makes a scalar a string whatever it looks like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    Plain,
    Quoted,
}

/// A YAML node.
#[derive(Clone, Debug)]
pub struct Node {
    pub value: Value,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub enum Value {
    Scalar(String, Style),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

/// One `key: value` entry of a mapping, in source order.
#[derive(Clone, Debug)]
pub struct Entry {
    pub key: Node,
    pub value: Node,
    /// Came from a `<<` merge: a key written in the mapping itself replaces it.
    pub merged: bool,
}

/// What a plain or quoted scalar means under YAML 1.2's core schema.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Resolved<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(&'a str),
}

impl Resolved<'_> {
    /// The word for this kind of value in an error message.
    pub fn describe(&self) -> &'static str {
        match self {
            Resolved::Null => "nothing (null)",
            Resolved::Bool(_) => "a boolean",
            Resolved::Int(_) => "an integer",
            Resolved::Float(f) if f.is_nan() => "YAML's not-a-number (`.nan`)",
            Resolved::Float(f) if f.is_infinite() => "YAML's infinity (`.inf`)",
            Resolved::Float(_) => "a number",
            Resolved::Str(_) => "a string",
        }
    }
}

impl Node {
    /// The core-schema meaning of a scalar; `None` for collections.
    pub fn resolve(&self) -> Option<Resolved<'_>> {
        let Value::Scalar(text, style) = &self.value else {
            return None;
        };
        if *style == Style::Quoted {
            return Some(Resolved::Str(text));
        }
        Some(resolve_plain(text))
    }

    /// Whether this is a plain (unquoted, untagged) scalar.
    pub fn is_plain(&self) -> bool {
        matches!(self.value, Value::Scalar(_, Style::Plain))
    }

    /// The text of a scalar, whatever it resolves to.
    pub fn scalar_text(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar(text, _) => Some(text),
            _ => None,
        }
    }

    pub fn entries(&self) -> Option<&[Entry]> {
        match &self.value {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// What kind of node this is, for "expected X, found Y" messages.
    pub fn describe(&self) -> &'static str {
        match &self.value {
            Value::Scalar(..) => self.resolve().map_or("a scalar", |r| r.describe()),
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    /// The entry whose key is the scalar `key`.
    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.entries()?.iter().find(|entry| entry.key.scalar_text() == Some(key))
    }

    /// The span of the node at `path`, or of the deepest node on the way there.
    pub fn span_of(&self, path: &SpecPath, point: Point) -> Span {
        self.span_in(path, point, &mut KeyIndex::default())
    }

    /// [`Node::span_of`], looking keys up in `index` (shared by many lookups).
    pub fn span_in<'n>(&'n self, path: &SpecPath, point: Point, index: &mut KeyIndex<'n>) -> Span {
        let mut node = self;
        let mut key_span = None;
        for segment in path.segments() {
            let next = match (segment, &node.value) {
                (Segment::Key(key), Value::Map(_)) => index.get(node, key).map(|e| (&e.value, Some(e.key.span))),
                (Segment::Index(i), Value::Seq(items)) => items.get(*i).map(|n| (n, None)),
                _ => None,
            };
            match next {
                Some((child, key)) => {
                    node = child;
                    key_span = key;
                }
                None => {
                    // The path leaves the document here: point at the owner's key if
                    // there is one, since the owner is what lacks the thing named.
                    return key_span.unwrap_or(node.span);
                }
            }
        }
        match (point, key_span) {
            (Point::Key, Some(span)) => span,
            _ => node.span,
        }
    }

    /// The node as JSON, scalars typed by the core schema (used to check specs
    /// against topo's JSON Schema, as an editor would).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Scalar(..) => match self.resolve() {
                Some(Resolved::Null) | None => J::Null,
                Some(Resolved::Bool(b)) => J::Bool(b),
                Some(Resolved::Int(i)) => J::from(i),
                Some(Resolved::Float(f)) => serde_json::Number::from_f64(f).map_or(J::Null, J::Number),
                Some(Resolved::Str(s)) => J::String(s.to_owned()),
            },
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => J::Object(
                entries
                    .iter()
                    .map(|e| (e.key.scalar_text().unwrap_or_default().to_owned(), e.value.to_json()))
                    .collect(),
            ),
        }
    }

    /// How many nodes, and how many bytes of scalar text, this node holds.
    fn size(&self) -> (usize, usize) {
        let add = |(n, b): (usize, usize), (m, c): (usize, usize)| (n + m, b + c);
        match &self.value {
            Value::Scalar(text, _) => (1, text.len()),
            Value::Seq(items) => items.iter().map(Node::size).fold((1, 0), add),
            Value::Map(entries) => entries.iter().map(|e| add(e.key.size(), e.value.size())).fold((1, 0), add),
        }
    }
}

/// Finds the entries of mappings by key: one pass over a mapping the first
/// time it is asked about, then a hash lookup, so that locating n
/// diagnostics in a mapping of n keys is not O(n²).
#[derive(Default)]
pub struct KeyIndex<'n> {
    maps: HashMap<*const Node, MapIndex<'n>>,
}

#[derive(Default)]
struct MapIndex<'n> {
    /// The first entry with each key text (as [`Node::get`] finds it).
    by_text: HashMap<&'n str, &'n Entry>,
    /// The first entry with each phase-number key: the decoder names phase
    /// `01` (or `0x1`) by its number, `1`.
    by_phase: HashMap<u64, &'n Entry>,
}

impl<'n> KeyIndex<'n> {
    /// The entry of mapping `map` keyed `key`, or keyed by the phase number `key` names.
    pub fn get(&mut self, map: &'n Node, key: &str) -> Option<&'n Entry> {
        let entries = map.entries()?;
        let index = self.maps.entry(std::ptr::from_ref(map)).or_insert_with(|| {
            let mut index = MapIndex::default();
            for entry in entries {
                if let Some(text) = entry.key.scalar_text() {
                    index.by_text.entry(text).or_insert(entry);
                }
                if let Some(number) = phase_number(&entry.key) {
                    index.by_phase.entry(number).or_insert(entry);
                }
            }
            index
        });
        if let Some(entry) = index.by_text.get(key) {
            return Some(entry);
        }
        let number: u64 = key.parse().ok()?;
        index.by_phase.get(&number).copied()
    }
}

/// The number a key written as a whole number stands for (`01`, `0x1`, `1`).
fn phase_number(key: &Node) -> Option<u64> {
    match key.resolve()? {
        Resolved::Int(i) => u64::try_from(i).ok(),
        Resolved::Str(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => s.parse().ok(),
        _ => None,
    }
}

/// YAML 1.2 core schema resolution of a plain scalar.
pub fn resolve_plain(text: &str) -> Resolved<'_> {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Resolved::Null,
        "true" | "True" | "TRUE" => return Resolved::Bool(true),
        "false" | "False" | "FALSE" => return Resolved::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Resolved::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Resolved::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Resolved::Float(f64::NAN),
        _ => {}
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().map_or(Resolved::Str(text), Resolved::Int);
    }
    if let Some(oct) = text.strip_prefix("0o")
        && !oct.is_empty()
        && oct.bytes().all(|b| (b'0'..=b'7').contains(&b))
    {
        return i64::from_str_radix(oct, 8).map_or(Resolved::Str(text), Resolved::Int);
    }
    if let Some(hex) = text.strip_prefix("0x")
        && !hex.is_empty()
        && hex.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return i64::from_str_radix(hex, 16).map_or(Resolved::Str(text), Resolved::Int);
    }
    if is_core_float(digits)
        && let Ok(f) = text.parse::<f64>()
    {
        return Resolved::Float(f);
    }
    Resolved::Str(text)
}

/// Whether `text` is an integer under the core schema (`[-+]?[0-9]+`,
/// `0o[0-7]+`, `0x[0-9a-fA-F]+`), however large.
pub fn is_core_int(text: &str) -> bool {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    let all = |s: &str, ok: fn(&u8) -> bool| !s.is_empty() && s.bytes().all(|b| ok(&b));
    all(digits, u8::is_ascii_digit)
        || text.strip_prefix("0o").is_some_and(|o| all(o, |b| (b'0'..=b'7').contains(b)))
        || text.strip_prefix("0x").is_some_and(|h| all(h, u8::is_ascii_hexdigit))
}

/// `(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?` after the sign.
fn is_core_float(s: &str) -> bool {
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some((int, frac)) => {
            (!int.is_empty() || !frac.is_empty())
                && int.bytes().all(|b| b.is_ascii_digit())
                && frac.bytes().all(|b| b.is_ascii_digit())
                && !(int.is_empty() && frac.is_empty())
        }
        None => !mantissa.is_empty() && mantissa.bytes().all(|b| b.is_ascii_digit()),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit())
    });
    mantissa_ok && exponent_ok
}

/// The file is larger than [`MAX_BYTES`] (only that much more is ever read, so
/// its real size is not known).
pub fn too_large() -> Error {
    Error::new(
        Code::FileTooLarge,
        format!("the file is larger than 4 MiB ({MAX_BYTES} bytes), the most topo reads"),
        Span::point(Pos { line: 1, column: 1, offset: 0 }),
    )
    .help("specs and compose files are a few kilobytes: is this the right file?")
}

/// Parse one YAML document. Duplicate keys are reported in `diags` but do not
/// stop the parse; anything else that is wrong is a single syntax error.
pub fn parse(text: &str, duplicates: &mut Vec<Error>) -> Result<Node, Error> {
    if text.len() > MAX_BYTES {
        return Err(too_large());
    }
    let positions = Positions::new(text);
    let known = duplicates.len();
    let error = match parse_with(text, &positions, duplicates) {
        Err(error) if error.message.contains("indentation") => error,
        parsed => return parsed,
    };
    // A flow collection left of its key, which Compose and kubectl read: the same document once
    // its lines are indented.
    if let Some(padded) = flow::pad(text) {
        let mut again = Vec::new();
        if let Ok(node) = parse_with(&padded.text, &Positions { padded: Some(&padded), ..positions }, &mut again) {
            duplicates.truncate(known);
            duplicates.extend(again);
            return Ok(node);
        }
    }
    Err(error)
}

/// [`parse`] of `text`, whose positions `positions` maps to the file's.
fn parse_with(text: &str, positions: &Positions, duplicates: &mut Vec<Error>) -> Result<Node, Error> {
    let mut builder = Builder {
        positions,
        stack: Vec::new(),
        anchors: HashMap::new(),
        nodes: 0,
        bytes: 0,
        root: None,
        documents: 0,
        duplicates,
    };
    let mut parser = Parser::new_from_str(text);
    while let Some(next) = parser.next_event() {
        match next {
            Ok((event, span)) => {
                builder
                    .event(event, span)
                    .map_err(|d| if d.path.is_root() { d.at(&builder.path_here()) } else { d })?;
            }
            Err(error) => {
                let marker = error.marker();
                let mut pos = positions.at_line_col(marker.index(), marker.line(), marker.col());
                let text = positions.text;
                if error.info().contains("tab") {
                    // The parser stops after the tab, or at the scalar before a
                    // tab-indented line; the tab itself is what to fix.
                    pos = first_tab_from_line(text, pos).unwrap_or(pos);
                }
                return Err(Error::new(Code::YamlSyntax, yaml_message(error.info()), Span::point(pos))
                    .label("here")
                    .help_opt(yaml_help(text, pos, error.info())));
            }
        }
    }
    builder.root.ok_or_else(|| {
        Error::new(Code::EmptySpec, "the spec is empty", Span::point(positions.at_char(0)))
            .help("a spec needs at least `project:`, `phases:` and `services:`; see `topo schema`")
    })
}

fn yaml_message(info: &str) -> String {
    format!("invalid YAML: {info}")
}

/// A hint for the commonest syntax slips.
fn yaml_help(text: &str, pos: Pos, info: &str) -> Option<String> {
    let line = text.lines().nth(pos.line.saturating_sub(1)).unwrap_or_default();
    if line.contains('\t') {
        return Some("YAML does not allow tabs for indentation: indent with spaces".into());
    }
    if info.contains("quoted scalar") {
        return Some(
            "a quoted value runs until the same quote closes it: add the missing closing quote, \
             or leave the value unquoted"
                .into(),
        );
    }
    None
}

/// The first tab on the line of `pos` or a later line.
fn first_tab_from_line(text: &str, pos: Pos) -> Option<Pos> {
    let line_start = text[..pos.offset.min(text.len())].rfind('\n').map_or(0, |i| i + 1);
    let offset = line_start + text[line_start..].find('\t')?;
    let before = &text[..offset];
    let line = pos.line + text[line_start..offset].matches('\n').count();
    let column = before[before.rfind('\n').map_or(0, |i| i + 1)..].chars().count() + 1;
    Some(Pos { line, column, offset })
}

/// Converts saphyr's character indices to byte offsets.
struct Positions<'t> {
    text: &'t str,
    /// Byte offset of each character, when the text is not ASCII.
    char_offsets: Option<Vec<usize>>,
    /// Set when saphyr reads `text` with flow lines indented: its positions, mapped back.
    padded: Option<&'t flow::Padded>,
}

impl<'t> Positions<'t> {
    fn new(text: &'t str) -> Self {
        let char_offsets = (!text.is_ascii()).then(|| text.char_indices().map(|(i, _)| i).collect());
        Self { text, char_offsets, padded: None }
    }

    fn offset(&self, char_index: usize) -> usize {
        match &self.char_offsets {
            None => char_index.min(self.text.len()),
            Some(offsets) => offsets.get(char_index).copied().unwrap_or(self.text.len()),
        }
    }

    fn at_line_col(&self, char_index: usize, line: usize, col: usize) -> Pos {
        let (char_index, line, col) =
            self.padded.map_or((char_index, line, col), |p| p.original(char_index, line, col));
        Pos { line: line.max(1), column: col + 1, offset: self.offset(char_index) }
    }

    fn at_char(&self, char_index: usize) -> Pos {
        let offset = self.offset(char_index);
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        Pos { line, column: before[line_start..].chars().count() + 1, offset }
    }

    fn span(&self, raw: RawSpan) -> Span {
        let start = raw.start;
        let end = raw.end;
        Span {
            start: self.at_line_col(start.index(), start.line(), start.col()),
            end: self.at_line_col(end.index(), end.line(), end.col()),
        }
    }
}

enum Open {
    Seq {
        items: Vec<Node>,
        start: Span,
        anchor: usize,
    },
    /// `index`: where each scalar key sits in `entries`, so that finding a
    /// duplicate does not compare each key with every earlier one.
    Map {
        entries: Vec<Entry>,
        index: HashMap<String, usize>,
        pending_key: Option<Node>,
        /// Where this mapping's `<<` key is, once it has one.
        merge: Option<Span>,
        start: Span,
        anchor: usize,
    },
}

struct Builder<'p, 't, 'd> {
    positions: &'p Positions<'t>,
    stack: Vec<Open>,
    anchors: HashMap<usize, Node>,
    nodes: usize,
    /// Bytes of keys and scalars so far, alias copies included.
    bytes: usize,
    root: Option<Node>,
    documents: usize,
    duplicates: &'d mut Vec<Error>,
}

impl Builder<'_, '_, '_> {
    fn event(&mut self, event: Event<'_>, raw: RawSpan) -> Result<(), Error> {
        let span = self.positions.span(raw);
        match event {
            Event::DocumentStart(_) => {
                self.documents += 1;
                if self.documents > 1 {
                    return Err(Error::new(
                        Code::MultipleDocuments,
                        "a spec is one YAML document, but this file has more",
                        span,
                    )
                    .help("remove the `---` that starts a second document"));
                }
            }
            Event::Scalar(text, style, anchor, tag) => {
                let style = match (style, tag.as_deref()) {
                    (_, Some(tag)) => scalar_tag(tag, &text, span)?,
                    (ScalarStyle::Plain, _) => Style::Plain,
                    _ => Style::Quoted,
                };
                let node = Node { value: Value::Scalar(text.into_owned(), style), span };
                self.add(node, anchor)?;
            }
            Event::SequenceStart(anchor, tag) => {
                collection_tag(tag.as_deref(), "seq", span)?;
                self.open(Open::Seq { items: Vec::new(), start: span, anchor }, span)?;
            }
            Event::MappingStart(anchor, tag) => {
                collection_tag(tag.as_deref(), "map", span)?;
                self.open(
                    Open::Map {
                        entries: Vec::new(),
                        index: HashMap::new(),
                        pending_key: None,
                        merge: None,
                        start: span,
                        anchor,
                    },
                    span,
                )?;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor) = match self.stack.pop() {
                    Some(Open::Seq { items, start, anchor }) => {
                        (Node { value: Value::Seq(items), span: Span { start: start.start, end: span.end } }, anchor)
                    }
                    Some(Open::Map { entries, start, anchor, .. }) => {
                        (Node { value: Value::Map(entries), span: Span { start: start.start, end: span.end } }, anchor)
                    }
                    None => return Ok(()),
                };
                self.add(node, anchor)?;
            }
            Event::Alias(id) => {
                let Some((nodes, bytes)) = self.anchors.get(&id).map(Node::size) else {
                    return Err(Error::new(Code::YamlSyntax, "invalid YAML: unknown alias", span));
                };
                // Count what the copy costs before making it.
                self.count(nodes, span)?;
                self.count_bytes(bytes, span)?;
                if let Some(node) = self.anchors.get(&id).cloned() {
                    self.insert(node)?;
                }
            }
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => {}
        }
        Ok(())
    }

    fn count(&mut self, added: usize, span: Span) -> Result<(), Error> {
        self.nodes += added;
        if self.nodes > MAX_NODES {
            return Err(Error::new(
                Code::TooManyNodes,
                format!("the spec expands to more than {MAX_NODES} YAML nodes"),
                span,
            )
            .help("aliases (`*name`) that expand to ever larger copies are the usual cause"));
        }
        Ok(())
    }

    fn count_bytes(&mut self, added: usize, span: Span) -> Result<(), Error> {
        self.bytes = self.bytes.saturating_add(added);
        if self.bytes > MAX_EXPANDED_BYTES {
            return Err(Error::new(
                Code::TooManyBytes,
                format!("the spec expands to more than {MAX_EXPANDED_BYTES} bytes of keys and values"),
                span,
            )
            .help("aliases (`*name`) that copy a large value many times are the usual cause"));
        }
        Ok(())
    }

    fn open(&mut self, open: Open, span: Span) -> Result<(), Error> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(Error::new(Code::TooDeep, format!("the spec nests more than {MAX_DEPTH} levels deep"), span));
        }
        self.stack.push(open);
        Ok(())
    }

    fn add(&mut self, node: Node, anchor: usize) -> Result<(), Error> {
        self.count(1, node.span)?;
        if let Value::Scalar(text, _) = &node.value {
            self.count_bytes(text.len(), node.span)?;
        }
        if anchor > 0 {
            // The anchor keeps a copy: nested anchors would otherwise copy one
            // large value once per level, uncounted.
            self.count_bytes(node.size().1, node.span)?;
            self.anchors.insert(anchor, node.clone());
        }
        self.insert(node)
    }

    fn insert(&mut self, node: Node) -> Result<(), Error> {
        let outcome = match self.stack.last_mut() {
            None => {
                self.root = Some(node);
                Ok(None)
            }
            Some(Open::Seq { items, .. }) => {
                items.push(node);
                Ok(None)
            }
            Some(Open::Map { entries, index, pending_key, merge, .. }) => match pending_key.take() {
                None => {
                    *pending_key = Some(node);
                    Ok(None)
                }
                Some(key) if is_merge_key(&key) => match merge {
                    Some(first) => {
                        Err(Error::new(Code::DuplicateMergeKey, "a second `<<` merge key in one mapping", key.span)
                            .label("merged again here")
                            .help(format!(
                                "the first `<<` is at line {}; YAML readers disagree on which one wins: merge \
                         several mappings with one key, `<<: [*first, *second]`",
                                first.start.line
                            )))
                    }
                    None => {
                        *merge = Some(key.span);
                        merge_entries(entries, index, &node).map(|()| None)
                    }
                },
                Some(key) => Ok(insert_entry(entries, index, key, node)),
            },
        };
        match outcome {
            Ok(None) => Ok(()),
            Ok(Some((name, diagnostic))) => {
                let path = self.path_to_top().key(name);
                self.duplicates.push(diagnostic.at(&path));
                Ok(())
            }
            Err(diagnostic) => Err(diagnostic.at(&self.path_to_top().key("<<"))),
        }
    }

    /// The spec path of the node being read now: the collection at the top of
    /// the stack, and the key or index within it.
    fn path_here(&self) -> SpecPath {
        let path = self.path_to_top();
        match self.stack.last() {
            Some(Open::Seq { items, .. }) => path.index(items.len()),
            Some(Open::Map { pending_key: Some(key), .. }) => path.key(key.scalar_text().unwrap_or_default()),
            Some(Open::Map { pending_key: None, .. }) | None => path,
        }
    }

    /// The spec path of the collection being built at the top of the stack.
    fn path_to_top(&self) -> SpecPath {
        let mut path = SpecPath::root();
        let depth = self.stack.len().saturating_sub(1);
        for open in &self.stack[..depth] {
            path = match open {
                Open::Seq { items, .. } => path.index(items.len()),
                Open::Map { pending_key: Some(key), .. } => path.key(key.scalar_text().unwrap_or_default()),
                Open::Map { pending_key: None, .. } => path,
            };
        }
        path
    }
}

/// Whether `key` is the merge key `<<` (plain: a quoted `"<<"` is an ordinary key).
fn is_merge_key(key: &Node) -> bool {
    key.scalar_text() == Some("<<") && matches!(key.value, Value::Scalar(_, Style::Plain))
}

/// Adds the entries of a `<<` merge's mapping, or list of mappings, to a
/// mapping; keys already there (or merged from an earlier source) win.
fn merge_entries(entries: &mut Vec<Entry>, index: &mut HashMap<String, usize>, value: &Node) -> Result<(), Error> {
    let not_a_mapping = |node: &Node| {
        Error::new(
            Code::InvalidMerge,
            format!("a `<<` merge takes a mapping or a list of mappings, not {}", node.describe()),
            node.span,
        )
        .help("merge an anchored mapping: `<<: *defaults`, or several: `<<: [*a, *b]`")
    };
    let sources: Vec<&Node> = match &value.value {
        Value::Map(_) => vec![value],
        Value::Seq(items) => items.iter().collect(),
        Value::Scalar(..) => return Err(not_a_mapping(value)),
    };
    for source in sources {
        let Some(merged_entries) = source.entries() else {
            return Err(not_a_mapping(source));
        };
        for merged in merged_entries {
            if let Some(text) = merged.key.scalar_text() {
                if index.contains_key(text) {
                    continue;
                }
                index.insert(text.to_owned(), entries.len());
            }
            entries.push(Entry { merged: true, ..merged.clone() });
        }
    }
    Ok(())
}

/// What a tag on a scalar means: `!!str` (or `!`) makes it a string; `!!int`,
/// `!!float`, `!!bool` and `!!null` are accepted when the value is one; any
/// other tag (`!!binary`, `!!python/object/apply:…`, `!Ref`) is an error,
/// since topo would otherwise drop what the tag asks for.
fn scalar_tag(tag: &saphyr_parser::Tag, text: &str, span: Span) -> Result<Style, Error> {
    if tag.handle == "!" && tag.suffix.is_empty() {
        return Ok(Style::Quoted);
    }
    if tag.is_yaml_core_schema() {
        let fits = match (tag.suffix.as_str(), resolve_plain(text)) {
            ("str", _) => return Ok(Style::Quoted),
            ("int", Resolved::Int(_)) | ("bool", Resolved::Bool(_)) | ("null", Resolved::Null) => true,
            ("int", Resolved::Str(t)) => is_core_int(t),
            ("float", Resolved::Float(_) | Resolved::Int(_)) => true,
            ("int" | "float" | "bool" | "null", _) => false,
            _ => return Err(unknown_tag(tag, span)),
        };
        if !fits {
            return Err(Error::new(
                Code::YamlTag,
                format!("the tag `!!{}` says this is {}, but `{}` is not", tag.suffix, tag_kind(&tag.suffix), text),
                span,
            )
            .help("remove the tag: topo reads plain values by YAML 1.2's core schema"));
        }
        return Ok(Style::Plain);
    }
    Err(unknown_tag(tag, span))
}

/// A tag on a sequence or mapping: only `!!seq` and `!!map` (which change nothing).
fn collection_tag(tag: Option<&saphyr_parser::Tag>, kind: &str, span: Span) -> Result<(), Error> {
    match tag {
        None => Ok(()),
        Some(tag) if tag.is_yaml_core_schema() && tag.suffix == kind => Ok(()),
        Some(tag) => Err(unknown_tag(tag, span)),
    }
}

fn tag_kind(suffix: &str) -> &'static str {
    match suffix {
        "int" => "an integer",
        "float" => "a number",
        "bool" => "a boolean",
        _ => "null",
    }
}

fn unknown_tag(tag: &saphyr_parser::Tag, span: Span) -> Error {
    let shown = if tag.is_yaml_core_schema() { format!("!!{}", tag.suffix) } else { tag.to_string() };
    Error::new(Code::YamlTag, format!("the YAML tag `{shown}` is not part of the spec language"), span)
        .label("tagged here")
        .help(
            "topo reads plain YAML: remove the tag (only `!!str`, `!!int`, `!!float`, `!!bool`, `!!null`, \
             `!!seq` and `!!map` are accepted, and they change nothing but quoting)",
        )
}

/// Add `key: value` to a mapping (`<<` merges are handled by the caller). A duplicate key is
/// not added but returned with its diagnostic, for the caller to give it a path.
///
/// `index` maps the text of each scalar key in `entries` to its position;
/// only scalar keys can be the same key (see `same_key`).
fn insert_entry(
    entries: &mut Vec<Entry>,
    index: &mut HashMap<String, usize>,
    key: Node,
    value: Node,
) -> Option<(String, Error)> {
    let Some(text) = key.scalar_text() else {
        entries.push(Entry { key, value, merged: false });
        return None;
    };
    if let Some(&at) = index.get(text) {
        let first = &mut entries[at];
        if first.merged {
            *first = Entry { key, value, merged: false };
            return None;
        }
        let name = text;
        let diagnostic = Error::new(Code::DuplicateKey, format!("duplicate key `{name}`"), key.span)
            .label("defined again here")
            .help(format!(
                "`{name}` is first defined at line {}; YAML keeps only one of them, so remove or rename one",
                first.key.span.start.line
            ));
        return Some((name.to_owned(), diagnostic));
    }
    index.insert(text.to_owned(), entries.len());
    entries.push(Entry { key, value, merged: false });
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(text: &str) -> Node {
        let mut diags = Vec::new();
        let node = parse(text, &mut diags).expect("parses");
        assert!(diags.is_empty(), "{diags:?}");
        node
    }

    #[test]
    fn core_schema_resolution() {
        assert_eq!(resolve_plain("1"), Resolved::Int(1));
        assert_eq!(resolve_plain("-3"), Resolved::Int(-3));
        assert_eq!(resolve_plain("0x1f"), Resolved::Int(31));
        assert_eq!(resolve_plain("0o17"), Resolved::Int(15));
        assert_eq!(resolve_plain("0.5"), Resolved::Float(0.5));
        assert_eq!(resolve_plain(".5"), Resolved::Float(0.5));
        assert_eq!(resolve_plain("1e3"), Resolved::Float(1000.0));
        assert_eq!(resolve_plain("true"), Resolved::Bool(true));
        assert_eq!(resolve_plain("yes"), Resolved::Str("yes"));
        assert_eq!(resolve_plain("~"), Resolved::Null);
        assert_eq!(resolve_plain("250m"), Resolved::Str("250m"));
        assert_eq!(resolve_plain("1.5G"), Resolved::Str("1.5G"));
        assert_eq!(resolve_plain("."), Resolved::Str("."));
        assert_eq!(resolve_plain("1.2.3"), Resolved::Str("1.2.3"));
    }

    #[test]
    fn positions_are_one_based() {
        let root = parse_ok("a:\n  bb: 1\n");
        let entry = root.get("a").unwrap();
        let inner = entry.value.get("bb").unwrap();
        assert_eq!((inner.key.span.start.line, inner.key.span.start.column), (2, 3));
        assert_eq!((inner.value.span.start.line, inner.value.span.start.column), (2, 7));
        assert_eq!(inner.value.span.start.offset, 9);
    }

    #[test]
    fn non_ascii_offsets_are_bytes() {
        let text = "a: ñandú\nb: 2\n";
        let root = parse_ok(text);
        let b = root.get("b").unwrap();
        assert_eq!(&text[b.value.span.start.offset..b.value.span.start.offset + 1], "2");
    }

    #[test]
    fn duplicate_keys_are_reported_not_fatal() {
        let mut diags = Vec::new();
        let root = parse("a: 1\nb: 2\na: 3\n", &mut diags).unwrap();
        assert_eq!(diags.len(), 1);
        let d = &diags[0];
        assert_eq!(d.code, "duplicate-key");
        assert_eq!(d.span.start.line, 3);
        assert_eq!(d.path.to_string(), "a");
        let mut diags = Vec::new();
        parse("s:\n  - x: 1\n  - y: {p: 1, p: 2}\n", &mut diags).unwrap();
        assert_eq!(diags[0].path.to_string(), "s.1.y.p");
        assert_eq!(root.get("a").unwrap().value.scalar_text(), Some("1"));
    }

    #[test]
    fn flow_collections_left_of_their_key_parse_with_the_file_positions() {
        // The `]` sits under `command`: Compose reads it, saphyr alone does not.
        let text = "app:\n  command: [\n    \"node\",   # the runtime\n    \"server.js\"\n  ]\n  env: {\n  A: 1, A: 2}\n  b: x\n";
        let mut diags = Vec::new();
        let root = parse(text, &mut diags).expect("parses as Compose does");
        let app = &root.get("app").unwrap().value;
        let Value::Seq(command) = &app.get("command").unwrap().value.value else { panic!("a list") };
        assert_eq!(command.iter().map(|n| n.scalar_text().unwrap()).collect::<Vec<_>>(), ["node", "server.js"]);
        let at = |node: &Node| (node.span.start.line, node.span.start.column, node.span.start.offset);
        assert_eq!(at(&command[1]), (4, 5, text.find("\"server").unwrap()));
        assert_eq!(at(&app.get("b").unwrap().value), (8, 6, text.find("x\n").unwrap()));
        // A duplicate key found in the padded text is reported where it is in the file, once.
        assert_eq!(diags.len(), 1);
        assert_eq!((diags[0].span.start.line, diags[0].span.start.column), (7, 9));
        // Still refused when it is not that: an unclosed collection keeps saphyr's error.
        let error = parse("a: [\n1,\nb: 2\n", &mut Vec::new()).unwrap_err();
        assert!(error.message.starts_with("invalid YAML"), "{}", error.message);
    }

    #[test]
    fn merge_keys_fill_missing_entries() {
        let root = parse_ok("base: &b { x: 1, y: 2 }\nc:\n  <<: *b\n  y: 3\n");
        let c = &root.get("c").unwrap().value;
        assert_eq!(c.get("x").unwrap().value.scalar_text(), Some("1"));
        assert_eq!(c.get("y").unwrap().value.scalar_text(), Some("3"));
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let prev = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"
            ));
        }
        let err = parse(&text, &mut Vec::new()).unwrap_err();
        assert_eq!(err.code, "too-many-nodes");
    }

    #[test]
    fn deep_nesting_is_refused() {
        let err = parse(&"[".repeat(100), &mut Vec::new()).unwrap_err();
        assert_eq!(err.code, "too-deep");
        assert_eq!(err.span.start.column, MAX_DEPTH + 1);
        // The parser has a limit of its own further down; either way it is an error, not a crash.
        assert!(parse(&"[".repeat(100_000), &mut Vec::new()).is_err());
    }

    #[test]
    fn empty_and_comment_only_files_are_empty() {
        for text in ["", "   \n", "# nothing here\n# at all\n"] {
            let err = parse(text, &mut Vec::new()).unwrap_err();
            assert_eq!(err.code, "empty-spec", "{text:?}");
            assert_eq!(err.span.start.line, 1);
        }
    }

    #[test]
    fn tabs_are_a_syntax_error_with_help() {
        let err = parse("a:\n\tb: 1\n", &mut Vec::new()).unwrap_err();
        assert_eq!(err.code, "yaml-syntax");
        assert_eq!(err.span.start.line, 2);
        assert!(err.help.unwrap().contains("tabs"));
    }

    #[test]
    fn span_of_path_falls_back_to_deepest_node() {
        let root = parse_ok("services:\n  web:\n    replicas: 2\n");
        let path = SpecPath::root().key("services").key("web").key("replicas").key("3");
        let span = root.span_of(&path, Point::Value);
        assert_eq!((span.start.line, span.start.column), (3, 5));
        let key = root.span_of(&SpecPath::root().key("services").key("web"), Point::Key);
        assert_eq!((key.start.line, key.start.column), (2, 3));
    }
}
