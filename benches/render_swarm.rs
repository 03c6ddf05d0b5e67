//! Rendering a generated 1,000-service spec to a Swarm stack, without process
//! start-up: `cargo bench --bench render_swarm`. Issue 4 asks for at least 5×
//! faster than `docker stack config` reading the result.

use std::fmt::Write as _;

use criterion::{Criterion, criterion_group, criterion_main};

/// A spec with `count` services over three nodes: ports, health checks,
/// exposed hosts, dependencies, volumes and placement, as in finanzas.
fn spec(count: usize) -> String {
    let mut text = String::from(
        "project: bench
phases:
  1:
    name: swarm
    target: swarm
    nodes:
      vps-1: { role: manager, cpu: 64, memory: 256Gi }
      vps-2: { cpu: 64, memory: 256Gi, labels: { tier: batch } }
      vps-3: { cpu: 64, memory: 256Gi }
ingress: { tls: letsencrypt }
env: { NODE_ENV: production }
secrets: [DB_PASSWORD]
services:
",
    );
    for i in 0..count {
        let _ = write!(
            text,
            "  svc-{i}:
    image: registry.example.com/svc-{i}:1.0.{i}
    port: {port}
    replicas: {replicas}
    resources: {{ requests: {{ cpu: 100m, memory: 128Mi }}, limits: {{ cpu: 250m, memory: 256Mi }} }}
    secrets: [DB_PASSWORD]
    health: {{ http: /health }}
    expose: {{ host: svc-{i}.example.com }}
",
            port = 3000 + i % 1000,
            replicas = 1 + i % 3,
        );
        if i > 0 {
            let _ = writeln!(text, "    depends_on: [svc-{}]", i - 1);
        }
        if i % 10 == 0 {
            let _ = writeln!(text, "    placement: {{ labels: {{ tier: batch }} }}");
        }
    }
    text
}

fn render_swarm(c: &mut Criterion) {
    let text = spec(1000);
    let Ok(compiled) = topo::compile(text.as_bytes()) else {
        eprintln!("the generated spec is invalid");
        return;
    };
    let phase = &compiled.model.phases[0];
    c.bench_function("render 1,000 services to swarm", |b| {
        b.iter(|| topo::render::render(&compiled.model, std::hint::black_box(phase), topo::spec::Target::Swarm))
    });
    c.bench_function("compile + render 1,000 services to swarm", |b| {
        b.iter(|| {
            let compiled = topo::compile(std::hint::black_box(text.as_bytes())).ok()?;
            Some(topo::render::render(&compiled.model, &compiled.model.phases[0], topo::spec::Target::Swarm))
        })
    });
}

criterion_group!(benches, render_swarm);
criterion_main!(benches);
