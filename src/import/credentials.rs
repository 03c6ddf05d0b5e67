//! Credentials written into a command line (`command`, `entrypoint`,
//! `healthcheck.test`): `--requirepass hunter2`, `redis-cli -a hunter2`,
//! `mysqladmin -phunter2`, `PGPASSWORD=hunter2 psql`, `--password=…`, a URL
//! with a password, a token by its shape. The import moves each out of the
//! command into a declared secret, and the command reads it from the
//! environment through `sh -c` (`"${REDIS_PASSWORD}"`), so the imported spec
//! still works and holds no value.
//!
//! A script is read by a small POSIX-shell word splitter that remembers where
//! each character of a word came from and how it was quoted, so a literal is
//! replaced in place with the reference its quoting needs.

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::secret_shape::{self, Shape};

/// How a character of a shell word was quoted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Quote {
    None,
    Single,
    Double,
}

/// A shell word: its text, and where each part of it came from in the script.
#[derive(Debug)]
struct Word {
    text: String,
    /// Runs of `text` copied verbatim from the script with one quoting, in order.
    segments: Vec<Segment>,
}

/// `len` bytes of a word's text at `text_start`, copied from the script at `script_start`.
#[derive(Clone, Copy, Debug)]
struct Segment {
    text_start: usize,
    script_start: usize,
    len: usize,
    quote: Quote,
}

impl Word {
    fn new() -> Self {
        Self { text: String::new(), segments: Vec::new() }
    }

    /// Append `c`, found at `at` in the script.
    fn push(&mut self, c: char, at: usize, quote: Quote) {
        let text_start = self.text.len();
        self.text.push(c);
        let len = c.len_utf8();
        match self.segments.last_mut() {
            Some(last)
                if last.quote == quote
                    && last.script_start + last.len == at
                    && last.text_start + last.len == text_start =>
            {
                last.len += len;
            }
            _ => self.segments.push(Segment { text_start, script_start: at, len, quote }),
        }
    }

    /// Where the bytes `range` of the text are in the script, and their quoting; `None` when
    /// they are not one run of one quoting (an escape or a quote change inside).
    fn source(&self, range: &std::ops::Range<usize>) -> Option<(std::ops::Range<usize>, Quote)> {
        let first = self.segments.iter().find(|s| s.text_start + s.len > range.start)?;
        let last = self.segments.iter().rev().find(|s| s.text_start < range.end)?;
        let inside = self.segments.iter().filter(|s| s.text_start < range.end && s.text_start + s.len > range.start);
        if inside.clone().any(|s| s.quote != first.quote) {
            return None;
        }
        let start = first.script_start + (range.start - first.text_start);
        let end = last.script_start + (range.end - last.text_start);
        Some((start..end, first.quote))
    }
}

/// The words of a POSIX shell script (operators are words of their own; comments are skipped).
fn split(script: &str) -> Vec<Word> {
    let mut words = Vec::new();
    let mut current = Word::new();
    let mut quote = Quote::None;
    let mut chars = script.char_indices().peekable();
    let push = |word: &mut Word, c: char, at: usize, _len: usize, q: Quote| word.push(c, at, q);
    let end = |words: &mut Vec<Word>, word: &mut Word| {
        if !word.text.is_empty() {
            words.push(std::mem::replace(word, Word::new()));
        }
    };
    while let Some((at, c)) = chars.next() {
        match (quote, c) {
            (Quote::Single, '\'') | (Quote::Double, '"') => quote = Quote::None,
            (Quote::Single, _) => push(&mut current, c, at, c.len_utf8(), Quote::Single),
            (Quote::Double, '\\') => match chars.peek().copied() {
                Some((next_at, next)) if matches!(next, '"' | '\\' | '$' | '`') => {
                    chars.next();
                    push(&mut current, next, next_at, next.len_utf8(), Quote::Double);
                }
                _ => push(&mut current, c, at, 1, Quote::Double),
            },
            (Quote::Double, _) => push(&mut current, c, at, c.len_utf8(), Quote::Double),
            (Quote::None, '\'') => quote = Quote::Single,
            (Quote::None, '"') => quote = Quote::Double,
            (Quote::None, '\\') => {
                if let Some((next_at, next)) = chars.next() {
                    push(&mut current, next, next_at, next.len_utf8(), Quote::None);
                }
            }
            (Quote::None, '#') if current.text.is_empty() => while chars.next_if(|&(_, c)| c != '\n').is_some() {},
            (Quote::None, c) if c.is_whitespace() => end(&mut words, &mut current),
            (Quote::None, ';' | '&' | '|' | '(' | ')' | '<' | '>') => {
                end(&mut words, &mut current);
                push(&mut current, c, at, 1, Quote::None);
                end(&mut words, &mut current);
            }
            (Quote::None, _) => push(&mut current, c, at, c.len_utf8(), Quote::None),
        }
    }
    end(&mut words, &mut current);
    words
}

/// Programs whose `-a PASSWORD` is a password.
const REDIS_CLIENTS: [&str; 3] = ["redis-cli", "valkey-cli", "keydb-cli"];
/// Programs whose `-pPASSWORD` is a password.
const MYSQL_CLIENTS: [&str; 7] =
    ["mysql", "mysqladmin", "mysqldump", "mariadb", "mariadb-admin", "mariadb-dump", "mysqlshow"];

/// A credential found in a script: which word, which bytes of it, and the name its secret would take.
#[derive(Debug, PartialEq, Eq)]
struct Found {
    word: usize,
    range: std::ops::Range<usize>,
    /// A secret name suggested by how it was written (`PGPASSWORD`), or the suffix after the service's name (`_PASSWORD`).
    name: Name,
    /// How it was recognised, for the report (never the value).
    how: String,
}

/// The name a credential's secret takes: an exact name, or a suffix to the service's name.
#[derive(Debug, PartialEq, Eq, Clone)]
pub enum Name {
    Exact(String),
    Suffix(String),
}

fn program(word: &str) -> &str {
    word.rsplit('/').next().unwrap_or(word)
}

fn usable(literal: &str) -> bool {
    !literal.is_empty() && !literal.contains('$')
}

/// The credentials among `words`; `known` are the values of the service's secrets (by value → name).
fn find(words: &[Word], known: &BTreeMap<String, String>) -> Vec<Found> {
    let look = Look {
        words,
        known,
        redis: words.iter().any(|w| REDIS_CLIENTS.contains(&program(&w.text))),
        mysql: words.iter().any(|w| MYSQL_CLIENTS.contains(&program(&w.text))),
        curl: words.iter().any(|w| matches!(program(&w.text), "curl" | "wget")),
    };
    let mut found = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let at = look.at(i);
        // A credential found in the next word (an option's argument) skips that word.
        i += match &at {
            Some(f) if f.word > i => 2,
            _ => 1,
        };
        found.extend(at);
    }
    found
}

/// The words of one command and what they say about it.
struct Look<'w> {
    words: &'w [Word],
    known: &'w BTreeMap<String, String>,
    redis: bool,
    mysql: bool,
    curl: bool,
}

impl Look<'_> {
    /// The credential at word `i` (or in its argument, the next word), by the first rule that matches.
    fn at(&self, i: usize) -> Option<Found> {
        let text = self.words[i].text.as_str();
        self.known_value(i, text)
            .or_else(|| self.flag_equals(i, text))
            .or_else(|| self.flag_then_value(i, text))
            .or_else(|| self.curl_user(i, text))
            .or_else(|| self.header(i, text))
            .or_else(|| self.mysql_p(i, text))
            .or_else(|| shaped(i, text, self.known))
    }

    /// A value the service already has as a secret keeps that secret's name.
    fn named(&self, value: &str, name: Name) -> Name {
        self.known.get(value).map_or(name, |n| Name::Exact(n.clone()))
    }

    /// A bare word equal to a secret's value: not an option's argument (`pg_isready -U postgres`
    /// with the password `postgres` is a user name), and not a plain lowercase word.
    fn known_value(&self, i: usize, text: &str) -> Option<Found> {
        let after_option = i > 0 && self.words[i - 1].text.starts_with('-');
        let word_like = text.chars().all(|c| c.is_ascii_lowercase());
        if after_option || word_like {
            return None;
        }
        let name = self.known.get(text)?;
        Some(Found {
            word: i,
            range: 0..text.len(),
            name: Name::Exact(name.clone()),
            how: format!("the value of `{name}`"),
        })
    }

    /// `--password=x`, `--api-key=x`, `PGPASSWORD=x`.
    fn flag_equals(&self, i: usize, text: &str) -> Option<Found> {
        let (flag, value) = text.split_once('=')?;
        let bare = flag.trim_start_matches('-');
        if !usable(value)
            || bare.is_empty()
            || !bare.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
            || !secret_shape::is_secret_name(bare)
        {
            return None;
        }
        let name = if !flag.starts_with('-') && crate::import::words::is_env_name(bare) {
            Name::Exact(bare.to_owned())
        } else {
            Name::Suffix(suffix_for_flag(bare))
        };
        let name = self.named(value, name);
        Some(Found { word: i, range: flag.len() + 1..text.len(), name, how: format!("`{flag}=`") })
    }

    /// `--requirepass x`, `-a x` (redis clients), `--token x`.
    fn flag_then_value(&self, i: usize, text: &str) -> Option<Found> {
        let next = self.words.get(i + 1)?;
        if !text.starts_with('-')
            || !usable(&next.text)
            || next.text.starts_with(['-', '/', '.', '~'])
            || matches!(next.text.as_str(), ";" | "&" | "|" | "(" | ")" | "<" | ">")
        {
            return None;
        }
        let bare = text.trim_start_matches('-');
        let flag = (text == "-a" && self.redis)
            || (text.starts_with("--") && !bare.contains('=') && secret_shape::is_secret_name(bare));
        flag.then(|| Found {
            word: i + 1,
            range: 0..next.text.len(),
            name: self.named(&next.text, Name::Suffix(suffix_for_flag(bare))),
            how: format!("after `{text}`"),
        })
    }

    /// `curl -u user:password`, `--user user:password`.
    fn curl_user(&self, i: usize, text: &str) -> Option<Found> {
        let next = self.words.get(i + 1)?;
        let user = matches!(text, "-u" | "--user" | "--proxy-user")
            && self.curl
            && next.text.contains(':')
            && usable(&next.text);
        user.then(|| Found {
            word: i + 1,
            range: 0..next.text.len(),
            name: self.named(&next.text, Name::Suffix("_CREDENTIALS".to_owned())),
            how: format!("after `{text}`"),
        })
    }

    /// A header that carries a credential: `Authorization: Bearer …`, `X-Api-Key: …`.
    fn header(&self, i: usize, text: &str) -> Option<Found> {
        let (header, value) = text.split_once(':')?;
        if header.is_empty()
            || !header.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            || !(header.eq_ignore_ascii_case("authorization") || secret_shape::is_secret_name(header))
        {
            return None;
        }
        let start = header.len() + 1 + (value.len() - value.trim_start().len());
        usable(&text[start..]).then(|| Found {
            word: i,
            range: start..text.len(),
            name: self.named(&text[start..], Name::Suffix("_AUTHORIZATION".to_owned())),
            how: format!("the `{header}` header"),
        })
    }

    /// `-pPASSWORD` (mysql clients).
    fn mysql_p(&self, i: usize, text: &str) -> Option<Found> {
        (self.mysql && text.len() > 2 && text.starts_with("-p") && usable(&text[2..])).then(|| Found {
            word: i,
            range: 2..text.len(),
            name: self.named(&text[2..], Name::Suffix("_PASSWORD".to_owned())),
            how: "`-p`".to_owned(),
        })
    }
}

/// A value shaped like a secret (a URL with a password, a key prefix, a JWT, …).
fn shaped(i: usize, text: &str, known: &BTreeMap<String, String>) -> Option<Found> {
    let (shape, range) = secret_shape::find(text)?;
    if !usable(&text[range.clone()]) {
        return None;
    }
    let suffix = match shape {
        Shape::UrlPassword => {
            let scheme = text[range.clone()].split("://").next().unwrap_or_default();
            format!("_{}_URL", crate::import::words::env_name(scheme))
        }
        Shape::SecretParameter | Shape::PasswordHash => "_PASSWORD".to_owned(),
        Shape::KeyPrefix => "_API_KEY".to_owned(),
        Shape::Jwt => "_TOKEN".to_owned(),
        Shape::PrivateKey => "_PRIVATE_KEY".to_owned(),
        Shape::Random => "_SECRET".to_owned(),
    };
    let name = known.get(&text[range.clone()]).map_or(Name::Suffix(suffix), |n| Name::Exact(n.clone()));
    Some(Found { word: i, range, name, how: shape.describe().to_owned() })
}

/// `_PASSWORD` for the password flags, else the flag in capitals (`--api-key` → `_API_KEY`).
fn suffix_for_flag(flag: &str) -> String {
    let upper = crate::import::words::env_name(flag);
    if matches!(upper.as_str(), "A" | "P" | "PASS" | "PASSWORD" | "REQUIREPASS" | "MASTERAUTH" | "PWD") {
        "_PASSWORD".to_owned()
    } else {
        format!("_{upper}")
    }
}

/// One credential moved out of a command.
#[derive(Debug)]
pub struct Moved {
    pub name: String,
    pub value: String,
    pub how: String,
}

/// Most credentials one command may carry: more is no real command, and it is dropped.
const MAX_CREDENTIALS: usize = 16;

/// `script` with every credential replaced by a reference to its secret, and
/// what was moved; `name_for` picks the secret's name (`Exact` names are kept
/// when free, `Suffix` ones follow the service's name). `None` when a
/// credential cannot be replaced in place (it spans differently quoted text).
pub fn rewrite(
    script: &str,
    known: &BTreeMap<String, String>,
    name_for: &mut impl FnMut(&Name, &str) -> String,
) -> Option<(String, Vec<Moved>)> {
    let words = split(script);
    let found = find(&words, known);
    if found.len() > MAX_CREDENTIALS {
        return None;
    }
    let mut edits: Vec<(std::ops::Range<usize>, String)> = Vec::new();
    let mut moved = Vec::new();
    for f in found {
        let word = &words[f.word];
        let value = word.text[f.range.clone()].to_owned();
        let name = name_for(&f.name, &value);
        let (source, quote) = word.source(&f.range)?;
        let reference = match quote {
            Quote::None => format!("\"${{{name}}}\""),
            Quote::Double => format!("${{{name}}}"),
            Quote::Single => format!("'\"${{{name}}}\"'"),
        };
        edits.push((source, reference));
        moved.push(Moved { name, value, how: f.how });
    }
    if moved.is_empty() {
        return Some((script.to_owned(), moved));
    }
    edits.sort_by_key(|(range, _)| range.start);
    let mut out = String::with_capacity(script.len());
    let mut at = 0;
    for (range, reference) in edits {
        if range.start < at {
            return None; // overlapping finds
        }
        out.push_str(&script[at..range.start]);
        out.push_str(&reference);
        at = range.end;
    }
    out.push_str(&script[at..]);
    Some((out, moved))
}

/// An argument list as a shell script that runs it: `exec` and each word quoted as needed.
pub fn script_of(argv: &[String]) -> String {
    let words: Vec<Cow<'_, str>> = argv.iter().map(|w| shell_words::quote(w)).collect();
    format!("exec {}", words.join(" "))
}

/// Whether `argv` runs a shell on a script (`sh -c SCRIPT …`): the script's index.
pub fn shell_script(argv: &[String]) -> Option<usize> {
    let shell = matches!(program(argv.first()?), "sh" | "bash" | "ash" | "dash" | "zsh" | "ksh");
    let flag = argv.get(1)?;
    (shell && flag.starts_with('-') && !flag.starts_with("--") && flag.contains('c') && argv.len() > 2).then_some(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(script: &str) -> (String, Vec<(String, String)>) {
        let known = BTreeMap::from([("known-value-1".to_owned(), "KNOWN".to_owned())]);
        let mut name_for = |name: &Name, _: &str| match name {
            Name::Exact(n) => n.clone(),
            Name::Suffix(s) => format!("WEB{s}"),
        };
        let (out, moved) = rewrite(script, &known, &mut name_for).expect("rewritable");
        (out, moved.into_iter().map(|m| (m.name, m.value)).collect())
    }

    #[test]
    fn credentials_become_references() {
        let cases = [
            ("redis-server --requirepass hunter2", "redis-server --requirepass \"${WEB_PASSWORD}\"", "hunter2"),
            ("redis-cli -a 'hunter2' ping", "redis-cli -a ''\"${WEB_PASSWORD}\"'' ping", "hunter2"),
            ("PGPASSWORD=pw1 psql -h db", "PGPASSWORD=\"${PGPASSWORD}\" psql -h db", "pw1"),
            ("mysqladmin ping -u root -ppw2", "mysqladmin ping -u root -p\"${WEB_PASSWORD}\"", "pw2"),
            ("app --api-key=\"k3y\" run", "app --api-key=\"${WEB_API_KEY}\" run", "k3y"),
            ("curl redis://:pw3@redis:6379/0", "curl \"${WEB_REDIS_URL}\"", "redis://:pw3@redis:6379/0"),
            ("echo known-value-1", "echo \"${KNOWN}\"", "known-value-1"),
            (
                "curl -fsS -u admin:pw4 http://localhost/",
                "curl -fsS -u \"${WEB_CREDENTIALS}\" http://localhost/",
                "admin:pw4",
            ),
            (
                "curl -H 'Authorization: Bearer t0k' x",
                "curl -H 'Authorization: '\"${WEB_AUTHORIZATION}\"'' x",
                "Bearer t0k",
            ),
        ];
        for (script, expected, value) in cases {
            let (out, moved) = run(script);
            assert_eq!(out, expected, "{script}");
            assert_eq!(moved.len(), 1, "{script}");
            assert_eq!(moved[0].1, value, "{script}");
        }
    }

    #[test]
    fn plain_commands_stay() {
        for script in [
            "redis-server --maxmemory 1gb",
            "ls -a /data",
            "app --key-file /run/key.pem",
            "redis-cli -a \"$REDIS_PASSWORD\" ping",
            "nginx -p /etc/nginx",
            "app --token-ttl 30",
            "pg_isready -U known-value-1",
        ] {
            let (out, moved) = run(script);
            assert_eq!(out, script);
            assert!(moved.is_empty(), "{script}: {moved:?}");
        }
    }

    #[test]
    fn shell_scripts_are_recognised() {
        let argv = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(shell_script(&argv(&["sh", "-c", "x"])), Some(2));
        assert_eq!(shell_script(&argv(&["/bin/bash", "-ec", "x"])), Some(2));
        assert_eq!(shell_script(&argv(&["redis-server", "-c", "x"])), None);
        assert_eq!(script_of(&argv(&["a", "b c", "--x"])), "exec a 'b c' --x");
    }
}
