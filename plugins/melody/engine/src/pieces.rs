//! Pitch-level pieces of a voiced region: a Viterbi pass over whole semitones, and the
//! clean-up of pieces that are artefacts (octave slips, glide passages, blips).

use crate::segment::Seg;

/// Cost of changing semitone inside a voiced region, in squared semitones (one frame
/// one semitone off costs 1.0).
const CHANGE_COST: f32 = 6.0;
/// Cap on a frame's squared deviation, so that glides and octave slips cost a bounded
/// amount.
const DEV_CAP: f32 = 1.0;

/// Semitone Viterbi inside one region; returns segments of constant semitone.
pub fn semitone_path(p: &[f32], start: usize) -> Vec<Seg> {
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

/// Median of the finite values, if any.
pub fn median(v: &[f32]) -> Option<f32> {
    let mut s: Vec<f32> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if s.is_empty() {
        return None;
    }
    s.sort_by(f32::total_cmp);
    Some(s[s.len() / 2])
}

/// Short pieces an octave or two away from a touching neighbour are the tracker
/// locking onto a subharmonic or harmonic (typically where a new note starts over the
/// previous one's reverb): they join that neighbour.
pub fn merge_slips(mut segs: Vec<Seg>, max_len: usize, passing: usize) -> Vec<Seg> {
    let mut k = 0;
    while k < segs.len() {
        let s = segs[k];
        let octave = |o: &Seg| matches!((o.pitch - s.pitch).abs(), 12 | 24);
        if s.end - s.start < max_len {
            let next = segs.get(k + 1).filter(|n| n.start == s.end && octave(n));
            let prev = k
                .checked_sub(1)
                .map(|j| segs[j])
                .filter(|p| p.end == s.start && octave(p));
            if next.is_some() {
                segs[k + 1].start = s.start;
                segs.remove(k);
                continue;
            }
            if prev.is_some() {
                segs[k - 1].end = s.end;
                segs.remove(k);
                continue;
            }
        }
        // A short piece strictly between its touching neighbours is the glide passing
        // through the semitones in between: it belongs to the note it leads into.
        if k > 0 && k + 1 < segs.len() && s.end - s.start < passing {
            let (p, n) = (segs[k - 1], segs[k + 1]);
            let between = (p.pitch < s.pitch && s.pitch < n.pitch)
                || (p.pitch > s.pitch && s.pitch > n.pitch);
            if between && p.end == s.start && n.start == s.end {
                segs[k + 1].start = s.start;
                segs.remove(k);
                continue;
            }
        }
        k += 1;
    }
    segs
}

/// Splits the notes into segments from pitch, then merges too-short pieces into the
/// neighbour that is closest in pitch.
pub fn merge_short(mut segs: Vec<Seg>, min_len: usize) -> Vec<Seg> {
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
