//! A generator of large specs for the benchmarks and the scale tests, of the
//! shape issue 15 measures: `services` services of about three replicas each;
//! one in 25 stateful with a volume, one in 7 autoscaled (on Kubernetes), one
//! in 5 exposed, every third depending on the one before; three phases:
//! compose on one big node, Swarm on `services / 16` nodes and Kubernetes on
//! `services / 8` (at least two of each).

use std::fmt::Write as _;

/// The name of the `i`th service.
pub fn service_name(i: usize) -> String {
    format!("svc-{i:05}")
}

/// A valid spec with `services` services.
pub fn spec(services: usize) -> String {
    let swarm_nodes = (services / 16).max(2);
    let k8s_nodes = (services / 8).max(2);
    // Room for every replica at its peak on each phase, with a margin.
    let cores = |nodes: usize| (services * 3 * 2 / 10 / nodes + 4).next_power_of_two();
    let mut text = String::from(
        "project: bench\n\
         ingress: { tls: { cluster_issuer: letsencrypt-prod, certresolver: letsencrypt } }\n\
         env: { NODE_ENV: production, LOG_LEVEL: info }\n\
         secrets: [DB_PASSWORD]\n\
         phases:\n",
    );
    let big = cores(1);
    let _ = writeln!(text, "  1:\n    name: compose\n    target: compose\n    nodes:");
    let _ = writeln!(text, "      big: {{ role: manager, cpu: {big}, memory: {}Gi }}", big * 4);
    for (number, name, target, nodes) in [(2, "swarm", "swarm", swarm_nodes), (3, "k8s", "k8s", k8s_nodes)] {
        let _ = writeln!(text, "  {number}:\n    name: {name}\n    target: {target}\n    nodes:");
        let each = cores(nodes);
        for n in 0..nodes {
            let role = if n == 0 { "manager" } else { "worker" };
            let _ = writeln!(text, "      node-{n:04}: {{ role: {role}, cpu: {each}, memory: {}Gi }}", each * 4);
        }
    }
    text.push_str("services:\n");
    for i in 0..services {
        service(&mut text, i);
    }
    text
}

fn service(text: &mut String, i: usize) {
    let name = service_name(i);
    let stateful = i.is_multiple_of(25);
    let _ = writeln!(text, "  {name}:");
    let _ = writeln!(text, "    image: registry.example.com/{name}:1.{}.0", i % 10);
    let _ = writeln!(text, "    port: {}", 3000 + i % 1000);
    let _ = writeln!(text, "    replicas: {}", if stateful { 1 } else { 3 });
    let _ = writeln!(
        text,
        "    resources: {{ requests: {{ cpu: 100m, memory: 128Mi }}, limits: {{ cpu: 200m, memory: 256Mi }} }}"
    );
    let _ = writeln!(text, "    health: {{ http: /health }}");
    let _ = writeln!(text, "    env: {{ SERVICE_ID: \"{i}\" }}");
    let _ = writeln!(text, "    security: {{ run_as_user: 1000, run_as_group: 1000 }}");
    if stateful {
        let _ = writeln!(text, "    stateful: true");
        let _ = writeln!(text, "    secrets: [DB_PASSWORD]");
        let _ = writeln!(text, "    volumes: {{ data: {{ mount: /data, size: 10Gi }} }}");
    }
    if i.is_multiple_of(7) && !stateful {
        let _ = writeln!(text, "    autoscale: {{ 3: {{ max: 9, cpu: 70% }} }}");
    }
    if i.is_multiple_of(5) {
        let _ = writeln!(text, "    expose: {{ host: {name}.example.com }}");
    }
    if i.is_multiple_of(3) && i > 0 {
        let _ = writeln!(text, "    depends_on: [{}]", service_name(i - 1));
    }
}
