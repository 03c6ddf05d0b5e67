mod cli;
mod commands;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let result = match cli.command {
        cli::Command::Check { spec, strict, format } => commands::check(&spec, strict, format),
        cli::Command::Render { spec, phase, target, out, format } => {
            commands::render(&spec, &phase, target.map(Into::into), out.as_deref(), format)
        }
        cli::Command::Plan { spec, phase, format, out } => {
            commands::plan(&spec, phase.as_deref(), format, out.as_deref())
        }
        cli::Command::Diff { spec, from, to, format } => commands::diff(&spec, &from, &to, format),
        cli::Command::Schema => commands::schema(),
    };
    match result {
        Ok(status) => status.into(),
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(1)
        }
    }
}
