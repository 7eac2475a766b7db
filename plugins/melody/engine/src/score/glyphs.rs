//! Fonts and vector glyphs.
//!
//! Two small embedded fonts: a 3 KB subset of the Euterpe music font (SIL OFL 1.1,
//! renamed "KinoNotation" as the licence's Reserved Font Name clause asks of modified
//! versions) for clefs, rests and accidentals, and an ASCII subset of DejaVu Sans
//! (Bitstream Vera licence) for the title and figures. Glyph outlines are turned into
//! tiny-skia paths, so everything is anti-aliased vector drawing.

use ab_glyph::{Font, FontRef, OutlineCurve};
use tiny_skia::{Color, FillRule, Paint, PathBuilder, Pixmap, Rect, Transform};

static MUSIC_FONT: &[u8] = include_bytes!("../../assets/KinoNotation.ttf");
static TEXT_FONT: &[u8] = include_bytes!("../../assets/DejaVuSans-subset.ttf");

/// Music font units per staff space (the notehead height in this font).
const MUSIC_UNITS_PER_SPACE: f32 = 444.0;

/// Music symbols drawn from the music font.
#[derive(Debug, Clone, Copy)]
pub enum Sym {
    /// Treble clef.
    GClef,
    /// Bass clef.
    FClef,
    /// Whole rest.
    RestWhole,
    /// Half rest.
    RestHalf,
    /// Quarter rest.
    RestQuarter,
    /// Eighth rest.
    RestEighth,
    /// Sixteenth rest.
    RestSixteenth,
    /// Sharp sign.
    Sharp,
    /// Natural sign.
    Natural,
    /// Flat sign.
    Flat,
}

impl Sym {
    fn ch(self) -> char {
        match self {
            Sym::GClef => '\u{1D11E}',
            Sym::FClef => '\u{1D122}',
            Sym::RestWhole => '\u{1D13B}',
            Sym::RestHalf => '\u{1D13C}',
            Sym::RestQuarter => '\u{1D13D}',
            Sym::RestEighth => '\u{1D13E}',
            Sym::RestSixteenth => '\u{1D13F}',
            Sym::Sharp => '\u{266F}',
            Sym::Natural => '\u{266E}',
            Sym::Flat => '\u{266D}',
        }
    }
}

/// Loaded fonts; cheap to build (parsing is lazy), made once per render.
pub struct Fonts {
    music: Option<FontRef<'static>>,
    text: Option<FontRef<'static>>,
}

/// Horizontal anchor for text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Align {
    /// `x` is the left edge.
    Left,
    /// `x` is the centre.
    Center,
}

impl Fonts {
    /// Parses the embedded fonts (a failure leaves that font out, it never panics).
    pub fn load() -> Fonts {
        Fonts {
            music: FontRef::try_from_slice(MUSIC_FONT).ok(),
            text: FontRef::try_from_slice(TEXT_FONT).ok(),
        }
    }

    /// Width in font units-scaled pixels of a music symbol for staff space `sp`.
    pub fn sym_width(&self, s: Sym, sp: f32) -> f32 {
        let Some(f) = &self.music else { return sp };
        let id = f.glyph_id(s.ch());
        f.outline(id).map_or(sp, |o| {
            (o.bounds.max.x - o.bounds.min.x).abs() * sp / MUSIC_UNITS_PER_SPACE
        })
    }

    /// Draws a music symbol scaled to staff space `sp`, with the left edge of its ink at
    /// `x` and its ink's top (`top == true`) or bottom at `y`.
    pub fn sym(
        &self,
        pm: &mut Pixmap,
        s: Sym,
        sp: f32,
        (x, y): (f32, f32),
        top: bool,
        color: Color,
    ) {
        let Some(f) = &self.music else { return };
        let scale = sp / MUSIC_UNITS_PER_SPACE;
        let id = f.glyph_id(s.ch());
        let Some(o) = f.outline(id) else { return };
        // Font y grows upwards; bounds are in font units.
        // ab_glyph reports bounds with min.y/max.y swapped for y-up fonts; take the
        // extremes whatever the order.
        let (y_top, y_bottom) = (
            o.bounds.min.y.max(o.bounds.max.y),
            o.bounds.min.y.min(o.bounds.max.y),
        );
        let ox = x - o.bounds.min.x.min(o.bounds.max.x) * scale;
        let oy = if top {
            y + y_top * scale
        } else {
            y + y_bottom * scale
        };
        fill_outline(pm, &o.curves, ox, oy, scale, color);
    }

    /// Width in pixels of `text` at pixel size `px`.
    pub fn text_width(&self, text: &str, px: f32) -> f32 {
        let Some(f) = &self.text else { return 0.0 };
        let scale = px / f.units_per_em().unwrap_or(2048.0);
        text.chars()
            .map(|c| f.h_advance_unscaled(f.glyph_id(c)) * scale)
            .sum()
    }

    /// Draws `text` with its baseline at `y`.
    pub fn text(
        &self,
        pm: &mut Pixmap,
        text: &str,
        px: f32,
        (x, y): (f32, f32),
        align: Align,
        color: Color,
    ) {
        let Some(f) = &self.text else { return };
        let scale = px / f.units_per_em().unwrap_or(2048.0);
        let mut pen = match align {
            Align::Left => x,
            Align::Center => x - self.text_width(text, px) / 2.0,
        };
        for c in text.chars() {
            let id = f.glyph_id(c);
            if let Some(o) = f.outline(id) {
                fill_outline(pm, &o.curves, pen, y, scale, color);
            }
            pen += f.h_advance_unscaled(id) * scale;
        }
    }
}

/// Fills glyph curves (font units, y up) placed with origin (`ox`, `oy`) in pixels.
fn fill_outline(
    pm: &mut Pixmap,
    curves: &[OutlineCurve],
    ox: f32,
    oy: f32,
    scale: f32,
    color: Color,
) {
    let map = |p: ab_glyph::Point| (ox + p.x * scale, oy - p.y * scale);
    let mut pb = PathBuilder::new();
    let mut last: Option<(f32, f32)> = None;
    for c in curves {
        let start = match c {
            OutlineCurve::Line(a, _)
            | OutlineCurve::Quad(a, _, _)
            | OutlineCurve::Cubic(a, _, _, _) => map(*a),
        };
        if last.is_none_or(|l| (l.0 - start.0).abs() > 1e-3 || (l.1 - start.1).abs() > 1e-3) {
            if last.is_some() {
                pb.close();
            }
            pb.move_to(start.0, start.1);
        }
        let end = match c {
            OutlineCurve::Line(_, b) => {
                let b = map(*b);
                pb.line_to(b.0, b.1);
                b
            }
            OutlineCurve::Quad(_, b, d) => {
                let (b, d) = (map(*b), map(*d));
                pb.quad_to(b.0, b.1, d.0, d.1);
                d
            }
            OutlineCurve::Cubic(_, b, d, e) => {
                let (b, d, e) = (map(*b), map(*d), map(*e));
                pb.cubic_to(b.0, b.1, d.0, d.1, e.0, e.1);
                e
            }
        };
        last = Some(end);
    }
    if last.is_some() {
        pb.close();
    }
    fill(pm, pb, color);
}

/// Fills a finished path in solid colour (an empty path draws nothing).
pub fn fill(pm: &mut Pixmap, pb: PathBuilder, color: Color) {
    if let Some(path) = pb.finish() {
        pm.fill_path(
            &path,
            &paint(color),
            FillRule::Winding,
            Transform::identity(),
            None,
        );
    }
}

/// Solid anti-aliased paint.
pub fn paint(color: Color) -> Paint<'static> {
    let mut p = Paint::default();
    p.set_color(color);
    p.anti_alias = true;
    p
}

/// Fills an axis-aligned rectangle (staff lines, stems, bar lines).
pub fn rect(pm: &mut Pixmap, x: f32, y: f32, w: f32, h: f32, color: Color) {
    // Filled as a path: tiny-skia's anti-aliased rectangle blitter trips debug
    // assertions on sub-pixel rectangles.
    if let Some(r) = Rect::from_xywh(x, y, w.max(0.5), h.max(0.5)) {
        let mut pb = PathBuilder::new();
        pb.push_rect(r);
        fill(pm, pb, color);
    }
}
