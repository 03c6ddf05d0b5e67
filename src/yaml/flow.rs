//! Flow collections whose continuation lines sit at or left of their key:
//!
//! ```yaml
//! command: [
//!   "node",   # the runtime
//!   "server.js"
//! ]
//! ```
//!
//! go-yaml (Compose, kubectl) and libyaml read this; saphyr, following the
//! letter of YAML 1.2, wants every line of the collection indented past the
//! block it sits in, and stops at the `]`. Indentation means nothing inside a
//! flow collection (its lines are folded), so the text with those lines
//! indented further is the same document: [`pad`] writes it, and
//! [`Padded::original`] maps each position in it back to the file's.

/// The text with flow continuation lines indented, and where spaces were added.
pub struct Padded {
    pub text: String,
    pads: Vec<Pad>,
}

/// `spaces` added at the start of 1-based line `line`, after `before` spaces added above it.
struct Pad {
    line: usize,
    spaces: usize,
    before: usize,
}

impl Padded {
    /// A position in the padded text (character index, 1-based line, 0-based column) in the original.
    pub fn original(&self, index: usize, line: usize, column: usize) -> (usize, usize, usize) {
        let here = self.pads.partition_point(|pad| pad.line < line);
        let before = self.pads.get(here.wrapping_sub(1)).map_or(0, |pad| pad.before + pad.spaces);
        let on_line = self.pads.get(here).filter(|pad| pad.line == line).map_or(0, |pad| pad.spaces.min(column));
        (index.saturating_sub(before + on_line), line, column - on_line)
    }
}

/// `text` with each line inside a flow collection indented at least one column past the
/// collection's opening bracket, or `None` when no line needs it.
pub fn pad(text: &str) -> Option<Padded> {
    let mut lexer = Lexer { node_start: true, ..Lexer::default() };
    let mut out = String::with_capacity(text.len() + 64);
    let mut pads = Vec::new();
    let mut added = 0;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let indent = line.len() - line.trim_start_matches(' ').len();
        let blank = line.trim().is_empty();
        if lexer.depth > 0 && !blank && indent < lexer.min_column {
            let spaces = lexer.min_column - indent;
            pads.push(Pad { line: i + 1, spaces, before: added });
            added += spaces;
            out.extend(std::iter::repeat_n(' ', spaces));
        }
        lexer.line(line.as_bytes(), indent, blank);
        out.push_str(line);
    }
    (!pads.is_empty()).then_some(Padded { text: out, pads })
}

/// Just enough of YAML's lexical structure to know which lines are inside a flow collection:
/// brackets, quotes, comments and block scalars.
#[derive(Default)]
struct Lexer {
    /// Flow collections open.
    depth: usize,
    /// The column (0-based) the lines of the open collection must reach.
    min_column: usize,
    /// The quote of a quoted scalar still open.
    quote: Option<u8>,
    /// The indentation of the line that opened a block scalar (`|`, `>`) whose lines follow.
    block_scalar: Option<usize>,
    /// Whether a node may begin here: a quote or bracket opens one, elsewhere it is text.
    node_start: bool,
}

impl Lexer {
    fn line(&mut self, bytes: &[u8], indent: usize, blank: bool) {
        if self.depth == 0 && self.quote.is_none() {
            if let Some(owner) = self.block_scalar {
                if blank || indent > owner {
                    return;
                }
                self.block_scalar = None;
            }
            self.node_start = true;
        }
        let mut i = indent;
        while i < bytes.len() {
            if let Some(quote) = self.quote {
                i = self.close_quote(bytes, i, quote);
                continue;
            }
            i = self.byte(bytes, i, indent);
        }
    }

    /// Reads the byte at `i`; the index of the next one to read.
    fn byte(&mut self, bytes: &[u8], i: usize, indent: usize) -> usize {
        let c = bytes[i];
        let spaced = |at: usize| matches!(bytes.get(at), None | Some(b' ' | b'\t' | b'\r' | b'\n'));
        let flow = self.depth > 0;
        match c {
            b' ' | b'\t' | b'\r' | b'\n' => return i + 1,
            b'#' if i == 0 || spaced(i - 1) => return bytes.len(),
            b'\'' | b'"' if self.node_start => {
                self.quote = Some(c);
                return i + 1;
            }
            b'[' | b'{' if flow || self.node_start => {
                if !flow {
                    self.min_column = i + 1;
                }
                self.depth += 1;
                self.node_start = true;
                return i + 1;
            }
            b']' | b'}' if flow => {
                self.depth -= 1;
                self.node_start = false;
                return i + 1;
            }
            b',' if flow => {
                self.node_start = true;
                return i + 1;
            }
            b':' if spaced(i + 1) || (flow && matches!(bytes.get(i + 1), Some(b',' | b']' | b'}'))) => {
                self.node_start = true;
                return i + 1;
            }
            b'-' if !flow && self.node_start && spaced(i + 1) => return i + 1,
            b'|' | b'>' if !flow && self.node_start => {
                self.block_scalar = Some(indent);
                return bytes.len();
            }
            b'&' | b'!' if self.node_start => {
                // An anchor or tag comes before the node it names.
                return bytes[i..].iter().position(|&b| b == b' ').map_or(bytes.len(), |n| i + n);
            }
            _ => {}
        }
        self.node_start = false;
        i + 1
    }

    /// Inside a quoted scalar at `i`: the index after its closing quote, or the line's end.
    fn close_quote(&mut self, bytes: &[u8], mut i: usize, quote: u8) -> usize {
        while i < bytes.len() {
            match bytes[i] {
                b'\\' if quote == b'"' => i += 2,
                b'\'' if quote == b'\'' && bytes.get(i + 1) == Some(&b'\'') => i += 2,
                b if b == quote => {
                    self.quote = None;
                    self.node_start = false;
                    return i + 1;
                }
                _ => i += 1,
            }
        }
        bytes.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_the_lines_of_a_flow_collection_left_of_its_bracket() {
        let text = "a:\n  command: [\n    \"node\",  # ]\n  \"x]\", 'it''s ]',\n  ]\n  next: [x,\n    y]\n";
        let padded = pad(text).expect("lines to pad");
        assert_eq!(
            padded.text,
            "a:\n  command: [\n            \"node\",  # ]\n            \"x]\", 'it''s ]',\n            ]\n  next: [x,\n         y]\n"
        );
        // Lines 3, 4 and 5 gain 8, 10 and 10 spaces: the `]` of line 5, at column 2 of the
        // original, is at column 12 of the padded text, 28 characters further on.
        let bracket = text.find("\n  ]").unwrap() + 3;
        assert_eq!(padded.text[bracket + 28..].chars().next(), Some(']'));
        assert_eq!(padded.original(bracket + 28, 5, 12), (bracket, 5, 2));
        // Before any padded line, nothing moves; inside the padding, the line's first column.
        assert_eq!(padded.original(3, 2, 0), (3, 2, 0));
        assert_eq!(padded.original(bracket + 20, 5, 4), (bracket - 2, 5, 0));
        // After them all, the 5 spaces of line 7 too.
        let y = text.rfind('y').unwrap();
        assert_eq!(padded.original(y + 33, 7, 9), (y, 7, 4));
    }

    #[test]
    fn leaves_block_scalars_comments_and_plain_brackets_alone() {
        assert!(pad("a: |\n  [\nb\n").is_none());
        assert!(pad("a: x[1]\nb: c # [\nd\n").is_none());
        assert!(pad("a: [1, 2]\nb: 'x ['\nc: 1\n").is_none());
        assert!(pad("a: &x [\n1]\n").is_some());
        assert!(pad("a: !!seq [\n1]\n").is_some());
        assert!(pad("a: [\n        1]\n").is_none());
    }
}
