//! One shell line, `command key=value key="quoted value" word --flag`, split into words with
//! shell-like quoting, then turned into a request's argument object using the command's schema
//! from `help`.
//!
//! Values are JSON when they parse as JSON (`limit=10`, `free=true`, `ids=[1,2]`) and strings
//! otherwise (`kind=free`). An argument the server declares as a string is always sent as a
//! string, so `name=2001` does not become a number the server would refuse.

use kino_proto::{ArgKind, CommandInfo};
use serde_json::{Map, Value};

/// One word of a line after unquoting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Word {
    /// `key=value`: the key was unquoted and followed by `=`.
    Pair(String, String),
    /// `--name`, unquoted: an option of a shell command.
    Flag(String),
    /// Anything else: a positional argument.
    Plain(String),
}

/// A parsed line: the command word and what follows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The first word, e.g. `movies.list` or `upload`.
    pub command: String,
    /// The remaining words in order.
    pub words: Vec<Word>,
}

/// Splits a line. `Ok(None)` for a blank line or a `#` comment.
pub fn parse(text: &str) -> Result<Option<Line>, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return Ok(None);
    }
    let mut words = split(trimmed)?.into_iter();
    let Some(first) = words.next() else {
        return Ok(None);
    };
    Ok(Some(Line {
        command: first.text,
        words: words.map(RawWord::into_word).collect(),
    }))
}

/// A word as the splitter saw it: its text and the byte index of an unquoted `=` that ends a
/// bare key, if any, and whether it started with an unquoted `--`.
struct RawWord {
    text: String,
    key_end: Option<usize>,
    flag: bool,
}

impl RawWord {
    fn into_word(self) -> Word {
        match self.key_end {
            Some(i) => Word::Pair(self.text[..i].to_string(), self.text[i + 1..].to_string()),
            None if self.flag && self.text.len() > 2 => Word::Flag(self.text[2..].to_string()),
            None => Word::Plain(self.text),
        }
    }
}

fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')
}

/// Shell-like splitting: whitespace separates words; `"..."` allows `\"`, `\\`, `\n`, `\t`;
/// `'...'` is literal; a backslash outside quotes escapes the next character.
///
/// Kept by hand rather than `shlex`: the words' meaning depends on what was quoted, which
/// `shlex::split` throws away. `"a=b"` is a plain word but `a=b` a pair, `"--no"` is a plain
/// word but `--no` a flag, and `\n` inside double quotes is a newline (`shlex` keeps the
/// backslash). `tests::splits_pairs_quotes_flags_and_plain_words` covers each of these.
fn split(text: &str) -> Result<Vec<RawWord>, String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Ok(out);
        }
        let mut word = RawWord {
            text: String::new(),
            key_end: None,
            flag: false,
        };
        // A key is a run of bare key characters at the very start of the word.
        let mut bare_key = true;
        let mut quoted_any = false;
        while let Some(&c) = chars.peek() {
            if c.is_whitespace() {
                break;
            }
            chars.next();
            match c {
                '"' => {
                    bare_key = false;
                    quoted_any = true;
                    loop {
                        match chars.next() {
                            None => return Err("unterminated \" quote".into()),
                            Some('"') => break,
                            Some('\\') => match chars.next() {
                                Some('n') => word.text.push('\n'),
                                Some('t') => word.text.push('\t'),
                                Some(other) => word.text.push(other),
                                None => return Err("unterminated \" quote".into()),
                            },
                            Some(other) => word.text.push(other),
                        }
                    }
                }
                '\'' => {
                    bare_key = false;
                    quoted_any = true;
                    loop {
                        match chars.next() {
                            None => return Err("unterminated ' quote".into()),
                            Some('\'') => break,
                            Some(other) => word.text.push(other),
                        }
                    }
                }
                '\\' => {
                    bare_key = false;
                    match chars.next() {
                        Some(other) => word.text.push(other),
                        None => return Err("a trailing backslash escapes nothing".into()),
                    }
                }
                '=' if bare_key && word.key_end.is_none() && !word.text.is_empty() => {
                    word.key_end = Some(word.text.len());
                    word.text.push('=');
                }
                other => {
                    if word.key_end.is_none() && !is_key_char(other) {
                        bare_key = false;
                    }
                    word.text.push(other);
                }
            }
        }
        word.flag = !quoted_any && word.key_end.is_none() && word.text.starts_with("--");
        out.push(word);
    }
}

/// The JSON value for `text` given the declared kind: strings stay strings; anything else is
/// JSON when it parses, else a string.
pub fn value_for(text: &str, kind: Option<ArgKind>) -> Value {
    if kind == Some(ArgKind::String) {
        return Value::String(text.to_string());
    }
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
}

/// Builds a server request's arguments. `key=value` words go by name; plain words fill the
/// declared arguments not given by name, in declared order (`movies.download 7` → `id=7`).
pub fn server_args(
    info: Option<&CommandInfo>,
    words: &[Word],
) -> Result<Map<String, Value>, String> {
    let kind_of = |key: &str| {
        info.and_then(|i| i.args.iter().find(|a| a.name == key))
            .map(|a| a.kind)
    };
    let mut args = Map::new();
    for word in words {
        if let Word::Pair(k, v) = word {
            if args.insert(k.clone(), value_for(v, kind_of(k))).is_some() {
                return Err(format!("`{k}` is given twice"));
            }
        }
    }
    let mut free_slots = info
        .map(|i| {
            i.args
                .iter()
                .filter(|a| !args.contains_key(&a.name))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default()
        .into_iter();
    for word in words {
        match word {
            Word::Pair(..) => {}
            Word::Flag(f) => {
                return Err(format!("`--{f}`: server commands take key=value arguments"))
            }
            Word::Plain(p) => match free_slots.next() {
                Some(slot) => {
                    args.insert(slot.name.clone(), value_for(p, Some(slot.kind)));
                }
                None => return Err(format!("unexpected argument `{p}`; use key=value")),
            },
        }
    }
    Ok(args)
}

/// Whether a line may hold a secret and must stay out of history: a value for an argument the
/// command's spec (`lookup`, from `help`) marks secret, by name or by position; a `session`
/// token; or, for commands the spec does not know, any word mentioning a password or token.
pub fn is_sensitive(text: &str, lookup: &dyn Fn(&str) -> Option<CommandInfo>) -> bool {
    let lower = text.to_ascii_lowercase();
    if lower.contains("pass") || lower.contains("secret") || lower.contains("token") {
        return true;
    }
    let line = match parse(text) {
        Ok(Some(line)) => line,
        Ok(None) => return false,
        // Unparseable text is not worth keeping and may be a half-typed secret.
        Err(_) => return true,
    };
    if line
        .words
        .iter()
        .any(|w| matches!(w, Word::Pair(k, _) if k == "session"))
    {
        return true;
    }
    let Some(info) = lookup(&line.command) else {
        return false;
    };
    let named: Vec<&str> = line
        .words
        .iter()
        .filter_map(|w| match w {
            Word::Pair(k, _) => Some(k.as_str()),
            _ => None,
        })
        .collect();
    // The path after a payload command's `--file` or `--out` is not an argument.
    let mut plain = 0;
    let mut after_path_flag = false;
    for w in &line.words {
        match w {
            Word::Plain(_) if !after_path_flag => plain += 1,
            _ => {}
        }
        after_path_flag = matches!(w, Word::Flag(f) if f == "file" || f == "out");
    }
    // Plain words fill the arguments not given by name, in order (as `server_args` does).
    let by_position = info
        .args
        .iter()
        .filter(|a| !named.contains(&a.name.as_str()))
        .take(plain);
    info.args
        .iter()
        .filter(|a| named.contains(&a.name.as_str()))
        .chain(by_position)
        .any(|a| a.secret)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kino_proto::{ArgInfo, PayloadKind, Role};
    use serde_json::json;

    fn words(text: &str) -> Vec<Word> {
        parse(text).expect("parses").expect("not blank").words
    }

    fn info(args: &[(&str, ArgKind)]) -> CommandInfo {
        CommandInfo {
            name: "x.y".into(),
            summary: String::new(),
            args: args
                .iter()
                .map(|(n, k)| ArgInfo::new(n, *k, true, ""))
                .collect(),
            role: Role::User,
            payload: PayloadKind::None,
            aliases: Vec::new(),
            open_args: false,
            legacy_only: false,
            internal: false,
            file_name: None,
            source: String::new(),
        }
    }

    #[test]
    fn splits_pairs_quotes_flags_and_plain_words() {
        assert_eq!(
            words(r#"cmd title="Opening night" k='a b' --paid "--no" x\ y a=b=c"#),
            vec![
                Word::Pair("title".into(), "Opening night".into()),
                Word::Pair("k".into(), "a b".into()),
                Word::Flag("paid".into()),
                Word::Plain("--no".into()),
                Word::Plain("x y".into()),
                Word::Pair("a".into(), "b=c".into()),
            ]
        );
        assert_eq!(words(r#"c "a=b""#), vec![Word::Plain("a=b".into())]);
        assert_eq!(
            words(r#"c t="a\nb""#),
            vec![Word::Pair("t".into(), "a\nb".into())]
        );
        assert!(parse("  # comment").expect("ok").is_none());
        assert!(parse("c \"open").is_err());
    }

    #[test]
    fn values_are_json_when_valid_and_strings_when_declared() {
        let spec = info(&[("name", ArgKind::String), ("limit", ArgKind::Uint)]);
        let args = server_args(Some(&spec), &words("c name=2001 limit=5 extra=[1,2] q=abc"))
            .expect("builds");
        assert_eq!(
            Value::Object(args),
            json!({"name": "2001", "limit": 5, "extra": [1, 2], "q": "abc"})
        );
    }

    #[test]
    fn plain_words_fill_declared_arguments_in_order() {
        let spec = info(&[("id", ArgKind::Uint), ("offset", ArgKind::Uint)]);
        let args = server_args(Some(&spec), &words("c offset=4 7")).expect("builds");
        assert_eq!(Value::Object(args), json!({"id": 7, "offset": 4}));
        assert!(server_args(Some(&spec), &words("c 1 2 3")).is_err());
        assert!(server_args(None, &words("c --x")).is_err());
    }

    #[test]
    fn secret_arguments_make_a_line_sensitive() {
        let mut spec = info(&[("name", ArgKind::String), ("pin", ArgKind::String)]);
        spec.args[1].secret = true;
        let lookup = |c: &str| (c == "x.y").then(|| spec.clone());
        assert!(is_sensitive("x.y name=a pin=b", &lookup));
        assert!(is_sensitive("x.y alice 1234", &lookup));
        assert!(!is_sensitive("x.y alice", &lookup));
        assert!(!is_sensitive("x.y name=alice", &lookup));
        assert!(!is_sensitive("x.y name=alice --out a.txt", &lookup));
        assert!(is_sensitive("x.y --force alice 1234", &lookup));
        assert!(is_sensitive("anything session=abc", &lookup));
        assert!(is_sensitive("auth.login name=a password=b", &lookup));
        assert!(!is_sensitive("movies.list kind=free", &lookup));
        assert!(!is_sensitive("login alice", &lookup));
    }
}
