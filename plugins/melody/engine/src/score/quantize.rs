//! From measured note times to notated durations.
//!
//! The tempo gives a sixteenth-note grid. Its phase is the one that puts the onsets
//! closest to grid points; the first bar starts on the beat that holds the first note.
//! Short gaps between notes (articulation, breaths shorter than an eighth) are given
//! to the note before them, as a musician would write them. Every note and rest is then
//! cut at bar lines and split into values that show the beat (whole, dotted half,
//! half, dotted quarter, quarter, dotted eighth, eighth, sixteenth), tied as needed.

use crate::Transcription;

/// Sixteenths per 4/4 bar.
pub const BAR: u32 = 16;

/// One written note or rest inside a bar.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Event {
    /// MIDI pitch, or `None` for a rest.
    pub pitch: Option<u8>,
    /// Position in the bar, in sixteenths.
    pub pos: u32,
    /// Written value in sixteenths: 1, 2, 3, 4, 6, 8, 12 or 16.
    pub dur: u32,
    /// Tied to the next event (same pitch, continues the note).
    pub tie: bool,
}

/// A bar of 4/4.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Measure {
    /// Events in time order, filling the bar exactly.
    pub events: Vec<Event>,
}

/// Cuts a transcription into bars of notes and rests on a sixteenth grid.
pub fn quantize(t: &Transcription) -> Vec<Measure> {
    let bpm = if t.tempo_bpm.is_finite() && t.tempo_bpm > 0.0 {
        t.tempo_bpm.clamp(20.0, 400.0)
    } else {
        120.0
    };
    let beat = 60.0 / bpm;
    let six = beat / 4.0;
    let notes: Vec<_> = t
        .notes
        .iter()
        .filter(|n| n.onset_s.is_finite() && n.offset_s.is_finite())
        .collect();
    if notes.is_empty() {
        return vec![Measure {
            events: vec![Event {
                pitch: None,
                pos: 0,
                dur: BAR,
                tie: false,
            }],
        }];
    }
    // Grid phase that best fits the onsets.
    let mut best = (f64::INFINITY, 0.0);
    for k in 0..24 {
        let phase = six * f64::from(k) / 24.0;
        let err: f64 = notes
            .iter()
            .map(|n| {
                let x = (n.onset_s - phase) / six;
                (x - x.round()).powi(2)
            })
            .sum();
        if err < best.0 {
            best = (err, phase);
        }
    }
    let phase = best.1;
    let first = notes[0].onset_s;
    let t0 = phase + ((first - phase) / beat).floor() * beat;
    let q = |s: f64| -> i64 { ((s - t0) / six).round() as i64 };
    // (start, end, pitch) in sixteenths from t0.
    let mut spans: Vec<(i64, i64, u8)> = Vec::with_capacity(notes.len());
    for (i, n) in notes.iter().enumerate() {
        let mut s = q(n.onset_s).max(0);
        let mut end_s = n.offset_s;
        if let Some(next) = notes.get(i + 1) {
            let gap = next.onset_s - n.offset_s;
            if gap < (2.0 * six).min(0.25) {
                end_s = next.onset_s;
            }
        }
        if let Some(last) = spans.last_mut() {
            s = s.max(last.0 + 1);
            last.1 = last.1.min(s);
        }
        let e = q(end_s).max(s + 1);
        // A one-sixteenth rest between notes is articulation, not a rest.
        if let Some(last) = spans.last_mut() {
            if s - last.1 == 1 {
                last.1 = s;
            }
        }
        spans.push((s, e, n.pitch));
    }
    let total = spans.last().map_or(0, |s| s.1);
    let bars = ((total + i64::from(BAR) - 1) / i64::from(BAR)).max(1) as usize;
    let mut measures = vec![Measure::default(); bars];
    let mut cursor = 0i64;
    for &(s, e, p) in &spans {
        if s > cursor {
            place(&mut measures, cursor, s, None);
        }
        place(&mut measures, s, e, Some(p));
        cursor = e;
    }
    let end = bars as i64 * i64::from(BAR);
    if cursor < end {
        place(&mut measures, cursor, end, None);
    }
    measures
}

/// Adds a note or rest from `s` to `e` (sixteenths), cut at bar lines and into values.
fn place(measures: &mut [Measure], s: i64, e: i64, pitch: Option<u8>) {
    let bar = i64::from(BAR);
    let mut pos = s;
    while pos < e {
        let m = (pos / bar) as usize;
        let in_bar = (pos % bar) as u32;
        let bar_end = (pos / bar + 1) * bar;
        let len = (e.min(bar_end) - pos) as u32;
        let Some(measure) = measures.get_mut(m) else {
            return;
        };
        let values = split_values(in_bar, len, pitch.is_some());
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

/// Splits `len` sixteenths starting at `pos` in the bar into written values that keep
/// the beats visible. Rests use undotted values only.
fn split_values(mut pos: u32, mut len: u32, dotted: bool) -> Vec<u32> {
    let mut out = Vec::new();
    while len > 0 {
        let ok = |d: u32| -> bool {
            d <= len
                && match d {
                    16 => pos == 0,
                    12 => dotted && pos.is_multiple_of(4),
                    8 => pos.is_multiple_of(4),
                    6 => {
                        dotted
                            && pos.is_multiple_of(2)
                            && (pos.is_multiple_of(8) || pos / 8 == (pos + 5) / 8)
                    }
                    4 => {
                        pos.is_multiple_of(4)
                            || (dotted && pos.is_multiple_of(2) && pos / 8 == (pos + 3) / 8)
                    }
                    3 => dotted && pos % 4 <= 1,
                    2 => pos % 4 <= 2,
                    _ => true,
                }
        };
        let d = [16, 12, 8, 6, 4, 3, 2, 1]
            .into_iter()
            .find(|&d| ok(d))
            .unwrap_or(1);
        out.push(d);
        pos += d;
        len -= d;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Note;

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
        };
        let ms = quantize(&t);
        for m in &ms {
            let sum: u32 = m.events.iter().map(|e| e.dur).sum();
            assert_eq!(sum, BAR);
        }
        // 64 runs from beat 4 of bar 1 over the bar line: tied.
        let e = ms[0].events.last().copied();
        assert_eq!(e.map(|e| (e.pitch, e.tie)), Some((Some(64), true)));
        assert_eq!(ms[1].events[0].pitch, Some(64));
    }
}
