//! From measured note times to notated durations.
//!
//! A [`Notation`] gives the grid: the length of a sixteenth, where bar 1 starts, the pickup
//! and the time signature (chosen by `arrange`); the grid then follows the singer's tempo
//! (`follow`). Short gaps between notes (articulation,
//! breaths shorter than an eighth) are given to the note before them, as a musician would
//! write them; the last note's length is rounded to a single written value (a half note sung
//! a little short stays a half note). Every note and rest is then cut at bar lines and split
//! into values that show the beat ([`Meter::split`]), tied as needed.

use super::follow::Warp;
use super::meter::Meter;
use super::triplets::{Triplets, TICKS};
use crate::{Notation, Note};

/// Where an event stands in a triplet (three in the time of two, one quarter beat long).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tuplet {
    /// Not in a triplet.
    #[default]
    None,
    /// Opens the bracket.
    First,
    /// Inside it.
    Middle,
    /// Closes it.
    Last,
}

/// One written note or rest inside a bar.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Event {
    /// MIDI pitch, or `None` for a rest.
    pub pitch: Option<u8>,
    /// Position in the bar, in sixteenths (a pickup bar starts after 0). In a triplet: the
    /// beat's start plus the index (0-2) of the event's first triplet eighth.
    pub pos: u32,
    /// Written value in sixteenths: 1, 2, 3, 4, 6, 8, 12 or 16 (a whole-bar rest: the bar). In
    /// a triplet the value as written (2 an eighth, 4 a quarter), sounding two thirds of it.
    pub dur: u32,
    /// Tied to the next event (same pitch, continues the note).
    pub tie: bool,
    /// Place in a triplet.
    pub tuplet: Tuplet,
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

/// Cuts notes into bars of notes and rests on the notation's grid, followed through the
/// singer's drifts of tempo.
pub fn quantize(notes: &[Note], n: &Notation) -> Vec<Measure> {
    let meter = n.meter;
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
                tuplet: Tuplet::None,
            }],
            pickup: false,
        }];
    }
    let bar16 = i64::from(meter.bar());
    let start16 = if pickup > 0 { bar16 - pickup } else { 0 };
    let origin = n.bar_s - pickup as f64 * six;
    let onsets: Vec<f64> = notes.iter().map(|n| n.onset_s).collect();
    let warp = Warp::new(&onsets, origin, start16 as f64, six);
    let xs: Vec<f64> = onsets.iter().map(|&t| warp.pos(t)).collect();
    let trip = Triplets::find(&xs, meter.beat() == 4);
    // Everything from here on is in ticks (three to a sixteenth, four to a triplet eighth).
    let bar = bar16 * TICKS;
    let start = start16 * TICKS;
    let q = |s: f64| -> i64 { trip.snap(warp.pos(s)) };
    // (start, end, pitch) in ticks from the start of bar 0.
    let mut spans: Vec<(i64, i64, u8)> = Vec::with_capacity(notes.len());
    let detached = detached(&notes);
    for (i, note) in notes.iter().enumerate() {
        let mut s = q(note.onset_s).max(start);
        let mut end_s = note.offset_s;
        let next = notes.get(i + 1);
        let mut before_rest = true;
        if let Some(next) = next {
            let gap = next.onset_s - note.offset_s;
            // Singers (and the detector's releases) stop a note well before the next: a gap
            // up to 40 % of the way to the next onset is a breath at slow tempos too.
            let breath = 0.25f64.max(0.4 * (next.onset_s - note.onset_s));
            // When the releases say nothing (every note stopped a fraction of the way to
            // the next), the notes are written from onset to onset, as staccato is, and only
            // a silence of two beats is a rest.
            let held_s = 8.0 * warp.six(note.offset_s);
            if gap < (2.0 * warp.six(note.offset_s)).min(breath) || (detached && gap < held_s) {
                end_s = next.onset_s;
                before_rest = false;
            }
        }
        if let Some(last) = spans.last_mut() {
            s = trip.up(s.max(last.0 + 1));
            last.1 = last.1.min(s);
        }
        let mut e = q(end_s).max(trip.up(s + 1));
        if before_rest {
            // Releases come early: a note before a rest (or the last) is the nearest single
            // value to a little more than its measured length, up to the next note.
            let limit = next.map_or(i64::MAX, |n| q(n.onset_s));
            let len = (warp.pos(note.offset_s) - warp.pos(note.onset_s)).max(0.0) * 1.1;
            let best = FINAL_VALUES
                .into_iter()
                .min_by(|a, b| {
                    let da = (len / *a as f64).ln().abs();
                    let db = (len / *b as f64).ln().abs();
                    da.total_cmp(&db)
                })
                .unwrap_or(4);
            if (len / best as f64).ln().abs() < 0.35 {
                e = trip.up((s + best * TICKS).min(limit)).max(trip.up(s + 1));
            }
            if detached && next.is_none() {
                // Released early like the others, the last note (held, the longest of a tune as
                // a rule) lasts at least two beats and the longest onset interval, then to the
                // end of that bar.
                let longest = onsets
                    .windows(2)
                    .map(|w| q(w[1]) - q(w[0]))
                    .filter(|&d| d < bar)
                    .max()
                    .unwrap_or(TICKS)
                    .max(2 * i64::from(meter.beat()) * TICKS);
                e = e.max((s + longest + bar - 1) / bar * bar);
            }
        }
        // A rest shorter than a sixteenth, or of one, between notes is articulation.
        if let Some(last) = spans.last_mut() {
            if (1..=TICKS).contains(&(s - last.1)) {
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
    let mut placer = Placer {
        measures: &mut measures,
        meter,
        trip: &trip,
    };
    for &(s, e, p) in &spans {
        if s > cursor {
            placer.place(cursor, s, None);
        }
        placer.place(s, e, Some(p));
        cursor = e;
    }
    let end = bars as i64 * bar;
    if cursor < end {
        placer.place(cursor, end, None);
    }
    for m in &mut measures {
        mark_brackets(&mut m.events);
    }
    measures
}

/// Whether the notes are all released early: the median note lasts under 40 % of the way to
/// the next onset. Hummed melodies are legato or nearly so (a breath of 60-250 ms); uniformly
/// short notes are sung staccato or, in a room, released by the detector with the direct
/// sound, and either way their lengths tell nothing about the written values.
fn detached(notes: &[&Note]) -> bool {
    let mut ratios: Vec<f64> = notes
        .windows(2)
        .map(|w| (w[0].offset_s - w[0].onset_s) / (w[1].onset_s - w[0].onset_s).max(1e-6))
        .collect();
    if ratios.len() < 4 {
        return false;
    }
    ratios.sort_by(f64::total_cmp);
    ratios[ratios.len() / 2] < 0.4
}

struct Placer<'a> {
    measures: &'a mut [Measure],
    meter: Meter,
    trip: &'a Triplets,
}

impl Placer<'_> {
    /// Adds a note or rest from tick `s` to `e`, cut at bar lines, at the edges of triplet
    /// beats and into values.
    fn place(&mut self, s: i64, e: i64, pitch: Option<u8>) {
        let bar = i64::from(self.meter.bar()) * TICKS;
        let mut pos = s;
        while pos < e {
            let m = (pos / bar) as usize;
            let bar_start = pos / bar * bar;
            let piece_end = self.trip.stretch_end(pos, e.min(bar_start + bar));
            let Some(measure) = self.measures.get_mut(m) else {
                return;
            };
            let in_bar = pos - bar_start;
            let len = piece_end - pos;
            let mut push = |p: i64, d: u32, tuplet: Tuplet| {
                measure.events.push(Event {
                    pitch,
                    pos: p as u32,
                    dur: d,
                    tie: pitch.is_some(),
                    tuplet,
                });
            };
            if self.trip.at(pos) && len % 4 == 0 && len < 4 * TICKS {
                // Inside one triplet beat: triplet eighths (4 ticks) written as eighths.
                let beat = in_bar / (4 * TICKS) * 4;
                push(
                    beat + in_bar % (4 * TICKS) / 4,
                    (len / 4 * 2) as u32,
                    Tuplet::Middle,
                );
            } else if self.trip.at(pos) && len % 4 == 0 && in_bar % (4 * TICKS) == 0 {
                // Whole triplet beats are plain quarters.
                for k in 0..len / (4 * TICKS) {
                    push(in_bar / TICKS + 4 * k, 4, Tuplet::None);
                }
            } else {
                let mut p = (in_bar / TICKS) as u32;
                for d in self.meter.split(p, (len / TICKS) as u32, pitch.is_some()) {
                    push(i64::from(p), d, Tuplet::None);
                    p += d;
                }
            }
            pos = piece_end;
        }
        // The last piece of a note is not tied onward.
        if pitch.is_some() {
            let m = ((e - 1) / bar) as usize;
            if let Some(ev) = self.measures.get_mut(m).and_then(|m| m.events.last_mut()) {
                ev.tie = false;
            }
        }
    }
}

/// Opens and closes a bracket on each beat's run of triplet events.
fn mark_brackets(events: &mut [Event]) {
    let mut i = 0;
    while i < events.len() {
        if events[i].tuplet == Tuplet::None {
            i += 1;
            continue;
        }
        let beat = events[i].pos / 4;
        let mut j = i;
        while j + 1 < events.len()
            && events[j + 1].tuplet != Tuplet::None
            && events[j + 1].pos / 4 == beat
        {
            j += 1;
        }
        events[i].tuplet = Tuplet::First;
        events[j].tuplet = if j > i { Tuplet::Last } else { Tuplet::First };
        i = j + 1;
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

    #[test]
    fn notes_all_released_early_are_written_from_onset_to_onset() {
        // Twinkle at 75 bpm (0.8 s a beat), every note measured 90 ms long: quarters and a
        // final half note, not sixteenths and rests.
        let pitches = [60, 60, 67, 67, 69, 69, 67];
        let notes: Vec<Note> = pitches
            .iter()
            .enumerate()
            .map(|(i, &p)| Note {
                onset_s: i as f64 * 0.8,
                offset_s: i as f64 * 0.8 + 0.09,
                pitch: p,
            })
            .collect();
        let t = Transcription {
            notes,
            tempo_bpm: 75.0,
            notation: Notation::plain(75.0, 0.0),
        };
        assert_eq!(
            crate::score_text(&t),
            "| C4 q C4 q G4 q G4 q | A4 q A4 q G4 h |"
        );
    }

    #[test]
    fn triplet_eighths_are_bracketed_and_sound_two_thirds() {
        // At 100 bpm (0.6 s a beat): a quarter (read as a pickup), three triplet eighths, a
        // swung pair, a half.
        let times = [0.0, 0.6, 0.8, 1.0, 1.2, 1.6, 1.8];
        let pitches = [60, 62, 64, 65, 67, 65, 64];
        let notes: Vec<Note> = times
            .iter()
            .zip(pitches)
            .enumerate()
            .map(|(i, (&t, p))| Note {
                onset_s: t,
                offset_s: times.get(i + 1).map_or(t + 1.1, |n| n - 0.05),
                pitch: p,
            })
            .collect();
        let t = Transcription::notate(notes, Some(100.0), &crate::ScoreParams::default());
        assert_eq!(
            crate::score_text(&t),
            "C4 q | 3[ D4 8 E4 8 F4 8 ] 3[ G4 q F4 8 ] E4 h |"
        );
        let ms = quantize(&t.notes, &t.notation);
        let tuplets: Vec<(u32, u32, Tuplet)> = ms[1].events[..5]
            .iter()
            .map(|e| (e.pos, e.dur, e.tuplet))
            .collect();
        assert_eq!(
            tuplets,
            vec![
                (0, 2, Tuplet::First),
                (1, 2, Tuplet::Middle),
                (2, 2, Tuplet::Last),
                (4, 4, Tuplet::First),
                (6, 2, Tuplet::Last)
            ]
        );
        let xml = String::from_utf8(crate::write_musicxml(&t, "t")).unwrap_or_default();
        assert!(xml.contains("<divisions>12</divisions>"), "{xml}");
        assert_eq!(xml.matches("<actual-notes>3</actual-notes>").count(), 5);
        assert_eq!(
            xml.matches("<tuplet type=\"start\" bracket=\"yes\"/>")
                .count(),
            2
        );
        assert_eq!(xml.matches("<tuplet type=\"stop\"/>").count(), 2);
        // A triplet eighth lasts 4 of 12 divisions, the triplet quarter 8.
        assert_eq!(xml.matches("<duration>4</duration>").count(), 4);
        assert_eq!(xml.matches("<duration>8</duration>").count(), 1);
        let png = crate::render_score(&t, "Triplets");
        assert!(!png.is_empty());
        if let Some(dir) = std::env::var_os("MELODY_PNG_DIR") {
            let _ = std::fs::write(std::path::Path::new(&dir).join("triplets.png"), &png);
        }
    }
}
