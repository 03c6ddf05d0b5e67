//! One function per subcommand; each returns an [`ExitStatus`].

use std::io::{IsTerminal, Write};
use std::path::Path;

use topo::diag::{Diagnostic, Diagnostics, render_human, render_json};

use crate::cli::Format;

/// How a command ended, mapped to the process exit code by `main`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// 0: done.
    Success,
    /// 1: the input is invalid, or a strict check failed.
    Failure,
}

impl From<ExitStatus> for std::process::ExitCode {
    fn from(status: ExitStatus) -> Self {
        match status {
            ExitStatus::Success => Self::SUCCESS,
            ExitStatus::Failure => Self::from(1),
        }
    }
}

/// `topo check`.
pub fn check(spec_path: &Path, strict: bool, format: Format) -> anyhow::Result<ExitStatus> {
    let file = spec_path.display().to_string();
    let bytes = fs_err::read(spec_path);
    let source = bytes.as_deref().map(String::from_utf8_lossy).unwrap_or_default();
    let (diags, summary) = match &bytes {
        Err(error) => {
            let mut diags = Diagnostics::default();
            let hint = (spec_path == Path::new("topo.yaml"))
                .then(|| "topo reads `./topo.yaml` unless you pass `--spec FILE`".to_string());
            diags.push(Diagnostic::unreadable(format!("cannot read the spec: {error}")).help_opt(hint));
            (diags, None)
        }
        Ok(bytes) => match topo::compile(bytes) {
            Ok(compiled) => {
                let model = &compiled.model;
                let services = compiled.spec.services.len();
                let phases = model.phases.len();
                let summary = format!("{phases} phase{}, {services} service{}", plural(phases), plural(services));
                (compiled.warnings, Some(summary))
            }
            Err(diags) => (diags, None),
        },
    };
    let failed = diags.has_errors() || (strict && !diags.is_empty());
    match format {
        Format::Json => {
            let mut stdout = std::io::stdout().lock();
            writeln!(stdout, "{}", render_json(&diags, &file, !failed))?;
        }
        Format::Human => {
            let styled = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            let mut stderr = anstream::stderr().lock();
            write!(stderr, "{}", render_human(&diags, &file, &source, styled))?;
            writeln!(stderr, "{}", closing_line(&file, &diags, summary.as_deref(), strict))?;
        }
    }
    Ok(if failed { ExitStatus::Failure } else { ExitStatus::Success })
}

fn closing_line(file: &str, diags: &Diagnostics, summary: Option<&str>, strict: bool) -> String {
    let counts = format!(
        "{} error{}, {} warning{}",
        diags.error_count(),
        plural(diags.error_count()),
        diags.warning_count(),
        plural(diags.warning_count())
    );
    match summary {
        Some(summary) if !(strict && diags.warning_count() > 0) => format!("ok: {file} is valid ({summary}; {counts})"),
        Some(_) => format!("error: {file} has warnings, and --strict makes them fail ({counts})"),
        None => format!("error: {file} is not a valid spec ({counts})"),
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// `topo schema`.
pub fn schema() -> anyhow::Result<ExitStatus> {
    std::io::stdout().lock().write_all(topo::schema::json_schema().as_bytes())?;
    Ok(ExitStatus::Success)
}
