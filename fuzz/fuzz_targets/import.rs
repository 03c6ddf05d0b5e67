//! Any bytes into `topo::import::import`: it returns a spec or a report with
//! errors, never panics; a spec it returns compiles; every diagnostic is
//! located inside the input.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let options = topo::import::Options { file_name: "docker-compose.yml".into(), ..Default::default() };
    let imported = topo::import::import(data, &options);
    match &imported.spec {
        Some(spec) => {
            assert!(!imported.report.has_errors(), "a spec together with errors");
            if let Err(diags) = topo::compile(spec.as_bytes()) {
                panic!("import wrote a spec topo rejects: {:?}", diags.iter().map(|d| &d.message).collect::<Vec<_>>());
            }
        }
        None => assert!(imported.report.has_errors(), "no spec and no error"),
    }
    for diag in imported.report.iter() {
        if let Some(span) = diag.span {
            assert!(span.start.offset <= data.len(), "{}: offset {} past the end", diag.code, span.start.offset);
        }
    }
});
