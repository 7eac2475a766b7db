//! Transcriptions in the database and the blob store.
//!
//! A result is keyed by an HMAC (keyed with this server's secret, `melody_secret`, made at
//! random by the first start on a data directory) of its owner, the audio's MD5 and the
//! parameters, so a key cannot be computed from a recording without the server, two servers
//! give the same recording different keys, and two owners never share a result.
//! `melody_results` holds the notes and the MIDI and PNG blob keys, `melody_files` the MusicXML
//! score's (and the PNG pages after the first); `melody_owners` says who
//! asked for which key, one row per (owner, key), the Melodia listener's anonymous requests
//! being the owner NULL. A result is private to its owner and admins, and the listener serves
//! only results it made itself.
//!
//! The store is a cache per owner only: someone sending a recording another owner sent has it
//! transcribed anew (the same work and time as any new recording) and is answered
//! `cached: false`, so neither the reply nor its timing says that somebody sent it before.

use std::io::Write;

use kino_api::serde_json::{json, Value};
use std::sync::Arc;

use hmac::{Hmac, Mac};
use kino_api::{clock, params, BlobStore, CmdError, Ctx, Database, Identity, Row};
use md5::{Digest, Md5};

use crate::gate::Gate;
use crate::transcribe::Recording;
use kino_melody_engine::{
    decode_wav, render_score_pages, score_text, transcribe, write_midi, write_musicxml, Note,
    Params, ScoreLimits, ScoreParams, TempoMark, Transcription,
};

/// A stored result.
#[derive(Debug, Clone)]
pub struct Stored {
    /// The key clients fetch by.
    pub key: String,
    /// Recording length, seconds.
    pub duration_s: f64,
    /// Tempo used for the MIDI file and the score.
    pub tempo_bpm: f64,
    /// `[{onset_s, offset_s, pitch, name}]`.
    pub notes: Value,
    /// Blob key and size of the MIDI file.
    pub midi: (String, u64),
    /// Blob key and size of the score.
    pub png: (String, u64),
    /// Blob key and size of the MusicXML score; `None` for a result stored before there was
    /// one (it is transcribed anew when asked for again).
    pub musicxml: Option<(String, u64)>,
    /// Blob keys and sizes of the score's pages after the first (`png` is page 1).
    pub more_pages: Vec<(String, u64)>,
    /// Notes the transcriber found; more than `notes` holds when `--melody-max-notes` cut them.
    pub notes_found: u64,
    /// `{time_signature, key_signature, fifths, pickup_beats, score_text}`; `None` for a result
    /// stored before there was one (it is transcribed anew when asked for again).
    pub notation: Option<Value>,
}

impl Stored {
    /// Pages of the score (PNG).
    pub fn pages(&self) -> usize {
        1 + self.more_pages.len()
    }

    /// Blob of score page `page` (1-based), if there is one.
    pub fn page(&self, page: u32) -> Option<&(String, u64)> {
        match page {
            0 => None,
            1 => Some(&self.png),
            n => self.more_pages.get(usize::try_from(n - 2).ok()?),
        }
    }

    /// The reply of `melody.transcribe`.
    pub fn to_json(&self, cached: bool) -> Value {
        let mut reply = json!({
            "key": self.key,
            "notes": self.notes,
            "tempo_bpm": self.tempo_bpm,
            "duration_s": self.duration_s,
            "midi_size": self.midi.1,
            "png_size": self.png.1,
            "musicxml_size": self.musicxml.as_ref().map(|m| m.1),
            "pages": self.pages(),
            "notes_found": self.notes_found,
            "truncated": self.notes_found > self.notes.as_array().map_or(0, Vec::len) as u64,
            "cached": cached,
        });
        if let (Some(Value::Object(n)), Some(r)) = (&self.notation, reply.as_object_mut()) {
            r.extend(n.clone());
        }
        reply
    }
}

const RESULT_COLUMNS: &str = "key, duration_s, tempo_bpm, notes_json, midi_md5, midi_size, \
     png_md5, png_size, notes_found, notation_json";

fn from_row(r: &Row) -> Result<Stored, CmdError> {
    let notes: Value = serde_json_from(r.str(3)?)?;
    let kept = notes.as_array().map_or(0, Vec::len) as u64;
    Ok(Stored {
        // Rows from before the note cap have no count: they were never cut.
        notes_found: r.opt_i64(8)?.map_or(kept, |n| n.max(0) as u64),
        key: r.string(0)?,
        duration_s: r.f64(1)?,
        tempo_bpm: r.f64(2)?,
        notes,
        midi: (r.string(4)?, r.i64(5)?.max(0) as u64),
        png: (r.string(6)?, r.i64(7)?.max(0) as u64),
        musicxml: None,
        more_pages: Vec::new(),
        notation: r.opt_str(9)?.map(serde_json_from).transpose()?,
    })
}

/// A result's further files (`melody_files`) in `stored`.
fn load_files(db: &mut dyn Database, stored: &mut Stored) -> Result<(), CmdError> {
    let rows = db.query(
        "SELECT format, page, md5, size FROM melody_files WHERE key = ? ORDER BY format, page",
        params![stored.key.as_str()],
    )?;
    for r in &rows {
        let blob = (r.string(2)?, r.i64(3)?.max(0) as u64);
        match r.str(0)? {
            "musicxml" => stored.musicxml = Some(blob),
            "png" => stored.more_pages.push(blob),
            _ => {}
        }
    }
    Ok(())
}

/// Replaces the `melody_files` rows of `stored.key` with `stored`'s files.
fn save_files(db: &mut dyn Database, stored: &Stored) -> Result<(), CmdError> {
    let key = stored.key.as_str();
    db.execute("DELETE FROM melody_files WHERE key = ?", params![key])?;
    if let Some((md5, size)) = &stored.musicxml {
        db.execute(
            "INSERT INTO melody_files (key, format, page, md5, size) VALUES (?, 'musicxml', 1, ?, ?)",
            params![key, md5.as_str(), *size],
        )?;
    }
    for (i, (md5, size)) in stored.more_pages.iter().enumerate() {
        db.execute(
            "INSERT INTO melody_files (key, format, page, md5, size) VALUES (?, 'png', ?, ?, ?)",
            params![key, i as i64 + 2, md5.as_str(), *size],
        )?;
    }
    Ok(())
}

fn serde_json_from(text: &str) -> Result<Value, CmdError> {
    kino_api::serde_json::from_str(text).map_err(CmdError::internal)
}

/// The result stored under `key`, if any.
pub fn find(db: &mut dyn Database, key: &str) -> Result<Option<Stored>, CmdError> {
    let row = db.query_one(
        &format!("SELECT {RESULT_COLUMNS} FROM melody_results WHERE key = ?"),
        params![key],
    )?;
    let Some(mut stored) = row.as_ref().map(from_row).transpose()? else {
        return Ok(None);
    };
    load_files(db, &mut stored)?;
    Ok(Some(stored))
}

/// Whether `who` may see `key`: an admin may see any; a user only a key they asked for.
pub fn visible(db: &mut dyn Database, key: &str, who: &Identity) -> Result<bool, CmdError> {
    if who.role == kino_api::Role::Admin {
        return Ok(true);
    }
    Ok(db
        .query_one(
            "SELECT 1 FROM melody_owners WHERE key = ? AND owner_id = ?",
            params![key, who.user_id],
        )?
        .is_some())
}

/// Whether the Melodia listener made `key` itself (an anonymous request sent its recording).
pub fn made_by_listener(db: &mut dyn Database, key: &str) -> Result<bool, CmdError> {
    Ok(db
        .query_one(
            "SELECT 1 FROM melody_owners WHERE key = ? AND owner_id IS NULL",
            params![key],
        )?
        .is_some())
}

fn owns(db: &mut dyn Database, key: &str, owner: Option<i64>) -> Result<bool, CmdError> {
    Ok(db
        .query_one(
            "SELECT 1 FROM melody_owners WHERE key = ? AND ifnull(owner_id, -1) = ifnull(?, -1)",
            params![key, owner],
        )?
        .is_some())
}

/// This server's key secret (made by migration 2 on the first start on a data directory).
pub fn secret(db: &mut dyn Database) -> Result<String, CmdError> {
    db.query_one("SELECT secret FROM melody_secret WHERE id = 1", params![])?
        .ok_or_else(|| CmdError::internal("the melody key secret is missing"))?
        .string(0)
        .map_err(CmdError::from)
}

/// The key of `owner`'s recording with these parameters on the server whose secret is
/// `secret`: HMAC-MD5, so the key keeps the 32 hex digits the Melodia app expects and cannot be
/// computed (nor a recording confirmed) without the secret. The owner is part of it (`None`,
/// the listener, is one owner) so that no two owners share a result: the score carries its
/// owner's title, and a shared row would show one owner's title to another.
pub fn key_of(
    secret: &str,
    owner: Option<i64>,
    audio_md5: &str,
    (params, score): (&Params, &ScoreParams),
) -> String {
    let owner = owner.map_or("listener".into(), |id| format!("user:{id}"));
    let mut canonical = format!(
        "kino-melody-v2|{owner}|{audio_md5}|tempo={}|min_note_ms={}",
        params
            .tempo_bpm
            .map_or("auto".into(), |t| format!("{t:.3}")),
        params
            .min_note_ms
            .map_or("auto".into(), |m| format!("{m:.3}"))
    );
    // Only when given, so that the keys of results made without them stay what they were.
    if let Some(m) = score.time_signature {
        canonical.push_str(&format!("|time={m}"));
    }
    if let Some(k) = score.key {
        canonical.push_str(&format!("|key={}:{}", k.fifths, k.minor));
    }
    // HMAC takes a key of any length; `new_from_slice` cannot fail for it.
    let mut mac = match Hmac::<Md5>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => return hex::encode(Md5::digest(canonical.as_bytes())),
    };
    mac.update(canonical.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The notes, each named as the score spells it in `t`'s key.
fn notes_json(t: &Transcription) -> Value {
    let key = t.notation.key;
    Value::Array(
        t.notes
            .iter()
            .map(|n: &Note| {
                json!({
                    "onset_s": (n.onset_s * 1000.0).round() / 1000.0,
                    "offset_s": (n.offset_s * 1000.0).round() / 1000.0,
                    "pitch": n.pitch,
                    "name": key.name(n.pitch),
                })
            })
            .collect(),
    )
}

/// What `melody.transcribe` reports of the notation.
fn notation_json(t: &Transcription) -> Value {
    let n = &t.notation;
    json!({
        "time_signature": n.meter.to_string(),
        "key_signature": n.key.to_string(),
        "fifths": n.key.fifths,
        "pickup_beats": f64::from(n.pickup) / 4.0,
        "tempo_mark": TempoMark::new(t.tempo_bpm, n.meter).to_string(),
        "score_text": score_text(t),
    })
}

fn put_blob(blobs: &dyn BlobStore, bytes: &[u8]) -> Result<(String, u64), CmdError> {
    let mut w = blobs.create(bytes.len() as u64)?;
    w.write_all(bytes).map_err(CmdError::internal)?;
    let info = w.finish(bytes.len() as u64, None)?;
    Ok((info.md5, info.size))
}

/// Transcribes `wav` (or reuses the result `owner` already has for the same audio and
/// parameters), records `owner` as one of its owners, and returns the result and whether it was
/// reused. The work runs in one of `gate`'s slots (`busy` when there is none).
pub fn transcribe_or_reuse(
    ctx: &mut Ctx,
    gate: &Arc<Gate>,
    wav: Recording,
    params: (&Params, &ScoreParams),
    owner: Option<&Identity>,
    title: &str,
) -> Result<(Stored, bool), CmdError> {
    let audio_md5 = hex::encode(Md5::digest(&wav.bytes));
    let owner_id = owner.map(|o| o.user_id);
    let key = key_of(&secret(ctx.db())?, owner_id, &audio_md5, params);
    // A result from before MusicXML or the notation is made anew, so that it gets them.
    let reused = if owns(ctx.db(), &key, owner_id)? {
        find(ctx.db(), &key)?.filter(|s| s.musicxml.is_some() && s.notation.is_some())
    } else {
        None
    };
    let cached = reused.is_some();
    let stored = match reused {
        Some(s) => s,
        None => {
            let stored = compute(ctx, gate, wav, params, owner_id, title, key.clone())?;
            // The key is the owner's own, so a row already there is only this owner's (two
            // requests at once, or a row whose owner row is gone): what was just made replaces it.
            ctx.db().execute(
                "INSERT INTO melody_results (key, audio_md5, duration_s, tempo_bpm, notes_json,
                   midi_md5, midi_size, png_md5, png_size, notes_found, notation_json,
                   created_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET
                   duration_s = excluded.duration_s, tempo_bpm = excluded.tempo_bpm,
                   notes_json = excluded.notes_json, midi_md5 = excluded.midi_md5,
                   midi_size = excluded.midi_size, png_md5 = excluded.png_md5,
                   png_size = excluded.png_size, notes_found = excluded.notes_found,
                   notation_json = excluded.notation_json",
                params![
                    key.as_str(),
                    audio_md5.as_str(),
                    stored.duration_s,
                    stored.tempo_bpm,
                    stored.notes.to_string(),
                    stored.midi.0.as_str(),
                    stored.midi.1,
                    stored.png.0.as_str(),
                    stored.png.1,
                    stored.notes_found,
                    stored.notation.as_ref().map(Value::to_string),
                    clock::now_rfc3339()
                ],
            )?;
            save_files(ctx.db(), &stored)?;
            stored
        }
    };
    ctx.db().execute(
        "INSERT INTO melody_owners (key, owner_id, owner_name, title, created_at)
         VALUES (?, ?, ?, ?, ?)
         ON CONFLICT(ifnull(owner_id, -1), key) DO UPDATE SET created_at = excluded.created_at",
        params![
            key.as_str(),
            owner_id,
            owner.map(|o| o.name.as_str()),
            title,
            clock::now_rfc3339()
        ],
    )?;
    Ok((stored, cached))
}

/// Decodes, transcribes and renders inside a slot, each stage under its bound: the duration
/// (`--melody-max-seconds`), the notes kept (`--melody-max-notes`), the score's page height
/// (`--melody-max-score-px`) and pages (`--melody-max-score-pages`).
fn compute(
    ctx: &mut Ctx,
    gate: &Arc<Gate>,
    wav: Recording,
    (params, score): (&Params, &ScoreParams),
    owner_id: Option<i64>,
    title: &str,
    key: String,
) -> Result<Stored, CmdError> {
    let settings = ctx.settings();
    let _slot = gate.enter(
        owner_id,
        settings.of(super::MAX_JOBS),
        settings.of(super::MAX_JOBS_PER_USER),
    )?;
    let max_s = settings.of(super::MAX_SECONDS) as f64;
    let audio = decode_wav(&wav.bytes, max_s).map_err(|e| CmdError::bad_args(e.to_string()))?;
    // The file's bytes (up to `--melody-max-bytes`) are not needed past decoding: free them and
    // give their share of the budget back.
    drop(wav);
    let mut t = transcribe(&audio, params);
    let duration_s = audio.duration_s();
    drop(audio);
    let notes_found = t.notes.len() as u64;
    let max_notes = usize::try_from(settings.of(super::MAX_NOTES)).unwrap_or(usize::MAX);
    if t.notes.len() > max_notes || *score != ScoreParams::default() {
        // Notated anew from the notes kept, with the caller's time signature and key.
        let mut notes = t.notes;
        notes.truncate(max_notes);
        t = Transcription::notate(notes, params.tempo_bpm, score);
    }
    let limits = ScoreLimits {
        max_height: u32::try_from(settings.of(super::MAX_SCORE_PX)).unwrap_or(u32::MAX),
    };
    let midi = put_blob(ctx.blobs(), &write_midi(&t))?;
    let max_pages = usize::try_from(settings.of(super::MAX_SCORE_PAGES)).unwrap_or(usize::MAX);
    let mut pages = render_score_pages(&t, title, &limits, max_pages).into_iter();
    let png = put_blob(ctx.blobs(), &pages.next().unwrap_or_default())?;
    let more_pages = pages
        .map(|p| put_blob(ctx.blobs(), &p))
        .collect::<Result<Vec<_>, _>>()?;
    let musicxml = Some(put_blob(ctx.blobs(), &write_musicxml(&t, title))?);
    Ok(Stored {
        key,
        duration_s,
        tempo_bpm: t.tempo_bpm,
        notes: notes_json(&t),
        midi,
        png,
        musicxml,
        more_pages,
        notes_found,
        notation: Some(notation_json(&t)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_depend_on_secret_owner_audio_and_parameters() {
        let none = ScoreParams::default();
        let d = (&Params::default(), &none);
        let a = key_of("s", Some(1), "00", d);
        assert_eq!(a, key_of("s", Some(1), "00", d));
        assert_ne!(a, key_of("t", Some(1), "00", d));
        assert_ne!(a, key_of("s", Some(2), "00", d));
        assert_ne!(a, key_of("s", None, "00", d));
        assert_ne!(a, key_of("s", Some(1), "01", d));
        let tempo = Params {
            tempo_bpm: Some(90.0),
            min_note_ms: None,
        };
        assert_ne!(a, key_of("s", Some(1), "00", (&tempo, &none)));
        let min_note = Params {
            tempo_bpm: None,
            min_note_ms: Some(50.0),
        };
        assert_ne!(a, key_of("s", Some(1), "00", (&min_note, &none)));
        let waltz = ScoreParams {
            time_signature: Some(kino_melody_engine::Meter::ThreeFour),
            key: None,
        };
        let b = key_of("s", Some(1), "00", (&Params::default(), &waltz));
        assert_ne!(a, b);
        let in_f = ScoreParams {
            time_signature: Some(kino_melody_engine::Meter::ThreeFour),
            key: "F".parse().ok(),
        };
        assert_ne!(b, key_of("s", Some(1), "00", (&Params::default(), &in_f)));
        assert_eq!(a.len(), 32);
    }
}
