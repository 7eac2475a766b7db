//! The tune and its performance: notes, timing, legato, scoops, vibrato and consonants as a
//! plan per note, and the pitch/amplitude contour the synthesisers follow.

use super::{Condition, Rng};
use std::f64::consts::PI;

#[derive(Clone, Copy)]
pub struct Plan {
    pub onset: f64,
    pub offset: f64,
    pub midi: i32,
    pub detune: f64,
    pub legato: bool,
    /// Pitch glide into the note: start offset (semitones) and duration (s).
    pub scoop_st: f64,
    pub scoop_s: f64,
    pub vib_cents: f64,
    pub vib_hz: f64,
    pub vib_delay: f64,
    pub attack: f64,
    pub release: f64,
    /// Consonant before the vowel: kind (0 none, 1 s, 2 h, 3 t) and length (s).
    pub consonant: u8,
    pub cons_s: f64,
    pub vowel: usize,
    pub gain: f64,
}

/// A singable random tune in a major, minor or pentatonic key inside `lo..=hi`.
pub fn melody(r: &mut Rng, c: Condition, lo: i32, hi: i32, seconds: f64) -> Vec<Plan> {
    const SCALES: [&[i32]; 3] = [
        &[0, 2, 4, 5, 7, 9, 11],
        &[0, 2, 3, 5, 7, 8, 10],
        &[0, 2, 4, 7, 9],
    ];
    let scale = SCALES[r.int(0, 2) as usize];
    let tonic = r.int(lo, lo + 11);
    let pitches: Vec<i32> = (lo..=hi)
        .filter(|p| scale.contains(&((p - tonic).rem_euclid(12))))
        .collect();
    let beat = 60.0 / r.range(70.0, 140.0);
    let tune_off = r.range(-25.0, 25.0);
    let mut idx = (pitches.len() / 2) as i32;
    let mut t = r.range(0.3, 0.8);
    let mut out: Vec<Plan> = Vec::new();
    let mut in_phrase = 0;
    let phrase_len = |r: &mut Rng| r.int(4, 8);
    let mut plen = phrase_len(r);
    while t < seconds {
        // Step: mostly small, some leaps, some repeats.
        let u = r.f();
        let step = if u < 0.15 {
            0
        } else if u < 0.8 {
            if r.chance(0.5) {
                1
            } else {
                -1
            }
        } else if u < 0.93 {
            r.int(-2, 2)
        } else {
            r.int(-5, 5)
        };
        idx = (idx + step).clamp(0, pitches.len() as i32 - 1);
        let midi = pitches[idx as usize];
        let beats = [0.5, 1.0, 1.0, 1.0, 1.5, 2.0, 0.5, 1.0][r.int(0, 7) as usize];
        let slot = (beats * beat).clamp(0.16, 1.3);
        let prev = out.last().copied();
        let same = prev.is_some_and(|p| p.midi == midi);
        let words = c == Condition::Words;
        let legato_p = match c {
            Condition::Glide => 0.4,
            Condition::Words => 0.1,
            _ => 0.25,
        };
        let legato = in_phrase > 0 && !same && r.chance(legato_p);
        let gap = if legato {
            0.0
        } else if words {
            r.range(0.09, 0.2)
        } else {
            r.range(0.04, 0.2)
        };
        let (consonant, cons_s) = if words && !legato && r.chance(0.75) {
            let k = r.int(1, 3) as u8;
            let d = match k {
                1 => r.range(0.06, 0.12),
                2 => r.range(0.05, 0.09),
                _ => r.range(0.04, 0.07),
            };
            (k, d)
        } else {
            (0, 0.0)
        };
        let onset = if legato { t } else { t + gap + cons_s };
        let dur = (slot - gap).max(0.12);
        let slow = c == Condition::Glide && r.chance(0.8);
        let (scoop_st, scoop_s) = if legato {
            let d = if slow {
                r.range(0.15, 0.3)
            } else {
                r.range(0.04, 0.1)
            };
            (
                f64::from(prev.map_or(midi, |p| p.midi) - midi),
                d.min(dur * 0.6),
            )
        } else if slow {
            let below = r.chance(0.75);
            let st = if below {
                -r.range(1.0, 3.0)
            } else {
                r.range(1.0, 2.0)
            };
            (st, r.range(0.15, 0.3).min(dur * 0.6))
        } else if r.chance(0.5) {
            (r.range(-2.5, 1.5), r.range(0.02, 0.08))
        } else {
            (0.0, 0.0)
        };
        let (vib_cents, vib_delay) = if c == Condition::Vibrato && dur >= 0.25 {
            (r.range(80.0, 130.0), r.range(0.05, 0.15))
        } else if dur >= 0.45 && r.chance(0.6) {
            (r.range(10.0, 40.0), r.range(0.1, 0.25))
        } else {
            (0.0, 0.0)
        };
        let detune = (tune_off + 8.0 * r.normal()).clamp(-35.0, 35.0) / 100.0;
        if legato {
            if let Some(p) = out.last_mut() {
                p.offset = onset;
            }
        }
        out.push(Plan {
            onset,
            offset: onset + dur,
            midi,
            detune,
            legato,
            scoop_st,
            scoop_s,
            vib_cents,
            vib_hz: r.range(5.0, 6.5),
            vib_delay,
            attack: if consonant == 3 {
                r.range(0.01, 0.03)
            } else {
                r.range(0.015, 0.06)
            },
            release: r.range(0.02, 0.08),
            consonant,
            cons_s,
            vowel: if words { r.int(0, 3) as usize } else { 0 },
            gain: 10f64.powf(r.range(-4.0, 2.0) / 20.0),
        });
        t = onset + dur;
        in_phrase += 1;
        if in_phrase >= plen {
            t += r.range(0.4, 1.2);
            in_phrase = 0;
            plen = phrase_len(r);
        }
    }
    out
}

/// Pitch (fractional MIDI) and amplitude of plan `k` at time `t`.
pub fn contour(plans: &[Plan], k: usize, t: f64, jitter: f64) -> (f64, f64) {
    let p = &plans[k];
    let target = f64::from(p.midi) + p.detune;
    let dt = t - p.onset;
    let mut m = target;
    if p.scoop_s > 0.0 && dt < p.scoop_s {
        // A steady approach: fast at first, easing into the note.
        let x = dt / p.scoop_s;
        let from = if p.legato && k > 0 {
            f64::from(plans[k - 1].midi) + plans[k - 1].detune
        } else {
            target + p.scoop_st
        };
        m = from + (target - from) * (0.5 - 0.5 * (PI * x).cos());
    }
    if p.vib_cents > 0.0 && dt > p.vib_delay {
        let ramp = ((dt - p.vib_delay) / 0.1).min(1.0);
        m += ramp * p.vib_cents / 100.0 * (2.0 * PI * p.vib_hz * (dt - p.vib_delay)).sin();
    }
    m += jitter;
    let next_legato = plans
        .get(k + 1)
        .is_some_and(|n| n.legato && (n.onset - p.offset).abs() < 1e-9);
    let att = if p.legato {
        1.0
    } else {
        (dt / p.attack).min(1.0)
    };
    let rel = if next_legato {
        1.0
    } else {
        ((p.offset - t) / p.release).min(1.0)
    };
    // A slight swell or fade over the note.
    let shape = 1.0 + 0.15 * ((t - p.onset) / (p.offset - p.onset) - 0.5);
    (m, att.min(rel).max(0.0) * p.gain * shape)
}
