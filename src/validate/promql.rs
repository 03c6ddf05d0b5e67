//! A trigger's own `expr` is PromQL: parsed as Prometheus would, alone and in
//! the comparison the alert rule wraps it in, so that `topo check` refuses
//! what `promtool check rules` would.

use crate::code::Code;
use crate::diag::Diagnostic;
use crate::spec::Spec;
use crate::yaml::SpecPath;

/// Parse `expr` with the PromQL grammar; the parser's reason when it is not PromQL.
pub fn parse_error(expr: &str) -> Option<String> {
    promql_parser::parser::parse(expr).err()
}

/// Every trigger `expr` that is not PromQL, or that is not a value a threshold can be compared with.
pub fn check(spec: &Spec) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (index, trigger) in spec.triggers.iter().enumerate() {
        let Some(expr) = &trigger.expr else { continue };
        let path = SpecPath::root().key("triggers").index(index).key("expr");
        let trimmed = expr.trim();
        let reason = if trimmed.is_empty() {
            Some("it is empty".to_owned())
        } else if let Some(reason) = parse_error(trimmed) {
            Some(reason)
        } else {
            // The rule compares it with the threshold: a range vector or a string cannot be compared.
            parse_error(&format!("({trimmed}) > 0"))
                .map(|reason| format!("it cannot be compared with a threshold ({reason})"))
        };
        if let Some(reason) = reason {
            out.push(
                Diagnostic::error(Code::InvalidPromql, format!("`expr` is not a PromQL expression: {}", one_line(&reason)), &path)
                    .help("write an instant-vector or scalar PromQL query, like `sum(rate(http_requests_total[5m]))`; topo adds the comparison with the threshold"),
            );
        }
    }
    out
}

/// The parser's message on one line, at most 200 characters.
fn one_line(text: &str) -> String {
    let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() <= 200 { line } else { format!("{}…", line.chars().take(200).collect::<String>()) }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    #[test]
    fn an_expression_that_is_not_promql_is_refused() {
        assert!(parse_error("sum(rate(x[5m])").is_some());
        assert!(parse_error("rate(x[5m])").is_none());
    }
}
