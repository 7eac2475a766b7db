//! Energy-envelope decisions: where an attack starts, where a release ends (without
//! the reverb tail), and which dips inside a same-pitch stretch are new attacks.

use crate::pitch::percentile;
use crate::reverb::Coherent;
use crate::segment::Seg;

/// Offsets: the note ends where its energy has fallen this far under its level (dB).
const OFFSET_DROP_DB: f32 = 10.0;
/// Energy dip that splits a same-pitch stretch (dB under the maxima on both sides).
const DIP_DB: f32 = 8.0;
/// A dip this deep splits even while the sound stays periodic (dB).
const DEEP_DIP_DB: f32 = 10.0;
/// Periodicity under which a dip counts as the voice stopping.
const DIP_CLARITY: f32 = 0.5;
/// A dip must be this much deeper (dB) than the other dips around it (vibrato).
const DIP_MARGIN_DB: f32 = 4.0;
/// Periodicity under which the voice has surely stopped in a dip: vibrato keeps the voice
/// periodic, so such a dip splits even among equal dips (a run of repeated notes).
const STOP_CLARITY: f32 = 0.35;
/// A dip this deep (dB) in the median of the voice's bands, on both sides, is a new attack:
/// the tail's beating against a held note lowers single harmonics, not all of them at once.
const COHERENT_DIP_DB: f32 = 6.0;
/// A coherent split leaves at least this many frames (100 ms) on both sides: the shortest
/// repeated notes, and no piece of a tail after a note.
const COHERENT_EDGE: usize = 20;
/// The new attack starts at the lowest energy within this many frames (40 ms) of the
/// coherent dip's deepest frame (which lies where fall and rise balance).
const COHERENT_FOOT: usize = 8;
/// The energy after a coherent split must come back to within this much (dB) of the level
/// before it: a bump in a tail is no new note.
const COHERENT_LEVEL_DB: f32 = 6.0;
/// A coherent dip must be this much (dB) deeper than the coherent dips within 300 ms.
const COHERENT_MARGIN_DB: f32 = 3.0;
/// The coherent dip's deepest frame within this many frames on either side splits.
const COHERENT_PEAK: usize = 4;
/// An attack starts where the energy rises this far over the level before it (dB).
const ONSET_BASE_DB: f32 = 3.0;
/// Dips this small (dB) on the way up do not end an attack.
const ATTACK_SLACK_DB: f32 = 0.5;
/// Periodicity under which sound before a vowel is a consonant or breath, not its attack,
/// when it is this far (dB) over the level before it.
const CONSONANT_CLARITY: f32 = 0.25;
const CONSONANT_DB: f32 = 6.0;
/// A rise this large (dB) after a note's voice ended starts something else.
const GAP_RISE_DB: f32 = 6.0;
/// After the offset the energy must stay under the threshold plus this (dB).
const OFFSET_HYST_DB: f32 = 2.0;
/// The final decay is followed back while the energy `DECAY_SPAN`
/// frames, 30 ms) was at least `DECAY_MIN_DB` higher: 20 dB/s, slower than any room's tail
/// (RT60 under 3 s) and faster than a note's own swell or fade.
const DECAY_SPAN: usize = 6;
const DECAY_MIN_DB: f32 = 0.6;

pub fn max_of(v: &[f32]) -> f32 {
    v.iter().copied().fold(f32::NEG_INFINITY, f32::max)
}

pub fn min_of(v: &[f32]) -> f32 {
    v.iter().copied().fold(f32::INFINITY, f32::min)
}

pub fn argmin(v: &[f32]) -> usize {
    v.iter()
        .enumerate()
        .min_by(|a, b| a.1.total_cmp(b.1))
        .map_or(0, |(i, _)| i)
}

/// Moving average over `2 * half + 1` frames.
pub fn smooth(v: &[f32], half: usize) -> Vec<f32> {
    (0..v.len())
        .map(|i| {
            let a = i.saturating_sub(half);
            let b = (i + half + 1).min(v.len());
            v[a..b].iter().sum::<f32>() / (b - a) as f32
        })
        .collect()
}

/// Start of the attack that leads up to the voiced frame `vs`: walk back from `vs` to
/// the last frame within `ONSET_BASE_DB` of the level before the attack (the 25th
/// percentile of the energy between `lo` and `vs`, i.e. noise or a reverb tail).
///
/// Aperiodic sound well over that level (a consonant's hiss or burst before the vowel, a
/// breath) is not the attack: the walk stops there.
pub fn attack_start(e: &[f32], clarity: &[f32], lo: usize, vs: usize) -> usize {
    if vs <= lo {
        return vs;
    }
    let base = percentile(&e[lo..vs], 0.25);
    let mut t = vs;
    // Only while the energy keeps rising towards the note: a flickering reverb tail
    // before it has its own valleys, and the attack starts at the last one.
    while t > lo && e[t - 1] > base + ONSET_BASE_DB && e[t - 1] <= e[t] + ATTACK_SLACK_DB {
        let noise = clarity.get(t - 1).is_some_and(|&c| c < CONSONANT_CLARITY);
        if noise && e[t - 1] > base + CONSONANT_DB {
            break;
        }
        t -= 1;
    }
    t
}

/// Where a new rise starts after a note's voice has ended at `from` (a consonant, a
/// breath or the next attack): the foot of the first rise of `GAP_RISE_DB` over the lowest
/// energy since `from`, or `limit`. A release or a reverb tail only falls.
pub fn gap_rise(e: &[f32], from: usize, limit: usize) -> usize {
    let limit = limit.min(e.len());
    if from >= limit {
        return limit;
    }
    let (mut lo, mut lo_t) = (e[from], from);
    for (t, &v) in e.iter().enumerate().take(limit).skip(from) {
        if v < lo {
            lo = v;
            lo_t = t;
        } else if v > lo + GAP_RISE_DB {
            return lo_t + 1;
        }
    }
    limit
}

/// End of a note's release: the first frame after `start` where the energy is
/// `OFFSET_DROP_DB` under its running maximum of the last `win` frames and stays
/// there until `limit` (the next onset, or a bounded search window). Reverb tails decay
/// slowly after the release and level fluctuations inside a note come back up, so the
/// condition finds the release whatever the room.
pub fn release_end(e: &[f32], start: usize, limit: usize, win: usize, release: usize) -> usize {
    let limit = limit.min(e.len());
    if limit <= start + 1 {
        return limit;
    }
    // Suffix maxima of e over [t, limit).
    let mut suffix = vec![f32::NEG_INFINITY; limit - start + 1];
    for t in (start..limit).rev() {
        suffix[t - start] = suffix[t + 1 - start].max(e[t]);
    }
    // The note's level is measured after its first half-window: a legato note starts
    // on the tail of the previous, possibly louder, one.
    let body = (start + win / 2).min(limit - 1);
    let mut drop = limit;
    for t in body + 1..limit {
        let m = max_of(&e[t.saturating_sub(win).max(body)..t]);
        let thr = m - OFFSET_DROP_DB;
        if e[t] < thr && suffix[t - start] < thr + OFFSET_HYST_DB {
            drop = t;
            break;
        }
    }
    // In a reverberant room the energy after the release decays slowly, so the drop
    // comes late. The release starts where the final decay begins; a voice's release
    // lasts a few tens of milliseconds, so the note ends at most that long after it.
    let mut p = drop.min(e.len() - 1);
    while p >= start + DECAY_SPAN && e[p - DECAY_SPAN] - e[p] >= DECAY_MIN_DB {
        p -= 1;
    }
    drop.min(p + release)
}

/// Splits a segment at energy valleys that mark a new attack of the same pitch: the
/// energy must dip `DIP_DB` under the maxima within `w` frames on both sides while the
/// periodicity breaks down (the voice stopped), or dip `DEEP_DIP_DB` whatever the
/// periodicity (a gap filled by a pitched reverb tail). Vibrato through a room's
/// resonances makes periodic loudness dips of 10 dB or so, but the voice stays
/// periodic through them, so they do not split.
///
/// A dip where the voice stops (`STOP_CLARITY`) splits even among equal dips, when the
/// note before it was sung at the piece's semitone for `min_len` frames (`midi`, tuning
/// corrected): three repeated eighths with breaths between them make equal dips, and a
/// gap with only the previous note's release in it is not a note.
pub fn split_on_dips(
    s: Seg,
    e: &[f32],
    clarity: &[f32],
    midi: &[f32],
    coherent: Option<&Coherent>,
    min_len: usize,
    w: usize,
) -> Vec<Seg> {
    // Depth of a dip shared by the voice's bands (`reverb::Coherent`), in a room only.
    let coh = |t: usize| coherent.map_or(0.0, |c| c.depth(t));
    let coherent_at = |t: usize| {
        let d = coh(t);
        // Vibrato moves every harmonic through the room's resonances at once and makes
        // regular coherent dips; a new attack stands out of them.
        let peak = |u: usize| {
            let c = coh(u);
            (u.saturating_sub(COHERENT_PEAK)..u).all(|v| coh(v) < c)
                && (u + 1..=u + COHERENT_PEAK).all(|v| coh(v) <= c)
        };
        let others = (t.saturating_sub(2 * w).max(s.start)..(t + 2 * w).min(s.end))
            .filter(|&u| u.abs_diff(t) > w / 2 && peak(u))
            .map(coh)
            .fold(0.0f32, f32::max);
        d >= COHERENT_DIP_DB
            && d >= others + COHERENT_MARGIN_DB
            && (t.saturating_sub(COHERENT_PEAK)..t).all(|u| coh(u) < d)
            && (t + 1..=t + COHERENT_PEAK).all(|u| coh(u) <= d)
    };
    let sung = |a: usize, b: usize| {
        midi[a..b]
            .iter()
            .filter(|m| (*m - s.pitch as f32).abs() < 0.5)
            .count()
            >= min_len
    };
    // (fall into the dip, rise out of it) in dB.
    let sides = |t: usize, lo: usize, hi: usize| -> (f32, f32) {
        let before = max_of(&e[t.saturating_sub(w).max(lo)..t]);
        let after = max_of(&e[t..(t + w).min(hi)]);
        (before - e[t], after - e[t])
    };
    let depth_at = |t: usize, lo: usize, hi: usize| -> f32 {
        let (f, r) = sides(t, lo, hi);
        f.min(r)
    };
    let is_min = |t: usize| e[t] <= e[t - 1] && e[t] < e[t + 1];
    let mut out = Vec::new();
    let mut cur = s;
    let mut t = cur.start + min_len;
    while t + min_len < cur.end {
        let edge = COHERENT_EDGE;
        // The rise must come from inside the piece: a tail before the next piece's
        // attack is no new note of this one.
        let inside = |t: usize| coherent.map_or(0.0, |c| c.rise(t, cur.end)) >= COHERENT_DIP_DB;
        if t >= cur.start + edge && t + edge <= cur.end && coherent_at(t) && inside(t) {
            // The new attack starts at the energy's lowest frame in the dip.
            let r = COHERENT_FOOT;
            let (a, b) = (
                t.saturating_sub(r).max(cur.start + min_len),
                (t + r + 1).min(cur.end - min_len),
            );
            let at = if b > a { a + argmin(&e[a..b]) } else { t };
            let (fall, rise) = sides(at, cur.start, cur.end);
            if rise < fall - COHERENT_LEVEL_DB {
                t += 1;
                continue;
            }
            out.push(Seg {
                start: cur.start,
                end: at,
                pitch: cur.pitch,
            });
            cur.start = at;
            t = at + edge.max(min_len);
            continue;
        }
        if is_min(t) {
            let depth = depth_at(t, cur.start, cur.end);
            let clar = min_of(&clarity[t.saturating_sub(2)..(t + 3).min(clarity.len())]);
            // Dips of vibrato recur every 150-250 ms; a new attack stands out of them.
            let (lo, hi) = (
                t.saturating_sub(2 * w).max(s.start + 1),
                (t + 2 * w).min(s.end - 1),
            );
            let others = (lo..hi)
                .filter(|&u| u.abs_diff(t) > w / 2 && is_min(u))
                .map(|u| depth_at(u, s.start, s.end))
                .fold(0.0f32, f32::max);
            let stands_out = depth >= others + DIP_MARGIN_DB
                || (clar < STOP_CLARITY && sung(cur.start, t) && sung(t, cur.end));
            let (fall, rise) = sides(t, cur.start, cur.end);
            // A release into a gap followed by the (possibly softer) next attack.
            let release_gap = fall >= DEEP_DIP_DB + 2.0 && rise >= DIP_DB;
            let deep = depth >= DEEP_DIP_DB || release_gap;
            if stands_out && (deep || (depth >= DIP_DB && clar < DIP_CLARITY)) {
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
