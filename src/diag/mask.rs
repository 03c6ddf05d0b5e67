//! Masking the source text a diagnostic quotes, so that a snippet never
//! shows a secret value, even in a file too broken to parse.
//!
//! The text is read line by line with a small YAML lexer (keys, plain and
//! quoted scalars, flow collections, block scalars, comments), not a parser:
//! it works on any text. Each masked character is replaced by one of the
//! same length in bytes (`*` for ASCII), so every byte offset, line and
//! column of a diagnostic stays where it was.
//!
//! - [`every_value`] (a compose file being imported, a file from anywhere):
//!   every scalar value and comment is masked; keys, `NAME=` of a list item,
//!   and YAML punctuation stay.
//! - [`secret_values`] (a spec, written by its user): the values of keys whose
//!   name looks secret (`DB_PASSWORD: …`, `- API_KEY=…`), and every part of a
//!   line that looks secret by its shape ([`crate::secret_shape`]).

use std::ops::Range;

use crate::secret_shape;

/// `text` with every scalar value and comment masked.
pub fn every_value(text: &str) -> String {
    let mut mask = Mask::new(text);
    lex(text, &mut |token| match token.kind {
        TokenKind::Key => {}
        TokenKind::Comment => mask.add(token.range),
        TokenKind::Value => mask.add(after_env_name(text, token.range)),
    });
    mask.apply()
}

/// `text` with the values of secret-looking keys, and secret-shaped text, masked.
pub fn secret_values(text: &str) -> String {
    masked_secrets(text, None)
}

/// [`secret_values`] for a report that shows only the lines holding `offsets` (each diagnostic's
/// line): the values of secret-looking keys are masked everywhere, secret-shaped text on those
/// lines, since the others are never printed.
pub fn secret_values_at(text: &str, offsets: &[usize]) -> String {
    let mut offsets = offsets.to_vec();
    offsets.sort_unstable();
    masked_secrets(text, Some(&offsets))
}

/// `offsets` ascending, or `None` for every line.
fn masked_secrets(text: &str, offsets: Option<&[usize]>) -> String {
    let mut mask = Mask::new(text);
    lex(text, &mut |token| {
        if token.kind != TokenKind::Value {
            return;
        }
        let value = &text[token.range.clone()];
        let unquoted = value.trim_start_matches(['"', '\'']);
        let env_name = unquoted.split_once('=').map(|(name, _)| name).filter(|n| is_env_name(n));
        if env_name.is_some_and(secret_shape::is_secret_name) {
            mask.add(after_env_name(text, token.range));
        } else if token.under_secret_key && env_name.is_none() {
            mask.add(token.range);
        }
    });
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let end = offset + line.len();
        let shown = offsets.is_none_or(|offsets| {
            let first = offsets.partition_point(|&o| o < offset);
            offsets.get(first).is_some_and(|&o| o < end)
        });
        if shown {
            for (_, range) in secret_shape::find_all(line) {
                mask.add(offset + range.start..offset + range.end);
            }
        }
        offset = end;
    }
    mask.apply()
}

/// The bytes of a text to mask.
struct Mask<'t> {
    text: &'t str,
    masked: Vec<bool>,
}

impl<'t> Mask<'t> {
    fn new(text: &'t str) -> Self {
        Self { text, masked: vec![false; text.len()] }
    }

    fn add(&mut self, range: Range<usize>) {
        let end = range.end.min(self.text.len());
        for flag in self.masked.iter_mut().take(end).skip(range.start) {
            *flag = true;
        }
    }

    /// The text with each masked character replaced by one of the same length in bytes.
    fn apply(self) -> String {
        let mut out = String::with_capacity(self.text.len());
        for (i, c) in self.text.char_indices() {
            if !self.masked[i] || c == '\n' || c == '\r' {
                out.push(c);
                continue;
            }
            out.push(match c.len_utf8() {
                1 => '*',
                2 => '·',
                3 => '•',
                _ => '\u{1F784}',
            });
        }
        out
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TokenKind {
    Key,
    Value,
    Comment,
}

#[derive(Debug)]
struct Token {
    kind: TokenKind,
    range: Range<usize>,
    /// For a value: whether a key it is under (its own, or an enclosing one) looks secret.
    under_secret_key: bool,
}

/// Whether a key makes the values under it secret (`secrets:` lists names only).
fn secret_key(name: &str) -> bool {
    secret_shape::is_secret_name(name) && !name.eq_ignore_ascii_case("secrets")
}

fn is_env_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// A value's range without a leading `NAME=` (a list item of `environment`).
fn after_env_name(text: &str, range: Range<usize>) -> Range<usize> {
    let value = &text[range.clone()];
    let quote = value.len() - value.trim_start_matches(['"', '\'']).len();
    match value[quote..].split_once('=') {
        Some((name, _)) if is_env_name(name) => range.start + quote + name.len() + 1..range.end,
        _ => range,
    }
}

/// The keys, values and comments of `text`, in order, handed to `tokens`.
fn lex(text: &str, tokens: &mut dyn FnMut(Token)) {
    let mut state = State::default();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let content = line.trim_end_matches(['\n', '\r']);
        state.line(content, offset, tokens);
        offset += line.len();
    }
}

#[derive(Default)]
struct State {
    /// Inside a quoted scalar that goes on past the end of a line.
    quote: Option<u8>,
    /// Depth of `{`/`[` nesting.
    flow: usize,
    /// Inside a block scalar (`|`, `>`): the indentation of the line that started it.
    block: Option<usize>,
    /// Whether the last key read looks secret.
    key: bool,
    /// Block mapping keys enclosing the line: their column, and whether each looks secret.
    block_keys: Vec<(usize, bool)>,
    /// For each open flow collection: whether the key it is the value of looks secret.
    flow_keys: Vec<bool>,
}

impl State {
    /// What the previous lines leave open: a block scalar's continuation, a
    /// quoted scalar's rest. Returns where the line's own tokens start, or
    /// None when the whole line was part of what was open.
    fn carry_over(&mut self, line: &str, base: usize, indent: usize, tokens: &mut dyn FnMut(Token)) -> Option<usize> {
        let bytes = line.as_bytes();
        if let Some(block_indent) = self.block {
            if line.trim().is_empty() {
                return None;
            }
            if indent > block_indent {
                self.value(base + indent..base + line.len(), tokens);
                return None;
            }
            self.block = None;
        }
        if self.quote.is_none() && self.flow == 0 && !line.trim().is_empty() {
            self.block_keys.retain(|&(column, _)| column < indent);
            self.key = false;
        }
        let mut i = 0;
        if let Some(quote) = self.quote {
            let end = closing_quote(bytes, 0, quote);
            let stop = end.map_or(line.len(), |e| e + 1);
            self.value(base..base + stop, tokens);
            end?;
            self.quote = None;
            i = stop;
        }
        Some(i)
    }

    fn line(&mut self, line: &str, base: usize, tokens: &mut dyn FnMut(Token)) {
        let bytes = line.as_bytes();
        let indent = bytes.iter().take_while(|&&b| b == b' ').count();
        let Some(mut i) = self.carry_over(line, base, indent, tokens) else { return };
        while i < bytes.len() {
            let c = bytes[i];
            let next = bytes.get(i + 1).copied();
            let blank_after = next.is_none_or(|n| n == b' ' || n == b'\t');
            match c {
                b' ' | b'\t' => i += 1,
                b'#' if i == 0 || matches!(bytes[i - 1], b' ' | b'\t') => {
                    if i + 1 < line.len() {
                        tokens(Token {
                            kind: TokenKind::Comment,
                            range: base + i + 1..base + line.len(),
                            under_secret_key: false,
                        });
                    }
                    return;
                }
                b'{' | b'[' => {
                    self.flow += 1;
                    self.flow_keys.push(self.key);
                    i += 1;
                }
                b'}' | b']' => {
                    self.flow = self.flow.saturating_sub(1);
                    self.flow_keys.pop();
                    i += 1;
                }
                b',' if self.flow > 0 => i += 1,
                b'-' | b'?' | b':' if blank_after => i += 1,
                b'&' | b'*' | b'!' => {
                    i += bytes[i..]
                        .iter()
                        .position(|&b| b == b' ' || b == b'\t' || (self.flow > 0 && matches!(b, b',' | b']' | b'}')))
                        .unwrap_or(bytes.len() - i);
                }
                b'|' | b'>' if self.flow == 0 => {
                    self.block = Some(indent);
                    // The header may carry a comment.
                    if let Some(hash) = line[i..].find(" #") {
                        let start = base + i + hash + 2;
                        tokens(Token {
                            kind: TokenKind::Comment,
                            range: start..base + line.len(),
                            under_secret_key: false,
                        });
                    }
                    return;
                }
                b'"' | b'\'' => {
                    let end = closing_quote(bytes, i + 1, c);
                    let stop = end.map_or(line.len(), |e| e + 1);
                    if end.is_none() {
                        self.quote = Some(c);
                        self.value(base + i..base + stop, tokens);
                        return;
                    }
                    self.scalar(line, base, i, stop, tokens);
                    i = stop;
                }
                _ => {
                    let stop = self.plain_end(bytes, i);
                    self.scalar(line, base, i, stop, tokens);
                    i = stop.max(i + 1);
                }
            }
        }
    }

    /// Where a plain scalar that starts at `i` ends.
    fn plain_end(&self, bytes: &[u8], i: usize) -> usize {
        let mut j = i;
        while j < bytes.len() {
            let b = bytes[j];
            let next = bytes.get(j + 1).copied();
            let ends_key = b == b':'
                && (next.is_none_or(|n| n == b' ' || n == b'\t')
                    || (self.flow > 0 && next.is_some_and(|n| matches!(n, b',' | b']' | b'}'))));
            let comment = b == b'#' && j > i && matches!(bytes[j - 1], b' ' | b'\t');
            let flow_stop = self.flow > 0 && matches!(b, b',' | b']' | b'}' | b'[' | b'{');
            if ends_key || comment || flow_stop {
                break;
            }
            j += 1;
        }
        while j > i && matches!(bytes[j - 1], b' ' | b'\t') {
            j -= 1;
        }
        j
    }

    /// A scalar at `start..stop` of the line: a key when a `:` follows.
    fn scalar(&mut self, line: &str, base: usize, start: usize, stop: usize, tokens: &mut dyn FnMut(Token)) {
        let rest = &line.as_bytes()[stop..];
        let spaces = rest.iter().take_while(|&&b| b == b' ' || b == b'\t').count();
        let after = rest.get(spaces + 1).copied();
        let is_key = rest.get(spaces) == Some(&b':')
            && (after.is_none_or(|n| n == b' ' || n == b'\t')
                || (self.flow > 0 && after.is_some_and(|n| matches!(n, b',' | b']' | b'}')))
                || line.as_bytes()[start] == b'"'
                || line.as_bytes()[start] == b'\'');
        if is_key {
            let secret = secret_key(line[start..stop].trim_matches(['"', '\'']));
            tokens(Token { kind: TokenKind::Key, range: base + start..base + stop, under_secret_key: false });
            if self.flow == 0 {
                self.block_keys.retain(|&(column, _)| column < start);
                self.block_keys.push((start, secret));
            }
            self.key = secret;
        } else {
            self.value(base + start..base + stop, tokens);
        }
    }

    fn value(&self, range: Range<usize>, tokens: &mut dyn FnMut(Token)) {
        if !range.is_empty() {
            let under = self.key || self.flow_keys.iter().any(|&k| k) || self.block_keys.iter().any(|&(_, k)| k);
            tokens(Token { kind: TokenKind::Value, range, under_secret_key: under });
        }
    }
}

/// The index of the quote that closes a scalar opened before `from` (`\"` escapes in
/// double quotes, `''` in single quotes).
fn closing_quote(bytes: &[u8], from: usize, quote: u8) -> Option<usize> {
    let mut j = from;
    while j < bytes.len() {
        match bytes[j] {
            b'\\' if quote == b'"' => j += 2,
            b if b == quote => {
                if quote == b'\'' && bytes.get(j + 1) == Some(&b'\'') {
                    j += 2;
                } else {
                    return Some(j);
                }
            }
            _ => j += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_keeps_keys_and_positions() {
        let text = "services:\n  web:\n    image: nginx # a comment\n    environment: {DB_PASSWORD: hunter2, X: \"y, z\"]\n    command: [\"a\", b]\n    e:\n      - API_KEY=abc\n    s: |\n      line one\n    t: 'it''s'\n    k: \"é\"\n";
        let masked = every_value(text);
        assert_eq!(masked.len(), text.len());
        assert_eq!(masked.lines().count(), text.lines().count());
        for gone in ["nginx", "comment", "hunter2", "y, z", "\"a\"", "abc", "line one", "it''s", "é"] {
            assert!(!masked.contains(gone), "{gone} in {masked}");
        }
        for kept in ["services:", "  web:", "image: ", "environment: {DB_PASSWORD: ", ", X: ", "- API_KEY=", "s: |"] {
            assert!(masked.contains(kept), "{kept} not in {masked}");
        }
    }

    #[test]
    fn multi_line_quotes_are_masked_to_their_end() {
        let text = "a: \"one\n  two\" \nb: c\n";
        let masked = every_value(text);
        assert!(!masked.contains("one") && !masked.contains("two") && !masked.contains(": c"), "{masked}");
        assert!(masked.contains("b: "), "{masked}");
    }

    #[test]
    fn secret_values_masks_by_name_and_shape_only() {
        let text = "env:\n  DB_PASSWORD: hunter2\n  USER: bob\n  URL: postgres://u:pw1@db/x\n  list: [ok, sk-proj-AbCdEf0123456789xyzXYZ]\nx: {JWT_SECRET: s1, PORT: 80}\n- TOKEN=t0k\n";
        let masked = secret_values(text);
        for gone in ["hunter2", "pw1", "sk-proj", "s1", "t0k"] {
            assert!(!masked.contains(gone), "{gone} in {masked}");
        }
        let nested = secret_values(
            "API_TOKEN: {x: v1, y: [v2]}\nDB_PASSWORD:\n  x: v3\n  - v4\nsecrets: [A_KEY]\nother:\n  x: v5\n",
        );
        for gone in ["v1", "v2", "v3", "v4"] {
            assert!(!nested.contains(gone), "{gone} in {nested}");
        }
        assert!(nested.contains("[A_KEY]") && nested.contains("x: v5"), "{nested}");
        for kept in ["USER: bob", "list: [ok, ", "PORT: 80", "- TOKEN="] {
            assert!(masked.contains(kept), "{kept} not in {masked}");
        }
    }
}
