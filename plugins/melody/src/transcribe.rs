//! `melody.transcribe`: a WAV recording in, notes out; the MIDI file and the score are stored
//! for `melody.fetch`.
//!
//! Wire form: `{"type":"melody.transcribe","title":"Ode","tempo_bpm":96,"min_note_ms":80,
//! "time_signature":"3/4","key":"F","file_size":N}` then the N bytes of a WAV file →
//! `{key, notes: [{onset_s, offset_s, pitch, name}], tempo_bpm, time_signature, key_signature,
//! pickup_beats, score_text, duration_s, midi_size, png_size, cached}`. The tempo, time
//! signature and key are estimated when not given, and the reply says which were used;
//! `score_text` is the score as text (note names spelt from the key, with their values).
//! `cached` says the same audio with the same parameters was transcribed before and the
//! stored result was returned.
//!
//! Transcription is CPU work: like every upload command it runs on a thread of its own, never on
//! the event loop, so other connections are served meanwhile. It runs in one of a bounded set of
//! slots (`--melody-max-jobs`, `--melody-max-jobs-per-user`), taken once the WAV has arrived.
//! `notes_found` is the number of notes found; at most `--melody-max-notes` are kept (the
//! MIDI file and the score hold the same ones) and `truncated` says when some were cut.
//!
//! Errors: `bad_args` (not a WAV file, an unsupported format, zero samples, longer than
//! `--melody-max-seconds`, a parameter out of range: the message says which), `too_large`
//! (over `--melody-max-bytes`), `busy` (no free slot, the caller's own or the server's, or the
//! recordings in memory would pass `--melody-max-buffered-bytes`).

use std::io::Read;
use std::sync::Arc;

use kino_api::{CmdError, Command, CommandArgs, Ctx, ErrorCode, Output};

use crate::gate::{Gate, Held};
use crate::notation::{score_params, KeyName, TimeSignature};
use crate::store::transcribe_or_reuse;
use kino_melody_engine::Params;

/// Longest title kept.
const MAX_TITLE: usize = 100;

/// Initial capacity of the WAV buffer: it grows with the bytes that arrive, never to the
/// declared size up front.
const FIRST_CHUNK: u64 = 1 << 20;

/// The spec; its transcriptions take their slots from `gate`.
pub fn command(gate: Arc<Gate>) -> Command {
    Command::new(
        "melody.transcribe",
        "Transcribe a hummed WAV into notes, MIDI and a score (the WAV's bytes follow)",
        move |ctx, args| transcribe(ctx, args, &gate),
    )
    .upload()
}

/// `melody.transcribe`'s arguments; core checks the ranges.
#[derive(CommandArgs)]
pub struct Transcribe {
    /// tempo for the MIDI and the score (estimated when absent)
    #[arg(range = 20..=400)]
    tempo_bpm: Option<f64>,
    /// drop notes shorter than this (default 70)
    #[arg(range = 0..=2000)]
    min_note_ms: Option<f64>,
    /// title printed on the score
    #[arg(default = "untitled")]
    title: String,
    /// time signature of the score (chosen from the rhythm when absent)
    time_signature: Option<TimeSignature>,
    /// key of the score, e.g. Bb or F#m (estimated from the notes when absent)
    key: Option<KeyName>,
}

/// A recording read into memory, with its share of the byte budget (given back on drop).
pub struct Recording {
    /// The WAV file's bytes.
    pub bytes: Vec<u8>,
    /// Its count against `--melody-max-buffered-bytes`.
    pub held: Held,
}

/// Reads a whole payload of `len` bytes, refusing more than `max`; the buffer grows with the
/// bytes received and its capacity is counted against `--melody-max-buffered-bytes`.
pub fn read_payload(ctx: &mut Ctx, max: u64, gate: &Arc<Gate>) -> Result<Recording, CmdError> {
    let budget = ctx.setting(super::MAX_BUFFERED_BYTES);
    let (reader, len) = ctx
        .take_upload()
        .ok_or_else(|| CmdError::bad_args("send the WAV file's bytes after the request"))?;
    if len > max {
        return Err(CmdError::new(
            ErrorCode::TooLarge,
            format!("a recording is at most {max} bytes; this one is {len}"),
        ));
    }
    let mut held = gate.hold();
    let first = len.min(FIRST_CHUNK);
    held.grow(first, budget)?;
    let mut wav = Vec::with_capacity(first as usize);
    let mut counted = wav.capacity() as u64;
    held.grow(counted.saturating_sub(first), budget)?;
    let mut chunk = vec![0u8; 64 * 1024];
    let mut reader = reader.take(len);
    loop {
        let n = match reader.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CmdError::bad_args(format!("reading the upload: {e}"))),
        };
        wav.extend_from_slice(&chunk[..n]);
        let cap = wav.capacity() as u64;
        if cap > counted {
            held.grow(cap - counted, budget)?;
            counted = cap;
        }
    }
    if (wav.len() as u64) < len {
        return Err(CmdError::bad_args("the upload ended early"));
    }
    Ok(Recording { bytes: wav, held })
}

fn transcribe(ctx: &mut Ctx, args: Transcribe, gate: &Arc<Gate>) -> Result<Output, CmdError> {
    let params = Params {
        tempo_bpm: args.tempo_bpm,
        min_note_ms: args.min_note_ms,
    };
    let title: String = args
        .title
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_TITLE)
        .collect();
    let max = ctx.setting(super::MAX_BYTES);
    let wav = read_payload(ctx, max, gate)?;
    let owner = ctx.user()?.clone();
    let score = score_params(args.time_signature, args.key);
    let (stored, cached) =
        transcribe_or_reuse(ctx, gate, wav, (&params, &score), Some(&owner), &title)?;
    Ok(stored.to_json(cached).into())
}
