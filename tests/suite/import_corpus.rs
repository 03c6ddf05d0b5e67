//! `topo import` on a corpus of compose files written in the style of the
//! public self-hosting templates (tests/fixtures/compose-corpus): each file is
//! first proven valid by Compose v2 itself, then imported. An import either
//! gives a spec that passes `topo check` and renders to compose, Swarm and
//! Kubernetes files their validators accept, or fails with an error that has
//! a line and column. None may panic, and at least 95% must pass.
//!
//! The validators run on a pool of threads, and kubernetes-validate once for
//! the whole corpus, so that the test stays at a few seconds.

// Helpers of a test binary: failing loudly, with the context, is their job.
#![allow(clippy::unwrap_used, clippy::panic)]

use crate::support::validators::{self, env_refs};
use topo::emit::yaml::Serialised as _;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use topo::import::{Options, import};
use topo::spec::Target;

/// The share of the corpus that must import, check, render and validate.
const REQUIRED_PASS_RATE: f64 = 0.95;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/compose-corpus")
}

fn corpus() -> Vec<PathBuf> {
    crate::support::specs::compose_files("tests/fixtures/compose-corpus")
}

/// A placeholder value for each variable that a file needs set: `${NAME}`,
/// `${NAME?…}`, `${NAME:?…}` and `$NAME`. Those with a default (`${NAME:-x}`,
/// `${NAME-x}`) stay unset, so that compose uses the default (a port, say).
fn required_variables(text: &str) -> Vec<(String, String)> {
    let mut names = BTreeSet::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i + 1 < bytes.len() {
        if bytes[i] != b'$' {
            i += 1;
            continue;
        }
        if bytes[i + 1] == b'$' {
            i += 2;
            continue;
        }
        let braced = bytes[i + 1] == b'{';
        let start = i + 1 + usize::from(braced);
        let name: String = text[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        let after = text[start + name.len()..].chars().next();
        let needed = !braced || matches!(after, Some('}' | '?')) || text[start + name.len()..].starts_with(":?");
        if !name.is_empty() && !name.starts_with(|c: char| c.is_ascii_digit()) && needed {
            names.insert(name);
        }
        i += 1;
    }
    names.into_iter().map(|n| (n, "placeholder".to_owned())).collect()
}

/// What became of one corpus file.
enum Verdict {
    /// Imported, checked, rendered; the outputs await their validators.
    Rendered { dir: tempfile::TempDir },
    /// The import refused the file with a located error: the "clear message" outcome.
    Refused(String),
    /// Anything else: a bug.
    Failed(String),
}

fn first_errors(report: &topo::diag::Diagnostics) -> String {
    report
        .iter()
        .filter(|d| d.is_error())
        .take(3)
        .map(|d| {
            let at = d.span.map_or_else(String::new, |s| format!("{}:{} ", s.start.line, s.start.column));
            format!("{at}{}: {}", d.code, d.message)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Import, check and render one file; write the three outputs to a temporary directory.
fn import_and_render(path: &Path) -> Verdict {
    let bytes = fs_err::read(path).unwrap();
    let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
    let options = Options {
        base_dir: Some(corpus_dir()),
        file_name: format!("{stem}.yml"),
        dir_name: Some(stem),
        ..Default::default()
    };
    let imported = match catch_unwind(AssertUnwindSafe(|| import(&bytes, &options))) {
        Ok(imported) => imported,
        Err(_) => return Verdict::Failed("import panicked".to_owned()),
    };
    let Some(spec) = imported.spec else {
        let located = imported.report.iter().any(|d| d.is_error() && d.span.is_some());
        let errors = first_errors(&imported.report);
        return if located {
            Verdict::Refused(errors)
        } else {
            Verdict::Failed(format!("refused without a position: {errors}"))
        };
    };
    let compiled = match topo::compile(spec.as_bytes()) {
        Ok(compiled) => compiled,
        Err(diags) => return Verdict::Failed(format!("the spec does not compile: {}", first_errors(&diags))),
    };
    // `topo check`: compile, then the fit of every phase.
    let mut check = compiled.warnings.clone();
    check.extend(topo::plan::diagnostics(&topo::plan::plan(&compiled.model)));
    if check.has_errors() {
        return Verdict::Failed(format!("topo check: {}", first_errors(&check)));
    }
    let dir = tempfile::Builder::new().prefix("topo-").tempdir().unwrap();
    for (target, file) in [(Target::Compose, "compose.yml"), (Target::Swarm, "stack.yml"), (Target::K8s, "k8s.yml")] {
        let rendered = match catch_unwind(AssertUnwindSafe(|| {
            let phase = compiled.model.phase(1).unwrap();
            topo::render::render(&compiled.model, phase, target)
        })) {
            Ok(rendered) => rendered,
            Err(_) => return Verdict::Failed(format!("render {target:?} panicked")),
        };
        if rendered.diagnostics.has_errors() {
            return Verdict::Failed(format!("render {target:?}: {}", first_errors(&rendered.diagnostics)));
        }
        // kubernetes-validate has no schema for custom resources: they are checked against theirs here.
        let text = match target {
            Target::K8s => match validators::split_custom_resources(&rendered.stream()) {
                Ok(built_in) => built_in,
                Err(error) => return Verdict::Failed(format!("k8s custom resources: {error}")),
            },
            _ => rendered.stream(),
        };
        fs_err::write(dir.path().join(file), text).unwrap();
    }
    Verdict::Rendered { dir }
}

/// Compose v2 on the compose file, `docker stack config` and Compose v2 on the stack file.
fn validate_docker(dir: &Path) -> Result<(), String> {
    let compose = dir.join("compose.yml");
    let vars = required_variables(&fs_err::read_to_string(&compose).unwrap());
    validators::compose_v2_config(&compose, &env_refs(&vars)).map_err(|e| format!("compose: {e}"))?;
    let stack = dir.join("stack.yml");
    let vars = required_variables(&fs_err::read_to_string(&stack).unwrap());
    validators::docker_stack_config(&stack, &env_refs(&vars)).map_err(|e| format!("swarm: {e}"))?;
    validators::compose_v2_config(&stack, &env_refs(&vars)).map_err(|e| format!("swarm (compose v2): {e}"))
}

/// kubernetes-validate --strict over every Kubernetes file at once; the
/// problems of each file, by file. A file with no `passed` line fails too.
fn validate_k8s(files: &[PathBuf]) -> BTreeMap<PathBuf, String> {
    let mut problems = BTreeMap::new();
    if files.is_empty() {
        return problems;
    }
    let tool = validators::find_tool("kubernetes-validate").unwrap();
    let output = Command::new(tool)
        .args(["--strict", "--kubernetes-version", validators::KUBERNETES_VERSION])
        .args(files)
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    let mut passed = BTreeSet::new();
    let mut unattributed = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let file = files.iter().find(|f| line.contains(f.to_str().unwrap()));
        let bad = !line.starts_with("INFO") || line.contains("Couldn't find schema");
        match file {
            Some(file) if bad => {
                let entry: &mut String = problems.entry(file.clone()).or_default();
                let _ = writeln!(entry, "{line}");
            }
            Some(file) if line.contains(" passed ") => {
                passed.insert(file.clone());
            }
            Some(_) => {}
            None if bad => unattributed.push(line.to_owned()),
            None => {}
        }
    }
    for file in files {
        if !passed.contains(file) && !problems.contains_key(file) {
            problems.insert(file.clone(), format!("validated no resource\n{}", unattributed.join("\n")));
        }
    }
    if !output.status.success() && problems.is_empty() {
        panic!("kubernetes-validate failed ({}) with no file to blame:\n{text}", output.status);
    }
    problems
}

/// Runs `work` on every item with a pool of threads; results in item order.
fn parallel<T: Sync, R: Send>(items: &[T], work: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new(items.iter().map(|_| None).collect());
    let threads = std::thread::available_parallelism().map_or(4, usize::from).min(16);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    let result = work(item);
                    results.lock().unwrap()[i] = Some(result);
                }
            });
        }
    });
    results.into_inner().unwrap().into_iter().map(Option::unwrap).collect()
}

#[test]
fn corpus_imports_checks_renders_and_validates() {
    let started = std::time::Instant::now();
    let files = corpus();
    assert!(files.len() >= 60, "the corpus has {} files", files.len());

    // Every corpus file is a valid compose file: Compose v2 says so.
    let invalid: Vec<String> = parallel(&files, |path| {
        let vars = required_variables(&fs_err::read_to_string(path).unwrap());
        validators::compose_v2_config(path, &env_refs(&vars)).err()
    })
    .into_iter()
    .flatten()
    .collect();
    assert!(invalid.is_empty(), "corpus files that Compose v2 rejects:\n{}", invalid.join("\n\n"));

    let verdicts = parallel(&files, |path| {
        let verdict = import_and_render(path);
        let docker = match &verdict {
            Verdict::Rendered { dir } => validate_docker(dir.path()).err(),
            _ => None,
        };
        (verdict, docker)
    });
    let k8s_files: Vec<PathBuf> = verdicts
        .iter()
        .filter_map(|(v, _)| match v {
            Verdict::Rendered { dir } => Some(dir.path().join("k8s.yml")),
            _ => None,
        })
        .collect();
    let k8s = validate_k8s(&k8s_files);

    let mut passed = 0;
    let mut refused = Vec::new();
    let mut failed = Vec::new();
    for (path, (verdict, docker)) in files.iter().zip(&verdicts) {
        let name = path.file_name().unwrap().to_string_lossy();
        match verdict {
            Verdict::Rendered { dir } => {
                let k8s = k8s.get(&dir.path().join("k8s.yml"));
                match (docker, k8s) {
                    (None, None) => passed += 1,
                    (Some(problem), _) => failed.push(format!("{name}: {problem}")),
                    (None, Some(problem)) => failed.push(format!("{name}: k8s: {problem}")),
                }
            }
            Verdict::Refused(why) => refused.push(format!("{name}: {why}")),
            Verdict::Failed(why) => failed.push(format!("{name}: {why}")),
        }
    }
    #[allow(clippy::cast_precision_loss)]
    let rate = passed as f64 / files.len() as f64;
    let mut summary = format!(
        "compose corpus: {passed}/{} pass ({:.1}%), {} refused with a position, {} failed, in {:.1?}\n",
        files.len(),
        rate * 100.0,
        refused.len(),
        failed.len(),
        started.elapsed()
    );
    for line in &refused {
        let _ = writeln!(summary, "  refused: {line}");
    }
    for line in &failed {
        let _ = writeln!(summary, "  FAILED: {line}");
    }
    eprintln!("{summary}");
    let panicked: Vec<&String> = failed.iter().filter(|f| f.contains("panicked")).collect();
    assert!(panicked.is_empty(), "panics:\n{panicked:?}");
    assert!(rate >= REQUIRED_PASS_RATE, "below {:.0}%:\n{summary}", REQUIRED_PASS_RATE * 100.0);
}
