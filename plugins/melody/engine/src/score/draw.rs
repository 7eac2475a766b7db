//! Drawing one system: staff, clef, time signature, notes (heads, stems, flags, beams,
//! dots, ledger lines, accidentals, ties), rests and bar lines.

use super::glyphs::{fill, rect, Align, Fonts, Sym};
use super::key::Key;
use super::layout::{Clef, Item, System, KEY_SIGN_W};
use super::meter::Meter;
use super::notes::{draw_note, draw_rest, draw_tie};
use super::quantize::Tuplet;
use tiny_skia::{Color, PathBuilder, Pixmap};

/// Geometry shared by all drawing calls of one system.
pub struct Staff {
    /// y of the bottom staff line.
    pub bottom: f32,
    /// Staff space in pixels.
    pub sp: f32,
    /// Left and right ends of the staff lines.
    pub x0: f32,
    /// Right end of the staff lines.
    pub x1: f32,
    /// Ink colour.
    pub ink: Color,
}

impl Staff {
    /// y of a staff position (0 = bottom line, 8 = top line).
    pub fn y(&self, pos: i32) -> f32 {
        self.bottom - pos as f32 * self.sp / 2.0
    }
    /// Staff line thickness in pixels.
    pub fn line_w(&self) -> f32 {
        (self.sp * 0.1).max(1.0)
    }
}

/// Note head width in staff spaces.
pub const HEAD_W: f32 = 1.32;
const STEM_LEN: f32 = 3.5;

/// x of a note head's centre.
pub fn head_cx(it: &Item, st: &Staff) -> f32 {
    it.x + HEAD_W * st.sp / 2.0
}

fn stem_up_single(pos: i32) -> bool {
    pos < 4
}

/// Staff positions (treble clef) of the key signature's sharps, in the order F C G D A E B,
/// and of its flats, in the order B E A D G C F.
const SHARP_POS: [i32; 7] = [8, 5, 9, 6, 3, 7, 4];
const FLAT_POS: [i32; 7] = [4, 7, 3, 6, 2, 5, 1];

/// The key signature after the clef on every system.
fn key_signature(pm: &mut Pixmap, fonts: &Fonts, key: Key, clef: Clef, st: &Staff) {
    let sp = st.sp;
    let shift = if clef == Clef::Bass { -2 } else { 0 };
    let n = usize::from(key.fifths.unsigned_abs()).min(7);
    for i in 0..n {
        let x = st.x0 + 4.2 * sp + i as f32 * KEY_SIGN_W * sp;
        if key.fifths > 0 {
            let y = st.y(SHARP_POS[i] + shift);
            fonts.sym(pm, Sym::Sharp, sp, (x, y - 1.35 * sp), true, st.ink);
        } else {
            let y = st.y(FLAT_POS[i] + shift);
            fonts.sym(pm, Sym::Flat, sp, (x, y + 0.55 * sp), false, st.ink);
        }
    }
}

/// Draws the system.
pub fn system(
    pm: &mut Pixmap,
    fonts: &Fonts,
    sys: &System,
    (clef, key, meter): (Clef, Key, Meter),
    st: &Staff,
    last: bool,
) {
    let sp = st.sp;
    let lw = st.line_w();
    for l in 0..5 {
        rect(pm, st.x0, st.y(l * 2) - lw / 2.0, st.x1 - st.x0, lw, st.ink);
    }
    // Clef and time signature.
    match clef {
        Clef::Treble => fonts.sym(
            pm,
            Sym::GClef,
            sp,
            (st.x0 + 0.5 * sp, st.y(0) + 1.7 * sp),
            false,
            st.ink,
        ),
        Clef::Bass => fonts.sym(
            pm,
            Sym::FClef,
            sp,
            (st.x0 + 0.5 * sp, st.y(8) - 0.05 * sp),
            true,
            st.ink,
        ),
    }
    key_signature(pm, fonts, key, clef, st);
    if sys.first {
        let tx = st.x0 + 4.2 * sp + 0.9 * sp + sys.key_w;
        let px = 2.75 * sp;
        let (upper, lower) = meter.figures();
        let (upper, lower) = (upper.to_string(), lower.to_string());
        fonts.text(pm, &upper, px, (tx, st.y(4)), Align::Center, st.ink);
        fonts.text(pm, &lower, px, (tx, st.y(0)), Align::Center, st.ink);
    }
    // Bar number above the start of the system.
    if sys.first_bar > 0 {
        let label = format!("{}", sys.first_bar + 1);
        fonts.text(
            pm,
            &label,
            0.95 * sp,
            (st.x0 + 0.2 * sp, st.y(8) - 2.6 * sp),
            Align::Left,
            st.ink,
        );
    }
    // Bar lines.
    for (i, &x) in sys.bar_ends.iter().enumerate() {
        let end = last && i + 1 == sys.bar_ends.len();
        if end {
            rect(
                pm,
                x - 0.55 * sp,
                st.y(8),
                0.5 * sp,
                st.y(0) - st.y(8),
                st.ink,
            );
            rect(
                pm,
                x - 1.05 * sp,
                st.y(8),
                lw * 1.2,
                st.y(0) - st.y(8),
                st.ink,
            );
        } else {
            rect(
                pm,
                x - lw * 1.2,
                st.y(8),
                lw * 1.4,
                st.y(0) - st.y(8),
                st.ink,
            );
        }
    }
    // Beam groups: consecutive flagged notes inside one beat of one bar.
    let items = &sys.items;
    let mut bar_of = Vec::with_capacity(items.len());
    let mut bar = 0usize;
    for (i, it) in items.iter().enumerate() {
        if i > 0 && it.ev.pos == 0 {
            bar += 1;
        }
        bar_of.push(bar);
    }
    let beat = meter.beat();
    let beamable = |i: usize| {
        let e = items[i].ev;
        e.pitch.is_some() && e.dur <= 3 && e.pos / beat == (e.pos + e.dur - 1) / beat
    };
    let mut group_of: Vec<Option<usize>> = vec![None; items.len()];
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut i = 0;
    while i < items.len() {
        if !beamable(i) {
            i += 1;
            continue;
        }
        let mut j = i + 1;
        while j < items.len()
            && beamable(j)
            && bar_of[j] == bar_of[i]
            && items[j].ev.pos / beat == items[i].ev.pos / beat
        {
            j += 1;
        }
        if j - i >= 2 {
            for (k, g) in group_of.iter_mut().enumerate().take(j).skip(i) {
                let _ = k;
                *g = Some(groups.len());
            }
            groups.push((i..j).collect());
        }
        i = j;
    }
    // Stem directions and tips.
    let mut up = vec![true; items.len()];
    let mut tip = vec![0.0f32; items.len()];
    for (k, it) in items.iter().enumerate() {
        up[k] = stem_up_single(it.pos);
        let cy = st.y(it.pos);
        tip[k] = if up[k] {
            (cy - STEM_LEN * sp).min(st.y(4))
        } else {
            (cy + STEM_LEN * sp).max(st.y(4))
        };
    }
    for g in &groups {
        let mean = g.iter().map(|&k| items[k].pos).sum::<i32>() as f32 / g.len() as f32;
        let dir_up = mean < 4.0;
        let (a, b) = (g[0], g[g.len() - 1]);
        let xa = stem_x(&items[a], dir_up, st);
        let xb = stem_x(&items[b], dir_up, st);
        let ya = st.y(items[a].pos);
        let yb = st.y(items[b].pos);
        let slope = if (xb - xa).abs() > 1.0 {
            ((yb - ya) / (xb - xa)).clamp(-sp / (xb - xa).abs(), sp / (xb - xa).abs())
        } else {
            0.0
        };
        // Offset so that every stem is at least 2.8 spaces long.
        let min_len = 2.8 * sp;
        let mut off = if dir_up {
            f32::INFINITY
        } else {
            f32::NEG_INFINITY
        };
        for &k in g {
            let x = stem_x(&items[k], dir_up, st);
            let cy = st.y(items[k].pos);
            let line = ya + slope * (x - xa);
            if dir_up {
                off = off.min(cy - min_len - line);
            } else {
                off = off.max(cy + min_len - line);
            }
        }
        for &k in g {
            up[k] = dir_up;
            let x = stem_x(&items[k], dir_up, st);
            tip[k] = ya + off + slope * (x - xa);
        }
        draw_beams(pm, g, items, &tip, dir_up, xa, st);
    }
    // Notes and rests.
    for (k, it) in items.iter().enumerate() {
        match it.ev.pitch {
            None => draw_rest(pm, fonts, it, st, sys, k),
            Some(_) => {
                draw_note(pm, fonts, it, st, up[k], tip[k], group_of[k].is_none());
                if it.ev.tie {
                    let next_x = items.get(k + 1).map(|n| head_cx(n, st));
                    draw_tie(pm, it, next_x, up[k], st);
                }
            }
        }
    }
    triplet_brackets(pm, fonts, items, (&up, &tip), st);
}

/// A bracket with a 3 over each triplet, clear of the heads and the up stems under it.
fn triplet_brackets(
    pm: &mut Pixmap,
    fonts: &Fonts,
    items: &[Item],
    (up, tip): (&[bool], &[f32]),
    st: &Staff,
) {
    let sp = st.sp;
    let lw = st.line_w();
    let mut k = 0;
    while k < items.len() {
        if items[k].ev.tuplet != Tuplet::First {
            k += 1;
            continue;
        }
        let last = (k + 1..items.len())
            .find(|&j| items[j].ev.tuplet == Tuplet::Last)
            .unwrap_or(k);
        let mut top = st.y(10);
        for j in k..=last {
            let head = st.y(items[j].pos) - 0.6 * sp;
            let stem = if items[j].ev.pitch.is_some() && up[j] {
                tip[j]
            } else {
                head
            };
            top = top.min(head).min(stem);
        }
        let y = top - 1.0 * sp;
        let x0 = items[k].x;
        let x1 = items[last].x + HEAD_W * sp;
        let mid = (x0 + x1) / 2.0;
        let gap = 0.7 * sp;
        rect(pm, x0, y, (mid - gap - x0).max(0.0), lw, st.ink);
        rect(pm, mid + gap, y, (x1 - mid - gap).max(0.0), lw, st.ink);
        rect(pm, x0, y, lw, 0.5 * sp, st.ink);
        rect(pm, x1 - lw, y, lw, 0.5 * sp, st.ink);
        fonts.text(
            pm,
            "3",
            1.3 * sp,
            (mid, y + 0.45 * sp),
            Align::Center,
            st.ink,
        );
        k = last + 1;
    }
}

/// Left x of the stem of a note (right of the head when up, left when down).
pub fn stem_x(it: &Item, up: bool, st: &Staff) -> f32 {
    let w = st.sp * 0.12;
    if up {
        it.x + HEAD_W * st.sp - w
    } else {
        it.x
    }
}

fn draw_beams(
    pm: &mut Pixmap,
    g: &[usize],
    items: &[Item],
    tip: &[f32],
    up: bool,
    _xa: f32,
    st: &Staff,
) {
    let sp = st.sp;
    let th = 0.48 * sp;
    let dir = if up { 1.0 } else { -1.0 };
    let sw = sp * 0.12;
    let beam = |pm: &mut Pixmap, x1: f32, y1: f32, x2: f32, y2: f32| {
        let mut pb = PathBuilder::new();
        pb.move_to(x1, y1);
        pb.line_to(x2 + sw, y2);
        pb.line_to(x2 + sw, y2 + dir * th);
        pb.line_to(x1, y1 + dir * th);
        pb.close();
        fill(pm, pb, st.ink);
    };
    let xs: Vec<f32> = g.iter().map(|&k| stem_x(&items[k], up, st)).collect();
    let ys: Vec<f32> = g.iter().map(|&k| tip[k]).collect();
    let n = g.len();
    beam(pm, xs[0], ys[0], xs[n - 1], ys[n - 1]);
    let slope = (ys[n - 1] - ys[0]) / (xs[n - 1] - xs[0]).max(1.0);
    let off = dir * 0.75 * sp;
    for j in 0..n {
        if items[g[j]].ev.dur != 1 {
            continue;
        }
        let next16 = j + 1 < n && items[g[j + 1]].ev.dur == 1;
        let prev16 = j > 0 && items[g[j - 1]].ev.dur == 1;
        if next16 {
            beam(pm, xs[j], ys[j] + off, xs[j + 1], ys[j + 1] + off);
        } else if !prev16 {
            // A lone sixteenth: a stub towards its neighbour.
            let stub = sp * 1.1;
            let (x1, x2) = if j + 1 < n {
                (xs[j], xs[j] + stub)
            } else {
                (xs[j] - stub, xs[j])
            };
            let y1 = ys[0] + slope * (x1 - xs[0]) + off;
            let y2 = ys[0] + slope * (x2 - xs[0]) + off;
            beam(pm, x1, y1, x2, y2);
        }
    }
}
