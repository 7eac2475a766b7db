//! Standard MIDI File output.
//!
//! Format 0, one track, 480 ticks per quarter note, tempo, time signature and key signature
//! meta events from the transcription's notation, and the notes at their measured
//! (unquantised) times, so that the file plays back exactly what was sung.

use crate::Transcription;
use midly::num::{u15, u24, u28, u4, u7};
use midly::{
    Format, Header, MetaMessage, MidiMessage, Smf, Timing, Track, TrackEvent, TrackEventKind,
};

/// Ticks per quarter note in the files we write.
pub const TICKS_PER_BEAT: u16 = 480;
/// Velocity of every note (humming carries no reliable dynamics).
const VELOCITY: u8 = 90;

/// Writes the transcription as a Standard MIDI File (format 0).
pub fn write_midi(t: &Transcription) -> Vec<u8> {
    let bpm = if t.tempo_bpm.is_finite() && t.tempo_bpm > 0.0 {
        t.tempo_bpm.clamp(10.0, 400.0)
    } else {
        120.0
    };
    let us_per_beat = (60_000_000.0 / bpm).round() as u32;
    let ticks_per_s = f64::from(TICKS_PER_BEAT) * bpm / 60.0;
    let to_tick = |s: f64| -> u64 { (s.max(0.0) * ticks_per_s).round() as u64 };
    // (tick, is_on, pitch); offs sort before ons at the same tick.
    let mut ev: Vec<(u64, bool, u8)> = Vec::with_capacity(t.notes.len() * 2);
    for n in &t.notes {
        let on = to_tick(n.onset_s);
        let off = to_tick(n.offset_s).max(on + 1);
        ev.push((on, true, n.pitch.min(127)));
        ev.push((off, false, n.pitch.min(127)));
    }
    ev.sort_by_key(|&(tick, on, _)| (tick, on));
    let mut track: Track = Vec::with_capacity(ev.len() + 4);
    track.push(TrackEvent {
        delta: u28::new(0),
        kind: TrackEventKind::Meta(MetaMessage::Tempo(u24::new(us_per_beat.min(0xFF_FFFF)))),
    });
    let (upper, lower) = t.notation.meter.figures();
    let clocks = if lower == 8 { 36 } else { 24 };
    track.push(TrackEvent {
        delta: u28::new(0),
        kind: TrackEventKind::Meta(MetaMessage::TimeSignature(
            upper as u8,
            lower.trailing_zeros() as u8,
            clocks,
            8,
        )),
    });
    track.push(TrackEvent {
        delta: u28::new(0),
        kind: TrackEventKind::Meta(MetaMessage::KeySignature(
            t.notation.key.fifths,
            t.notation.key.minor,
        )),
    });
    let mut last = 0u64;
    for (tick, on, pitch) in ev {
        let delta = (tick - last).min(u64::from(u32::from(u28::max_value()))) as u32;
        last = tick;
        let key = u7::new(pitch);
        let message = if on {
            MidiMessage::NoteOn {
                key,
                vel: u7::new(VELOCITY),
            }
        } else {
            MidiMessage::NoteOff {
                key,
                vel: u7::new(0),
            }
        };
        track.push(TrackEvent {
            delta: u28::new(delta),
            kind: TrackEventKind::Midi {
                channel: u4::new(0),
                message,
            },
        });
    }
    track.push(TrackEvent {
        delta: u28::new(0),
        kind: TrackEventKind::Meta(MetaMessage::EndOfTrack),
    });
    let smf = Smf {
        header: Header::new(
            Format::SingleTrack,
            Timing::Metrical(u15::new(TICKS_PER_BEAT)),
        ),
        tracks: vec![track],
    };
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    if smf.write_std(&mut out).is_err() {
        out.clear();
    }
    out
}
