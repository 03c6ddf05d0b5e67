//! The specs that tests render and validate: `specs/`, `examples/` and the
//! valid fixtures.

// Each test module uses only some of these.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::PathBuf;

pub use super::root;

/// The compose files (`*.yml`, `*.yaml`) of a directory of the repository, sorted.
pub fn compose_files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs_err::read_dir(root().join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
        .collect();
    files.sort();
    files
}

/// Every valid spec of the repository, sorted.
pub fn valid_specs() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in ["specs", "examples", "tests/fixtures/valid"] {
        for entry in fs_err::read_dir(root().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml") {
                files.push(path);
            }
        }
    }
    files.sort();
    assert!(files.len() >= 10, "expected the specs, examples and fixtures, found {files:?}");
    files
}
