//! Unit-bearing values: CPU, memory, percentages and durations.
//!
//! One decimal parser reads every quantity exactly (no floating point), the
//! way Kubernetes reads `resource.Quantity`: `M` is 10^6 and `Mi` is 2^20,
//! `250m` CPU is a quarter core, `1.5G` is 1 500 000 000 bytes. Each newtype
//! prints itself canonically (`256Mi`, `250m`, `7d`); the targets print the
//! same values in their own notations.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};

/// A decimal number read exactly: `digits × 10^exponent`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Decimal {
    digits: u128,
    exponent: i32,
}

impl Decimal {
    /// `self × factor`, rounded up to a whole number; `None` on overflow.
    fn times_ceil(self, factor: u128) -> Option<u128> {
        let product = self.digits.checked_mul(factor)?;
        if self.exponent >= 0 {
            return product.checked_mul(10u128.checked_pow(self.exponent as u32)?);
        }
        let divisor = 10u128.checked_pow(self.exponent.unsigned_abs())?;
        Some(product.div_ceil(divisor))
    }

    /// Whether `self × factor` is a whole number.
    fn is_whole(self, factor: u128) -> bool {
        if self.exponent >= 0 {
            return true;
        }
        let Some(divisor) = 10u128.checked_pow(self.exponent.unsigned_abs()) else {
            return self.digits == 0;
        };
        self.digits.checked_mul(factor).is_some_and(|p| p % divisor == 0)
    }
}

/// Largest power of ten, either way, a quantity may carry; no unit needs more.
const MAX_EXPONENT: u32 = 40;

/// Split `text` into an unsigned decimal number and the suffix after it.
fn split_number(text: &str) -> Result<(Decimal, &str), String> {
    let text = text.trim();
    if text.starts_with('-') {
        return Err("must not be negative".into());
    }
    let body = text.strip_prefix('+').unwrap_or(text);
    let number_end = body.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(body.len());
    let (number, mut suffix) = body.split_at(number_end);
    if number.is_empty() || number == "." {
        return Err("must start with a number".into());
    }
    let (int, frac) = number.split_once('.').unwrap_or((number, ""));
    if frac.contains('.') {
        return Err("has more than one decimal point".into());
    }
    let mut exponent = i32::try_from(frac.len()).map(|len| -len).map_err(|_| "has too many digits")?;
    // Kubernetes' decimal exponent form: 1e3, 12E6.
    if let Some(rest) = suffix.strip_prefix(['e', 'E']) {
        let exp_digits = rest.strip_prefix(['-', '+']).unwrap_or(rest);
        if !exp_digits.is_empty() && exp_digits.bytes().all(|b| b.is_ascii_digit()) {
            let exp: i32 = rest.parse().map_err(|_| "has an exponent out of range".to_string())?;
            exponent = exponent.checked_add(exp).ok_or("has an exponent out of range")?;
            suffix = "";
        }
    }
    let all_digits = format!("{int}{frac}");
    let trimmed = all_digits.trim_start_matches('0');
    if trimmed.len() > 30 {
        return Err("has too many digits".into());
    }
    let digits = if trimmed.is_empty() { 0 } else { trimmed.parse().map_err(|_| "is not a number")? };
    // `unsigned_abs`: an exponent summing to `i32::MIN` has no `i32` absolute value.
    if exponent.unsigned_abs() > MAX_EXPONENT {
        return Err("has an exponent out of range".into());
    }
    Ok((Decimal { digits, exponent }, suffix))
}

/// The kinds of quantity, as errors name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuantityKind {
    Cpu,
    Memory,
    Percent,
    Duration,
}

impl fmt::Display for QuantityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Cpu => "CPU quantity",
            Self::Memory => "memory quantity",
            Self::Percent => "percentage",
            Self::Duration => "duration",
        })
    }
}

/// A quantity that does not parse: what it was meant to be, the text, and
/// why (a phrase completing "it …", with the fix where there is one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuantityError {
    pub kind: QuantityKind,
    pub text: String,
    pub reason: String,
}

impl fmt::Display for QuantityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` is not a valid {}: it {}", self.text, self.kind, self.reason)
    }
}

impl std::error::Error for QuantityError {}

fn invalid(kind: QuantityKind, text: &str, reason: &str) -> QuantityError {
    QuantityError { kind, text: text.to_owned(), reason: reason.to_owned() }
}

/// CPU, in millicores: `250m`, `0.5`, `"1"`, `2`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cpu(u64);

impl Cpu {
    pub const fn from_millis(millis: u64) -> Self {
        Self(millis)
    }

    pub fn millis(self) -> u64 {
        self.0
    }

    /// Cores as a decimal string without trailing zeros: `0.25`, `1`, `1.5` (compose's `cpus`).
    pub fn cores_decimal(self) -> String {
        let whole = self.0 / 1000;
        let frac = self.0 % 1000;
        if frac == 0 {
            return whole.to_string();
        }
        let frac = format!("{frac:03}");
        format!("{whole}.{}", frac.trim_end_matches('0'))
    }

    pub fn parse(text: &str) -> Result<Self, QuantityError> {
        let (number, suffix) = split_number(text).map_err(|r| invalid(QuantityKind::Cpu, text, &r))?;
        let factor: u128 = match suffix {
            "" => 1000,
            "m" => 1,
            "k" => 1_000_000,
            other => {
                let hint = match other {
                    "mi" | "Mi" | "M" => " (CPU takes `m` for millicores: `250m`)",
                    "core" | "cores" | "cpu" | "vcpu" | "vCPU" => " (write just the number of cores: `2`)",
                    _ => " (expected cores like `0.5` or `2`, or millicores like `250m`)",
                };
                return Err(invalid(QuantityKind::Cpu, text, &format!("has an unknown unit `{other}`{hint}")));
            }
        };
        if !number.is_whole(factor) {
            return Err(invalid(QuantityKind::Cpu, text, "is finer than 1m, the smallest CPU Kubernetes can express"));
        }
        let millis = number.times_ceil(factor).ok_or_else(|| invalid(QuantityKind::Cpu, text, "is too large"))?;
        u64::try_from(millis).map(Self).map_err(|_| invalid(QuantityKind::Cpu, text, "is too large"))
    }
}

impl fmt::Display for Cpu {
    /// Kubernetes' canonical form: whole cores as `2`, anything else as `250m`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_multiple_of(1000) { write!(f, "{}", self.0 / 1000) } else { write!(f, "{}m", self.0) }
    }
}

/// Whether a memory quantity was written in powers of two or of ten; kept for printing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MemoryFormat {
    #[default]
    Binary,
    Decimal,
}

const BINARY_SUFFIXES: [(&str, u128); 6] =
    [("Ei", 1 << 60), ("Pi", 1 << 50), ("Ti", 1 << 40), ("Gi", 1 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)];

const DECIMAL_SUFFIXES: [(&str, u128); 6] = [
    ("E", 1_000_000_000_000_000_000),
    ("P", 1_000_000_000_000_000),
    ("T", 1_000_000_000_000),
    ("G", 1_000_000_000),
    ("M", 1_000_000),
    ("k", 1_000),
];

/// Memory or storage, in bytes: `512Mi`, `1Gi`, `1.5G`, `1e9`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Memory {
    bytes: u64,
    format: MemoryFormat,
}

impl PartialOrd for Memory {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Memory {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.bytes.cmp(&other.bytes).then(self.format.cmp(&other.format))
    }
}

impl Memory {
    pub const fn from_bytes(bytes: u64) -> Self {
        Self { bytes, format: MemoryFormat::Binary }
    }

    pub const fn mebibytes(mib: u64) -> Self {
        Self::from_bytes(mib << 20)
    }

    pub fn bytes(self) -> u64 {
        self.bytes
    }

    pub fn format(self) -> MemoryFormat {
        self.format
    }

    pub fn parse(text: &str) -> Result<Self, QuantityError> {
        let kind = QuantityKind::Memory;
        let (number, suffix) = split_number(text).map_err(|r| invalid(kind, text, &r))?;
        let (factor, format) = if suffix.is_empty() {
            (1, MemoryFormat::Decimal)
        } else if let Some((_, f)) = BINARY_SUFFIXES.iter().find(|(s, _)| *s == suffix) {
            (*f, MemoryFormat::Binary)
        } else if let Some((_, f)) = DECIMAL_SUFFIXES.iter().find(|(s, _)| *s == suffix) {
            (*f, MemoryFormat::Decimal)
        } else {
            return Err(invalid(kind, text, &format!("has an unknown unit `{suffix}`{}", memory_hint(suffix))));
        };
        let bytes = number.times_ceil(factor).ok_or_else(|| invalid(kind, text, "is too large"))?;
        let bytes = u64::try_from(bytes).map_err(|_| invalid(kind, text, "is too large"))?;
        Ok(Self { bytes, format })
    }
}

/// What the user most likely meant by a unit Kubernetes does not know.
fn memory_hint(suffix: &str) -> String {
    let meant = match suffix {
        "m" => return " (`m` means thousandths: write `Mi` for mebibytes or `M` for megabytes)".into(),
        "K" | "KB" | "kb" | "kB" => "k",
        "ki" | "KiB" | "kib" => "Ki",
        "mi" | "MiB" | "mib" => "Mi",
        "gi" | "GiB" | "gib" => "Gi",
        "ti" | "TiB" | "tib" => "Ti",
        "MB" | "mb" => "M",
        "GB" | "gb" | "g" => "G",
        "TB" | "tb" | "t" => "T",
        _ => return " (expected one of Ki, Mi, Gi, Ti, Pi, Ei, k, M, G, T, P, E)".into(),
    };
    format!(" (did you mean `{meant}`? Kubernetes units are Ki, Mi, Gi, … and k, M, G, …)")
}

impl fmt::Display for Memory {
    /// The largest unit of the value's own format that divides it exactly.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = u128::from(self.bytes);
        if bytes == 0 {
            return f.write_str("0");
        }
        let decimal = DECIMAL_SUFFIXES.iter().find(|(_, factor)| bytes % factor == 0);
        let binary = BINARY_SUFFIXES.iter().find(|(_, factor)| bytes % factor == 0);
        let chosen = match self.format {
            MemoryFormat::Binary => binary.or(decimal),
            MemoryFormat::Decimal => decimal,
        };
        match chosen {
            Some((suffix, factor)) => write!(f, "{}{suffix}", bytes / factor),
            None => write!(f, "{bytes}"),
        }
    }
}

/// A percentage, `70%` or `0.5%`, kept in thousandths of a percent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Percent(u64);

impl Percent {
    pub fn from_whole(percent: u64) -> Self {
        Self(percent * 1000)
    }

    /// The percentage rounded down to a whole number (HPA utilisation is an integer).
    pub fn whole(self) -> u64 {
        self.0 / 1000
    }

    pub fn is_whole(self) -> bool {
        self.0.is_multiple_of(1000)
    }

    /// As a fraction: 70% → 0.7.
    pub fn fraction(self) -> f64 {
        self.0 as f64 / 100_000.0
    }

    pub fn parse(text: &str) -> Result<Self, QuantityError> {
        let kind = QuantityKind::Percent;
        let Some(number) = text.trim().strip_suffix('%') else {
            return Err(invalid(kind, text, "needs a `%` sign, like `70%`"));
        };
        let (decimal, rest) = split_number(number).map_err(|r| invalid(kind, text, &r))?;
        if !rest.is_empty() {
            return Err(invalid(kind, text, "is not a number followed by `%`"));
        }
        if !decimal.is_whole(1000) {
            return Err(invalid(kind, text, "has more than three decimals"));
        }
        let value = decimal.times_ceil(1000).ok_or_else(|| invalid(kind, text, "is too large"))?;
        u64::try_from(value).map(Self).map_err(|_| invalid(kind, text, "is too large"))
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.0 / 1000;
        let frac = self.0 % 1000;
        if frac == 0 {
            write!(f, "{whole}%")
        } else {
            write!(f, "{whole}.{}%", format!("{frac:03}").trim_end_matches('0'))
        }
    }
}

const DURATION_UNITS: [(&str, u64); 7] = [
    ("y", 365 * 24 * 3_600_000),
    ("w", 7 * 24 * 3_600_000),
    ("d", 24 * 3_600_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1000),
    ("ms", 1),
];

/// A duration in Prometheus notation: `30s`, `5m`, `1h30m`, `7d`, `300ms`; kept in milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(u64);

impl Duration {
    pub const fn from_millis(millis: u64) -> Self {
        Self(millis)
    }

    pub const fn from_secs(secs: u64) -> Self {
        Self(secs * 1000)
    }

    pub fn millis(self) -> u64 {
        self.0
    }

    /// Whole seconds, rounded up (probe timings are whole seconds).
    pub fn secs_ceil(self) -> u64 {
        self.0.div_ceil(1000)
    }

    pub fn parse(text: &str) -> Result<Self, QuantityError> {
        let kind = QuantityKind::Duration;
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(invalid(kind, text, "is empty"));
        }
        let mut rest = trimmed;
        let mut total: u64 = 0;
        let mut last_unit = u64::MAX;
        while !rest.is_empty() {
            let digits_end = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
            if digits_end == 0 {
                return Err(invalid(kind, text, "must be whole numbers with units, like `30s`, `5m`, `1h30m`, `7d`"));
            }
            let (digits, tail) = rest.split_at(digits_end);
            let unit_end = tail.find(|c: char| c.is_ascii_digit()).unwrap_or(tail.len());
            let (unit, next) = tail.split_at(unit_end);
            let Some((_, factor)) = DURATION_UNITS.iter().find(|(u, _)| *u == unit) else {
                let reason = if unit.is_empty() {
                    "needs a unit: ms, s, m, h, d, w or y".to_string()
                } else {
                    format!("has an unknown unit `{unit}` (expected ms, s, m, h, d, w or y)")
                };
                return Err(invalid(kind, text, &reason));
            };
            if *factor >= last_unit {
                return Err(invalid(kind, text, "must list its units from largest to smallest, each once"));
            }
            last_unit = *factor;
            let count: u64 = digits.parse().map_err(|_| invalid(kind, text, "is too large"))?;
            total = count
                .checked_mul(*factor)
                .and_then(|v| total.checked_add(v))
                .ok_or_else(|| invalid(kind, text, "is too large"))?;
            rest = next;
        }
        Ok(Self(total))
    }
}

impl fmt::Display for Duration {
    /// Largest units first, up to days (`7d`, not Prometheus' `1w`), `0s` for zero.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("0s");
        }
        let mut rest = self.0;
        for (unit, factor) in DURATION_UNITS.into_iter().skip(2) {
            if rest >= factor {
                write!(f, "{}{unit}", rest / factor)?;
                rest %= factor;
            }
        }
        Ok(())
    }
}

// The targets' own notations, each printer beside its parser.

impl Cpu {
    /// Docker's `--cpus` / compose's `cpus`: cores as a decimal (`0.25`, `1.5`).
    pub fn docker(self) -> String {
        self.cores_decimal()
    }

    /// Docker's CPU notation (`0.5`, `"1.5"`), in whole millicores, rounded up; `None` for zero or nonsense.
    pub fn from_docker(text: &str) -> Option<Self> {
        let cores: f64 = text.trim().parse().ok()?;
        let millis = (cores * 1000.0).ceil();
        (1.0..1.0e12).contains(&millis).then(|| Self::from_millis(millis as u64))
    }
}

impl Memory {
    /// Docker's memory notation, whose `K`, `M` and `G` are powers of two: the
    /// largest unit that divides the value exactly, else bytes.
    pub fn docker(self) -> String {
        let bytes = self.bytes();
        for (unit, factor) in [("G", 1u64 << 30), ("M", 1 << 20), ("K", 1 << 10)] {
            if bytes >= factor && bytes.is_multiple_of(factor) {
                return format!("{}{unit}", bytes / factor);
            }
        }
        bytes.to_string()
    }

    /// Docker's memory notation as compose files write it (`512m`, `1g`,
    /// `1.5gb`, `1024` bytes; every unit a power of two), rounded up to a byte.
    pub fn from_docker(text: &str) -> Option<Self> {
        let lower = text.trim().to_ascii_lowercase();
        let digits_end = lower.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(lower.len());
        let (number, unit) = lower.split_at(digits_end);
        let unit = unit.trim();
        let unit = unit.strip_suffix('b').unwrap_or(unit);
        let unit = unit.strip_suffix('i').unwrap_or(unit);
        let power = match unit {
            "" => 0,
            "k" => 10,
            "m" => 20,
            "g" => 30,
            "t" => 40,
            "p" => 50,
            _ => return None,
        };
        let value: f64 = number.parse().ok()?;
        let bytes = (value * (1u64 << power) as f64).ceil();
        (1.0..9.0e18).contains(&bytes).then(|| Self::from_bytes(bytes as u64))
    }
}

const GO_UNITS: [(&str, u64); 4] = [("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)];

impl Duration {
    /// Go's `time.ParseDuration` notation, which compose and Swarm read (no
    /// days): `1m30s`, `300ms`, `168h`. [`Display`](fmt::Display) is the
    /// Prometheus and spec notation (`7d`, `1h30m`).
    pub fn go(self) -> String {
        let mut rest = self.millis();
        if rest == 0 {
            return "0s".to_owned();
        }
        let mut out = String::new();
        for (unit, factor) in GO_UNITS {
            if rest >= factor {
                out.push_str(&format!("{}{unit}", rest / factor));
                rest %= factor;
            }
        }
        out
    }

    /// A Go duration (`1m30s`, `1.5s`, `500ms`, `10us`, `0`), to whole
    /// milliseconds rounded up (saturating: Go's ~292-year maximum stays huge).
    pub fn from_go(text: &str) -> Option<Self> {
        let text = text.trim();
        if text == "0" {
            return Some(Self::from_millis(0));
        }
        let mut rest = text;
        let mut nanos: f64 = 0.0;
        while !rest.is_empty() {
            let end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
            let (number, tail) = rest.split_at(end);
            let value: f64 = number.parse().ok()?;
            let unit_end = tail.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(tail.len());
            let (unit, next) = tail.split_at(unit_end);
            let factor = match unit {
                "ns" => 1.0,
                "us" | "µs" | "μs" => 1e3,
                "ms" => 1e6,
                "s" => 1e9,
                "m" => 60e9,
                "h" => 3600e9,
                _ => return None,
            };
            nanos += value * factor;
            rest = next;
        }
        let millis = (nanos / 1e6).ceil();
        (millis.is_finite() && millis >= 0.0).then(|| Self::from_millis(millis as u64))
    }
}

/// Quantities parse with `str::parse` too, with a typed error.
macro_rules! from_str {
    ($($ty:ty),*) => {$(
        impl std::str::FromStr for $ty {
            type Err = QuantityError;
            fn from_str(text: &str) -> Result<Self, QuantityError> {
                Self::parse(text)
            }
        }
    )*};
}

from_str!(Cpu, Memory, Percent, Duration);

/// Quantities serialise as their canonical text.
macro_rules! serialize_as_text {
    ($($ty:ty),*) => {$(
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }
    )*};
}

serialize_as_text!(Cpu, Memory, Percent, Duration);

fn quantity_schema(description: &str, pattern: &str, numbers: bool) -> Schema {
    if numbers {
        json_schema!({
            "description": description,
            "anyOf": [
                { "type": "number", "minimum": 0 },
                { "type": "string", "pattern": pattern }
            ]
        })
    } else {
        json_schema!({ "description": description, "type": "string", "pattern": pattern })
    }
}

const NUMBER: &str = r"\+?([0-9]+(\.[0-9]*)?|\.[0-9]+)";

impl JsonSchema for Cpu {
    fn schema_name() -> Cow<'static, str> {
        "Cpu".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        quantity_schema(
            "CPU as Kubernetes writes it: cores (`2`, `0.5`, `\"1\"`) or millicores (`250m`).",
            &format!("^{NUMBER}([eE][-+]?[0-9]+|m|k)?$"),
            true,
        )
    }
}

impl JsonSchema for Memory {
    fn schema_name() -> Cow<'static, str> {
        "Memory".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        quantity_schema(
            "Memory or storage as Kubernetes writes it: `512Mi`, `1Gi` (powers of two) or `1.5G`, `500M` (powers of ten); a bare number is bytes.",
            &format!("^{NUMBER}([eE][-+]?[0-9]+|Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$"),
            true,
        )
    }
}

impl JsonSchema for Percent {
    fn schema_name() -> Cow<'static, str> {
        "Percent".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        quantity_schema("A percentage: `70%`, `0.5%`.", &format!("^{NUMBER}%$"), false)
    }
}

impl JsonSchema for Duration {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        quantity_schema(
            "A duration in Prometheus notation: `300ms`, `30s`, `5m`, `1h30m`, `7d`, `2w`.",
            "^([0-9]+(ms|s|m|h|d|w|y))+$",
            false,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_table() {
        let table: &[(&str, u64, &str)] = &[
            ("250m", 250, "250m"),
            ("0.5", 500, "500m"),
            ("1", 1000, "1"),
            ("2", 2000, "2"),
            ("1000m", 1000, "1"),
            ("1.5", 1500, "1500m"),
            ("0.001", 1, "1m"),
            ("+4", 4000, "4"),
            ("1e3", 1_000_000, "1000"),
            ("2k", 2_000_000, "2000"),
            ("0", 0, "0"),
            (".25", 250, "250m"),
        ];
        for (text, millis, canonical) in table {
            let cpu = Cpu::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(cpu.millis(), *millis, "{text}");
            assert_eq!(cpu.to_string(), *canonical, "{text}");
        }
    }

    #[test]
    fn cpu_rejects() {
        for text in ["", "m", "-1", "250Mi", "1.0001", "0.0005", "two", "1..5", "2 cores", "1e99"] {
            assert!(Cpu::parse(text).is_err(), "{text} should be rejected");
        }
        assert!(Cpu::parse("250Mi").unwrap_err().reason.contains("millicores"));
    }

    #[test]
    fn cpu_cores_decimal() {
        assert_eq!(Cpu::from_millis(250).cores_decimal(), "0.25");
        assert_eq!(Cpu::from_millis(1000).cores_decimal(), "1");
        assert_eq!(Cpu::from_millis(1500).cores_decimal(), "1.5");
        assert_eq!(Cpu::from_millis(5).cores_decimal(), "0.005");
    }

    #[test]
    fn memory_table() {
        let table: &[(&str, u64, &str)] = &[
            ("512Mi", 512 << 20, "512Mi"),
            ("1Gi", 1 << 30, "1Gi"),
            ("1024Mi", 1 << 30, "1Gi"),
            ("1536Mi", 1536 << 20, "1536Mi"),
            ("1.5Gi", 1536 << 20, "1536Mi"),
            ("1.5G", 1_500_000_000, "1500M"),
            ("1M", 1_000_000, "1M"),
            ("1Mi", 1_048_576, "1Mi"),
            ("500M", 500_000_000, "500M"),
            ("1k", 1000, "1k"),
            ("1Ki", 1024, "1Ki"),
            ("128974848", 128_974_848, "128974848"),
            ("129e6", 129_000_000, "129M"),
            ("50Gi", 50 << 30, "50Gi"),
            ("2Ti", 2 << 40, "2Ti"),
            ("0", 0, "0"),
            ("0.5Ki", 512, "512"),
            ("1.0001Ki", 1025, "1025"),
        ];
        for (text, bytes, canonical) in table {
            let memory = Memory::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(memory.bytes(), *bytes, "{text}");
            assert_eq!(memory.to_string(), *canonical, "{text}");
        }
    }

    #[test]
    fn memory_rejects_with_hints() {
        for text in ["", "Mi", "-1Gi", "512MB", "1gb", "16GB", "1.2.3Gi", "1Zi", "99999999999Ei"] {
            assert!(Memory::parse(text).is_err(), "{text} should be rejected");
        }
        assert!(Memory::parse("512m").unwrap_err().reason.contains("thousandths"));
        assert!(Memory::parse("512MB").unwrap_err().reason.contains("`M`"));
        assert!(Memory::parse("1gi").unwrap_err().reason.contains("`Gi`"));
    }

    #[test]
    fn percent_table() {
        for (text, display, whole) in
            [("70%", "70%", 70), ("0.5%", "0.5%", 0), ("100%", "100%", 100), ("150%", "150%", 150)]
        {
            let p = Percent::parse(text).unwrap();
            assert_eq!(p.to_string(), display);
            assert_eq!(p.whole(), whole);
        }
        assert!((Percent::parse("85%").unwrap().fraction() - 0.85).abs() < 1e-12);
        for text in ["70", "%", "-5%", "1.0005%", "x%", "70 %%"] {
            assert!(Percent::parse(text).is_err(), "{text} should be rejected");
        }
    }

    #[test]
    fn duration_table() {
        let table: &[(&str, u64, &str)] = &[
            ("30s", 30_000, "30s"),
            ("5m", 300_000, "5m"),
            ("30m", 1_800_000, "30m"),
            ("1h30m", 5_400_000, "1h30m"),
            ("90m", 5_400_000, "1h30m"),
            ("7d", 604_800_000, "7d"),
            ("2w", 1_209_600_000, "14d"),
            ("3d", 259_200_000, "3d"),
            ("300ms", 300, "300ms"),
            ("1500ms", 1500, "1s500ms"),
            ("0s", 0, "0s"),
        ];
        for (text, millis, canonical) in table {
            let d = Duration::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(d.millis(), *millis, "{text}");
            assert_eq!(d.to_string(), *canonical, "{text}");
        }
        for text in ["", "30", "m", "5x", "1m1h", "1.5h", "-5m", "5m5m"] {
            assert!(Duration::parse(text).is_err(), "{text} should be rejected");
        }
    }

    #[test]
    fn go_durations_both_ways() {
        let cases = [(0, "0s"), (300, "300ms"), (10_000, "10s"), (90_000, "1m30s"), (7 * 86_400_000, "168h")];
        for (millis, text) in cases {
            assert_eq!(Duration::from_millis(millis).go(), text);
            assert_eq!(Duration::from_go(text), Some(Duration::from_millis(millis)), "{text}");
        }
        // What Go reads and topo does not print: fractions, micro- and nanoseconds, bare zero.
        for (text, millis) in [("1.5s", 1500), ("10us", 1), ("1ns", 1), ("0", 0), ("1h0m0s", 3_600_000)] {
            assert_eq!(Duration::from_go(text), Some(Duration::from_millis(millis)), "{text}");
        }
        for text in ["5x", "1d", "s", "-1s"] {
            assert_eq!(Duration::from_go(text), None, "{text}");
        }
    }

    #[test]
    fn prometheus_durations_both_ways() {
        for (millis, text) in
            [(0, "0s"), (90_000, "1m30s"), (15 * 60_000, "15m"), (7 * 86_400_000, "7d"), (1500, "1s500ms")]
        {
            assert_eq!(Duration::from_millis(millis).to_string(), text);
            assert_eq!(text.parse::<Duration>(), Ok(Duration::from_millis(millis)), "{text}");
        }
    }

    #[test]
    fn docker_memory_both_ways() {
        let cases =
            [(512 << 20, "512M"), (1 << 30, "1G"), (1536 << 20, "1536M"), (1_500_000_000, "1500000000"), (4096, "4K")];
        for (bytes, text) in cases {
            assert_eq!(Memory::from_bytes(bytes).docker(), text);
            assert_eq!(Memory::from_docker(text).map(Memory::bytes), Some(bytes), "{text}");
        }
        assert_eq!(Memory::from_bytes(1_000_000).docker(), "1000000", "decimal M is not Docker's M");
        for (text, bytes) in [("512m", 512 << 20), ("1.5gb", 1536 << 20), ("2GiB", 2 << 30), ("1024", 1024)] {
            assert_eq!(Memory::from_docker(text).map(Memory::bytes), Some(bytes), "{text}");
        }
        for text in ["0", "12x", "-1m", ""] {
            assert_eq!(Memory::from_docker(text), None, "{text}");
        }
    }

    #[test]
    fn docker_cpus_both_ways() {
        for (millis, text) in [(250, "0.25"), (1000, "1"), (1500, "1.5"), (1, "0.001")] {
            assert_eq!(Cpu::from_millis(millis).docker(), text);
            assert_eq!(Cpu::from_docker(text), Some(Cpu::from_millis(millis)), "{text}");
        }
        assert_eq!(Cpu::from_docker("0.0001"), Some(Cpu::from_millis(1)), "rounded up to 1m");
        assert_eq!(Cpu::from_docker("0"), None);
    }

    #[test]
    fn errors_are_typed() {
        let error = "250Mi".parse::<Cpu>().unwrap_err();
        assert_eq!(error.kind, QuantityKind::Cpu);
        assert_eq!(error.text, "250Mi");
        assert!(error.to_string().starts_with("`250Mi` is not a valid CPU quantity: it has an unknown unit"));
        assert_eq!("70".parse::<Percent>().unwrap_err().kind, QuantityKind::Percent);
        assert_eq!("5x".parse::<Duration>().unwrap_err().kind, QuantityKind::Duration);
        assert_eq!("1gi".parse::<Memory>().unwrap_err().kind, QuantityKind::Memory);
    }
}
