//! End-to-end tests of the `topo` binary: exit codes, diagnostics (human and
//! JSON), the JSON Schema, and the fixtures under `tests/fixtures/`.
//!
//! Fixtures:
//! - `tests/fixtures/valid/*.yaml` must pass `topo check`. A leading comment
//!   `# warnings: code, code` lists the warnings a fixture is expected to give
//!   (none when absent). `design-example.yaml` is the example of DESIGN.md,
//!   verbatim: never edit it.
//! - `tests/fixtures/invalid/*.yaml` and `*.bin` must fail. Their leading
//!   comment lines are directives, the first of them `# expect: LINE:COL code`:
//!   the position and code of the first error printed. Then, optionally and
//!   repeatable: `# message: text` and `# help: text` (substrings of that
//!   error's message and help), `# count: code N` (exactly N diagnostics with
//!   that code), and `# known-bug: what is wrong`. A known-bug fixture states
//!   the *correct* behaviour; [`invalid_fixtures_fail_where_their_header_says`]
//!   only checks that it fails cleanly, and [`known_bugs_are_still_bugs`]
//!   checks that it still misses its full expectation: when a bug is fixed,
//!   that test fails until its `known-bug:` line is deleted.
//!
//! Every run is checked for a panic and a signal; no test asserts how long a
//! run takes (a loaded machine is not a failure). A failing run is shown
//! shortened: its first 60 lines of stdout and of stderr.

// Helpers of a test binary: failing loudly, with the context, is their job.
#![allow(clippy::unwrap_used, clippy::panic)]

use crate::support::{TOPO, root};
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Fewest invalid fixtures the walker must find (it is easy to break the glob).
const MIN_INVALID_FIXTURES: usize = 30;

fn fixtures(kind: &str) -> PathBuf {
    root().join("tests").join("fixtures").join(kind)
}

/// A fresh, empty scratch directory for one test.
fn scratch_dir(test: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli").join(test);
    if dir.exists() {
        fs_err::remove_dir_all(&dir).unwrap();
    }
    fs_err::create_dir_all(&dir).unwrap();
    dir
}

/// The files of a fixture directory with one of `extensions`, sorted by name.
fn fixture_files(dir: &Path, extensions: &[&str]) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs_err::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().and_then(|e| e.to_str()).is_some_and(|e| extensions.contains(&e)))
        .collect();
    files.sort();
    files
}

fn file_name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

// ---------------------------------------------------------------------------
// Running topo
// ---------------------------------------------------------------------------

/// One run of the `topo` binary, built up in the manner of casey/just's test
/// builder: `Topo::check().spec_file(path).args(["--strict"]).run()`.
///
/// Colour is always off (`NO_COLOR`, and output is a pipe, not a terminal).
#[must_use]
struct Topo {
    args: Vec<OsString>,
    current_dir: PathBuf,
}

impl Topo {
    /// `topo` with no arguments yet.
    fn new() -> Self {
        Self { args: Vec::new(), current_dir: root() }
    }

    /// `topo check`.
    fn check() -> Self {
        Self::new().arg("check")
    }

    /// `topo schema`.
    fn schema() -> Self {
        Self::new().arg("schema")
    }

    fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// `--spec PATH` (relative paths are relative to [`Topo::current_dir`]).
    fn spec_file(self, path: impl AsRef<Path>) -> Self {
        self.arg("--spec").arg(path.as_ref())
    }

    /// `--format json`.
    fn json(self) -> Self {
        self.args(["--format", "json"])
    }

    /// Run in `dir` (default: the crate root).
    fn current_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.current_dir = dir.into();
        self
    }

    fn run(self) -> Output {
        let shown = format!(
            "topo {} (in {})",
            self.args.iter().map(|a| a.to_string_lossy()).collect::<Vec<_>>().join(" "),
            self.current_dir.display()
        );
        let started = Instant::now();
        let output = Command::new(TOPO)
            .args(&self.args)
            .current_dir(&self.current_dir)
            .env("NO_COLOR", "1")
            .env_remove("CLICOLOR_FORCE")
            .env_remove("RUST_BACKTRACE")
            .output()
            .unwrap_or_else(|error| panic!("cannot run {shown}: {error}"));
        Output {
            command: shown,
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            elapsed: started.elapsed(),
        }
    }
}

/// What a run of `topo` did.
#[derive(Debug)]
struct Output {
    command: String,
    /// `None` when killed by a signal.
    code: Option<i32>,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

impl Output {
    /// Everything about this run, for assertion messages.
    fn describe(&self) -> String {
        format!(
            "{}\nexit code: {:?}, took {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.command,
            self.code,
            self.elapsed,
            shorten(&self.stdout),
            shorten(&self.stderr)
        )
    }

    /// Problems that no run may have: a panic, a signal, a hang.
    fn sanity_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.stderr.contains("panicked") || self.stdout.contains("panicked") {
            problems.push("topo panicked".to_string());
        }
        if self.code.is_none() {
            problems.push("topo was killed by a signal".to_string());
        }
        problems
    }

    #[track_caller]
    fn assert_code(&self, code: i32) -> &Self {
        let problems = self.sanity_problems();
        assert!(problems.is_empty(), "{}\n{}", problems.join("\n"), self.describe());
        assert_eq!(self.code, Some(code), "unexpected exit code\n{}", self.describe());
        self
    }

    /// stdout as JSON.
    #[track_caller]
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|error| panic!("stdout is not JSON: {error}\n{}", self.describe()))
    }
}

/// The first 60 lines of `text`, and how much was left out.
fn shorten(text: &str) -> String {
    const LINES: usize = 60;
    let total = text.lines().count();
    if total <= LINES {
        return text.to_owned();
    }
    let head: Vec<&str> = text.lines().take(LINES).collect();
    format!("{}\n… {} more lines ({} bytes in all)", head.join("\n"), total - LINES, text.len())
}

// ---------------------------------------------------------------------------
// The JSON report
// ---------------------------------------------------------------------------

/// One diagnostic of `--format json`.
#[derive(Clone, Debug)]
struct Diag {
    severity: String,
    code: String,
    message: String,
    line: u64,
    column: u64,
    help: Option<String>,
}

impl Diag {
    fn at(&self) -> String {
        format!("{}:{} {}", self.line, self.column, self.code)
    }
}

/// Why `report` is not a well-formed `--format json` report: the top-level
/// fields, and each diagnostic's fields, types and values.
fn report_shape_problems(report: &Value, file: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(object) = report.as_object() else {
        return vec![format!("the report is not a JSON object: {report}")];
    };
    let keys: BTreeSet<&str> = object.keys().map(String::as_str).collect();
    let expected: BTreeSet<&str> = ["file", "valid", "errors", "warnings", "diagnostics"].into();
    if keys != expected {
        problems.push(format!("top-level fields are {keys:?}, expected {expected:?}"));
    }
    if report["file"] != json!(file) {
        problems.push(format!("`file` is {}, expected {file:?}", report["file"]));
    }
    if !report["valid"].is_boolean() {
        problems.push(format!("`valid` is {}, not a boolean", report["valid"]));
    }
    let Some(diagnostics) = report["diagnostics"].as_array() else {
        problems.push("`diagnostics` is not an array".into());
        return problems;
    };
    let count = |severity: &str| diagnostics.iter().filter(|d| d["severity"] == severity).count();
    for (field, severity) in [("errors", "error"), ("warnings", "warning")] {
        if report[field].as_u64() != Some(count(severity) as u64) {
            problems.push(format!(
                "`{field}` is {}, but {} diagnostics are {severity}s",
                report[field],
                count(severity)
            ));
        }
    }
    let required = ["severity", "code", "kind", "message", "path"];
    // A diagnostic without a place in the file (an unreadable file) has no position at all.
    let position_keys = ["line", "column", "end_line", "end_column"];
    let optional = ["help", "label", "line", "column", "end_line", "end_column"];
    for (i, d) in diagnostics.iter().enumerate() {
        let Some(fields) = d.as_object() else {
            problems.push(format!("diagnostics[{i}] is not an object"));
            continue;
        };
        for key in required {
            if !fields.contains_key(key) {
                problems.push(format!("diagnostics[{i}] has no `{key}`: {d}"));
            }
        }
        for key in fields.keys() {
            if !required.contains(&key.as_str()) && !optional.contains(&key.as_str()) {
                problems.push(format!("diagnostics[{i}] has an undocumented field `{key}`"));
            }
        }
        for key in ["code", "message", "path"] {
            if d[key].as_str().is_none_or(str::is_empty) {
                problems.push(format!("diagnostics[{i}].{key} is not a non-empty string: {}", d[key]));
            }
        }
        for key in ["help", "label"] {
            if fields.contains_key(key) && d[key].as_str().is_none_or(str::is_empty) {
                problems.push(format!("diagnostics[{i}].{key} is not a non-empty string: {}", d[key]));
            }
        }
        if !matches!(d["severity"].as_str(), Some("error" | "warning")) {
            problems.push(format!("diagnostics[{i}].severity is {}", d["severity"]));
        }
        if !matches!(d["kind"].as_str(), Some("syntax" | "shape" | "semantic")) {
            problems.push(format!("diagnostics[{i}].kind is {}", d["kind"]));
        }
        let code = d["code"].as_str().unwrap_or_default();
        if !code.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
            problems.push(format!("diagnostics[{i}].code `{code}` is not kebab-case"));
        }
        let position: Vec<Option<u64>> = position_keys.iter().map(|k| d[*k].as_u64()).collect();
        match position[..] {
            [None, None, None, None] if position_keys.iter().all(|k| !fields.contains_key(*k)) => {}
            [Some(line), Some(column), Some(end_line), Some(end_column)] => {
                if line == 0 || column == 0 || (end_line, end_column) < (line, column) {
                    problems.push(format!(
                        "diagnostics[{i}] has an impossible range {line}:{column}..{end_line}:{end_column}"
                    ));
                }
            }
            _ => problems.push(format!("diagnostics[{i}] has a position that is not whole numbers: {d}")),
        }
    }
    problems
}

/// The diagnostics of a well-formed report.
fn diagnostics(report: &Value) -> Vec<Diag> {
    report["diagnostics"]
        .as_array()
        .map(|all| {
            all.iter()
                .map(|d| Diag {
                    severity: d["severity"].as_str().unwrap_or_default().to_owned(),
                    code: d["code"].as_str().unwrap_or_default().to_owned(),
                    message: d["message"].as_str().unwrap_or_default().to_owned(),
                    line: d["line"].as_u64().unwrap_or_default(),
                    column: d["column"].as_u64().unwrap_or_default(),
                    help: d["help"].as_str().map(str::to_owned),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn errors(report: &Value) -> Vec<Diag> {
    diagnostics(report).into_iter().filter(|d| d.severity == "error").collect()
}

/// Where the human output and the JSON report of the same run disagree.
fn human_vs_json_problems(human: &str, report: &Value, file: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let all = diagnostics(report);
    for d in &all {
        let at = format!("{file}:{}:{}", d.line, d.column);
        if !human.contains(&at) {
            problems.push(format!("the human output does not show `{at}` for {} (JSON has it)", d.code));
        }
        let title = format!("{}[{}]: {}", d.severity, d.code, d.message);
        if !human.contains(&title) {
            problems.push(format!("the human output has no title line `{title}`"));
        }
    }
    let titles = human.lines().filter(|l| l.starts_with("error[") || l.starts_with("warning[")).count();
    if titles != all.len() {
        problems.push(format!("the human output has {titles} diagnostics, the JSON report {}", all.len()));
    }
    problems
}

// ---------------------------------------------------------------------------
// Invalid fixtures
// ---------------------------------------------------------------------------

/// What an invalid fixture's header says.
#[derive(Clone, Debug, Default)]
struct Expectation {
    line: u64,
    column: u64,
    code: String,
    messages: Vec<String>,
    helps: Vec<String>,
    counts: Vec<(String, usize)>,
    known_bug: Option<String>,
}

impl Expectation {
    fn new(line: u64, column: u64, code: &str) -> Self {
        Self { line, column, code: code.to_owned(), ..Self::default() }
    }

    /// Read the directives of a fixture's leading comment lines.
    fn parse(name: &str, bytes: &[u8]) -> Result<Self, String> {
        let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
        let mut lines = bytes.split(|b| *b == b'\n').map(|l| String::from_utf8_lossy(l).trim_end().to_owned());
        let first = lines.next().unwrap_or_default();
        let Some(expect) = first.strip_prefix("# expect: ") else {
            return Err(format!("{name}: the first line must be `# expect: LINE:COL code`, not {first:?}"));
        };
        let bad = || format!("{name}: cannot read {first:?} as `# expect: LINE:COL code`");
        let (position, code) = expect.split_once(' ').ok_or_else(bad)?;
        let (line, column) = position.split_once(':').ok_or_else(bad)?;
        let mut expectation = Self::new(line.parse().map_err(|_| bad())?, column.parse().map_err(|_| bad())?, code);
        for line in lines.take_while(|l| l.starts_with('#')) {
            if let Some(text) = line.strip_prefix("# message: ") {
                expectation.messages.push(text.to_owned());
            } else if let Some(text) = line.strip_prefix("# help: ") {
                expectation.helps.push(text.to_owned());
            } else if let Some(text) = line.strip_prefix("# known-bug: ") {
                expectation.known_bug = Some(text.to_owned());
            } else if let Some(text) = line.strip_prefix("# count: ") {
                let (code, n) = text.split_once(' ').ok_or_else(|| format!("{name}: bad {line:?}"))?;
                let n = n.parse().map_err(|_| format!("{name}: bad {line:?}"))?;
                expectation.counts.push((code.to_owned(), n));
            }
        }
        Ok(expectation)
    }
}

/// An input that `topo check` must refuse, and how.
#[derive(Clone, Debug)]
struct Case {
    /// The directory to run in; the spec is passed by its bare file name.
    dir: PathBuf,
    file: String,
    expect: Expectation,
}

impl Case {
    fn from_fixture(path: &Path) -> Self {
        let bytes = fs_err::read(path).unwrap();
        let file = file_name(path);
        let expect = Expectation::parse(&file, &bytes).unwrap_or_else(|problem| panic!("{problem}"));
        Self { dir: path.parent().unwrap().to_path_buf(), file, expect }
    }

    /// Write `bytes` into `dir` as `file`.
    fn generated(dir: &Path, file: &str, bytes: &[u8], expect: Expectation) -> Self {
        fs_err::write(dir.join(file), bytes).unwrap();
        Self { dir: dir.to_path_buf(), file: file.to_owned(), expect }
    }

    /// Run the case; `full` checks the expectation, otherwise only that topo
    /// refuses the input cleanly (for known bugs). Returns what went wrong.
    fn problems(&self, full: bool) -> Vec<String> {
        let human = Topo::check().spec_file(&self.file).current_dir(&self.dir).run();
        let machine = Topo::check().spec_file(&self.file).json().current_dir(&self.dir).run();
        let mut problems = human.sanity_problems();
        problems.extend(machine.sanity_problems());
        for (run, what) in [(&human, "human"), (&machine, "--format json")] {
            if run.code != Some(1) {
                problems.push(format!("{what}: exit code {:?}, expected Some(1)", run.code));
            }
        }
        let report = match serde_json::from_str::<Value>(&machine.stdout) {
            Ok(report) => report,
            Err(error) => {
                problems.push(format!("--format json printed no JSON ({error})"));
                Value::Null
            }
        };
        if !machine.stderr.is_empty() {
            problems.push(format!("--format json printed on stderr: {}", machine.stderr));
        }
        let errors = errors(&report);
        if errors.is_empty() {
            problems.push("the JSON report has no error".into());
        }
        if report["valid"] != json!(false) {
            problems.push(format!("the JSON report says `valid: {}`", report["valid"]));
        }
        if full {
            problems.extend(self.expectation_problems(&human, &report, &errors));
        }
        if !problems.is_empty() {
            problems.insert(0, String::new());
            problems.push(format!("{}\n{}", human.describe(), machine.describe()));
        }
        problems
    }

    fn expectation_problems(&self, human: &Output, report: &Value, errors: &[Diag]) -> Vec<String> {
        let expect = &self.expect;
        let mut problems = report_shape_problems(report, &self.file);
        problems.extend(human_vs_json_problems(&human.stderr, report, &self.file));
        let wanted = format!("{}:{} {}", expect.line, expect.column, expect.code);
        match errors.first() {
            Some(first) => {
                if first.at() != wanted {
                    problems.push(format!(
                        "the first error is `{}` ({}), expected `{wanted}`",
                        first.at(),
                        first.message
                    ));
                }
                for text in &expect.messages {
                    if !first.message.contains(text.as_str()) {
                        problems.push(format!("the first error's message {:?} lacks {text:?}", first.message));
                    }
                }
                for text in &expect.helps {
                    if !first.help.as_deref().unwrap_or_default().contains(text.as_str()) {
                        problems.push(format!("the first error's help {:?} lacks {text:?}", first.help));
                    }
                }
            }
            None => problems.push(format!("expected `{wanted}`, found no error")),
        }
        for (code, n) in &expect.counts {
            let found = diagnostics(report).iter().filter(|d| d.code == *code).count();
            if found != *n {
                problems.push(format!("{found} `{code}` diagnostics, expected {n}"));
            }
        }
        let at = format!("{}:{}:{}", self.file, expect.line, expect.column);
        if !human.stderr.contains(&at) {
            problems.push(format!("the human output does not contain `{at}`"));
        }
        if !human.stderr.contains(&format!("error[{}]", expect.code)) {
            problems.push(format!("the human output does not contain `error[{}]`", expect.code));
        }
        if !human.stderr.contains(&format!("error: {} is not a valid spec", self.file)) {
            problems.push("the human output does not end with the `is not a valid spec` line".into());
        }
        for help in &expect.helps {
            if !human.stderr.contains(&format!("help: {help}")) && !human.stderr.contains(help.as_str()) {
                problems.push(format!("the human output does not show the help {help:?}"));
            }
        }
        problems
    }
}

/// Run every case and fail once, listing every case that went wrong.
#[track_caller]
fn assert_cases(cases: &[Case], full: impl Fn(&Case) -> bool) {
    let mut failures = Vec::new();
    for case in cases {
        let problems = case.problems(full(case));
        if !problems.is_empty() {
            let bug = case.expect.known_bug.as_deref().map(|b| format!(" (known bug: {b})")).unwrap_or_default();
            failures.push(format!("=== {}{bug}{}", case.file, problems.join("\n  ")));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n\n"));
}

fn invalid_fixture_cases() -> Vec<Case> {
    fixture_files(&fixtures("invalid"), &["yaml", "bin"]).iter().map(|path| Case::from_fixture(path)).collect()
}

/// Inputs written by the tests themselves: what cannot carry a header line.
fn generated_cases(dir: &Path) -> Vec<Case> {
    let mut too_large = b"project: shop\nx: \"".to_vec();
    too_large.resize(5 * 1024 * 1024, b'a');
    too_large.extend_from_slice(b"\"\n");
    let mut bom = Expectation::new(1, 10, "invalid-type");
    bom.messages.push("expected a string, found an integer".into());
    vec![
        Case::generated(dir, "empty.yaml", b"", Expectation::new(1, 1, "empty-spec")),
        Case::generated(dir, "blank.yaml", b"   \n\n  \n", Expectation::new(1, 1, "empty-spec")),
        Case::generated(dir, "too-large.yaml", &too_large, Expectation::new(1, 1, "file-too-large")),
        Case::generated(
            dir,
            "invalid-utf8-first-byte.yaml",
            b"\xff\xfeproject: shop\n",
            Expectation::new(1, 1, "not-utf8"),
        ),
        Case::generated(dir, "bom-first-line.yaml", b"\xef\xbb\xbfproject: 123\nphases: {}\nservices: {}\n", bom),
    ]
}

#[test]
fn invalid_fixtures_fail_where_their_header_says() {
    let cases = invalid_fixture_cases();
    let checked = cases.iter().filter(|c| c.expect.known_bug.is_none()).count();
    assert!(
        checked >= MIN_INVALID_FIXTURES,
        "only {checked} invalid fixtures without a known bug in {}",
        fixtures("invalid").display()
    );
    assert!(cases.iter().any(|c| c.file.ends_with(".bin")), "no .bin fixture");
    assert_cases(&cases, |case| case.expect.known_bug.is_none());
}

#[test]
fn generated_invalid_inputs_fail_where_expected() {
    let cases = generated_cases(&scratch_dir("generated"));
    assert_cases(&cases, |case| case.expect.known_bug.is_none());
}

/// The fixtures and inputs marked `known-bug` still show their bug: each
/// misses the behaviour its header states. One that meets it is fixed, and
/// its `known-bug` line must go, so that the full check covers it.
#[test]
fn known_bugs_are_still_bugs() {
    let mut cases: Vec<Case> = invalid_fixture_cases();
    cases.extend(generated_cases(&scratch_dir("known-bugs")));
    cases.retain(|case| case.expect.known_bug.is_some());
    let fixed: Vec<&str> = cases.iter().filter(|c| c.problems(true).is_empty()).map(|c| c.file.as_str()).collect();
    assert!(fixed.is_empty(), "fixed: delete the `known-bug` line of {fixed:?}");
}

#[test]
fn crlf_line_endings_give_the_same_diagnostics() {
    let dir = scratch_dir("crlf");
    let cases: Vec<Case> = invalid_fixture_cases()
        .into_iter()
        .filter(|case| case.expect.known_bug.is_none() && case.file.ends_with(".yaml"))
        .map(|case| {
            let text = fs_err::read_to_string(case.dir.join(&case.file)).unwrap();
            let crlf = text.replace('\n', "\r\n");
            Case::generated(&dir, &case.file, crlf.as_bytes(), case.expect)
        })
        .collect();
    assert_cases(&cases, |_| true);
}

/// Inputs built to hurt a parser: topo must refuse each with exit status 1
/// and a JSON report, quickly, without panicking.
#[test]
fn hostile_inputs_fail_cleanly() {
    let dir = scratch_dir("hostile");
    // A deterministic pseudo-random byte soup, NULs included.
    let mut state: u32 = 0x9e37_79b9;
    let garbage: Vec<u8> = (0..64 * 1024)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state.to_le_bytes()[0]
        })
        .collect();
    let nested_maps: String = (0..2000).map(|depth| format!("{}k{depth}:\n", " ".repeat(depth))).collect();
    let mut many_aliases = String::from("a: &a [x, x, x, x, x, x, x, x]\nb: [");
    many_aliases.push_str(&vec!["*a"; 100_000].join(", "));
    many_aliases.push_str("]\n");
    let inputs: Vec<(&str, Vec<u8>)> = vec![
        ("garbage.bin", garbage),
        ("nul-bytes.yaml", b"project: shop\0\0\0\nphases: {}\n".to_vec()),
        ("open-brackets.yaml", "[".repeat(100_000).into_bytes()),
        ("open-braces.yaml", "{".repeat(100_000).into_bytes()),
        ("nested-maps.yaml", nested_maps.into_bytes()),
        ("many-aliases.yaml", many_aliases.into_bytes()),
        ("long-line.yaml", format!("project: {}\n", "a".repeat(1_000_000)).into_bytes()),
        ("lone-surrogate-escape.yaml", b"project: \"\\ud800\"\n".to_vec()),
        ("only-document-markers.yaml", b"---\n...\n---\n...\n".to_vec()),
        ("unclosed-flow.yaml", b"services: { web: { image: [nginx\n".to_vec()),
    ];
    let cases: Vec<Case> =
        inputs.into_iter().map(|(file, bytes)| Case::generated(&dir, file, &bytes, Expectation::default())).collect();
    assert_cases(&cases, |_| false);
}

#[test]
fn all_errors_are_reported_in_one_run_in_source_order() {
    let expected: [(&str, &[&str]); 2] = [
        (
            "many-shape-errors.yaml",
            &[
                "7:13 invalid-value",
                "9:22 invalid-value",
                "9:33 invalid-value",
                "9:50 invalid-value",
                "10:28 unknown-field",
                "14:11 invalid-type",
                "15:20 invalid-type",
                "16:15 invalid-type",
                "17:17 invalid-type",
            ],
        ),
        (
            "many-semantic-errors.yaml",
            &[
                "3:1 invalid-name",
                "15:21 duplicate-port",
                "16:28 undeclared-secret",
                "17:18 unknown-service",
                "20:17 unknown-phase",
                "22:7 request-above-limit",
            ],
        ),
    ];
    for (file, wanted) in expected {
        let run = Topo::check().spec_file(file).json().current_dir(fixtures("invalid")).run();
        run.assert_code(1);
        let report = run.json();
        let found = errors(&report);
        assert_eq!(report["errors"].as_u64(), Some(wanted.len() as u64), "{file}: error count\n{}", run.describe());
        let found_at: Vec<String> = found.iter().map(Diag::at).collect();
        assert_eq!(found_at, wanted, "{file}: every error, in source order\n{}", run.describe());
        let positions: Vec<(u64, u64)> = found.iter().map(|d| (d.line, d.column)).collect();
        assert!(positions.is_sorted(), "{file}: not in source order: {positions:?}");

        let human = Topo::check().spec_file(file).current_dir(fixtures("invalid")).run();
        human.assert_code(1);
        let problems = human_vs_json_problems(&human.stderr, &report, file);
        assert!(problems.is_empty(), "{}\n{}", problems.join("\n"), human.describe());
        let closing = format!("error: {file} is not a valid spec ({} errors, 0 warnings)", wanted.len());
        assert!(human.stderr.trim_end().ends_with(&closing), "{}", human.describe());
    }
}

// ---------------------------------------------------------------------------
// Valid specs
// ---------------------------------------------------------------------------

/// The warning codes a valid fixture declares with `# warnings: a, b`.
fn declared_warnings(path: &Path) -> Vec<String> {
    // The DESIGN.md example stays verbatim, so it cannot carry a header: its limits
    // over-commit the cpu of phases 1 and 2, which the fit check calls tight; its
    // pg_isready checks the socket; its redis gets no password its clients have.
    if is_design_example(path) {
        let codes = ["pg-isready-without-host", "phase-tight", "phase-tight", "redis-without-password"];
        return codes.map(str::to_owned).to_vec();
    }
    let text = fs_err::read_to_string(path).unwrap();
    let mut codes: Vec<String> = text
        .lines()
        .take_while(|l| l.starts_with('#'))
        .filter_map(|l| l.strip_prefix("# warnings: "))
        .flat_map(|list| list.split(',').map(|c| c.trim().to_owned()))
        .collect();
    codes.sort();
    codes
}

fn is_design_example(path: &Path) -> bool {
    path.file_name().is_some_and(|n| n == "design-example.yaml")
}

/// The design example is accepted as it stands (it compiles and renders),
/// but `topo check` refuses to deploy its k8s phase: the three app images'
/// users are unknown, and the kubelet would refuse them under runAsNonRoot.
#[test]
fn design_example_compiles_and_check_names_the_unknown_image_users() {
    let dir = fixtures("valid");
    let run = Topo::check().spec_file("design-example.yaml").json().current_dir(&dir).run();
    run.assert_code(1);
    let report = run.json();
    let errors: Vec<(String, u64)> =
        diagnostics(&report).into_iter().filter(|d| d.severity == "error").map(|d| (d.code, d.line)).collect();
    // The `image:` lines of frontend, backend and worker, in source order.
    let want = [41, 51, 67].map(|line| ("image-user-unknown".to_owned(), line)).to_vec();
    assert_eq!(errors, want, "{}", run.describe());
    let mut warnings: Vec<String> =
        diagnostics(&report).into_iter().filter(|d| d.severity == "warning").map(|d| d.code).collect();
    warnings.sort();
    assert_eq!(warnings, declared_warnings(&dir.join("design-example.yaml")));
    let text = fs_err::read_to_string(dir.join("design-example.yaml")).unwrap();
    assert!(topo::compile(text.as_bytes()).is_ok(), "the spec language accepts it");
}

/// A k8s service with a port that nothing calls, exposes or allows is
/// unreachable behind its NetworkPolicy: `topo check` warns at the
/// service's key, with the way out.
#[test]
fn check_warns_about_a_service_nothing_may_reach() {
    let dir = fixtures("valid");
    let run = Topo::check().spec_file("unreachable-service.yaml").json().current_dir(&dir).run();
    run.assert_code(0);
    let found: Vec<(String, String, u64, u64)> =
        diagnostics(&run.json()).into_iter().map(|d| (d.severity, d.code, d.line, d.column)).collect();
    assert_eq!(found, [("warning".to_owned(), "unreachable-service".to_owned(), 17, 3)], "{}", run.describe());
    let human = Topo::check().spec_file("unreachable-service.yaml").current_dir(&dir).run();
    assert!(human.stderr.contains("nothing may reach `cache` in phase 1 (k3s)"), "{}", human.describe());
    assert!(
        human.stderr.contains("add `cache` to the `depends_on` of the services that call it"),
        "{}",
        human.describe()
    );
    // `--strict` makes the warning fail the check.
    Topo::check().spec_file("unreachable-service.yaml").arg("--strict").current_dir(&dir).run().assert_code(1);
}

#[test]
fn valid_fixtures_pass() {
    assert_valid_specs(&fixtures("valid"), &["design-example.yaml", "every-field.yaml"]);
}

#[test]
fn examples_pass() {
    assert_valid_specs(&root().join("examples"), &["minimal.yaml", "phased-values.yaml"]);
}

/// Every spec in `dir` passes `topo check`, with exactly the warnings its
/// `# warnings:` header line declares.
fn assert_valid_specs(dir: &Path, required: &[&str]) {
    let files = fixture_files(dir, &["yaml"]);
    let names: Vec<String> = files.iter().map(|f| file_name(f)).collect();
    for required in required {
        assert!(names.iter().any(|n| n == required), "{}/{required} is missing", dir.display());
    }
    for path in files.iter().filter(|p| !is_design_example(p)) {
        let file = file_name(path);
        let human = Topo::check().spec_file(&file).current_dir(dir).run();
        human.assert_code(0);
        assert!(human.stdout.is_empty(), "{}", human.describe());
        assert!(human.stderr.contains(&format!("ok: {file} is valid")), "{}", human.describe());

        let machine = Topo::check().spec_file(&file).json().current_dir(dir).run();
        machine.assert_code(0);
        let report = machine.json();
        let problems = report_shape_problems(&report, &file);
        assert!(problems.is_empty(), "{}\n{}", problems.join("\n"), machine.describe());
        assert_eq!((&report["errors"], &report["valid"]), (&json!(0), &json!(true)), "{}", machine.describe());
        let mut warnings: Vec<String> = diagnostics(&report).into_iter().map(|d| d.code).collect();
        warnings.sort();
        assert_eq!(warnings, declared_warnings(path), "{file}: warnings other than its `# warnings:` line");
        let problems = human_vs_json_problems(&human.stderr, &report, &file);
        assert!(problems.is_empty(), "{}\n{}", problems.join("\n"), human.describe());
    }
}

#[test]
fn design_example_is_the_design_documents_example() {
    // The fixture must stay the DESIGN.md example verbatim; when the design
    // document is at hand (the project's shared folder), compare them.
    let fixture = fs_err::read_to_string(fixtures("valid").join("design-example.yaml")).unwrap();
    assert!(fixture.starts_with("# yaml-language-server: $schema=topo.schema.json"));
    assert!(fixture.contains("project: finanzas"));
    let design = root().join("..").join("shared").join("DESIGN.md");
    if let Ok(text) = fs_err::read_to_string(&design) {
        let example = text
            .split("```yaml\n")
            .nth(1)
            .and_then(|rest| rest.split("\n```").next())
            .expect("DESIGN.md has a yaml block");
        assert_eq!(fixture.trim_end(), example.trim_end(), "design-example.yaml differs from {}", design.display());
    }
}

#[test]
fn finanzas_spec_passes_with_only_the_tight_phases() {
    // The seed's limits over-commit the cpu of phases 1 and 2 (1.36× and 1.09×):
    // requests fit, so the phases are tight, which is a warning and nothing more.
    let run = Topo::check().spec_file("specs/finanzas.yaml").run();
    run.assert_code(0);
    assert!(
        run.stderr.trim_end().ends_with("0 errors, 2 warnings)")
            && run.stderr.contains("ok: specs/finanzas.yaml is valid"),
        "{}",
        run.describe()
    );
    let report = Topo::check().spec_file("specs/finanzas.yaml").json().run();
    report.assert_code(0);
    let found: Vec<(String, String)> = report.json()["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["code"].as_str().unwrap().to_owned(), d["path"].as_str().unwrap().to_owned()))
        .collect();
    let expected = [("phase-tight", "phases.1.nodes"), ("phase-tight", "phases.2.nodes")];
    let expected: Vec<(String, String)> = expected.iter().map(|(c, p)| ((*c).to_owned(), (*p).to_owned())).collect();
    assert_eq!(found, expected, "{}", report.describe());
}

#[test]
fn strict_turns_warnings_into_failure() {
    let dir = fixtures("valid");
    let file = "unpinned-image.yaml";

    let lenient = Topo::check().spec_file(file).current_dir(&dir).run();
    lenient.assert_code(0);
    assert!(lenient.stderr.contains("warning[unpinned-image]"), "{}", lenient.describe());
    assert!(lenient.stderr.contains(&format!("ok: {file} is valid")), "{}", lenient.describe());

    let strict = Topo::check().spec_file(file).args(["--strict"]).current_dir(&dir).run();
    strict.assert_code(1);
    assert!(strict.stderr.contains("warning[unpinned-image]"), "{}", strict.describe());
    assert!(strict.stderr.contains("--strict"), "the failure should say --strict caused it\n{}", strict.describe());

    let strict_json = Topo::check().spec_file(file).args(["--strict"]).json().current_dir(&dir).run();
    strict_json.assert_code(1);
    let report = strict_json.json();
    assert_eq!((report["errors"].as_u64(), report["warnings"].as_u64()), (Some(0), Some(1)));
    assert_eq!(report["valid"], false, "--strict with a warning is not valid");
    assert_eq!(diagnostics(&report)[0].code, "unpinned-image");

    // A spec without warnings passes --strict.
    Topo::check().spec_file("minimal.yaml").args(["--strict"]).current_dir(&dir).run().assert_code(0);
}

// ---------------------------------------------------------------------------
// Output formats and the command line
// ---------------------------------------------------------------------------

#[test]
fn json_report_has_the_documented_shape() {
    let file = "secret-in-env-declared-twice.yaml";
    let run = Topo::check().spec_file(file).json().current_dir(fixtures("invalid")).run();
    run.assert_code(1);
    assert!(run.stderr.is_empty(), "--format json writes only to stdout\n{}", run.describe());
    let report = run.json();
    let problems = report_shape_problems(&report, file);
    assert!(problems.is_empty(), "{}\n{}", problems.join("\n"), run.describe());

    // This file gives errors and warnings, with and without help and label.
    let all = report["diagnostics"].as_array().unwrap();
    assert!(report["errors"].as_u64() >= Some(1) && report["warnings"].as_u64() >= Some(1), "{}", run.describe());
    assert!(all.iter().any(|d| d.get("help").is_some()) && all.iter().any(|d| d.get("help").is_none()));
    let first_error = all.iter().find(|d| d["severity"] == "error").unwrap();
    assert_eq!(first_error["kind"], "semantic");
    assert_eq!(first_error["path"], "env.API_KEY");
    assert_eq!((first_error["line"].as_u64(), first_error["column"].as_u64()), (Some(12), Some(8)));
    assert_eq!((first_error["end_line"].as_u64(), first_error["end_column"].as_u64()), (Some(12), Some(15)));

    // The kinds: syntax, shape.
    for (file, kind) in [("duplicate-key.yaml", "syntax"), ("unknown-field-typo.yaml", "shape")] {
        let report = Topo::check().spec_file(file).json().current_dir(fixtures("invalid")).run().json();
        assert_eq!(report["diagnostics"][0]["kind"], kind, "{file}");
    }
}

#[test]
fn human_output_is_plain_text_on_a_pipe() {
    for file in ["unknown-field-typo.yaml", "many-semantic-errors.yaml"] {
        let run = Topo::check().spec_file(file).current_dir(fixtures("invalid")).run();
        run.assert_code(1);
        assert!(!run.stderr.contains('\x1b'), "escape codes in\n{}", run.describe());
        assert!(run.stdout.is_empty(), "human diagnostics go to stderr\n{}", run.describe());
    }
}

#[test]
fn missing_spec_file_is_named() {
    let run = Topo::check().spec_file("no/such/spec.yaml").run();
    run.assert_code(1);
    assert!(run.stderr.contains("no/such/spec.yaml"), "the message must name the path\n{}", run.describe());
    assert!(run.stderr.contains("cannot read the spec"), "{}", run.describe());

    // Without --spec, topo reads ./topo.yaml and says how to point it elsewhere.
    let empty = scratch_dir("missing-default-spec");
    let run = Topo::check().current_dir(&empty).run();
    run.assert_code(1);
    assert!(run.stderr.contains("topo.yaml") && run.stderr.contains("--spec"), "{}", run.describe());

    // A directory is not a spec either.
    let run = Topo::check().spec_file("tests").run();
    run.assert_code(1);
    assert!(run.stderr.contains("tests"), "{}", run.describe());
}

#[test]
fn usage_errors_exit_2() {
    let cases: [&[&str]; 6] = [
        &["check", "--no-such-flag"],
        &["check", "--format", "yaml"],
        &["check", "--spec"],
        &["frobnicate"],
        &[],
        &["schema", "extra"],
    ];
    for args in cases {
        let run = Topo::new().args(args).run();
        run.assert_code(2);
        assert!(run.stderr.starts_with("error:") || run.stderr.contains("Usage:"), "{}", run.describe());
    }
    let run = Topo::check().args(["--no-such-flag"]).run();
    assert!(run.stderr.contains("--no-such-flag"), "the message names the flag\n{}", run.describe());

    // Asking for help is not an error.
    Topo::new().arg("--help").run().assert_code(0);
    Topo::check().arg("--help").run().assert_code(0);
}

/// Every page topo's manual page refers to exists: `topo man X` prints the page
/// `topo-X(1)`, named and titled so.
#[test]
fn every_manual_page_topo_refers_to_exists() {
    let top = Topo::new().arg("man").run();
    top.assert_code(0);
    let referred: Vec<&str> =
        top.stdout.split("topo\\-").skip(1).filter_map(|rest| rest.split_once("(1)").map(|(name, _)| name)).collect();
    assert!(referred.len() >= 8, "topo's page refers to the subcommands' pages: {referred:?}");
    assert!(!referred.contains(&"help"), "there is no page for `help`: {referred:?}");
    for name in referred {
        let page = Topo::new().args(["man", name]).run();
        page.assert_code(0);
        assert!(page.stdout.contains(&format!(".TH topo-{name} 1")), "{}", page.describe());
        assert!(page.stdout.contains(&format!("topo\\-{name} \\-")), "NAME section: {}", page.describe());
    }
    Topo::new().args(["man", "frobnicate"]).run().assert_code(2);
}

/// A mistyped subcommand gets the closest one, not every one within reach.
#[test]
fn a_mistyped_subcommand_suggests_the_closest() {
    for (typed, closest) in [("chek", "check"), ("plna", "plan"), ("rendr", "render"), ("imprt", "import")] {
        let run = Topo::new().arg(typed).run();
        run.assert_code(2);
        assert!(run.stderr.contains(&format!("tip: a similar subcommand exists: '{closest}'")), "{}", run.describe());
    }
}

/// Compose habits (`environment`, `healthcheck`, a `volumes` or `env` list) get
/// topo's name for the field and its form, with an example that is itself valid.
#[test]
fn compose_habits_get_topos_form() {
    let dir = tempfile::tempdir().unwrap();
    let spec = "project: demo\nphases:\n  1:\n    name: single\n    target: compose\n    nodes:\n      vps-1: { cpu: 2, memory: 4Gi }\n\
                services:\n  web:\n    image: nginx:1.27\n    port: 80\n    environment:\n      A: b\n    healthcheck:\n      http: /\n\
                \x20 db:\n    image: postgres:17\n    volumes:\n      - data:/var/lib/postgresql/data\n    env:\n      - KEY=value\n";
    fs_err::write(dir.path().join("topo.yaml"), spec).unwrap();
    let run = Topo::check().current_dir(dir.path()).run();
    run.assert_code(1);
    for help in [
        "help: topo calls it `env`: a mapping",
        "help: topo calls it `health`: `health: { http: /healthz }`",
        "help: volumes are named, each with its mount and size: `volumes: { data: { mount: /var/lib/postgresql/data, size: 10Gi } }`",
        "help: `env` is a mapping, not compose's `KEY=value` list",
    ] {
        assert!(run.stderr.contains(help), "missing {help:?}\n{}", run.describe());
    }
    // The forms the help shows are valid.
    let fixed = "project: demo\nphases:\n  1:\n    name: single\n    target: compose\n    nodes:\n      vps-1: { cpu: 2, memory: 4Gi }\n\
                 services:\n  db:\n    image: postgres:17\n    port: 5432\n\
                 \x20   volumes: { data: { mount: /var/lib/postgresql/data, size: 10Gi } }\n    env: { LOG_LEVEL: info }\n\
                 \x20   health: { tcp: 5432 }\n    resources: { limits: { cpu: 500m, memory: 256Mi } }\n    depends_on: []\n";
    fs_err::write(dir.path().join("topo.yaml"), fixed).unwrap();
    Topo::check().current_dir(dir.path()).run().assert_code(0);
}

/// `topo check --help` says that check checks fit, not only validity.
#[test]
fn check_help_says_it_checks_fit() {
    let run = Topo::check().arg("--help").run();
    run.assert_code(0);
    assert!(
        run.stdout.contains("fits its machines") && run.stdout.contains("phase-does-not-fit"),
        "{}",
        run.describe()
    );
}

/// The body of `topo.schema.json` and `topo schema` when they differ, as a line diff.
#[test]
fn schema_command_prints_the_committed_schema() {
    let run = Topo::schema().run();
    run.assert_code(0);
    let committed = fs_err::read_to_string(root().join("topo.schema.json")).unwrap();
    if run.stdout != committed {
        panic!(
            "`topo schema` differs from the committed topo.schema.json \
             (- committed, + topo schema):\n{}\nRegenerate it with `cargo run -- schema > topo.schema.json`.",
            line_diff(&committed, &run.stdout)
        );
    }
    let schema: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
    jsonschema::meta::validate(&schema).unwrap_or_else(|error| panic!("not a valid JSON Schema: {error}"));
}

/// A unified-style diff of two texts by lines: changed lines with two lines of
/// context, long runs of unchanged lines elided.
fn line_diff(old: &str, new: &str) -> String {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    // Longest common subsequence lengths, from the end.
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    let mut ops: Vec<(char, usize, &str)> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            ops.push((' ', i + 1, a[i]));
            i += 1;
            j += 1;
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            ops.push(('-', i + 1, a[i]));
            i += 1;
        } else {
            ops.push(('+', j + 1, b[j]));
            j += 1;
        }
    }
    let changed: Vec<usize> = ops.iter().enumerate().filter(|(_, op)| op.0 != ' ').map(|(k, _)| k).collect();
    let near = |k: usize| changed.iter().any(|&c| c.abs_diff(k) <= 2);
    let mut out = String::new();
    let mut elided = false;
    for (k, (sign, line_number, text)) in ops.iter().enumerate() {
        if near(k) {
            out.push_str(&format!("{sign}{line_number:5} | {text}\n"));
            elided = false;
        } else if !elided {
            out.push_str("   ...\n");
            elided = true;
        }
    }
    if old.ends_with('\n') != new.ends_with('\n') {
        out.push_str("(the two differ in their final newline)\n");
    }
    out
}

#[test]
fn line_diff_shows_changes_in_context() {
    let diff = line_diff("a\nb\nc\nd\ne\nf\ng\nh\n", "a\nb\nc\nD\ne\nf\ng\nh\n");
    assert_eq!(diff, "   ...\n     2 | b\n     3 | c\n-    4 | d\n+    4 | D\n     5 | e\n     6 | f\n   ...\n");
}

// ---------------------------------------------------------------------------
// The JSON Schema
// ---------------------------------------------------------------------------

fn schema() -> Value {
    serde_json::from_str(&topo::schema::json_schema()).unwrap()
}

/// A spec file as the JSON an editor would check against the schema.
fn spec_as_json(path: &Path) -> Value {
    let text = fs_err::read_to_string(path).unwrap();
    let mut diags = Vec::new();
    let tree =
        topo::yaml::parse(&text, &mut diags).unwrap_or_else(|error| panic!("{}: not YAML: {error:?}", path.display()));
    assert!(diags.is_empty(), "{}: {diags:?}", path.display());
    tree.to_json()
}

fn schema_errors(validator: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    validator.iter_errors(instance).map(|e| format!("at `{}`: {e}", e.instance_path())).collect()
}

#[test]
fn valid_specs_match_the_schema() {
    let validator = jsonschema::validator_for(&schema()).unwrap();
    let mut files = fixture_files(&fixtures("valid"), &["yaml"]);
    files.push(root().join("specs").join("finanzas.yaml"));
    for path in files {
        let errors = schema_errors(&validator, &spec_as_json(&path));
        assert!(errors.is_empty(), "{} does not match the schema:\n{}", path.display(), errors.join("\n"));
    }
}

#[test]
fn schema_rejects_invalid_specs() {
    let validator = jsonschema::validator_for(&schema()).unwrap();
    // Fixtures with shape errors a schema can express.
    for file in [
        "unknown-field-typo.yaml",
        "string-for-number.yaml",
        "yes-for-boolean.yaml",
        "unknown-target.yaml",
        "missing-project.yaml",
        "top-level-list.yaml",
        "port-out-of-range.yaml",
        "memory-gb.yaml",
        "memory-lowercase-m.yaml",
        "cpu-unknown-unit.yaml",
        "percent-without-sign.yaml",
        "mixed-phase-map.yaml",
        "node-without-cpu.yaml",
        "many-shape-errors.yaml",
    ] {
        let instance = spec_as_json(&fixtures("invalid").join(file));
        assert!(!validator.is_valid(&instance), "the schema accepts tests/fixtures/invalid/{file}");
    }

    // One change at a time to a valid spec, so each rejection has one cause.
    let base = spec_as_json(&fixtures("valid").join("minimal.yaml"));
    assert!(validator.is_valid(&base));
    type Mutation = (&'static str, fn(&mut Value));
    let mutations: [Mutation; 8] = [
        ("an unknown top-level field", |s| s["servics"] = json!({})),
        ("an unknown service field", |s| s["services"]["web"]["imgae"] = json!("x")),
        ("a string for a number", |s| s["services"]["web"]["replicas"] = json!("two")),
        ("a number for a string", |s| s["services"]["web"]["image"] = json!(5)),
        ("a list for a map", |s| s["services"] = json!([])),
        ("an unknown keyword", |s| s["phases"]["1"]["target"] = json!("nomad")),
        ("a phase key that is not a number", |s| s["phases"]["one"] = s["phases"]["1"].clone()),
        ("a missing required field", |s| {
            s["services"]["web"].as_object_mut().unwrap().remove("image");
        }),
    ];
    for (what, mutate) in mutations {
        let mut instance = base.clone();
        mutate(&mut instance);
        assert!(!validator.is_valid(&instance), "the schema accepts {what}: {instance}");
    }
}

/// Every object of `value`, recursively.
fn objects<'v>(value: &'v Value, out: &mut Vec<&'v serde_json::Map<String, Value>>) {
    match value {
        Value::Object(map) => {
            out.push(map);
            map.values().for_each(|v| objects(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| objects(v, out)),
        _ => {}
    }
}

/// Every string of `value`, recursively (map values and list items, not keys).
fn strings<'v>(value: &'v Value, out: &mut BTreeSet<&'v str>) {
    match value {
        Value::String(s) => {
            out.insert(s);
        }
        Value::Object(map) => map.values().for_each(|v| strings(v, out)),
        Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
        _ => {}
    }
}

/// The values of a schema enumeration: `enum: [..]`, `oneOf`/`anyOf` of `const`s, or an `enum` branch.
fn enum_values(definition: &Value) -> Vec<String> {
    let mut values: Vec<String> =
        definition["enum"].as_array().into_iter().flatten().filter_map(|v| v.as_str().map(str::to_owned)).collect();
    for branch in ["oneOf", "anyOf"].iter().filter_map(|k| definition[*k].as_array()).flatten() {
        values.extend(branch["const"].as_str().map(str::to_owned));
        // An enumeration among other forms (`Metric`: built-in names, or a pattern).
        values.extend(branch["enum"].as_array().into_iter().flatten().filter_map(|v| v.as_str().map(str::to_owned)));
    }
    values
}

/// The schema and the decoder describe the same language: every property of
/// every object type of the schema, and every keyword of every enumeration,
/// is used by tests/fixtures/valid/every-field.yaml, which `topo check`
/// accepts (see `valid_fixtures_pass`) and which matches the schema (see
/// `valid_specs_match_the_schema`). A field added to one side only fails here
/// or there.
#[test]
fn schema_and_decoder_agree_on_every_field() {
    let schema = schema();
    let definitions = schema["$defs"].as_object().unwrap().clone();
    let kitchen_sink = spec_as_json(&fixtures("valid").join("every-field.yaml"));
    let mut all_objects = Vec::new();
    objects(&kitchen_sink, &mut all_objects);

    // Each object type of the schema, by name; the root is `Spec`.
    let mut types: BTreeMap<String, Value> = definitions
        .iter()
        .filter(|(_, d)| d["properties"].is_object())
        .map(|(name, _)| (name.clone(), json!({ "$ref": format!("#/$defs/{name}"), "$defs": definitions })))
        .collect();
    let mut root = schema.clone();
    root.as_object_mut().unwrap().remove("title");
    types.insert("Spec".into(), root);
    assert!(types.len() >= 15, "the schema has only {} object types", types.len());

    let mut missing = Vec::new();
    for (name, type_schema) in &types {
        let validator = jsonschema::validator_for(type_schema).unwrap();
        // Properties used by an object of the fixture that is a valid `name`.
        let used: BTreeSet<&str> = all_objects
            .iter()
            .filter(|object| validator.is_valid(&Value::Object((**object).clone())))
            .flat_map(|object| object.keys().map(String::as_str))
            .collect();
        let definition = if name == "Spec" { &schema } else { &definitions[name] };
        for property in definition["properties"].as_object().unwrap().keys() {
            if !used.contains(property.as_str()) {
                missing.push(format!("{name}.{property}"));
            }
        }
    }

    let mut values = BTreeSet::new();
    strings(&kitchen_sink, &mut values);
    for (name, definition) in &definitions {
        for value in enum_values(definition) {
            if !values.contains(value.as_str()) {
                missing.push(format!("{name} `{value}`"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "tests/fixtures/valid/every-field.yaml does not use these schema fields and keywords \
         (add them there; if topo then rejects the file, the decoder lacks them):\n{}",
        missing.join("\n")
    );
}

// ---------------------------------------------------------------------------
// Snapshots of the human output
// ---------------------------------------------------------------------------

/// The human output for an invalid fixture, with any absolute path scrubbed.
fn human_output(file: &str) -> String {
    let dir = fixtures("invalid");
    let run = Topo::check().spec_file(file).current_dir(&dir).run();
    run.assert_code(1);
    assert!(run.stdout.is_empty(), "{}", run.describe());
    run.stderr.replace(&format!("{}/", dir.display()), "[FIXTURES]/").replace(&root().display().to_string(), "[ROOT]")
}

#[test]
fn snapshot_shape_error_with_did_you_mean() {
    insta::assert_snapshot!(human_output("unknown-field-typo.yaml"));
}

#[test]
fn snapshot_reference_error() {
    insta::assert_snapshot!(human_output("unknown-dependency.yaml"));
}

#[test]
fn snapshot_syntax_error() {
    insta::assert_snapshot!(human_output("unterminated-quote.yaml"));
}

// ---------------------------------------------------------------------------
// Unreadable specs, and regressions outside the fixture walker
// ---------------------------------------------------------------------------

/// `--format json` is one JSON document on stdout even when the spec cannot be read.
#[test]
fn unreadable_spec_with_json_format_prints_json() {
    let run = Topo::check().spec_file("no/such/spec.yaml").json().run();
    run.assert_code(1);
    let report = run.json();
    let problems = report_shape_problems(&report, "no/such/spec.yaml");
    assert!(problems.is_empty(), "{}\n{}", problems.join("\n"), run.describe());
    assert_eq!((&report["valid"], &report["errors"]), (&json!(false), &json!(1)), "{}", run.describe());
    let diagnostic = &report["diagnostics"][0];
    assert_eq!(diagnostic["code"], "unreadable-spec");
    assert!(diagnostic["message"].as_str().unwrap().contains("no/such/spec.yaml"), "{}", run.describe());
}

/// Regression: a spec of a few hundred kilobytes must not take long. The
/// duplicate-key check used to compare each new key with every earlier key of
/// its mapping, and the human output rendered the whole source once per
/// diagnostic, so both grew with the square of the number of keys (in a debug
/// build 8000 `x-` keys took about 2.4 s, 8000 unknown fields about 39 s to
/// print). This test asserts no wall-clock time, which flaked on a loaded
/// two-core machine: it reads 20,000 keys and reports 4,000 unknown ones, and a
/// quadratic regression shows as a run that takes minutes.
#[test]
fn many_keys_are_read_and_reported() {
    let dir = scratch_dir("many-keys");
    let extensions: String = (0..20_000).map(|i| format!("x-key-{i}: {i}\n")).collect();
    fs_err::write(dir.join("extensions.yaml"), format!("{}{extensions}", MINIMAL_SPEC)).unwrap();
    let run = Topo::check().spec_file("extensions.yaml").current_dir(&dir).run();
    run.assert_code(0);

    let unknown: String = (0..4_000).map(|i| format!("key-{i}: {i}\n")).collect();
    fs_err::write(dir.join("unknown.yaml"), format!("{}{unknown}", MINIMAL_SPEC)).unwrap();
    let run = Topo::check().spec_file("unknown.yaml").current_dir(&dir).run();
    run.assert_code(1);
}

/// The smallest valid spec, for tests that add to it.
const MINIMAL_SPEC: &str = "project: shop\nphases:\n  1: { name: one, target: compose, nodes: { vps-1: { cpu: 1, memory: 1Gi } } }\nservices:\n  web: { image: \"nginx:1.27\" }\n";

/// Regression: YAML 1.2 reads `0x100000000` as the integer 4294967296, and the
/// schema accepts it as a memory size in bytes; the decoder used to parse the
/// text instead and report "unknown unit `x100000000`".
#[test]
fn hex_number_is_a_memory_quantity() {
    let dir = scratch_dir("hex-memory");
    let text = fs_err::read_to_string(fixtures("valid").join("minimal.yaml")).unwrap().replace("1Gi", "0x40000000");
    fs_err::write(dir.join("hex.yaml"), &text).unwrap();
    let validator = jsonschema::validator_for(&schema()).unwrap();
    assert!(validator.is_valid(&spec_as_json(&dir.join("hex.yaml"))), "the schema accepts it");
    Topo::check().spec_file("hex.yaml").current_dir(&dir).run().assert_code(0);
}

/// Deploy-time defects a spec can say: an unknown image's user on
/// Kubernetes (an error, with the line to add), pg_isready on the socket, and
/// a redis whose clients hold a password it never asks for.
#[test]
fn check_reports_what_would_not_work_at_deploy_time() {
    let dir = scratch_dir("deploy-time");
    let spec = "project: shop
phases:
  1: { name: one, target: compose, nodes: { vps-1: { role: manager, cpu: 4, memory: 8Gi } } }
  2: { name: two, target: k8s, nodes: { n-1: { role: manager, cpu: 4, memory: 8Gi } } }
secrets: [REDIS_PASSWORD]
services:
  api:
    image: registry.example.com/api:1.0
    secrets: [REDIS_PASSWORD]
    depends_on: [cache, db]
  db:
    image: postgres:17
    health: { exec: [pg_isready, -U, postgres] }
  cache:
    image: redis:8.2-alpine
    health: { exec: [redis-cli, ping] }
";
    fs_err::write(dir.join("topo.yaml"), spec).unwrap();
    let run = Topo::check().spec_file("topo.yaml").json().current_dir(&dir).run();
    run.assert_code(1);
    let found: Vec<(String, String, u64, u64)> =
        diagnostics(&run.json()).into_iter().map(|d| (d.severity, d.code, d.line, d.column)).collect();
    let want = [
        ("error", "image-user-unknown", 8, 12),
        ("warning", "pg-isready-without-host", 13, 21),
        ("warning", "redis-without-password", 14, 3),
    ];
    let want: Vec<(String, String, u64, u64)> =
        want.iter().map(|(s, c, l, col)| ((*s).to_owned(), (*c).to_owned(), *l, *col)).collect();
    assert_eq!(found, want, "{}", run.describe());
    let report = diagnostics(&run.json());
    let help = report[0].help.as_deref().unwrap_or_default();
    assert!(help.contains("`security: { run_as_user: 1000 }`"), "{help}");
    // The known images need no user: postgres and redis run as theirs.
    let fixed = spec.replace(
        "    image: registry.example.com/api:1.0\n",
        "    image: registry.example.com/api:1.0\n    security: { run_as_user: 1000 }\n",
    );
    fs_err::write(dir.join("topo.yaml"), fixed).unwrap();
    Topo::check().spec_file("topo.yaml").current_dir(&dir).run().assert_code(0);
}

#[test]
fn every_diagnostic_code_is_documented_in_the_readme() {
    let readme = fs_err::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let codes: Vec<topo::code::Code> = topo::code::Code::all().collect();
    assert!(codes.len() > 100, "only {} codes", codes.len());
    let undocumented: Vec<String> =
        codes.iter().filter(|code| !readme.contains(&format!("`{code}`"))).map(|code| format!("`{code}`")).collect();
    assert!(undocumented.is_empty(), "codes the README does not name: {}", undocumented.join(", "));
}

/// A large spec draws one warning for many services: `check` prints the first five of a code
/// with their snippets and sums up the rest, where `--format json` lists each one.
#[test]
fn many_warnings_of_one_code_are_summed_up_past_five() {
    let dir = scratch_dir("summarised");
    let mut spec = String::from(
        "project: many\nphases:\n  1:\n    name: k3s\n    target: k8s\n    nodes:\n      k-1: { role: manager, cpu: 8, memory: 16Gi }\nservices:\n",
    );
    for i in 0..9 {
        spec.push_str(&format!(
            "  web-{i}:\n    image: registry.example.com/web-{i}:1.0\n    port: 3000\n    health: {{ http: /health }}\n    resources: {{ requests: {{ cpu: 100m, memory: 64Mi }}, limits: {{ memory: 128Mi }} }}\n    security: {{ run_as_user: 10001 }}\n"
        ));
    }
    fs_err::write(dir.join("topo.yaml"), &spec).unwrap();
    let human = Topo::check().spec_file("topo.yaml").current_dir(&dir).run();
    human.assert_code(0);
    let json = Topo::check().spec_file("topo.yaml").current_dir(&dir).json().run();
    let listed: Vec<Diag> =
        diagnostics(&json.assert_code(0).json()).into_iter().filter(|d| d.code == "unreachable-service").collect();
    assert_eq!(listed.len(), 9, "{}", json.describe());
    let full = human.stderr.matches("warning[unreachable-service]: nothing may reach").count();
    assert_eq!(full, 5, "{}", human.describe());
    assert!(human.stderr.contains("--> topo.yaml:"), "{}", human.describe());
    assert!(
        human.stderr.contains("warning[unreachable-service]: 4 more like the 5 above")
            && human.stderr.contains("at `services.web-5`, `services.web-6`, `services.web-7` and 1 more"),
        "{}",
        human.describe()
    );
    assert!(human.stderr.contains("9 warnings"), "the count is of all of them\n{}", human.describe());
}
