//! `hum PATH.wav [--out DIR]`: sends a recording to `melody.transcribe`, then saves the MIDI file
//! and the score next to each other as `NAME.mid` and `NAME.png` (NAME: the WAV's file stem).
//! Files are written to `NAME.*.part` first and renamed when complete.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

use crate::failure::Failure;
use crate::session::Session;
use crate::transfer::local;

/// What `hum` produced.
pub struct Hummed {
    /// The `melody.transcribe` reply (key, notes, tempo, ...).
    pub reply: Value,
    /// The saved MIDI file and score.
    pub saved: Vec<PathBuf>,
}

/// Transcribes `wav` and saves its MIDI file and score into `dir`.
pub fn hum(session: &mut Session, wav: &Path, dir: &Path) -> Result<Hummed, Failure> {
    let stem = wav
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "melody".into());
    let len = fs::metadata(wav).map_err(|e| local(wav, e))?.len();
    let mut file = File::open(wav).map_err(|e| local(wav, e))?;
    let args = obj(json!({"title": stem}));
    let reply = session.upload("melody.transcribe", args, &mut file, len, &mut |_| {})?;
    let key = reply
        .get("key")
        .and_then(Value::as_str)
        .ok_or_else(|| Failure::Local("melody.transcribe answered no key".into()))?
        .to_string();
    fs::create_dir_all(dir).map_err(|e| local(dir, e))?;
    let mut saved = Vec::new();
    for (format, ext) in [("midi", "mid"), ("png", "png")] {
        let target = dir.join(format!("{stem}.{ext}"));
        let part = dir.join(format!("{stem}.{ext}.part"));
        let mut out = File::create(&part).map_err(|e| local(&part, e))?;
        let args = obj(json!({"key": key, "format": format}));
        session.download("melody.fetch", args, &mut |_| {}, &mut out, &mut |_| {})?;
        out.sync_all().map_err(|e| local(&part, e))?;
        fs::rename(&part, &target).map_err(|e| local(&target, e))?;
        saved.push(target);
    }
    Ok(Hummed { reply, saved })
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}
