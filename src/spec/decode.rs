//! Decoding a YAML tree into spec types, collecting every shape error.
//!
//! serde stops at the first error and forgets where it was; a spec author
//! wants all of them, each at its line and column. So each spec type says
//! which fields it reads through a [`Fields`] cursor, every problem becomes a
//! diagnostic, and decoding carries on with the next field. Whatever the cursor
//! was not asked for is an unknown field, with a "did you mean" drawn from the
//! names that were asked for.

use crate::code::Code;
use std::collections::BTreeMap;

use crate::diag::{Diagnostic, Diagnostics, suggestion};
use crate::yaml::SpecPath;

use crate::yaml::{Entry, Node, Resolved, Value, YAML11_BOOLEANS, is_core_int};

/// Collects diagnostics while decoding.
#[derive(Default)]
pub struct Decoder {
    pub diags: Diagnostics,
}

impl Decoder {
    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.diags.push(diagnostic);
    }

    /// "expected X, found Y" at `node`.
    pub fn wrong_type(&mut self, node: &Node, path: &SpecPath, expected: &str) {
        let found = node.describe();
        let mut diagnostic = Diagnostic::shape(Code::InvalidType, format!("expected {expected}, found {found}"), path)
            .with_span(node.span)
            .label(format!("this is {found}"));
        if let Some(help) = list_habit(node, path, expected) {
            diagnostic = diagnostic.help(help);
        } else if let Some(Resolved::Str(text)) = node.resolve() {
            if YAML11_BOOLEANS.contains(&text) && expected.contains("boolean") {
                diagnostic = diagnostic.help(format!("YAML 1.2 reads `{text}` as a string: write `true` or `false`"));
            }
        } else if matches!(node.resolve(), Some(Resolved::Int(_) | Resolved::Float(_) | Resolved::Bool(_)))
            && expected.starts_with("a string")
        {
            let text = node.scalar_text().unwrap_or_default();
            diagnostic = diagnostic.help(format!("quote it to make it a string: \"{text}\""));
        }
        self.push(diagnostic);
    }

    /// A value of the right type that is still not acceptable.
    pub fn invalid_value(&mut self, node: &Node, path: &SpecPath, message: impl Into<String>) {
        self.push(Diagnostic::shape(Code::InvalidValue, message, path).with_span(node.span));
    }
}

/// A type that can be read from a YAML node.
pub trait Decode: Sized {
    /// The words for this type in "expected …" messages.
    const EXPECTED: &'static str;

    /// Read `node`, reporting problems to `d`; `None` when it could not be read.
    fn decode(d: &mut Decoder, node: &Node, path: &SpecPath) -> Option<Self>;
}

impl Decode for String {
    const EXPECTED: &'static str = "a string";

    fn decode(d: &mut Decoder, node: &Node, path: &SpecPath) -> Option<Self> {
        match node.resolve() {
            Some(Resolved::Str(s)) => Some(s.to_owned()),
            _ => {
                d.wrong_type(node, path, Self::EXPECTED);
                None
            }
        }
    }
}

impl Decode for bool {
    const EXPECTED: &'static str = "a boolean (`true` or `false`)";

    fn decode(d: &mut Decoder, node: &Node, path: &SpecPath) -> Option<Self> {
        match node.resolve() {
            Some(Resolved::Bool(b)) => Some(b),
            _ => {
                d.wrong_type(node, path, Self::EXPECTED);
                None
            }
        }
    }
}

/// Whole numbers of a bounded type.
macro_rules! decode_integer {
    ($ty:ty, $expected:literal) => {
        impl Decode for $ty {
            const EXPECTED: &'static str = $expected;

            fn decode(d: &mut Decoder, node: &Node, path: &SpecPath) -> Option<Self> {
                match node.resolve() {
                    Some(Resolved::Int(i)) => match <$ty>::try_from(i) {
                        Ok(v) => Some(v),
                        Err(_) => {
                            d.invalid_value(
                                node,
                                path,
                                format!(
                                    "{i} is out of range: expected {} from {} to {}",
                                    $expected,
                                    <$ty>::MIN,
                                    <$ty>::MAX
                                ),
                            );
                            None
                        }
                    },
                    // The core schema reads it as an integer; it only does not fit in 64 bits.
                    Some(Resolved::Str(text)) if node.is_plain() && is_core_int(text) => {
                        d.invalid_value(
                            node,
                            path,
                            format!(
                                "{text} is out of range: expected {} from {} to {}",
                                $expected,
                                <$ty>::MIN,
                                <$ty>::MAX
                            ),
                        );
                        None
                    }
                    _ => {
                        d.wrong_type(node, path, Self::EXPECTED);
                        None
                    }
                }
            }
        }
    };
}

decode_integer!(u32, "a whole number");
decode_integer!(u16, "a whole number");

impl Decode for f64 {
    const EXPECTED: &'static str = "a number";

    fn decode(d: &mut Decoder, node: &Node, path: &SpecPath) -> Option<Self> {
        match node.resolve() {
            Some(Resolved::Int(i)) => Some(i as f64),
            Some(Resolved::Float(f)) if f.is_finite() => Some(f),
            _ => {
                d.wrong_type(node, path, "a finite number, such as `12` or `0.5`");
                None
            }
        }
    }
}

/// `null` (or an empty value) is absent; anything else must decode.
impl<T: Decode> Decode for Option<T> {
    const EXPECTED: &'static str = T::EXPECTED;

    fn decode(d: &mut Decoder, node: &Node, path: &SpecPath) -> Option<Self> {
        if matches!(node.resolve(), Some(Resolved::Null)) {
            return Some(None);
        }
        T::decode(d, node, path).map(Some)
    }
}

impl<T: Decode> Decode for Vec<T> {
    const EXPECTED: &'static str = "a list";

    fn decode(d: &mut Decoder, node: &Node, path: &SpecPath) -> Option<Self> {
        let Value::Seq(items) = &node.value else {
            d.wrong_type(node, path, Self::EXPECTED);
            return None;
        };
        let before = d.diags.error_count();
        let decoded: Vec<T> =
            items.iter().enumerate().filter_map(|(i, item)| T::decode(d, item, &path.index(i))).collect();
        (d.diags.error_count() == before).then_some(decoded)
    }
}

/// A mapping from string keys to values; the keys are checked later, where
/// their meaning (service, node, label, …) is known.
impl<T: Decode> Decode for BTreeMap<String, T> {
    const EXPECTED: &'static str = "a mapping";

    fn decode(d: &mut Decoder, node: &Node, path: &SpecPath) -> Option<Self> {
        let Some(entries) = node.entries() else {
            d.wrong_type(node, path, Self::EXPECTED);
            return None;
        };
        let before = d.diags.error_count();
        let mut map = BTreeMap::new();
        for Entry { key, value, .. } in entries {
            let Some(name) = scalar_key(d, key, path) else { continue };
            if let Some(v) = T::decode(d, value, &path.key(name)) {
                map.insert(name.to_owned(), v);
            }
        }
        (d.diags.error_count() == before).then_some(map)
    }
}

/// The text of a mapping key, which must be a scalar.
pub fn scalar_key<'n>(d: &mut Decoder, key: &'n Node, path: &SpecPath) -> Option<&'n str> {
    match &key.value {
        Value::Scalar(text, _) => Some(text),
        _ => {
            d.push(
                Diagnostic::shape(
                    Code::InvalidKey,
                    format!("a key must be a plain name, found {}", key.describe()),
                    path,
                )
                .with_span(key.span),
            );
            None
        }
    }
}

/// Reads the fields of one mapping and reports the ones nobody asked for.
pub struct Fields<'n> {
    node: &'n Node,
    entries: &'n [Entry],
    path: SpecPath,
    /// "service", "node", …: what the mapping is, for messages.
    what: &'static str,
    asked: Vec<&'static str>,
    /// Whether `x-` keys are allowed (as in compose) for YAML anchors and tools.
    extensions: bool,
}

impl<'n> Fields<'n> {
    /// Start reading `node` as a mapping; reports and returns `None` if it is not one.
    pub fn open(d: &mut Decoder, node: &'n Node, path: &SpecPath, what: &'static str) -> Option<Self> {
        let Some(entries) = node.entries() else {
            d.wrong_type(node, path, &format!("a mapping ({what})"));
            return None;
        };
        Some(Self { node, entries, path: path.clone(), what, asked: Vec::new(), extensions: false })
    }

    /// Allow `x-…` keys, ignored by topo.
    #[must_use]
    pub fn with_extensions(mut self) -> Self {
        self.extensions = true;
        self
    }

    pub fn path(&self) -> &SpecPath {
        &self.path
    }

    pub fn node(&self) -> &'n Node {
        self.node
    }

    /// The raw node of a field, if present and not null.
    pub fn raw(&mut self, key: &'static str) -> Option<&'n Node> {
        self.asked.push(key);
        self.entries
            .iter()
            .find(|e| e.key.scalar_text() == Some(key))
            .map(|e| &e.value)
            .filter(|v| !matches!(v.resolve(), Some(Resolved::Null)))
    }

    /// An optional field: `None` when absent, null or invalid (invalid is reported).
    pub fn opt<T: Decode>(&mut self, d: &mut Decoder, key: &'static str) -> Option<T> {
        let node = self.raw(key)?;
        T::decode(d, node, &self.path.key(key))
    }

    /// A required field: reported when absent.
    pub fn req<T: Decode>(&mut self, d: &mut Decoder, key: &'static str) -> Option<T> {
        match self.raw(key) {
            Some(node) => T::decode(d, node, &self.path.key(key)),
            None => {
                d.push(
                    Diagnostic::shape(
                        Code::MissingField,
                        format!("missing field `{key}` in {}", self.owner()),
                        &self.path,
                    )
                    .on_key()
                    .label(format!("this {} has no `{key}`", self.what))
                    .help(format!("add `{key}: {}`", T::EXPECTED)),
                );
                None
            }
        }
    }

    /// "`services.backend` (a service)", or "the spec" at the top.
    fn owner(&self) -> String {
        if self.path.is_root() { "the spec".to_string() } else { format!("`{}` (a {})", self.path, self.what) }
    }

    /// Report every key that was not asked for.
    pub fn finish(self, d: &mut Decoder) {
        for entry in self.entries {
            let Some(key) = scalar_key(d, &entry.key, &self.path) else { continue };
            if self.asked.contains(&key) || (self.extensions && key.starts_with("x-")) {
                continue;
            }
            let mut known: Vec<&str> = self.asked.clone();
            known.sort_unstable();
            known.dedup();
            let help = compose_habit(key, &known)
                .or_else(|| suggestion(key, known.iter().copied()))
                .unwrap_or_else(|| format!("a {} has the fields {}", self.what, list_names(&known)));
            d.push(
                Diagnostic::shape(
                    Code::UnknownField,
                    format!("unknown field `{key}` in {}", self.owner()),
                    &self.path.key(key),
                )
                .with_span(entry.key.span)
                .label(format!("not a field of a {}", self.what))
                .help(help),
            );
        }
    }
}

/// Compose fields a service written in compose's habits uses, with what topo
/// calls them: `(compose, topo, how topo writes it)`.
const COMPOSE_FIELDS: [(&str, &str, &str); 6] = [
    ("environment", "env", "a mapping: `env: { LOG_LEVEL: info }` (secrets go in `secrets`)"),
    ("healthcheck", "health", "`health: { http: /healthz }`, `{ tcp: 5432 }` or `{ exec: [pg_isready] }`"),
    ("deploy", "replicas", "`replicas: 3` and `resources: { limits: { cpu: 500m, memory: 256Mi } }` on the service"),
    ("mem_limit", "resources", "`resources: { limits: { memory: 256Mi } }`"),
    ("cpus", "resources", "`resources: { limits: { cpu: 500m } }`"),
    ("depends", "depends_on", "a list of service names: `depends_on: [db]`"),
];

/// "topo calls it …" for a compose field, where the owner has the topo field.
fn compose_habit(key: &str, known: &[&str]) -> Option<String> {
    let (_, topo, how) = COMPOSE_FIELDS.iter().find(|(compose, topo, _)| *compose == key && known.contains(topo))?;
    Some(format!("topo calls it `{topo}`: {how}"))
}

/// A compose-style list where topo has a mapping (`volumes: [data:/var/lib/x]`,
/// `env: [KEY=value]`): the mapping form, with an example.
fn list_habit(node: &Node, path: &SpecPath, expected: &str) -> Option<String> {
    if expected != "a mapping" || !matches!(node.value, crate::yaml::Value::Seq(_)) {
        return None;
    }
    let Some(crate::yaml::Segment::Key(field)) = path.segments().last() else { return None };
    let example = match field.as_str() {
        "volumes" => {
            "volumes are named, each with its mount and size: `volumes: { data: { mount: /var/lib/postgresql/data, size: 10Gi } }`"
        }
        "env" => "`env` is a mapping, not compose's `KEY=value` list: `env: { LOG_LEVEL: info }`",
        "ports" => "named ports are a mapping (the main one is `port`): `ports: { metrics: 9090 }`",
        "labels" => "labels are a mapping: `labels: { zone: eu-1 }`",
        _ => return None,
    };
    Some(example.to_owned())
}

/// `a`, `b` and `c`
pub fn list_names(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.as_slice() {
        [] => "(none)".into(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// A scalar read as text, whatever its type: env values, command arguments.
/// `null` is not text.
pub fn scalar_text(d: &mut Decoder, node: &Node, path: &SpecPath, expected: &str) -> Option<String> {
    match node.resolve() {
        Some(Resolved::Null) | None => {
            d.wrong_type(node, path, expected);
            None
        }
        Some(_) => node.scalar_text().map(str::to_owned),
    }
}

/// Parse a scalar with `parse` (for quantities), accepting numbers where `numbers` is set.
pub fn parse_scalar<T, E: std::fmt::Display>(
    d: &mut Decoder,
    node: &Node,
    path: &SpecPath,
    expected: &str,
    numbers: bool,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Option<T> {
    let resolved_int;
    let text = match node.resolve() {
        Some(Resolved::Str(s)) => s,
        // The core schema's value, not the text: `0x40000000` is 1073741824.
        Some(Resolved::Int(i)) if numbers => {
            resolved_int = i.to_string();
            resolved_int.as_str()
        }
        Some(Resolved::Float(f)) if numbers && f.is_finite() => node.scalar_text().unwrap_or_default(),
        _ => {
            d.wrong_type(node, path, expected);
            return None;
        }
    };
    match parse(text) {
        Ok(value) => Some(value),
        Err(message) => {
            d.invalid_value(node, path, message.to_string());
            None
        }
    }
}

/// One of a fixed set of words, with "did you mean" when it is not.
pub fn keyword<T: Copy>(
    d: &mut Decoder,
    node: &Node,
    path: &SpecPath,
    what: &str,
    choices: &[(&'static str, T)],
) -> Option<T> {
    keyword_or_alias(d, node, path, what, choices, &[])
}

/// Like [`keyword`], and for a word other tools use (`kubernetes`, `master`),
/// a help line naming topo's word for it.
pub fn keyword_or_alias<T: Copy>(
    d: &mut Decoder,
    node: &Node,
    path: &SpecPath,
    what: &str,
    choices: &[(&'static str, T)],
    aliases: &[(&str, &'static str)],
) -> Option<T> {
    let names: Vec<&str> = choices.iter().map(|(name, _)| *name).collect();
    let expected = format!("{what}: one of {}", list_names(&names));
    let Some(Resolved::Str(text)) = node.resolve() else {
        d.wrong_type(node, path, &expected);
        return None;
    };
    if let Some((_, value)) = choices.iter().find(|(name, _)| *name == text) {
        return Some(*value);
    }
    d.push(
        Diagnostic::shape(Code::InvalidValue, format!("unknown {what} `{text}`"), path)
            .with_span(node.span)
            .label(format!("expected one of {}", list_names(&names)))
            .help_opt(
                aliases
                    .iter()
                    .find(|(alias, _)| alias.eq_ignore_ascii_case(text))
                    .map(|(_, word)| format!("topo calls this `{word}`"))
                    .or_else(|| suggestion(text, names.iter().copied())),
            ),
    );
    None
}
