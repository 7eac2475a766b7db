//! From a smoothed pitch track to notes.
//!
//! 1. Tuning: the clip's offset from equal temperament (circular mean of the stable
//!    frames' deviation from the nearest semitone), so a choir tuned 30 cents flat still
//!    lands on the intended semitones.
//! 2. Voiced regions (runs of pitched frames, with dropouts shorter than 20 ms bridged).
//! 3. Inside a region, a Viterbi pass over whole semitones with a fixed cost per change
//!    of note: vibrato, scoops and jitter do not pay for a new note, a real step does.
//!    Legato onsets are moved back to where the pitch starts to leave the old note (for
//!    a slow glide, where its curve sets out: `contour::glide_start`).
//! 4. Energy onsets split same-pitch stretches (repeated notes, or a note that starts
//!    while the previous one's reverb tail still sounds).
//! 5. Onsets of detached notes are moved back to the start of the energy rise; offsets
//!    are put where the energy has fallen a fixed number of dB under the note's level,
//!    which cuts reverb tails; in a room (`reverb.rs`) on the energy without the late
//!    reverberation, and no later than where the energy follows the room's decay.
//! 6. Notes shorter than the minimum duration (unless sung alone, between a breath and a
//!    release, for at least 60 % of it), or far quieter than the clip's voice, go.

use crate::contour;
use crate::envelope::{
    argmin, attack_start, gap_rise, max_of, min_of, release_end, smooth, split_on_dips,
};
use crate::onsets;
use crate::pieces::{median, merge_short, merge_slips, semitone_path};
use crate::pitch::{percentile, Track};
use crate::reverb::{Coherent, Room};
use crate::Note;

/// Default minimum note length in milliseconds.
pub const DEFAULT_MIN_NOTE_MS: f64 = 70.0;
/// Voiced-gap bridging (seconds).
const BRIDGE_S: f64 = 0.02;
/// A legato glide starts where the pitch is this far (semitones) from the old note.
pub(crate) const GLIDE_LEAVE_ST: f32 = 0.2;
/// Time a glide takes to move `GLIDE_LEAVE_ST` away from the old note (seconds).
const GLIDE_LEAD_S: f64 = 0.015;
/// Farthest back a glide's start is put before where it leaves `GLIDE_LEAVE_ST` (seconds): a
/// semitone over 300 ms leaves it 90 ms after setting out; a reverberant legato that the room
/// detector missed can look as slow, and the start put that far back is then too early.
const GLIDE_BACK_S: f64 = 0.07;
/// Longest glide passage through an intermediate semitone (seconds).
const PASSING_S: f64 = 0.12;
/// Longest octave slip of the tracker that is taken for an error (seconds).
const OCTAVE_SLIP_S: f64 = 0.2;
/// Window for the maxima on both sides of a dip (seconds).
const DIP_WIN_S: f64 = 0.15;
/// Longest unvoiced gap inside a legato transition (seconds).
const LEGATO_GAP_S: f64 = 0.15;
/// A boundary is a new attack when the energy rises this much (dB) from the valley...
const RISE_DB: f32 = 8.0;
/// ...after falling at least this much from the previous note (dB).
const FALL_DB: f32 = 3.0;
/// An attack out of a valley is found back from where the energy has risen this much (dB).
const FOOT_RISE_DB: f32 = 6.0;
/// Window for the rise and fall measurements (seconds).
const RISE_LOOK_S: f64 = 0.1;
/// How far an onset may move back to the foot of the energy rise (seconds).
const ONSET_SEARCH_S: f64 = 0.1;
/// Running-maximum window for the note level in offset detection (seconds).
const LEVEL_WIN_S: f64 = 0.08;
/// Longest time from the start of the final decay to the end of the release (seconds).
const RELEASE_S: f64 = 0.05;
/// How far past the voiced end the release is searched for (seconds).
const TAIL_SEARCH_S: f64 = 0.3;
/// In a room, a note whose energy follows the room's decay from this long (seconds) before
/// the pitch moves on was released before a detached note, not tied to it.
const TAIL_BEFORE_GLIDE_S: f64 = 0.03;
/// Notes whose peak is this far under the clip's voice level are noise (dB).
const QUIET_DB: f32 = 35.0;
/// A note down to this fraction of the minimum length is kept when it is sung alone: a fast
/// sixteenth after a breath, attacked out of silence and released into it before the next.
const ALONE_FRACTION: f64 = 0.6;
/// How far (dB) under its peak the energy must be just before and just after a note sung alone.
const ALONE_DB: f32 = 20.0;
/// Frames on each side within which the energy must reach that quiet.
const ALONE_EDGE: usize = 3;

/// A note under construction, in frame indices (end exclusive).
#[derive(Debug, Clone, Copy)]
pub struct Seg {
    /// First frame.
    pub start: usize,
    /// One past the last frame.
    pub end: usize,
    /// Semitone (tuning-corrected MIDI number).
    pub pitch: i32,
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

/// Turns a pitch track into notes.
///
/// `room` is what `reverb.rs` found of the clip's room, if anything: releases are then looked
/// for on the energy without the late reverberation, and a note ends no later than where
/// the energy starts to follow the room's free decay (`onsets::decay_offset`).
pub fn segment(
    track: &Track,
    room: Option<&Room>,
    coherent: &Coherent,
    min_note_s: f64,
) -> Vec<Note> {
    let direct = room.map(|r| r.direct_db.as_slice());
    let hop = track.hop_s;
    let frames = |s: f64| ((s / hop).round() as usize).max(1);
    let tune = tuning(&track.midi);
    let midi: Vec<f32> = track.midi.iter().map(|m| m - tune).collect();
    let e = smooth(&track.energy_db, 1);
    let ed = direct.map_or_else(|| e.clone(), |d| smooth(d, 1));
    let rate_per_frame = room.map(|r| r.rate_db_s * hop as f32);
    let rel_end = |start: usize, lim: usize, win: usize, rel: usize| -> usize {
        let old = release_end(&ed, start, lim, win, rel);
        match rate_per_frame {
            Some(r) => onsets::decay_offset(&e, start, lim, r, frames(min_note_s))
                .map_or(old, |t| t.min(old)),
            None => old,
        }
    };
    let loud = percentile(&e, 0.97);
    let min_len = frames(min_note_s);
    let regs = regions(&midi, frames(BRIDGE_S));
    let regs = join_gaps(regs, frames(LEGATO_GAP_S));
    let look = frames(RISE_LOOK_S);
    let max_back = frames(ONSET_SEARCH_S);
    let win = frames(LEVEL_WIN_S);
    let rel = frames(RELEASE_S);
    let lead = (GLIDE_LEAD_S / hop).round() as usize;
    let glide_back = frames(GLIDE_BACK_S);
    let tail = frames(TAIL_SEARCH_S);
    // (start, end, semitone) in frames, end exclusive.
    let mut segs: Vec<Seg> = Vec::new();
    for (ri, &(a, b)) in regs.iter().enumerate() {
        let raw = semitone_path(&midi[a..b], a);
        let pieces = merge_short(
            contour::fold(
                contour::relabel(
                    contour::fold(
                        merge_slips(raw, frames(OCTAVE_SLIP_S), frames(PASSING_S)),
                        &midi,
                        hop,
                    ),
                    &midi,
                ),
                &midi,
                hop,
            ),
            min_len,
        );
        // Same-pitch notes inside a piece are told apart by energy dips.
        let mut notes: Vec<Seg> = Vec::new();
        let mut detached: Vec<bool> = Vec::new();
        for (k, p) in pieces.iter().enumerate() {
            let dips = split_on_dips(
                *p,
                &e,
                &track.clarity,
                &midi,
                room.map(|_| coherent),
                min_len,
                frames(DIP_WIN_S),
            );
            for (j, q) in dips.into_iter().enumerate() {
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
                // In a room the valley holds the previous note's tail: the attack starts
                // at the foot of the rise out of it, not at its lowest point.
                let dip = e[cur.start];
                let up = (cur.start..cur.end)
                    .find(|&t| e[t] >= dip + FOOT_RISE_DB)
                    .unwrap_or(cur.start);
                let on = attack_start(&e, &track.clarity, cur.start, vs.max(up));
                notes[k].start = on;
                let lim = gap_rise(&e, voiced_end(&midi, prev.start, on), on);
                notes[k - 1].end = rel_end(prev.start, lim, win, rel).max(prev.start + 1);
                continue;
            }
            // Where the pitch leaves the previous note: start of the glide.
            // The old note as sung (detuned by up to a third of a semitone from its
            // label): median pitch of its second half.
            let half = prev.start + (prev.end - prev.start) / 2;
            let target = median(&midi[half..prev.end]).unwrap_or(prev.pitch as f32);
            let mut g = cur.start;
            let limit = prev.start + (prev.end - prev.start) / 2;
            while g > limit {
                let near = (midi[g - 1] - target).abs() <= GLIDE_LEAVE_ST;
                if near {
                    break;
                }
                g -= 1;
            }
            // The pitch needs a moment to get that far from the old note: for a slow glide,
            // where it set out is found from its curve, otherwise a fixed lead. Not in a
            // room: there the old note's tail holds the track near its pitch, and the new
            // note would start inside that decay (`onsets::decay_offset` then ends it early).
            let curve = room.is_none().then(|| {
                contour::glide_start(
                    &midi,
                    target,
                    cur.pitch as f32,
                    g,
                    cur.end,
                    limit,
                    glide_back,
                )
            });
            g = curve
                .flatten()
                .unwrap_or_else(|| g.saturating_sub(lead).max(limit));
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
            if rise >= RISE_DB && fall >= FALL_DB {
                let on = attack_start(&e, &track.clarity, v, vs.max(v));
                let lim = gap_rise(&e, voiced_end(&midi, prev.start, on), on);
                notes[k - 1].end = rel_end(prev.start, lim, win, rel).max(prev.start + 1);
                notes[k].start = on;
            } else {
                // In a room a detached note's gap can hold the tail at the old pitch, with no
                // valley before the next attack: the old note ended where its energy began
                // to follow the room's free decay well before the pitch moved.
                let end = rate_per_frame
                    .and_then(|r| onsets::decay_offset(&e, prev.start, g, r, min_len))
                    .filter(|&t| t + frames(TAIL_BEFORE_GLIDE_S) <= g)
                    .unwrap_or(g);
                notes[k - 1].end = end.max(prev.start + 1);
                notes[k].start = g;
            }
        }
        // Region start: back to the start of the attack.
        if let Some(first) = notes.first_mut() {
            let lo = first
                .start
                .saturating_sub(max_back)
                .max(segs.last().map_or(0, |s| s.end));
            first.start = attack_start(&e, &track.clarity, lo, first.start);
        }
        // Region end: the release, without the reverb tail.
        if let Some(last) = notes.last_mut() {
            let next = regs.get(ri + 1).map_or(e.len(), |r| r.0);
            let lim = gap_rise(&e, b, next.min(b + tail));
            last.end = rel_end(last.start, lim, win, rel).max(last.start + 1);
        }
        segs.extend(notes);
    }
    let short_len = ((min_len as f64 * ALONE_FRACTION).round() as usize).max(1);
    segs.iter()
        .filter(|s| {
            s.end > s.start
                && (s.end - s.start >= min_len
                    || (s.end - s.start >= short_len && alone(s, &e, &midi)))
        })
        // A note is pitched sound: a stretch that is mostly silence or breath between two
        // notes (a detached gap inside a joined region) is not one, however long.
        .filter(|s| {
            midi[s.start..s.end]
                .iter()
                .filter(|m| m.is_finite())
                .count()
                * 2
                >= min_len
        })
        .filter(|s| max_of(&e[s.start..s.end]) >= loud - QUIET_DB)
        .map(|s| Note {
            onset_s: s.start as f64 * hop,
            offset_s: s.end as f64 * hop,
            pitch: (s.pitch as f32 + tune).round().clamp(0.0, 127.0) as u8,
        })
        .collect()
}

/// Whether `s` is a note sung on its own: voiced throughout at its semitone, with the energy
/// `ALONE_DB` under its peak on both sides (a breath before, a release after). Fragments of
/// glides, scoops and vibrato crests run into their neighbours and are not.
fn alone(s: &Seg, e: &[f32], midi: &[f32]) -> bool {
    let len = s.end - s.start;
    let on_pitch = midi[s.start..s.end]
        .iter()
        .filter(|m| (*m - s.pitch as f32).abs() < 0.5)
        .count();
    if on_pitch * 5 < len * 4 || s.start < ALONE_EDGE || s.end + ALONE_EDGE > e.len() {
        return false;
    }
    let peak = max_of(&e[s.start..s.end]);
    min_of(&e[s.start - ALONE_EDGE..s.start]) <= peak - ALONE_DB
        && min_of(&e[s.end..s.end + ALONE_EDGE]) <= peak - ALONE_DB
}

/// Frames on each side of a dip over which the maxima are taken (`DIP_WIN_S`).
pub fn dip_window(track: &Track) -> usize {
    ((DIP_WIN_S / track.hop_s).round() as usize).max(1)
}

/// One past the last voiced frame in `a..b` (`a` when none is).
fn voiced_end(midi: &[f32], a: usize, b: usize) -> usize {
    (a..b.min(midi.len()))
        .rev()
        .find(|&t| midi[t].is_finite())
        .map_or(a, |t| t + 1)
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
