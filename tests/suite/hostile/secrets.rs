//! Secret values never leave the input (issue 13, item 5): syntax-error
//! snippets, env files, labels, commands, values by shape, a spec's `env`, and
//! interpolation errors at their column. Each case runs check, import (to
//! stdout and to a file), render --all and plan where they apply, and looks
//! for every fake secret of its fixture in stdout, stderr and every file
//! written. The fixtures are in tests/fixtures/hostile/secrets/.

use std::path::{Path, PathBuf};

use super::{Run, Topo, files_leak_none, fixture};

fn case(name: &str) -> PathBuf {
    fixture("secrets").join(name)
}

/// `shapes.yml`: credentials under names the old heuristic missed, and by shape under innocent names.
const SHAPES: [&str; 21] = [
    "s3cr3t-jwt-name-value",
    "s3cr3t-openai-name-value",
    "s3cr3t-github-pat-value",
    "s3cr3t-auth-header-value",
    "s3cr3t-stripe-sk-value",
    "s3cr3t-session-cookie-value",
    "s3cr3t-sentry-dsn-value",
    "s3cr3t-dsn-pass",
    "s3cr3t-redis-url-pass",
    "s3cr3t-query-pass",
    "sk-proj-Xq7fK2mP9vL4tR8wZ1nB6cY3hJ5dG0sA",
    "ghp_R4nd0mL00k1ngT0k3nV4lu3F0rT3st1ng00",
    "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
    "AKIAQ3EXAMPLE7SECRET",
    "AIzaSyD-s3cr3tGoogleKeyValue0123456789ab",
    "sk_live_51s3cr3tStripeKeyValue0123456789",
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9",
    "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
    "9fK2mQ7xL4pR8sT1vW3yZ6bN0cH5jDs3cr3t",
    "-----BEGIN PRIVATE KEY-----",
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7s3cr3tPemBody",
];

/// `commands.yml`: credentials in commands, entrypoints and health checks.
const COMMANDS: [&str; 8] = [
    "s3cr3t-redis-pass",
    "s3cr3t-mysql-root",
    "sk-proj-Wk9fK2mP9vL4tR8wZ1nB6cY3hJ5dG0sB",
    "s3cr3t-broker-pass",
    "s3cr3t-pg-inline",
    "s3cr3t-pg-url",
    "s3cr3t-admin-flag",
    "redis://:",
];

/// `labels.yml`: htpasswd hashes and tokens in labels.
const LABELS: [&str; 4] = ["s3cr3tBcryptHashValue", "s3cr3tAp", "s3cr3t-label-token-value", "s3cr3tLabelJwtSignature"];

/// `flow-error.yml` and `flow-error.yaml`: a flow mapping with a syntax error on its own line.
const FLOW: [&str; 3] = ["s3cr3t-flow-pass", "s3cr3t-flow-url", "ghp_F10wErr0rT0k3nV4lu3F0rT3st1ng0000"];

/// `env-file/`: the files next to and outside the compose file.
const ENV_FILE: [&str; 5] = [
    "s3cr3t-bare-line-value",
    "s3cr3t-bad-key-value",
    "s3cr3t-env-file-pass",
    "s3cr3t-exported-value",
    "s3cr3t-outside-file-value",
];

/// A copy of the fixture directory `name` in a fresh temporary directory: the runs write there.
fn scratch(files: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for file in files {
        fs_err::copy(case(file), dir.path().join(file)).unwrap();
    }
    dir
}

/// `topo import FILE` to stdout, `--out`, and `--format json`: the same exit code, no secret
/// anywhere; the files written are moved to `dir/written`.
fn import_everywhere(dir: &Path, file: &str, code: i32, secrets: &[&str]) -> Run {
    let before = files_in(dir);
    let run = Topo::new(["import", file]).dir(dir).run();
    run.code(code).leaks_none(secrets);
    Topo::new(["import", file, "--out", "imported.yaml"]).dir(dir).run().code(code).leaks_none(secrets);
    Topo::new(["import", file, "--format", "json", "--out", "imported-json.yaml"])
        .dir(dir)
        .run()
        .code(code)
        .leaks_none(secrets);
    files_leak_none(&move_new_files(dir, &before), secrets);
    run
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    fs_err::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect()
}

/// The files of `dir` not in `before`, moved to `dir/written` (returned).
fn move_new_files(dir: &Path, before: &[PathBuf]) -> PathBuf {
    let out = dir.join("written");
    fs_err::create_dir_all(&out).unwrap();
    for path in files_in(dir) {
        if path.is_file() && !before.contains(&path) {
            fs_err::rename(&path, out.join(path.file_name().unwrap())).unwrap();
        }
    }
    out
}

/// The imported spec works: check, render --all and plan pass, and none of them shows a secret.
fn imported_spec_works(dir: &Path, secrets: &[&str]) {
    imported_spec_runs(dir, secrets);
    let text = fs_err::read_to_string(dir.join("written/imported.yaml")).unwrap();
    assert!(text.contains("secrets:"), "{text}");
}

fn imported_spec_runs(dir: &Path, secrets: &[&str]) {
    let spec = dir.join("written/imported.yaml");
    let text = fs_err::read_to_string(&spec).unwrap();
    Topo::new(["check", "--spec"]).dir(dir).run_with_path(&spec).code(0).leaks_none(secrets);
    Topo::new(["plan", "--spec"]).dir(dir).run_with_path(&spec).code(0).leaks_none(secrets);
    Topo::new(["plan", "--format", "json", "--spec"]).dir(dir).run_with_path(&spec).code(0).leaks_none(secrets);
    let tree = dir.join("tree");
    Topo::new(["render", "--all", "--spec", spec.to_str().unwrap(), "--out"])
        .dir(dir)
        .run_with_path(&tree)
        .code(0)
        .leaks_none(secrets);
    files_leak_none(&tree, secrets);
    assert!(!text.is_empty());
}

#[test]
fn credentials_by_name_and_shape_become_secrets() {
    let dir = scratch(&["shapes.yml"]);
    let run = import_everywhere(dir.path(), "shapes.yml", 0, &SHAPES);
    let spec = fs_err::read_to_string(dir.path().join("written/imported.yaml")).unwrap();
    for name in [
        "JWT",
        "OPENAI",
        "GITHUB_PAT",
        "AUTH_HEADER",
        "STRIPE_SK",
        "SESSION_COOKIE",
        "DSN",
        "UPSTREAM",
        "CACHE_URL",
        "LEGACY_DB",
        "CONFIG_A",
        "CONFIG_B",
        "CONFIG_C",
        "CONFIG_D",
        "CONFIG_E",
        "CONFIG_F",
        "CONFIG_G",
        "CONFIG_H",
        "CONFIG_I",
    ] {
        assert!(spec.contains(&format!("# {name}: value not copied")), "{name} is not a secret:\n{spec}");
    }
    // The false-positive side: a digest, a UUID, a URL without a password and a word stay settings.
    for kept in [
        "LOG_LEVEL: info",
        "PUBLIC_URL: https://api.example.com/v1",
        "IMAGE_DIGEST: sha256:",
        "REQUEST_ID_PREFIX: 123e4567",
    ] {
        assert!(spec.contains(kept), "{kept} is not kept:\n{spec}");
    }
    run.says("warning[secret]: `CONFIG_A` looks secret");
    imported_spec_works(dir.path(), &SHAPES);
}

#[test]
fn credentials_in_commands_move_into_secrets_and_the_spec_still_runs() {
    let dir = scratch(&["commands.yml"]);
    let run = import_everywhere(dir.path(), "commands.yml", 0, &COMMANDS);
    run.says("a credential in `command` (after `--requirepass`) becomes the secret `CACHE_PASSWORD`")
        .says("a credential in `healthcheck` (after `-a`) becomes the secret `CACHE_PASSWORD`")
        .says("a credential in `healthcheck` (`-p`) becomes the secret `MYSQL_ROOT_PASSWORD`")
        .says("a credential in `command` (`PGPASSWORD=`) becomes the secret `PGPASSWORD`")
        .says("a credential in `command` (`--password=`) becomes the secret `ADMIN_PASSWORD`");
    let spec = fs_err::read_to_string(dir.path().join("written/imported.yaml")).unwrap();
    for reference in [
        r#"redis-server --requirepass \"${CACHE_PASSWORD}\""#,
        r#"redis-cli -a \"${CACHE_PASSWORD}\" ping"#,
        r#"-p\"${MYSQL_ROOT_PASSWORD}\""#,
        r#"PGPASSWORD=\"${PGPASSWORD}\" psql"#,
        r#"psql \"${MIGRATE_POSTGRES_URL}\""#,
        r#"--broker \"${WORKER_REDIS_URL}\" \"$@\""#,
    ] {
        assert!(spec.contains(reference), "{reference} not in:\n{spec}");
    }
    imported_spec_works(dir.path(), &COMMANDS);
}

#[test]
fn label_values_are_not_quoted() {
    let dir = scratch(&["labels.yml"]);
    let run = import_everywhere(dir.path(), "labels.yml", 0, &LABELS);
    run.says("the label `traefik.http.middlewares.auth.basicauth.users` is not carried over")
        .says("the label `com.example.deploy-token` is not carried over");
    imported_spec_runs(dir.path(), &LABELS);
}

#[test]
fn a_syntax_error_snippet_of_an_imported_file_masks_every_value() {
    let dir = scratch(&["flow-error.yml"]);
    let run = import_everywhere(dir.path(), "flow-error.yml", 1, &FLOW);
    run.says("error[yaml-syntax]").says("flow-error.yml:4:146").says(", TOKEN: ").says(", X: *]");
    // Every value is masked, not only the secret ones.
    assert!(!run.stderr.contains("nginx:1.27"), "{}", run.describe());
    assert!(!run.stderr.contains("X: y"), "{}", run.describe());
}

#[test]
fn a_syntax_error_snippet_of_a_spec_masks_secret_values() {
    let dir = scratch(&["flow-error.yaml"]);
    let before = files_in(dir.path());
    let spec = dir.path().join("flow-error.yaml");
    let check = Topo::new(["check", "--spec"]).dir(dir.path()).run_with_path(&spec);
    check.code(1).says("error[yaml-syntax]").says("flow-error.yaml:4:").says("env: {DB_PASSWORD: ").leaks_none(&FLOW);
    // Settings that do not look secret stay readable.
    check.says("X: y]");
    Topo::new(["check", "--format", "json", "--spec"]).dir(dir.path()).run_with_path(&spec).code(1).leaks_none(&FLOW);
    Topo::new(["plan", "--spec"]).dir(dir.path()).run_with_path(&spec).code(1).leaks_none(&FLOW);
    Topo::new(["render", "--all", "--spec", spec.to_str().unwrap(), "--out"])
        .dir(dir.path())
        .run_with_path(dir.path().join("tree"))
        .code(1)
        .leaks_none(&FLOW);
    files_leak_none(&move_new_files(dir.path(), &before), &FLOW);
}

#[test]
fn a_type_error_under_a_secret_key_masks_the_nested_values() {
    let secrets = ["s3cr3t-list-value", "s3cr3t-map-value", "s3cr3t-block-value"];
    let spec = case("nested-type-error.yaml");
    Topo::new(["check", "--spec"])
        .run_with_path(&spec)
        .code(1)
        .says("nested-type-error.yaml:5:16")
        .says("nested-type-error.yaml:6:14")
        .says("nested-type-error.yaml:8:5")
        .leaks_none(&secrets);
    Topo::new(["check", "--format", "json", "--spec"]).run_with_path(&spec).code(1).leaks_none(&secrets);
}

#[test]
fn a_secret_looking_env_value_in_a_spec_is_a_warning_that_does_not_quote_it() {
    let secrets = ["s3cr3t-env-dsn-pass", "s3cr3t-env-openai-value", "ghp_EnvV4lu3T0k3nR4nd0mL00k1ngF0rT3st0"];
    let spec = case("env-values.yaml");
    let check = Topo::new(["check", "--spec"]).run_with_path(&spec);
    check
        .code(0)
        .says("warning[secret-looking-env]: `DATABASE_URL` looks secret (its value is a URL with a password)")
        .says("env-values.yaml:6:17")
        .says("warning[secret-looking-env]: `OPENAI` looks secret (its name says it is a credential)")
        .says("env-values.yaml:13:15")
        .says("warning[secret-looking-env]: `CONFIG_B` looks secret (its value is a vendor's API key)")
        .says("env-values.yaml:14:17")
        .leaks_none(&secrets);
    assert!(!check.stderr.contains("`PUBLIC_URL` looks secret") && !check.stderr.contains("`LOG_LEVEL` looks"));
    Topo::new(["check", "--strict", "--spec"]).run_with_path(&spec).code(1).leaks_none(&secrets);
    Topo::new(["check", "--format", "json", "--spec"])
        .run_with_path(&spec)
        .code(0)
        .says("\"code\": \"secret-looking-env\"")
        .leaks_none(&secrets);
    Topo::new(["plan", "--spec"]).run_with_path(&spec).code(0).leaks_none(&secrets);
    // render writes what the spec says (the warning is why): its messages quote nothing.
    let out = tempfile::tempdir().unwrap();
    Topo::new(["render", "--all", "--spec", spec.to_str().unwrap(), "--out"])
        .run_with_path(out.path().join("tree"))
        .code(0)
        .leaks_none(&secrets);
}

#[test]
fn an_env_file_outside_the_project_is_refused_at_its_position() {
    let dir = fixture("secrets/env-file/project");
    let run = Topo::new(["import", "outside.yml"]).dir(&dir).run();
    run.code(1)
        .says("error[env-file-outside]: env file `../outside.env` is outside the compose file's directory")
        .says("outside.yml:5:9")
        .says("error[env-file-outside]: env file `link.env` is outside")
        .says("outside.yml:6:9")
        .says("error[env-file-outside]: env file `/etc/hostname` is outside")
        .says("outside.yml:7:9")
        .leaks_none(&ENV_FILE);
    Topo::new(["import", "outside.yml", "--format", "json"]).dir(&dir).run().code(1).leaks_none(&ENV_FILE);
}

#[test]
fn an_env_file_line_is_named_by_its_number_never_its_value() {
    let dir = tempfile::tempdir().unwrap();
    for file in ["compose.yml", "app.env"] {
        fs_err::copy(case("env-file/project").join(file), dir.path().join(file)).unwrap();
    }
    let run = import_everywhere(dir.path(), "compose.yml", 0, &ENV_FILE);
    run.says("line 3 of env file `app.env` is not carried over")
        .says("line 4 of env file `app.env` is not carried over")
        .says("`DB_PASSWORD` looks secret")
        .says("`API_TOKEN` looks secret");
    let spec = fs_err::read_to_string(dir.path().join("written/imported.yaml")).unwrap();
    assert!(spec.contains("LOG_LEVEL: debug"), "{spec}");
    imported_spec_works(dir.path(), &ENV_FILE);
}

#[test]
fn an_interpolation_error_is_reported_at_its_dollar() {
    let secrets = ["s3cr3t-interp-pass", "s3cr3t-interp-tail"];
    let dir = scratch(&["interpolation.yml"]);
    let run = import_everywhere(dir.path(), "interpolation.yml", 1, &secrets);
    run.says("error[invalid-interpolation]: invalid interpolation: `${` is not closed by `}`")
        .says("interpolation.yml:6:24")
        .says("error[invalid-interpolation]: invalid interpolation: `${` is not followed by a variable name")
        .says("interpolation.yml:7:19")
        .says("interpolation.yml:8:24");
    assert!(!run.stderr.contains("interpolation.yml:1:1"), "{}", run.describe());
}

#[test]
fn a_required_variable_in_an_image_imports() {
    let run = Topo::new(["import", "-"]).stdin("services:\n  web:\n    image: \"nginx:${TAG:?set TAG}\"\n").run();
    run.code(0).says("the image `nginx:${TAG}` is interpolated");
    assert!(run.stdout.contains("image: \"nginx:${TAG}\""), "{}", run.describe());
}

/// Masking is one pass over the text: 2 MiB lines of what every detector
/// starts on (`?`, `://`, a hash marker, random-looking words, a key header)
/// are read well within the CPU cap, which kills a quadratic scan.
#[test]
fn masking_a_long_hostile_line_is_linear() {
    let dir = tempfile::tempdir().unwrap();
    for (name, unit) in [
        ("query", "?password=x"),
        ("url", "://a:b@"),
        ("hash", "$$2y$$"),
        ("words", "Ab1Cd2Ef3Gh4Ij5Kl6Mn7Op8Qr9St0 "),
        ("key", "-----BEGIN KEY-----"),
    ] {
        let body = unit.repeat(2 * 1024 * 1024 / unit.len());
        let spec = dir.path().join(format!("{name}.yaml"));
        fs_err::write(&spec, format!("project: x\nenv:\n  A: \"{body}\n")).unwrap();
        Topo::new(["check", "--spec"]).run_with_path(&spec).code(1).says("yaml-syntax");
        let compose = dir.path().join(format!("{name}.yml"));
        fs_err::write(&compose, format!("services:\n  web:\n    image: \"{body}\n")).unwrap();
        Topo::new(["import"]).run_with_path(&compose).code(1).says("yaml-syntax");
    }
}

/// A 3 MiB command is dropped without being split into words (each word
/// would cost more than the memory cap allows), and a command with more
/// credentials than any real one is dropped whole: neither leaks a value.
#[test]
fn an_oversized_or_overfull_command_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let long = dir.path().join("long.yml");
    let body = "--requirepass s3cr3t-long-command ".repeat(3 * 1024 * 1024 / 34);
    fs_err::write(&long, format!("services:\n  web:\n    image: redis:7.4\n    command: \"{body}\"\n")).unwrap();
    Topo::new(["import"])
        .run_with_path(&long)
        .code(0)
        .says("`command` is not carried over: it is longer than 65536 bytes")
        .leaks_none(&["s3cr3t-long-command"]);
    let full = dir.path().join("full.yml");
    let flags: String = (0..20).map(|i| format!(" --password=s3cr3t-overfull-{i:02}")).collect();
    fs_err::write(&full, format!("services:\n  web:\n    image: redis:7.4\n    command: app{flags}\n")).unwrap();
    let secrets: Vec<String> = (0..20).map(|i| format!("s3cr3t-overfull-{i:02}")).collect();
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    Topo::new(["import"])
        .run_with_path(&full)
        .code(0)
        .says("`command` carries a credential topo cannot move into a secret: it is not copied")
        .leaks_none(&secrets);
}
