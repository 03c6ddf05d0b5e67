//! Every stage on generated specs of 100, 1,000 and 10,000 services (see
//! `support/spec_gen.rs`), without process start-up: `cargo bench --bench scale`.
//! `TOPO_BENCH_SIZES=100,1000` picks the sizes.

#[path = "support/spec_gen.rs"]
mod spec_gen;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use topo::spec::Target;

fn sizes() -> Vec<usize> {
    let sizes = std::env::var("TOPO_BENCH_SIZES").unwrap_or_else(|_| "100,1000,10000".to_owned());
    sizes.split(',').filter_map(|s| s.trim().parse().ok()).collect()
}

fn scale(c: &mut Criterion) {
    for services in sizes() {
        let text = spec_gen::spec(services);
        let mut group = c.benchmark_group(format!("{services} services"));
        if services >= 10_000 {
            group.sample_size(10);
        }
        group.bench_function("compile", |b| b.iter(|| topo::compile(std::hint::black_box(text.as_bytes())).is_ok()));
        let Ok(compiled) = topo::compile(text.as_bytes()) else {
            eprintln!("the generated spec of {services} services is invalid");
            continue;
        };
        let model = &compiled.model;
        group.bench_function("plan", |b| b.iter(|| topo::plan::plan(std::hint::black_box(model)).phases.len()));
        for (number, target) in [(1, Target::Compose), (2, Target::Swarm), (3, Target::K8s)] {
            let Some(phase) = model.phase(number) else { continue };
            group.bench_with_input(BenchmarkId::new("render", target.as_str()), phase, |b, phase| {
                b.iter(|| topo::render::render(std::hint::black_box(model), phase, target).documents.len())
            });
        }
        group.bench_function("render_all", |b| {
            b.iter(|| topo::gitops::render_all(std::hint::black_box(model), "bench.yaml").files.len())
        });
        group.finish();
    }
}

criterion_group!(benches, scale);
criterion_main!(benches);
