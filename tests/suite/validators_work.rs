//! The external validators of `tests/support/validators.rs` really validate:
//! each accepts a small valid input and rejects an invalid one. A missing
//! validator fails these tests (run `scripts/setup-validators`).

// Helpers of a test binary: failing loudly, with the context, is their job.
#![allow(clippy::unwrap_used, clippy::panic)]

use crate::support::validators;

use validators::TempInput;

fn input(name: &str, contents: &str) -> TempInput {
    TempInput::new(name, contents).unwrap()
}

/// `Err`'s text, or a panic naming what wrongly passed.
fn rejected(result: Result<impl std::fmt::Debug, String>, what: &str) -> String {
    match result {
        Ok(v) => panic!("{what} was accepted: {v:?}"),
        Err(e) => e,
    }
}

fn assert_mentions(message: &str, needle: &str) {
    assert!(message.contains(needle), "expected {needle:?} in:\n{message}");
}

const DEPLOYMENT: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: nginx:1.27
";

#[test]
fn kubernetes_validate_accepts_a_deployment() {
    let file = input("deployment.yaml", DEPLOYMENT);
    validators::kubernetes_validate(file.path()).unwrap();
    validators::kubernetes_validate_version(file.path(), "1.37.0").unwrap();
}

#[test]
fn kubernetes_validate_strict_rejects_an_unknown_field() {
    let file = input(
        "deployment.yaml",
        &DEPLOYMENT.replace("image: nginx:1.27", "image: nginx:1.27\n          imagePullPolicyy: Always"),
    );
    let err = rejected(validators::kubernetes_validate(file.path()), "an unknown container field");
    assert_mentions(&err, "imagePullPolicyy");
}

#[test]
fn kubernetes_validate_rejects_a_wrong_type() {
    let file = input("deployment.yaml", &DEPLOYMENT.replace("spec:\n  selector", "spec:\n  replicas: two\n  selector"));
    let err = rejected(validators::kubernetes_validate(file.path()), "replicas: two");
    assert_mentions(&err, "replicas");
}

#[test]
fn kubernetes_validate_fails_on_a_kind_without_schema() {
    // autoscaling/v2beta2 was removed in 1.26: the tool only warns and exits 0.
    let hpa = "\
apiVersion: autoscaling/v2beta2
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  maxReplicas: 3
";
    let err = rejected(validators::kubernetes_validate(input("hpa.yaml", hpa).path()), "a removed apiVersion");
    assert_mentions(&err, "Couldn't find schema");
}

#[test]
fn kubernetes_validate_fails_on_an_empty_file() {
    rejected(validators::kubernetes_validate(input("empty.yaml", "").path()), "an empty manifest");
}

#[test]
fn kubectl_kustomize_builds_and_rejects() {
    let tree = input("kustomization.yaml", "resources:\n  - deployment.yaml\nnamespace: shop\n");
    tree.add("deployment.yaml", DEPLOYMENT).unwrap();
    let built = validators::kubectl_kustomize(tree.dir()).unwrap();
    assert_mentions(&built, "namespace: shop");
    assert_mentions(&built, "kind: Deployment");

    let broken = input("kustomization.yaml", "resources:\n  - missing.yaml\n");
    let err = rejected(validators::kubectl_kustomize(broken.dir()), "a kustomization naming a missing file");
    assert_mentions(&err, "missing.yaml");
}

/// A compose file whose secret comes from the environment, as topo writes it.
const COMPOSE: &str = "\
services:
  web:
    image: nginx:1.27
    environment:
      DB_PASSWORD: ${DB_PASSWORD:?set DB_PASSWORD}
    ports:
      - \"8080:80\"
";

/// `ports` must be a list, `mem_limit` a number or string.
const COMPOSE_WRONG_TYPES: &str = "\
services:
  web:
    image: nginx:1.27
    ports: \"8080:80\"
    mem_limit: [1]
";

const PLACEHOLDERS: &[(&str, &str)] = &[("DB_PASSWORD", "placeholder")];

#[test]
fn docker_stack_config_accepts_and_rejects() {
    let good = input("stack.yaml", &format!("version: \"3.8\"\n{COMPOSE}"));
    validators::docker_stack_config(good.path(), PLACEHOLDERS).unwrap();
    // The environment is clean: a variable without a placeholder is missing,
    // whatever the shell running the tests has.
    let err = rejected(validators::docker_stack_config(good.path(), &[]), "a missing ${DB_PASSWORD}");
    assert_mentions(&err, "DB_PASSWORD");

    let bad = input("stack.yaml", &format!("version: \"3.8\"\n{COMPOSE_WRONG_TYPES}"));
    rejected(validators::docker_stack_config(bad.path(), &[]), "wrong types");
}

#[test]
fn compose_v1_config_accepts_and_rejects() {
    let good = input("compose.yaml", COMPOSE);
    validators::compose_v1_config(good.path(), PLACEHOLDERS).unwrap();
    let err = rejected(validators::compose_v1_config(good.path(), &[]), "a missing ${DB_PASSWORD}");
    assert_mentions(&err, "DB_PASSWORD");

    let bad = input("compose.yaml", COMPOSE_WRONG_TYPES);
    let err = rejected(validators::compose_v1_config(bad.path(), &[]), "wrong types");
    assert_mentions(&err, "ports contains an invalid type");
}

#[test]
fn compose_v2_config_accepts_and_rejects() {
    // Modern keys that v1 rejects are fine for v2.
    let modern =
        format!("name: shop\n{COMPOSE}    healthcheck:\n      test: [\"CMD\", \"true\"]\n      start_interval: 2s\n");
    let good = input("compose.yaml", &modern);
    validators::compose_v2_config(good.path(), PLACEHOLDERS).unwrap();
    rejected(validators::compose_v1_config(good.path(), PLACEHOLDERS), "top-level name for Compose v1");
    let err = rejected(validators::compose_v2_config(good.path(), &[]), "a missing ${DB_PASSWORD}");
    assert_mentions(&err, "DB_PASSWORD");

    let bad = input("compose.yaml", COMPOSE_WRONG_TYPES);
    let err = rejected(validators::compose_v2_config(bad.path(), &[]), "wrong types");
    // It reports one error, either one.
    assert_mentions(&err, "validating");

    // References: a service using an undeclared secret.
    let undeclared = input("compose.yaml", "services:\n  web:\n    image: nginx:1.27\n    secrets: [db_password]\n");
    rejected(validators::compose_v2_config(undeclared.path(), &[]), "an undeclared secret");
}

#[test]
fn compose_schema_accepts_and_rejects() {
    validators::compose_schema(input("compose.yaml", COMPOSE).path()).unwrap();
    let err = rejected(validators::compose_schema(input("compose.yaml", COMPOSE_WRONG_TYPES).path()), "wrong types");
    assert_mentions(&err, "mem_limit");
}

#[test]
fn compose_lint_accepts_explained_findings_and_rejects_others() {
    let file = input("compose.yaml", COMPOSE);
    let err = rejected(validators::compose_lint(file.path()), "a service with default capabilities");
    assert_mentions(&err, "CL-0006");

    let hardened = "\
services:
  web:
    image: nginx:1.27
    read_only: true
    security_opt: [\"no-new-privileges:true\"]
    cap_drop: [ALL]
    deploy:
      resources:
        limits: {cpus: \"0.5\", memory: 256M}
";
    let hardened = input("compose.yaml", hardened);
    let err = rejected(validators::compose_lint(hardened.path()), "an image without a digest");
    assert_mentions(&err, "CL-0019");
    validators::compose_lint_allowing(hardened.path(), &[("CL-0019", "the example pins a tag, not a digest")]).unwrap();
    // A stale allowance is an error too.
    rejected(
        validators::compose_lint_allowing(
            hardened.path(),
            &[("CL-0019", "tag, not digest"), ("CL-0005", "nothing publishes a port here")],
        ),
        "an allowance for a finding that is not there",
    );
}

const RULES: &str = "\
groups:
  - name: topo
    rules:
      - alert: HighLoad
        expr: cpu_load > 0.8
        for: 1m
        labels: {severity: warning}
";

const RULES_TEST: &str = "\
rule_files: [rules.yaml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'cpu_load{instance=\"a\"}'
        values: 'LOAD'
    alert_rule_test:
      - eval_time: 3m
        alertname: HighLoad
        exp_alerts:
          - exp_labels: {severity: warning, instance: a}
";

#[test]
fn promtool_check_rules_accepts_and_rejects() {
    validators::promtool_check_rules(input("rules.yaml", RULES).path()).unwrap();
    let bad = input("rules.yaml", &RULES.replace("cpu_load > 0.8", "cpu_load >> 0.8"));
    let err = rejected(validators::promtool_check_rules(bad.path()), "a bad PromQL expression");
    assert_mentions(&err, "parse error");
    rejected(validators::promtool_check_rules(input("rules.yaml", "groups: []\n").path()), "a file with no rule");
}

#[test]
fn promtool_test_rules_passes_and_fails() {
    let firing = input("rules_test.yaml", &RULES_TEST.replace("LOAD", "0.9x5"));
    firing.add("rules.yaml", RULES).unwrap();
    validators::promtool_test_rules(firing.path()).unwrap();

    let quiet = input("rules_test.yaml", &RULES_TEST.replace("LOAD", "0.1x5"));
    quiet.add("rules.yaml", RULES).unwrap();
    let err = rejected(validators::promtool_test_rules(quiet.path()), "an alert expected to fire on a low load");
    assert_mentions(&err, "FAILED");
}

#[test]
fn a_missing_tool_is_an_error_naming_the_setup_script() {
    let err = validators::find_tool("no-such-validator-topo").unwrap_err();
    assert_mentions(&err, "scripts/setup-validators");
}

/// checkov is installed by `scripts/test` (`TOPO_CHECKOV=1 scripts/setup-validators`);
/// without it this test fails, as every other validator's does.
#[test]
fn checkov_rejects_and_skips() {
    let file = input("deployment.yaml", DEPLOYMENT);
    let err = rejected(validators::checkov_kubernetes(file.path(), &[]), "a Deployment without a security context");
    assert_mentions(&err, "CKV_K8S_21");
    // Skipping every check it failed leaves nothing to fail.
    let failed: Vec<&str> =
        err.lines().filter_map(|l| l.strip_prefix("Check: ")).filter_map(|l| l.split(':').next()).collect();
    validators::checkov_kubernetes(file.path(), &failed).unwrap();
}
