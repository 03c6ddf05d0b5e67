//! How long `topo check` spends on a spec, without process start-up:
//! `cargo bench --bench check`.

use criterion::{Criterion, criterion_group, criterion_main};

fn check(c: &mut Criterion) {
    let finanzas = include_bytes!("../specs/finanzas.yaml");
    let design = include_bytes!("../tests/fixtures/valid/design-example.yaml");
    c.bench_function("compile specs/finanzas.yaml", |b| {
        b.iter(|| topo::compile(std::hint::black_box(finanzas)).map(|c| c.model.phases.len()))
    });
    let text = std::str::from_utf8(finanzas).unwrap_or_default();
    c.bench_function("saphyr events only", |b| {
        b.iter(|| {
            let mut parser = saphyr_parser::Parser::new_from_str(std::hint::black_box(text));
            let mut n = 0;
            while let Some(Ok(_)) = parser.next_event() {
                n += 1;
            }
            n
        })
    });
    c.bench_function("stage: yaml parse", |b| {
        b.iter(|| topo::yaml::parse(std::hint::black_box(text), &mut Default::default()).is_ok())
    });
    c.bench_function("stage: yaml parse + decode", |b| {
        b.iter(|| topo::spec::load::load(std::hint::black_box(text)).is_ok())
    });
    c.bench_function("compile design-example.yaml", |b| {
        b.iter(|| topo::compile(std::hint::black_box(design)).map(|c| c.model.phases.len()))
    });
}

criterion_group!(benches, check);
criterion_main!(benches);
