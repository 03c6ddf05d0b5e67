//! What the test modules share: the repository's paths, compiling a spec
//! (failing the test with its diagnostics), running the binary, and reading a
//! YAML stream back.

// Helpers of the test binary: failing loudly, with the context, is their job.
#![allow(dead_code, clippy::unwrap_used, clippy::panic)]

#[cfg(feature = "e2e")]
pub mod lab;
pub mod netpol;
pub mod specs;
pub mod validators;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The binary under test.
pub const TOPO: &str = env!("CARGO_BIN_EXE_topo");

/// The repository's root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A spec's text compiled; a spec that does not compile fails the test with its diagnostics.
pub fn compile_text(text: &str) -> topo::Compiled {
    match topo::compile(text.as_bytes()) {
        Ok(compiled) => compiled,
        Err(diags) => panic!("spec does not compile: {:?}", diags.iter().map(|d| &d.message).collect::<Vec<_>>()),
    }
}

/// `topo ARGS` run in `dir`, without colour.
pub fn topo_in(args: &[&str], dir: &Path) -> Output {
    Command::new(TOPO).args(args).current_dir(dir).env("NO_COLOR", "1").output().unwrap()
}

/// The documents of a YAML stream (`---` between them), parsed.
pub fn documents<T: serde::de::DeserializeOwned>(stream: &str) -> Vec<T> {
    stream.split("\n---\n").filter(|d| !d.trim().is_empty()).map(|d| serde_norway::from_str(d).unwrap()).collect()
}
