//! Bounded counts, checked arithmetic, durations and PromQL (issue 13, parts 1–3).
//!
//! The simple refusals (a count, a size, a price or a duration over its bound,
//! an `expr` that is not PromQL) are fixtures in `tests/fixtures/invalid/`,
//! checked with their positions by the cli tests; here are the runs that need
//! the caps: a spec at every bound of the plan's work, and one just over.

use super::{Topo, fixture, walk};

fn at(name: &str) -> String {
    fixture(&format!("quantities/{name}")).display().to_string()
}

/// 100 nodes, 30 services of 5,000 replicas (the per-service bound), 150,000 in all (the spec-wide
/// bound): the plan places every replica and loses each node in turn (its N+1 check), within the
/// memory and CPU caps.
#[test]
fn a_spec_at_the_bounds_checks_plans_and_renders_under_the_caps() {
    let spec = at("at-the-bounds.yaml");
    Topo::new(["check", "--spec", &spec]).run().code(0).says("30 services");
    let plan = Topo::new(["plan", "--spec", &spec, "--format", "json"]).run();
    plan.code(0);
    let json: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    let placement = json["phases"][0]["placement"].as_array().unwrap();
    assert_eq!(placement.len(), 150_000, "every replica placed once in the plan");
    assert!(placement.iter().all(|p| p["node"].is_string()), "every replica has a node");
    assert_eq!(json["phases"][0]["n_plus_one"]["losses"].as_array().unwrap().len(), 100);
    let out = tempfile::tempdir().unwrap();
    Topo::new(["render", "--all", "--spec", &spec, "--out"]).run_with_path(out.path().join("tree")).code(0);
    assert!(!walk(&out.path().join("tree")).is_empty());
}

/// 10,000 services (the bound) on 2,000 nodes (the bound): checked, within the caps.
#[test]
fn a_spec_with_the_most_services_and_nodes_checks_under_the_caps() {
    let mut text = String::from("project: wide\nphases:\n  1:\n    name: p\n    target: swarm\n    nodes:\n");
    for i in 0..2000 {
        let role = if i == 0 { "manager" } else { "worker" };
        text.push_str(&format!("      n{i}: {{ role: {role}, cpu: 4, memory: 8Gi }}\n"));
    }
    text.push_str("services:\n");
    for i in 0..10_000 {
        text.push_str(&format!(
            "  s{i}: {{ image: example/s:1.0, resources: {{ requests: {{ cpu: 10m, memory: 16Mi }} }} }}\n"
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("wide.yaml");
    fs_err::write(&spec, text).unwrap();
    Topo::new(["check", "--spec"]).run_with_path(&spec).code(0).says("10000 services");
}

/// One replica more than the spec-wide bound: refused with its position, no plan.
#[test]
fn one_replica_over_the_bound_is_refused_with_a_position() {
    let spec = at("one-replica-over.yaml");
    for command in ["check", "plan"] {
        Topo::new([command, "--spec", &spec])
            .run()
            .code(1)
            .says("error[over-limit]: 150001 replicas in all phases together")
            .says("one-replica-over.yaml:3:1");
    }
}

/// Counts that took gigabytes before the bounds end at once with the bound's error.
#[test]
fn a_billion_replicas_is_refused_without_allocating() {
    for name in ["replicas-over-limit.yaml", "autoscale-max-over-limit.yaml"] {
        let spec = super::root().join("tests/fixtures/invalid").join(name);
        Topo::new(["plan", "--spec"]).run_with_path(spec).code(1).says("over-limit").says("replicas per service");
    }
}

/// Go's largest duration in a compose file imports as the spec's largest, which `check` accepts.
#[test]
fn go_s_maximum_duration_imports_within_the_spec_s_bounds() {
    let import = Topo::new(["import", &at("go-max-duration.compose.yaml")]).run();
    import.code(0);
    assert!(import.stdout.contains("stop_grace_period: 3650d"), "{}", import.describe());
    assert!(import.stdout.contains("interval: 3650d"), "{}", import.describe());
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("topo.yaml");
    fs_err::write(&spec, &import.stdout).unwrap();
    Topo::new(["check", "--spec"]).run_with_path(&spec).code(0);
}
