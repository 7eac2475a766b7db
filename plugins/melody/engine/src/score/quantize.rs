//! From measured note times to notated durations.
//!
//! A [`Notation`] gives the grid: the length of a sixteenth, where bar 1 starts, the pickup
//! and the time signature (chosen by `arrange`). Short gaps between notes (articulation,
//! breaths shorter than an eighth) are given to the note before them, as a musician would
//! write them; the last note's length is rounded to a single written value (a half note sung
//! a little short stays a half note). Every note and rest is then cut at bar lines and split
//! into values that show the beat ([`Meter::split`]), tied as needed.

use super::meter::Meter;
use crate::{Notation, Note};

/// One written note or rest inside a bar.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Event {
    /// MIDI pitch, or `None` for a rest.
    pub pitch: Option<u8>,
    /// Position in the bar, in sixteenths (a pickup bar starts after 0).
    pub pos: u32,
    /// Written value in sixteenths: 1, 2, 3, 4, 6, 8, 12 or 16 (a whole-bar rest: the bar).
    pub dur: u32,
    /// Tied to the next event (same pitch, continues the note).
    pub tie: bool,
}

/// A bar.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Measure {
    /// Events in time order, filling the bar exactly (a pickup bar from its first note).
    pub events: Vec<Event>,
    /// The incomplete bar before bar 1.
    pub pickup: bool,
}

/// Written lengths a final note is rounded to, in sixteenths.
const FINAL_VALUES: [i64; 7] = [2, 4, 6, 8, 12, 16, 24];

/// Cuts notes into bars of notes and rests on the notation's grid.
pub fn quantize(notes: &[Note], n: &Notation) -> Vec<Measure> {
    let meter = n.meter;
    let bar = i64::from(meter.bar());
    let six = if n.sixteenth_s.is_finite() && n.sixteenth_s > 0.0 {
        n.sixteenth_s
    } else {
        0.125
    };
    let notes: Vec<&Note> = notes
        .iter()
        .filter(|n| n.onset_s.is_finite() && n.offset_s.is_finite())
        .collect();
    let pickup = i64::from(n.pickup.min(meter.bar() - 1));
    if notes.is_empty() {
        return vec![Measure {
            events: vec![Event {
                pitch: None,
                pos: 0,
                dur: meter.bar(),
                tie: false,
            }],
            pickup: false,
        }];
    }
    let start = if pickup > 0 { bar - pickup } else { 0 };
    let origin = n.bar_s - pickup as f64 * six;
    let q = |s: f64| -> i64 { ((s - origin) / six).round() as i64 + start };
    // (start, end, pitch) in sixteenths from the start of bar 0.
    let mut spans: Vec<(i64, i64, u8)> = Vec::with_capacity(notes.len());
    for (i, note) in notes.iter().enumerate() {
        let mut s = q(note.onset_s).max(start);
        let mut end_s = note.offset_s;
        let next = notes.get(i + 1);
        let mut before_rest = true;
        if let Some(next) = next {
            let gap = next.onset_s - note.offset_s;
            if gap < (2.0 * six).min(0.25) {
                end_s = next.onset_s;
                before_rest = false;
            }
        }
        if let Some(last) = spans.last_mut() {
            s = s.max(last.0 + 1);
            last.1 = last.1.min(s);
        }
        let mut e = q(end_s).max(s + 1);
        if before_rest {
            // Releases come early: a note before a rest (or the last) is the nearest single
            // value to a little more than its measured length, up to the next note.
            let limit = next.map_or(i64::MAX, |n| q(n.onset_s));
            let len = (note.offset_s - note.onset_s).max(0.0) * 1.1 / six;
            let best = FINAL_VALUES
                .into_iter()
                .min_by(|a, b| {
                    let da = (len / *a as f64).ln().abs();
                    let db = (len / *b as f64).ln().abs();
                    da.total_cmp(&db)
                })
                .unwrap_or(4);
            if (len / best as f64).ln().abs() < 0.35 {
                e = (s + best).min(limit).max(s + 1);
            }
        }
        // A one-sixteenth rest between notes is articulation, not a rest.
        if let Some(last) = spans.last_mut() {
            if s - last.1 == 1 {
                last.1 = s;
            }
        }
        spans.push((s, e, note.pitch));
    }
    let total = spans.last().map_or(0, |s| s.1);
    let bars = ((total + bar - 1) / bar).max(1) as usize;
    let mut measures = vec![Measure::default(); bars];
    if pickup > 0 {
        measures[0].pickup = true;
    }
    let mut cursor = start;
    for &(s, e, p) in &spans {
        if s > cursor {
            place(&mut measures, meter, cursor, s, None);
        }
        place(&mut measures, meter, s, e, Some(p));
        cursor = e;
    }
    let end = bars as i64 * bar;
    if cursor < end {
        place(&mut measures, meter, cursor, end, None);
    }
    measures
}

/// Adds a note or rest from `s` to `e` (sixteenths), cut at bar lines and into values.
fn place(measures: &mut [Measure], meter: Meter, s: i64, e: i64, pitch: Option<u8>) {
    let bar = i64::from(meter.bar());
    let mut pos = s;
    while pos < e {
        let m = (pos / bar) as usize;
        let in_bar = (pos % bar) as u32;
        let bar_end = (pos / bar + 1) * bar;
        let len = (e.min(bar_end) - pos) as u32;
        let Some(measure) = measures.get_mut(m) else {
            return;
        };
        let values = meter.split(in_bar, len, pitch.is_some());
        let mut p = in_bar;
        for d in values {
            measure.events.push(Event {
                pitch,
                pos: p,
                dur: d,
                tie: pitch.is_some(),
            });
            p += d;
        }
        pos += i64::from(len);
    }
    // The last piece of a note is not tied onward.
    if pitch.is_some() {
        let m = ((e - 1) / bar) as usize;
        if let Some(ev) = measures.get_mut(m).and_then(|m| m.events.last_mut()) {
            ev.tie = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Transcription;

    #[test]
    fn bars_are_full_and_ties_join_pieces() {
        let t = Transcription {
            notes: vec![
                Note {
                    onset_s: 0.0,
                    offset_s: 0.75,
                    pitch: 60,
                },
                Note {
                    onset_s: 0.75,
                    offset_s: 1.0,
                    pitch: 62,
                },
                Note {
                    onset_s: 1.5,
                    offset_s: 3.0,
                    pitch: 64,
                },
            ],
            tempo_bpm: 120.0,
            notation: Notation::plain(120.0, 0.0),
        };
        let ms = quantize(&t.notes, &t.notation);
        for m in &ms {
            let sum: u32 = m.events.iter().map(|e| e.dur).sum();
            assert_eq!(sum, 16);
        }
        // 64 runs from beat 4 of bar 1 over the bar line: tied.
        let e = ms[0].events.last().copied();
        assert_eq!(e.map(|e| (e.pitch, e.tie)), Some((Some(64), true)));
        assert_eq!(ms[1].events[0].pitch, Some(64));
    }
}
