//! The integration tests, one binary: each module tests one part of topo
//! through its library API or its binary, and `support` holds what they share
//! (the repository's paths, compiling a spec, running the binary, the
//! external validators, the end-to-end lab, a NetworkPolicy reader).
//!
//! `cargo test --test suite` runs them all; `cargo test --test suite plan::`
//! one module. The end-to-end module needs the lab and `--features e2e`
//! (`scripts/e2e` starts the lab and runs it).

mod support;

mod cli;
#[cfg(feature = "e2e")]
mod e2e;
mod gitops;
mod hostile;
mod import;
mod import_corpus;
mod netpol;
mod plan;
mod plan_html;
mod properties;
mod render_docker;
mod render_k8s;
mod render_rules;
mod validators_work;

/// The generator of large specs that the benchmarks use.
#[path = "../../benches/support/spec_gen.rs"]
mod spec_gen;
