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
    /// Validate a spec (syntax, shape, references, semantics) and check that every phase fits its machines.
    ///
    /// The fit check is the plan's: a phase whose replicas cannot all be placed on its nodes is an
    /// error (`phase-does-not-fit`), a tight or order-dependent one a warning. Exit status: 0 when the spec is valid,
    /// 1 when it has errors (or warnings, with --strict).
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
    /// Render one phase for a target: to stdout, or into a directory.
    ///
    /// Warnings (what the target cannot honour) go to stderr. Exit status: 0 when rendered,
    /// 1 when the spec is invalid or the output cannot go where --out says (nothing is written then),
    /// or when --check finds drift.
    Render {
        /// The spec to read.
        #[arg(long, short, default_value = "topo.yaml", value_name = "FILE")]
        spec: PathBuf,
        /// The phase to render: its number or its name.
        #[arg(long, short, value_name = "N", required_unless_present = "all", conflicts_with = "all")]
        phase: Option<String>,
        /// The target to render for; the phase's own target when omitted.
        #[arg(long, short, value_enum, conflicts_with = "all")]
        target: Option<TargetArg>,
        /// Write files into this directory instead of printing one YAML stream. topo replaces only the
        /// files it wrote there before (its marker file `.topo` lists them) and leaves every other file
        /// alone; a file in the way that topo did not write is refused, and nothing is written.
        #[arg(long, short, value_name = "DIR", required_if_eq("all", "true"))]
        out: Option<PathBuf>,
        /// Every phase, each with its own target and alert rules, into --out DIR, which topo then owns:
        /// it replaces the whole directory, and files it did not render are removed. DIR must be new,
        /// empty, or a directory topo rendered (it holds the marker `.topo`), unless --force.
        #[arg(long)]
        all: bool,
        /// Write into an --out DIR that topo did not write: with --all, delete what is there; without it,
        /// replace files of the same names. Never `/`, the home or current directory, a git
        /// repository, or a directory that holds the spec.
        #[arg(long, conflicts_with = "check")]
        force: bool,
        /// With --all: write nothing; exit 1 with a diff when DIR differs from what would be rendered.
        #[arg(long, requires = "all")]
        check: bool,
        /// How to print diagnostics: rustc-style text on stderr, or one JSON document
        /// (on stdout with --out, on stderr otherwise).
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// The scaling plan: fit, placement, cost, N+1 and migration for every phase.
    ///
    /// Exit status: 0 when printed (whatever the verdicts), 1 when the spec is invalid.
    Plan {
        /// The spec to read.
        #[arg(long, short, default_value = "topo.yaml", value_name = "FILE")]
        spec: PathBuf,
        /// Only this phase (its number or name).
        #[arg(long, short, value_name = "N")]
        phase: Option<String>,
        /// Markdown for people, JSON for machines, HTML to look at (one self-contained page).
        #[arg(long, value_enum, default_value_t = PlanFormat::Md)]
        format: PlanFormat,
        /// Write the plan to this file instead of stdout.
        #[arg(long, short, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// What changes between two phases: machines, ports, services, data, secrets, DNS.
    Diff {
        /// The spec to read.
        #[arg(long, short, default_value = "topo.yaml", value_name = "FILE")]
        spec: PathBuf,
        /// The phase to migrate from (number or name).
        #[arg(long, value_name = "N")]
        from: String,
        /// The phase to migrate to (number or name).
        #[arg(long, value_name = "M")]
        to: String,
        /// Markdown for people, JSON for machines, HTML to look at (one self-contained page).
        #[arg(long, value_enum, default_value_t = PlanFormat::Md)]
        format: PlanFormat,
    },
    /// Print a shell completion script (`topo completions bash > /etc/bash_completion.d/topo`).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print a manual page: topo's own (`topo man > topo.1`), or a subcommand's
    /// (`topo man check > topo-check.1`).
    Man {
        /// The subcommand whose page to print.
        #[arg(value_name = "SUBCOMMAND", value_parser = clap::builder::PossibleValuesParser::new(SUBCOMMANDS))]
        subcommand: Option<String>,
    },
    /// Print the JSON Schema of the spec language (for editors: `topo schema > topo.schema.json`).
    Schema,
    /// Write a spec for an existing docker-compose.yml: one compose phase on one node.
    ///
    /// The report (stderr) lists every field dropped or approximated, with its line and column.
    /// Exit status: 0 when the spec was written, 1 when the compose file cannot be imported.
    Import {
        /// The compose file to read; `-` reads stdin.
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// The project name (default: the file's `name`, else its directory's name, as compose does).
        #[arg(long, short)]
        project: Option<String>,
        /// Write the spec to this file instead of stdout.
        #[arg(long, short, value_name = "FILE")]
        out: Option<PathBuf>,
        /// CPU cores of the node (default: from the file's limits).
        #[arg(long, value_parser = parse_cpu)]
        cpu: Option<topo::spec::Cpu>,
        /// Memory of the node, like `16Gi` (default: from the file's limits).
        #[arg(long, value_parser = parse_memory)]
        memory: Option<topo::spec::Memory>,
        /// How to print the report: rustc-style text on stderr, or one JSON document
        /// (on stdout with --out, on stderr otherwise).
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Human,
    Json,
}

/// What `topo render` can produce.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TargetArg {
    /// docker-compose.yml for one node (Dokploy's compose mode).
    Compose,
    /// A Docker Swarm stack file (`docker stack deploy`).
    Swarm,
    /// Kubernetes manifests (K3s first).
    K8s,
    /// The phase's Prometheus alert rules (from `triggers`), for its own target's exporters.
    Rules,
}

impl From<TargetArg> for topo::render::Output {
    fn from(target: TargetArg) -> Self {
        match target {
            TargetArg::Compose => Self::Target(topo::spec::Target::Compose),
            TargetArg::Swarm => Self::Target(topo::spec::Target::Swarm),
            TargetArg::K8s => Self::Target(topo::spec::Target::K8s),
            TargetArg::Rules => Self::Rules,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    Md,
    Json,
    /// One self-contained page (no script, no network): charts of each node's load, cost, N+1, migration steps.
    Html,
}

fn parse_cpu(text: &str) -> Result<topo::spec::Cpu, String> {
    topo::spec::Cpu::parse(text)
        .map_err(|e| e.to_string())
        .and_then(|cpu| if cpu.millis() > 0 { Ok(cpu) } else { Err("must be more than 0".into()) })
}

fn parse_memory(text: &str) -> Result<topo::spec::Memory, String> {
    topo::spec::Memory::parse(text)
        .map_err(|e| e.to_string())
        .and_then(|memory| if memory.bytes() > 0 { Ok(memory) } else { Err("must be more than 0".into()) })
}

/// Every subcommand: each has a manual page of its own (`topo man NAME`), and
/// a mistyped one is matched against these.
pub const SUBCOMMANDS: [&str; 8] = ["check", "render", "plan", "diff", "completions", "man", "schema", "import"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subcommands_lists_every_subcommand() {
        let command = <Cli as clap::CommandFactory>::command();
        let names: Vec<&str> = command.get_subcommands().map(clap::Command::get_name).collect();
        assert_eq!(names, SUBCOMMANDS);
    }
}
