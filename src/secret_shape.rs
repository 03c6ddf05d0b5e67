//! Whether a name or a value is a secret: one detector, used by `topo import`
//! (which turns such values into declared secrets), by validation (which
//! warns when a spec writes one into `env`) and by diagnostics (which never
//! print one).
//!
//! A value is a secret by its *name* (`DB_PASSWORD`, `GITHUB_PAT`,
//! `SESSION_COOKIE`) or by its *shape*, whatever its name: a URL with a
//! password, a secret query parameter (`?password=`), a known key prefix
//! (`sk-`, `ghp_`, `xoxb-`, `AKIA`, …), a JWT, a PEM private key, a password
//! hash, or a long random-looking token. The rules are in the README
//! (`topo import`, "Secrets").

use std::ops::Range;

/// Words that make a name secret when they are a whole `_`-separated part of it (`API_KEY`, `DB_PASS`).
const SECRET_PARTS: [&str; 27] = [
    "PASSWORD",
    "PASSWD",
    "PASS",
    "PWD",
    "SECRET",
    "SECRETS",
    "TOKEN",
    "TOKENS",
    "KEY",
    "KEYS",
    "APIKEY",
    "CREDENTIAL",
    "CREDENTIALS",
    "PRIVATE",
    "SALT",
    "DSN",
    "PASSPHRASE",
    "JWT",
    "PAT",
    "SK",
    "COOKIE",
    "BEARER",
    "AUTHORIZATION",
    "HTPASSWD",
    "OPENAI",
    "WEBHOOK",
    "SIGNING",
];

/// Words that make a name secret anywhere in it (`DBPASSWORD`, `JWTSECRET`, `REQUIREPASS`).
const SECRET_INFIXES: [&str; 7] = ["PASSWORD", "PASSWD", "SECRET", "TOKEN", "APIKEY", "REQUIREPASS", "MASTERAUTH"];

/// Last parts that name something about a secret, not the secret itself (`SECRET_KEY_FILE`, `JWT_TOKEN_TTL`, `OPENAI_BASE_URL`).
const NOT_SECRET_LAST: [&str; 23] = [
    "FILE",
    "PATH",
    "DIR",
    "FILENAME",
    "LENGTH",
    "TTL",
    "EXPIRY",
    "EXPIRES",
    "ALGORITHM",
    "ALG",
    "URL",
    "HOST",
    "MODEL",
    "ORG",
    "ENABLED",
    "NAME",
    "ID",
    "ISSUER",
    "EXP",
    "EXPIRATION",
    "AUDIENCE",
    "AUD",
    "LIFETIME",
];

/// Whether a name (an environment variable, a flag, a query parameter) says it holds a secret.
pub fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    let parts: Vec<&str> = upper.split(|c: char| !c.is_ascii_alphanumeric()).filter(|p| !p.is_empty()).collect();
    if parts.len() > 1 && parts.last().is_some_and(|last| NOT_SECRET_LAST.contains(last)) {
        return false;
    }
    if upper == "PWD" {
        return false; // the shell's working directory
    }
    // `AUTH_HEADER`, `X_AUTH_TOKEN`: authentication sent as a header.
    let auth_header = parts.windows(2).any(|w| w[0] == "AUTH" && w[1] == "HEADER");
    auth_header || parts.iter().any(|p| SECRET_PARTS.contains(p)) || SECRET_INFIXES.iter().any(|w| upper.contains(w))
}

/// Why a value looks secret whatever its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// `postgres://user:pw@db/app`, `redis://:pw@redis`.
    UrlPassword,
    /// `…?password=…`, `&token=…`.
    SecretParameter,
    /// A vendor's key prefix: `sk-`, `ghp_`, `xoxb-`, `AKIA`, …
    KeyPrefix,
    /// `eyJ….….…`.
    Jwt,
    /// `-----BEGIN … PRIVATE KEY-----`.
    PrivateKey,
    /// bcrypt `$2y$…`, Apache `$apr1$…`, crypt `$5$`/`$6$`, `{SHA}`.
    PasswordHash,
    /// A long random-looking token (Shannon entropy, see [`high_entropy`]).
    Random,
}

impl Shape {
    /// What it is, for a message (never the value).
    pub fn describe(self) -> &'static str {
        match self {
            Shape::UrlPassword => "a URL with a password",
            Shape::SecretParameter => "a URL with a secret query parameter",
            Shape::KeyPrefix => "a vendor's API key",
            Shape::Jwt => "a JSON Web Token",
            Shape::PrivateKey => "a private key",
            Shape::PasswordHash => "a password hash",
            Shape::Random => "a long random token",
        }
    }
}

/// Known key prefixes and the least number of characters after them.
const PREFIXES: [(&str, usize); 22] = [
    ("sk-proj-", 16),
    ("sk-ant-", 16),
    ("sk-", 20),
    ("sk_live_", 16),
    ("sk_test_", 16),
    ("rk_live_", 16),
    ("rk_test_", 16),
    ("whsec_", 16),
    ("ghp_", 20),
    ("gho_", 20),
    ("ghu_", 20),
    ("ghs_", 20),
    ("ghr_", 20),
    ("github_pat_", 20),
    ("glpat-", 16),
    ("xoxa-", 10),
    ("xoxb-", 10),
    ("xoxp-", 10),
    ("xoxr-", 10),
    ("xoxs-", 10),
    ("npm_", 30),
    ("hf_", 30),
];

/// Whether `value` looks like a credential by its shape; the first shape found.
pub fn shape(value: &str) -> Option<Shape> {
    find(value).map(|(shape, _)| shape)
}

/// Where the first secret-shaped part of `text` is: its shape and byte range.
pub fn find(text: &str) -> Option<(Shape, Range<usize>)> {
    find_all(text).into_iter().next()
}

/// Most bytes a detector looks at from one starting point (a URL, a query
/// parameter, a hash): every detector is one pass over the text, so that a
/// 4 MiB line of `?` or `://` costs O(n), not O(n²).
const WINDOW: usize = 4096;

/// Every secret-shaped part of `text`, in order and not overlapping.
pub fn find_all(text: &str) -> Vec<(Shape, Range<usize>)> {
    let mut found: Vec<(Shape, Range<usize>)> = Vec::new();
    private_keys(text, &mut found);
    url_passwords(text, &mut found);
    secret_parameters(text, &mut found);
    password_hashes(text, &mut found);
    for (start, word) in words(text) {
        let range = start..start + word.len();
        if key_prefix(word) {
            found.push((Shape::KeyPrefix, range));
        } else if jwt(word) {
            found.push((Shape::Jwt, range));
        } else {
            let mut at = start;
            for segment in word.split('.') {
                if high_entropy(segment) {
                    found.push((Shape::Random, at..at + segment.len()));
                }
                at += segment.len() + 1;
            }
        }
    }
    found.sort_by_key(|(_, range)| (range.start, std::cmp::Reverse(range.end)));
    let mut kept: Vec<(Shape, Range<usize>)> = Vec::with_capacity(found.len());
    for (shape, range) in found {
        match kept.last_mut() {
            Some((_, last)) if range.start < last.end => last.end = last.end.max(range.end),
            _ => kept.push((shape, range)),
        }
    }
    kept
}

/// `text` with every secret-shaped part replaced by `***`.
pub fn mask(text: &str) -> String {
    let mut out = String::new();
    let mut at = 0;
    for (_, range) in find_all(text) {
        out.push_str(&text[at..range.start]);
        out.push_str("***");
        at = range.end;
    }
    out.push_str(&text[at..]);
    out
}

/// The largest char boundary of `text` at or below `i`.
fn floor(text: &str, i: usize) -> usize {
    let mut i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// `-----BEGIN … KEY-----` up to its `-----END …-----` (or the end of the text).
fn private_keys(text: &str, found: &mut Vec<(Shape, Range<usize>)>) {
    let mut from = 0;
    while let Some(i) = text[from..].find("-----BEGIN") {
        let start = from + i;
        let after = start + "-----BEGIN".len();
        let header_end = floor(text, after + 80);
        let header = text[after..header_end].split("-----").next().unwrap_or_default();
        if !header.ends_with("KEY") || !text[after..header_end].contains("-----") {
            from = after;
            continue;
        }
        let end = text[after..].find("-----END").map_or(text.len(), |e| {
            let end_at = after + e + "-----END".len();
            text[end_at..floor(text, end_at + 80)].find("-----").map_or(text.len(), |f| end_at + f + 5)
        });
        found.push((Shape::PrivateKey, start..end));
        from = end.max(after);
    }
}

/// URLs whose userinfo has a password (`scheme://user:PASSWORD@host`): the whole URL.
fn url_passwords(text: &str, found: &mut Vec<(Shape, Range<usize>)>) {
    let mut covered = 0;
    for (scheme_end, _) in text.match_indices("://") {
        if scheme_end < covered {
            continue;
        }
        let back = floor(text, scheme_end.saturating_sub(32));
        let back = (back..=scheme_end).find(|&i| text.is_char_boundary(i)).unwrap_or(scheme_end);
        let scheme_start = text[back..scheme_end]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
            .map_or(back, |i| back + i + 1);
        if scheme_start == scheme_end {
            continue;
        }
        let rest = &text[scheme_end + 3..floor(text, scheme_end + 3 + WINDOW)];
        let stop = |c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '`' | '/' | '?' | '#');
        let authority = &rest[..rest.find(stop).unwrap_or(rest.len())];
        if let Some((userinfo, _)) = authority.rsplit_once('@')
            && let Some((_, password)) = userinfo.split_once(':')
            && !password.is_empty()
        {
            let tail = &text[scheme_end + 3..];
            let url_end = tail.find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '`')).unwrap_or(tail.len());
            covered = scheme_end + 3 + url_end;
            found.push((Shape::UrlPassword, scheme_start..covered));
        }
    }
}

/// Query parameters whose name says secret (`?password=x`, `&api_key=x`): the value.
fn secret_parameters(text: &str, found: &mut Vec<(Shape, Range<usize>)>) {
    for (i, _) in text.match_indices(['?', '&', ';']) {
        let start = i + 1;
        let rest = &text[start..floor(text, start + WINDOW)];
        let pair_end = rest.find(['?', '&', '#', ' ', '"', '\'', ';', '\n']).unwrap_or(rest.len());
        if let Some((name, value)) = rest[..pair_end].split_once('=')
            && !value.is_empty()
            && !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
            && is_secret_name(name)
        {
            found.push((Shape::SecretParameter, start + name.len() + 1..start + pair_end));
        }
    }
}

/// Markers of password hashes; compose writes `$` as `$$`.
const HASH_MARKERS: [&str; 8] = ["$2a$", "$2b$", "$2y$", "$apr1$", "$5$", "$6$", "$1$", "{SHA}"];

/// bcrypt (`$2a$`, `$2b$`, `$2y$`), Apache MD5 (`$apr1$`), SHA-crypt (`$5$`, `$6$`), MD5-crypt
/// (`$1$`), htpasswd SHA (`{SHA}`), with or without compose's `$$` escapes: to the end of the word.
fn password_hashes(text: &str, found: &mut Vec<(Shape, Range<usize>)>) {
    for marker in HASH_MARKERS {
        let escaped = marker.replace('$', "$$");
        for form in [marker, escaped.as_str()] {
            // A marker inside a hash already found is part of it: each byte is scanned once.
            let mut covered = 0;
            for (start, _) in text.match_indices(form) {
                if start < covered {
                    continue;
                }
                let body = &text[start + form.len()..floor(text, start + form.len() + 64)];
                let hashy = body
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '/' | '$' | '+' | '='))
                    .count();
                if hashy < 8 {
                    continue;
                }
                let tail = &text[start..];
                let end = tail.find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | ',')).unwrap_or(tail.len());
                covered = start + end;
                found.push((Shape::PasswordHash, start..start + end));
            }
        }
    }
}

/// The runs of token characters in `text` (letters, digits, `+/_-.`) and where each starts.
fn words(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let is_token = |c: char| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '_' | '-' | '.');
    let mut at = 0;
    std::iter::from_fn(move || {
        let rest = &text[at..];
        let start = at + rest.find(is_token)?;
        let len = text[start..].find(|c: char| !is_token(c)).unwrap_or(text.len() - start);
        at = start + len;
        Some((start, &text[start..start + len]))
    })
}

fn key_prefix(word: &str) -> bool {
    let body = |rest: &str, min: usize| {
        rest.len() >= min && rest.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
    };
    if PREFIXES.iter().any(|(prefix, min)| word.strip_prefix(prefix).is_some_and(|rest| body(rest, *min))) {
        return true;
    }
    // AWS access key ids, Google API keys.
    let aws = ["AKIA", "ASIA"].iter().any(|p| {
        word.strip_prefix(p)
            .is_some_and(|rest| rest.len() == 16 && rest.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()))
    });
    let google = word.strip_prefix("AIza").is_some_and(|rest| rest.len() >= 30 && body(rest, 30));
    aws || google
}

/// Three base64url parts, the first a JSON header (`eyJ`).
fn jwt(word: &str) -> bool {
    let parts: Vec<&str> = word.split('.').collect();
    parts.len() == 3
        && parts[0].starts_with("eyJ")
        && parts[0].len() >= 10
        && parts[1].len() >= 4
        && parts.iter().all(|p| p.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '=')))
}

/// Least length of a token judged by its entropy.
pub const MIN_RANDOM_LEN: usize = 24;
/// Least Shannon entropy, in bits per character, of such a token.
pub const MIN_ENTROPY: f64 = 4.0;

/// A long token that looks random: at least [`MIN_RANDOM_LEN`] characters of
/// letters, digits and `+/=_-`, with letters and digits mixed in both cases
/// (or at least 32 long in one case), and at least [`MIN_ENTROPY`] bits of
/// Shannon entropy per character. Not a hex string (digests, commit ids),
/// not a UUID, not a path (it starts with `/` or `.`, or has a `.`).
pub fn high_entropy(word: &str) -> bool {
    let word = word.trim_end_matches('=');
    if word.len() < MIN_RANDOM_LEN || word.starts_with(['/', '.', '-', '_']) || word.contains(['.']) {
        return false;
    }
    if !word.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '_' | '-')) {
        return false;
    }
    if word.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
        return false; // digests, commit ids, UUIDs
    }
    // A path or a list of words: every `/`, `-` or `_`-separated part is a plain word.
    let parts: Vec<&str> = word.split(['/', '-', '_']).filter(|p| !p.is_empty()).collect();
    if parts.len() > 1 && parts.iter().all(|p| p.len() < 12 && !mixed(p)) {
        return false;
    }
    let upper = word.chars().any(|c| c.is_ascii_uppercase());
    let lower = word.chars().any(|c| c.is_ascii_lowercase());
    let digit = word.chars().any(|c| c.is_ascii_digit());
    let classes = (upper && lower && digit) || (digit && (upper || lower) && word.len() >= 32);
    classes && entropy(word) >= MIN_ENTROPY
}

/// Whether a part mixes letters and digits in a way words do not (`a1B2`, not `v2`, `python3`).
fn mixed(part: &str) -> bool {
    let switches = part
        .as_bytes()
        .windows(2)
        .filter(|w| {
            w[0].is_ascii_digit() != w[1].is_ascii_digit() || (w[0].is_ascii_lowercase() && w[1].is_ascii_uppercase())
        })
        .count();
    switches >= 3
}

/// Shannon entropy of `text`, in bits per character.
pub fn entropy(text: &str) -> f64 {
    let mut counts = [0u32; 256];
    for b in text.bytes() {
        counts[usize::from(b)] += 1;
    }
    let len = text.len() as f64;
    counts.iter().filter(|&&n| n > 0).map(|&n| f64::from(n) / len).map(|p| -p * p.log2()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names() {
        for name in [
            "POSTGRES_PASSWORD",
            "JWT_SECRET",
            "API_KEY",
            "GITHUB_TOKEN",
            "DBPASSWORD",
            "db_pass",
            "SENTRY_DSN",
            "AWS_SECRET_ACCESS_KEY",
            "SECRET_KEY_BASE",
            "JWT",
            "OPENAI",
            "GITHUB_PAT",
            "AUTH_HEADER",
            "STRIPE_SK",
            "SESSION_COOKIE",
            "DSN",
            "requirepass",
            "api-key",
        ] {
            assert!(is_secret_name(name), "{name}");
        }
        for name in [
            "POSTGRES_USER",
            "KEYCLOAK_URL",
            "MONKEY",
            "POSTGRES_PASSWORD_FILE",
            "JWT_TOKEN_TTL",
            "PWD",
            "NODE_ENV",
            "PASSTHROUGH",
            "OPENAI_BASE_URL",
            "JWT_ISSUER",
            "JWT_EXP",
            "PATH",
            "AUTH_URL",
            "SKIP_MIGRATIONS",
        ] {
            assert!(!is_secret_name(name), "{name}");
        }
    }

    #[test]
    fn shapes() {
        let cases = [
            ("postgres://app:pw@db:5432/app", Shape::UrlPassword),
            ("redis://:pw@redis:6379/0", Shape::UrlPassword),
            ("jdbc:mysql://db/app?user=app&password=s3cr3t", Shape::SecretParameter),
            ("sk-proj-AbCdEf0123456789xyzXYZ", Shape::KeyPrefix),
            ("sk_live_51HabcDEF0123456789", Shape::KeyPrefix),
            ("ghp_abcdefghijklmnopqrstuvwxyz0123456789", Shape::KeyPrefix),
            ("github_pat_11ABCDEFG0123456789_abcdefghij", Shape::KeyPrefix),
            ("xoxb-123456789012-abcdefABCDEF", Shape::KeyPrefix),
            ("AKIAIOSFODNN7EXAMPLE", Shape::KeyPrefix),
            ("AIzaSyA-abcdefghijklmnopqrstuvwxyz01234", Shape::KeyPrefix),
            ("glpat-abcdefghij0123456789", Shape::KeyPrefix),
            ("Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", Shape::Jwt),
            ("-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----", Shape::PrivateKey),
            ("admin:$$2y$$05$$abcdefghijklmnopqrstuv", Shape::PasswordHash),
            ("user:$apr1$r31.....$HqJZimcKQFAMYayBlzkrA/", Shape::PasswordHash),
            ("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", Shape::Random),
            ("9fK2mQ7xL4pR8sT1vW3yZ6bN0cH5jD", Shape::Random),
        ];
        for (value, expected) in cases {
            assert_eq!(shape(value), Some(expected), "{value}");
        }
    }

    #[test]
    fn not_secret_shapes() {
        for value in [
            "postgres://app@db/app",
            "redis://redis:6379",
            "https://example.com/path?page=2&sort=name",
            "postgres@sha256:3c4f5e6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e",
            "123e4567-e89b-12d3-a456-426614174000",
            "/usr/local/lib/python3.11/site-packages",
            "ghcr.io/immich-app/immich-server:v1.119.0",
            "org.apache.kafka.connect.json.JsonConverter",
            "PLAINTEXT://kafka:9092,PLAINTEXT_HOST://localhost:29092",
            "max_connections=200 shared_buffers=256MB",
            "Host(`app.example.com`) && PathPrefix(`/api`)",
            "en_US.UTF-8",
            "da39a3ee5e6b4b0d3255bfef95601890afd80709",
            "traefik.http.routers.web.tls.certresolver",
            "--maxmemory-policy allkeys-lru",
            "CONFLUENT_METRICS_REPORTER_BOOTSTRAP_SERVERS",
            "postgres://${DB_USER}@db/app",
            "sk-short",
        ] {
            assert_eq!(shape(value), None, "{value}");
        }
    }

    #[test]
    fn masking_hides_every_shape() {
        let text = "connect to postgres://u:pw@db/x with sk-proj-AbCdEf0123456789xyzXYZ now";
        let masked = mask(text);
        assert!(!masked.contains("pw@") && !masked.contains("sk-proj"), "{masked}");
        assert!(masked.starts_with("connect to ***") && masked.ends_with(" now"), "{masked}");
        assert_eq!(mask("nothing here"), "nothing here");
    }

    #[test]
    fn entropy_is_bits_per_character() {
        assert!((entropy("aaaa") - 0.0).abs() < 1e-9);
        assert!((entropy("abcd") - 2.0).abs() < 1e-9);
    }
}
