mod cli;
mod commands;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    let cli = cli::Cli::try_parse().unwrap_or_else(|mut error| {
        closest_subcommand(&mut error);
        error.exit()
    });
    if let cli::Command::Render { all: false, check: true, .. } = cli.command {
        // clap's `requires` cannot see that a flag defaulting to false is absent.
        <cli::Cli as clap::CommandFactory>::command()
            .error(clap::error::ErrorKind::MissingRequiredArgument, "--check works with --all only")
            .exit();
    }
    let result = match cli.command {
        cli::Command::Check { spec, strict, format } => commands::check(&spec, strict, format),
        cli::Command::Render { spec, phase: Some(phase), target, out, all: false, check: _, force, format } => {
            commands::render(&spec, &phase, target.map(Into::into), out.as_deref(), force, format)
        }
        cli::Command::Render { spec, out, check, force, format, .. } => {
            commands::render_all(&spec, out.as_deref(), check, force, format)
        }
        cli::Command::Completions { shell } => commands::completions(shell),
        cli::Command::Man { subcommand } => commands::man(subcommand.as_deref()),
        cli::Command::Plan { spec, phase, format, out } => {
            commands::plan(&spec, phase.as_deref(), format, out.as_deref())
        }
        cli::Command::Diff { spec, from, to, format } => commands::diff(&spec, &from, &to, format),
        cli::Command::Schema => commands::schema(),
        cli::Command::Import { file, project, out, cpu, memory, format } => {
            commands::import(&file, project, out.as_deref(), cpu, memory, format)
        }
    };
    match result {
        Ok(status) => status.into(),
        // The reader went away (`topo … | head -c1`): stop quietly, with the
        // status a shell gives a program that SIGPIPE ended (128 + 13).
        Err(error) if is_broken_pipe(&error) => ExitCode::from(141),
        Err(error) => {
            // Even stderr may be closed (`2>&-`): the exit status still says it failed.
            let _ = writeln!(std::io::stderr(), "error: {error:#}");
            ExitCode::from(1)
        }
    }
}

/// clap lists every subcommand near a mistyped one, the least similar first
/// (`chek`: 'schema', 'check'); the closest one alone, when there is one, says more.
fn closest_subcommand(error: &mut clap::Error) {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if error.kind() != ErrorKind::InvalidSubcommand {
        return;
    }
    let Some(ContextValue::String(typed)) = error.get(ContextKind::InvalidSubcommand).cloned() else { return };
    if let Some(closest) = topo::diag::did_you_mean(&typed, cli::SUBCOMMANDS) {
        error.insert(ContextKind::SuggestedSubcommand, ContextValue::Strings(vec![closest.to_owned()]));
    }
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error
        .chain()
        .any(|cause| cause.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe))
}
