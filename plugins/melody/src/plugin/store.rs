//! Transcriptions in the database and the blob store.
//!
//! A result is keyed by the MD5 of the audio and the parameters, so the same recording with the
//! same parameters is transcribed once: `melody_results` holds the notes and the MIDI and PNG
//! blob keys; `melody_owners` says who asked for which key (a result is private to its owners
//! and admins; the phone app's requests have no owner and are reached by key only).

use std::io::Write;

use kino_api::serde_json::{json, Value};
use kino_api::{clock, params, BlobStore, CmdError, Ctx, Database, Identity, Row};
use md5::{Digest, Md5};

use crate::{
    decode_wav, note_name, render_score, transcribe, write_midi, Note, Params, Transcription,
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
}

impl Stored {
    /// The reply of `melody.transcribe`.
    pub fn to_json(&self, cached: bool) -> Value {
        json!({
            "key": self.key,
            "notes": self.notes,
            "tempo_bpm": self.tempo_bpm,
            "duration_s": self.duration_s,
            "midi_size": self.midi.1,
            "png_size": self.png.1,
            "cached": cached,
        })
    }
}

const RESULT_COLUMNS: &str =
    "key, duration_s, tempo_bpm, notes_json, midi_md5, midi_size, png_md5, png_size";

fn from_row(r: &Row) -> Result<Stored, CmdError> {
    let notes: Value = serde_json_from(r.str(3)?)?;
    Ok(Stored {
        key: r.string(0)?,
        duration_s: r.f64(1)?,
        tempo_bpm: r.f64(2)?,
        notes,
        midi: (r.string(4)?, r.i64(5)?.max(0) as u64),
        png: (r.string(6)?, r.i64(7)?.max(0) as u64),
    })
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
    row.as_ref().map(from_row).transpose()
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

/// The key of a recording with these parameters.
pub fn key_of(audio_md5: &str, params: &Params) -> String {
    let canonical = format!(
        "kino-melody-v1|{audio_md5}|tempo={}|min_note_ms={}",
        params
            .tempo_bpm
            .map_or("auto".into(), |t| format!("{t:.3}")),
        params
            .min_note_ms
            .map_or("auto".into(), |m| format!("{m:.3}"))
    );
    hex::encode(Md5::digest(canonical.as_bytes()))
}

fn notes_json(notes: &[Note]) -> Value {
    Value::Array(
        notes
            .iter()
            .map(|n| {
                json!({
                    "onset_s": (n.onset_s * 1000.0).round() / 1000.0,
                    "offset_s": (n.offset_s * 1000.0).round() / 1000.0,
                    "pitch": n.pitch,
                    "name": note_name(n.pitch),
                })
            })
            .collect(),
    )
}

fn put_blob(blobs: &dyn BlobStore, bytes: &[u8]) -> Result<(String, u64), CmdError> {
    let mut w = blobs.create(bytes.len() as u64)?;
    w.write_all(bytes).map_err(CmdError::internal)?;
    let info = w.finish(bytes.len() as u64, None)?;
    Ok((info.md5, info.size))
}

/// Transcribes `wav` (or reuses the stored result for the same audio and parameters), records
/// `owner` as one of its owners, and returns the result and whether it was reused.
pub fn transcribe_or_reuse(
    ctx: &mut Ctx,
    wav: &[u8],
    params: &Params,
    owner: Option<&Identity>,
    title: &str,
) -> Result<(Stored, bool), CmdError> {
    let audio_md5 = hex::encode(Md5::digest(wav));
    let key = key_of(&audio_md5, params);
    let (stored, cached) = match find(ctx.db(), &key)? {
        Some(s) => (s, true),
        None => {
            let max_s = ctx.settings().f64("melody-max-seconds");
            let audio = decode_wav(wav, max_s).map_err(|e| CmdError::bad_args(e.to_string()))?;
            let t: Transcription = transcribe(&audio, params);
            let midi = put_blob(ctx.blobs(), &write_midi(&t))?;
            let png = put_blob(ctx.blobs(), &render_score(&t, title))?;
            let stored = Stored {
                key: key.clone(),
                duration_s: audio.duration_s(),
                tempo_bpm: t.tempo_bpm,
                notes: notes_json(&t.notes),
                midi,
                png,
            };
            ctx.db().execute(
                "INSERT INTO melody_results (key, audio_md5, duration_s, tempo_bpm, notes_json,
                   midi_md5, midi_size, png_md5, png_size, created_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO NOTHING",
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
                    clock::now_rfc3339()
                ],
            )?;
            (stored, false)
        }
    };
    ctx.db().execute(
        "INSERT INTO melody_owners (key, owner_id, owner_name, title, created_at)
         VALUES (?, ?, ?, ?, ?) ON CONFLICT(owner_id, key) DO UPDATE SET created_at = excluded.created_at",
        params![
            key.as_str(),
            owner.map(|o| o.user_id),
            owner.map(|o| o.name.as_str()),
            title,
            clock::now_rfc3339()
        ],
    )?;
    Ok((stored, cached))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_depend_on_audio_and_parameters() {
        let a = key_of("00", &Params::default());
        assert_eq!(a, key_of("00", &Params::default()));
        assert_ne!(a, key_of("01", &Params::default()));
        assert_ne!(
            a,
            key_of(
                "00",
                &Params {
                    tempo_bpm: Some(90.0),
                    min_note_ms: None
                }
            )
        );
        assert_ne!(
            a,
            key_of(
                "00",
                &Params {
                    tempo_bpm: None,
                    min_note_ms: Some(50.0)
                }
            )
        );
        assert_eq!(a.len(), 32);
    }
}
