//! Printing diagnostics: rustc-style for people, JSON for machines.

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};
use serde::Serialize;

use super::{Diagnostic, Diagnostics, Kind, Severity};

/// Diagnostics as a person reads them: a title with the code, the source line
/// with a caret under the problem, the spec path, and the help line.
pub fn render_human(diags: &Diagnostics, file: &str, source: &str, styled: bool) -> String {
    let renderer = if styled { Renderer::styled() } else { Renderer::plain() };
    let source = Source::new(source);
    let mut out = String::new();
    for diagnostic in diags.iter() {
        render_one(&mut out, &renderer, diagnostic, file, &source);
    }
    out
}

/// Warnings of one code printed in full by [`render_human_summarised`] before one entry sums up the rest.
pub const FULL_WARNINGS_PER_CODE: usize = 5;

/// Whether [`render_human_summarised`] prints each diagnostic in full: every error, and the first
/// [`FULL_WARNINGS_PER_CODE`] warnings of each code.
pub fn printed_in_full(diags: &Diagnostics) -> Vec<bool> {
    let mut seen: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    diags
        .iter()
        .map(|d| {
            let count = seen.entry(d.code.as_str()).or_default();
            *count += 1;
            d.severity == Severity::Error || *count <= FULL_WARNINGS_PER_CODE
        })
        .collect()
}

/// [`render_human`] for a spec's report, which a large spec fills with the same warning for
/// hundreds of services: past the first [`FULL_WARNINGS_PER_CODE`] of a code, one entry at the
/// end says how many more there are and where (`--format json` lists each one).
pub fn render_human_summarised(diags: &Diagnostics, file: &str, source: &str, styled: bool) -> String {
    let renderer = if styled { Renderer::styled() } else { Renderer::plain() };
    let source = Source::new(source);
    let mut out = String::new();
    let mut rest: Vec<(&str, Vec<&Diagnostic>)> = Vec::new();
    for (diagnostic, full) in diags.iter().zip(printed_in_full(diags)) {
        if full {
            render_one(&mut out, &renderer, diagnostic, file, &source);
            continue;
        }
        match rest.iter_mut().find(|(code, _)| *code == diagnostic.code.as_str()) {
            Some((_, more)) => more.push(diagnostic),
            None => rest.push((diagnostic.code.as_str(), vec![diagnostic])),
        }
    }
    for (code, more) in rest {
        const NAMED: usize = 3;
        let mut places: Vec<String> = more.iter().take(NAMED).map(|d| format!("`{}`", d.path)).collect();
        if more.len() > NAMED {
            places.push(format!("{} more", more.len() - NAMED));
        }
        let title = format!("{} more like the {FULL_WARNINGS_PER_CODE} above", more.len());
        let group = Level::WARNING
            .primary_title(title)
            .id(code)
            .element(Level::NOTE.message(format!("at {}", join_and(&places))))
            .element(Level::HELP.message("`--format json` lists every one, with its line"));
        out.push_str(&renderer.render(&[group]).to_string());
        out.push_str("\n\n");
    }
    out
}

/// `a`, `a and b`, `a, b and c`.
fn join_and(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

fn render_one(out: &mut String, renderer: &Renderer, diagnostic: &Diagnostic, file: &str, source: &Source) {
    let diagnostic = &masked(diagnostic);
    let (groups, shown) = report(diagnostic, file, source);
    let rendered = renderer.render(&groups).to_string();
    match shown {
        // The renderer counted columns from the start of the part shown.
        Some(Shown { line, shown_column, column }) => {
            let wrong = format!("{file}:{line}:{shown_column}");
            let right = format!("{file}:{line}:{column}");
            out.push_str(&rendered.replacen(&wrong, &right, 1));
        }
        _ => out.push_str(&rendered),
    }
    out.push_str("\n\n");
}

/// `d` with any secret-shaped text of its message, label and help masked: a
/// message that quotes a value (an image, a port, a rule) never prints a
/// credential, whatever the check that wrote it.
fn masked(d: &Diagnostic) -> Diagnostic {
    let mask = crate::secret_shape::mask;
    let mut d = d.clone();
    d.message = mask(&d.message);
    d.label = d.label.as_deref().map(mask);
    d.help = d.help.as_deref().map(mask);
    d
}

/// The text the diagnostics point into, with the start of every line, so
/// each diagnostic shows only its own line: handing the renderer the whole
/// file for every diagnostic makes printing n diagnostics O(n × file size).
struct Source<'s> {
    /// The text after any byte-order mark.
    text: &'s str,
    /// Bytes of the byte-order mark: span offsets count them, columns do not.
    bom: usize,
    /// Byte offset in `text` where each line starts.
    line_starts: Vec<usize>,
}

impl<'s> Source<'s> {
    fn new(source: &'s str) -> Self {
        let text = source.strip_prefix('\u{feff}').unwrap_or(source);
        let line_starts = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
        Self { text, bom: source.len() - text.len(), line_starts }
    }

    /// The line holding `offset` (an offset of the original source): its
    /// 1-based number, its text without the line break, and where it starts.
    fn line_of(&self, offset: usize) -> (usize, &'s str, usize) {
        let offset = offset.saturating_sub(self.bom).min(self.text.len());
        let index = self.line_starts.partition_point(|&start| start <= offset).saturating_sub(1);
        let start = self.line_starts.get(index).copied().unwrap_or(0);
        let end = self.line_starts.get(index + 1).map_or(self.text.len(), |next| next - 1);
        let line = &self.text[start..end];
        (index + 1, line.strip_suffix('\r').unwrap_or(line), start)
    }
}

/// Most bytes of a line shown either side of a caret. The renderer reads the
/// whole line it is given to fit it to the terminal (about 140 columns), so a
/// long line with many diagnostics on it (a big flow mapping) would otherwise
/// cost O(diagnostics × line length).
const LINE_WINDOW: usize = 256;

/// A snippet that shows only part of a long line: the renderer's column for
/// the caret is `shown_column`, the caret's real one `column`.
struct Shown {
    line: usize,
    shown_column: usize,
    column: usize,
}

fn report<'a>(d: &'a Diagnostic, file: &'a str, source: &Source<'a>) -> (Vec<Group<'a>>, Option<Shown>) {
    let level = match d.severity {
        Severity::Error => Level::ERROR,
        Severity::Warning => Level::WARNING,
    };
    let title = level.primary_title(d.message.as_str()).id(d.code.as_str());
    let mut shown = None;
    let mut group = match d.span {
        Some(span) => {
            let (number, line, line_start) = source.line_of(span.start.offset);
            let start = span.start.offset.saturating_sub(source.bom).saturating_sub(line_start).min(line.len());
            let window_start = floor_char_boundary(line, start.saturating_sub(LINE_WINDOW));
            let window_end = ceil_char_boundary(line, start.saturating_add(LINE_WINDOW).min(line.len()));
            let cut = window_start > 0;
            let line = &line[window_start..window_end];
            let in_line = |offset: usize| {
                offset.saturating_sub(source.bom).saturating_sub(line_start).saturating_sub(window_start)
            };
            let range = caret_range(line, in_line(span.start.offset), in_line(span.end.offset));
            if cut {
                shown = Some(Shown {
                    line: number,
                    shown_column: line[..range.start].chars().count() + 1,
                    column: span.start.column,
                });
            }
            let annotation = AnnotationKind::Primary.span(range).label(d.label.as_deref());
            title
                .element(Snippet::source(line).line_start(number).path(file).annotation(annotation))
                .element(Level::NOTE.message(format!("at `{}`", d.path)))
        }
        // About a path on disk, which the message names, not about the spec.
        None if d.kind == Kind::Output => Group::with_title(title),
        None if d.path.is_root() => title.element(Level::NOTE.message(format!("in {file}"))),
        None => title.element(Level::NOTE.message(format!("in {file}, at `{}`", d.path))),
    };
    if let Some(help) = &d.help {
        group = group.element(Level::HELP.message(help.as_str()));
    }
    (vec![group], shown)
}

/// The byte range to underline: the span, cut at the end of its first line,
/// and at least one character wide so a caret always shows.
fn caret_range(source: &str, start: usize, end: usize) -> std::ops::Range<usize> {
    let start = floor_char_boundary(source, start.min(source.len()));
    let line_end = source[start..].find(['\n', '\r']).map_or(source.len(), |i| start + i);
    let mut end = floor_char_boundary(source, end.clamp(start, line_end));
    // Trailing blanks and comments are not part of a value.
    while end > start && source[..end].ends_with([' ', '\t']) {
        end -= 1;
    }
    if end == start {
        end = source[start..line_end].chars().next().map_or(start, |c| start + c.len_utf8());
    }
    start..end
}

fn ceil_char_boundary(s: &str, mut i: usize) -> usize {
    while i < s.len() && !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[derive(Serialize)]
struct JsonReport<'a> {
    file: &'a str,
    /// Whether the check passed (no errors; no warnings either under `--strict`).
    valid: bool,
    errors: usize,
    warnings: usize,
    diagnostics: Vec<&'a Diagnostic>,
}

/// Diagnostics as one JSON document: `{file, valid, errors, warnings, diagnostics: [...]}`.
pub fn render_json(diags: &Diagnostics, file: &str, valid: bool) -> String {
    let masked: Vec<Diagnostic> = diags.iter().map(masked).collect();
    let report = JsonReport {
        file,
        valid,
        errors: diags.error_count(),
        warnings: diags.warning_count(),
        diagnostics: masked.iter().collect(),
    };
    // Serialising plain data to a String cannot fail.
    serde_json::to_string_pretty(&report).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn past_five_warnings_of_a_code_one_entry_sums_up_the_rest() {
        use crate::code::Code;
        use crate::yaml::SpecPath;
        let mut diags = Diagnostics::default();
        let at = |i: usize| SpecPath::root().key("services").key(format!("s{i}"));
        for i in 0..9 {
            diags.push(Diagnostic::warning(Code::UnreachableService, format!("nothing reaches s{i}"), &at(i)));
        }
        diags.push(Diagnostic::warning(Code::Dropped, "a different warning", &at(0)));
        for i in 0..7 {
            diags.push(Diagnostic::error(Code::Dropped, format!("error {i}"), &at(i)));
        }
        let full = printed_in_full(&diags);
        assert_eq!(full.iter().filter(|f| **f).count(), 5 + 1 + 7, "every error is in full");
        let out = render_human_summarised(&diags, "topo.yaml", "", false);
        for i in 0..5 {
            assert!(out.contains(&format!("nothing reaches s{i}\n")), "{out}");
        }
        assert!(!out.contains("nothing reaches s5"), "{out}");
        assert_eq!(out.matches("error[dropped]").count(), 7, "{out}");
        let summary = out.split("warning[unreachable-service]: 4 more like the 5 above").nth(1).expect("a summary");
        assert!(summary.contains("at `services.s5`, `services.s6`, `services.s7` and 1 more"), "{out}");
        assert!(summary.contains("`--format json` lists every one"), "{out}");
        assert_eq!(out.matches("more like the").count(), 1, "{out}");
        // The full report prints each one.
        assert_eq!(render_human(&diags, "topo.yaml", "", false).matches("nothing reaches").count(), 9);
    }

    #[test]
    fn caret_ranges_stay_on_one_line_and_show() {
        let src = "a: 1\nb: [x,\n  y]\n";
        assert_eq!(caret_range(src, 8, 18), 8..11);
        assert_eq!(caret_range(src, 3, 3), 3..4);
        assert_eq!(caret_range(src, 40, 40), 17..17);
        let accented = "é: 1";
        assert_eq!(caret_range(accented, 1, 1), 0..2);
    }
}
