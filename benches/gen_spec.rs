//! Writes a generated spec (see `support/spec_gen.rs`) to stdout:
//! `cargo run --release --example gen-spec -- 1000 > bench-1000.yaml`.

#[path = "support/spec_gen.rs"]
mod spec_gen;

fn main() -> std::process::ExitCode {
    let Some(count) = std::env::args().nth(1).and_then(|n| n.parse::<usize>().ok()) else {
        eprintln!("usage: gen-spec SERVICES");
        return std::process::ExitCode::from(2);
    };
    print!("{}", spec_gen::spec(count));
    std::process::ExitCode::SUCCESS
}
