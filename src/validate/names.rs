//! The naming rules Kubernetes (and Docker) impose, checked up front.

/// Why `name` is not a DNS-1123 label (`[a-z0-9]([-a-z0-9]*[a-z0-9])?`, ≤ 63), if it is not.
pub fn dns1123_label(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("is empty".into());
    }
    if name.len() > 63 {
        return Some(format!("is {} characters long; at most 63 are allowed", name.len()));
    }
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')) {
        return Some(if c.is_ascii_uppercase() {
            "has uppercase letters".into()
        } else {
            format!("contains `{c}`; only lowercase letters, digits and `-` are allowed")
        });
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Some("starts or ends with `-`".into());
    }
    None
}

/// Why `name` is not a DNS-1123 subdomain (dot-separated DNS-1123 labels, ≤ 253), if it is not.
pub fn dns1123_subdomain(name: &str) -> Option<String> {
    if name.len() > 253 {
        return Some(format!("is {} characters long; at most 253 are allowed", name.len()));
    }
    name.split('.').find_map(dns1123_label)
}

/// Why `name` is not a DNS-1035 label (a DNS-1123 label that starts with a letter).
pub fn dns1035_label(name: &str) -> Option<String> {
    dns1123_label(name).or_else(|| {
        (!name.starts_with(|c: char| c.is_ascii_lowercase())).then(|| "does not start with a letter".into())
    })
}

/// A suggested valid label for an invalid one.
pub fn sanitize_label(name: &str) -> String {
    let mut out: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_lowercase() || c.is_ascii_digit() { c } else { '-' })
        .collect();
    while out.contains("--") {
        out = out.replace("--", "-");
    }
    let trimmed = out.trim_matches('-');
    let mut label: String = trimmed.chars().take(63).collect();
    if label.is_empty() {
        label.push('x');
    }
    label.trim_end_matches('-').to_owned()
}

/// Why `name` is not a portable environment variable name (`[A-Za-z_][A-Za-z0-9_]*`).
pub fn env_name(name: &str) -> Option<String> {
    // Kubernetes' rule for environment variable names (`IsEnvVarName`), which
    // compose and Swarm accept too: `discovery.type` is a real setting of Elasticsearch.
    if name.is_empty() {
        return Some("is empty".into());
    }
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        return Some("starts with a digit".into());
    }
    name.chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
        .map(|c| format!("contains `{c}`; only letters, digits, `_`, `.` and `-` are allowed"))
}

/// Why `name` cannot be a secret's name, if it cannot: a secret is also written
/// as `${NAME}` in compose and stack files, so it is a shell variable name.
pub fn secret_name(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("is empty".into());
    }
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        return Some("starts with a digit".into());
    }
    name.chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_'))
        .map(|c| format!("contains `{c}`; only letters, digits and `_` are allowed"))
}

/// Why `key` is not a Kubernetes label key (`[prefix/]name`), if it is not.
pub fn label_key(key: &str) -> Option<String> {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix
        && (prefix.is_empty() || prefix.len() > 253 || prefix.split('.').any(|part| dns1123_label(part).is_some()))
    {
        return Some(format!("has an invalid prefix `{prefix}` (a DNS subdomain like `example.com`)"));
    }
    label_value(name).or_else(|| name.is_empty().then(|| "has an empty name".into()))
}

/// Why `value` is not a Kubernetes label value (≤ 63, alphanumerics with `-_.` inside).
pub fn label_value(value: &str) -> Option<String> {
    if value.len() > 63 {
        return Some(format!("is {} characters long; at most 63 are allowed", value.len()));
    }
    if let Some(c) = value.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))) {
        return Some(format!("contains `{c}`; only letters, digits, `-`, `_` and `.` are allowed"));
    }
    if value.starts_with(['-', '_', '.']) || value.ends_with(['-', '_', '.']) {
        return Some("must start and end with a letter or digit".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        for ok in ["a", "backend", "vps-1", "0abc", "a-b-c", &"x".repeat(63)] {
            assert_eq!(dns1123_label(ok), None, "{ok}");
        }
        for bad in ["", "Backend", "my_service", "-a", "a-", "a.b", &"x".repeat(64), "ñ"] {
            assert!(dns1123_label(bad).is_some(), "{bad}");
        }
        assert!(dns1035_label("1web").is_some());
        assert_eq!(dns1035_label("web1"), None);
    }

    #[test]
    fn sanitized_labels_are_valid() {
        for input in ["My_Service", "--a--", "ÑÑ", "a.b.c", &"Y".repeat(80)] {
            let label = sanitize_label(input);
            assert_eq!(dns1123_label(&label), None, "{input} → {label}");
        }
        assert_eq!(sanitize_label("My_Service"), "my-service");
    }

    #[test]
    fn env_names() {
        assert_eq!(env_name("POSTGRES_PASSWORD"), None);
        assert_eq!(env_name("_x1"), None);
        assert!(env_name("1X").is_some());
        assert_eq!(env_name("discovery.type"), None);
        assert_eq!(env_name("A-B"), None);
        assert!(env_name("A B").is_some());
        assert!(env_name("A=B").is_some());
        assert_eq!(secret_name("DB_PASSWORD"), None);
        assert!(secret_name("db.password").is_some());
        assert!(secret_name("A-B").is_some());
    }

    #[test]
    fn label_keys_and_values() {
        assert_eq!(label_key("tier"), None);
        assert_eq!(label_key("topology.kubernetes.io/zone"), None);
        assert!(label_key("bad prefix/x").is_some());
        assert!(label_key("a/").is_some());
        assert_eq!(label_value("batch"), None);
        assert_eq!(label_value(""), None);
        assert!(label_value("has space").is_some());
    }
}
