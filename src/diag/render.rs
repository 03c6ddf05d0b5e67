//! Printing diagnostics: rustc-style for people, JSON for machines.

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};
use serde::Serialize;

use super::{Diagnostic, Diagnostics, Severity};

/// Diagnostics as a person reads them: a title with the code, the source line
/// with a caret under the problem, the spec path, and the help line.
pub fn render_human(diags: &Diagnostics, file: &str, source: &str, styled: bool) -> String {
    let renderer = if styled { Renderer::styled() } else { Renderer::plain() };
    let mut out = String::new();
    for diagnostic in diags.iter() {
        out.push_str(&renderer.render(&report(diagnostic, file, source)).to_string());
        out.push_str("\n\n");
    }
    out
}

fn report<'a>(d: &'a Diagnostic, file: &'a str, source: &'a str) -> Vec<Group<'a>> {
    let level = match d.severity {
        Severity::Error => Level::ERROR,
        Severity::Warning => Level::WARNING,
    };
    let title = level.primary_title(d.message.as_str()).id(d.code);
    let mut group = match d.span {
        Some(span) => {
            let range = caret_range(source, span.start.offset, span.end.offset);
            let annotation = AnnotationKind::Primary.span(range).label(d.label.as_deref());
            title
                .element(Snippet::source(source).path(file).annotation(annotation))
                .element(Level::NOTE.message(format!("at `{}`", d.path)))
        }
        None if d.path.is_root() => title.element(Level::NOTE.message(format!("in {file}"))),
        None => title.element(Level::NOTE.message(format!("in {file}, at `{}`", d.path))),
    };
    if let Some(help) = &d.help {
        group = group.element(Level::HELP.message(help.as_str()));
    }
    vec![group]
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
    let report = JsonReport {
        file,
        valid,
        errors: diags.error_count(),
        warnings: diags.warning_count(),
        diagnostics: diags.iter().collect(),
    };
    // Serialising plain data to a String cannot fail.
    serde_json::to_string_pretty(&report).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

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
