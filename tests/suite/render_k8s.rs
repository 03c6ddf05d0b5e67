//! The Kubernetes target: what it renders for every spec we have, checked by
//! `kubernetes-validate --strict` and `kubectl kustomize`, and the rules a
//! careful operator expects of the objects.

#![allow(clippy::unwrap_used, clippy::panic)]

use crate::support::specs;
use crate::support::validators;
use crate::support::{compile_text, documents, topo_in};
use topo::emit::yaml::Serialised as _;

use specs::{root, valid_specs};
use std::collections::BTreeSet;
use std::path::Path;

use serde_norway::Value;
use topo::spec::Target;

fn compile(path: &Path) -> topo::Compiled {
    let bytes = fs_err::read(path).unwrap();
    match topo::compile(&bytes) {
        Ok(compiled) => compiled,
        Err(diags) => {
            panic!("{} does not compile: {:?}", path.display(), diags.iter().map(|d| &d.message).collect::<Vec<_>>())
        }
    }
}

fn render(compiled: &topo::Compiled, phase: u32) -> topo::render::Rendered {
    let phase = compiled.model.phases.iter().find(|p| p.number == phase).unwrap();
    topo::render::render(&compiled.model, phase, Target::K8s)
}

/// The value at a dotted path; a key that itself holds dots (a label name) is
/// matched whole, longest first.
fn get<'v>(value: &'v Value, path: &str) -> &'v Value {
    let parts: Vec<&str> = path.split('.').collect();
    let mut value = value;
    let mut i = 0;
    while i < parts.len() {
        if let Ok(index) = parts[i].parse::<usize>() {
            value = &value[index];
            i += 1;
            continue;
        }
        let found = (i + 1..=parts.len()).rev().find(|&j| value.get(parts[i..j].join(".")).is_some());
        let j = found.unwrap_or(i + 1);
        value = &value[parts[i..j].join(".").as_str()];
        i = j;
    }
    value
}

fn str_at<'v>(value: &'v Value, path: &str) -> &'v str {
    get(value, path).as_str().unwrap_or_else(|| panic!("no string at {path} in {value:?}"))
}

fn find<'v>(docs: &'v [Value], kind: &str, name: &str) -> &'v Value {
    docs.iter()
        .find(|d| str_at(d, "kind") == kind && str_at(d, "metadata.name") == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

const KIND_ORDER: [&str; 17] = [
    "Namespace",
    "ClusterIssuer",
    "ConfigMap",
    "ExternalSecret",
    "SealedSecret",
    "PersistentVolumeClaim",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "Service",
    "Ingress",
    "Middleware",
    "HorizontalPodAutoscaler",
    "PodDisruptionBudget",
    "NetworkPolicy",
    "ServiceMonitor",
    "PrometheusRule",
];

#[test]
fn finanzas_phase_3_snapshot() {
    let compiled = compile(&root().join("specs/finanzas.yaml"));
    let rendered = render(&compiled, 3);
    insta::assert_snapshot!("finanzas_k3s", rendered.stream());
}

/// Every phase of every spec, rendered for Kubernetes, passes
/// `kubernetes-validate --strict` for the oldest and newest versions we target.
#[test]
fn every_spec_and_phase_passes_kubernetes_validate() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for path in valid_specs() {
        let compiled = compile(&path);
        for phase in &compiled.model.phases {
            let rendered = topo::render::render(&compiled.model, phase, Target::K8s);
            if rendered.diagnostics.has_errors() {
                continue; // A phase the k8s target refuses (a volume without a size): tested below.
            }
            let name = format!("{}-{}.yaml", path.file_stem().unwrap().to_string_lossy(), phase.number);
            let input = validators::TempInput::new(&name, &rendered.stream()).unwrap();
            for version in ["1.33.0", "1.37.0"] {
                if let Err(error) = validators::kubernetes_validate_version(input.path(), version) {
                    failures.push(format!("{name} against {version}:\n{error}"));
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} phases rendered");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The objects obey the rules the issue names, for every spec and phase.
#[test]
fn objects_follow_the_rules_for_every_spec() {
    for path in valid_specs() {
        let compiled = compile(&path);
        for phase in &compiled.model.phases {
            let rendered = topo::render::render(&compiled.model, phase, Target::K8s);
            if rendered.diagnostics.has_errors() {
                continue;
            }
            let at = format!("{} phase {}", path.display(), phase.number);
            let stream = rendered.stream();
            let docs: Vec<Value> = documents(&stream);

            // Stable order: by kind, then by name.
            let keys: Vec<(usize, String)> = docs
                .iter()
                .map(|d| {
                    let kind = KIND_ORDER.iter().position(|k| *k == str_at(d, "kind")).unwrap();
                    (kind, str_at(d, "metadata.name").to_owned())
                })
                .collect();
            let mut sorted = keys.clone();
            sorted.sort();
            assert_eq!(keys, sorted, "{at}: objects out of order");

            // Secrets are only referenced.
            assert!(docs.iter().all(|d| str_at(d, "kind") != "Secret"), "{at}: a Secret object");
            for doc in &docs {
                // Namespace and ClusterIssuer are cluster-scoped.
                if !["Namespace", "ClusterIssuer"].contains(&str_at(doc, "kind")) {
                    assert_eq!(str_at(doc, "metadata.namespace"), compiled.model.project, "{at}");
                    assert_eq!(str_at(doc, "metadata.labels.app.kubernetes.io/managed-by"), "topo", "{at}");
                }
            }

            for service in phase.services.values() {
                let kind = match (service.is_global(), service.stateful) {
                    (true, _) => "DaemonSet",
                    (false, true) => "StatefulSet",
                    (false, false) => "Deployment",
                };
                let workload = find(&docs, kind, &service.name);
                let spec = get(workload, "spec");
                // The HPA owns the replica count; a DaemonSet has none; otherwise the phase's replicas.
                match service.autoscale() {
                    _ if service.is_global() => {
                        assert!(spec.get("replicas").is_none(), "{at}: DaemonSet {} has replicas", service.name);
                        assert!(service.autoscale().is_none(), "{at}: {} global and autoscaled", service.name);
                    }
                    Some(autoscale) => {
                        assert!(spec.get("replicas").is_none(), "{at}: {} has replicas and an HPA", service.name);
                        let hpa = find(&docs, "HorizontalPodAutoscaler", &service.name);
                        assert_eq!(str_at(hpa, "spec.scaleTargetRef.kind"), kind, "{at}");
                        assert_eq!(get(hpa, "spec.minReplicas").as_u64(), Some(u64::from(autoscale.min)), "{at}");
                        assert_eq!(get(hpa, "spec.maxReplicas").as_u64(), Some(u64::from(autoscale.max)), "{at}");
                    }
                    None => assert_eq!(get(spec, "replicas").as_u64(), Some(u64::from(service.replicas())), "{at}"),
                }
                let container = get(spec, "template.spec.containers.0");
                // Canonical quantities: never raw bytes when a unit divides the value.
                for kind in ["requests", "limits"] {
                    if let Some(memory) = get(container, &format!("resources.{kind}.memory")).as_str() {
                        let digits = memory.trim_end_matches(|c: char| c.is_ascii_alphabetic());
                        assert!(
                            digits.len() < memory.len() || digits.parse::<u64>().unwrap() % 1000 != 0,
                            "{at}: {} memory {memory} in raw bytes",
                            service.name
                        );
                    }
                }
                // Secrets come from the project's Secret, by reference.
                let secret_refs: BTreeSet<&str> = get(container, "env")
                    .as_sequence()
                    .map(|env| {
                        let refs = env.iter().filter(|e| e.get("valueFrom").is_some());
                        refs.map(|e| str_at(e, "valueFrom.secretKeyRef.key")).collect()
                    })
                    .unwrap_or_default();
                let expected: BTreeSet<&str> = service.secrets.iter().map(String::as_str).collect();
                assert_eq!(secret_refs, expected, "{at}: {}", service.name);
                // Restrictive security by default.
                assert_eq!(get(container, "securityContext.allowPrivilegeEscalation").as_bool(), Some(false));
                assert_eq!(str_at(container, "securityContext.capabilities.drop.0"), "ALL");
                assert_eq!(str_at(spec, "template.spec.securityContext.seccompProfile.type"), "RuntimeDefault");
                assert_eq!(get(spec, "template.spec.automountServiceAccountToken").as_bool(), Some(false));
                // A PDB exactly when more than one replica runs at the least, on more than one admitted node.
                let least = service.least_replicas();
                let has_pdb = docs
                    .iter()
                    .any(|d| str_at(d, "kind") == "PodDisruptionBudget" && str_at(d, "metadata.name") == service.name);
                let admitting = phase.nodes.values().filter(|n| service.placement.admits(n)).count();
                assert_eq!(has_pdb, least > 1 && !service.is_global() && admitting > 1, "{at}: {} PDB", service.name);
                // Soft: a best-effort spread; hard: at most one per node, a required anti-affinity.
                let spread = get(spec, "template.spec.topologySpreadConstraints");
                let anti = get(spec, "template.spec.affinity.podAntiAffinity");
                let several = service.peak_replicas() > 1 && !service.is_global();
                let hard = service.placement.spread == Some(topo::spec::Spread::Hard);
                assert_eq!(!spread.is_null(), several && !hard, "{at}: {} spread", service.name);
                assert_eq!(!anti.is_null(), several && hard, "{at}: {} anti-affinity", service.name);
                if !spread.is_null() {
                    assert_eq!(str_at(&spread[0], "whenUnsatisfiable"), "ScheduleAnyway", "{at}");
                }
            }
        }
    }
}

#[test]
fn rendering_is_deterministic() {
    for path in valid_specs() {
        let first = compile(&path);
        let second = compile(&path);
        for phase in &first.model.phases {
            let a = topo::render::render(&first.model, phase, Target::K8s).stream();
            let b = topo::render::render(&second.model, phase, Target::K8s).stream();
            assert_eq!(a, b, "{}", path.display());
        }
    }
}

const SPEC: &str = r#"
project: shop
phases:
  1:
    name: cluster
    target: k8s
    nodes:
      cp-1: { role: manager, cpu: 2, memory: 4Gi }
      w-1: { role: worker, cpu: 4, memory: 8Gi, labels: { disk: ssd } }
      w-2: { role: worker, cpu: 4, memory: 8Gi, labels: { disk: ssd } }
secrets: [DB_PASSWORD]
services:
  web:
    image: shop/web:1.2.3
    port: 8080
    replicas: 3
    health:
      liveness: { exec: "curl -fsS localhost:8080/health || exit 1" }
      readiness: { tcp: 8080 }
    placement: { role: worker, spread: hard }
    resources: { limits: { cpu: 500m, memory: 256Mi } }
  uploads:
    image: shop/uploads:2.0
    port: 9000
    replicas: 2
    volumes:
      files: { mount: /srv/files, size: 20Gi }
    placement: { labels: { disk: ssd } }
    security: { read_only_root_filesystem: true, writable: [/var/cache/uploads] }
  db:
    image: postgres:17.2
    port: 5432
    stateful: true
    secrets: [DB_PASSWORD]
    volumes:
      data: { mount: /var/lib/postgresql/data, size: 10Gi, storage_class: local-path }
    placement: { node: cp-1 }
"#;

#[test]
fn probes_placement_volumes_and_security() {
    let compiled = compile_text(SPEC);
    let rendered = render(&compiled, 1);
    let docs: Vec<Value> = documents(&rendered.stream());

    let web = find(&docs, "Deployment", "web");
    let container = get(web, "spec.template.spec.containers.0");
    // A shell string runs through /bin/sh -c, as three argv elements.
    let command: Vec<&str> = get(container, "livenessProbe.exec.command")
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(command, ["/bin/sh", "-c", "curl -fsS localhost:8080/health || exit 1"]);
    assert_eq!(get(container, "readinessProbe.tcpSocket.port").as_u64(), Some(8080));
    // Requests default to limits.
    assert_eq!(str_at(container, "resources.requests.memory"), "256Mi");
    assert_eq!(str_at(container, "resources.requests.cpu"), "500m");
    // Hard spreading; worker role keeps it off the control plane.
    assert_eq!(
        str_at(
            web,
            "spec.template.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution.0.topologyKey"
        ),
        "kubernetes.io/hostname",
        "spread: hard is at most one per node"
    );
    let term = get(web, "spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution");
    assert_eq!(str_at(term, "nodeSelectorTerms.0.matchExpressions.0.key"), "node-role.kubernetes.io/control-plane");
    assert_eq!(str_at(term, "nodeSelectorTerms.0.matchExpressions.0.operator"), "DoesNotExist");
    assert_eq!(str_at(web, "metadata.labels.app.kubernetes.io/version"), "1.2.3");

    // A stateless service's volume: a PVC, a Recreate rollout, and a warning.
    let claim = find(&docs, "PersistentVolumeClaim", "uploads-files");
    assert_eq!(str_at(claim, "spec.resources.requests.storage"), "20Gi");
    let uploads = find(&docs, "Deployment", "uploads");
    assert_eq!(str_at(uploads, "spec.strategy.type"), "Recreate");
    assert_eq!(str_at(uploads, "spec.template.spec.nodeSelector.disk"), "ssd");
    let mounts: Vec<&str> = get(uploads, "spec.template.spec.containers.0.volumeMounts")
        .as_sequence()
        .unwrap()
        .iter()
        .map(|m| str_at(m, "mountPath"))
        .collect();
    assert_eq!(mounts, ["/tmp", "/var/cache/uploads", "/srv/files"]);
    let codes: Vec<&str> = rendered.diagnostics.iter().map(|d| d.code.as_str()).collect();
    assert!(codes.contains(&"single-node-volume"), "{codes:?}");

    // A stateful service: StatefulSet, headless Service, claim templates, pinned node.
    let db = find(&docs, "StatefulSet", "db");
    assert_eq!(str_at(db, "spec.serviceName"), "db");
    assert_eq!(str_at(db, "spec.volumeClaimTemplates.0.spec.storageClassName"), "local-path");
    assert_eq!(str_at(db, "spec.template.spec.nodeSelector.kubernetes.io/hostname"), "cp-1");
    assert_eq!(str_at(find(&docs, "Service", "db"), "spec.clusterIP"), "None");
    assert_eq!(str_at(find(&docs, "Service", "db"), "spec.ports.0.name"), "tcp");
    // postgres starts as root and drops to 999: Kubernetes runs it as 999 from the start,
    // owning its volume through the group, without walking it at every start.
    let pod_security = get(db, "spec.template.spec.securityContext");
    for (key, id) in [("runAsUser", 999), ("runAsGroup", 999), ("fsGroup", 999)] {
        assert_eq!(get(pod_security, key).as_u64(), Some(id), "{key}");
    }
    assert_eq!(str_at(pod_security, "fsGroupChangePolicy"), "OnRootMismatch");
    // postgres 17 with its volume at PGDATA: PGDATA one level down, which initdb creates as 999.
    let pgdata = get(db, "spec.template.spec.containers.0.env.0");
    assert_eq!((str_at(pgdata, "name"), str_at(pgdata, "value")), ("PGDATA", "/var/lib/postgresql/data/pgdata"));
    let mounts: Vec<&str> = get(db, "spec.template.spec.containers.0.volumeMounts")
        .as_sequence()
        .unwrap()
        .iter()
        .map(|m| str_at(m, "mountPath"))
        .collect();
    assert!(mounts.contains(&"/var/run/postgresql"), "its socket directory stays writable: {mounts:?}");
    // Images topo does not know: `topo check` refuses them; rendering warns.
    let unknown: Vec<String> =
        rendered.diagnostics.iter().filter(|d| d.code == "image-user-unknown").map(|d| d.path.to_string()).collect();
    assert_eq!(unknown, ["services.uploads.image", "services.web.image"]);
    let secret = get(db, "spec.template.spec.containers.0.env.1.valueFrom.secretKeyRef");
    assert_eq!((str_at(secret, "name"), str_at(secret, "key")), ("shop-secrets", "DB_PASSWORD"));
    // The user is told how to create the Secret, without a value.
    assert!(rendered.notes.iter().any(|n| n.contains("kubectl create secret generic shop-secrets --namespace shop")));
}

/// `replicas: global` is a DaemonSet with the same pod template as a
/// Deployment (labels, security, probes, placement), and no replica count,
/// HPA, PDB or topology spread; `--out` writes it as `<service>-daemonset.yaml`.
#[test]
fn a_global_service_is_a_daemon_set() {
    let compiled = compile_text(
        "project: shop
phases:
  1:
    name: k3s
    target: k8s
    nodes:
      n-1: { role: manager, cpu: 4, memory: 8Gi }
      n-2: { cpu: 4, memory: 8Gi }
      n-3: { cpu: 4, memory: 8Gi }
services:
  agent:
    image: agent:1.2
    port: 9100
    replicas: global
    placement: { role: worker, spread: hard }
    health: { http: /metrics }
    resources: { requests: { cpu: 50m, memory: 64Mi }, limits: { cpu: 100m, memory: 128Mi } }
    security: { run_as_user: 65534 }
",
    );
    assert_eq!(compiled.model.phases[0].services["agent"].replicas(), 2, "one per worker");
    let rendered = render(&compiled, 1);
    let docs: Vec<Value> = documents(&rendered.stream());
    let kinds: Vec<&str> = docs.iter().map(|d| str_at(d, "kind")).collect();
    assert_eq!(
        kinds,
        ["Namespace", "DaemonSet", "Service", "NetworkPolicy", "NetworkPolicy"],
        "no Deployment, HPA or PDB"
    );
    let set = find(&docs, "DaemonSet", "agent");
    assert_eq!(str_at(set, "apiVersion"), "apps/v1");
    assert!(get(set, "spec").get("replicas").is_none());
    assert_eq!(str_at(set, "spec.selector.matchLabels.app.kubernetes.io/name"), "agent");
    let pod = get(set, "spec.template.spec");
    assert!(pod.get("topologySpreadConstraints").is_none(), "one pod per node already");
    assert_eq!(get(pod, "securityContext.runAsUser").as_u64(), Some(65534));
    assert_eq!(str_at(pod, "containers.0.readinessProbe.httpGet.path"), "/metrics");
    let affinity = str_at(
        pod,
        "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms.0.matchExpressions.0.operator",
    );
    assert_eq!(affinity, "DoesNotExist", "placement still applies: workers only");
    let files: Vec<String> = rendered.files().into_iter().map(|(file, _)| file).collect();
    assert!(files.contains(&"agent-daemonset.yaml".to_owned()), "{files:?}");
}

#[test]
fn volume_without_size_is_an_error_on_kubernetes() {
    let spec = SPEC.replace("target: k8s", "target: compose").replace("size: 20Gi", "access: ReadWriteOnce");
    let spec =
        spec.replace("cp-1: { role: manager, cpu: 2, memory: 4Gi }", "cp-1: { role: manager, cpu: 8, memory: 32Gi }");
    let spec: String = spec.lines().filter(|l| !l.contains("w-1") && !l.contains("w-2")).collect::<Vec<_>>().join("\n");
    let spec = spec
        .replace("placement: { role: worker, spread: hard }", "")
        .replace("placement: { labels: { disk: ssd } }", "");
    let compiled = compile_text(&spec);
    let rendered = render(&compiled, 1);
    let error = rendered.diagnostics.iter().find(|d| d.is_error()).unwrap();
    assert_eq!(error.code, "volume-without-size");
}

#[test]
fn out_dir_holds_one_file_per_object_and_a_kustomization_that_builds() {
    let dir = tempfile::tempdir().unwrap();
    let spec = root().join("specs/finanzas.yaml");
    let out = dir.path().join("k3s");
    let output =
        topo_in(&["render", "-s", spec.to_str().unwrap(), "--phase", "3", "--out", out.to_str().unwrap()], dir.path());
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("wrote 30 files"), "{stderr}");
    assert!(out.join("backend-hpa.yaml").is_file() && out.join("postgres-statefulset.yaml").is_file());
    let built = validators::kubectl_kustomize(&out).unwrap();
    let input = validators::TempInput::new("built.yaml", &built).unwrap();
    validators::kubernetes_validate(input.path()).unwrap();
    // kustomize builds the same objects that stdout prints.
    let stream = topo_in(&["render", "-s", spec.to_str().unwrap(), "--phase", "k3s"], dir.path());
    assert!(stream.status.success());
    let count = |text: &str| text.lines().filter(|l| l.starts_with("kind: ")).count();
    assert_eq!(count(&built), count(&String::from_utf8_lossy(&stream.stdout)));
}

#[test]
fn render_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let spec = root().join("specs/finanzas.yaml");
    let spec = spec.to_str().unwrap();
    let unknown = topo_in(&["render", "-s", spec, "--phase", "9"], dir.path());
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&unknown.stderr)
            .contains("has no phase `9`; its phases are 1 (dokploy), 2 (swarm), 3 (k3s)")
    );

    fs_err::write(dir.path().join("bad.yaml"), "project: x\nphases: {}\nservices: {}\nbogus: 1\n").unwrap();
    let out = dir.path().join("out");
    let invalid = topo_in(&["render", "-s", "bad.yaml", "--phase", "1", "--out", out.to_str().unwrap()], dir.path());
    assert_eq!(invalid.status.code(), Some(1));
    assert!(invalid.stdout.is_empty());
    assert!(!out.exists(), "an invalid spec wrote files");
    assert!(String::from_utf8_lossy(&invalid.stderr).contains("error: bad.yaml is not a valid spec"));
}

/// Checkov's findings on the finanzas cluster, each skipped for a stated
/// reason (README, "Checkov findings"). Any other finding fails the test, and
/// so does a skipped check that no longer fires.
const CHECKOV_EXPLAINED: [(&str, &str); 6] = [
    ("CKV_K8S_43", "images are pinned by tag; a digest is the spec's choice (`image: app@sha256:…`)"),
    ("CKV_K8S_15", "IfNotPresent for a pinned tag, Always only for latest or no tag"),
    ("CKV_K8S_40", "the UID is the image's own (999 for postgres and redis); set run_as_user to change it"),
    ("CKV_K8S_35", "secrets reach the app as env vars, which is what the services read"),
    ("CKV_K8S_8", "a service without `health` (the BullMQ worker) gets no liveness probe"),
    ("CKV_K8S_9", "a service without `health` (the BullMQ worker) gets no readiness probe"),
];

#[test]
fn checkov_finds_only_the_explained_findings() {
    // Not a dot-directory: checkov skips those without a word.
    let dir = tempfile::Builder::new().prefix("topo-checkov-").tempdir().unwrap();
    let compiled = compile(&root().join("specs/finanzas.yaml"));
    let rendered = render(&compiled, 3);
    for (file, contents) in rendered.files() {
        if file != "kustomization.yaml" {
            fs_err::write(dir.path().join(file), contents).unwrap();
        }
    }
    let skip: Vec<&str> = CHECKOV_EXPLAINED.iter().map(|(id, _)| *id).collect();
    validators::checkov_kubernetes(dir.path(), &skip).unwrap();
    // Each skipped check still fires without the skip: the list stays honest.
    for (id, reason) in CHECKOV_EXPLAINED {
        let others: Vec<&str> = skip.iter().copied().filter(|s| *s != id).collect();
        assert!(
            validators::checkov_kubernetes(dir.path(), &others).is_err(),
            "{id} no longer fires; drop it from the list ({reason})"
        );
    }
}

/// `kubectl drain` of the one node a service's replicas may run on would hang
/// on a PodDisruptionBudget: the evicted replica's replacement stays Pending.
#[test]
fn replicas_confined_to_one_node_get_no_disruption_budget() {
    let compiled = compile(&root().join("specs/finanzas.yaml"));
    let rendered = render(&compiled, 3);
    let docs: Vec<Value> = documents(&rendered.stream());
    let budgets: Vec<&str> = docs
        .iter()
        .filter(|d| str_at(d, "kind") == "PodDisruptionBudget")
        .map(|d| str_at(d, "metadata.name"))
        .collect();
    assert_eq!(budgets, ["backend", "frontend"], "bullmq-worker's three replicas all run on node-3");
    let warning = rendered.diagnostics.iter().find(|d| d.code == "no-disruption-budget").unwrap();
    assert_eq!(warning.path.to_string(), "services.bullmq-worker.placement");
    assert!(warning.message.contains("node-3"), "{}", warning.message);
}

/// `spread: hard` is at most one replica per node on every target: on
/// Kubernetes a required anti-affinity on the hostname, and, with a replica on
/// every admitted node, a rolling update that removes a pod before it adds one.
#[test]
fn hard_spread_is_one_replica_per_node() {
    let spec = "project: shop
phases:
  1:
    name: one
    target: k8s
    nodes: { n-1: { role: manager, cpu: 4, memory: 8Gi }, n-2: { cpu: 4, memory: 8Gi }, n-3: { cpu: 4, memory: 8Gi } }
services:
  full: { image: web:1.0, port: 80, replicas: 3, placement: { spread: hard }, security: { run_as_user: 1000 } }
  room: { image: web:1.0, port: 80, replicas: 2, placement: { spread: hard }, security: { run_as_user: 1000 } }
  soft: { image: web:1.0, port: 80, replicas: 2, security: { run_as_user: 1000 } }
";
    let rendered = render(&compile_text(spec), 1);
    let docs: Vec<Value> = documents(&rendered.stream());
    let pod = |name: &str| get(find(&docs, "Deployment", name), "spec.template.spec").clone();
    let full = pod("full");
    let term = get(&full, "affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution.0");
    assert_eq!(str_at(term, "topologyKey"), "kubernetes.io/hostname");
    assert_eq!(str_at(term, "labelSelector.matchLabels.app.kubernetes.io/name"), "full");
    assert!(full.get("topologySpreadConstraints").is_none());
    let strategy = |name: &str| get(find(&docs, "Deployment", name), "spec").get("strategy").cloned();
    let rolling = strategy("full").unwrap();
    assert_eq!(get(&rolling, "rollingUpdate.maxSurge").as_u64(), Some(0), "no node has room for a surge pod");
    assert_eq!(strategy("room"), None, "a free node takes the surge pod");
    assert_eq!(str_at(&pod("soft"), "topologySpreadConstraints.0.whenUnsatisfiable"), "ScheduleAnyway");
    assert!(pod("soft").get("affinity").is_none());
}

/// Plain HTTP is redirected to https, as on compose and Swarm: Traefik serves
/// a TLS Ingress on `websecure` only, so a second Ingress on `web` carries a
/// redirectScheme Middleware, which passes the CRD's vendored schema.
#[test]
fn tls_ingresses_redirect_plain_http_through_a_traefik_middleware() {
    let compiled = compile(&root().join("specs/finanzas.yaml"));
    let stream = render(&compiled, 3).stream();
    let docs: Vec<Value> = documents(&stream);
    let middleware = find(&docs, "Middleware", "redirect-to-https");
    assert_eq!(str_at(middleware, "apiVersion"), "traefik.io/v1alpha1");
    assert_eq!(str_at(middleware, "spec.redirectScheme.scheme"), "https");
    assert_eq!(get(middleware, "spec.redirectScheme.permanent").as_bool(), Some(true));
    let secure = find(&docs, "Ingress", "backend");
    assert_eq!(str_at(secure, "metadata.annotations.traefik.ingress.kubernetes.io/router.entrypoints"), "websecure");
    assert_eq!(str_at(secure, "spec.tls.0.secretName"), "backend-tls");
    let plain = find(&docs, "Ingress", "backend-http");
    assert_eq!(str_at(plain, "metadata.annotations.traefik.ingress.kubernetes.io/router.entrypoints"), "web");
    assert_eq!(
        str_at(plain, "metadata.annotations.traefik.ingress.kubernetes.io/router.middlewares"),
        "finanzas-redirect-to-https@kubernetescrd",
        "<namespace>-<name>@kubernetescrd"
    );
    assert!(get(plain, "spec").get("tls").is_none());
    assert_eq!(str_at(plain, "spec.rules.0.host"), "api.tudominio.cloud");
    validators::split_custom_resources(&stream).unwrap();
    let mut bad = middleware.clone();
    bad["spec"]["redirectScheme"]["permanent"] = Value::String("yes".into());
    let bad = serde_norway::to_string(&bad).unwrap();
    assert!(validators::split_custom_resources(&bad).is_err(), "the vendored schema rejects a string for a boolean");
}

/// With `monitoring:`, kube-prometheus-stack's objects: a PrometheusRule with
/// exactly the rules the rules target writes for the phase, a ServiceMonitor
/// for each service with `metrics` that selects its Service by a port the
/// Service has, both labelled `release: <the release>`; without it, none.
#[test]
fn monitoring_objects_carry_the_rules_and_the_release_label() {
    for path in valid_specs() {
        let compiled = compile(&path);
        for phase in compiled.model.phases.iter().filter(|p| p.target == Target::K8s) {
            let at = format!("{} phase {}", path.display(), phase.number);
            let stream = topo::render::render(&compiled.model, phase, Target::K8s).stream();
            let docs: Vec<Value> = documents(&stream);
            let of_kind = |kind: &str| docs.iter().filter(|d| str_at(d, "kind") == kind).count();
            let monitoring = &compiled.model.monitoring;
            if !monitoring.enabled {
                assert_eq!(of_kind("PrometheusRule") + of_kind("ServiceMonitor"), 0, "{at}");
                continue;
            }
            let rule = find(&docs, "PrometheusRule", &format!("{}-alerts", compiled.model.project));
            assert_eq!(str_at(rule, "metadata.labels.release"), monitoring.release, "{at}");
            let rules = topo::render::render_output(&compiled.model, phase, topo::render::Output::Rules);
            let file: Value = serde_norway::from_str(&topo::emit::yaml::text(&rules.documents[0].body)).unwrap();
            assert_eq!(get(rule, "spec.groups"), get(&file, "groups"), "{at}: the rules target's rules");
            assert!(get(rule, "spec.groups.0.rules").as_sequence().is_some_and(|r| !r.is_empty()), "{at}");
            let with_metrics: Vec<_> = phase.services.values().filter(|s| s.metrics.is_some()).collect();
            assert_eq!(of_kind("ServiceMonitor"), with_metrics.len(), "{at}");
            for service in with_metrics {
                let monitor = find(&docs, "ServiceMonitor", &service.name);
                assert_eq!(str_at(monitor, "metadata.labels.release"), monitoring.release, "{at}");
                let k8s_service = find(&docs, "Service", &service.name);
                for (key, value) in get(monitor, "spec.selector.matchLabels").as_mapping().unwrap() {
                    assert_eq!(get(k8s_service, "metadata.labels").get(key), Some(value), "{at}: selects the Service");
                }
                let port = str_at(monitor, "spec.endpoints.0.port");
                let ports = get(k8s_service, "spec.ports").as_sequence().unwrap();
                assert!(ports.iter().any(|p| str_at(p, "name") == port), "{at}: {port} is a port of the Service");
                assert_eq!(str_at(monitor, "spec.endpoints.0.path"), service.metrics.as_ref().unwrap().path);
            }
        }
    }
    let compiled = compile(&root().join("specs/finanzas.yaml"));
    assert!(compiled.model.monitoring.enabled, "finanzas runs kube-prometheus-stack");
    let text = fs_err::read_to_string(root().join("specs/finanzas.yaml")).unwrap();
    let text = text.replace("release: kube-prometheus-stack }", "release: prom }");
    let docs: Vec<Value> = documents(&render(&compile_text(&text), 3).stream());
    assert_eq!(str_at(find(&docs, "ServiceMonitor", "backend"), "metadata.labels.release"), "prom");
    assert_eq!(str_at(find(&docs, "PrometheusRule", "finanzas-alerts"), "metadata.labels.release"), "prom");
}

/// Every custom resource kind that has a vendored schema is emitted by some
/// shipped spec, and the check of it is as strict as kubernetes-validate's of
/// a built-in kind: an unknown field at the top, in `spec` or in `metadata`,
/// a missing name, a wrong type or another kind's apiVersion are all refused.
#[test]
fn custom_resources_are_checked_strictly() {
    let mut examples: std::collections::BTreeMap<String, Value> = std::collections::BTreeMap::new();
    for path in valid_specs() {
        let compiled = compile(&path);
        for phase in compiled.model.phases.iter().filter(|p| p.target == Target::K8s) {
            for doc in documents::<Value>(&topo::render::render(&compiled.model, phase, Target::K8s).stream()) {
                let kind = str_at(&doc, "kind").to_owned();
                if validators::CUSTOM_RESOURCES.iter().any(|(_, k, _)| *k == kind) {
                    examples.entry(kind).or_insert(doc);
                }
            }
        }
    }
    let mut kinds: Vec<&str> = validators::CUSTOM_RESOURCES.iter().map(|(_, k, _)| *k).collect();
    kinds.sort_unstable();
    assert_eq!(examples.keys().map(String::as_str).collect::<Vec<_>>(), kinds, "each vendored kind is emitted");
    let check = |doc: &Value| {
        let input = validators::TempInput::new("custom.yaml", &serde_norway::to_string(doc).unwrap()).unwrap();
        validators::kubernetes_validate(input.path())
    };
    for (kind, doc) in &examples {
        check(doc).unwrap_or_else(|e| panic!("{kind}: {e}"));
        let mut mutants: Vec<(&str, Value)> = Vec::new();
        let mut top = doc.clone();
        top["bogus"] = Value::from(1);
        mutants.push(("an unknown top-level field", top));
        let mut in_spec = doc.clone();
        in_spec["spec"]["bogus"] = Value::from(1);
        mutants.push(("an unknown field in spec", in_spec));
        let mut in_meta = doc.clone();
        in_meta["metadata"]["labelz"] = Value::from("x");
        mutants.push(("an unknown field in metadata", in_meta));
        let mut bad_labels = doc.clone();
        bad_labels["metadata"]["labels"] = Value::from("x");
        mutants.push(("labels that are not a map", bad_labels));
        let mut nameless = doc.clone();
        nameless["metadata"].as_mapping_mut().unwrap().remove("name");
        mutants.push(("no metadata.name", nameless));
        let mut other_version = doc.clone();
        other_version["apiVersion"] = Value::from(format!("{}9", str_at(doc, "apiVersion")));
        mutants.push(("an apiVersion without a schema", other_version));
        let mut wrong_type = doc.clone();
        wrong_type["spec"] = Value::from("x");
        mutants.push(("a spec that is not an object", wrong_type));
        for (what, mutant) in mutants {
            assert!(check(&mutant).is_err(), "{kind} with {what} passed");
        }
    }
}

/// The Secret the pods read is the one `secrets_from` makes: an ExternalSecret
/// or a SealedSecret of that name, with one entry per secret the phase uses
/// (a SealedSecret holds the spec's ciphertext or the placeholder, never
/// anything else), or nothing but the `kubectl create secret` note.
#[test]
fn secrets_from_renders_the_secret_the_pods_read() {
    use topo::model::SecretsSource;
    let mut seen = std::collections::BTreeSet::new();
    for path in valid_specs() {
        let compiled = compile(&path);
        let model = &compiled.model;
        for phase in model.phases.iter().filter(|p| p.target == Target::K8s) {
            let rendered = topo::render::render(model, phase, Target::K8s);
            let docs: Vec<Value> = documents(&rendered.stream());
            let at = format!("{} phase {}", path.display(), phase.number);
            let used = topo::render::k8s::secrets::used_secrets(model, phase);
            let name = topo::model::names::secret_name(model);
            // Every secretKeyRef names the one Secret.
            let refs: Vec<&str> = docs
                .iter()
                .flat_map(|d| d["spec"]["template"]["spec"]["containers"].as_sequence().cloned().unwrap_or_default())
                .flat_map(|c| c["env"].as_sequence().cloned().unwrap_or_default())
                .filter_map(|e| e["valueFrom"]["secretKeyRef"]["name"].as_str().map(str::to_owned))
                .map(|n| if n == name { "project" } else { "other" })
                .collect();
            assert!(refs.iter().all(|r| *r == "project"), "{at}: a pod reads another Secret");
            let of_kind = |kind: &str| docs.iter().filter(|d| str_at(d, "kind") == kind).collect::<Vec<_>>();
            let (external, sealed) = (of_kind("ExternalSecret"), of_kind("SealedSecret"));
            let keys = |doc: &Value, at_path: &str| -> Vec<String> {
                get(doc, at_path).as_mapping().unwrap().keys().map(|k| k.as_str().unwrap().to_owned()).collect()
            };
            if used.is_empty() {
                assert!(external.is_empty() && sealed.is_empty(), "{at}: a secret source without secrets");
                continue;
            }
            match &model.secrets_from {
                SecretsSource::OutOfBand => {
                    assert!(external.is_empty() && sealed.is_empty(), "{at}");
                    assert!(rendered.notes.iter().any(|n| n.contains("kubectl create secret generic")), "{at}");
                    seen.insert("out-of-band");
                }
                SecretsSource::External { store, store_kind, keys: remote, .. } => {
                    assert!(sealed.is_empty() && external.len() == 1, "{at}");
                    let doc = external[0];
                    assert_eq!(str_at(doc, "metadata.name"), name, "{at}");
                    assert_eq!(str_at(doc, "spec.target.name"), name, "{at}: the pods' Secret is the target");
                    assert_eq!(str_at(doc, "spec.secretStoreRef.name"), store, "{at}");
                    assert_eq!(str_at(doc, "spec.secretStoreRef.kind"), *store_kind, "{at}");
                    let data = get(doc, "spec.data").as_sequence().unwrap();
                    let entries: Vec<(String, String)> = data
                        .iter()
                        .map(|e| (str_at(e, "secretKey").to_owned(), str_at(e, "remoteRef.key").to_owned()))
                        .collect();
                    let expected: Vec<(String, String)> = used.iter().map(|s| (s.clone(), remote[s].clone())).collect();
                    assert_eq!(entries, expected, "{at}");
                    seen.insert("external-secrets");
                }
                SecretsSource::Sealed { encrypted, .. } => {
                    assert!(external.is_empty() && sealed.len() == 1, "{at}");
                    let doc = sealed[0];
                    assert_eq!(str_at(doc, "metadata.name"), name, "{at}");
                    assert_eq!(str_at(doc, "spec.template.metadata.name"), name, "{at}");
                    assert_eq!(keys(doc, "spec.encryptedData"), used, "{at}");
                    for secret in &used {
                        let text = str_at(doc, &format!("spec.encryptedData.{secret}"));
                        let want = encrypted
                            .get(secret)
                            .map_or(topo::render::k8s::secrets::UNSEALED_PLACEHOLDER, String::as_str);
                        assert_eq!(text, want, "{at}: {secret}");
                    }
                    seen.insert("sealed-secrets");
                }
            }
        }
    }
    assert_eq!(seen.len(), 3, "every source is exercised by some shipped spec, example or fixture: {seen:?}");
}

/// A pod pulling from a registry the spec gives a `pull_secret` for lists
/// that Secret in `imagePullSecrets`; no other pod lists one.
#[test]
fn pods_from_a_private_registry_get_its_pull_secret() {
    let mut with_secret = 0;
    for path in valid_specs() {
        let compiled = compile(&path);
        for phase in compiled.model.phases.iter().filter(|p| p.target == Target::K8s) {
            let docs: Vec<Value> = documents(&topo::render::render(&compiled.model, phase, Target::K8s).stream());
            for service in phase.services.values() {
                let kind = match (service.is_global(), service.stateful) {
                    (true, _) => "DaemonSet",
                    (false, true) => "StatefulSet",
                    (false, false) => "Deployment",
                };
                let pod = get(find(&docs, kind, &service.name), "spec.template.spec");
                let expected = compiled.model.registries.get(service.image.registry());
                let listed = get(pod, "imagePullSecrets.0.name").as_str();
                assert_eq!(listed, expected.map(String::as_str), "{} {}", path.display(), service.name);
                with_secret += usize::from(listed.is_some());
            }
        }
    }
    assert!(with_secret >= 5, "finanzas and every-field pull from private registries");
}

/// The README's `secrets_from` snippets (section "Secrets on Kubernetes"),
/// each added to a small spec, compile and render the object they describe,
/// which its vendored CRD schema accepts.
#[test]
fn readme_secrets_from_snippets_render() {
    let readme = fs_err::read_to_string(root().join("README.md")).unwrap();
    let start = readme.find("### Secrets on Kubernetes").expect("the README's section on secrets_from");
    let section = &readme[start..];
    let section = &section[..section[4..].find("\n### ").map_or(section.len(), |i| i + 4)];
    let blocks: Vec<&str> = section.split("```yaml\n").skip(1).map(|rest| rest.split("```").next().unwrap()).collect();
    assert_eq!(blocks.len(), 2, "the section shows one snippet per rendered source");
    let mut kinds = Vec::new();
    for block in blocks {
        let text = format!(
            "project: shop\n\
             phases: {{ 1: {{ name: k3s, target: k8s, nodes: {{ node-1: {{ role: manager, cpu: 4, memory: 8Gi }} }} }} }}\n\
             secrets: [DATABASE_URL, STRIPE_KEY]\n\
             services:\n  api: {{ image: \"ghcr.io/example/shop-api:1.4.0\", port: 8080, secrets: [DATABASE_URL, STRIPE_KEY], security: {{ run_as_user: 1000 }} }}\n\
             {block}"
        );
        let compiled = compile_text(&text);
        let stream = render(&compiled, 1).stream();
        let input = validators::TempInput::new("readme.yaml", &stream).unwrap();
        validators::kubernetes_validate(input.path()).unwrap_or_else(|e| panic!("{block}: {e}"));
        let docs: Vec<Value> = documents(&stream);
        let source = docs
            .iter()
            .find(|d| ["ExternalSecret", "SealedSecret"].contains(&str_at(d, "kind")))
            .unwrap_or_else(|| panic!("{block}: neither an ExternalSecret nor a SealedSecret"));
        assert_eq!(str_at(source, "metadata.name"), "shop-secrets");
        match str_at(source, "kind") {
            "ExternalSecret" => {
                assert_eq!(str_at(source, "spec.secretStoreRef.kind"), "ClusterSecretStore");
                assert_eq!(str_at(source, "spec.refreshInterval"), "30m");
                assert_eq!(str_at(source, "spec.data.0.remoteRef.key"), "shop/DATABASE_URL", "the default key");
                assert_eq!(str_at(source, "spec.data.1.remoteRef.key"), "payments/stripe-api-key");
            }
            _ => {
                assert!(str_at(source, "spec.encryptedData.DATABASE_URL").starts_with("AgB"));
                assert_eq!(
                    str_at(source, "spec.encryptedData.STRIPE_KEY"),
                    topo::render::k8s::secrets::UNSEALED_PLACEHOLDER
                );
            }
        }
        kinds.push(str_at(source, "kind").to_owned());
    }
    assert_eq!(kinds, ["ExternalSecret", "SealedSecret"]);
}

/// A secret in a command's arguments is `$(NAME)`, which the kubelet expands from the container's
/// own env var for the secret; every other `$` is doubled, so that it reaches the process as text.
#[test]
fn a_secret_in_a_command_is_expanded_by_the_kubelet_from_its_secret_env_var() {
    let compiled = compile_text(
        r#"
project: args
phases: { 1: { name: one, target: k8s, nodes: { n1: { role: manager, cpu: 2, memory: 4Gi } } } }
secrets: [REDIS_PASSWORD]
services:
  cache:
    image: redis:7.4
    port: 6379
    secrets: [REDIS_PASSWORD]
    entrypoint: [docker-entrypoint.sh]
    command: [redis-server, --requirepass, "${REDIS_PASSWORD}", --name, "a$b $(HOME) $$x"]
"#,
    );
    let rendered = render(&compiled, 1);
    let docs: Vec<Value> = documents(&rendered.stream());
    let container = get(find(&docs, "Deployment", "cache"), "spec.template.spec.containers.0");
    let args: Vec<&str> = get(container, "args").as_sequence().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(args, ["redis-server", "--requirepass", "$(REDIS_PASSWORD)", "--name", "a$$b $$(HOME) $$$$x"]);
    assert_eq!(str_at(container, "command.0"), "docker-entrypoint.sh");
    let env = get(container, "env").as_sequence().unwrap();
    let secret = env.iter().find(|e| str_at(e, "name") == "REDIS_PASSWORD").expect("the secret's env var");
    assert_eq!(str_at(secret, "valueFrom.secretKeyRef.key"), "REDIS_PASSWORD");
    // What the kubelet makes of them (`$$` is one `$`, `$(NAME)` the variable's value).
    let expanded: Vec<String> = args.iter().map(|a| kubelet_expand(a, &[("REDIS_PASSWORD", "s3cret")])).collect();
    assert_eq!(expanded, ["redis-server", "--requirepass", "s3cret", "--name", "a$b $(HOME) $$x"]);
}

/// The kubelet's expansion of `$(VAR)` in command and args (k8s.io/kubernetes third_party expansion):
/// `$$` is `$`, `$(NAME)` of a known variable its value, anything else as written.
fn kubelet_expand(text: &str, vars: &[(&str, &str)]) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(inner) = after.strip_prefix('(')
            && let Some(close) = inner.find(')')
            && let Some((_, value)) = vars.iter().find(|(k, _)| *k == &inner[..close])
        {
            out.push_str(value);
            rest = &inner[close + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// A volume `from` another service mounts the owner's claim (a StatefulSet's
/// first replica's), declares no claim of its own, and runs beside the owner's
/// pods when the claim is ReadWriteOnce; a ReadWriteMany claim needs no
/// affinity, and the plan places the pods as the affinity says.
#[test]
fn a_volume_from_another_service_mounts_the_owners_claim_beside_it() {
    let spec = "project: cloud
phases:
  1:
    name: one
    target: k8s
    nodes:
      k-1: { role: manager, cpu: 4, memory: 8Gi }
      k-2: { role: worker, cpu: 4, memory: 8Gi }
      k-3: { role: worker, cpu: 4, memory: 8Gi }
services:
  app:
    image: files:1.0
    security: { run_as_user: 33 }
    placement: { node: k-2 }
    volumes: { html: { mount: /var/www/html, size: 5Gi } }
  db:
    image: files:1.0
    security: { run_as_user: 33 }
    stateful: true
    placement: { node: k-2 }
    volumes: { data: { mount: /data, size: 5Gi }, dumps: { mount: /dumps, size: 5Gi, access: ReadWriteMany } }
  cron:
    image: files:1.0
    security: { run_as_user: 33 }
    volumes: { html: { from: app, mount: /srv/html }, data: { from: db, mount: /srv/db, read_only: true } }
  backup:
    image: files:1.0
    security: { run_as_user: 33 }
    replicas: 2
    volumes: { dumps: { from: db, mount: /dumps } }
";
    let compiled = compile_text(spec);
    let rendered = render(&compiled, 1);
    assert!(!rendered.diagnostics.iter().any(|d| d.is_error()), "{:?}", rendered.diagnostics);
    let docs: Vec<Value> =
        rendered.documents.iter().map(|d| serde_norway::from_str(&topo::emit::yaml::text(&d.body)).unwrap()).collect();
    let claims: Vec<&str> = docs
        .iter()
        .filter(|d| str_at(d, "kind") == "PersistentVolumeClaim")
        .map(|d| str_at(d, "metadata.name"))
        .collect();
    assert_eq!(claims, ["app-html"], "the owners' claims only (db's are its claim templates)");
    let cron = find(&docs, "Deployment", "cron");
    let volumes = get(cron, "spec.template.spec.volumes").as_sequence().unwrap();
    let claim_of = |name: &str| {
        let volume = volumes.iter().find(|v| str_at(v, "name") == name).unwrap();
        str_at(volume, "persistentVolumeClaim.claimName").to_owned()
    };
    assert_eq!(claim_of("html"), "app-html");
    assert_eq!(claim_of("data"), "data-db-0", "a StatefulSet's claim is its first replica's");
    let terms = get(cron, "spec.template.spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution");
    let beside: Vec<&str> = terms
        .as_sequence()
        .unwrap()
        .iter()
        .map(|t| {
            assert_eq!(str_at(t, "topologyKey"), "kubernetes.io/hostname");
            str_at(t, "labelSelector.matchLabels.app.kubernetes.io/name")
        })
        .collect();
    assert_eq!(beside, ["app", "db"], "both claims are ReadWriteOnce");
    assert_eq!(str_at(cron, "spec.strategy.type"), "Recreate");
    let backup = find(&docs, "Deployment", "backup");
    assert!(get(backup, "spec.template.spec").get("affinity").is_none(), "a ReadWriteMany claim mounts anywhere");

    let plan = topo::plan::plan(&compiled.model);
    let nodes_of = |service: &str| -> std::collections::BTreeSet<Option<String>> {
        plan.phases[0].placement.iter().filter(|p| p.service == service).map(|p| p.node.clone()).collect()
    };
    assert_eq!(nodes_of("cron"), BTreeSet::from([Some("k-2".to_owned())]), "the plan places cron beside app and db");

    // Owners on two nodes: cron's pods could run beside one of them only.
    let apart = compile_text(&spec.replacen("placement: { node: k-2 }", "placement: { node: k-3 }", 1));
    let errors: Vec<String> =
        render(&apart, 1).diagnostics.iter().filter(|d| d.is_error()).map(|d| d.message.clone()).collect();
    assert!(errors.iter().any(|e| e.contains("beside another volume it mounts")), "{errors:?}");

    // A StatefulSet of several replicas has a claim per replica: which one would it mount?
    let many = compile_text(&spec.replace("    stateful: true\n", "    stateful: true\n    replicas: 2\n"));
    let errors: Vec<String> = render(&many, 1)
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| format!("{} {}", d.code, d.path))
        .collect();
    assert!(errors.contains(&"volume-not-shared services.cron.volumes.data.from".to_owned()), "{errors:?}");
}

/// An env value naming a secret is its own `env` entry after the secret's
/// `secretKeyRef`, as `$(NAME)` for the kubelet to expand, with every other
/// `$` doubled; it is in no ConfigMap, and no value is in the manifests.
#[test]
fn an_env_value_naming_a_secret_is_expanded_by_the_kubelet() {
    let spec = r#"project: shop
phases:
  1: { name: one, target: k8s, nodes: { k-1: { role: manager, cpu: 4, memory: 8Gi } } }
secrets: [DB_PASSWORD]
env: { LOG_LEVEL: info }
services:
  api:
    image: api:1.0
    port: 8080
    security: { run_as_user: 1000 }
    secrets: [DB_PASSWORD]
    env: { DATABASE_URL: "postgres://app:${DB_PASSWORD}@db/app?a=$(HOME)", MODE: plain }
"#;
    let compiled = compile_text(spec);
    let rendered = render(&compiled, 1);
    let docs: Vec<Value> =
        rendered.documents.iter().map(|d| serde_norway::from_str(&topo::emit::yaml::text(&d.body)).unwrap()).collect();
    let config = find(&docs, "ConfigMap", "api-env");
    assert_eq!(str_at(config, "data.MODE"), "plain");
    assert!(get(config, "data").get("DATABASE_URL").is_none(), "not in the ConfigMap");
    let env = get(find(&docs, "Deployment", "api"), "spec.template.spec.containers.0.env").as_sequence().unwrap();
    let names: Vec<&str> = env.iter().map(|e| str_at(e, "name")).collect();
    assert_eq!(names, ["DB_PASSWORD", "DATABASE_URL"], "the secret first: the kubelet expands from variables above");
    let value = str_at(&env[1], "value");
    assert_eq!(value, "postgres://app:$(DB_PASSWORD)@db/app?a=$$(HOME)");
    assert_eq!(
        kubelet_expand(value, &[("DB_PASSWORD", "s3cret"), ("HOME", "/root")]),
        "postgres://app:s3cret@db/app?a=$(HOME)"
    );
}
