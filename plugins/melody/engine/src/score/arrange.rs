//! Choosing how a melody is notated: tempo, beat phase, downbeat, pickup and time signature.
//!
//! The tempo estimate only says how fast the grid runs; it leaves open whether the melody moves
//! in quarters at T or in halves at T/2, where the beats fall and which beat is the first of
//! the bar. So every candidate is written out and the one a musician would find easiest to read
//! wins: tempo candidates T, 2T, T/2, 3T/2 and 2T/3 (each refined by a least-squares fit of the
//! onsets to their grid positions, so a tempo a little off does not drift over a long tune), the
//! time signatures 4/4, 3/4 and 6/8, and every position of the first note in the bar (a first
//! note after the downbeat makes a pickup bar). The cost counts ties, off-beat and off-eighth
//! onsets, syncopations, long notes off the strong beats, notes over a whole bar, sixteenths
//! and dotted eighths, rests inside the melody, long values, a bar opening on a rest, the number of different bar rhythms
//! (a metre that fits repeats them), 6/8 bars whose beats are never divided in three, onsets far
//! from their grid points, and the distance from a moderate tempo; a pickup and a signature other
//! than 4/4 cost a little, so that they are chosen only when they make the music read better.

use super::key;
use super::meter::Meter;
use super::quantize::{quantize, Measure, Tuplet};
use super::triplets::{Triplets, TICKS};
use crate::{Notation, Note, ScoreParams};

/// Notes the candidates are judged on (the first ones): enough to tell a tune's metre and beat,
/// and it keeps the choice (200 quantisations) to tens of milliseconds however long the
/// recording.
const JUDGED_NOTES: usize = 256;

/// The tempo the candidates lean towards, quarter notes a minute. The estimate cannot tell T
/// from 2T (both fit the onsets; its own prior picked one), so leaning towards it made a tune
/// sung at 65 bpm come out at 130 in half notes; a broad pull towards a moderate tempo, with
/// long values costing their share, lets the readability decide.
const PREFERRED_BPM: f64 = 100.0;

/// Tempo bounds of the candidates, quarter notes per minute.
const MIN_BPM: f64 = 30.0;
const MAX_BPM: f64 = 260.0;

/// Chooses the notation of `notes` estimated at `bpm` (quarter notes per minute), honouring
/// the caller's tempo (`fixed_tempo`), time signature and key (`params`). Returns the notation
/// and the tempo to print (the caller's, or the chosen candidate's).
pub fn arrange(
    notes: &[Note],
    bpm: f64,
    fixed_tempo: Option<f64>,
    params: &ScoreParams,
) -> (Notation, f64) {
    let bpm = if bpm.is_finite() && bpm > 0.0 {
        bpm.clamp(MIN_BPM, MAX_BPM)
    } else {
        crate::tempo::FALLBACK_BPM
    };
    let key = params.key.unwrap_or_else(|| key::estimate(notes));
    let fixed_tempo = fixed_tempo.filter(|t| t.is_finite() && *t > 0.0);
    let onsets: Vec<f64> = notes
        .iter()
        .map(|n| n.onset_s)
        .filter(|s| s.is_finite())
        .collect();
    let plain = Notation {
        meter: params.time_signature.unwrap_or_default(),
        key,
        sixteenth_s: 15.0 / fixed_tempo.unwrap_or(bpm),
        bar_s: onsets.first().copied().unwrap_or(0.0),
        pickup: 0,
    };
    if onsets.len() < 2 {
        return (plain, fixed_tempo.unwrap_or(bpm));
    }
    let tempos: Vec<f64> = match fixed_tempo {
        Some(t) => vec![t],
        None => [1.0, 2.0, 0.5, 1.5, 2.0 / 3.0]
            .iter()
            .map(|f| bpm * f)
            .filter(|t| (MIN_BPM..=MAX_BPM).contains(t))
            .collect(),
    };
    let meters: Vec<Meter> = match params.time_signature {
        Some(m) => vec![m],
        None => vec![Meter::FourFour, Meter::ThreeFour, Meter::SixEight],
    };
    let judged = &notes[..notes.len().min(JUDGED_NOTES)];
    let judged_onsets = &onsets[..onsets.len().min(JUDGED_NOTES)];
    let mut best: Option<(f64, Notation, f64)> = None;
    for &tempo in &tempos {
        let (six, phase) = fit_grid(&onsets, 15.0 / tempo);
        let prior = 0.2 * judged_onsets.len() as f64 * (tempo / PREFERRED_BPM).log2().powi(2);
        let miss = |err_s: f64| 0.3 * (err_s / 0.05).powi(2).min(4.0);
        let error: f64 = judged_onsets
            .iter()
            .map(|&s| {
                let x = (s - phase) / six;
                miss((x - x.round()) * six)
            })
            .sum();
        // Grid index of the first note; later notes are placed from it.
        let first = ((onsets[0] - phase) / six).round();
        let first_s = phase + first * six;
        // In simple time onsets on the thirds of a beat are on the grid as written (triplets,
        // which cost their bracket in the readability), counting beats from the first note;
        // but only in a tune that also divides beats in two: one that never does (Row, Row,
        // Row) is in compound time, not in triplets throughout.
        let xs: Vec<f64> = judged_onsets.iter().map(|&s| (s - first_s) / six).collect();
        let halves = xs.iter().any(|x| (x.rem_euclid(4.0) - 2.0).abs() < 0.3);
        let error_simple = if halves {
            let trip = Triplets::find(&xs, true);
            xs.iter()
                .map(|&x| miss((x - trip.snap(x) as f64 / TICKS as f64) * six))
                .sum()
        } else {
            error
        };
        for &meter in &meters {
            let error = if meter.beat() == 4 {
                error_simple
            } else {
                error
            };
            let bar = meter.bar();
            for p0 in 0..bar {
                let pickup = if p0 == 0 { 0 } else { bar - p0 };
                let n = Notation {
                    meter,
                    key,
                    sixteenth_s: six,
                    bar_s: first_s + f64::from(pickup) * six,
                    pickup,
                };
                let cost = prior + error + readability(&quantize(judged, &n), meter, pickup);
                if best.as_ref().is_none_or(|b| cost < b.0 - 1e-9) {
                    best = Some((cost, n, tempo));
                }
            }
        }
    }
    match best {
        Some((_, n, tempo)) => (n, fixed_tempo.unwrap_or(tempo)),
        None => (plain, fixed_tempo.unwrap_or(bpm)),
    }
}

/// The grid (sixteenth length, phase) that fits the onsets at about `six` seconds a
/// sixteenth: the phase that puts them nearest to grid points, then a least-squares line
/// through (grid index, onset) when it stays within 8 % of `six`.
fn fit_grid(onsets: &[f64], six: f64) -> (f64, f64) {
    let mut best = (f64::INFINITY, 0.0);
    for k in 0..24 {
        let phase = six * f64::from(k) / 24.0;
        let err: f64 = onsets
            .iter()
            .map(|&s| {
                let x = (s - phase) / six;
                (x - x.round()).powi(2)
            })
            .sum();
        if err < best.0 {
            best = (err, phase);
        }
    }
    let phase = best.1;
    // Grid indices counted from one onset on the grid to the next, so that a slightly wrong
    // tempo does not make far onsets jump a grid point. Onsets between grid points (triplets,
    // a third of a beat apart) are left out: rounded one by one, three triplet eighths would
    // count three sixteenths for a beat of four and tilt the line.
    let mut points: Vec<(f64, f64)> = Vec::with_capacity(onsets.len());
    let (mut anchor_i, mut anchor_s) = (((onsets[0] - phase) / six).round(), onsets[0]);
    points.push((anchor_i, anchor_s));
    for &s in &onsets[1..] {
        let d = (s - anchor_s) / six;
        if (d - d.round()).abs() < 0.2 {
            anchor_i += d.round().max(1.0);
            anchor_s = s;
            points.push((anchor_i, s));
        }
    }
    let n = points.len() as f64;
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (x, y) in points.iter().map(|p| (&p.0, &p.1)) {
        sxy += (x - mx) * (y - my);
        sxx += (x - mx).powi(2);
    }
    if sxx <= 0.0 {
        return (six, phase);
    }
    let slope = sxy / sxx;
    if !(slope.is_finite() && (slope / six - 1.0).abs() < 0.08) {
        return (six, phase);
    }
    let intercept = my - slope * mx;
    (slope, intercept.rem_euclid(slope))
}

/// How hard the bars are to read (lower is better).
fn readability(measures: &[Measure], meter: Meter, pickup: u32) -> f64 {
    let beat = meter.beat();
    let mut cost = 0.0;
    if pickup > 0 {
        cost += 0.3 + 0.2 * f64::from(pickup) / f64::from(beat);
    }
    if meter != Meter::FourFour {
        cost += 0.3;
    }
    let mut tied_in = false;
    let mut seen_note = false;
    let mut pending_rests = 0.0;
    // The note being held: its position in its bar and its length so far.
    let mut held: Option<(u32, u32)> = None;
    let mut patterns = std::collections::HashSet::new();
    for m in measures {
        if let Some(first) = m.events.first() {
            if first.pitch.is_none() && seen_note && !m.pickup {
                cost += 0.3;
            }
        }
        let mut pattern = Vec::with_capacity(m.events.len());
        for e in &m.events {
            if e.tuplet != Tuplet::None {
                // A triplet reads at a glance when it is one: a bracket, no other cost.
                cost += accent(held.take(), meter);
                if e.tuplet == Tuplet::First {
                    cost += 1.0;
                }
                if e.pitch.is_some() {
                    cost += pending_rests;
                    pending_rests = 0.0;
                    seen_note = true;
                }
                pattern.push((e.pos, 3u8));
                tied_in = e.tie && e.pitch.is_some();
                continue;
            }
            if let Some(h) = held.as_mut().filter(|_| tied_in && e.pitch.is_some()) {
                h.1 += e.dur;
            } else {
                cost += accent(held.take(), meter);
            }
            match e.pitch {
                Some(_) => {
                    if tied_in {
                        cost += 1.0;
                    } else {
                        pattern.push((e.pos, 1u8));
                        held = Some((e.pos, e.dur));
                        if e.pos % beat != 0 {
                            cost += 0.4;
                        }
                        if e.pos % 2 != 0 {
                            cost += 0.6;
                        }
                    }
                    cost += match e.dur {
                        1 => 0.6,
                        3 => 0.4,
                        d if d >= 12 => 0.8,
                        d if d >= 8 => 0.6,
                        _ => 0.0,
                    };
                    cost += pending_rests;
                    pending_rests = 0.0;
                    seen_note = true;
                    tied_in = e.tie;
                }
                None => {
                    pattern.push((e.pos, 2u8));
                    // Rests count only between notes: the ones after the last note pad the bar.
                    if seen_note {
                        pending_rests += 0.5;
                    }
                    tied_in = false;
                }
            }
        }
        // Compound time earns its place by dividing beats in three: a bar of 6/8 with no
        // onset inside a beat reads as well in simple time.
        if meter == Meter::SixEight
            && !m.pickup
            && !m
                .events
                .iter()
                .any(|e| e.pitch.is_some() && e.pos % beat != 0)
        {
            cost += 0.5;
        }
        if !m.pickup {
            patterns.insert(pattern);
        }
    }
    cost += accent(held, meter);
    // A metre that fits repeats its rhythms bar after bar.
    cost + 0.8 * patterns.len() as f64
}

/// A long note (two beats or more) belongs on a downbeat (or the middle of a 4/4 bar), a note
/// that starts off the beat should not run over the next one (a syncopation), and none is
/// longer than a bar.
fn accent(held: Option<(u32, u32)>, meter: Meter) -> f64 {
    let Some((pos, len)) = held else {
        return 0.0;
    };
    let beat = meter.beat();
    let mut cost = 0.0;
    if len >= 2 * beat && !(pos == 0 || (meter == Meter::FourFour && pos == 8)) {
        cost += 0.6;
    }
    if pos % beat != 0 && pos % beat + len > beat {
        cost += 0.8;
    }
    // A note held over a whole bar says the bar is too short (Row, Row, Row at a dotted quarter
    // of 41 a minute read as 3/4 at twice the tempo, its dotted halves tied over bars).
    if len > meter.bar() {
        cost += 0.6;
    }
    cost
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::score::text::score_text;
    use crate::Transcription;

    /// Notes from (beats, pitch) at `bpm`, starting at `start` s, each sung for 85 % of its
    /// length (the last one shorter still, as a singer runs out of breath).
    fn sung(tune: &[(f64, u8)], bpm: f64, start: f64) -> Vec<Note> {
        let beat = 60.0 / bpm;
        let mut t = start;
        let mut out = Vec::new();
        for (i, &(b, pitch)) in tune.iter().enumerate() {
            let f = if i + 1 == tune.len() { 0.8 } else { 0.85 };
            out.push(Note {
                onset_s: t,
                offset_s: t + b * beat * f,
                pitch,
            });
            t += b * beat;
        }
        out
    }

    #[test]
    fn triplet_eighths_do_not_tilt_the_grid() {
        // At 65.6 bpm (a sixteenth of 0.2287 s) from an estimate of 65.3: quarters, two beats
        // of triplet eighths and a swung pair. Rounded one by one, each triplet beat counted
        // three sixteenths and the fit came out at 0.2333 s, 40-90 ms off by the end.
        let beat = 60.0 / 65.6;
        let beats = [
            0.0, 1.0, 2.0, 3.0, 4.0, 4.333, 4.667, 5.0, 6.0, 6.5, 7.0, 8.0, 8.333, 8.667, 9.0,
            9.667, 10.0, 11.0, 12.0, 13.0, 14.0,
        ];
        let onsets: Vec<f64> = beats.iter().map(|b| 0.5 + b * beat).collect();
        let (six, _) = fit_grid(&onsets, 15.0 / 65.3);
        assert!((six / (beat / 4.0) - 1.0).abs() < 0.003, "{six}");
    }

    #[test]
    fn ode_to_joy_at_100_bpm_is_quarters_and_halves_on_the_beat() {
        let ode = [
            (1.0, 66),
            (1.0, 66),
            (1.0, 67),
            (1.0, 69),
            (1.0, 69),
            (1.0, 67),
            (1.0, 66),
            (1.0, 64),
            (1.0, 62),
            (1.0, 62),
            (1.0, 64),
            (1.0, 66),
            (1.5, 66),
            (0.5, 64),
            (2.0, 64),
        ];
        let t = Transcription::notate(sung(&ode, 100.0, 0.37), None, &ScoreParams::default());
        assert_eq!(
            score_text(&t),
            "| F#4 q F#4 q G4 q A4 q | A4 q G4 q F#4 q E4 q | D4 q D4 q E4 q F#4 q \
             | F#4 q. E4 8 E4 h |"
        );
        assert_eq!((t.tempo_bpm, t.notation.pickup), (100.0, 0));
        // The caller's metre and key are kept.
        let fixed = ScoreParams {
            time_signature: Some(Meter::TwoFour),
            key: Some(crate::Key {
                fifths: -3,
                minor: false,
            }),
        };
        let t = Transcription::notate(sung(&ode, 100.0, 0.37), Some(100.0), &fixed);
        assert_eq!(t.notation.meter, Meter::TwoFour);
        assert!(score_text(&t).starts_with("| Gb4 q Gb4 q | G4 q A4 q |"));
    }

    #[test]
    fn rests_group_by_the_beat_and_a_final_half_note_stays_whole() {
        // C4 on beat 1, silence to the next bar, then a half note and a final half sung short.
        let notes = sung(&[(1.0, 60), (3.0, 0), (2.0, 62), (2.0, 64)], 90.0, 0.2)
            .into_iter()
            .filter(|n| n.pitch > 0)
            .collect();
        let t = Transcription::notate(notes, Some(90.0), &ScoreParams::default());
        assert_eq!(score_text(&t), "| C4 q r q r h | D4 h E4 h |");
    }
}
