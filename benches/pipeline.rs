//! The stages after `check`, on the finanzas spec, without process start-up:
//! `cargo bench --bench pipeline`.

use criterion::{Criterion, criterion_group, criterion_main};
use topo::render::Output;
use topo::spec::Target;

fn pipeline(c: &mut Criterion) {
    let bytes = include_bytes!("../specs/finanzas.yaml");
    let Ok(compiled) = topo::compile(bytes) else { return };
    let model = &compiled.model;
    for (number, output, label) in [
        (1, Output::Target(Target::Compose), "render phase 1 compose"),
        (2, Output::Target(Target::Swarm), "render phase 2 swarm"),
        (3, Output::Target(Target::K8s), "render phase 3 k8s"),
        (3, Output::Rules, "render phase 3 rules"),
    ] {
        let Some(phase) = model.phase(number) else { continue };
        c.bench_function(label, |b| {
            b.iter(|| topo::render::render_output(std::hint::black_box(model), phase, output).documents.len())
        });
    }
    c.bench_function("plan (every phase and migration)", |b| {
        b.iter(|| topo::plan::plan(std::hint::black_box(model)).phases.len())
    });
    c.bench_function("plan as markdown", |b| {
        let plan = topo::plan::plan(model);
        b.iter(|| topo::plan::markdown::plan(std::hint::black_box(&plan), None).len())
    });
    c.bench_function("render --all in memory (27 files)", |b| {
        b.iter(|| topo::gitops::render_all(std::hint::black_box(model), "finanzas.yaml").files.len())
    });
    c.bench_function("compile + render --all", |b| {
        b.iter(|| {
            topo::compile(std::hint::black_box(bytes))
                .map(|c| topo::gitops::render_all(&c.model, "finanzas.yaml").files.len())
        })
    });
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
