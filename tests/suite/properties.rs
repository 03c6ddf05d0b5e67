//! Property tests: quantities round-trip through their canonical text, phased
//! values resolve to the nearest earlier phase, and the loader never panics.
//!
//! Case counts are set per block so the whole file runs in a few seconds in a
//! debug build; raise them locally with `PROPTEST_CASES=10000`.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence};
use topo::spec::{Cpu, Duration, Memory, Percent, Phased};

const FINANZAS: &str = include_str!("../../specs/finanzas.yaml");
const DESIGN_EXAMPLE: &str = include_str!("../fixtures/valid/design-example.yaml");

/// `cases` cases, unless `PROPTEST_CASES` asks for more; failures are not
/// written next to the test file (the shrunk input is in the failure message).
fn config(cases: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(cases);
    Config { cases, failure_persistence: Some(Box::new(FileFailurePersistence::Off)), ..Config::default() }
}

/// Text a quantity parser may be handed: mostly number-shaped, with the units,
/// signs, dots and exponents that the parsers branch on.
fn quantity_like() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[ +\\-]?[0-9.]{0,35}([eE][+\\-]?[0-9]{0,12})?(m|k|Ki|Mi|Gi|Ti|Pi|Ei|M|G|T|P|E|%|ms|s|h|d|w|y|[a-zA-Z%]{1,3})? ?",
        "([0-9]{0,25}(ms|s|m|h|d|w|y|x)?){0,6}",
        (any::<i32>(), any::<u8>()).prop_map(|(e, d)| format!("{d}e{e}")),
        (any::<i32>(), any::<u8>()).prop_map(|(e, d)| format!("1.{d}e{e}%")),
    ]
}

/// The value of the greatest key not after `phase`: the reference for `Phased::at`.
fn inherited(map: &BTreeMap<u32, u32>, phase: u32) -> Option<u32> {
    let mut found = None;
    for (&key, &value) in map {
        if key <= phase {
            found = Some(value);
        }
    }
    found
}

/// Every diagnostic of a compile, Ok or Err, must point into the file.
fn assert_located(bytes: &[u8]) -> Result<(), TestCaseError> {
    let diags = match topo::compile(bytes) {
        Ok(compiled) => {
            // What the CLI does with a model must not panic either.
            serde_json::to_string(&compiled.model).map_err(|e| TestCaseError::fail(e.to_string()))?;
            compiled.warnings
        }
        Err(diags) => {
            prop_assert!(diags.has_errors(), "Err without an error diagnostic");
            diags
        }
    };
    for diag in diags.iter() {
        let Some(span) = diag.span else {
            return Err(TestCaseError::fail(format!("`{}` has no span: {}", diag.code, diag.message)));
        };
        prop_assert!(
            span.start.line >= 1 && span.start.column >= 1,
            "`{}` at {}:{}: {}",
            diag.code,
            span.start.line,
            span.start.column,
            diag.message
        );
        prop_assert!(span.start.offset <= bytes.len(), "`{}` offset {} past the end", diag.code, span.start.offset);
    }
    Ok(())
}

/// One edit of a byte string.
#[derive(Clone, Debug)]
enum Edit {
    Delete {
        at: usize,
        len: usize,
    },
    Insert {
        at: usize,
        bytes: Vec<u8>,
    },
    Replace {
        at: usize,
        len: usize,
        bytes: Vec<u8>,
    },
    /// Copy a range of the text elsewhere (repeats keys, lines, indentation).
    Duplicate {
        from: usize,
        len: usize,
        to: usize,
    },
}

/// Bytes worth inserting into YAML: its syntax, spec words and random bytes.
fn yaml_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 1..8),
        prop::sample::select(vec![
            "\n",
            " ",
            "  ",
            ":",
            ": ",
            "- ",
            "{",
            "}",
            "[",
            "]",
            ",",
            "&a ",
            "*a",
            "<<: *a",
            "<<: [*a, *a]",
            "&a [*a, *a]",
            "!!str ",
            "!!int ",
            "!!binary ",
            "!!python/object/apply:os.system ",
            "!!js/function ",
            "!Ref ",
            "! ",
            ".nan",
            ".inf",
            "-.inf",
            "? ",
            "|\n",
            ">-\n",
            "'",
            "\"",
            "#",
            "---\n",
            "...\n",
            "%YAML 1.2\n",
            "\t",
            "~",
            "null",
            "0",
            "-1",
            "4294967296",
            "1e99",
            "0.0001",
            "250m",
            "1Gi",
            "99999999999999999999Ei",
            "50%",
            "1h30m",
            "2:",
            "9:",
            "replicas: ",
            "autoscale: ",
            "{ 1: 2, 3: 4 }",
            "services",
            "phases",
            "target: k8s",
            "role: worker",
            "expose:",
            "depends_on: [web]",
            "\u{feff}",
            "é",
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
    ]
}

fn edit() -> impl Strategy<Value = Edit> {
    // Positions are fractions of the text's length at the time of the edit.
    let at = any::<prop::sample::Index>();
    prop_oneof![
        (at.clone(), 1usize..64).prop_map(|(at, len)| Edit::Delete { at: at.index(usize::MAX), len }),
        (at.clone(), yaml_bytes()).prop_map(|(at, bytes)| Edit::Insert { at: at.index(usize::MAX), bytes }),
        (at.clone(), 1usize..16, yaml_bytes()).prop_map(|(at, len, bytes)| Edit::Replace {
            at: at.index(usize::MAX),
            len,
            bytes
        }),
        (at.clone(), 1usize..256, at).prop_map(|(from, len, to)| Edit::Duplicate {
            from: from.index(usize::MAX),
            len,
            to: to.index(usize::MAX)
        }),
    ]
}

fn apply(text: &mut Vec<u8>, edit: &Edit) {
    let place = |at: usize, len: usize| if len == 0 { 0 } else { at % (len + 1) };
    match edit {
        Edit::Delete { at, len } => {
            let start = place(*at, text.len());
            let end = (start + len).min(text.len());
            text.drain(start..end);
        }
        Edit::Insert { at, bytes } => {
            let start = place(*at, text.len());
            text.splice(start..start, bytes.iter().copied());
        }
        Edit::Replace { at, len, bytes } => {
            let start = place(*at, text.len());
            let end = (start + len).min(text.len());
            text.splice(start..end, bytes.iter().copied());
        }
        Edit::Duplicate { from, len, to } => {
            let start = place(*from, text.len());
            let end = (start + len).min(text.len());
            let copied = text[start..end].to_vec();
            let to = place(*to, text.len());
            text.splice(to..to, copied);
        }
    }
}

// ---------------------------------------------------------------------------
// Quantities

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn cpu_round_trips(millis in any::<u64>()) {
        let cpu = Cpu::from_millis(millis);
        let text = cpu.to_string();
        prop_assert_eq!(Cpu::parse(&text), Ok(cpu), "printed as {}", text);
    }

    #[test]
    fn cpu_millicores_and_cores(n in any::<u64>()) {
        prop_assert_eq!(Cpu::parse(&format!("{n}m")).map(Cpu::millis), Ok(n));
        match n.checked_mul(1000) {
            Some(millis) => prop_assert_eq!(Cpu::parse(&n.to_string()).map(Cpu::millis), Ok(millis)),
            None => prop_assert!(Cpu::parse(&n.to_string()).is_err(), "{} cores overflow u64 millicores", n),
        }
    }

    #[test]
    fn cpu_decimal_cores(whole in 0u64..1_000_000, frac in 0u64..1000) {
        let millis = whole * 1000 + frac;
        prop_assert_eq!(Cpu::parse(&format!("{whole}.{frac:03}")).map(Cpu::millis), Ok(millis));
        // compose's `cpus` is a decimal number of cores that reads back the same.
        let cpu = Cpu::from_millis(millis);
        prop_assert_eq!(Cpu::parse(&cpu.cores_decimal()), Ok(cpu));
    }

    #[test]
    fn memory_round_trips(text in prop_oneof![
        any::<u64>().prop_map(|n| n.to_string()),
        (any::<u32>(), prop::sample::select(vec!["Ki", "Mi", "Gi", "Ti", "k", "M", "G", "T"]))
            .prop_map(|(n, unit)| format!("{n}{unit}")),
        (0u32..1_000_000, 0u32..1000, prop::sample::select(vec!["Ki", "Mi", "Gi", "Ti", "Pi", "k", "M", "G", "T", "P"]))
            .prop_map(|(a, b, unit)| format!("{a}.{b}{unit}")),
        (0u64..10_000, prop::sample::select(vec!["Pi", "Ei", "P", "E"])).prop_map(|(n, unit)| format!("{n}{unit}")),
        (1u32..100_000, 0u32..30).prop_map(|(n, e)| format!("{n}e{e}")),
    ]) {
        // Generated strings may be too large for u64 bytes (`10000Ei`); the rest must round-trip.
        if let Ok(memory) = Memory::parse(&text) {
            let printed = memory.to_string();
            let again = Memory::parse(&printed).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(again.bytes(), memory.bytes(), "`{}` printed as `{}`", text, printed);
            // Printing is a fixed point: the re-read value prints the same way.
            prop_assert_eq!(again.to_string(), printed.clone(), "`{}`", text);
            // A power-of-two unit in the output means a power-of-two value kept its format.
            if printed.ends_with('i') {
                prop_assert_eq!(again.format(), memory.format(), "`{}` printed as `{}`", text, printed);
            }
        }
    }

    #[test]
    fn memory_from_bytes_round_trips(bytes in any::<u64>()) {
        let memory = Memory::from_bytes(bytes);
        let printed = memory.to_string();
        prop_assert_eq!(Memory::parse(&printed).map(Memory::bytes), Ok(bytes), "printed as {}", printed);
    }

    #[test]
    fn memory_unit_identities(n in any::<u32>()) {
        let n = u64::from(n);
        let cases: [(&str, u64); 8] = [
            ("Ki", 1 << 10), ("Mi", 1 << 20), ("Gi", 1 << 30), ("Ti", 1 << 40),
            ("k", 1_000), ("M", 1_000_000), ("G", 1_000_000_000), ("", 1),
        ];
        for (unit, factor) in cases {
            let parsed = Memory::parse(&format!("{n}{unit}")).map(Memory::bytes);
            match n.checked_mul(factor) {
                Some(bytes) => prop_assert_eq!(parsed, Ok(bytes), "{}{}", n, unit),
                None => prop_assert!(parsed.is_err(), "{}{} overflows u64 bytes", n, unit),
            }
        }
        // Fractions round up to a whole byte, as Kubernetes does.
        prop_assert_eq!(Memory::parse(&format!("{n}.5")).map(Memory::bytes), Ok(n + 1));
    }

    #[test]
    fn percent_round_trips(thousandths in any::<u64>()) {
        let text = format!("{}.{:03}%", thousandths / 1000, thousandths % 1000);
        let percent = Percent::parse(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(percent.whole(), thousandths / 1000);
        let printed = percent.to_string();
        prop_assert_eq!(Percent::parse(&printed), Ok(percent), "`{}` printed as `{}`", text, printed);
        prop_assert_eq!(percent.is_whole(), thousandths % 1000 == 0);
    }

    #[test]
    fn percent_whole_identity(n in 0u64..=u64::MAX / 1000) {
        prop_assert_eq!(Percent::parse(&format!("{n}%")), Ok(Percent::from_whole(n)));
    }

    #[test]
    fn duration_round_trips(millis in any::<u64>()) {
        let duration = Duration::from_millis(millis);
        let printed = duration.to_string();
        prop_assert_eq!(Duration::parse(&printed), Ok(duration), "printed as {}", printed);
    }

    #[test]
    fn duration_unit_identities(d in 0u64..1000, h in 0u64..1000, m in 0u64..1000, s in 0u64..1000, ms in 0u64..1000) {
        let text = format!("{d}d{h}h{m}m{s}s{ms}ms");
        let expected = (((d * 24 + h) * 60 + m) * 60 + s) * 1000 + ms;
        prop_assert_eq!(Duration::parse(&text).map(Duration::millis), Ok(expected), "{}", text);
        prop_assert_eq!(Duration::parse(&format!("{s}s")), Ok(Duration::from_secs(s)));
        prop_assert_eq!(Duration::parse(&format!("{ms}ms")), Ok(Duration::from_millis(ms)));
        // Units go from largest to smallest, each once.
        let (backwards, twice) = (format!("{s}s{m}m"), format!("{s}s{s}s"));
        prop_assert!(Duration::parse(&backwards).is_err(), "{}", backwards);
        prop_assert!(Duration::parse(&twice).is_err(), "{}", twice);
    }
}

proptest! {
    #![proptest_config(config(2048))]

    /// Any text handed to a quantity parser is read or refused, never a panic.
    #[test]
    fn quantity_parsers_never_panic(text in quantity_like()) {
        let cpu = Cpu::parse(&text);
        let memory = Memory::parse(&text);
        let percent = Percent::parse(&text);
        let duration = Duration::parse(&text);
        // Whatever reads, prints as text that reads back to the same value.
        if let Ok(cpu) = cpu {
            prop_assert_eq!(Cpu::parse(&cpu.to_string()), Ok(cpu), "`{}`", text);
        }
        if let Ok(memory) = memory {
            prop_assert_eq!(Memory::parse(&memory.to_string()).map(Memory::bytes), Ok(memory.bytes()), "`{}`", text);
        }
        if let Ok(percent) = percent {
            prop_assert_eq!(Percent::parse(&percent.to_string()), Ok(percent), "`{}`", text);
        }
        if let Ok(duration) = duration {
            prop_assert_eq!(Duration::parse(&duration.to_string()), Ok(duration), "`{}`", text);
        }
    }
}

// ---------------------------------------------------------------------------
// Phased values

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn by_phase_inherits_from_the_greatest_earlier_key(
        map in prop::collection::btree_map(0u32..64, any::<u32>(), 0..8),
        phase in prop_oneof![0u32..70, any::<u32>()],
    ) {
        let expected = inherited(&map, phase);
        let phased = Phased::ByPhase(map);
        prop_assert_eq!(phased.at(phase).copied(), expected);
    }

    #[test]
    fn by_phase_with_arbitrary_keys(map in prop::collection::btree_map(any::<u32>(), any::<u32>(), 0..8), phase in any::<u32>()) {
        let expected = inherited(&map, phase);
        prop_assert_eq!(Phased::ByPhase(map).at(phase).copied(), expected);
    }

    #[test]
    fn all_holds_in_every_phase(value in any::<u32>(), phase in any::<u32>()) {
        let phased = Phased::All(value);
        prop_assert_eq!(phased.at(phase), Some(&value));
        prop_assert_eq!(phased.keys().count(), 0);
    }
}

/// Declared phases, and a replicas map keyed by some of them, in a shuffled order.
fn phases_and_replicas() -> impl Strategy<Value = (BTreeSet<u32>, Vec<(u32, u32)>, bool)> {
    prop::collection::btree_set(1u32..40, 1..6).prop_flat_map(|phases| {
        let keys: Vec<u32> = phases.iter().copied().collect();
        let entries = prop::sample::subsequence(keys.clone(), 0..=keys.len())
            .prop_flat_map(|keys| {
                let n = keys.len();
                (Just(keys), prop::collection::vec(1u32..20, n))
            })
            .prop_map(|(keys, values)| keys.into_iter().zip(values).collect::<Vec<_>>())
            .prop_shuffle();
        (Just(phases), entries, any::<bool>())
    })
}

/// A small spec with the given phases and a `web` service with these replicas.
fn replicas_spec(phases: &BTreeSet<u32>, replicas: &[(u32, u32)], block_style: bool) -> String {
    let mut text = String::from("project: demo\nphases:\n");
    for number in phases {
        text.push_str(&format!(
            "  {number}:\n    name: phase-{number}\n    target: swarm\n    nodes:\n      vps-1: {{ role: manager, cpu: 4, memory: 16Gi }}\n"
        ));
    }
    text.push_str("services:\n  web:\n    image: nginx:1.27\n    port: 80\n");
    if !replicas.is_empty() {
        if block_style {
            text.push_str("    replicas:\n");
            for (key, value) in replicas {
                text.push_str(&format!("      {key}: {value}\n"));
            }
        } else {
            let entries: Vec<String> = replicas.iter().map(|(k, v)| format!("{k}: {v}")).collect();
            text.push_str(&format!("    replicas: {{ {} }}\n", entries.join(", ")));
        }
    }
    text
}

proptest! {
    #![proptest_config(config(128))]

    /// End to end: each phase's resolved replicas are those of the nearest earlier
    /// phase in the map, or the default 1 before the first.
    #[test]
    fn compile_resolves_inherited_replicas((phases, replicas, block_style) in phases_and_replicas()) {
        let text = replicas_spec(&phases, &replicas, block_style);
        let compiled = match topo::compile(text.as_bytes()) {
            Ok(compiled) => compiled,
            Err(diags) => {
                let codes: Vec<String> = diags.iter().map(|d| format!("{}: {}", d.code, d.message)).collect();
                return Err(TestCaseError::fail(format!("did not compile: {codes:?}\n{text}")));
            }
        };
        let map: BTreeMap<u32, u32> = replicas.iter().copied().collect();
        let numbers: Vec<u32> = compiled.model.phases.iter().map(|p| p.number).collect();
        prop_assert_eq!(numbers, phases.iter().copied().collect::<Vec<_>>());
        for phase in &compiled.model.phases {
            let expected = inherited(&map, phase.number).unwrap_or(1);
            let web = phase.services.get("web").ok_or_else(|| TestCaseError::fail("no `web` service"))?;
            prop_assert_eq!(web.replicas(), expected, "phase {} of\n{}", phase.number, text);
        }
    }

    /// A replicas key that names no declared phase is an error, located at that key.
    #[test]
    fn compile_rejects_undeclared_replica_phases((phases, replicas, block_style) in phases_and_replicas(), extra in 41u32..100) {
        let mut replicas = replicas;
        replicas.push((extra, 3));
        let text = replicas_spec(&phases, &replicas, block_style);
        let diags = match topo::compile(text.as_bytes()) {
            Ok(_) => return Err(TestCaseError::fail(format!("phase {extra} is not declared but compiled:\n{text}"))),
            Err(diags) => diags,
        };
        let unknown = diags.iter().find(|d| d.code == "unknown-phase");
        let unknown = unknown.ok_or_else(|| TestCaseError::fail(format!("no unknown-phase error for\n{text}")))?;
        let span = unknown.span.ok_or_else(|| TestCaseError::fail("unknown-phase without a span"))?;
        let line = text.lines().nth(span.start.line - 1).unwrap_or_default();
        prop_assert!(line.contains(&format!("{extra}: 3")), "points at line {}: {:?}", span.start.line, line);
    }
}

// ---------------------------------------------------------------------------
// The loader never panics

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn compile_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        assert_located(&bytes)?;
    }

    #[test]
    fn compile_never_panics_on_text(text in prop_oneof![
        any::<String>(),
        "[a-z0-9:\\-\\[\\]{}&*!|>'\"#%@`,? \n]{0,200}",
    ]) {
        assert_located(text.as_bytes())?;
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn compile_never_panics_on_mutated_specs(
        base in prop::sample::select(vec![FINANZAS, DESIGN_EXAMPLE]),
        edits in prop::collection::vec(edit(), 1..6),
    ) {
        let mut bytes = base.as_bytes().to_vec();
        for edit in &edits {
            apply(&mut bytes, edit);
        }
        assert_located(&bytes)?;
    }

    /// Whole lines moved around keep the text YAML-ish, so decoding and validation get exercised.
    #[test]
    fn compile_never_panics_on_shuffled_lines(
        base in prop::sample::select(vec![FINANZAS, DESIGN_EXAMPLE]),
        picks in prop::collection::vec((any::<prop::sample::Index>(), any::<prop::sample::Index>(), 0u8..3), 1..6),
    ) {
        let mut lines: Vec<&str> = base.lines().collect();
        for (a, b, op) in picks {
            let (a, b) = (a.index(lines.len()), b.index(lines.len()));
            match op {
                0 => lines.swap(a, b),
                1 => {
                    lines.remove(a);
                }
                _ => lines.insert(b, lines[a]),
            }
            if lines.is_empty() {
                break;
            }
        }
        assert_located(lines.join("\n").as_bytes())?;
    }
}

#[test]
fn the_specs_compile() {
    for (name, text) in [("finanzas", FINANZAS), ("design-example", DESIGN_EXAMPLE)] {
        if let Err(diags) = topo::compile(text.as_bytes()) {
            let codes: Vec<&str> = diags.iter().map(|d| d.code.as_str()).collect();
            unreachable!("{name} does not compile: {codes:?}");
        }
    }
}

#[test]
fn an_oversized_spec_is_refused() {
    // One byte past the 4 MiB cap: an error, not a parse of the whole thing.
    let text = "# padding\n".repeat(4 * 1024 * 1024 / 10 + 1);
    let Err(diags) = topo::compile(text.as_bytes()) else { unreachable!("a 4 MiB + 1 spec compiled") };
    assert!(diags.iter().any(|d| d.code == "file-too-large"), "{:?}", diags.iter().map(|d| d.code).collect::<Vec<_>>());
}

proptest! {
    #![proptest_config(config(24))]

    /// A string of `len` bytes copied by `copies` aliases, `levels` deep (each
    /// level a list of `fan` aliases of the one below): refused with
    /// `too-many-bytes` or `too-many-nodes` exactly when the expansion passes
    /// the budgets, read in full otherwise.
    #[test]
    fn alias_expansion_is_refused_exactly_past_the_budgets(
        len in 1usize..200_000,
        fan in 1usize..12,
        levels in 1usize..5,
    ) {
        let mut text = format!("x0: &l0 \"{}\"\n", "z".repeat(len));
        for level in 1..=levels {
            let list = vec![format!("*l{}", level - 1); fan].join(", ");
            text.push_str(&format!("x{level}: &l{level} [{list}]\n"));
        }
        // Bytes: the string, its anchor's copy, then each level's `fan` copies of the
        // level below (alias copies) plus the anchor's copy of the level itself.
        let mut below = len as u128;
        let mut bytes = 2 * below + 2 * (levels as u128 + 1); // keys `x0`…: 2 bytes each
        let mut nodes: u128 = 2;
        let mut below_nodes: u128 = 1;
        for _ in 1..=levels {
            below *= fan as u128;
            below_nodes = 1 + below_nodes * fan as u128;
            bytes += 2 * below;
            nodes += 1 + below_nodes;
        }
        let diags = match topo::compile(text.as_bytes()) {
            Ok(_) => unreachable!("not a spec"),
            Err(diags) => diags,
        };
        let codes: Vec<&str> = diags.iter().map(|d| d.code.as_str()).collect();
        let refused = codes.iter().any(|c| *c == "too-many-bytes" || *c == "too-many-nodes");
        let max_nodes = topo::yaml::MAX_NODES as u128;
        let over = bytes > 16 * 1024 * 1024 || nodes > max_nodes;
        // Near a budget the count above is an estimate (keys, the top mapping): leave a margin.
        let near = |value: u128, budget: u128| value.abs_diff(budget) < budget / 50 + 64;
        if !near(bytes, 16 * 1024 * 1024) && !near(nodes, max_nodes) {
            prop_assert_eq!(refused, over, "bytes {} nodes {} codes {:?}", bytes, nodes, codes);
        }
    }
}

/// Regression (src/spec/quantity.rs, `split_number`): an exponent that sums to
/// `i32::MIN` made `exponent.abs()` overflow, a panic in debug builds (release
/// builds wrapped and then refused the value).
#[test]
fn exponent_at_i32_min_is_refused_not_a_panic() {
    for text in ["1e-2147483648", "1.5e-2147483647"] {
        // Finer than any unit: refused (a thousand-digit fraction of a byte is not a size).
        assert!(Cpu::parse(text).is_err(), "{text}");
        assert!(Percent::parse(&format!("{text}%")).is_err(), "{text}%");
        let _ = Memory::parse(text);
    }
    // Zero with any exponent is zero, or refused; either way no panic.
    let _ = (Cpu::parse("0e-2147483648"), Memory::parse("0e-2147483648"));
    let spec = FINANZAS.replace("cpu: 100m", "cpu: 1e-2147483648");
    assert!(topo::compile(spec.as_bytes()).is_err());
}
