//! The runbook of a migration: ordered steps, each a list of POSIX sh
//! commands that run as written on one node (or on the operator's
//! workstation), with every value the plan knows filled in. What it cannot
//! know (addresses, tokens printed by an earlier step, secret values) is a
//! shell variable, declared once as an input.
//!
//! This module owns the order; `ops` says how each target does a thing,
//! `cluster` forms the cluster, `data` carries the stateful services' data.

use serde::Serialize;

use crate::model::{Model, Phase};
use crate::spec::Target;

use super::migrate::NodesOf;
use super::{cluster, data, ops};

/// One step: its commands run in order, in one shell, where `on` says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Step {
    pub title: String,
    /// The node the commands run on (over ssh, as root); `None` is the
    /// operator's workstation, in the directory with the spec.
    pub on: Option<String>,
    /// POSIX sh, each runnable as is once the inputs are set.
    pub commands: Vec<String>,
    /// Something to do by hand (a DNS record, a new machine): the title and notes say what.
    pub manual: bool,
    pub notes: Vec<String>,
}

/// A shell variable the commands read and the plan cannot know.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Input {
    pub name: String,
    pub meaning: String,
    /// What the commands use when it is unset (`${NAME:-default}`).
    pub default: Option<String>,
    /// The step (numbered from 1) whose command prints the value, on its last line of output.
    pub printed_by: Option<usize>,
}

/// Steps and inputs as they are collected.
#[derive(Debug, Default)]
pub struct Runbook {
    pub steps: Vec<Step>,
    pub inputs: Vec<Input>,
    /// The data steps of each stateful service, by number: `(service, step)`.
    data_steps: Vec<(String, usize)>,
}

impl Runbook {
    /// Adds a step of commands; returns its number (from 1).
    pub fn run(
        &mut self,
        title: impl Into<String>,
        on: Option<&str>,
        commands: Vec<String>,
        notes: Vec<String>,
    ) -> usize {
        self.steps.push(Step { title: title.into(), on: on.map(str::to_owned), commands, manual: false, notes });
        self.steps.len()
    }

    /// Adds a step done by hand; returns its number.
    pub fn manual(&mut self, title: impl Into<String>, notes: Vec<String>) -> usize {
        self.steps.push(Step { title: title.into(), on: None, commands: Vec::new(), manual: true, notes });
        self.steps.len()
    }

    /// Declares an input once (the first meaning stays).
    pub fn input(&mut self, name: &str, meaning: impl Into<String>) {
        self.declare(name, meaning.into(), None);
    }

    pub fn input_with_default(&mut self, name: &str, meaning: impl Into<String>, default: &str) {
        self.declare(name, meaning.into(), Some(default.to_owned()));
    }

    /// An input that `command` of step `step` prints.
    pub fn printed(&mut self, name: &str, meaning: &str, step: usize, command: &str) {
        let on = self.steps.get(step.wrapping_sub(1)).and_then(|s| s.on.clone());
        let on = on.unwrap_or_else(|| "your workstation".to_owned());
        self.declare(name, format!("{meaning}: printed by step {step} on {on} (`{command}`)"), None);
        if let Some(input) = self.inputs.iter_mut().find(|i| i.name == name) {
            input.printed_by = Some(step);
        }
    }

    /// Records that step `step` backs up, restores or checks `service`'s data.
    pub fn touched(&mut self, service: &str, step: usize) {
        self.data_steps.push((service.to_owned(), step));
    }

    pub fn steps_of(&self, service: &str) -> Vec<usize> {
        self.data_steps.iter().filter(|(s, _)| s == service).map(|(_, n)| *n).collect()
    }

    /// A secret's value: from the operator's secret store, never from a file in git.
    pub fn secret(&mut self, name: &str) {
        self.input(name, "a secret value from your secret store, exported in the shell (never written to a file)");
    }

    /// Ends each input's meaning with the steps whose commands read it.
    fn note_uses(&mut self) {
        for input in &mut self.inputs {
            let used: Vec<String> = self
                .steps
                .iter()
                .enumerate()
                .filter(|(_, s)| s.commands.iter().any(|c| reads(c, &input.name)))
                .map(|(i, _)| (i + 1).to_string())
                .collect();
            if !used.is_empty() {
                let label = if used.len() == 1 { "step" } else { "steps" };
                input.meaning = format!("{}; read by {label} {}", input.meaning, used.join(", "));
            }
        }
    }

    fn declare(&mut self, name: &str, meaning: String, default: Option<String>) {
        if !self.inputs.iter().any(|i| i.name == name) {
            self.inputs.push(Input { name: name.to_owned(), meaning, default, printed_by: None });
        }
    }
}

/// Everything a step needs to know about the migration.
pub struct Ctx<'a> {
    pub model: &'a Model,
    /// The spec's path as given to `topo plan`, for the `topo render` commands.
    pub spec: &'a str,
    pub a: &'a Phase,
    pub b: &'a Phase,
    /// Where each service runs before and after, by each phase's scheduler.
    pub before: &'a NodesOf,
    pub after: &'a NodesOf,
}

/// How the new phase takes over from the old one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The same compose node or the same cluster: the new files are applied over the old ones.
    Update,
    /// A different target on machines the old phase still uses: stop the old phase first.
    StopFirst,
    /// Different machines: the new phase comes up beside the old one, DNS moves, the old one goes.
    SideBySide,
}

pub fn mode(a: &Phase, b: &Phase) -> Mode {
    let shared = a.nodes.keys().any(|n| b.nodes.contains_key(n));
    let same_manager = ops::manager(a) == ops::manager(b);
    match (a.target, b.target) {
        (Target::Compose, Target::Compose) | (Target::Swarm, Target::Swarm) | (Target::K8s, Target::K8s)
            if same_manager =>
        {
            Mode::Update
        }
        _ if shared => Mode::StopFirst,
        _ => Mode::SideBySide,
    }
}

/// The steps from phase `a` to phase `b`, in an order that works.
pub fn derive(ctx: &Ctx) -> Runbook {
    let mut rb = Runbook::default();
    let mode = mode(ctx.a, ctx.b);
    let carried = data::carried(ctx);
    let dns = ops::dns_moves(ctx.a, ctx.b);
    prepare(ctx, &mut rb, dns);
    ops::render_step(ctx, &mut rb);
    // K3s' Traefik takes ports 80 and 443: on a machine the old phase still
    // serves from, it is installed only once that phase has stopped.
    let late_cluster = mode == Mode::StopFirst && ctx.b.target == Target::K8s;
    if !late_cluster {
        cluster::setup(ctx, &mut rb);
    }
    let all: Vec<&data::Carried> = carried.iter().collect();
    let restoring: Vec<&data::Carried> = carried.iter().filter(|c| !c.keep).collect();
    match mode {
        Mode::SideBySide => {
            ops::deploy_steps(ctx, &mut rb, !restoring.is_empty());
            if !all.is_empty() {
                ops::stop_writers_step(ctx, &mut rb);
                data::backup_steps(ctx, &mut rb, &all);
            }
            data::restore_steps(ctx, &mut rb, &all);
        }
        Mode::StopFirst => {
            if !all.is_empty() {
                ops::stop_writers_step(ctx, &mut rb);
                data::backup_steps(ctx, &mut rb, &all);
            }
            ops::stop_old_step(ctx, &mut rb, &all);
            if late_cluster {
                cluster::setup(ctx, &mut rb);
            }
            ops::deploy_steps(ctx, &mut rb, !restoring.is_empty());
            data::restore_steps(ctx, &mut rb, &all);
        }
        Mode::Update => {
            // Data the update leaves in place needs nothing; data that moves to another node is copied.
            if !restoring.is_empty() {
                ops::stop_writers_step(ctx, &mut rb);
                data::backup_steps(ctx, &mut rb, &restoring);
            }
            ops::deploy_steps(ctx, &mut rb, !restoring.is_empty());
            data::restore_steps(ctx, &mut rb, &restoring);
        }
    }
    if !restoring.is_empty() {
        ops::start_writers_step(ctx, &mut rb);
    }
    ops::test_step(ctx, &mut rb, dns);
    if dns {
        ops::dns_steps(ctx, &mut rb);
    }
    match mode {
        Mode::SideBySide => ops::decommission_steps(ctx, &mut rb),
        _ => {
            if dns && ctx.a.nodes.keys().any(|n| !ctx.b.nodes.contains_key(n)) {
                ops::wait_ttl_step(ctx, &mut rb);
            }
            cluster::remove_nodes(ctx, &mut rb);
        }
    }
    rb.note_uses();
    rb
}

/// What is done before any command: DNS TTL, new machines, resizes, firewall.
fn prepare(ctx: &Ctx, rb: &mut Runbook, dns: bool) {
    let (a, b) = (ctx.a, ctx.b);
    if dns {
        let hosts = ops::hosts(b).join(", ");
        rb.manual(
            format!("A day before: lower the TTL of the DNS records of {hosts} to 60 s"),
            vec!["so that the records can move quickly later, and back again if needed".to_owned()],
        );
    }
    let added: Vec<&crate::model::Node> = b.nodes.values().filter(|n| !a.nodes.contains_key(&n.name)).collect();
    if !added.is_empty() {
        let names: Vec<&str> = added.iter().map(|n| n.name.as_str()).collect();
        let mut notes: Vec<String> = added.iter().map(|n| super::migrate::describe_node(n)).collect();
        notes.push(format!(
            "set each machine's hostname to its name here ({}): {}",
            names.join(", "),
            ops::why_hostname(b)
        ));
        notes.push(ops::machine_software(b.target).to_owned());
        rb.manual(format!("Provision {}", names.join(", ")), notes);
    }
    for new in b.nodes.values() {
        if let Some(old) = a.nodes.get(&new.name)
            && (old.cpu != new.cpu || old.memory != new.memory || old.disk != new.disk)
        {
            rb.manual(
                format!("Resize {} at the provider", new.name),
                vec![format!("{} → {} (usually a reboot)", super::migrate::size(old), super::migrate::size(new))],
            );
        }
    }
    let ports = super::migrate::firewall_ports(b);
    if !ports.is_empty() && (a.target != b.target || !added.is_empty()) {
        let mut notes: Vec<String> =
            ports.iter().map(|p| format!("{}: {} ({})", p.port, p.purpose, p.between)).collect();
        notes.push(
            "between the nodes only (their private network, or a firewall rule per peer), never from the internet"
                .to_owned(),
        );
        if b.target == Target::K8s {
            notes.push(
                "80/tcp and 443/tcp from the internet on every node: K3s' ServiceLB publishes Traefik on each"
                    .to_owned(),
            );
        }
        rb.manual(format!("Open the {} ports between {}", b.target.as_str(), node_list(b)), notes);
    }
}

pub fn node_list(phase: &Phase) -> String {
    phase.nodes.keys().cloned().collect::<Vec<_>>().join(", ")
}

/// Whether a command reads the shell variable `name` (`$NAME` or `${NAME`).
pub fn reads(command: &str, name: &str) -> bool {
    let ends = |rest: &str| !rest.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_');
    command.match_indices(name).any(|(at, _)| {
        let before = &command[..at];
        (before.ends_with('$') || before.ends_with("${")) && ends(&command[at + name.len()..])
    })
}

/// A word as POSIX sh reads it back unchanged: as is when it is plain, else single-quoted.
pub fn word(text: &str) -> String {
    let plain = !text.is_empty()
        && text.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | ':' | '=' | '@' | '%' | '+' | ',')
        });
    if plain { text.to_owned() } else { format!("'{}'", text.replace('\'', "'\\''")) }
}

/// A bounded wait: `until CONDITION` at most `rounds` times, `pause` seconds apart, then fail.
pub fn wait_until(condition: &str, rounds: u32, pause: u32, on_timeout: &str) -> String {
    format!(
        "i=0; until {condition}; do i=$((i+1)); if [ \"$i\" -ge {rounds} ]; then {on_timeout}exit 1; fi; sleep {pause}; done"
    )
}

#[cfg(test)]
#[path = "steps_tests.rs"]
mod tests;
