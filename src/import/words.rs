//! The small languages inside a compose file: secret-looking names, names
//! Kubernetes accepts, `$` interpolation, Docker's memory and CPU notation,
//! Go durations, and port specifications.

use crate::spec::{Duration, Memory};

pub use crate::secret_shape::is_secret_name;

/// Whether a value carries a secret whatever its name: a secret shape
/// ([`crate::secret_shape::shape`]: a URL with a password, a key prefix, a
/// JWT, …), or an interpolation of a secret-looking variable.
pub fn is_secret_value(value: &str) -> bool {
    crate::secret_shape::shape(value).is_some() || interpolations(value).iter().any(|var| is_secret_name(var))
}

/// The variables a compose string interpolates (`${DB_PASSWORD}`, `$HOST`,
/// `${TAG:-latest}` → `DB_PASSWORD`, `HOST`, `TAG`); `$$` is a literal `$`.
pub fn interpolations(text: &str) -> Vec<String> {
    let mut vars = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'$' {
            i += 1;
            continue;
        }
        match bytes.get(i + 1) {
            Some(b'$') => i += 2,
            Some(b'{') => {
                let name: String =
                    text[i + 2..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                if !name.is_empty() {
                    vars.push(name);
                }
                i += 2;
            }
            Some(c) if c.is_ascii_alphabetic() || *c == b'_' => {
                let name: String =
                    text[i + 1..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                i += 1 + name.len();
                vars.push(name);
            }
            _ => i += 1,
        }
    }
    vars
}

/// The first interpolation in `text` that compose refuses ("invalid interpolation
/// format"): where its `$` is (a byte index) and what is wrong. `$$` is a literal
/// `$`, and a `$` not followed by `{` or a name is literal text, as in compose.
pub fn interpolation_error(text: &str) -> Option<(usize, &'static str)> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'$' {
            i += 1;
            continue;
        }
        match bytes.get(i + 1) {
            Some(b'$') => i += 2,
            Some(b'{') => match braced_end(text, i + 2) {
                Ok(end) => i = end,
                Err(why) => return Some((i, why)),
            },
            _ => i += 1,
        }
    }
    None
}

/// After `${` at `start`: the index just past its `}`, or what is wrong.
fn braced_end(text: &str, start: usize) -> Result<usize, &'static str> {
    let bytes = text.as_bytes();
    let name_len = text[start..].find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(text.len() - start);
    let name = &text[start..start + name_len];
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(if bytes.get(start) == Some(&b'}') {
            "`${}` names no variable"
        } else {
            "`${` is not followed by a variable name (letters, digits and `_`, not starting with a digit)"
        });
    }
    let mut i = start + name_len;
    match bytes.get(i) {
        Some(b'}') => return Ok(i + 1),
        Some(b':') if matches!(bytes.get(i + 1), Some(b'-' | b'?' | b'+')) => i += 2,
        Some(b'-' | b'?' | b'+') => i += 1,
        None => return Err("`${` is not closed by `}`"),
        Some(_) => {
            return Err("after a variable name, `${…}` takes `}`, or `:-`, `-`, `:?`, `?`, `:+`, `+` and a value");
        }
    }
    // The default, message or alternative: up to the `}` that closes, nested `${…}` included.
    while i < bytes.len() {
        match bytes[i] {
            b'}' => return Ok(i + 1),
            b'$' if bytes.get(i + 1) == Some(&b'$') => i += 2,
            b'$' if bytes.get(i + 1) == Some(&b'{') => i = braced_end(text, i + 2)?,
            _ => i += 1,
        }
    }
    Err("`${` is not closed by `}`")
}

/// `text` split at each `sep` outside interpolations, as Compose splits a
/// volume, port or user after reading its `${…}`: the colon of
/// `${DATA:-./data}:/app/data` is not a separator, nor is one inside a
/// nested default. A malformed `${` is read as text.
pub fn split_outside_interpolations(text: &str, sep: u8) -> Vec<&str> {
    let bytes = text.as_bytes();
    let mut parts = Vec::new();
    let (mut start, mut i) = (0, 0);
    while i < bytes.len() {
        match bytes[i] {
            b'$' if bytes.get(i + 1) == Some(&b'$') => i += 2,
            b'$' if bytes.get(i + 1) == Some(&b'{') => i = braced_end(text, i + 2).unwrap_or(i + 1),
            byte if byte == sep => {
                parts.push(&text[start..i]);
                start = i + 1;
                i += 1;
            }
            _ => i += 1,
        }
    }
    parts.push(&text[start..]);
    parts
}

/// `text` with the error message of each `${NAME:?message}` and `${NAME?message}` left out
/// (`${NAME}`): for a value topo must read as one word, like an image reference.
pub fn without_required_messages(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start + 2]);
        let inner = &rest[start + 2..];
        let name_len = inner.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(inner.len());
        let after = &inner[name_len..];
        let required = after.starts_with(":?") || after.starts_with('?');
        match (required, after.find('}')) {
            (true, Some(close)) if !after[..close].contains('{') => {
                out.push_str(&inner[..name_len]);
                out.push('}');
                rest = &after[close + 1..];
            }
            _ => rest = inner,
        }
    }
    out.push_str(rest);
    out
}

/// Compose text → the text it stands for, keeping interpolations as written:
/// `$$` (compose's escape for a literal `$`) becomes `$`, which topo's compose
/// target writes back as `$$`.
pub fn unescape_dollars(text: &str) -> String {
    text.replace("$$", "\u{0}").replace('\u{0}', "$")
}

/// A compose command argument as the spec writes it: `$$` unescaped to `$`, and each variable
/// `is_secret` picks (`${NAME}` or `$NAME`) written `${NAME}`, the spec's reference to a
/// secret's value, its name added to `found`. Other interpolations stay as written.
pub fn secret_arg(text: &str, is_secret: impl Fn(&str) -> bool, found: &mut Vec<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
            continue;
        }
        let braced = after.strip_prefix('{');
        let body = braced.unwrap_or(after);
        let name_len = body
            .char_indices()
            .take_while(|&(k, c)| c == '_' || c.is_ascii_alphabetic() || (k > 0 && c.is_ascii_digit()))
            .count();
        let name = &body[..name_len];
        let closed = braced.is_none() || body[name_len..].starts_with('}');
        if name_len > 0 && closed && is_secret(name) {
            out.push_str(&format!("${{{name}}}"));
            if !found.iter().any(|f| f == name) {
                found.push(name.to_owned());
            }
            rest = &body[name_len + usize::from(braced.is_some())..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// Whether `text` interpolates a variable (after `$$` escapes).
pub fn interpolates(text: &str) -> bool {
    !interpolations(text).is_empty()
}

/// `text` with each `${NAME:-default}` and `${NAME-default}` replaced by its
/// default, when the default is plain text (no `$`, no nested braces): what
/// compose uses when the variable is unset. Nested defaults resolve from the
/// inside out; other `$` forms stay as written.
pub fn with_defaults(text: &str) -> String {
    let mut text = text.to_owned();
    loop {
        let next = innermost_defaults(&text);
        if next == text {
            return text;
        }
        text = next;
    }
}

fn innermost_defaults(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let inner = &rest[start + 2..];
        // `$${` is compose's literal `${`.
        let escaped = out.ends_with('$');
        let default = inner.find('}').filter(|_| !escaped).and_then(|end| {
            let body = &inner[..end];
            let name_len = body.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))?;
            let default = body[name_len..].strip_prefix(":-").or_else(|| body[name_len..].strip_prefix('-'))?;
            (name_len > 0 && !default.contains(['$', '{'])).then_some((default, end))
        });
        match default {
            Some((default, end)) => {
                out.push_str(default);
                rest = &inner[end + 1..];
            }
            None => {
                out.push_str("${");
                rest = inner;
            }
        }
    }
    out.push_str(rest);
    out
}

/// A valid DNS-1035 label made from `name` (`My_Service` → `my-service`,
/// `1db` → `s-1db`): what topo needs for service names.
pub fn dns_1035(name: &str) -> String {
    let label = dns_1123(name);
    if label.starts_with(|c: char| c.is_ascii_lowercase()) { label } else { truncate(&format!("s-{label}")) }
}

/// A valid DNS-1123 label made from `name`: lowercase, `-` for anything else, trimmed.
pub fn dns_1123(name: &str) -> String {
    let mut label = String::new();
    for c in name.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            label.push(c);
        } else if !label.ends_with('-') {
            label.push('-');
        }
    }
    let label = truncate(label.trim_matches('-'));
    if label.is_empty() { "x".to_owned() } else { label }
}

fn truncate(label: &str) -> String {
    let cut: String = label.chars().take(63).collect();
    cut.trim_end_matches('-').to_owned()
}

/// Whether `name` is an environment key topo accepts (Kubernetes' rule: `discovery.type` is one).
pub fn is_env_key(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic() || matches!(c, '_' | '.' | '-'))
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// Whether `name` is a shell variable name: what a secret's name must be, since it is
/// written as `${NAME}` in compose and stack files.
pub fn is_env_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// An environment variable name made from a compose secret's name (`db_password` → `DB_PASSWORD`).
pub fn env_name(name: &str) -> String {
    let mut out: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// Memory in the unit a person would write: `512Mi`, `1Gi`, else bytes.
pub fn memory_text(memory: Memory) -> String {
    let bytes = memory.bytes();
    for (unit, factor) in [("Ti", 1u64 << 40), ("Gi", 1 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)] {
        if bytes >= factor && bytes.is_multiple_of(factor) {
            return format!("{}{unit}", bytes / factor);
        }
    }
    bytes.to_string()
}

/// A Go duration (`1m30s`, `1.5s`, `500ms`, `10us`), to whole milliseconds rounded up, and at most
/// the spec's longest duration ([`crate::validate::limits::MAX_DURATION`], 10 years): Go's own
/// maximum (~292 years, "forever") becomes that, never a value the spec refuses.
pub fn go_duration(text: &str) -> Option<Duration> {
    let longest = crate::validate::limits::MAX_DURATION;
    Duration::from_go(text).map(|duration| duration.min(longest))
}

/// The container side of a short port specification
/// (`[IP:][HOST[-HOST]:]CONTAINER[-CONTAINER][/PROTO]`): its ports, protocol,
/// and whether a host port is published.
#[derive(Debug, PartialEq, Eq)]
pub struct PortSpec {
    pub container: Vec<u16>,
    pub protocol: String,
    pub published: bool,
    /// The range had more ports than topo lists: only its first is kept.
    pub truncated: bool,
}

/// Most ports a range is expanded to.
pub const MAX_RANGE: usize = 16;

pub fn port_spec(text: &str) -> Option<PortSpec> {
    let slashes = split_outside_interpolations(text, b'/');
    let (ports, protocol) = match slashes.as_slice() {
        [.., protocol] if slashes.len() > 1 => {
            (&text[..text.len() - protocol.len() - 1], protocol.to_ascii_lowercase())
        }
        _ => (text, "tcp".to_owned()),
    };
    // An IPv6 host address is in brackets: `[::1]:8080:80`.
    let after_ip = match ports.rfind(']') {
        Some(i) => ports[i + 1..].trim_start_matches(':'),
        None => ports,
    };
    let parts = split_outside_interpolations(after_ip, b':');
    let container = parts.last()?.trim();
    let published = parts.len() > 1 || ports.contains(']');
    let (container, truncated) = port_range(container)?;
    Some(PortSpec { container, protocol, published, truncated })
}

/// `80` or `3000-3005`, at most [`MAX_RANGE`] ports.
pub fn port_range(text: &str) -> Option<(Vec<u16>, bool)> {
    let (first, last) = match text.split_once('-') {
        Some((a, b)) => (a.trim().parse::<u16>().ok()?, b.trim().parse::<u16>().ok()?),
        None => {
            let port = text.trim().parse::<u16>().ok()?;
            (port, port)
        }
    };
    if first == 0 || last < first {
        return None;
    }
    let count = usize::from(last - first) + 1;
    if count > MAX_RANGE {
        return Some((vec![first], true));
    }
    Some(((first..=last).collect(), false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_values() {
        assert!(is_secret_value("postgresql://app:pw@db:5432/app"));
        assert!(is_secret_value("redis://:pw@redis:6379"));
        assert!(!is_secret_value("redis://redis:6379"));
        assert!(!is_secret_value("postgresql://app@db/app"));
        assert!(is_secret_value("postgres://app:${DB_PASSWORD}@db/app"));
        assert!(!is_secret_value("${DOMAIN}"));
    }

    #[test]
    fn interpolation_and_escapes() {
        assert_eq!(interpolations("${A} $B $$C ${D:-x} $1 ${E?err}"), ["A", "B", "D", "E"]);
        assert_eq!(unescape_dollars("echo $$HOME ${A} $$$$"), "echo $HOME ${A} $$");
        assert!(!interpolates("price: $$5"));
    }

    #[test]
    fn names() {
        assert_eq!(dns_1035("My_Service"), "my-service");
        assert_eq!(dns_1035("1db"), "s-1db");
        assert_eq!(dns_1035("__"), "x");
        assert_eq!(dns_1123("postgres_data"), "postgres-data");
        assert_eq!(dns_1035(&"a".repeat(80)).len(), 63);
        assert_eq!(env_name("db-password"), "DB_PASSWORD");
        assert!(is_env_name("_A1") && !is_env_name("1A") && !is_env_name("a.b"));
        assert!(is_env_key("discovery.type") && is_env_key("A-B") && !is_env_key("1A") && !is_env_key("a b"));
    }

    #[test]
    fn docker_notations() {
        assert_eq!(memory_text(Memory::mebibytes(1536)), "1536Mi");
        assert_eq!(memory_text(Memory::mebibytes(2048)), "2Gi");
        assert_eq!(crate::spec::Cpu::from_docker("0.5"), Some(crate::spec::Cpu::from_millis(500)));
        assert_eq!(crate::spec::Cpu::from_docker("0.0001"), Some(crate::spec::Cpu::from_millis(1)));
        assert_eq!(crate::spec::Cpu::from_docker("0"), None);
        assert_eq!(go_duration("1m30s"), Some(Duration::from_millis(90_000)));
        assert_eq!(go_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(go_duration("10us"), Some(Duration::from_millis(1)));
        assert_eq!(go_duration("5x"), None);
    }

    #[test]
    fn port_specs() {
        let spec = |t| port_spec(t).map(|p| (p.container, p.protocol, p.published));
        assert_eq!(spec("80"), Some((vec![80], "tcp".into(), false)));
        assert_eq!(spec("8080:80"), Some((vec![80], "tcp".into(), true)));
        assert_eq!(spec("127.0.0.1:5432:5432"), Some((vec![5432], "tcp".into(), true)));
        assert_eq!(spec("[::1]:53:53/udp"), Some((vec![53], "udp".into(), true)));
        assert_eq!(spec("3000-3002:3000-3002"), Some((vec![3000, 3001, 3002], "tcp".into(), true)));
        assert_eq!(spec("${PORT}:80"), Some((vec![80], "tcp".into(), true)));
        assert_eq!(spec("${PORT}"), None);
        assert!(port_spec("10000-20000").is_some_and(|p| p.truncated && p.container == [10000]));
        assert_eq!(spec("${BIND:-0.0.0.0}:${HOST_PORT:-8080}:80"), Some((vec![80], "tcp".into(), true)));
        assert_eq!(spec("${A:-${B:-1:2}}:80"), Some((vec![80], "tcp".into(), true)));
    }

    #[test]
    fn splits_outside_interpolations() {
        let split = |t| split_outside_interpolations(t, b':');
        assert_eq!(split("${DATA:-./data}:/app/data:ro"), ["${DATA:-./data}", "/app/data", "ro"]);
        assert_eq!(split("${A:-${B:-x:y}}:/b"), ["${A:-${B:-x:y}}", "/b"]);
        assert_eq!(split("$${A:-x}:/b"), ["$${A", "-x}", "/b"]);
        assert_eq!(split("${A:-x:/b"), ["${A", "-x", "/b"]);
        assert_eq!(split("/only"), ["/only"]);
        assert_eq!(split(""), [""]);
    }

    #[test]
    fn interpolation_errors() {
        for ok in ["${A}", "$$", "$1 $ x", "${A:-x}", "${A-${B:-1}}", "${A:?needs A}", "${A+y}", "$${", "${A:-}"] {
            assert_eq!(interpolation_error(ok), None, "{ok}");
        }
        assert_eq!(interpolation_error("x ${A").map(|e| e.0), Some(2));
        assert_eq!(interpolation_error("ab${1x}").map(|e| e.0), Some(2));
        assert_eq!(interpolation_error("${}").map(|e| e.0), Some(0));
        assert_eq!(interpolation_error("${A B}").map(|e| e.0), Some(0));
        assert_eq!(interpolation_error("${A:x}").map(|e| e.0), Some(0));
        assert_eq!(interpolation_error("${A:-${B}").map(|e| e.0), Some(0));
        assert_eq!(without_required_messages("nginx:${TAG:?tag required}"), "nginx:${TAG}");
        assert_eq!(without_required_messages("${A?x} ${B:-y}"), "${A} ${B:-y}");
    }

    #[test]
    fn interpolation_defaults() {
        assert_eq!(with_defaults("${PORT:-3000}"), "3000");
        assert_eq!(with_defaults("${HTTP_PORT-8000}:${PORT:-80}/udp"), "8000:80/udp");
        assert_eq!(with_defaults("${PORT}:80"), "${PORT}:80");
        assert_eq!(with_defaults("${A:-${B:-1}}"), "1");
        assert_eq!(with_defaults("${A:?required}"), "${A:?required}");
        assert_eq!(with_defaults("$${X:-1} ${"), "$${X:-1} ${");
    }

    #[test]
    fn secret_arguments() {
        let secret = |n: &str| n.ends_with("PASSWORD");
        let mut found = Vec::new();
        let arg = secret_arg(
            "--requirepass ${REDIS_PASSWORD} $DB_PASSWORD $$KEPT_PASSWORD ${PORT} $HOME",
            secret,
            &mut found,
        );
        assert_eq!(arg, "--requirepass ${REDIS_PASSWORD} ${DB_PASSWORD} $KEPT_PASSWORD ${PORT} $HOME");
        assert_eq!(found, ["REDIS_PASSWORD", "DB_PASSWORD"]);
        let arg = secret_arg("${A_PASSWORD:-x} ${B_PASSWORD ${C_PASSWORD}${C_PASSWORD} $", secret, &mut found);
        assert_eq!(arg, "${A_PASSWORD:-x} ${B_PASSWORD ${C_PASSWORD}${C_PASSWORD} $", "only the plain forms");
        assert_eq!(found, ["REDIS_PASSWORD", "DB_PASSWORD", "C_PASSWORD"], "each once");
        assert_eq!(secret_arg("a$$b", secret, &mut found), "a$b");
    }
}
