//! From a smoothed pitch track to notes.
//!
//! 1. Tuning: the clip's offset from equal temperament (circular mean of the stable
//!    frames' deviation from the nearest semitone), so a choir tuned 30 cents flat still
//!    lands on the intended semitones.
//! 2. Voiced regions (runs of pitched frames, with dropouts shorter than 20 ms bridged).
//! 3. Inside a region, a Viterbi pass over whole semitones with a fixed cost per change
//!    of note: vibrato, scoops and jitter do not pay for a new note, a real step does.
//!    Legato onsets are moved back to where the pitch starts to leave the old note.
//! 4. Energy onsets split same-pitch stretches (repeated notes, or a note that starts
//!    while the previous one's reverb tail still sounds).
//! 5. Onsets of detached notes are moved back to the start of the energy rise; offsets
//!    are put where the energy has fallen a fixed number of dB under the note's level,
//!    which cuts reverb tails.
//! 6. Notes shorter than the minimum duration, or far quieter than the clip's voice, go.

use crate::pitch::{percentile, Track};
use crate::Note;

/// Default minimum note length in milliseconds.
pub const DEFAULT_MIN_NOTE_MS: f64 = 70.0;
/// Cost of changing semitone inside a voiced region, in squared semitones (one frame
/// one semitone off costs 1.0).
const CHANGE_COST: f32 = 6.0;
/// Cap on a frame's squared deviation, so that glides and octave slips cost a bounded
/// amount.
const DEV_CAP: f32 = 1.0;
/// Voiced-gap bridging (seconds).
const BRIDGE_S: f64 = 0.02;
/// Offsets: the note ends where its energy has fallen this far under its level (dB).
const OFFSET_DROP_DB: f32 = 10.0;
/// Energy dip that splits a same-pitch stretch (dB under the maxima on both sides).
const DIP_DB: f32 = 9.0;
/// Longest unvoiced gap inside a legato transition (seconds).
const LEGATO_GAP_S: f64 = 0.15;
/// A boundary is a new attack when the energy rises this much (dB) from the valley...
const RISE_DB: f32 = 6.0;
/// ...after falling at least this much from the previous note (dB).
const FALL_DB: f32 = 3.0;
/// Window for the rise and fall measurements (seconds).
const RISE_LOOK_S: f64 = 0.1;
/// How far an onset may move back to the foot of the energy rise (seconds).
const ONSET_SEARCH_S: f64 = 0.1;
/// An attack starts where the energy rises this far over the level before it (dB).
const ONSET_BASE_DB: f32 = 3.0;
/// Running-maximum window for the note level in offset detection (seconds).
const LEVEL_WIN_S: f64 = 0.08;
/// After the offset the energy must stay under the threshold plus this (dB).
const OFFSET_HYST_DB: f32 = 2.0;
/// How far past the voiced end the release is searched for (seconds).
const TAIL_SEARCH_S: f64 = 0.3;
/// Notes whose peak is this far under the clip's voice level are noise (dB).
const QUIET_DB: f32 = 35.0;

/// A note under construction, in frame indices (end exclusive).
#[derive(Debug, Clone, Copy)]
struct Seg {
    start: usize,
    end: usize,
    pitch: i32,
}

/// The clip's tuning offset in semitones (-0.5..0.5).
fn tuning(midi: &[f32]) -> f32 {
    let (mut s, mut c) = (0.0f64, 0.0f64);
    for w in midi.windows(3) {
        if w.iter().all(|v| v.is_finite()) && (w[2] - w[0]).abs() < 0.1 {
            let a = 2.0 * std::f64::consts::PI * f64::from(w[1]);
            s += a.sin();
            c += a.cos();
        }
    }
    if s == 0.0 && c == 0.0 {
        return 0.0;
    }
    (s.atan2(c) / (2.0 * std::f64::consts::PI)) as f32
}

/// Runs of voiced frames as (start, end) with short dropouts bridged.
fn regions(midi: &[f32], bridge: usize) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < midi.len() {
        if !midi[i].is_finite() {
            i += 1;
            continue;
        }
        let mut j = i;
        while j < midi.len() && midi[j].is_finite() {
            j += 1;
        }
        match out.last_mut() {
            Some(last) if i - last.1 <= bridge => last.1 = j,
            _ => out.push((i, j)),
        }
        i = j;
    }
    out
}

/// Semitone Viterbi inside one region; returns segments of constant semitone.
fn semitone_path(p: &[f32], start: usize) -> Vec<Seg> {
    let finite: Vec<f32> = p.iter().copied().filter(|v| v.is_finite()).collect();
    if finite.is_empty() {
        return Vec::new();
    }
    let lo = finite.iter().copied().fold(f32::INFINITY, f32::min).round() as i32 - 1;
    let hi = finite
        .iter()
        .copied()
        .fold(f32::NEG_INFINITY, f32::max)
        .round() as i32
        + 1;
    let ns = (hi - lo + 1) as usize;
    let n = p.len();
    let mut cost = vec![0.0f32; ns];
    let mut back = vec![0u16; n * ns];
    let mut next = vec![0.0f32; ns];
    for t in 0..n {
        let (mut best, mut best_i) = (f32::INFINITY, 0usize);
        for (s, &c) in cost.iter().enumerate() {
            if c < best {
                best = c;
                best_i = s;
            }
        }
        for s in 0..ns {
            let dev = if p[t].is_finite() {
                let d = p[t] - (lo + s as i32) as f32;
                (d * d).min(DEV_CAP)
            } else {
                0.0
            };
            let (from, c) = if t == 0 || cost[s] <= best + CHANGE_COST {
                (s, cost[s])
            } else {
                (best_i, best + CHANGE_COST)
            };
            next[s] = c + dev;
            back[t * ns + s] = from as u16;
        }
        cost.copy_from_slice(&next);
    }
    let mut state = 0;
    let mut best = f32::INFINITY;
    for (s, &c) in cost.iter().enumerate() {
        if c < best {
            best = c;
            state = s;
        }
    }
    let mut labels = vec![0i32; n];
    for t in (0..n).rev() {
        labels[t] = lo + state as i32;
        state = usize::from(back[t * ns + state]);
    }
    let mut segs = Vec::new();
    let mut a = 0;
    for t in 1..=n {
        if t == n || labels[t] != labels[a] {
            segs.push(Seg {
                start: start + a,
                end: start + t,
                pitch: labels[a],
            });
            a = t;
        }
    }
    segs
}

/// Splits the notes into segments from pitch, then merges too-short pieces into the
/// neighbour that is closest in pitch.
fn merge_short(mut segs: Vec<Seg>, min_len: usize) -> Vec<Seg> {
    loop {
        let Some((k, _)) = segs
            .iter()
            .enumerate()
            .filter(|(_, s)| s.end - s.start < min_len)
            .min_by_key(|(_, s)| s.end - s.start)
        else {
            return segs;
        };
        if segs.len() == 1 {
            return segs;
        }
        // Merge into the next one for a leading glide, else the previous.
        let into_next = if k == 0 {
            true
        } else if k + 1 == segs.len() {
            false
        } else {
            (segs[k + 1].pitch - segs[k].pitch).abs() <= (segs[k - 1].pitch - segs[k].pitch).abs()
        };
        let s = segs.remove(k);
        if into_next {
            segs[k].start = s.start;
        } else {
            segs[k - 1].end = s.end;
        }
        // Neighbours with the same pitch now touch: join them.
        let mut j = 1;
        while j < segs.len() {
            if segs[j].pitch == segs[j - 1].pitch && segs[j].start == segs[j - 1].end {
                segs[j - 1].end = segs[j].end;
                segs.remove(j);
            } else {
                j += 1;
            }
        }
    }
}

fn max_of(v: &[f32]) -> f32 {
    v.iter().copied().fold(f32::NEG_INFINITY, f32::max)
}

fn min_of(v: &[f32]) -> f32 {
    v.iter().copied().fold(f32::INFINITY, f32::min)
}

fn argmin(v: &[f32]) -> usize {
    v.iter()
        .enumerate()
        .min_by(|a, b| a.1.total_cmp(b.1))
        .map_or(0, |(i, _)| i)
}

/// Moving average over `2 * half + 1` frames.
fn smooth(v: &[f32], half: usize) -> Vec<f32> {
    (0..v.len())
        .map(|i| {
            let a = i.saturating_sub(half);
            let b = (i + half + 1).min(v.len());
            v[a..b].iter().sum::<f32>() / (b - a) as f32
        })
        .collect()
}

/// Turns a pitch track into notes.
pub fn segment(track: &Track, min_note_s: f64) -> Vec<Note> {
    let hop = track.hop_s;
    let frames = |s: f64| ((s / hop).round() as usize).max(1);
    let tune = tuning(&track.midi);
    let midi: Vec<f32> = track.midi.iter().map(|m| m - tune).collect();
    let e = smooth(&track.energy_db, 1);
    let loud = percentile(&e, 0.97);
    let floor = percentile(&e, 0.10);
    let min_len = frames(min_note_s);
    let regs = regions(&midi, frames(BRIDGE_S));
    let regs = join_gaps(regs, frames(LEGATO_GAP_S));
    let look = frames(RISE_LOOK_S);
    let max_back = frames(ONSET_SEARCH_S);
    let win = frames(LEVEL_WIN_S);
    let tail = frames(TAIL_SEARCH_S);
    // (start, end, semitone) in frames, end exclusive.
    let mut segs: Vec<Seg> = Vec::new();
    for (ri, &(a, b)) in regs.iter().enumerate() {
        let raw = semitone_path(&midi[a..b], a);
        let pieces = merge_short(raw, min_len);
        // Same-pitch notes inside a piece are told apart by energy dips.
        let mut notes: Vec<Seg> = Vec::new();
        let mut detached: Vec<bool> = Vec::new();
        for (k, p) in pieces.iter().enumerate() {
            for (j, q) in split_on_dips(*p, &e, min_len).into_iter().enumerate() {
                notes.push(q);
                detached.push(k == 0 || j > 0);
            }
        }
        // Boundaries between notes of different pitch: legato glide or a new attack.
        for k in 1..notes.len() {
            let (prev, cur) = (notes[k - 1], notes[k]);
            if detached[k] {
                // Split at an energy valley: a new attack of the same pitch.
                let mut vs = cur.start;
                while vs + 1 < cur.end && !midi[vs].is_finite() {
                    vs += 1;
                }
                let on = attack_start(&e, cur.start, vs.max(cur.start));
                notes[k].start = on;
                notes[k - 1].end = release_end(&e, prev.start, on, win).max(prev.start + 1);
                continue;
            }
            // Where the pitch leaves the previous note: start of the glide.
            let target = prev.pitch as f32;
            let mut g = cur.start;
            let limit = prev.start + (prev.end - prev.start) / 2;
            while g > limit && !((midi[g - 1] - target).abs() <= 0.35) {
                g -= 1;
            }
            // A valley followed by a clear rise means the new note was attacked anew
            // (a detached note whose gap was filled by reverb or a breath).
            let mut vs = cur.start;
            while vs + 1 < cur.end && !midi[vs].is_finite() {
                vs += 1;
            }
            let search_end = (vs + look / 2).min(cur.end);
            let v = g + argmin(&e[g..search_end.max(g + 1)]);
            let rise_end = (vs + look).min(cur.end).max(v + 1);
            let rise = max_of(&e[v..rise_end]) - e[v];
            let fall = max_of(&e[g.saturating_sub(look).max(prev.start)..=g]) - e[v];
            if std::env::var("MEL_DBG").is_ok() {
                eprintln!(
                    "BOUND {:.3} {:.3} rise={rise:.1} fall={fall:.1} valley_dt={:.3}",
                    g as f64 * hop,
                    cur.start as f64 * hop,
                    (v - g) as f64 * hop
                );
            }
            if rise >= RISE_DB && fall >= FALL_DB {
                let on = attack_start(&e, v, vs.max(v));
                notes[k - 1].end = release_end(&e, prev.start, on, win).max(prev.start + 1);
                notes[k].start = on;
            } else {
                notes[k - 1].end = g.max(prev.start + 1);
                notes[k].start = g;
            }
        }
        // Region start: back to the start of the attack.
        if let Some(first) = notes.first_mut() {
            let lo = first
                .start
                .saturating_sub(max_back)
                .max(segs.last().map_or(0, |s| s.end));
            first.start = attack_start(&e, lo, first.start);
        }
        // Region end: the release, without the reverb tail.
        if let Some(last) = notes.last_mut() {
            let next = regs.get(ri + 1).map_or(e.len(), |r| r.0);
            let lim = next.min(b + tail);
            last.end = release_end(&e, last.start, lim, win).max(last.start + 1);
        }
        segs.extend(notes);
    }
    segs.iter()
        .filter(|s| s.end > s.start && s.end - s.start >= min_len)
        .filter(|s| max_of(&e[s.start..s.end]) >= loud - QUIET_DB)
        .map(|s| Note {
            onset_s: s.start as f64 * hop,
            offset_s: s.end as f64 * hop,
            pitch: (s.pitch as f32 + tune).round().clamp(0.0, 127.0) as u8,
        })
        .collect()
}

/// Joins voiced regions separated by less than `max_gap` frames; whether such a gap is
/// a legato glide or a new attack is decided per boundary from the energy.
fn join_gaps(regs: Vec<(usize, usize)>, max_gap: usize) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::with_capacity(regs.len());
    for r in regs {
        match out.last_mut() {
            Some(last) if r.0 - last.1 <= max_gap => last.1 = r.1,
            _ => out.push(r),
        }
    }
    out
}

/// Start of the attack that leads up to the voiced frame `vs`: walk back from `vs` to
/// the last frame within `ONSET_BASE_DB` of the level before the attack (the 25th
/// percentile of the energy between `lo` and `vs`, i.e. noise or a reverb tail).
fn attack_start(e: &[f32], lo: usize, vs: usize) -> usize {
    if vs <= lo {
        return vs;
    }
    let base = percentile(&e[lo..vs], 0.25);
    let mut t = vs;
    while t > lo && e[t - 1] > base + ONSET_BASE_DB {
        t -= 1;
    }
    t
}

/// End of a note's release: the first frame after `start` where the energy is
/// `OFFSET_DROP_DB` under its running maximum of the last `win` frames and stays
/// there until `limit` (the next onset, or a bounded search window). Reverb tails decay
/// slowly after the release and level fluctuations inside a note come back up, so the
/// condition finds the release whatever the room.
fn release_end(e: &[f32], start: usize, limit: usize, win: usize) -> usize {
    let limit = limit.min(e.len());
    if limit <= start + 1 {
        return limit;
    }
    // Suffix maxima of e over [t, limit).
    let mut suffix = vec![f32::NEG_INFINITY; limit - start + 1];
    for t in (start..limit).rev() {
        suffix[t - start] = suffix[t + 1 - start].max(e[t]);
    }
    for t in start + 1..limit {
        let m = max_of(&e[t.saturating_sub(win).max(start)..t]);
        let thr = m - OFFSET_DROP_DB;
        if e[t] < thr && suffix[t - start] < thr + OFFSET_HYST_DB {
            return t;
        }
    }
    limit
}

/// Splits a segment at deep energy valleys followed by a rise (a new attack).
fn split_on_dips(s: Seg, e: &[f32], min_len: usize) -> Vec<Seg> {
    let mut out = Vec::new();
    let mut cur = s;
    let mut t = cur.start + min_len;
    while t + min_len < cur.end {
        let is_min = e[t] <= e[t - 1] && e[t] < e[t + 1];
        if is_min {
            let before = e[cur.start..t]
                .iter()
                .copied()
                .fold(f32::NEG_INFINITY, f32::max);
            let after_end = (t + 3 * min_len).min(cur.end);
            let after = e[t..after_end]
                .iter()
                .copied()
                .fold(f32::NEG_INFINITY, f32::max);
            if before - e[t] >= DIP_DB && after - e[t] >= DIP_DB {
                out.push(Seg {
                    start: cur.start,
                    end: t,
                    pitch: cur.pitch,
                });
                cur.start = t;
                t += min_len;
                continue;
            }
        }
        t += 1;
    }
    out.push(cur);
    out
}
