//! The arguments of a command or entrypoint, with the secrets they name.
//!
//! An argument is text, except `${NAME}` where `NAME` is one of the service's
//! secrets: that part is the secret's value, which each target fills in its
//! own way (compose and Swarm interpolate `${NAME:?…}` at deploy time,
//! Kubernetes expands `$(NAME)` from the container's secret env var). The rest
//! is passed as written: a target escapes its own `$` syntax in it.
//!
//! A shell's script (`sh -c SCRIPT`) is text whole: its `${NAME}` is the
//! shell's, expanded from the container's environment, where each secret of
//! the service already is. Pasting the value into the script instead would let
//! a quote or a `$` in it change the script.

use serde::Serialize;

/// One argument: text and secret references, in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Arg(pub Vec<Piece>);

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Piece {
    Text(String),
    /// The value of this secret of the service.
    Secret(String),
}

impl Arg {
    /// `text` with each `${NAME}` whose `NAME` is in `secrets` as a reference; every other
    /// character, other `${…}` included, is text.
    pub fn parse(text: &str, secrets: &[String]) -> Arg {
        let mut pieces = Vec::new();
        let mut rest = 0;
        for (start, end, name) in references(text) {
            if secrets.iter().any(|s| s == name) {
                if start > rest {
                    pieces.push(Piece::Text(text[rest..start].to_owned()));
                }
                pieces.push(Piece::Secret(name.to_owned()));
                rest = end;
            }
        }
        if rest < text.len() || pieces.is_empty() {
            pieces.push(Piece::Text(text[rest..].to_owned()));
        }
        Arg(pieces)
    }

    /// The argument as a target writes it: each text piece through `text`, each secret through `secret`.
    pub fn render(&self, text: impl Fn(&str) -> String, secret: impl Fn(&str) -> String) -> String {
        self.0
            .iter()
            .map(|piece| match piece {
                Piece::Text(t) => text(t),
                Piece::Secret(name) => secret(name),
            })
            .collect()
    }

    /// The secrets the argument names.
    pub fn secrets(&self) -> impl Iterator<Item = &str> {
        self.0.iter().filter_map(|p| match p {
            Piece::Secret(name) => Some(name.as_str()),
            Piece::Text(_) => None,
        })
    }
}

/// Shells whose `-c` takes a script.
const SHELLS: [&str; 6] = ["sh", "bash", "ash", "dash", "zsh", "ksh"];

/// The arguments of a command, `before` being what runs in front of them (the entrypoint, for a
/// command), with the references to `secrets` in them; a shell's script is text.
pub fn parse_args(before: &[String], args: &[String], secrets: &[String]) -> Vec<Arg> {
    let script = script_index(before, args);
    args.iter()
        .enumerate()
        .map(|(i, a)| if Some(i) == script { Arg(vec![Piece::Text(a.clone())]) } else { Arg::parse(a, secrets) })
        .collect()
}

/// Which of `args` is a shell's script: `before ++ args` starts with a shell (by its file name)
/// whose options, before any operand, include `c` (`-c`, `-ec`); the script is the next word.
pub fn script_index(before: &[String], args: &[String]) -> Option<usize> {
    let mut words = before.iter().chain(args).map(String::as_str).enumerate();
    let (_, shell) = words.next()?;
    if !SHELLS.contains(&shell.rsplit('/').next().unwrap_or(shell)) {
        return None;
    }
    let mut takes_value = false;
    for (k, word) in words {
        if takes_value {
            takes_value = false;
            continue;
        }
        // An operand ends the options.
        let flags = word.strip_prefix('-').or_else(|| word.strip_prefix('+'))?;
        if word.starts_with("--") {
            continue;
        }
        if flags.contains('c') {
            return (k + 1).checked_sub(before.len());
        }
        // `-o pipefail`: the option's value is the next word.
        takes_value = flags.ends_with('o');
    }
    None
}

/// One `$NAME` or `${NAME…}` in a text: where it starts, its name's range, whether it is
/// braced, and the byte after the name (`}` for a plain `${NAME}`, `:` for `${NAME:-x}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dollar {
    pub start: usize,
    pub name: (usize, usize),
    pub braced: bool,
    pub after: Option<u8>,
}

/// Every `$NAME` and `${NAME…}` in `text`, `NAME` shaped like an environment variable (a
/// letter or `_`, then letters, digits and `_`); `$$` is skipped whole (compose's escape of
/// a literal `$`, a shell's PID).
pub fn dollars(text: &str) -> Vec<Dollar> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i + 1 < bytes.len() {
        if bytes[i] != b'$' {
            i += 1;
            continue;
        }
        if bytes[i + 1] == b'$' {
            i += 2;
            continue;
        }
        let braced = bytes[i + 1] == b'{';
        let name_start = i + 1 + usize::from(braced);
        let name_len = bytes[name_start..]
            .iter()
            .enumerate()
            .take_while(|&(k, &b)| b == b'_' || b.is_ascii_alphabetic() || (k > 0 && b.is_ascii_digit()))
            .count();
        let end = name_start + name_len;
        if name_len > 0 {
            found.push(Dollar { start: i, name: (name_start, end), braced, after: bytes.get(end).copied() });
        }
        i = end.max(i + 1);
    }
    found
}

/// Every `${NAME}`: its byte range and the name. Not `$NAME`, nor `${NAME:-default}` and the
/// other forms with an operator.
pub fn references(text: &str) -> Vec<(usize, usize, &str)> {
    dollars(text)
        .into_iter()
        .filter(|d| d.braced && d.after == Some(b'}'))
        .map(|d| (d.start, d.name.1 + 1, &text[d.name.0..d.name.1]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets() -> Vec<String> {
        vec!["REDIS_PASSWORD".to_owned(), "TOKEN".to_owned()]
    }

    #[test]
    fn a_secret_reference_is_split_out_and_the_rest_is_text() {
        let arg = Arg::parse("redis://:${REDIS_PASSWORD}@cache:6379/${DB}", &secrets());
        assert_eq!(
            arg.0,
            [
                Piece::Text("redis://:".into()),
                Piece::Secret("REDIS_PASSWORD".into()),
                Piece::Text("@cache:6379/${DB}".into())
            ]
        );
        let compose = arg.render(|t| t.replace('$', "$$"), |s| format!("${{{s}:?{s} is required}}"));
        assert_eq!(compose, "redis://:${REDIS_PASSWORD:?REDIS_PASSWORD is required}@cache:6379/$${DB}");
        assert_eq!(
            arg.render(|t| t.replace('$', "$$"), |s| format!("$({s})")),
            "redis://:$(REDIS_PASSWORD)@cache:6379/$${DB}"
        );
    }

    #[test]
    fn only_the_plain_braced_form_of_a_service_secret_is_a_reference() {
        for text in [
            "$REDIS_PASSWORD",
            "$${REDIS_PASSWORD}",
            "${REDIS_PASSWORD:-x}",
            "${OTHER}",
            "${}",
            "${1A}",
            "$",
            "${TOKEN",
        ] {
            assert_eq!(Arg::parse(text, &secrets()).0, [Piece::Text(text.into())], "{text}");
        }
        assert_eq!(Arg::parse("${TOKEN}", &secrets()).0, [Piece::Secret("TOKEN".into())]);
        assert_eq!(
            Arg::parse("${TOKEN}${TOKEN}", &secrets()).secrets().collect::<Vec<_>>(),
            ["TOKEN", "TOKEN"],
            "side by side"
        );
        assert_eq!(Arg::parse("", &secrets()).0, [Piece::Text(String::new())], "an empty argument stays one");
    }

    #[test]
    fn a_shells_script_is_text_and_its_variables_the_shells() {
        let words = |w: &[&str]| w.iter().map(|s| (*s).to_owned()).collect::<Vec<String>>();
        let none: Vec<String> = Vec::new();
        let script = words(&["sh", "-c", "exec redis-server --requirepass \"${TOKEN}\"", "${TOKEN}"]);
        let args = parse_args(&none, &script, &secrets());
        assert_eq!(args[2].0, [Piece::Text(script[2].clone())], "the script");
        assert_eq!(args[3].0, [Piece::Secret("TOKEN".into())], "$0 after the script is an argument");
        assert_eq!(script_index(&none, &words(&["/bin/bash", "-euo", "pipefail", "-c", "x"])), Some(4));
        assert_eq!(script_index(&none, &words(&["bash", "-o", "pipefail", "-ec", "x"])), Some(4));
        assert_eq!(
            script_index(&words(&["sh", "-c"]), &words(&["x ${TOKEN}", "y"])),
            Some(0),
            "the entrypoint's shell"
        );
        assert_eq!(script_index(&words(&["sh"]), &words(&["-c", "x"])), Some(1));
        assert_eq!(script_index(&none, &words(&["sh", "script.sh", "-c", "x"])), None, "an operand ends the options");
        assert_eq!(script_index(&none, &words(&["redis-server", "-c", "x"])), None, "not a shell");
        assert_eq!(script_index(&words(&["sh", "-c", "x"]), &words(&["y"])), None, "the script is the entrypoint's");
    }

    #[test]
    fn references_name_their_byte_ranges() {
        let text = "a ${X_1} $${Y} ${Z:-d} ${é} ${W}";
        let found: Vec<(usize, usize, &str)> = references(text);
        assert_eq!(found, [(2, 8, "X_1"), (29, 33, "W")]);
    }
}
