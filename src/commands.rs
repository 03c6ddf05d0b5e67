//! One function per subcommand; each returns an [`ExitStatus`].

use std::io::{IsTerminal, Write};
use std::path::Path;

use topo::diag::{Diagnostic, Diagnostics, render_human, render_human_summarised, render_json};

use topo::emit::yaml::Serialised as _;
use topo::render::Output;

use crate::cli::{Format, PlanFormat};

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
    let loaded = load(spec_path);
    let (diags, summary) = match &loaded.result {
        Ok(compiled) => {
            let services = compiled.spec.services.len();
            let phases = compiled.model.phases.len();
            // Does every phase fit its machines? An error when not, a warning when tight.
            let mut diags = compiled.warnings.clone();
            diags.extend(topo::plan::diagnostics(&topo::plan::fit(&compiled.model)));
            diags.extend(topo::render::check(&compiled.model));
            compiled.locate(&mut diags);
            let summary = (!diags.has_errors())
                .then(|| format!("{phases} phase{}, {services} service{}", plural(phases), plural(services)));
            (diags, summary)
        }
        Err(diags) => (diags.clone(), None),
    };
    let failed = diags.has_errors() || (strict && !diags.is_empty());
    report(&diags, &loaded, format, true, !failed)?;
    if format == Format::Human {
        writeln!(std::io::stderr(), "{}", closing_line(&loaded.file, &diags, summary.as_deref(), strict))?;
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

/// A spec read from disk: compiled, or the diagnostics that stopped it.
struct Loaded {
    file: String,
    /// The text as read, unmasked: [`report`] masks what it shows.
    source: String,
    result: Result<topo::Compiled, Diagnostics>,
    /// Whether the human report sums up a code's warnings past the first few: a spec's does; an
    /// import's names every change at its line.
    summarised: bool,
}

fn load(spec_path: &Path) -> Loaded {
    let file = spec_path.display().to_string();
    match topo::read_file_bounded(spec_path) {
        Err(error) => {
            let mut diags = Diagnostics::default();
            let hint = (spec_path == Path::new("topo.yaml"))
                .then(|| "topo reads `./topo.yaml` unless you pass `--spec FILE`".to_string());
            diags.push(Diagnostic::unreadable(format!("cannot read the spec: {error}")).help_opt(hint));
            Loaded { file, source: String::new(), result: Err(diags), summarised: true }
        }
        Ok(bytes) => {
            // Masked when a report shows it ([`report`]).
            let source = String::from_utf8_lossy(&bytes).into_owned();
            Loaded { file, source, result: topo::compile(&bytes), summarised: true }
        }
    }
}

/// Print diagnostics as the format asks; JSON goes to stdout or stderr.
fn report(diags: &Diagnostics, loaded: &Loaded, format: Format, json_to_stdout: bool, ok: bool) -> anyhow::Result<()> {
    match format {
        Format::Json if json_to_stdout => {
            writeln!(std::io::stdout().lock(), "{}", render_json(diags, &loaded.file, ok))?
        }
        Format::Json => writeln!(std::io::stderr().lock(), "{}", render_json(diags, &loaded.file, ok))?,
        Format::Human => {
            let styled = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            // A snippet of the spec never shows a secret-looking value.
            let full = if loaded.summarised { topo::diag::printed_in_full(diags) } else { vec![true; diags.len()] };
            let shown: Vec<usize> = (diags.iter().zip(full))
                .filter_map(|(d, full)| d.span.filter(|_| full).map(|span| span.start.offset))
                .collect();
            let source = topo::diag::mask::secret_values_at(&loaded.source, &shown);
            let text = if loaded.summarised {
                render_human_summarised(diags, &loaded.file, &source, styled)
            } else {
                render_human(diags, &loaded.file, &source, styled)
            };
            write!(anstream::stderr().lock(), "{text}")?;
        }
    }
    Ok(())
}

/// `topo render --phase N [--target T] [--out DIR] [--force]`.
pub fn render(
    spec_path: &Path,
    phase: &str,
    output: Option<Output>,
    out: Option<&Path>,
    force: bool,
    format: Format,
) -> anyhow::Result<ExitStatus> {
    let loaded = load(spec_path);
    let Some(compiled) = compiled_or_report(&loaded, format, out.is_some())? else { return Ok(ExitStatus::Failure) };
    let model = &compiled.model;
    let phase = find_phase(model, &loaded.file, phase)?;
    let output = output.unwrap_or(Output::Target(phase.target));
    let rendered = topo::render::render_output(model, phase, output);
    let mut diags = compiled.warnings.clone();
    diags.extend(rendered.diagnostics.clone());
    compiled.locate(&mut diags);
    let mut refused = false;
    if !diags.has_errors() {
        match out {
            Some(dir) => {
                let options = topo::emit::Options { inputs: &[spec_path], force };
                if let Err(error) = topo::emit::write_files(dir, &rendered.files(), options) {
                    diags.push(write_diagnostic(error));
                    refused = true;
                }
            }
            None => std::io::stdout().lock().write_all(rendered.stream().as_bytes())?,
        }
    }
    let failed = diags.has_errors();
    report(&diags, &loaded, format, out.is_some(), !failed)?;
    if format == Format::Human && refused {
        let dir = out.map(Path::display).map(|d| d.to_string()).unwrap_or_default();
        writeln!(std::io::stderr(), "error: nothing written into {dir}")?;
    }
    if format == Format::Human && !failed {
        for note in &rendered.notes {
            writeln!(std::io::stderr(), "note: {note}")?;
        }
    }
    if format == Format::Human && out.is_some() && !failed {
        let files = rendered.files().len();
        let dir = out.map(Path::display).map(|d| d.to_string()).unwrap_or_default();
        writeln!(std::io::stderr(), "wrote {files} file{} into {dir}", plural(files))?;
    }
    Ok(if failed { ExitStatus::Failure } else { ExitStatus::Success })
}

/// A write that did not happen, as a diagnostic: the report shows it in either format.
fn write_diagnostic(error: topo::emit::WriteError) -> Diagnostic {
    match error {
        topo::emit::WriteError::Refused(refusal) => {
            Diagnostic::output(refusal.code, refusal.message).help_opt(refusal.help)
        }
        topo::emit::WriteError::Io(error) => {
            Diagnostic::output(topo::code::Code::OutWriteFailed, format!("cannot write: {error}"))
        }
    }
}

/// The compiled spec; or `None` once the diagnostics that stopped it are printed.
fn compiled_or_report(
    loaded: &Loaded,
    format: Format,
    json_to_stdout: bool,
) -> anyhow::Result<Option<&topo::Compiled>> {
    match &loaded.result {
        Ok(compiled) => Ok(Some(compiled)),
        Err(diags) => {
            report(diags, loaded, format, json_to_stdout, false)?;
            if format == Format::Human {
                writeln!(std::io::stderr(), "{}", closing_line(&loaded.file, diags, None, false))?;
            }
            Ok(None)
        }
    }
}

fn find_phase<'m>(model: &'m topo::model::Model, file: &str, wanted: &str) -> anyhow::Result<&'m topo::model::Phase> {
    model.phases.iter().find(|p| p.number.to_string() == wanted || p.name == wanted).ok_or_else(|| {
        let known: Vec<String> = model.phases.iter().map(|p| format!("{} ({})", p.number, p.name)).collect();
        anyhow::anyhow!("{file} has no phase `{wanted}`; its phases are {}", known.join(", "))
    })
}

/// `topo plan`.
pub fn plan(
    spec_path: &Path,
    phase: Option<&str>,
    format: PlanFormat,
    out: Option<&Path>,
) -> anyhow::Result<ExitStatus> {
    let loaded = load(spec_path);
    let Some(compiled) = compiled_or_report(&loaded, Format::Human, false)? else { return Ok(ExitStatus::Failure) };
    let only = phase.map(|p| find_phase(&compiled.model, &loaded.file, p).map(|p| p.number)).transpose()?;
    let mut plan = topo::plan::plan_for(&compiled.model, &loaded.file);
    let text = match format {
        PlanFormat::Md => topo::plan::markdown::plan(&plan, only),
        PlanFormat::Html => topo::plan::html::plan(&plan, only),
        PlanFormat::Json => {
            if let Some(number) = only {
                plan.phases.retain(|p| p.number == number);
                plan.migrations.retain(|m| m.to == number);
            }
            format!("{}\n", serde_json::to_string_pretty(&plan)?)
        }
    };
    match out {
        Some(path) => {
            if let Err(error) = topo::emit::write_file(path, &text, &[spec_path]) {
                let mut diags = Diagnostics::default();
                diags.push(write_diagnostic(error));
                report(&diags, &loaded, Format::Human, false, false)?;
                writeln!(std::io::stderr(), "error: nothing written to {}", path.display())?;
                return Ok(ExitStatus::Failure);
            }
        }
        None => std::io::stdout().lock().write_all(text.as_bytes())?,
    }
    Ok(ExitStatus::Success)
}

/// `topo diff --from N --to M`.
pub fn diff(spec_path: &Path, from: &str, to: &str, format: PlanFormat) -> anyhow::Result<ExitStatus> {
    let loaded = load(spec_path);
    let Some(compiled) = compiled_or_report(&loaded, Format::Human, false)? else { return Ok(ExitStatus::Failure) };
    let a = find_phase(&compiled.model, &loaded.file, from)?;
    let b = find_phase(&compiled.model, &loaded.file, to)?;
    let migration = topo::plan::migrate::migration(&compiled.model, &loaded.file, a, b);
    let text = match format {
        PlanFormat::Md => topo::plan::markdown::migration(&migration),
        PlanFormat::Html => topo::plan::html::migration(&migration),
        PlanFormat::Json => format!("{}\n", serde_json::to_string_pretty(&migration)?),
    };
    std::io::stdout().lock().write_all(text.as_bytes())?;
    Ok(ExitStatus::Success)
}

/// `topo render --all --out DIR [--check] [--force]`.
pub fn render_all(
    spec_path: &Path,
    out: Option<&Path>,
    check: bool,
    force: bool,
    format: Format,
) -> anyhow::Result<ExitStatus> {
    let Some(dir) = out else { anyhow::bail!("--all needs --out DIR") };
    let loaded = load(spec_path);
    let Some(compiled) = compiled_or_report(&loaded, format, true)? else { return Ok(ExitStatus::Failure) };
    let spec_name = spec_path.file_name().map_or_else(|| loaded.file.clone(), |n| n.to_string_lossy().into_owned());
    let all = topo::gitops::render_all(&compiled.model, &spec_name);
    let mut diags = compiled.warnings.clone();
    diags.extend(all.diagnostics.clone());
    compiled.locate(&mut diags);
    let fix = format!("topo render --all --spec {} --out {}", spec_path.display(), dir.display());
    let mut written = None;
    if !diags.has_errors() {
        if check {
            match topo::gitops::drift(dir, &all.files) {
                Ok(drift) => return report_drift(&drift, dir, &loaded.file, all.files.len(), &fix, format),
                Err(error) => diags.push(write_diagnostic(error)),
            }
        } else {
            match topo::emit::replace_dir(dir, &all.files, topo::emit::Options { inputs: &[spec_path], force }) {
                Ok(done) => written = Some(done),
                Err(error) => diags.push(write_diagnostic(error)),
            }
        }
    }
    let failed = diags.has_errors();
    // A drift check stays quiet about warnings: rendering reports them.
    if failed || !check {
        report(&diags, &loaded, format, true, !failed)?;
    }
    if failed {
        if format == Format::Human {
            writeln!(std::io::stderr(), "error: nothing written; {} is unchanged", dir.display())?;
        }
        return Ok(ExitStatus::Failure);
    }
    if format == Format::Human {
        let mut stderr = std::io::stderr().lock();
        for note in &all.notes {
            writeln!(stderr, "note: {note}")?;
        }
        if let Some((old, error)) = written.and_then(|w| w.left_behind) {
            writeln!(
                stderr,
                "warning: the previous tree is left in {} ({error}); the next render removes it",
                old.display()
            )?;
        }
        writeln!(stderr, "wrote {} files into {}", all.files.len(), dir.display())?;
    }
    Ok(ExitStatus::Success)
}

/// `--check`: the bounded diff on stdout, the summary on stderr.
fn report_drift(
    drift: &topo::gitops::Drift,
    dir: &Path,
    file: &str,
    files: usize,
    fix: &str,
    format: Format,
) -> anyhow::Result<ExitStatus> {
    use topo::gitops::How;
    if drift.is_empty() {
        if format == Format::Human {
            writeln!(std::io::stderr(), "ok: {} matches {file} ({files} files)", dir.display())?;
        }
        return Ok(ExitStatus::Success);
    }
    let mut stdout = std::io::stdout().lock();
    for changed in &drift.changed {
        if let How::Diff { diff, .. } = &changed.how {
            write!(stdout, "{diff}")?;
        }
    }
    let mut stderr = std::io::stderr().lock();
    for changed in &drift.changed {
        let path = &changed.path;
        match &changed.how {
            How::Diff { left_out: 0, .. } => writeln!(stderr, "changed: {path}")?,
            How::Diff { left_out, .. } => {
                writeln!(stderr, "changed: {path} (its diff is cut short: {left_out} more lines left out)")?
            }
            How::TooLarge { on_disk, rendered } => {
                writeln!(stderr, "changed: {path} ({on_disk} bytes on disk, {rendered} rendered: too large to diff)")?
            }
            How::NotAFile(what) => writeln!(stderr, "changed: {path} (it is {what}, where topo writes a file)")?,
        }
    }
    for path in &drift.missing {
        writeln!(stderr, "missing: {path}")?;
    }
    for extra in &drift.extra {
        match extra.what {
            "a file" => writeln!(stderr, "not rendered by topo: {}", extra.path)?,
            what => writeln!(stderr, "not rendered by topo: {} ({what})", extra.path)?,
        }
    }
    if drift.extra_count > drift.extra.len() {
        writeln!(stderr, "not rendered by topo: {} more entries", drift.extra_count - drift.extra.len())?;
    }
    writeln!(
        stderr,
        "error: {} is stale ({} changed, {} missing, {} extra); to fix it run:\n  {fix}",
        dir.display(),
        drift.changed.len(),
        drift.missing.len(),
        drift.extra_count
    )?;
    Ok(ExitStatus::Failure)
}

/// `topo completions SHELL`.
pub fn completions(shell: clap_complete::Shell) -> anyhow::Result<ExitStatus> {
    let mut command = <crate::cli::Cli as clap::CommandFactory>::command();
    // Generated into memory: clap_complete panics when its writer fails (a closed pipe).
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "topo", &mut script);
    std::io::stdout().lock().write_all(&script)?;
    Ok(ExitStatus::Success)
}

/// `topo man`.
pub fn man(subcommand: Option<&str>) -> anyhow::Result<ExitStatus> {
    std::io::stdout().lock().write_all(&man_page(subcommand)?)?;
    Ok(ExitStatus::Success)
}

/// The roff of topo's page, or of one subcommand's (`topo-check(1)`, as topo's page refers to it).
pub fn man_page(subcommand: Option<&str>) -> anyhow::Result<Vec<u8>> {
    // No `help` subcommand in the pages: `topo help X` is `topo X --help`, which each page already is.
    let mut command = <crate::cli::Cli as clap::CommandFactory>::command().disable_help_subcommand(true);
    command.build();
    let page = match subcommand {
        None => command,
        Some(name) => {
            command.find_subcommand(name).cloned().ok_or_else(|| anyhow::anyhow!("topo has no subcommand `{name}`"))?
        }
    };
    let mut roff = Vec::new();
    clap_mangen::Man::new(page).source(format!("topo {}", env!("CARGO_PKG_VERSION"))).render(&mut roff)?;
    Ok(roff)
}

/// `topo schema`.
pub fn schema() -> anyhow::Result<ExitStatus> {
    std::io::stdout().lock().write_all(topo::schema::json_schema().as_bytes())?;
    Ok(ExitStatus::Success)
}

/// `topo import FILE [--project NAME] [--out FILE]`.
pub fn import(
    file: &Path,
    project: Option<String>,
    out: Option<&Path>,
    cpu: Option<topo::spec::Cpu>,
    memory: Option<topo::spec::Memory>,
    format: Format,
) -> anyhow::Result<ExitStatus> {
    let stdin = file == Path::new("-");
    let shown = if stdin { "<stdin>".to_owned() } else { file.display().to_string() };
    let bytes = if stdin {
        topo::read_bounded(std::io::stdin().lock())?
    } else {
        match topo::read_file_bounded(file) {
            Ok(bytes) => bytes,
            Err(error) => {
                let mut diags = Diagnostics::default();
                diags.push(Diagnostic::unreadable(format!("cannot read the compose file: {error}")));
                let loaded =
                    Loaded { file: shown, source: String::new(), result: Err(diags.clone()), summarised: false };
                report(&diags, &loaded, format, out.is_some(), false)?;
                return Ok(ExitStatus::Failure);
            }
        }
    };
    let options = import_options(file, &shown, project, cpu, memory);
    let imported = topo::import::import(&bytes, &options);
    let loaded = Loaded {
        file: shown.clone(),
        source: imported.source.clone(),
        result: Err(imported.report.clone()),
        summarised: false,
    };
    let mut ok = imported.spec.is_some();
    let mut refusal = None;
    if let Some(spec) = &imported.spec {
        match out {
            Some(path) => {
                let inputs: &[&Path] = if stdin { &[] } else { &[file] };
                if let Err(error) = topo::emit::write_file(path, spec, inputs) {
                    refusal = Some(write_diagnostic(error));
                }
            }
            None => std::io::stdout().lock().write_all(spec.as_bytes())?,
        }
    }
    let mut diags = imported.report.clone();
    if let Some(refusal) = refusal {
        diags.push(refusal);
        ok = false;
    }
    report(&diags, &loaded, format, out.is_some(), ok)?;
    if format == Format::Human {
        let line = import_summary(&imported, &shown, out, ok);
        writeln!(std::io::stderr(), "{line}")?;
    }
    Ok(if ok { ExitStatus::Success } else { ExitStatus::Failure })
}

/// What `import` passes to the importer: the project's fallbacks and the file's folder.
fn import_options(
    file: &Path,
    shown: &str,
    project: Option<String>,
    cpu: Option<topo::spec::Cpu>,
    memory: Option<topo::spec::Memory>,
) -> topo::import::Options {
    let stdin = file == Path::new("-");
    let dir = if stdin { None } else { file.parent().map(Path::to_path_buf) };
    let dir_name = std::path::absolute(dir.clone().filter(|d| !d.as_os_str().is_empty()).unwrap_or_else(|| ".".into()))
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()));
    topo::import::Options {
        project,
        cpu,
        memory,
        base_dir: dir,
        file_name: if stdin {
            "stdin".to_owned()
        } else {
            file.file_name().map_or_else(|| shown.to_owned(), |n| n.to_string_lossy().into_owned())
        },
        dir_name,
    }
}

/// The last line `import` prints on stderr.
fn import_summary(imported: &topo::import::Imported, shown: &str, out: Option<&Path>, ok: bool) -> String {
    let notes = imported.report.warning_count();
    if ok {
        let to = out.map_or_else(|| "stdout".to_owned(), |p| p.display().to_string());
        format!(
            "imported {} service{} from {shown} into {to}: {notes} note{} above on what was dropped or approximated; \
             review the comments in the spec, then run `topo check`",
            imported.services,
            plural(imported.services),
            plural(notes)
        )
    } else if imported.spec.is_some() {
        format!("error: nothing written to {}", out.map(Path::display).map(|d| d.to_string()).unwrap_or_default())
    } else {
        format!(
            "error: {shown} cannot be imported ({} error{})",
            imported.report.error_count(),
            plural(imported.report.error_count())
        )
    }
}
