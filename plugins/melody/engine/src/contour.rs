//! Folding of semitone pieces by the shape of the pitch contour rather than by length:
//!
//! - a *steady approach* (a scoop or slow glide of up to 320 ms that moves monotonically
//!   into the next piece's semitone without holding a pitch) belongs to the note it leads
//!   into, whether it starts the note or passes between two notes;
//! - an *excursion that returns* (a piece a semitone or two off, between two pieces of
//!   the same semitone, that never holds its pitch) is a vibrato peak of that note; so is
//!   one as the voice releases that swings out and turns back at both ends.
//!
//! A sung note, however short, holds its pitch for a while; these shapes never do.

use crate::segment::{Seg, GLIDE_LEAVE_ST as LEAVE_ST};

/// Longest scoop or glide into a note, until it arrives (seconds).
const APPROACH_S: f64 = 0.35;
/// The approach has arrived when it is this close to the next note (semitones).
const ARRIVE_ST: f32 = 0.3;
/// A piece's median this far from its semitone gets the median's semitone.
const RELABEL_ST: f32 = 0.6;
/// Longest vibrato excursion away from the note (seconds): half a 3 Hz cycle.
const EXCURSION_S: f64 = 0.17;
/// A piece that stays this long within `HOLD_ST` of one pitch is a sung note (seconds).
const HOLD_S: f64 = 0.06;
const HOLD_ST: f32 = 0.15;
/// At a note's start (after silence) an approach may begin with a slow departure that
/// looks held for up to a quarter of a 300 ms scoop; a sung note holds longer (seconds).
const START_HOLD_S: f64 = 0.085;
/// A slow scoop (a semitone over 300 ms leaves a 0.3-semitone band only after 110 ms) may
/// look held for this long at a note's start when where it looks held is off the semitones
/// (seconds)...
const START_DRIFT_S: f64 = 0.14;
/// ...by this much (semitones)...
const OFF_SEMITONE_ST: f32 = 0.2;
/// ...from its first frames on (frames).
const SCOOP_HELD_AT: usize = 2;
/// A held-looking outset that moves towards the next note by this much in each third...
const OUTSET_STEP_ST: f32 = 0.01;
/// ...and this much in all is a scoop setting out, even on a semitone (semitones): a sung
/// note's pitch wanders by a few cents, not steadily one way.
const OUTSET_DRIFT_ST: f32 = 0.12;
/// Frames at an approach's start more than this far from its piece are a tracking transient
/// (semitones).
const STRAY_ST: f32 = 3.5;
/// Frames at an approach's start that `steady` ignores when they lie this far back against
/// its direction (semitones).
const ATTACK_FRAMES: usize = 2;
const ATTACK_BACK_ST: f32 = 0.1;
/// A steady approach may step back this far against its direction (semitones)...
const RETREAT_ST: f32 = 0.3;
/// ...and must move at least this far towards the next note (semitones)...
const PROGRESS_ST: f32 = 0.4;
/// ...or this far when its outset already drifts towards it (a scoop of a semitone that
/// arrives within `ARRIVE_ST` moves little more than half a semitone in all).
const PROGRESS_DRIFT_ST: f32 = 0.3;

/// A vibrato's last peak before a release may look held (its crest is flat for a third of a
/// cycle); up to this long (seconds)...
const PEAK_S: f64 = 0.09;
/// ...it is a peak when the note before reached as far at least `PEAK_VISITS` times in
/// this window before it (seconds)...
const PEAK_LOOK_S: f64 = 0.6;
const PEAK_VISITS: usize = 2;
/// ...within this much (semitones).
const PEAK_NEAR_ST: f32 = 0.2;
/// A crest running into the glide to another note is a vibrato's when the note before swung
/// once within this much of it (semitones).
const CUT_NEAR_ST: f32 = 0.3;
/// A crest before a release turns back towards its note by this much at both ends
/// (semitones).
const TURN_BACK_ST: f32 = 0.2;

/// Whether the contour `before` reached the extreme of `run` (in direction `dir`) in at
/// least `times` separate excursions (within `near_st`): a vibrato swinging there, not a new
/// note.
fn revisits(before: &[f32], run: &[f32], dir: f32, near_st: f32, times: usize) -> bool {
    let Some(peak) = run
        .iter()
        .filter(|v| v.is_finite())
        .map(|v| v * dir)
        .max_by(f32::total_cmp)
    else {
        return false;
    };
    let mut visits = 0;
    let mut inside = false;
    for v in before {
        let near = v.is_finite() && v * dir >= peak - near_st;
        if near && !inside {
            visits += 1;
        }
        inside = near;
    }
    visits >= times
}

/// Whether a piece swings out in direction `dir` and back: its extreme (medians of three
/// frames) lies inside it, with both ends `TURN_BACK_ST` nearer the note it left. A vibrato
/// crest as the voice releases may look held at its tip, but it turns back; a sung note
/// holds where it went.
fn turns_back(run: &[f32], dir: f32) -> bool {
    let n = run.len();
    if n < 9 || run.iter().any(|v| !v.is_finite()) {
        return false;
    }
    let at = |i: usize| crate::pieces::median(&run[i..i + 3]).map_or(f32::NAN, |v| v * dir);
    let (first, last) = (at(0), at(n - 3));
    let (tip, i) = (3..n - 5)
        .map(|i| (at(i), i))
        .fold((f32::NEG_INFINITY, 0), |b, c| if c.0 > b.0 { c } else { b });
    i > 0 && tip - first >= TURN_BACK_ST && tip - last >= TURN_BACK_ST
}

/// Longest run of frames within `HOLD_ST` of a common pitch (frames), by sliding over the
/// finite values.
fn hold(m: &[f32]) -> usize {
    held_run(m).1
}

/// Start and length (frames) of the longest run within `HOLD_ST` of a common pitch.
fn held_run(m: &[f32]) -> (usize, usize) {
    let mut best = (0, 0);
    for i in 0..m.len() {
        if !m[i].is_finite() {
            continue;
        }
        let (mut lo, mut hi) = (m[i], m[i]);
        let mut j = i;
        while j < m.len() && m[j].is_finite() {
            lo = lo.min(m[j]);
            hi = hi.max(m[j]);
            if hi - lo > 2.0 * HOLD_ST {
                break;
            }
            j += 1;
        }
        if j - i > best.1 {
            best = (i, j - i);
        }
        if j == m.len() {
            break;
        }
    }
    best
}

/// Whether the longest held run of an approach that starts a note is its outset and either
/// lies off the semitones (the tuning-corrected track; a scoop sets out from anywhere, a sung
/// note sits on one) or already drifts steadily towards the next note in direction `dir`,
/// when that note `lands` (holds its pitch: a glide passing through a semitone on its way to
/// another is no scoop's target, and a short note before it drifts into the glide).
fn scoop_outset(w: &[f32], max: usize, dir: f32, lands: bool) -> bool {
    let (mut a, mut len) = held_run(w);
    if a > 0 && a + len == w.len() {
        // A run that reaches the arrival is the scoop easing into the next note (it lies
        // within 0.6 semitone of it, where this piece's own pitch cannot be): the outset is
        // the longest run before it.
        (a, len) = held_run(&w[..a]);
    }
    // A scoop is slowest as it sets out, so that is where it looks held (after an attack's
    // first frames, which may fall or rise fast into it).
    if a > SCOOP_HELD_AT + ATTACK_FRAMES || len >= max {
        return false;
    }
    let run = &w[a..a + len];
    let off = crate::pieces::median(run).is_some_and(|m| (m - m.round()).abs() > OFF_SEMITONE_ST);
    off || (lands && drifts(run, dir))
}

/// Whether a held-looking run moves towards `dir` in each of its thirds (medians of three
/// frames, against single-frame jitter; an attack's first frames left out).
fn drifts(run: &[f32], dir: f32) -> bool {
    let run = run.get(ATTACK_FRAMES..).unwrap_or_default();
    let n = run.len();
    if n < 12 {
        return false;
    }
    let at = |i: usize| crate::pieces::median(&run[i..i + 3]).map(|v| v * dir);
    let pts: Vec<f32> = [0, n / 3, 2 * n / 3, n - 3]
        .iter()
        .filter_map(|&i| at(i))
        .collect();
    pts.len() == 4
        && pts.windows(2).all(|w| w[1] - w[0] >= OUTSET_STEP_ST)
        && pts[3] - pts[0] >= OUTSET_DRIFT_ST
}

/// Whether the contour moves steadily in direction `dir` (+1 up, -1 down), after its first
/// `ATTACK_FRAMES` when it is long enough (an attack's first periods read off by a few
/// tenths of a semitone).
fn steady(m: &[f32], dir: f32, progress: f32) -> bool {
    let mut v: Vec<f32> = m
        .iter()
        .copied()
        .filter(|x| x.is_finite())
        .map(|x| x * dir)
        .collect();
    // Only first frames that lie back against the direction are the attack's.
    if v.len() > 4 * ATTACK_FRAMES
        && v[..ATTACK_FRAMES]
            .iter()
            .any(|&x| x > v[ATTACK_FRAMES] + ATTACK_BACK_ST)
    {
        v.drain(..ATTACK_FRAMES);
    }
    if v.len() < 3 {
        return false;
    }
    let mut top = f32::NEG_INFINITY;
    for &x in &v {
        top = top.max(x);
        if top - x > RETREAT_ST {
            return false;
        }
    }
    let k = (v.len() / 4).max(1);
    let start = v[..k].iter().sum::<f32>() / k as f32;
    let end = v[v.len() - k..].iter().sum::<f32>() / k as f32;
    end - start >= progress
}

/// Gives each piece the semitone of its contour's median after its first quarter, when
/// that is clearly another semitone than the path's (a deep vibrato can tip the path to a
/// neighbour), then joins neighbours that now share a semitone over a voiced boundary.
pub fn relabel(mut segs: Vec<Seg>, midi: &[f32]) -> Vec<Seg> {
    for s in &mut segs {
        let len = s.end - s.start;
        let body = &midi[s.start + len / 4..s.end - len / 10];
        if let Some(med) = crate::pieces::median(body) {
            if (med - s.pitch as f32).abs() > RELABEL_ST {
                s.pitch = med.round() as i32;
            }
        }
    }
    let mut out: Vec<Seg> = Vec::with_capacity(segs.len());
    for s in segs {
        match out.last_mut() {
            Some(p)
                if p.pitch == s.pitch
                    && p.end == s.start
                    && s.start > 0
                    && midi[s.start - 1].is_finite()
                    && midi.get(s.start).is_some_and(|v| v.is_finite()) =>
            {
                p.end = s.end;
            }
            _ => out.push(s),
        }
    }
    out
}

/// Applies both folds until nothing changes; `midi` is the tuning-corrected track indexed
/// by absolute frame, `hop` the frame length in seconds.
pub fn fold(mut segs: Vec<Seg>, midi: &[f32], hop: f64) -> Vec<Seg> {
    let frames = |s: f64| (s / hop).round() as usize;
    let (approach, excursion) = (frames(APPROACH_S), frames(EXCURSION_S));
    let (held, start_held) = (frames(HOLD_S), frames(START_HOLD_S));
    let drift = frames(START_DRIFT_S);
    let (peak_len, look) = (frames(PEAK_S), frames(PEAK_LOOK_S));
    let mut k = 0;
    while k < segs.len() {
        let s = segs[k];
        let len = s.end - s.start;
        let m = &midi[s.start..s.end.min(midi.len())];
        // Pieces of one region touch even across a short unvoiced gap (a detached note);
        // only a continuously voiced boundary can be a glide or a vibrato excursion.
        let voiced = |t: usize| midi.get(t).is_some_and(|v| v.is_finite());
        let joined = |t: usize| t > 0 && voiced(t - 1) && voiced(t);
        let prev = k
            .checked_sub(1)
            .map(|j| segs[j])
            .filter(|p| p.end == s.start && joined(s.start));
        let next = segs
            .get(k + 1)
            .copied()
            .filter(|n| n.start == s.end && joined(s.end));
        if let (Some(p), Some(n)) = (prev, next) {
            let off = (s.pitch - p.pitch).abs();
            if p.pitch == n.pitch && (1..=2).contains(&off) && len <= excursion && hold(m) < held {
                segs[k - 1].end = n.end;
                segs.drain(k..=k + 1);
                continue;
            }
            // A crest running into the glide to another note: it lies on the far side of
            // the note it left, away from the next one, where the vibrato swung before.
            let dir = (s.pitch - p.pitch).signum();
            let away = n.pitch != p.pitch
                && (n.pitch - p.pitch).signum() == -dir
                && hold(&midi[n.start..n.end.min(midi.len())]) >= held;
            let before = &midi[p.start.max(s.start.saturating_sub(look))..s.start];
            if away
                && (1..=2).contains(&off)
                && len <= excursion
                && hold(m) < held
                && revisits(before, m, dir as f32, CUT_NEAR_ST, 1)
            {
                segs[k - 1].end = s.end;
                segs.remove(k);
                continue;
            }
        }
        // A vibrato peak as the voice leaves the note: the first voiced run of the piece,
        // when a gap or nothing follows it.
        if let Some(p) = prev {
            let run_end = (s.start..s.end).find(|&t| !voiced(t)).unwrap_or(s.end);
            let off = (s.pitch - p.pitch).abs();
            let ends = run_end < s.end || next.is_none();
            let run = &midi[s.start..run_end];
            let dir = (s.pitch - p.pitch).signum() as f32;
            let before = &midi[p.start.max(s.start.saturating_sub(look))..s.start];
            let short = run_end - s.start <= peak_len;
            let unheld = hold(run) < held
                || (short && revisits(before, run, dir, PEAK_NEAR_ST, PEAK_VISITS))
                || turns_back(run, dir);
            if ends && (1..=2).contains(&off) && run_end - s.start <= excursion && unheld {
                segs[k - 1].end = run_end;
                if run_end == s.end {
                    segs.remove(k);
                } else {
                    segs[k].start = run_end;
                }
                continue;
            }
        }
        if let Some(n) = next {
            let dir = (n.pitch - s.pitch).signum() as f32;
            // A piece between two touching notes must lie between them to be a glide.
            let between = prev.is_none_or(|p| (s.pitch - p.pitch).signum() as f32 == dir);
            let max_hold = if prev.is_some() { held } else { start_held };
            // The approach is judged from its first voiced frame to where it arrives
            // within `ARRIVE_ST` of the next note: the semitone path cuts a glide at an
            // arbitrary point.
            // Frames far off the piece at its very start are the tracker's attack
            // transient (a wrong octave or twelfth for a few frames), not the contour.
            let first = (s.start..s.end)
                .find(|&t| voiced(t) && (midi[t] - s.pitch as f32).abs() <= STRAY_ST)
                .unwrap_or(s.start);
            let arrive = (s.end..n.end)
                .find(|&t| voiced(t) && (midi[t] - n.pitch as f32).abs() <= ARRIVE_ST)
                .unwrap_or(n.end);
            let w = &midi[first..arrive];
            let lands = |n: Seg| hold(&midi[n.start..n.end.min(midi.len())]) >= held;
            let outset = prev.is_none() && scoop_outset(w, drift, dir, lands(n));
            let unheld = hold(w) < max_hold || outset;
            let progress = if outset {
                PROGRESS_DRIFT_ST
            } else {
                PROGRESS_ST
            };
            if arrive - first <= approach && between && unheld && steady(w, dir, progress) {
                segs[k + 1].start = s.start;
                segs.remove(k);
                continue;
            }
        }
        k += 1;
    }
    segs
}

/// Where a glide that leaves `target` (the old note as sung) at frame `g` (the first frame
/// `LEAVE_ST` away) towards `to` set out. A smooth glide sets out with a parabola, its
/// distance from the old note growing with the square of the time: the frames where it is
/// `LEAVE_ST` and twice that away give its start, which for a slow glide (a semitone
/// over 300 ms leaves 0.2 semitone only after 90 ms) lies far before `g`. `None` unless the
/// glide moves on steadily and the old note held its pitch right up to that start (a vibrato
/// crest, not a glide, may be what left it).
pub fn glide_start(
    midi: &[f32],
    target: f32,
    to: f32,
    g: usize,
    end: usize,
    limit: usize,
    max_back: usize,
) -> Option<usize> {
    let dir = (to - target).signum();
    let dev = |t: usize| (midi[t] - target) * dir;
    let d1 = dev(g);
    if !(LEAVE_ST..2.0 * LEAVE_ST).contains(&d1) {
        return None;
    }
    let t2 = (g + 1..end.min(midi.len()))
        .take_while(|&t| midi[t].is_finite())
        .find(|&t| dev(t) >= 2.0 * LEAVE_ST)?;
    let d2 = dev(t2);
    let back = (t2 - g) as f32 * d1.sqrt() / (d2.sqrt() - d1.sqrt());
    let back = (back.round() as usize).min(max_back);
    let t0 = g.saturating_sub(back).max(limit);
    // Halfway there in time the parabola is a quarter of the way: a contour that is already
    // that far off (noise on the old note) or still flat there is no such curve.
    let mid = dev(t0 + (g - t0) / 2);
    let curve = (0.0..=LEAVE_ST / 2.0).contains(&mid);
    (curve
        && midi[t0..g]
            .iter()
            .all(|m| m.is_finite() && (m - target).abs() <= LEAVE_ST))
    .then_some(t0)
}
