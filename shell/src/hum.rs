//! `hum PATH.wav [tempo_bpm=N] [min_note_ms=N] [title=T] [time_signature=3/4] [key=Bb]
//! [--out DIR] [--force]`: sends a recording to `melody.transcribe` with the server's options,
//! prints the score as text (`| E4 q E4 q F4 q G4 q |`, names spelt from the key) under a line
//! with the tempo, time signature and key, then saves the MIDI file and the score next to each
//! other as `NAME.mid` and `NAME.png` (NAME: the WAV's file stem).
//! `hum --fetch KEY [--out DIR] [--force]` saves a past transcription's files as `KEY.mid` and
//! `KEY.png`. Files never replace existing ones unless `--force`: both take the first number
//! free for both, `NAME (1).mid` and `NAME (1).png`.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use kino_proto::ErrorCode;
use serde_json::{json, Map, Value};

use crate::failure::Failure;
use crate::place;
use crate::save::{fetch_to, Dest};
use crate::session::Session;
use crate::transfer::local;

/// What `hum` produced.
pub struct Hummed {
    /// The `melody.transcribe` reply (key, notes, tempo, ...); `null` for `--fetch`.
    pub reply: Value,
    /// The saved MIDI file and score.
    pub saved: Vec<PathBuf>,
}

/// Transcribes `wav` with `options` (the server's `tempo_bpm`, `min_note_ms`, `title`) and
/// saves its MIDI file and score into `dir`.
pub fn hum(
    session: &mut Session,
    wav: &Path,
    mut options: Map<String, Value>,
    dir: &Path,
    force: bool,
) -> Result<Hummed, Failure> {
    let stem = wav
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "melody".into());
    let len = fs::metadata(wav).map_err(|e| local(wav, e))?.len();
    let mut file = crate::cancel::Reader(File::open(wav).map_err(|e| local(wav, e))?);
    options.entry("title").or_insert_with(|| json!(stem));
    let reply = session.upload("melody.transcribe", options, &mut file, len, &mut |_| {})?;
    let key = reply
        .get("key")
        .and_then(Value::as_str)
        .ok_or_else(|| Failure::Local("melody.transcribe answered no key".into()))?
        .to_string();
    let saved = fetch(session, &key, &stem, dir, force)?;
    Ok(Hummed { reply, saved })
}

/// Saves transcription `key`'s MIDI file, MusicXML score and PNG score as `dir/STEM.mid`,
/// `dir/STEM.musicxml` and `dir/STEM.png`; a score of several pages adds `dir/STEM-p2.png` and
/// so on. A server that has no MusicXML for a result (made before it had them) is skipped.
pub fn fetch(
    session: &mut Session,
    key: &str,
    stem: &str,
    dir: &Path,
    force: bool,
) -> Result<Vec<PathBuf>, Failure> {
    let stem = crate::transfer::safe_name(stem);
    let formats = [("midi", "mid"), ("musicxml", "musicxml"), ("png", "png")];
    let targets: Vec<PathBuf> = formats
        .iter()
        .map(|(_, ext)| dir.join(format!("{stem}.{ext}")))
        .collect();
    let from = if force {
        0
    } else {
        place::free_index(&targets)
    };
    let mut saved = Vec::new();
    let mut pages = 1;
    for ((format, _), target) in formats.iter().zip(&targets) {
        let args = obj(json!({"key": key, "format": format}));
        let dest = Dest::Path {
            target,
            numbered: true,
            from,
        };
        match fetch_to(session, "melody.fetch", args, dest, force) {
            Ok((reply, path)) => {
                pages = reply.get("pages").and_then(Value::as_u64).unwrap_or(pages);
                saved.push(path);
            }
            Err(Failure::Client(e))
                if *format == "musicxml" && e.code() == Some(ErrorCode::NotFound) => {}
            Err(e) => return Err(e),
        }
    }
    for page in 2..=pages {
        let target = dir.join(format!("{stem}-p{page}.png"));
        let args = obj(json!({"key": key, "format": "png", "page": page}));
        let dest = Dest::Path {
            target: &target,
            numbered: true,
            from,
        };
        saved.push(fetch_to(session, "melody.fetch", args, dest, force)?.1);
    }
    Ok(saved)
}

/// The line above the text score: "tempo 108 bpm, 3/4, F major, pickup of 1 beat", or
/// "tempo ♩. = 70, 6/8, ..." (what the server reports; a server from before the notation gives
/// the tempo alone).
pub fn heading(reply: &Value) -> String {
    let tempo = reply
        .get("tempo_bpm")
        .and_then(Value::as_f64)
        .unwrap_or(0.0);
    // Compound time is beaten in dotted quarters ("tempo ♩. = 70"); simple time in bpm.
    let mark = reply
        .get("tempo_mark")
        .and_then(Value::as_str)
        .filter(|m| m.contains('.'));
    let mut parts = vec![match mark {
        Some(m) => format!("tempo {m}"),
        None => format!("tempo {tempo:.0} bpm"),
    }];
    for field in ["time_signature", "key_signature"] {
        if let Some(v) = reply.get(field).and_then(Value::as_str) {
            parts.push(v.to_string());
        }
    }
    if let Some(p) = reply
        .get("pickup_beats")
        .and_then(Value::as_f64)
        .filter(|p| *p > 0.0)
    {
        let unit = if p == 1.0 { "beat" } else { "beats" };
        parts.push(format!("pickup of {p} {unit}"));
    }
    parts.join(", ")
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::heading;
    use serde_json::json;

    #[test]
    fn compound_time_is_headed_in_dotted_quarters() {
        let reply = json!({"tempo_bpm": 105.0, "tempo_mark": "\u{2669}. = 70",
            "time_signature": "6/8", "key_signature": "C major"});
        assert_eq!(heading(&reply), "tempo \u{2669}. = 70, 6/8, C major");
        let reply = json!({"tempo_bpm": 90.0, "tempo_mark": "\u{2669} = 90",
            "time_signature": "3/4"});
        assert_eq!(heading(&reply), "tempo 90 bpm, 3/4");
    }
}
