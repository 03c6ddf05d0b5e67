//! Hostile input: the cases an adversarial run found (issue 13), each run
//! against the `topo` binary the way a CI job on an untrusted pull request
//! would run it, under a cap of 200 MiB of address space and 30 s of CPU
//! (`prlimit`), so that an unbounded allocation or a runaway loop is a failed
//! test, not a slow machine.
//!
//! Every run is checked for: no panic, no signal, the expected exit code, and
//! (where the case carries secrets) that no secret value appears in stdout,
//! stderr or any file under the working directory.
//!
//! - [`input`]: reading (size while reading, aliases, tags, merge keys,
//!   numbers), closed pipes.
//! - [`quantities`]: bounded counts, checked arithmetic, durations and PromQL.
//! - [`output`]: the output directory.
//! - [`secrets`]: secret values in snippets, import and the spec.

// Helpers of a test binary: failing loudly, with the context, is their job.
#![allow(clippy::unwrap_used, clippy::panic, dead_code)]

mod input;
mod output;
mod quantities;
mod secrets;

pub use crate::support::{TOPO, root};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Address space a run may use (the judges' cap).
pub const MEMORY_CAP: u64 = 200 * 1024 * 1024;
/// CPU seconds a run may use before the kernel stops it: the tests run the debug
/// build, where the largest case (at-the-bounds: 150,000 replicas, N+1 over 100
/// nodes) takes about 10 s; the release build takes 1.2 s.
pub const CPU_CAP_SECONDS: u64 = 30;

/// A fixture of this suite: `tests/fixtures/hostile/NAME`.
pub fn fixture(name: &str) -> PathBuf {
    root().join("tests/fixtures/hostile").join(name)
}

/// One run of `topo` under the caps.
#[must_use]
pub struct Topo {
    args: Vec<OsString>,
    dir: PathBuf,
    stdin: Option<Vec<u8>>,
}

impl Topo {
    pub fn new<I, S>(args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        Self { args: args.into_iter().map(Into::into).collect(), dir: root(), stdin: None }
    }

    /// Run in `dir` (default: the repository's root).
    pub fn dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.dir = dir.as_ref().to_path_buf();
        self
    }

    /// Feed `bytes` on stdin (default: no stdin).
    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(bytes.into());
        self
    }

    pub fn run(self) -> Run {
        use std::io::Write;
        let shown = format!(
            "topo {} (in {})",
            self.args.iter().map(|a| a.to_string_lossy()).collect::<Vec<_>>().join(" "),
            self.dir.display()
        );
        let mut child = Command::new("prlimit")
            .arg(format!("--as={MEMORY_CAP}"))
            .arg(format!("--cpu={CPU_CAP_SECONDS}"))
            .arg("--")
            .arg(TOPO)
            .args(&self.args)
            .current_dir(&self.dir)
            .env("NO_COLOR", "1")
            .env_remove("CLICOLOR_FORCE")
            .env_remove("RUST_BACKTRACE")
            .stdin(if self.stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot run {shown}: {error}"));
        if let Some(bytes) = self.stdin {
            let mut stdin = child.stdin.take().unwrap();
            // topo may stop reading early (a size limit): a broken pipe here is expected.
            let _ = stdin.write_all(&bytes);
        }
        let output = child.wait_with_output().unwrap();
        Run {
            command: shown,
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// What a run did.
pub struct Run {
    pub command: String,
    /// `None` when killed by a signal (the CPU cap sends SIGXCPU).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The run, shortened: a failing test's output stays readable.
    pub fn describe(&self) -> String {
        format!(
            "{}\nexit code: {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.command,
            self.code,
            shorten(&self.stdout),
            shorten(&self.stderr)
        )
    }

    /// Asserts no panic, no signal, and exit code `code`.
    #[track_caller]
    pub fn code(&self, code: i32) -> &Self {
        assert!(
            !self.stderr.contains("panicked") && !self.stdout.contains("panicked"),
            "topo panicked\n{}",
            self.describe()
        );
        assert!(self.code.is_some(), "topo was killed by a signal (a cap?)\n{}", self.describe());
        assert_eq!(self.code, Some(code), "unexpected exit code\n{}", self.describe());
        self
    }

    /// Asserts stderr or stdout contains `text`.
    #[track_caller]
    pub fn says(&self, text: &str) -> &Self {
        assert!(
            self.stderr.contains(text) || self.stdout.contains(text),
            "expected the output to contain {text:?}\n{}",
            self.describe()
        );
        self
    }

    /// Asserts that no `secret` appears in stdout or stderr.
    #[track_caller]
    pub fn leaks_none(&self, secrets: &[&str]) -> &Self {
        for secret in secrets {
            assert!(
                !self.stdout.contains(secret) && !self.stderr.contains(secret),
                "a secret value ({} bytes, starting {:?}) is in the output\n{}",
                secret.len(),
                secret.chars().take(4).collect::<String>(),
                self.describe()
            );
        }
        self
    }
}

/// The first 40 lines / 4 KiB of `text`.
pub fn shorten(text: &str) -> String {
    let mut short: String = text.lines().take(40).collect::<Vec<_>>().join("\n");
    if short.len() > 4096 {
        let mut cut = 4096;
        while !short.is_char_boundary(cut) {
            cut -= 1;
        }
        short.truncate(cut);
    }
    if short.len() < text.len() {
        short.push_str(&format!("\n… ({} bytes in all)", text.len()));
    }
    short
}

/// Asserts that no `secret` appears in any file under `dir`.
#[track_caller]
pub fn files_leak_none(dir: &Path, secrets: &[&str]) {
    for entry in walk(dir) {
        let bytes = fs_err::read(&entry).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        for secret in secrets {
            assert!(
                !text.contains(secret),
                "a secret value (starting {:?}) is in {}",
                secret.chars().take(4).collect::<String>(),
                entry.display()
            );
        }
    }
}

/// Every regular file under `dir`, sorted.
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(next) = todo.pop() {
        for entry in fs_err::read_dir(&next).unwrap() {
            let entry = entry.unwrap();
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                todo.push(entry.path());
            } else if kind.is_file() {
                files.push(entry.path());
            }
        }
    }
    files.sort();
    files
}

/// The caps leave room for real work: every command on the core scenario.
#[test]
fn the_caps_leave_room_for_a_real_spec() {
    let out = tempfile::tempdir().unwrap();
    Topo::new(["check", "--spec", "specs/finanzas.yaml"]).run().code(0);
    Topo::new(["plan", "--spec", "specs/finanzas.yaml", "--format", "json"]).run().code(0);
    Topo::new(["render", "--all", "--spec", "specs/finanzas.yaml", "--out"])
        .run_with_path(out.path().join("tree"))
        .code(0);
    assert!(walk(&out.path().join("tree")).len() > 10);
}

impl Topo {
    /// Appends `path` as the last argument and runs.
    pub fn run_with_path(mut self, path: impl Into<OsString>) -> Run {
        self.args.push(path.into());
        self.run()
    }
}
