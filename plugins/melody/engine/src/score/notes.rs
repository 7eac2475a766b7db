//! Notes and rests: heads, ledger lines, accidentals, dots, stems, flags, ties.

use super::draw::{head_cx, stem_x, Staff, HEAD_W};
use super::glyphs::{fill, paint, rect, Fonts, Sym};
use super::layout::{Accidental, Item, System};
use tiny_skia::{Color, FillRule, PathBuilder, Pixmap, Transform};

/// Head, ledger lines, accidental, dot, stem and (unbeamed) flags of one note.
pub fn draw_note(
    pm: &mut Pixmap,
    fonts: &Fonts,
    it: &Item,
    st: &Staff,
    up: bool,
    tip: f32,
    flags: bool,
) {
    let sp = st.sp;
    let cx = head_cx(it, st);
    let cy = st.y(it.pos);
    let lw = st.line_w();
    // Ledger lines.
    let lx = it.x - 0.35 * sp;
    let lwid = (HEAD_W + 0.7) * sp;
    let mut p = -2;
    while p >= it.pos {
        rect(pm, lx, st.y(p) - lw / 2.0, lwid, lw, st.ink);
        p -= 2;
    }
    let mut p = 10;
    while p <= it.pos {
        rect(pm, lx, st.y(p) - lw / 2.0, lwid, lw, st.ink);
        p += 2;
    }
    // Accidental.
    match it.acc {
        Accidental::None => {}
        Accidental::Sharp => fonts.sym(
            pm,
            Sym::Sharp,
            sp,
            (it.x - 1.35 * sp, cy - 1.35 * sp),
            true,
            st.ink,
        ),
        Accidental::Flat => fonts.sym(
            pm,
            Sym::Flat,
            sp,
            (it.x - 1.3 * sp, cy + 0.55 * sp),
            false,
            st.ink,
        ),
        Accidental::Natural => fonts.sym(
            pm,
            Sym::Natural,
            sp,
            (it.x - 1.3 * sp, cy - 1.35 * sp),
            true,
            st.ink,
        ),
    }
    // Head: a tilted ellipse, hollow for halves and wholes.
    let hollow = it.ev.dur >= 8;
    let rx = HEAD_W * sp / 2.0;
    let ry = 0.47 * sp;
    if let Some(oval) = ellipse(cx, cy, rx, ry) {
        let tilt = Transform::from_rotate_at(-20.0, cx, cy);
        if hollow {
            let inner_t = if it.ev.dur >= 16 {
                Transform::from_rotate_at(50.0, cx, cy)
            } else {
                Transform::from_rotate_at(-35.0, cx, cy)
            };
            pm.fill_path(&oval, &paint(st.ink), FillRule::Winding, tilt, None);
            if let Some(hole) = ellipse(cx, cy, rx * 0.72, ry * 0.5) {
                pm.fill_path(
                    &hole,
                    &paint(Color::WHITE),
                    FillRule::Winding,
                    inner_t,
                    None,
                );
            }
        } else {
            pm.fill_path(&oval, &paint(st.ink), FillRule::Winding, tilt, None);
        }
    }
    // Dot.
    if matches!(it.ev.dur, 3 | 6 | 12) {
        let dy = if it.pos % 2 == 0 { -0.5 * sp } else { 0.0 };
        if let Some(d) = ellipse(it.x + HEAD_W * sp + 0.5 * sp, cy + dy, 0.2 * sp, 0.2 * sp) {
            pm.fill_path(
                &d,
                &paint(st.ink),
                FillRule::Winding,
                Transform::identity(),
                None,
            );
        }
    }
    if it.ev.dur >= 16 {
        return;
    }
    // Stem.
    let sw = sp * 0.12;
    let sx = stem_x(it, up, st);
    let (y0, y1) = if up {
        (tip, cy - 0.15 * sp)
    } else {
        (cy + 0.15 * sp, tip)
    };
    rect(pm, sx, y0.min(y1), sw, (y1 - y0).abs(), st.ink);
    // Flags on unbeamed eighths and sixteenths.
    if flags && it.ev.dur <= 3 {
        let n = if it.ev.dur == 1 { 2 } else { 1 };
        for f in 0..n {
            let dir = if up { 1.0 } else { -1.0 };
            let y = tip + dir * f as f32 * 0.85 * sp;
            draw_flag(pm, sx + if up { sw } else { 0.0 }, y, dir, st);
        }
    }
}

/// One flag at a stem end; `dir` is 1 for an up stem, -1 for a down stem.
pub fn draw_flag(pm: &mut Pixmap, x: f32, y: f32, dir: f32, st: &Staff) {
    let sp = st.sp;
    let mut pb = PathBuilder::new();
    pb.move_to(x, y);
    pb.cubic_to(
        x + 0.1 * sp,
        y + dir * 0.9 * sp,
        x + 1.5 * sp,
        y + dir * 1.2 * sp,
        x + 0.95 * sp,
        y + dir * 2.9 * sp,
    );
    pb.cubic_to(
        x + 1.2 * sp,
        y + dir * 1.6 * sp,
        x + 0.3 * sp,
        y + dir * 1.35 * sp,
        x,
        y + dir * 1.25 * sp,
    );
    pb.close();
    fill(pm, pb, st.ink);
}

/// A tie from this head to the next one (or to the end of the staff).
pub fn draw_tie(pm: &mut Pixmap, it: &Item, next_cx: Option<f32>, up: bool, st: &Staff) {
    let sp = st.sp;
    let cx = head_cx(it, st);
    let cy = st.y(it.pos);
    let x1 = cx + 0.45 * sp;
    let x2 = next_cx.map_or(st.x1 - 0.3 * sp, |n| n - 0.45 * sp);
    if x2 <= x1 {
        return;
    }
    let dir = if up { 1.0 } else { -1.0 };
    let y = cy + dir * 0.65 * sp;
    let h = (0.35 * sp + (x2 - x1) * 0.06).min(1.2 * sp);
    let mut pb = PathBuilder::new();
    pb.move_to(x1, y);
    pb.cubic_to(
        x1 + (x2 - x1) * 0.25,
        y + dir * h,
        x2 - (x2 - x1) * 0.25,
        y + dir * h,
        x2,
        y,
    );
    pb.cubic_to(
        x2 - (x2 - x1) * 0.25,
        y + dir * (h - 0.25 * sp),
        x1 + (x2 - x1) * 0.25,
        y + dir * (h - 0.25 * sp),
        x1,
        y,
    );
    pb.close();
    fill(pm, pb, st.ink);
}

/// A rest glyph at its conventional height; a whole-bar rest is centred.
pub fn draw_rest(pm: &mut Pixmap, fonts: &Fonts, it: &Item, st: &Staff, sys: &System, k: usize) {
    let sp = st.sp;
    let x = it.x;
    // A rest that fills its bar is a whole rest whatever the time signature.
    let whole_bar = it.ev.pos == 0 && sys.items.get(k + 1).is_none_or(|next| next.ev.pos == 0);
    let dur = if whole_bar { 16 } else { it.ev.dur };
    match dur {
        16 => {
            // A whole-bar rest is centred in its bar.
            let bar_start = sys.items[..k]
                .iter()
                .rev()
                .find(|i| i.ev.pos == 0)
                .map_or(x, |i| i.x);
            let next_bar = sys
                .bar_ends
                .iter()
                .copied()
                .find(|&b| b > x)
                .unwrap_or(x + 6.0 * sp);
            let w = fonts.sym_width(Sym::RestWhole, sp);
            let cx = (bar_start.min(x) - 1.0 * sp + next_bar) / 2.0;
            fonts.sym(
                pm,
                Sym::RestWhole,
                sp,
                (cx - w / 2.0, st.y(6)),
                true,
                st.ink,
            );
        }
        8 | 12 => fonts.sym(pm, Sym::RestHalf, sp, (x, st.y(4)), false, st.ink),
        4 | 6 => fonts.sym(
            pm,
            Sym::RestQuarter,
            sp,
            (x, st.y(4) - 1.4 * sp),
            true,
            st.ink,
        ),
        2 | 3 => fonts.sym(
            pm,
            Sym::RestEighth,
            sp,
            (x, st.y(6) - 0.1 * sp),
            true,
            st.ink,
        ),
        _ => fonts.sym(
            pm,
            Sym::RestSixteenth,
            sp,
            (x, st.y(6) - 0.1 * sp),
            true,
            st.ink,
        ),
    }
}

/// An axis-aligned oval path.
pub fn ellipse(cx: f32, cy: f32, rx: f32, ry: f32) -> Option<tiny_skia::Path> {
    let r = tiny_skia::Rect::from_xywh(cx - rx, cy - ry, 2.0 * rx, 2.0 * ry)?;
    PathBuilder::from_oval(r)
}
