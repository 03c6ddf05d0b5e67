//! The command line: clap types only.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Compile one topology spec into compose, Swarm and Kubernetes files and a scaling plan.
#[derive(Debug, Parser)]
#[command(name = "topo", version, about, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate a spec: syntax, shape, references and semantics.
    ///
    /// Exit status: 0 when the spec is valid, 1 when it has errors (or warnings, with --strict).
    Check {
        /// The spec to read.
        #[arg(long, short, default_value = "topo.yaml", value_name = "FILE")]
        spec: PathBuf,
        /// Treat warnings as errors.
        #[arg(long)]
        strict: bool,
        /// How to print diagnostics: rustc-style text on stderr, or one JSON document on stdout.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Print the JSON Schema of the spec language (for editors: `topo schema > topo.schema.json`).
    Schema,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Human,
    Json,
}
