//! Hum-to-MIDI: turns a recording of one voice humming or singing into notes, a
//! Standard MIDI File and a PNG of the melody in staff notation.
//!
//! The crate is a pure library (no I/O, no threads, no networking) so that the server
//! can run it inside a command handler and the tests can run it on generated signals.
//!
//! Layout:
//! - [`wav`]: panic-free RIFF/WAVE decoder (PCM 8/16/24/32, float, extensible), mixes to mono.
//! - `dsp`: resampling to the analysis rate, high-pass filtering, frame energy.
//! - `pitch`: per-frame periodicity (normalised square difference function) and
//!   Viterbi smoothing over 20-cent pitch states plus an unvoiced state.
//! - `harmonics`: a peak at a multiple of the chosen lag that stands out is the true period
//!   (vowels whose second or third harmonic is far stronger than the fundamental).
//! - `noise`: the clip's steady noise per frequency bin, taken off before the periodicity
//!   analysis.
//! - `nsdf_interp`: the NSDF between integer lags, for the periods of high voices and
//!   whistles.
//! - `segment`: tuning estimate, voiced regions, legato/detached boundaries, onsets and
//!   offsets, blip removal.
//! - `pieces`: semitone Viterbi inside a region and clean-up of octave slips, glide
//!   passages and blips.
//! - `contour`: folds scoops and glides into the note they lead to, and vibrato excursions
//!   that return, by the shape of the pitch contour.
//! - `envelope`: attack starts, release ends without reverb tails, dips that are new
//!   attacks of the same pitch.
//! - `reverb`: the room's decay rate from the clip's free decays per band, and the energy
//!   without the late reverberation.
//! - `late`: Habets' late reverberation per band, fed by the direct sound at the clip's
//!   direct-to-reverberant ratio: the floor under the direct energy in a room.
//! - `onsets`: offsets in a room, where the energy starts to follow the room's decay.
//! - `tempo`: beat-period estimate from inter-onset intervals.
//! - [`midi`]: Standard MIDI File writer.
//! - [`score`]: staff-notation rendering to PNG (quantisation, layout, glyphs) and MusicXML.
//!
//! The Kino plugin that serves all this as commands is `kino-melody` (`plugins/melody`).

#![deny(missing_docs)]

mod contour;
mod dsp;
mod envelope;
mod harmonics;
mod late;
pub mod midi;
mod noise;
mod nsdf_interp;
mod onsets;
mod pieces;
mod pitch;
mod reverb;
pub mod score;
mod segment;
mod tempo;
pub mod wav;

pub use midi::write_midi;
pub use score::{
    render_score, render_score_limited, render_score_pages, score_text, write_musicxml, Key, Meter,
    Notation, ScoreLimits, TempoMark,
};

/// Default bound on the notes kept from one recording (`--melody-max-notes`): a busy tune
/// sung for the longest allowed recording (600 s at 3 notes a second) fits.
pub const DEFAULT_MAX_NOTES: usize = 2000;
pub use wav::{decode_wav, Audio, WavError};

/// Options for [`transcribe`]; `Default` lets the transcriber measure everything itself.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Params {
    /// Tempo in beats per minute, when the user knows it; otherwise it is estimated
    /// from the note onsets. Only the MIDI tempo and the score's grid depend on it.
    pub tempo_bpm: Option<f64>,
    /// Notes shorter than this (milliseconds) are dropped as blips; default 70 ms.
    pub min_note_ms: Option<f64>,
}

/// What the caller fixes about the score (see [`Transcription::notate`]); what is left `None`
/// is chosen from the notes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScoreParams {
    /// Time signature, when the user knows it.
    pub time_signature: Option<Meter>,
    /// Key, when the user knows it.
    pub key: Option<Key>,
}

/// One transcribed note, at its measured (unquantised) time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Note {
    /// Start of the note in seconds from the start of the recording.
    pub onset_s: f64,
    /// End of the note in seconds (exclusive), always after `onset_s`.
    pub offset_s: f64,
    /// MIDI note number of the intended semitone (60 = C4).
    pub pitch: u8,
}

/// The result of [`transcribe`]: the notes in time order and how to notate them.
#[derive(Debug, Clone, PartialEq)]
pub struct Transcription {
    /// Non-overlapping notes sorted by onset.
    pub notes: Vec<Note>,
    /// Quarter notes per minute: the caller's value, or the tempo the score was written at
    /// (120 when there is nothing to go on).
    pub tempo_bpm: f64,
    /// Time signature, key, grid and pickup of the score.
    pub notation: Notation,
}

impl Transcription {
    /// Notates `notes` (sorted, non-overlapping): the tempo (`tempo_bpm`), time signature and
    /// key (`score`) when given, estimated otherwise, then the beat phase, downbeat and pickup
    /// that read best.
    pub fn notate(notes: Vec<Note>, tempo_bpm: Option<f64>, score: &ScoreParams) -> Transcription {
        let fixed = tempo_bpm.filter(|t| t.is_finite() && *t > 0.0);
        let estimate = fixed.unwrap_or_else(|| tempo::estimate(&notes));
        let (notation, tempo_bpm) = score::arrange(&notes, estimate, fixed, score);
        Transcription {
            notes,
            tempo_bpm,
            notation,
        }
    }
}

/// Transcribes a monophonic voice recording into notes.
///
/// Stages: resample and filter, per-frame pitch and voicing, Viterbi pitch smoothing,
/// segmentation into semitone notes, blip removal, tempo estimate, notation. See
/// `docs/melody.md`.
pub fn transcribe(audio: &Audio, params: &Params) -> Transcription {
    let min_note_s = params.min_note_ms.unwrap_or(segment::DEFAULT_MIN_NOTE_MS) / 1000.0;
    let notes = if audio.samples.is_empty() || audio.sample_rate == 0 {
        Vec::new()
    } else {
        let sig = dsp::prepare(audio);
        let track = pitch::track(&sig);
        // In a room, notes end with the direct sound, not with its tail.
        let (room, dips) = reverb::room(&sig, segment::dip_window(&track));
        segment::segment(&track, room.as_ref(), &dips, min_note_s.max(0.0))
    };
    Transcription::notate(notes, params.tempo_bpm, &ScoreParams::default())
}

/// Name of a MIDI note with sharps and scientific octave ("C#4" for 61), for logs,
/// listings and the score's captions.
pub fn note_name(pitch: u8) -> String {
    const NAMES: [&str; 12] = [
        "C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B",
    ];
    let octave = i32::from(pitch) / 12 - 1;
    format!("{}{}", NAMES[usize::from(pitch % 12)], octave)
}

/// The room's decay rate in dB per second as the transcriber estimates it (`None`: no
/// room), for error analysis by the examples.
#[doc(hidden)]
pub fn debug_room_rate(audio: &Audio) -> Option<f32> {
    if audio.samples.is_empty() || audio.sample_rate == 0 {
        return None;
    }
    reverb::room_rate_of(&dsp::prepare(audio))
}

/// Frame-level analysis for error analysis by the `evaluate` example:
/// `(time_s, energy_db, clarity, midi_or_nan)` per 5 ms frame.
#[doc(hidden)]
pub fn debug_frames(audio: &Audio) -> Vec<(f64, f32, f32, f32)> {
    if audio.samples.is_empty() || audio.sample_rate == 0 {
        return Vec::new();
    }
    let sig = dsp::prepare(audio);
    let track = pitch::track(&sig);
    (0..track.midi.len())
        .map(|i| {
            (
                i as f64 * track.hop_s,
                track.energy_db[i],
                track.clarity[i],
                track.midi[i],
            )
        })
        .collect()
}

/// Per frame, the coherent fall and rise over the voice's bands (`reverb::Coherent`,
/// 150 ms each side), for error analysis by the examples.
#[doc(hidden)]
pub fn debug_coherent_dips(audio: &Audio) -> Vec<(f32, f32)> {
    reverb::coherent_dips_of(&dsp::prepare(audio), 30)
}

/// Per frame, the direct energy and Habets' late reverberation of the voice's bands in dB
/// (`late.rs`; empty without a room), for error analysis by the examples.
#[doc(hidden)]
pub fn debug_late(audio: &Audio) -> Vec<(f32, f32)> {
    reverb::late_of(&dsp::prepare(audio))
}
