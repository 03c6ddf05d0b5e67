//! The output directory (issue 13, item 4, and the bounds of `render --all
//! --check`): topo never deletes or replaces what it did not write, a write
//! that meets an obstacle writes nothing and names the path, temporaries of a
//! killed run are cleaned up (and nothing else), modes follow the umask, and
//! `--check` stays bounded whatever the tree holds.

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::{CPU_CAP_SECONDS, MEMORY_CAP, Run, TOPO, Topo, fixture, root};

/// A scratch directory holding the finanzas spec as `topo.yaml` (3 phases;
/// phase 3 renders 30 Kubernetes files) and the minimal one as `small.yaml`.
/// Traversable by every user, so that a run as `nobody` can read the specs.
fn workspace() -> tempfile::TempDir {
    let ws = tempfile::Builder::new().prefix("topo-hostile-out-").tempdir().unwrap();
    fs_err::set_permissions(ws.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    fs_err::copy(root().join("specs/finanzas.yaml"), ws.path().join("topo.yaml")).unwrap();
    fs_err::copy(root().join("examples/minimal.yaml"), ws.path().join("small.yaml")).unwrap();
    ws
}

/// What is at each path under `dir`: kind, mode and contents (a link's target);
/// links are not followed.
#[derive(Debug, PartialEq, Eq)]
enum Entry {
    File(u32, Vec<u8>),
    Dir(u32),
    Link(PathBuf),
    Other,
}

fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Entry> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(next) = todo.pop() {
        for entry in fs_err::read_dir(&next).unwrap() {
            let path = entry.unwrap().path();
            let meta = fs_err::symlink_metadata(&path).unwrap();
            let relative = path.strip_prefix(dir).unwrap().to_path_buf();
            let mode = meta.permissions().mode() & 0o7777;
            let kind = meta.file_type();
            let entry = if kind.is_symlink() {
                Entry::Link(fs_err::read_link(&path).unwrap())
            } else if kind.is_dir() {
                todo.push(path.clone());
                Entry::Dir(mode)
            } else if kind.is_file() {
                Entry::File(mode, fs_err::read(&path).unwrap())
            } else {
                Entry::Other
            };
            out.insert(relative, entry);
        }
    }
    out
}

/// Runs `topo args` under the caps, behind `wrapper` (a shell that sets the
/// umask, `setpriv` to drop root), with `env` set.
fn wrapped(wrapper: &[&str], args: &[&str], dir: &Path, env: &[(&str, &Path)]) -> Run {
    let mut command = Command::new("prlimit");
    command
        .arg(format!("--as={MEMORY_CAP}"))
        .arg(format!("--cpu={CPU_CAP_SECONDS}"))
        .arg("--")
        .args(wrapper)
        .arg(TOPO)
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::null());
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output().unwrap();
    Run {
        command: format!("{} topo {} (in {})", wrapper.join(" "), args.join(" "), dir.display()),
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn topo(args: &[&str], dir: &Path) -> Run {
    Topo::new(args.iter().copied()).dir(dir).run()
}

fn is_root() -> bool {
    fs_err::metadata("/proc/self").unwrap().uid() == 0
}

/// Render `--all` once into `dir/out`.
fn rendered(dir: &Path) -> PathBuf {
    topo(&["render", "--all", "--out", "out"], dir).code(0).says("wrote 38 files into out");
    dir.join("out")
}

#[test]
fn render_all_refuses_a_regular_file_and_keeps_it() {
    let ws = workspace();
    let dir = ws.path();
    fs_err::write(dir.join("notes.txt"), "mine\n").unwrap();
    topo(&["render", "--all", "--out", "notes.txt"], dir)
        .code(1)
        .says("error[out-not-a-directory]: cannot write into `notes.txt`: it is a file, not a directory")
        .says("nothing written; notes.txt is unchanged");
    assert_eq!(fs_err::read_to_string(dir.join("notes.txt")).unwrap(), "mine\n");
    // --check on a file is the same refusal, and so is --force.
    topo(&["render", "--all", "--out", "notes.txt", "--check"], dir).code(1).says("out-not-a-directory");
    topo(&["render", "--all", "--out", "notes.txt", "--force"], dir).code(1).says("out-not-a-directory");
    assert_eq!(fs_err::read_to_string(dir.join("notes.txt")).unwrap(), "mine\n");
}

#[test]
fn render_all_refuses_the_spec_itself_however_it_is_spelled() {
    let ws = workspace();
    let dir = ws.path();
    fs_err::create_dir(dir.join("sub")).unwrap();
    std::os::unix::fs::symlink("topo.yaml", dir.join("link.yaml")).unwrap();
    let before = snapshot(dir);
    let absolute = dir.join("topo.yaml");
    for out in ["topo.yaml", "./topo.yaml", "sub/../topo.yaml", absolute.to_str().unwrap(), "link.yaml"] {
        for force in [false, true] {
            let mut args = vec!["render", "--all", "--out", out];
            args.extend(force.then_some("--force"));
            topo(&args, dir).code(1).says("error[out-is-input]").says(&format!("`{out}`")).says("the spec itself");
        }
    }
    assert_eq!(snapshot(dir), before);
}

#[test]
fn render_all_refuses_a_directory_that_holds_the_spec() {
    let ws = workspace();
    let dir = ws.path();
    fs_err::create_dir_all(dir.join("project/specs")).unwrap();
    fs_err::copy(dir.join("topo.yaml"), dir.join("project/specs/topo.yaml")).unwrap();
    std::os::unix::fs::symlink("project", dir.join("alias")).unwrap();
    let before = snapshot(dir);
    let spec = "project/specs/topo.yaml";
    for out in ["project/specs", "project", "./project/specs/", "project/specs/..", "alias", "alias/specs"] {
        for force in [false, true] {
            let mut args = vec!["render", "--all", "--spec", spec, "--out", out];
            args.extend(force.then_some("--force"));
            topo(&args, dir).code(1).says("error[out-is-input]").says(&format!("`{out}`")).says("it holds the spec");
        }
    }
    assert_eq!(snapshot(dir), before);

    // A tree of topo's that holds a link to the spec, read through the link: the link stays.
    let out = rendered(dir);
    std::os::unix::fs::symlink("../topo.yaml", out.join("spec.yaml")).unwrap();
    topo(&["render", "--all", "--spec", "out/spec.yaml", "--out", "out"], dir).code(1).says("out-is-input");
    assert!(fs_err::symlink_metadata(out.join("spec.yaml")).unwrap().file_type().is_symlink());
}

#[test]
fn render_all_refuses_the_current_and_home_directories_the_root_and_a_repository() {
    let ws = workspace();
    let dir = ws.path();
    fs_err::create_dir_all(dir.join("work/repo/.git")).unwrap();
    fs_err::write(dir.join("work/repo/README"), "mine\n").unwrap();
    fs_err::create_dir_all(dir.join("home/me")).unwrap();
    fs_err::write(dir.join("home/me/.profile"), "mine\n").unwrap();
    let before = snapshot(dir);
    let spec = dir.join("topo.yaml");
    let spec = spec.to_str().unwrap();
    let home = dir.join("home/me");
    let cases: [(&str, &str, &str); 6] = [
        ("work", ".", "it is the current directory"),
        ("work/repo", "..", "it holds the current directory"),
        ("work", "repo", "it is a git repository (it holds `.git`)"),
        ("work", "/", "it is the root directory"),
        ("work", "../home/me", "it is the home directory"),
        ("work", "../home", "it holds the home directory"),
    ];
    for (cwd, out, why) in cases {
        for force in [false, true] {
            let mut args = vec!["render", "--all", "--spec", spec, "--out", out];
            args.extend(force.then_some("--force"));
            wrapped(&[], &args, &dir.join(cwd), &[("HOME", &home)]).code(1).says("error[out-protected]").says(why);
        }
    }
    assert_eq!(snapshot(dir), before);
}

#[test]
fn render_all_asks_for_force_in_a_directory_topo_did_not_write() {
    let ws = workspace();
    let dir = ws.path();
    fs_err::create_dir_all(dir.join("out/docs")).unwrap();
    fs_err::write(dir.join("out/docs/plan.md"), "mine\n").unwrap();
    let before = snapshot(dir);
    topo(&["render", "--all", "--out", "out"], dir)
        .code(1)
        .says("error[out-not-owned]: refusing to replace `out`: topo did not write it")
        .says("docs/plan.md")
        .says("pass --force");
    assert_eq!(snapshot(dir), before);

    // --force replaces it, and then it is topo's: no --force needed again.
    topo(&["render", "--all", "--out", "out", "--force"], dir).code(0);
    assert!(!dir.join("out/docs").exists());
    assert!(fs_err::read_to_string(dir.join("out/.topo")).unwrap().starts_with("# topo output directory"));
    topo(&["render", "--all", "--out", "out"], dir).code(0);
    topo(&["render", "--all", "--out", "out", "--check"], dir).code(0).says("ok: out matches topo.yaml (38 files)");

    // An empty directory is fine, and so is a `.topo` of topo's.
    fs_err::create_dir(dir.join("empty")).unwrap();
    topo(&["render", "--all", "--out", "empty"], dir).code(0);

    // A `.topo` that is not topo's marker does not make a directory topo's.
    fs_err::create_dir(dir.join("fake")).unwrap();
    fs_err::write(dir.join("fake/.topo"), "topology notes\n").unwrap();
    topo(&["render", "--all", "--out", "fake"], dir).code(1).says("out-not-owned");
    assert_eq!(fs_err::read_to_string(dir.join("fake/.topo")).unwrap(), "topology notes\n");
}

#[test]
fn a_tree_of_an_earlier_topo_is_replaced_without_force() {
    // Rendered before markers existed: its README says so.
    let ws = workspace();
    let dir = ws.path();
    let out = rendered(dir);
    fs_err::remove_file(out.join(".topo")).unwrap();
    topo(&["render", "--all", "--out", "out"], dir).code(0);
    assert!(out.join(".topo").is_file());
    // A README that only looks like it is not enough.
    fs_err::create_dir(dir.join("mine")).unwrap();
    fs_err::write(dir.join("mine/README.md"), "# mine — rendered by topo\n\nnot really\n").unwrap();
    topo(&["render", "--all", "--out", "mine"], dir).code(1).says("out-not-owned");
}

#[test]
fn a_single_phase_render_replaces_only_its_own_files() {
    let ws = workspace();
    let dir = ws.path();
    fs_err::create_dir(dir.join("deploy")).unwrap();
    fs_err::write(dir.join("deploy/.env"), "KEEP=1\n").unwrap();
    fs_err::write(dir.join("deploy/kustomization.yaml"), "mine\n").unwrap();
    let before = snapshot(dir);
    topo(&["render", "--phase", "3", "--out", "deploy"], dir)
        .code(1)
        .says("error[out-not-owned]: refusing to replace files topo did not write in `deploy`: `kustomization.yaml`")
        .says("pass --force")
        .says("nothing written into deploy");
    assert_eq!(snapshot(dir), before);

    topo(&["render", "--phase", "3", "--out", "deploy", "--force"], dir).code(0).says("wrote 30 files into deploy");
    assert_eq!(fs_err::read_to_string(dir.join("deploy/.env")).unwrap(), "KEEP=1\n");
    assert_ne!(fs_err::read_to_string(dir.join("deploy/kustomization.yaml")).unwrap(), "mine\n");
    // Its own files are topo's now, and the next phase adds its file beside them.
    topo(&["render", "--phase", "3", "--out", "deploy"], dir).code(0);
    topo(&["render", "--phase", "1", "--out", "deploy"], dir).code(0);
    topo(&["render", "--phase", "2", "--out", "deploy"], dir).code(0);
    let marker = fs_err::read_to_string(dir.join("deploy/.topo")).unwrap();
    for file in ["docker-compose.yml", "stack.yml", "kustomization.yaml", "backend-hpa.yaml"] {
        assert!(marker.lines().any(|l| l == file), "{file} is not in the marker:\n{marker}");
    }
    assert!(!marker.contains(".env"), "{marker}");
    assert_eq!(fs_err::read_to_string(dir.join("deploy/.env")).unwrap(), "KEEP=1\n");

    // A tree of `render --all` is topo's as a whole, a stray file in it too.
    let out = rendered(dir);
    fs_err::write(out.join("kustomization.yaml"), "stray\n").unwrap();
    topo(&["render", "--phase", "3", "--out", "out"], dir).code(0);
    assert_ne!(fs_err::read_to_string(out.join("kustomization.yaml")).unwrap(), "stray\n");
}

/// The adversarial run's case: the sixteenth of twenty files meets a
/// directory; today nothing of the twenty is written, and the path is named.
#[test]
fn a_single_phase_render_that_meets_an_obstacle_writes_nothing() {
    let ws = workspace();
    let dir = ws.path();
    topo(&["render", "--phase", "3", "--out", "k3s"], dir).code(0);
    let mut files: Vec<String> = fs_err::read_dir(dir.join("k3s"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != ".topo")
        .collect();
    files.sort();
    assert_eq!(files.len(), 30);
    // The spec changes, so a partial write would show.
    let spec = fs_err::read_to_string(dir.join("topo.yaml")).unwrap();
    fs_err::write(dir.join("topo.yaml"), spec.replace("registry.tudominio.cloud", "registry.example.org")).unwrap();

    let sixteenth = dir.join("k3s").join(&files[15]);
    fs_err::remove_file(&sixteenth).unwrap();
    fs_err::create_dir(&sixteenth).unwrap();
    fs_err::write(sixteenth.join("inside"), "mine\n").unwrap();
    let before = snapshot(dir);
    topo(&["render", "--phase", "3", "--out", "k3s"], dir)
        .code(1)
        .says("error[out-obstacle]")
        .says(&format!("`{}` is a directory, where topo writes a file", sixteenth.display()))
        .says("nothing written into k3s");
    // --force does not remove a directory either.
    topo(&["render", "--phase", "3", "--out", "k3s", "--force"], dir).code(1).says("out-obstacle");
    assert_eq!(snapshot(dir), before);

    // A FIFO where a file goes (never opened), in JSON too.
    fs_err::remove_dir_all(&sixteenth).unwrap();
    assert!(Command::new("mkfifo").arg(&sixteenth).status().unwrap().success());
    let before = snapshot(dir);
    let run = topo(&["render", "--phase", "3", "--out", "k3s", "--format", "json"], dir);
    run.code(1).says("\"code\": \"out-obstacle\"").says("is a FIFO, where topo writes a file");
    assert_eq!(snapshot(dir), before);
}

#[test]
fn an_out_path_through_a_file_writes_nothing_and_names_it() {
    let ws = workspace();
    let dir = ws.path();
    fs_err::write(dir.join("plain"), "mine\n").unwrap();
    let before = snapshot(dir);
    for args in [
        vec!["render", "--phase", "1", "--out", "plain/deploy"],
        vec!["render", "--phase", "1", "--out", "plain/a/b"],
        vec!["render", "--all", "--out", "plain/deploy"],
        vec!["plan", "--out", "plain/plan.md"],
    ] {
        topo(&args, dir)
            .code(1)
            .says("out-not-a-directory")
            .says(&format!("`{}` is a file", dir.join("plain").display()));
    }
    topo(&["render", "--phase", "1", "--out", "plain"], dir).code(1).says("out-not-a-directory");
    assert_eq!(snapshot(dir), before);

    // A link to nothing, and a loop of links.
    std::os::unix::fs::symlink("nowhere", dir.join("dangling")).unwrap();
    std::os::unix::fs::symlink("loop", dir.join("loop")).unwrap();
    let before = snapshot(dir);
    for out in ["dangling", "loop", "loop/deploy"] {
        for all in [false, true] {
            let args =
                if all { vec!["render", "--all", "--out", out] } else { vec!["render", "--phase", "1", "--out", out] };
            topo(&args, dir).code(1).says("out-not-a-directory").says("is a symbolic link to");
        }
    }
    assert_eq!(snapshot(dir), before);
}

#[test]
fn a_read_only_directory_is_refused_before_anything_is_written() {
    let ws = workspace();
    let dir = ws.path();
    fs_err::create_dir_all(dir.join("locked/out")).unwrap();
    fs_err::create_dir(dir.join("sealed")).unwrap();
    for folder in ["locked/out", "locked", "sealed"] {
        fs_err::set_permissions(dir.join(folder), std::fs::Permissions::from_mode(0o555)).unwrap();
    }
    let before = snapshot(dir);
    // Root may write anywhere: run as nobody then.
    let user: &[&str] = if is_root() { &["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] } else { &[] };
    for (args, path) in [
        (vec!["render", "--phase", "3", "--out", "sealed"], "sealed"),
        (vec!["render", "--phase", "3", "--out", "sealed/deeper/still"], "sealed"),
        (vec!["render", "--all", "--out", "locked/new"], "locked"),
        (vec!["render", "--all", "--out", "sealed"], "."),
        (vec!["plan", "--out", "sealed/plan.md"], "sealed"),
    ] {
        let shown = dir.join(path);
        let shown = fs_err::canonicalize(shown).unwrap();
        let run = wrapped(user, &args, dir, &[]);
        run.code(1).says("out-unwritable").says(&format!("cannot write into `{}`", shown.display()));
    }
    assert_eq!(snapshot(dir), before);
    for folder in ["locked/out", "locked", "sealed"] {
        fs_err::set_permissions(dir.join(folder), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

#[test]
fn temporaries_of_a_killed_run_are_cleaned_up_and_nothing_else() {
    let ws = workspace();
    let dir = ws.path();
    rendered(dir);
    fs_err::create_dir(dir.join("victim")).unwrap();
    fs_err::write(dir.join("victim/keep"), "mine\n").unwrap();
    // What a run killed mid-way leaves, as this version and the previous one name them.
    for stale in [".out.topo-new-a1B2c3/k8s/base", ".out.topo-old-Zz9Yy8/out/2-swarm", "out/.topo-new-Q7w8E9/x"] {
        fs_err::create_dir_all(dir.join(stale)).unwrap();
        fs_err::write(dir.join(stale).join("half.yml"), "half\n").unwrap();
    }
    fs_err::write(dir.join(".plan.md.topo-new-r4T5y6"), "half\n").unwrap();
    // Names that are not exactly topo's, and a link named like one: left alone.
    let decoys = [
        ".out.topo-new-keep",
        ".out.topo-new-a1B2c3d",
        ".out.topo-newer",
        ".other.topo-new-a1B2c3",
        "out.topo-new-a1B2c3",
    ];
    for decoy in decoys {
        fs_err::create_dir(dir.join(decoy)).unwrap();
        fs_err::write(dir.join(decoy).join("keep"), "mine\n").unwrap();
    }
    std::os::unix::fs::symlink("victim", dir.join(".out.topo-new-L1n2k3")).unwrap();

    topo(&["render", "--all", "--out", "out"], dir).code(0);
    topo(&["render", "--phase", "3", "--out", "out"], dir).code(0);
    topo(&["plan", "--out", "plan.md"], dir).code(0);
    assert!(!dir.join(".out.topo-new-a1B2c3").exists());
    assert!(!dir.join(".out.topo-old-Zz9Yy8").exists());
    assert!(!dir.join("out/.topo-new-Q7w8E9").exists());
    assert!(!dir.join(".plan.md.topo-new-r4T5y6").exists());
    for decoy in decoys {
        assert_eq!(fs_err::read_to_string(dir.join(decoy).join("keep")).unwrap(), "mine\n", "{decoy}");
    }
    assert!(fs_err::symlink_metadata(dir.join(".out.topo-new-L1n2k3")).unwrap().file_type().is_symlink());
    assert_eq!(fs_err::read_to_string(dir.join("victim/keep")).unwrap(), "mine\n");
    // And a successful run leaves none of its own.
    let names: Vec<String> = fs_err::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".topo-") && !decoys.contains(&n.as_str()) && n != ".out.topo-new-L1n2k3")
        .collect();
    assert!(names.is_empty(), "{names:?}");
}

#[test]
fn a_symlink_inside_out_is_replaced_not_followed() {
    let ws = workspace();
    let dir = ws.path();
    let out = rendered(dir);
    fs_err::create_dir(dir.join("elsewhere")).unwrap();
    fs_err::write(dir.join("elsewhere/victim.yml"), "mine\n").unwrap();
    fs_err::write(dir.join("elsewhere/keep"), "mine\n").unwrap();
    let elsewhere = snapshot(&dir.join("elsewhere"));
    // A link where a file goes, and a link where a directory goes.
    fs_err::remove_file(out.join("2-swarm/stack.yml")).unwrap();
    std::os::unix::fs::symlink(dir.join("elsewhere/victim.yml"), out.join("2-swarm/stack.yml")).unwrap();
    fs_err::remove_dir_all(out.join("k8s/base")).unwrap();
    std::os::unix::fs::symlink(dir.join("elsewhere"), out.join("k8s/base")).unwrap();
    topo(&["render", "--all", "--out", "out"], dir).code(0);
    assert_eq!(snapshot(&dir.join("elsewhere")), elsewhere);
    assert!(fs_err::symlink_metadata(out.join("2-swarm/stack.yml")).unwrap().is_file());
    assert!(fs_err::symlink_metadata(out.join("k8s/base")).unwrap().is_dir());
    topo(&["render", "--all", "--out", "out", "--check"], dir).code(0);

    // A single-phase render replaces a link at one of its files.
    topo(&["render", "--phase", "2", "--out", "swarm"], dir).code(0);
    fs_err::remove_file(dir.join("swarm/stack.yml")).unwrap();
    std::os::unix::fs::symlink(dir.join("elsewhere/victim.yml"), dir.join("swarm/stack.yml")).unwrap();
    topo(&["render", "--phase", "2", "--out", "swarm"], dir).code(0);
    assert!(fs_err::symlink_metadata(dir.join("swarm/stack.yml")).unwrap().is_file());
    assert_eq!(snapshot(&dir.join("elsewhere")), elsewhere);
}

#[test]
fn nothing_is_written_outside_out() {
    let ws = workspace();
    let dir = ws.path();
    fs_err::create_dir_all(dir.join("a/b")).unwrap();
    let before = snapshot(dir);
    let runs: [&[&str]; 4] = [
        &["render", "--all", "--spec", "../../topo.yaml", "--out", "deploy"],
        &["render", "--all", "--spec", "../../topo.yaml", "--out", "deploy"],
        &["render", "--phase", "3", "--spec", "../../topo.yaml", "--out", "k3s"],
        &["plan", "--spec", "../../topo.yaml", "--out", "plan.md"],
    ];
    for args in runs {
        topo(args, &dir.join("a/b")).code(0);
    }
    let after = snapshot(dir);
    let outside: Vec<&PathBuf> = after
        .keys()
        .filter(|p| !p.starts_with("a/b/deploy") && !p.starts_with("a/b/k3s") && *p != Path::new("a/b/plan.md"))
        .filter(|p| before.get(*p) != after.get(*p))
        .collect();
    assert!(outside.is_empty(), "written outside --out: {outside:?}");
    assert!(after.contains_key(Path::new("a/b/deploy/.topo")) && after.contains_key(Path::new("a/b/k3s/.topo")));
}

/// Every command writes files 0666 and directories 0777, less the umask.
#[test]
fn modes_follow_the_umask_whichever_command_writes() {
    for (umask, file, folder) in [("022", 0o644, 0o755), ("077", 0o600, 0o700)] {
        let ws = workspace();
        let dir = ws.path();
        let shell = format!("umask {umask}; exec \"$0\" \"$@\"");
        let wrapper = ["sh", "-c", shell.as_str()];
        let compose = fixture("output/docker-compose.yml");
        let compose = compose.to_str().unwrap();
        for args in [
            vec!["render", "--all", "--out", "tree"],
            vec!["render", "--phase", "3", "--out", "phase/k3s"],
            vec!["plan", "--out", "plans/plan.md"],
            vec!["import", compose, "--out", "imported/topo.yaml"],
        ] {
            wrapped(&wrapper, &args, dir, &[]).code(0);
        }
        let written = snapshot(dir);
        let mut checked = 0;
        for (path, entry) in &written {
            if path.starts_with("topo.yaml") || path.starts_with("small.yaml") {
                continue;
            }
            match entry {
                Entry::File(mode, _) => assert_eq!(*mode, file, "umask {umask}: {} is {mode:o}", path.display()),
                Entry::Dir(mode) => assert_eq!(*mode, folder, "umask {umask}: {} is {mode:o}", path.display()),
                other => panic!("{}: {other:?}", path.display()),
            }
            checked += 1;
        }
        // 38 + 31 files and 8 + 2 directories, the plan, the spec and their directories.
        assert_eq!(checked, 38 + 8 + 31 + 2 + 2 + 2, "umask {umask}");
    }
}

#[test]
fn plan_and_import_refuse_to_overwrite_their_input() {
    let ws = workspace();
    let dir = ws.path();
    fs_err::copy(fixture("output/docker-compose.yml"), dir.join("docker-compose.yml")).unwrap();
    fs_err::create_dir(dir.join("folder")).unwrap();
    let before = snapshot(dir);
    topo(&["plan", "--out", "topo.yaml"], dir).code(1).says("error[out-is-input]: refusing to write `topo.yaml`");
    topo(&["plan", "--out", "./folder/../topo.yaml"], dir).code(1).says("out-is-input");
    topo(&["plan", "--out", "folder"], dir)
        .code(1)
        .says("error[out-obstacle]: cannot write `folder`: it is a directory");
    topo(&["import", "docker-compose.yml", "--out", "docker-compose.yml"], dir)
        .code(1)
        .says("error[out-is-input]")
        .says("nothing written to docker-compose.yml");
    topo(&["import", "docker-compose.yml", "--out", "folder", "--format", "json"], dir)
        .code(1)
        .says("\"code\": \"out-obstacle\"");
    assert_eq!(snapshot(dir), before);
}

#[test]
fn concurrent_renders_leave_one_complete_tree() {
    let ws = workspace();
    let dir = ws.path().to_path_buf();
    let runs: Vec<_> = (0..6)
        .map(|_| {
            let dir = dir.clone();
            std::thread::spawn(move || topo(&["render", "--all", "--out", "out"], &dir))
        })
        .collect();
    for run in runs {
        run.join().unwrap().code(0);
    }
    topo(&["render", "--all", "--out", "out", "--check"], &dir).code(0).says("(38 files)");
    let leftovers: Vec<String> = fs_err::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("topo-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // Byte-identical to a render of its own.
    topo(&["render", "--all", "--out", "alone"], &dir).code(0);
    assert_eq!(snapshot(&dir.join("out")), snapshot(&dir.join("alone")));
}

#[test]
fn check_reports_a_huge_tampered_file_by_its_size() {
    let ws = workspace();
    let dir = ws.path();
    let out = rendered(dir);
    // 300 MB, sparse: reading it whole would pass the 200 MiB cap.
    let huge = 300_000_000;
    fs_err::File::create(out.join("2-swarm/stack.yml")).unwrap().set_len(huge).unwrap();
    fs_err::File::create(out.join("k8s/huge-extra.bin")).unwrap().set_len(huge).unwrap();
    let run = topo(&["render", "--all", "--out", "out", "--check"], dir);
    run.code(1)
        .says("changed: 2-swarm/stack.yml (300000000 bytes on disk,")
        .says("too large to diff")
        .says("not rendered by topo: k8s/huge-extra.bin")
        .says("(1 changed, 0 missing, 1 extra)");
    assert!(run.stdout.is_empty(), "no diff of a file too large to diff");
}

#[test]
fn check_cuts_a_long_diff_and_says_how_much_it_left_out() {
    let ws = workspace();
    let dir = ws.path();
    let out = rendered(dir);
    let lines: String = (0..80_000).map(|i| format!("line {i}\n")).collect();
    fs_err::write(out.join("2-swarm/stack.yml"), &lines).unwrap();
    fs_err::write(out.join("1-dokploy/docker-compose.yml"), &lines).unwrap();
    let run = topo(&["render", "--all", "--out", "out", "--check"], dir);
    run.code(1).says("changed: 1-dokploy/docker-compose.yml (its diff is cut short:").says("more lines left out)");
    assert!(run.stdout.lines().count() <= 400, "{} lines of diff", run.stdout.lines().count());
    assert!(run.stdout.starts_with("--- a/1-dokploy/docker-compose.yml"), "{}", super::shorten(&run.stdout));
    assert!(run.stdout.contains("--- a/2-swarm/stack.yml"));
}

/// A FIFO is never opened (reading one blocks forever), links are never
/// followed (a loop, /dev/zero), deep chains and many files are not walked.
#[test]
fn check_survives_fifos_links_loops_deep_chains_and_many_files() {
    let ws = workspace();
    let dir = ws.path();
    let out = rendered(dir);
    let fifo = out.join("1-dokploy/alerts.rules.yml");
    fs_err::remove_file(&fifo).unwrap();
    assert!(Command::new("mkfifo").arg(&fifo).arg(out.join("k8s/extra.fifo")).status().unwrap().success());
    fs_err::remove_file(out.join("k8s/base/namespace.yaml")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", out.join("k8s/base/namespace.yaml")).unwrap();
    std::os::unix::fs::symlink("/dev/urandom", out.join("k8s/random.yaml")).unwrap();
    std::os::unix::fs::symlink("loop", out.join("k8s/loop")).unwrap();
    fs_err::remove_dir_all(out.join("3-k3s")).unwrap();
    std::os::unix::fs::symlink(".", out.join("3-k3s")).unwrap();
    let deep: PathBuf = std::iter::repeat_n("d", 300).collect();
    fs_err::create_dir_all(out.join("k8s/base").join(deep)).unwrap();
    fs_err::create_dir(out.join("bulk")).unwrap();
    for i in 0..20_000 {
        fs_err::File::create(out.join(format!("bulk/{i}"))).unwrap();
    }
    for i in 0..2_000 {
        fs_err::File::create(out.join(format!("k8s/overlays/extra-{i:04}.yaml"))).unwrap();
    }

    // If topo opens the FIFO for reading, this writer's open returns.
    let opened = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let (fifo, opened, done) = (fifo.clone(), opened.clone(), done.clone());
        std::thread::spawn(move || {
            let _writer = fs_err::OpenOptions::new().write(true).open(&fifo).unwrap();
            if !done.load(Ordering::SeqCst) {
                opened.store(true, Ordering::SeqCst);
            }
        })
    };
    let run = topo(&["render", "--all", "--out", "out", "--check"], dir);
    done.store(true, Ordering::SeqCst);
    {
        use fs_err::os::unix::fs::OpenOptionsExt;
        let _reader = fs_err::OpenOptions::new()
            .read(true)
            .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
            .open(&fifo)
            .unwrap();
        writer.join().unwrap();
    }
    assert!(!opened.load(Ordering::SeqCst), "topo opened the FIFO");
    run.code(1)
        .says("changed: 1-dokploy/alerts.rules.yml (it is a FIFO, where topo writes a file)")
        .says("changed: k8s/base/namespace.yaml (it is a symbolic link, where topo writes a file)")
        .says("missing: 3-k3s/alerts.rules.yml")
        .says("not rendered by topo: 3-k3s (a symbolic link)")
        .says("not rendered by topo: k8s/loop (a symbolic link)")
        .says("not rendered by topo: k8s/extra.fifo (a FIFO)")
        .says("not rendered by topo: k8s/base/d (a directory)")
        .says("not rendered by topo: bulk (a directory)")
        .says("not rendered by topo: k8s/overlays/extra-0000.yaml")
        .says("more entries")
        .says("(2 changed, 1 missing, 2006 extra)");
    assert!(run.stderr.lines().count() < 120, "{}", super::shorten(&run.stderr));
    assert!(!run.stderr.contains("extra-1999"));
}

#[test]
fn help_says_what_force_and_the_marker_do() {
    let run = topo(&["render", "--help"], &root());
    run.code(0).says("--force").says("`.topo`").says("Never `/`, the home or current directory");
    topo(&["render", "--all", "--out", "x", "--check", "--force"], &root()).code(2);
}
