//! The Kubernetes NetworkPolicies, read back by a reader of the standard
//! semantics (tests/support/netpol.rs): for every shipped spec's k8s phases,
//! every ordered pair of services and every port, "may A reach B on P" is
//! what the dependency graph says: A `depends_on` B and P is a port of B.

#![allow(clippy::unwrap_used, clippy::panic)]

use crate::support::compile_text;
use crate::support::netpol;
use crate::support::specs;
use topo::emit::yaml::Serialised as _;

use std::collections::BTreeSet;

use netpol::{Cluster, Pod};
use serde_json::{Value, json};
use specs::valid_specs;
use topo::model::{Model, Phase};
use topo::spec::Target;

fn docs(model: &Model, phase: &Phase) -> Vec<Value> {
    let rendered = topo::render::render(model, phase, Target::K8s);
    rendered.stream().split("\n---\n").map(|doc| serde_norway::from_str::<Value>(doc).unwrap()).collect()
}

/// Pods outside the project that the policies name: the ingress controller,
/// Prometheus, CoreDNS, and a stranger in a namespace nobody mentions.
fn outsiders(model: &Model) -> (Pod, Pod, Pod, Pod) {
    let mut traefik = Pod::new("traefik", &model.ingress.controller_namespace, &[]);
    traefik.labels = model.ingress.controller_pods.clone();
    let prometheus = Pod::new("prometheus", &model.monitoring.namespace, &[("app.kubernetes.io/name", "prometheus")]);
    let mut dns = Pod::new("coredns", "kube-system", &[("k8s-app", "kube-dns")]);
    dns.ports = vec![("dns".into(), 53, "UDP".into()), ("dns-tcp".into(), 53, "TCP".into())];
    let stranger = Pod::new("stranger", "elsewhere", &[("app.kubernetes.io/name", "stranger")]);
    (traefik, prometheus, dns, stranger)
}

/// Every port any service of the phase listens on, and one nobody does.
fn ports(phase: &Phase) -> BTreeSet<u16> {
    let mut ports: BTreeSet<u16> = phase.services.values().flat_map(|s| s.ports.iter().map(|p| p.number)).collect();
    ports.insert(1);
    ports
}

/// What the reader says differs from the graph, for one phase.
fn mismatches(model: &Model, phase: &Phase) -> Vec<String> {
    let cluster = Cluster::new(&docs(model, phase));
    let (traefik, prometheus, dns, stranger) = outsiders(model);
    let mut wrong = Vec::new();
    let mut expect = |what: String, got: bool, want: bool| {
        if got != want {
            wrong.push(format!("{what}: policies say {got}, the graph says {want}"));
        }
    };
    for a in phase.services.values() {
        let from = cluster.pod(&a.name);
        for b in phase.services.values() {
            let to = cluster.pod(&b.name);
            for port in ports(phase) {
                let want = a.depends_on.contains(&b.name) && b.ports.iter().any(|p| p.number == port);
                let pair = format!("{} → {}:{port}", a.name, b.name);
                expect(pair.clone(), cluster.may_reach(from, to, port.into(), "TCP"), want);
                // Each side on its own, too: neither leans on the other.
                expect(format!("{pair} (egress)"), cluster.egress_allows(from, to, port.into(), "TCP"), want);
                expect(format!("{pair} (ingress)"), cluster.ingress_allows(from, to, port.into(), "TCP"), want);
            }
        }
        for port in ports(phase) {
            let exposed = a.expose.as_ref().is_some_and(|e| e.port == port);
            let scraped = a.metrics.as_ref().is_some_and(|m| m.port.number == port);
            let reach = |pod: &Pod| cluster.may_reach(pod, from, port.into(), "TCP");
            expect(format!("ingress controller → {}:{port}", a.name), reach(&traefik), exposed);
            expect(format!("prometheus → {}:{port}", a.name), reach(&prometheus), scraped);
            expect(format!("elsewhere → {}:{port}", a.name), reach(&stranger), false);
            expect(
                format!("{} → elsewhere:{port}", a.name),
                cluster.may_reach(from, &stranger, port.into(), "TCP"),
                false,
            );
        }
        for protocol in ["UDP", "TCP"] {
            expect(format!("{} → DNS/{protocol}", a.name), cluster.may_reach(from, &dns, 53, protocol), true);
        }
        expect(format!("{} → kube-system:80", a.name), cluster.may_reach(from, &dns, 80, "TCP"), false);
    }
    // cert-manager's HTTP-01 solver, in the namespace, behind a temporary Ingress.
    let mut solver = Pod::new("solver", &model.project, &[("acme.cert-manager.io/http01-solver", "true")]);
    solver.ports = vec![("http".into(), 8089, "TCP".into())];
    let certificates = model.ingress.cluster_issuer.is_some()
        && phase.services.values().any(|s| s.expose.as_ref().is_some_and(|e| e.tls));
    expect(
        "ingress controller → HTTP-01 solver".into(),
        cluster.may_reach(&traefik, &solver, 8089, "TCP"),
        certificates,
    );
    expect("elsewhere → HTTP-01 solver".into(), cluster.may_reach(&stranger, &solver, 8089, "TCP"), false);
    wrong
}

#[test]
fn every_shipped_k8s_phase_allows_exactly_the_dependency_graph() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for path in valid_specs() {
        let compiled = topo::compile(&fs_err::read(&path).unwrap()).unwrap_or_else(|_| panic!("{}", path.display()));
        for phase in compiled.model.phases.iter().filter(|p| p.target == Target::K8s) {
            assert!(
                phase.network_policies,
                "{}: a shipped phase opts out; this test would prove nothing",
                path.display()
            );
            for wrong in mismatches(&compiled.model, phase) {
                failures.push(format!("{} phase {}: {wrong}", path.display(), phase.number));
            }
            checked += 1;
        }
    }
    assert!(checked >= 4, "only {checked} k8s phases");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

const GRAPH: &str = r#"
project: shop
phases:
  1: { name: k3s, target: k8s, nodes: { n1: { role: manager, cpu: 4, memory: 8Gi } } }
ingress: { controller: { namespace: ingress-nginx, pods: { app: nginx } }, class: nginx }
monitoring: { namespace: observability }
services:
  web:
    image: nginx:1.27
    port: 8080
    expose: { host: shop.example.com }
    depends_on: [api]
    security: { run_as_user: 101 }
  api:
    image: ghcr.io/shop/api:1.0
    port: 3000
    ports: { metrics: 9100, admin: 9000 }
    metrics: { port: 9100 }
    depends_on: [db, cache]
    security: { run_as_user: 1000 }
    allow:
      from: [{ namespace: batch, pods: { job: nightly }, ports: [9000] }]
      to: [{ cidr: 203.0.113.0/24, ports: [443] }, { namespace: payments }]
  db: { image: "postgres:17", port: 5432, stateful: true, volumes: { data: { mount: /var/lib/postgresql/data, size: 1Gi } } }
  cache: { image: "redis:8.2", port: 6379 }
  worker: { image: ghcr.io/shop/worker:1.0, depends_on: [db], security: { run_as_user: 1000 } }
"#;

/// A graph of its own: the spec's ingress controller and monitoring
/// namespace, `allow` peers, a worker without ports.
#[test]
fn a_graph_of_its_own_with_allowances() {
    let compiled = compile_text(GRAPH);
    let model = &compiled.model;
    let phase = &model.phases[0];
    assert_eq!(mismatches(model, phase), Vec::<String>::new());
    let cluster = Cluster::new(&docs(model, phase));
    let api = cluster.pod("api");
    let nightly = Pod::new("nightly", "batch", &[("job", "nightly")]);
    let other_job = Pod::new("other", "batch", &[("job", "weekly")]);
    assert!(cluster.may_reach(&nightly, api, 9000, "TCP"), "allow.from on its port");
    assert!(!cluster.may_reach(&nightly, api, 3000, "TCP"), "allow.from only on its ports");
    assert!(!cluster.may_reach(&other_job, api, 9000, "TCP"), "allow.from only those pods");
    let payments = Pod::new("pay", "payments", &[]);
    assert!(cluster.may_reach(api, &payments, 8443, "TCP"), "allow.to a namespace, any port");
    assert!(!cluster.may_reach(cluster.pod("worker"), &payments, 8443, "TCP"), "only api's egress");
    let docs = docs(model, phase);
    let api_policy = docs.iter().find(|d| d["kind"] == "NetworkPolicy" && d["metadata"]["name"] == "api").unwrap();
    let cidr_rule = &api_policy["spec"]["egress"].as_array().unwrap().iter().find(|r| !r["to"][0]["ipBlock"].is_null());
    assert_eq!(cidr_rule.unwrap()["to"][0]["ipBlock"]["cidr"], "203.0.113.0/24");
    assert_eq!(cidr_rule.unwrap()["ports"], json!([{ "port": 443, "protocol": "TCP" }]));
}

#[test]
fn a_phase_can_opt_out() {
    let text = GRAPH.replace("target: k8s,", "target: k8s, network_policies: false,");
    let compiled = compile_text(&text);
    let docs = docs(&compiled.model, &compiled.model.phases[0]);
    assert!(docs.iter().all(|d| d["kind"] != "NetworkPolicy"));
    let cluster = Cluster::new(&docs);
    assert!(cluster.may_reach(cluster.pod("worker"), cluster.pod("cache"), 6379, "TCP"), "nothing is isolated");
}

/// The reader itself, on the examples of the Kubernetes documentation: it is
/// what the other tests trust.
#[test]
fn the_reader_follows_the_standard_semantics() {
    let policy = |name: &str, spec: Value| {
        json!({ "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                "metadata": { "name": name, "namespace": "default" }, "spec": spec })
    };
    let deployment = |name: &str, role: &str, port: i64| {
        json!({ "kind": "Deployment", "metadata": { "name": name, "namespace": "default" },
                "spec": { "template": { "metadata": { "labels": { "role": role } },
                          "spec": { "containers": [{ "ports": [{ "name": "web", "containerPort": port }] }] } } } })
    };
    let db = deployment("db", "db", 6379);
    let frontend = deployment("frontend", "frontend", 80);
    let loner = deployment("loner", "loner", 80);
    // Ingress-only isolation of db, from role=frontend on the named port `web`.
    let only_frontend = policy(
        "db",
        json!({ "podSelector": { "matchLabels": { "role": "db" } },
                "ingress": [{ "from": [{ "podSelector": { "matchLabels": { "role": "frontend" } } }],
                              "ports": [{ "port": "web" }] }] }),
    );
    let cluster = Cluster::new(&[db.clone(), frontend.clone(), loner.clone(), only_frontend.clone()]);
    let (db_pod, fe, lone) = (cluster.pod("db"), cluster.pod("frontend"), cluster.pod("loner"));
    assert!(cluster.may_reach(fe, db_pod, 6379, "TCP"), "named port resolved on the destination");
    assert!(!cluster.may_reach(fe, db_pod, 6380, "TCP"));
    assert!(!cluster.may_reach(lone, db_pod, 6379, "TCP"));
    assert!(cluster.may_reach(db_pod, lone, 80, "TCP"), "no Egress type: egress not isolated");
    assert!(cluster.may_reach(lone, fe, 1, "TCP"), "a pod no policy selects is open");
    // A second policy adds: loner now may, on a range.
    let range = policy(
        "range",
        json!({ "podSelector": { "matchLabels": { "role": "db" } },
                "ingress": [{ "from": [{ "podSelector": { "matchExpressions": [{ "key": "role", "operator": "In", "values": ["loner"] }] } }],
                              "ports": [{ "port": 6000, "endPort": 6400 }] }] }),
    );
    let cluster = Cluster::new(&[db.clone(), frontend.clone(), loner.clone(), only_frontend, range]);
    assert!(cluster.may_reach(cluster.pod("loner"), cluster.pod("db"), 6379, "TCP"));
    assert!(!cluster.may_reach(cluster.pod("loner"), cluster.pod("db"), 6379, "UDP"), "TCP by default");
    // Default deny of egress: nobody in default may send, whatever the ingress side says.
    let deny = policy("deny", json!({ "podSelector": {}, "policyTypes": ["Egress"] }));
    let cluster = Cluster::new(&[db, frontend, loner, deny]);
    assert!(!cluster.may_reach(cluster.pod("frontend"), cluster.pod("db"), 6379, "TCP"));
    // ipBlock is for addresses outside the cluster; a namespace selector needs the namespace's labels.
    let outside = json!({ "ipBlock": { "cidr": "0.0.0.0/0" } });
    let cluster_a = Cluster::new(&[policy("a", json!({ "podSelector": {}, "ingress": [{ "from": [outside] }] }))]);
    let (x, y) = (Pod::new("x", "default", &[]), Pod::new("y", "other", &[]));
    assert!(!cluster_a.may_reach(&y, &x, 80, "TCP"));
    let by_namespace = json!({ "namespaceSelector": { "matchLabels": { "kubernetes.io/metadata.name": "other" } } });
    let cluster_b = Cluster::new(&[policy("b", json!({ "podSelector": {}, "ingress": [{ "from": [by_namespace] }] }))]);
    assert!(cluster_b.may_reach(&y, &x, 80, "TCP"));
    assert!(!cluster_b.may_reach(&Pod::new("z", "third", &[]), &x, 80, "TCP"));
}
