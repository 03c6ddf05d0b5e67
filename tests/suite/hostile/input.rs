//! Reading: the size limit while reading, what aliases expand to, tags and
//! merge keys in imported files, closed pipes. (Spec-only rejections of tags,
//! merge keys and `.nan` are fixtures in `tests/fixtures/invalid/`.)

use std::io::Write;
use std::process::{Command, Stdio};

use crate::hostile::{TOPO, Topo, fixture};

/// A file of `len` bytes that takes no disk: a hole.
fn sparse_file(dir: &std::path::Path, name: &str, len: u64) -> std::path::PathBuf {
    let path = dir.join(name);
    fs_err::File::create(&path).unwrap().set_len(len).unwrap();
    path
}

#[test]
fn a_file_larger_than_the_limit_is_refused_without_reading_it_whole() {
    let dir = tempfile::tempdir().unwrap();
    // 1 GiB: read whole, it alone would break the 200 MiB cap.
    let huge = sparse_file(dir.path(), "huge.yaml", 1 << 30);
    let out = dir.path().join("out").display().to_string();
    for args in [
        vec!["check", "--spec"],
        vec!["plan", "--spec"],
        vec!["render", "--all", "--out", &out, "--spec"],
        vec!["import"],
    ] {
        Topo::new(args).run_with_path(&huge).code(1).says("file-too-large").says(":1:1");
    }
}

#[test]
fn endless_devices_are_refused_not_read_forever() {
    for device in ["/dev/zero", "/dev/urandom"] {
        // The spec is refused for its size; import may first meet a byte that is not UTF-8,
        // which on /dev/urandom lies anywhere in the first few bytes.
        Topo::new(["check", "--spec", device]).run().code(1).says("file-too-large").says(&format!("{device}:1:1"));
        let import = Topo::new(["import", device]).run();
        import.code(1);
        let located = format!("{device}:");
        let at = import.stderr.find(&located).map(|i| &import.stderr[i + located.len()..]);
        assert!(
            at.is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit())),
            "no position\n{}",
            import.describe()
        );
        assert!(
            import.stderr.contains("not-utf8") || import.stderr.contains("file-too-large"),
            "{}",
            import.describe()
        );
    }
}

#[test]
fn a_huge_stdin_is_refused_after_the_limit() {
    // 64 MiB on stdin: topo stops reading after 4 MiB and says so.
    let run = Topo::new(["import", "-"]).stdin(vec![b'#'; 64 << 20]).run();
    run.code(1).says("file-too-large").says("<stdin>:1:1");
}

/// One 1 MiB string and `copies` aliases of it.
fn aliased_string(copies: usize) -> String {
    let mut text = format!("x-big: &big \"{}\"\nservices:\n", "a".repeat(1 << 20));
    for i in 0..copies {
        text.push_str(&format!("  s{i}: {{ image: nginx:1.27, command: [*big] }}\n"));
    }
    text
}

#[test]
fn a_large_string_aliased_many_times_is_refused_at_the_alias() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("aliased.yaml");
    fs_err::write(&path, aliased_string(200)).unwrap();
    let out = dir.path().join("out").display().to_string();
    for args in [vec!["check", "--spec"], vec!["render", "--all", "--out", &out, "--spec"], vec!["import"]] {
        let run = Topo::new(args).run_with_path(&path);
        // A 16 MiB budget; the text holds 1 MiB and the anchor's copy 1 MiB more:
        // the 15th alias (`s13`, line 16) is the first over.
        run.code(1).says("too-many-bytes").says("aliased.yaml:16:39");
    }
}

#[test]
fn nested_anchors_count_their_copies() {
    // Each level anchors a mapping that holds the level below: without counting the
    // anchors' copies, 40 levels hold 40 copies of the 2 MiB string.
    let mut text = String::from("x:\n");
    for level in 0..40 {
        text.push_str(&format!("{}l{level}: &l{level}\n", "  ".repeat(level + 1)));
    }
    text.push_str(&format!("{}big: \"{}\"\n", "  ".repeat(41), "b".repeat(2 << 20)));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested.yaml");
    fs_err::write(&path, text).unwrap();
    Topo::new(["check", "--spec"]).run_with_path(&path).code(1).says("too-many-bytes");
}

#[test]
fn tags_and_merge_keys_in_an_imported_compose_file_are_errors_at_their_place() {
    for (name, at, code) in [
        ("tag-python.yml", "tag-python.yml:4:14", "yaml-tag"),
        ("tag-on-sequence.yml", "tag-on-sequence.yml:4:14", "yaml-tag"),
        ("merge-twice.yml", "merge-twice.yml:8:5", "duplicate-merge-key"),
    ] {
        let path = fixture("input").join(name);
        Topo::new(["import"]).run_with_path(&path).code(1).says(at).says(code);
    }
}

/// Runs `topo ARGS` with stdout (or stderr) a pipe whose reader is already gone.
fn with_closed(stream: &str, args: &[&str]) -> std::process::Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut command = Command::new(TOPO);
    command.args(args).current_dir(crate::support::root()).env("NO_COLOR", "1").stdin(Stdio::null());
    if stream == "stdout" {
        command.stdout(writer).stderr(Stdio::piped());
    } else {
        command.stderr(writer).stdout(Stdio::piped());
    }
    command.output().unwrap()
}

#[test]
fn a_closed_stdout_ends_quietly_with_the_sigpipe_status() {
    for args in [
        &["completions", "bash"][..],
        &["man"],
        &["schema"],
        &["render", "--spec", "specs/finanzas.yaml", "--phase", "1"],
        &["plan", "--spec", "specs/finanzas.yaml"],
        &["check", "--spec", "specs/finanzas.yaml", "--format", "json"],
        &["import", "tests/fixtures/compose/minimal.yml"],
    ] {
        let output = with_closed("stdout", args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains("panicked"), "topo {} panicked: {stderr}", args.join(" "));
        assert_eq!(output.status.code(), Some(141), "topo {}: {stderr}", args.join(" "));
        // Quietly: the only stderr allowed is the command's own notes, never an error about the pipe.
        assert!(!stderr.contains("Broken pipe") && !stderr.contains("error:"), "topo {}: {stderr}", args.join(" "));
    }
}

#[test]
fn a_closed_stderr_ends_quietly_with_the_sigpipe_status() {
    for args in [&["check", "--spec", "specs/finanzas.yaml"][..], &["check", "--spec", "no-such-file.yaml"]] {
        let output = with_closed("stderr", args);
        assert_eq!(output.status.code(), Some(141), "topo {}", args.join(" "));
    }
}

#[test]
fn a_reader_that_stops_after_one_byte_is_not_a_panic() {
    // `topo … | head -c1`: the write that fails may be the first or a later one.
    let mut child = Command::new(TOPO)
        .args(["plan", "--spec", "specs/finanzas.yaml", "--format", "json"])
        .current_dir(crate::support::root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut byte = [0u8; 1];
    std::io::Read::read_exact(&mut stdout, &mut byte).unwrap();
    drop(stdout);
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(matches!(output.status.code(), Some(0 | 141)), "{:?}: {stderr}", output.status);
    let _ = std::io::stderr().flush();
}
