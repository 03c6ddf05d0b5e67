//! Any bytes into `topo::compile`: it returns a model or diagnostics, never
//! panics, hangs or runs out of memory; whatever it returns can be printed
//! the way the CLI prints it.

#![no_main]

use libfuzzer_sys::fuzz_target;
use topo::diag::{render_human, render_json};

fuzz_target!(|data: &[u8]| {
    let diags = match topo::compile(data) {
        Ok(compiled) => {
            serde_json::to_string(&compiled.model).expect("a model serialises");
            compiled.warnings
        }
        Err(diags) => {
            assert!(diags.has_errors(), "an Err carries at least one error");
            diags
        }
    };
    for diag in diags.iter() {
        let span = diag.span.expect("every diagnostic is located");
        assert!(span.start.line >= 1 && span.start.column >= 1, "{}: {:?}", diag.code, span);
        assert!(span.start.offset <= data.len(), "{}: offset {} past the end", diag.code, span.start.offset);
    }
    let source = String::from_utf8_lossy(data);
    render_human(&diags, "topo.yaml", &source, false);
    render_json(&diags, "topo.yaml", !diags.has_errors());
});
