//! The GitOps workflow: `render --all` into a directory, `--check` for drift,
//! kustomize overlays that rebuild each Kubernetes phase, deterministic bytes,
//! and a failed render that leaves the previous tree untouched.

#![allow(clippy::unwrap_used, clippy::panic)]

use crate::support::validators;
use crate::support::{documents, root, topo_in};

use crate::spec_gen;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Every file under `dir`, by relative path.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        for entry in fs_err::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let relative = path.strip_prefix(dir).unwrap().to_string_lossy().replace('\\', "/");
                out.insert(relative, fs_err::read(&path).unwrap());
            }
        }
    }
    out
}

/// A scratch directory with a copy of a spec, as `topo.yaml`.
fn workspace(spec: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new().prefix("topo-gitops-").tempdir().unwrap();
    fs_err::copy(root().join(spec), dir.path().join("topo.yaml")).unwrap();
    dir
}

#[test]
fn check_finds_hand_edits_stray_files_missing_files_and_spec_changes() {
    let ws = workspace("specs/finanzas.yaml");
    let dir = ws.path();
    let render = topo_in(&["render", "--all", "--out", "out"], dir);
    assert!(render.status.success(), "{}", stderr(&render));
    assert!(stderr(&render).contains("wrote 38 files into out"), "{}", stderr(&render));
    let check = topo_in(&["render", "--all", "--out", "out", "--check"], dir);
    assert_eq!(check.status.code(), Some(0), "{}", stderr(&check));
    assert!(check.stdout.is_empty());

    // A hand edit: the diff shows it, and the fix is named.
    let stack = dir.join("out/2-swarm/stack.yml");
    let original = fs_err::read_to_string(&stack).unwrap();
    fs_err::write(&stack, original.replacen("replicas: 6", "replicas: 9", 1)).unwrap();
    let check = topo_in(&["render", "--all", "--out", "out", "--check"], dir);
    assert_eq!(check.status.code(), Some(1));
    let diff = String::from_utf8_lossy(&check.stdout);
    assert!(diff.contains("--- a/2-swarm/stack.yml") && diff.contains("+++ b/2-swarm/stack.yml"), "{diff}");
    assert!(diff.contains("-      replicas: 9") && diff.contains("+      replicas: 6"), "{diff}");
    let message = stderr(&check);
    assert!(message.contains("changed: 2-swarm/stack.yml"), "{message}");
    assert!(message.contains("to fix it run:\n  topo render --all --spec topo.yaml --out out"), "{message}");

    // A stray file and a missing one.
    fs_err::write(dir.join("out/k8s/base/extra.yaml"), "kind: Nothing\n").unwrap();
    fs_err::remove_file(dir.join("out/3-k3s/alerts.rules.yml")).unwrap();
    let check = topo_in(&["render", "--all", "--out", "out", "--check"], dir);
    assert_eq!(check.status.code(), Some(1));
    let message = stderr(&check);
    assert!(message.contains("not rendered by topo: k8s/base/extra.yaml"), "{message}");
    assert!(message.contains("missing: 3-k3s/alerts.rules.yml"), "{message}");
    assert!(message.contains("(1 changed, 1 missing, 1 extra)"), "{message}");

    // Re-rendering fixes all three (the stray file goes: topo owns the directory).
    assert!(topo_in(&["render", "--all", "--out", "out"], dir).status.success());
    assert_eq!(topo_in(&["render", "--all", "--out", "out", "--check"], dir).status.code(), Some(0));
    assert!(!dir.join("out/k8s/base/extra.yaml").exists());

    // A spec change without re-rendering.
    let spec = fs_err::read_to_string(dir.join("topo.yaml")).unwrap();
    fs_err::write(
        dir.join("topo.yaml"),
        spec.replace("replicas: { 1: 1, 2: 4, 3: 2 }", "replicas: { 1: 1, 2: 4, 3: 3 }"),
    )
    .unwrap();
    let check = topo_in(&["render", "--all", "--out", "out", "--check"], dir);
    assert_eq!(check.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&check.stdout).contains("+  replicas: 3"),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    assert!(topo_in(&["render", "--all", "--out", "out"], dir).status.success());
    assert_eq!(topo_in(&["render", "--all", "--out", "out", "--check"], dir).status.code(), Some(0));
}

#[test]
fn a_failing_render_leaves_the_previous_tree_intact() {
    let ws = workspace("specs/finanzas.yaml");
    let dir = ws.path();
    assert!(topo_in(&["render", "--all", "--out", "out"], dir).status.success());
    let before = tree(&dir.join("out"));
    let spec = fs_err::read_to_string(dir.join("topo.yaml")).unwrap();

    // An invalid spec, then one that only a target refuses (replicas sharing one volume on Swarm).
    fs_err::write(dir.join("topo.yaml"), spec.replace("image: redis:8.2-alpine", "image: [redis]")).unwrap();
    let failed = topo_in(&["render", "--all", "--out", "out"], dir);
    assert_eq!(failed.status.code(), Some(1));
    assert_eq!(tree(&dir.join("out")), before);

    let shared = spec.replace(
        "    stateful: true\n    # Its clients",
        "    stateful: true\n    replicas: { 2: 2 }\n    # Its clients",
    );
    assert_ne!(shared, spec);
    fs_err::write(dir.join("topo.yaml"), shared).unwrap();
    let failed = topo_in(&["render", "--all", "--out", "out"], dir);
    assert_eq!(failed.status.code(), Some(1), "{}", stderr(&failed));
    assert!(stderr(&failed).contains("nothing written; out is unchanged"), "{}", stderr(&failed));
    assert_eq!(tree(&dir.join("out")), before);
    // No staging directory is left behind.
    let leftovers: Vec<String> = fs_err::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("topo-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

fn by_kind_and_name(docs: Vec<Value>) -> BTreeMap<(String, String), Value> {
    docs.into_iter()
        .map(|d| {
            let key = (d["kind"].as_str().unwrap().to_owned(), d["metadata"]["name"].as_str().unwrap().to_owned());
            (key, d)
        })
        .collect()
}

/// The kustomizations a phase's overlay is built from: the overlay itself,
/// or, for a split tree, each of its parts.
fn entry_points(overlay: &Path) -> Vec<PathBuf> {
    if overlay.join("kustomization.yaml").is_file() {
        return vec![overlay.to_path_buf()];
    }
    let mut parts: Vec<PathBuf> = fs_err::read_dir(overlay).unwrap().map(|e| e.unwrap().path()).collect();
    parts.sort();
    assert!(parts.iter().all(|p| p.join("kustomization.yaml").is_file()), "{parts:?}");
    parts
}

/// Each overlay (every part of a split one) builds with kubectl kustomize
/// into exactly the objects that `render --phase N --target k8s` prints, each
/// once; the shipped specs' builds pass kubernetes-validate.
#[test]
fn every_overlay_rebuilds_its_phase() {
    let mut overlays = 0;
    let generated = tempfile::Builder::new().prefix("topo-gitops-").tempdir().unwrap();
    // Past the size where the tree is split into parts.
    let services = topo::gitops::kustomize::SPLIT_ABOVE_SERVICES + 50;
    fs_err::write(generated.path().join("generated.yaml"), spec_gen::spec(services)).unwrap();
    let generated_spec = generated.path().join("generated.yaml");
    for spec in [
        "specs/finanzas.yaml",
        "tests/fixtures/valid/every-field.yaml",
        "tests/fixtures/valid/design-example.yaml",
        generated_spec.to_str().unwrap(),
    ] {
        let ws = workspace(spec);
        let dir = ws.path();
        let render = topo_in(&["render", "--all", "--out", "out"], dir);
        assert!(render.status.success(), "{spec}: {}", stderr(&render));
        let compiled = topo::compile(&fs_err::read(dir.join("topo.yaml")).unwrap()).unwrap();
        for phase in compiled.model.phases.iter().filter(|p| p.target == topo::spec::Target::K8s) {
            let overlay = dir.join("out/k8s/overlays").join(format!("{}-{}", phase.number, phase.name));
            let parts = entry_points(&overlay);
            let split = spec == generated_spec.to_str().unwrap();
            assert_eq!(parts.len() > 1, split, "{spec}: {parts:?}");
            let mut got = BTreeMap::new();
            let mut built_all = String::new();
            for part in &parts {
                let built = validators::kubectl_kustomize(part).unwrap();
                for (key, value) in by_kind_and_name(documents(&built)) {
                    assert!(got.insert(key.clone(), value).is_none(), "{spec}: {key:?} is built twice");
                }
                built_all.push_str(&built);
            }
            let direct = topo_in(&["render", "--phase", &phase.number.to_string()], dir);
            assert!(direct.status.success());
            let expected = by_kind_and_name(documents(&String::from_utf8_lossy(&direct.stdout)));
            assert_eq!(
                got.keys().collect::<Vec<_>>(),
                expected.keys().collect::<Vec<_>>(),
                "{spec} phase {}",
                phase.number
            );
            for (key, value) in &expected {
                assert_eq!(&got[key], value, "{spec} phase {}: {key:?}", phase.number);
            }
            if !split {
                let input = validators::TempInput::new("built.yaml", &built_all).unwrap();
                validators::kubernetes_validate(input.path()).unwrap();
            }
            overlays += 1;
        }
    }
    // finanzas has one k8s phase, every-field two (one patched against the base), the design example one, the generated one.
    assert_eq!(overlays, 5);
}

/// A split tree: the shared objects in `shared/`, each service's objects in its group, and groups that
/// depend on the service's name only.
#[test]
fn a_large_spec_is_split_into_shared_and_groups() {
    use topo::gitops::kustomize::{GROUP_SERVICES, Layout, SHARED_PART, SPLIT_ABOVE_SERVICES};
    assert_eq!(Layout::for_services(SPLIT_ABOVE_SERVICES), Layout::Whole);
    let groups = (SPLIT_ABOVE_SERVICES + 1).div_ceil(GROUP_SERVICES).next_power_of_two();
    assert_eq!(Layout::for_services(SPLIT_ABOVE_SERVICES + 1), Layout::Split { groups });
    assert_eq!(Layout::for_services(10_000), Layout::Split { groups: 256 });
    let layout = Layout::Split { groups: 8 };
    assert_eq!(layout.part(None), SHARED_PART);
    assert_eq!(layout.part(Some("api")), layout.part(Some("api")));
    let used: std::collections::BTreeSet<String> =
        (0..200).map(|i| layout.part(Some(&spec_gen::service_name(i)))).collect();
    assert_eq!(used.len(), 8, "{used:?}");

    let services = SPLIT_ABOVE_SERVICES + 1;
    let ws = tempfile::Builder::new().prefix("topo-gitops-").tempdir().unwrap();
    fs_err::write(ws.path().join("topo.yaml"), spec_gen::spec(services)).unwrap();
    assert!(topo_in(&["render", "--all", "--out", "out"], ws.path()).status.success());
    let files = tree(&ws.path().join("out/k8s"));
    let layout = Layout::for_services(services);
    assert!(files.contains_key("base/shared/namespace.yaml"), "{:?}", files.keys().take(20).collect::<Vec<_>>());
    assert!(files.contains_key("overlays/3-k8s/shared/kustomization.yaml"));
    assert!(!files.contains_key("overlays/3-k8s/kustomization.yaml"), "no one kustomization of the whole phase");
    for i in [0, 1, services - 1] {
        let name = spec_gen::service_name(i);
        let group = layout.part(Some(&name));
        let path = format!("base/{group}/{name}-networkpolicy.yaml");
        assert!(files.contains_key(&path), "{path}");
        let kustomization =
            String::from_utf8_lossy(&files[&format!("overlays/3-k8s/{group}/kustomization.yaml")]).into_owned();
        assert!(kustomization.contains(&format!("- ../../../base/{group}\n")), "{kustomization}");
    }
    let readme = String::from_utf8_lossy(&fs_err::read(ws.path().join("out/README.md")).unwrap()).into_owned();
    assert!(readme.contains("k8s/overlays/<phase>/<part>"), "{readme}");
}

#[test]
fn overlays_patch_what_differs() {
    let ws = workspace("tests/fixtures/valid/every-field.yaml");
    let dir = ws.path();
    assert!(topo_in(&["render", "--all", "--out", "out"], dir).status.success());
    let files = tree(&dir.join("out/k8s/overlays/4-k3s-ha"));
    let patches: Vec<&String> = files.keys().filter(|f| f.ends_with(".patch.yaml")).collect();
    assert!(!patches.is_empty(), "{:?}", files.keys());
    let kustomization = String::from_utf8_lossy(&files["kustomization.yaml"]).into_owned();
    assert!(kustomization.contains("- ../../base"), "{kustomization}");
    // Phase 4 has no autoscaler for `api`: its workload gets replicas back by patch.
    let api = String::from_utf8_lossy(&files["api-deployment.patch.yaml"]).into_owned();
    assert!(api.contains("path: /spec/replicas"), "{api}");
}

/// The same spec gives the same bytes from another checkout and directory,
/// and whatever the order of its keys.
#[test]
fn output_is_deterministic() {
    for spec in ["specs/finanzas.yaml", "tests/fixtures/valid/every-field.yaml"] {
        let a = workspace(spec);
        let b = workspace(spec);
        fs_err::create_dir_all(b.path().join("deep/er")).unwrap();
        assert!(topo_in(&["render", "--all", "--out", "out"], a.path()).status.success());
        let out_b = b.path().join("deep/er/out");
        let spec_b = b.path().join("topo.yaml");
        let args = ["render", "--all", "--spec", "../../topo.yaml", "--out", out_b.to_str().unwrap()];
        assert!(topo_in(&args, &b.path().join("deep/er")).status.success());
        assert_eq!(tree(&a.path().join("out")), tree(&out_b), "{spec}");

        // Reverse the order of every mapping's keys (a YAML value loses the comments, not the meaning).
        let value: serde_norway::Value = serde_norway::from_str(&fs_err::read_to_string(&spec_b).unwrap()).unwrap();
        let reversed = reverse_keys(value);
        let c = tempfile::Builder::new().prefix("topo-gitops-").tempdir().unwrap();
        fs_err::write(c.path().join("topo.yaml"), serde_norway::to_string(&reversed).unwrap()).unwrap();
        let render = topo_in(&["render", "--all", "--out", "out"], c.path());
        assert!(render.status.success(), "{spec}: {}", stderr(&render));
        let (first, second) = (tree(&a.path().join("out")), tree(&c.path().join("out")));
        for (path, bytes) in &first {
            assert_eq!(
                String::from_utf8_lossy(bytes),
                String::from_utf8_lossy(&second[path]),
                "{spec}: {path} depends on key order"
            );
        }
        for bytes in second.values() {
            let text = String::from_utf8_lossy(bytes);
            assert!(!text.contains(&*c.path().to_string_lossy()), "an absolute path in the output");
        }
    }
}

fn reverse_keys(value: serde_norway::Value) -> serde_norway::Value {
    match value {
        serde_norway::Value::Mapping(map) => {
            let mut entries: Vec<_> = map.into_iter().collect();
            entries.reverse();
            serde_norway::Value::Mapping(entries.into_iter().map(|(k, v)| (k, reverse_keys(v))).collect())
        }
        serde_norway::Value::Sequence(items) => {
            serde_norway::Value::Sequence(items.into_iter().map(reverse_keys).collect())
        }
        other => other,
    }
}

/// output/ holds what `topo render --all` makes of specs/: CI fails when it is stale.
#[test]
fn committed_output_is_fresh() {
    let check =
        topo_in(&["render", "--all", "--spec", "specs/finanzas.yaml", "--out", "output/finanzas", "--check"], &root());
    assert_eq!(
        check.status.code(),
        Some(0),
        "output/finanzas is stale:\n{}\n{}",
        String::from_utf8_lossy(&check.stdout),
        stderr(&check)
    );
}

#[test]
fn completions_and_man_page() {
    for shell in ["bash", "zsh", "fish"] {
        let out = topo_in(&["completions", shell], &root());
        assert!(out.status.success());
        assert!(String::from_utf8_lossy(&out.stdout).contains("render"), "{shell}");
    }
    let man = topo_in(&["man"], &root());
    assert!(man.status.success());
    assert!(String::from_utf8_lossy(&man.stdout).starts_with(".ie \\n(.g .ds Aq"), "a roff page");
}

#[test]
fn all_needs_out_and_check_needs_all() {
    let ws = workspace("specs/finanzas.yaml");
    assert_eq!(topo_in(&["render", "--all"], ws.path()).status.code(), Some(2));
    assert_eq!(topo_in(&["render", "--phase", "1", "--check"], ws.path()).status.code(), Some(2));
    assert_eq!(topo_in(&["render", "--phase", "1", "--all", "--out", "x"], ws.path()).status.code(), Some(2));
}

/// The README's first command, run as it says: `render --all` of the example
/// into `finanzas-out`, ending with the line the README quotes.
#[test]
fn the_readme_s_first_command_ends_as_it_says() {
    let readme = fs_err::read_to_string(root().join("README.md")).unwrap();
    let command = "cargo run --release -- render --all --spec specs/finanzas.yaml --out finanzas-out";
    assert!(readme.contains(command), "the README no longer shows `{command}`");
    let quoted = readme
        .split("ends with `")
        .nth(1)
        .and_then(|rest| rest.split('`').next())
        .unwrap_or_else(|| panic!("the README no longer says what the first command ends with"));
    let ws = tempfile::Builder::new().prefix("topo-readme-").tempdir().unwrap();
    fs_err::create_dir(ws.path().join("specs")).unwrap();
    fs_err::copy(root().join("specs/finanzas.yaml"), ws.path().join("specs/finanzas.yaml")).unwrap();
    let render = topo_in(&["render", "--all", "--spec", "specs/finanzas.yaml", "--out", "finanzas-out"], ws.path());
    assert!(render.status.success(), "{}", stderr(&render));
    let last = stderr(&render).lines().last().unwrap_or_default().to_owned();
    assert_eq!(last, quoted, "the README says the first command ends with `{quoted}`");
}
