//! The shell's commands that receive files or change the login: `download`, `hum`, `save`,
//! `logout`, and the advice given when a payload command is typed without its local file.

use std::path::{Path, PathBuf};

use kino_proto::PayloadKind;
use serde_json::{json, Map, Value};

use crate::failure::Failure;
use crate::hum;
use crate::line::{self, Word};
use crate::opts::Opts;
use crate::place::Out;
use crate::save::{fetch_to, Dest};
use crate::shell::Shell;
use crate::transfer;

/// What to type for a payload command given without its local file (`--file` for an upload,
/// `--out` for a download); `None` when the command carries no payload. The commands the
/// shell's own conveniences wrap point at those.
pub fn payload_advice(command: &str, payload: PayloadKind) -> Option<String> {
    let how = match (command, payload) {
        (_, PayloadKind::None) => return None,
        ("movies.upload", _) => "sends a file: use `upload PATH`".to_string(),
        ("melody.transcribe", _) => "sends a recording: use `hum PATH.wav`".to_string(),
        ("movies.download", _) => "receives a file: use `download ID`".to_string(),
        ("melody.fetch", _) => "receives a file: use `hum --fetch KEY [--out DIR]` \
             (both files), or `save melody.fetch key=KEY format=png --out PATH`"
            .to_string(),
        (_, PayloadKind::Download) => {
            format!("receives a file: usage: {command} [ARGS...] --out PATH [--force]")
        }
        (_, PayloadKind::Upload) => format!("sends a file: usage: {command} --file PATH [ARGS...]"),
    };
    Some(format!("`{command}` {how}"))
}

const DOWNLOAD: &str = "download ID [--out PATH] [--force]";
const HUM: &str = "hum PATH.wav [tempo_bpm=N] [min_note_ms=N] [title=T] [time_signature=3/4] \
                   [key=Bb] [--out DIR] [--force] | hum --fetch KEY [--out DIR] [--force]";
const SAVE: &str = "save COMMAND [ARGS...] --out PATH [--force]";

impl Shell {
    pub(crate) fn download(&mut self, line: &line::Line) -> Result<(), Failure> {
        let opts = Opts::parse(&line.words, &["out"], &["force"], DOWNLOAD)?;
        let usage = || Failure::Usage(format!("usage: {DOWNLOAD}"));
        let [Word::Plain(id)] = opts.rest.as_slice() else {
            return Err(usage());
        };
        let id: u64 = id.parse().map_err(|_| usage())?;
        let out = Out::parse(opts.value("out"));
        let path = transfer::download(
            &mut self.session.borrow_mut(),
            id,
            &out,
            opts.has("force"),
            self.style,
        )?;
        self.print_saved(&path)
    }

    pub(crate) fn print_saved(&self, path: &Path) -> Result<(), Failure> {
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        let shown = path.display().to_string();
        let value = if self.style.json {
            json!({"path": shown, "size": size})
        } else {
            json!(format!("saved {shown} ({size} bytes)"))
        };
        self.print(&value)
    }

    pub(crate) fn hum(&mut self, line: &line::Line) -> Result<(), Failure> {
        let opts = Opts::parse(&line.words, &["out", "fetch"], &["force"], HUM)?;
        let usage = || Failure::Usage(format!("usage: {HUM}"));
        let dir = PathBuf::from(opts.value("out").unwrap_or("."));
        let force = opts.has("force");
        if let Some(key) = opts.value("fetch") {
            if !opts.rest.is_empty() {
                return Err(usage());
            }
            let saved = hum::fetch(&mut self.session.borrow_mut(), key, key, &dir, force)?;
            return self.print_hummed(Value::Null, &saved);
        }
        let mut wav = None;
        let mut pairs = Vec::new();
        for w in &opts.rest {
            match w {
                Word::Plain(p) if wav.is_none() => wav = Some(p.clone()),
                Word::Pair(k, _)
                    if matches!(
                        k.as_str(),
                        "tempo_bpm" | "min_note_ms" | "title" | "time_signature" | "key"
                    ) =>
                {
                    pairs.push(w.clone())
                }
                _ => return Err(usage()),
            }
        }
        let Some(wav) = wav else {
            return Err(usage());
        };
        let info = self.session.borrow().command("melody.transcribe").cloned();
        let options = line::server_args(info.as_ref(), &pairs).map_err(Failure::Usage)?;
        let done = hum::hum(
            &mut self.session.borrow_mut(),
            Path::new(&wav),
            options,
            &dir,
            force,
        )?;
        self.print_hummed(done.reply, &done.saved)
    }

    fn print_hummed(&self, reply: Value, saved: &[PathBuf]) -> Result<(), Failure> {
        let paths: Vec<String> = saved.iter().map(|p| p.display().to_string()).collect();
        if self.style.json {
            let mut reply = match reply {
                Value::Null => json!({}),
                r => r,
            };
            reply["saved"] = json!(paths);
            return self.print(&reply);
        }
        if !reply.is_null() {
            let notes = reply.get("notes").cloned().unwrap_or(json!([]));
            let score = reply.get("score_text").and_then(Value::as_str);
            if notes.as_array().is_some_and(|n| n.is_empty()) {
                self.print(&json!("no notes found"))?;
            } else if score.is_none() {
                // A server from before the text score: its table of notes.
                self.print(&notes)?;
            }
            self.print(&json!(hum::heading(&reply)))?;
            if let Some(score) = score.filter(|_| notes.as_array().is_some_and(|n| !n.is_empty())) {
                self.print(&json!(score))?;
            }
        }
        let mut text = String::new();
        for p in &paths {
            let what = if p.ends_with(".png") {
                "score"
            } else if p.ends_with(".musicxml") {
                "MusicXML score"
            } else {
                "MIDI"
            };
            text.push_str(&format!("saved {what} to {p}\n"));
        }
        self.print(&json!(text.trim_end()))
    }

    pub(crate) fn save(&mut self, line: &line::Line) -> Result<(), Failure> {
        let opts = Opts::parse(&line.words, &["out"], &["force"], SAVE)?;
        let usage = || Failure::Usage(format!("usage: {SAVE}"));
        let (Some(out), Some(Word::Plain(command))) = (opts.value("out"), opts.rest.first()) else {
            return Err(usage());
        };
        let info = self.session.borrow().command(command).cloned();
        if let Some(i) = info.as_ref().filter(|i| i.payload != PayloadKind::Download) {
            return Err(Failure::Usage(format!(
                "`{}` sends no file to save; run it without `save`",
                i.name
            )));
        }
        let args: Map<String, Value> =
            line::server_args(info.as_ref(), &opts.rest[1..]).map_err(Failure::Usage)?;
        let out = Out::parse(Some(out));
        let force = opts.has("force");
        out.check(force)?;
        let (_, path) = fetch_to(
            &mut self.session.borrow_mut(),
            command,
            args,
            Dest::Out(&out),
            force,
        )?;
        self.print_saved(&path)
    }

    pub(crate) fn logout(&mut self) -> Result<(), Failure> {
        let who = self.session.borrow().user().map(|u| u.name.clone());
        let Some(name) = who else {
            return self.print(&json!("not logged in"));
        };
        self.session.borrow_mut().logout()?;
        self.print(&json!(format!("logged out ({name})")))
    }
}

/// "showing 1-100 of 125 — next: movies.list kind=free offset=100" on standard error, when a
/// page does not hold the whole list (people only: not under `--json`).
pub fn page_note(style: crate::render::Style, line: &line::Line, page: kino_proto::Page) {
    let end = page.offset + page.count;
    if style.json || end >= page.total {
        return;
    }
    let mut next = line.command.clone();
    for w in &line.words {
        match w {
            Word::Pair(k, _) if k == "offset" => {}
            Word::Pair(k, v) if v.contains(char::is_whitespace) => {
                next.push_str(&format!(" {k}=\"{v}\""))
            }
            Word::Pair(k, v) => next.push_str(&format!(" {k}={v}")),
            Word::Plain(p) => next.push_str(&format!(" {p}")),
            Word::Flag(f) => next.push_str(&format!(" --{f}")),
        }
    }
    let shown = match page.count {
        0 => format!("showing none of {}", page.total),
        _ => format!("showing {}-{end} of {}", page.offset + 1, page.total),
    };
    crate::render::note(&format!("{shown} — next: {next} offset={end}"));
}
