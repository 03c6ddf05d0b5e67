//! Checks of what a service's containers will do when they run: a spec that
//! is consistent, but whose health check or database would mislead at deploy
//! time. All warnings.

use crate::code::Code;
use crate::diag::Diagnostic;
use crate::image::ImageRef;
use crate::image::known::{self as images, Family};
use crate::spec::{Command, Service};
use crate::yaml::SpecPath;

use super::{Validator, root};

/// The words of a command, those inside `sh -c '…'` included.
fn words(command: &Command) -> Vec<String> {
    let split =
        |text: &str| shell_words::split(text).unwrap_or_else(|_| text.split_whitespace().map(str::to_owned).collect());
    match command {
        Command::Argv(argv) => argv.iter().flat_map(|arg| split(arg)).collect(),
        Command::Line(line) => split(line),
    }
}

/// Whether a command runs `pg_isready` without `-h`/`--host`.
pub fn pg_isready_without_host(command: &Command) -> bool {
    let words = words(command);
    let runs = words.iter().any(|w| w.rsplit('/').next() == Some("pg_isready"));
    let host = words.iter().any(|w| w.starts_with("-h") || w == "--host" || w.starts_with("--host="));
    runs && !host
}

impl Validator<'_> {
    /// `pg_isready` without a host checks the Unix socket, on which the
    /// server already answers while the entrypoint's init-time server (which
    /// listens on the socket only) runs the init scripts: the check passes,
    /// dependants start, and their TCP connections are refused.
    pub(super) fn pg_isready_host(&mut self, path: &SpecPath, command: &Command) {
        if pg_isready_without_host(command) {
            self.push(
                Diagnostic::warning(
                    Code::PgIsreadyWithoutHost,
                    "`pg_isready` without `-h` checks the Unix socket, which answers while postgres initialises on the socket only: the service turns healthy before it takes TCP connections",
                    path,
                )
                .help("check over TCP: `exec: [pg_isready, -h, 127.0.0.1, -U, postgres]`"),
            );
        }
    }

    /// A redis that its dependants are given a `*REDIS_PASSWORD*` secret for,
    /// but that gets no password itself: it accepts anyone on the network,
    /// and the clients' password is never checked.
    pub(super) fn redis_passwords(&mut self) {
        for (name, service) in &self.spec.services {
            let redis = images::known(&ImageRef::parse(&service.image)).is_some_and(|k| k.family == Family::Redis);
            if !redis || has_password(service) {
                continue;
            }
            let dependants: Vec<(&String, &String)> = self
                .spec
                .services
                .iter()
                .filter(|(_, s)| s.depends_on.iter().any(|d| d == name))
                .filter_map(|(n, s)| s.secrets.iter().find(|x| x.contains("REDIS_PASSWORD")).map(|secret| (n, secret)))
                .collect();
            let Some((client, secret)) = dependants.first() else { continue };
            self.push(
                Diagnostic::warning(
                    Code::RedisWithoutPassword,
                    format!("`{client}` is given `{secret}` for `{name}`, but `{name}` gets no password: it accepts every client on the network"),
                    &root().key("services").key(name.as_str()),
                )
                .on_key()
                .help(format!(
                    "give `{name}` the secret and start it with it: `secrets: [{secret}]`, `command: [redis-server, --requirepass, \"${{{secret}}}\"]`, and authenticate its check: `exec: [sh, -c, 'redis-cli -a \"${secret}\" --no-auth-warning ping | grep -q PONG']`"
                )),
            );
        }
    }
}

/// A password secret, or `--requirepass` on its command line.
fn has_password(service: &Service) -> bool {
    let requirepass = [&service.command, &service.entrypoint]
        .into_iter()
        .flatten()
        .any(|command| words(command).iter().any(|w| w == "--requirepass"));
    requirepass || service.secrets.iter().any(|s| s.contains("PASSWORD"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pg_isready_needs_a_host() {
        let argv = |words: &[&str]| Command::Argv(words.iter().map(|w| (*w).to_owned()).collect());
        assert!(pg_isready_without_host(&argv(&["pg_isready", "-U", "postgres"])));
        assert!(pg_isready_without_host(&Command::Line("pg_isready -U app && true".into())));
        assert!(pg_isready_without_host(&argv(&["sh", "-c", "/usr/bin/pg_isready -U app"])));
        assert!(!pg_isready_without_host(&argv(&["pg_isready", "-h", "127.0.0.1", "-U", "postgres"])));
        assert!(!pg_isready_without_host(&argv(&["pg_isready", "--host=127.0.0.1"])));
        assert!(!pg_isready_without_host(&Command::Line("pg_isready -h127.0.0.1".into())));
        assert!(!pg_isready_without_host(&argv(&["redis-cli", "ping"])));
    }
}
