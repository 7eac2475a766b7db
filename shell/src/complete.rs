//! The line editor's helper: completion of command names (the server's, from `help`, and the
//! shell's own), of argument keys (`kind=`) and their choices, and of local paths for
//! `upload`, `run`, `download --out` and any payload command's `--file` or `--out`; grey hints of the arguments still to type, as
//! redis-cli shows them.

use std::borrow::Cow;
use std::cell::RefCell;
use std::rc::Rc;

use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::highlight::{CmdKind, Highlighter};
use rustyline::hint::{Hint, Hinter};
use rustyline::validate::Validator;
use rustyline::{Context, Helper};

use crate::session::Session;
use crate::shell::LOCAL;
use crate::usage::{arg_usage, path_flag};

/// Completion and hints from the session's cached command list.
pub struct KinoHelper {
    session: Rc<RefCell<Session>>,
    files: FilenameCompleter,
    /// Hints dimmed (off with `--color=never`, `NO_COLOR`, `TERM=dumb`).
    color: bool,
}

impl KinoHelper {
    /// A helper reading commands from `session` at each key press (the list changes on
    /// reconnect).
    pub fn new(session: Rc<RefCell<Session>>, color: bool) -> Self {
        KinoHelper {
            session,
            files: FilenameCompleter::new(),
            color,
        }
    }

    /// Paths for `hum`: folders and `.wav` files only.
    fn wav_files(
        &self,
        line: &str,
        pos: usize,
        ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let (start, all) = self.files.complete(line, pos, ctx)?;
        let wav = all
            .into_iter()
            .filter(|p| {
                let shown = p.display.trim_end_matches(['/', '\\']);
                p.display.ends_with('/')
                    || p.display.ends_with('\\')
                    || shown.to_ascii_lowercase().ends_with(".wav")
                    || std::path::Path::new(shown).is_dir()
            })
            .collect();
        Ok((start, wav))
    }

    /// Every command name, server and shell, sorted.
    fn names(&self) -> Vec<String> {
        let session = self.session.borrow();
        let mut names: Vec<String> = session.commands().iter().map(|c| c.name.clone()).collect();
        names.extend(LOCAL.iter().map(|(n, ..)| n.to_string()));
        names.sort();
        names.dedup();
        names
    }
}

/// The server's options `hum` passes on, completed as `key=`.
const HUM_KEYS: &[&str] = &[
    "tempo_bpm=",
    "min_note_ms=",
    "title=",
    "time_signature=",
    "key=",
];

/// The words before the cursor: the command, the finished arguments, and the partial word.
fn split(before: &str) -> (Option<&str>, Vec<&str>, &str) {
    let partial_start = before
        .rfind(char::is_whitespace)
        .map(|i| i + 1)
        .unwrap_or(0);
    let partial = &before[partial_start..];
    let mut done = before[..partial_start].split_whitespace();
    let command = done.next();
    (command, done.collect(), partial)
}

impl Completer for KinoHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = &line[..pos];
        let (command, done, partial) = split(before);
        let start = pos - partial.len();
        let pairs = |items: Vec<String>, suffix: &str| -> Vec<Pair> {
            items
                .into_iter()
                .filter(|c| c.starts_with(partial))
                .map(|c| Pair {
                    display: c.clone(),
                    replacement: format!("{c}{suffix}"),
                })
                .collect()
        };
        let Some(command) = command else {
            return Ok((start, pairs(self.names(), " ")));
        };
        match command {
            "hum" if partial.contains('=') || done.last() == Some(&"--fetch") => {}
            "hum" if done.last() == Some(&"--out") => return self.files.complete(line, pos, ctx),
            "hum" if !partial.is_empty() && HUM_KEYS.iter().any(|k| k.starts_with(partial)) => {
                return Ok((
                    start,
                    pairs(HUM_KEYS.iter().map(|k| k.to_string()).collect(), ""),
                ))
            }
            "hum" => return self.wav_files(line, pos, ctx),
            "upload" | "run" => return self.files.complete(line, pos, ctx),
            "download" | "save" if done.last() == Some(&"--out") => {
                return self.files.complete(line, pos, ctx)
            }
            "help" if done.is_empty() => return Ok((start, pairs(self.names(), ""))),
            _ => {}
        }
        let session = self.session.borrow();
        let Some(info) = session.command(command) else {
            return Ok((start, Vec::new()));
        };
        // A payload command's local file, as its spec says it has one.
        let flag = path_flag(info.payload).and_then(|f| f.split(' ').next());
        if flag.is_some() && done.last().copied() == flag {
            return self.files.complete(line, pos, ctx);
        }
        if let Some((key, _)) = partial.split_once('=') {
            let choices = info
                .args
                .iter()
                .find(|a| a.name == key)
                .map(|a| a.choices.iter().map(|c| format!("{key}={c}")).collect())
                .unwrap_or_default();
            return Ok((start, pairs(choices, " ")));
        }
        let unused = info
            .args
            .iter()
            .filter(|a| {
                !done
                    .iter()
                    .any(|w| w.split('=').next() == Some(a.name.as_str()))
            })
            .map(|a| format!("{}=", a.name))
            .collect();
        Ok((start, pairs(unused, "")))
    }
}

/// A grey hint; only command-name hints can be accepted with the right arrow.
pub struct ArgHint {
    display: String,
    completion: Option<String>,
}

impl Hint for ArgHint {
    fn display(&self) -> &str {
        &self.display
    }

    fn completion(&self) -> Option<&str> {
        self.completion.as_deref()
    }
}

impl Hinter for KinoHelper {
    type Hint = ArgHint;

    fn hint(&self, line: &str, pos: usize, _: &Context<'_>) -> Option<ArgHint> {
        if pos < line.len() || line.trim().is_empty() {
            return None;
        }
        let (command, done, partial) = split(line);
        let Some(command) = command else {
            // Typing the command word: suggest the rest of the only matching name.
            let names: Vec<String> = self
                .names()
                .into_iter()
                .filter(|n| n.starts_with(partial))
                .collect();
            return match names.as_slice() {
                [one] if one.len() > partial.len() => Some(ArgHint {
                    display: one[partial.len()..].to_string(),
                    completion: Some(one[partial.len()..].to_string()),
                }),
                _ => None,
            };
        };
        if !partial.is_empty() {
            return None;
        }
        let rest: Vec<String> = match LOCAL.iter().find(|(n, ..)| *n == command) {
            Some((_, usage, _)) if done.is_empty() => usage
                .split_whitespace()
                .skip(1)
                .map(str::to_string)
                .collect(),
            Some(_) => Vec::new(),
            None => {
                let session = self.session.borrow();
                let info = session.command(command)?;
                let mut rest: Vec<String> = info
                    .args
                    .iter()
                    .filter(|a| {
                        !done
                            .iter()
                            .any(|w| w.split('=').next() == Some(a.name.as_str()))
                    })
                    .map(arg_usage)
                    .collect();
                if let Some(f) = path_flag(info.payload) {
                    let word = f.split(' ').next().unwrap_or(f);
                    if !done.contains(&word) {
                        rest.push(f.to_string());
                    }
                }
                rest
            }
        };
        if rest.is_empty() {
            return None;
        }
        Some(ArgHint {
            display: rest.join(" "),
            completion: None,
        })
    }
}

impl Highlighter for KinoHelper {
    fn highlight_hint<'h>(&self, hint: &'h str) -> Cow<'h, str> {
        if !self.color {
            return Cow::Borrowed(hint);
        }
        Cow::Owned(format!("\x1b[2m{hint}\x1b[0m"))
    }

    fn highlight_char(&self, _line: &str, _pos: usize, _kind: CmdKind) -> bool {
        false
    }
}

impl Validator for KinoHelper {}

impl Helper for KinoHelper {}
