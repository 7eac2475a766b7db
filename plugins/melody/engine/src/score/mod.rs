//! Staff-notation rendering of a transcription to PNG.
//!
//! - `arrange`: the notation's tempo, beat phase, downbeat, pickup and time signature.
//! - [`key`]: key estimate (Krumhansl-Schmuckler) and spelling from the key.
//! - [`meter`]: time signatures and the note values each one writes.
//! - `quantize`: measured times to bars of notes and rests on the chosen grid.
//! - `triplets`: beats of simple time divided in three.
//! - `follow`: the grid tracked through the onsets, for a singer whose tempo drifts.
//! - `text`: the bars as one line of text per system, for terminals.
//! - `layout`: clef choice, staff positions, accidentals, spacing and line breaks.
//! - `draw`: one system: staff, clef, time signature, bar lines, stems and beams.
//! - `notes`: heads, ledger lines, accidentals, dots, flags, ties and rests.
//! - `glyphs`: the embedded fonts and their outlines as vector paths.
//! - `musicxml`: the same bars as a MusicXML 4.0 score, for notation editors.

mod arrange;
mod draw;
mod follow;
mod glyphs;
pub mod key;
mod layout;
pub mod meter;
mod musicxml;
mod notes;
mod quantize;
mod text;
mod triplets;

pub use arrange::arrange;
pub use key::Key;
pub use meter::Meter;
pub use musicxml::write_musicxml;
pub use text::score_text;

/// The metronome mark of a score: the beat it counts (a quarter, or a dotted quarter in 6/8,
/// as musicians beat compound time) and how many a minute, from `tempo_bpm` in quarters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TempoMark {
    /// The beat is a dotted quarter.
    pub dotted: bool,
    /// Beats a minute, rounded.
    pub per_minute: f64,
}

impl TempoMark {
    /// The mark for `tempo_bpm` quarter notes a minute in `meter`.
    pub fn new(tempo_bpm: f64, meter: Meter) -> TempoMark {
        let bpm = if tempo_bpm.is_finite() && tempo_bpm > 0.0 {
            tempo_bpm.clamp(1.0, 999.0)
        } else {
            crate::tempo::FALLBACK_BPM
        };
        let dotted = meter.beat() == 6;
        let per_minute = if dotted { bpm * 2.0 / 3.0 } else { bpm };
        TempoMark {
            dotted,
            per_minute: per_minute.round().max(1.0),
        }
    }
}

impl std::fmt::Display for TempoMark {
    /// "♩ = 100", "♩. = 70".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let dot = if self.dotted { "." } else { "" };
        write!(f, "\u{2669}{dot} = {}", self.per_minute)
    }
}

/// How a transcription is written: what `arrange` chose or the caller fixed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Notation {
    /// Time signature.
    pub meter: Meter,
    /// Key signature and the spelling of the notes.
    pub key: Key,
    /// Length of a sixteenth on the grid the notes are written on, in seconds (the fitted
    /// tempo, which may differ a little from the printed one).
    pub sixteenth_s: f64,
    /// Time of the first bar line of bar 1, in seconds.
    pub bar_s: f64,
    /// Sixteenths of the pickup bar before bar 1 (0: the melody starts on a downbeat).
    pub pickup: u32,
}

impl Notation {
    /// 4/4 in C major at `tempo_bpm`, bar 1 starting at `bar_s`: what a score of notes placed
    /// by hand on a known grid needs.
    pub fn plain(tempo_bpm: f64, bar_s: f64) -> Notation {
        Notation {
            meter: Meter::FourFour,
            key: Key::default(),
            sixteenth_s: 15.0 / tempo_bpm.clamp(1.0, 1000.0),
            bar_s,
            pickup: 0,
        }
    }
}

use crate::Transcription;
use glyphs::{Align, Fonts};
use tiny_skia::{Color, Pixmap};

/// Page width in pixels (A4 at about 150 dpi).
pub const PAGE_WIDTH: u32 = 1240;
/// Staff space in pixels.
const SP: f32 = 12.0;
const MARGIN: f32 = 70.0;
const TOP: f32 = 150.0;
/// Height of the "bars shown" footnote of a cut score.
const FOOTNOTE: f64 = 40.0;

/// Bounds on a rendered score. The page is a pixmap of `PAGE_WIDTH` x height x 4 bytes held
/// whole in memory, so its height is what a long, busy recording could otherwise blow up
/// (600 s of notes every 150 ms made a 190,000 px page: 940 MiB).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScoreLimits {
    /// Tallest page in pixels (at least 300); systems that do not fit are left out and a
    /// footnote says how many bars are shown.
    pub max_height: u32,
}

/// The default [`ScoreLimits::max_height`], 1754 px: an A4 page at the width's 150 dpi,
/// about ten systems, 8.3 MiB of pixmap.
pub const DEFAULT_MAX_HEIGHT: u32 = 1754;

/// The default bound on the pages of one score ([`render_score_pages`]): 20 A4 pages, about
/// 600 bars, the 10-minute recordings that once made a single 22,000 px page; each page costs
/// about half a second to draw and 150 KB to keep.
pub const DEFAULT_MAX_PAGES: usize = 20;

impl Default for ScoreLimits {
    fn default() -> Self {
        ScoreLimits {
            max_height: DEFAULT_MAX_HEIGHT,
        }
    }
}

/// Renders the transcription as a page of staff notation (PNG bytes, 1240 px wide):
/// title, tempo mark, treble or bass clef chosen from the range, 4/4 time, notes
/// quantised to sixteenths with ties, beams, dots, rests and sharps, wrapped into as
/// many systems as needed. An empty transcription gives a staff with a whole rest and
/// the words "no notes detected". No bound on the height: see [`render_score_limited`].
pub fn render_score(t: &Transcription, title: &str) -> Vec<u8> {
    render_score_limited(
        t,
        title,
        &ScoreLimits {
            max_height: u32::MAX,
        },
    )
}

/// Like [`render_score`], on a page at most `limits.max_height` pixels tall: the systems
/// that fit are drawn, the rest are left out and a footnote says which bars are shown
/// (the MIDI file has every note). The first page of [`render_score_pages`] with one page.
pub fn render_score_limited(t: &Transcription, title: &str, limits: &ScoreLimits) -> Vec<u8> {
    render_score_pages(t, title, limits, 1)
        .into_iter()
        .next()
        .unwrap_or_default()
}

/// Top of the first staff on a page after the first (no title block there).
const PAGE_TOP: f32 = 90.0;

/// The whole score as pages (PNG bytes each), each at most `limits.max_height` pixels tall,
/// at most `max_pages` of them (at least one): the systems run on from page to page, page 1
/// carries the title, later pages a running head, and every page of a score of several says
/// "page N of M" at its foot. Systems past the last page are left out and a footnote there
/// says which bars are shown. Pages are drawn one at a time, so memory holds one pixmap.
pub fn render_score_pages(
    t: &Transcription,
    title: &str,
    limits: &ScoreLimits,
    max_pages: usize,
) -> Vec<Vec<u8>> {
    let fonts = Fonts::load();
    let measures = quantize::quantize(&t.notes, &t.notation);
    let clef = layout::choose_clef(t.notes.iter().map(|n| n.pitch));
    let width = PAGE_WIDTH as f32;
    let key = t.notation.key;
    let systems = layout::layout(&measures, clef, key, MARGIN, width - 2.0 * MARGIN, SP);
    // Vertical placement: each system gets room for its highest and lowest notes.
    // Room under the last system: 60 px of margin, plus a line for the footnote.
    let max_y = f64::from(limits.max_height.max(300)) - 60.0 - FOOTNOTE;
    let mut pages: Vec<Page> = Vec::new();
    let mut i = 0;
    while pages.len() < max_pages.max(1) && (i < systems.len() || pages.is_empty()) {
        let first = i;
        let mut y = if pages.is_empty() { TOP } else { PAGE_TOP };
        let mut bottoms = Vec::new();
        while let Some(s) = systems.get(i) {
            let above = (s.pos_range.1 - 8).max(6) as f32 * SP / 2.0;
            let below = (-s.pos_range.0).max(6) as f32 * SP / 2.0;
            let bottom = y + above + 4.0 * SP;
            let next = bottom + below + 2.5 * SP;
            if f64::from(next) > max_y && !bottoms.is_empty() {
                break;
            }
            bottoms.push(bottom);
            y = next;
            i += 1;
        }
        pages.push(Page { first, bottoms, y });
    }
    let score = Score {
        t,
        title: score_title(title),
        measures: &measures,
        systems: &systems,
        clef,
        max_height: limits.max_height.max(300),
        shown: i,
        pages: pages.len(),
    };
    pages
        .iter()
        .enumerate()
        .map(|(n, page)| draw_page(&fonts, &score, page, n))
        .collect()
}

fn score_title(title: &str) -> String {
    let title = if title.trim().is_empty() {
        "Melody"
    } else {
        title.trim()
    };
    title.chars().take(80).collect()
}

/// What every page of one score shares.
struct Score<'a> {
    t: &'a Transcription,
    title: String,
    measures: &'a [quantize::Measure],
    systems: &'a [layout::System],
    clef: layout::Clef,
    max_height: u32,
    /// Systems drawn over all the pages (fewer than `systems.len()` when cut).
    shown: usize,
    pages: usize,
}

/// One page: its first system, the staff bottoms of its systems, and where they end.
struct Page {
    first: usize,
    bottoms: Vec<f32>,
    y: f32,
}

fn draw_page(fonts: &Fonts, sc: &Score, page: &Page, n: usize) -> Vec<u8> {
    let width = PAGE_WIDTH as f32;
    let last_page = n + 1 == sc.pages;
    let cut = last_page && sc.shown < sc.systems.len();
    let foot = cut || sc.pages > 1;
    let mut y = page.y;
    if foot {
        y += FOOTNOTE as f32;
    }
    let height = (y + 60.0).ceil().max(300.0).min(sc.max_height as f32) as u32;
    let Some(mut pm) = Pixmap::new(PAGE_WIDTH, height) else {
        return Vec::new();
    };
    pm.fill(Color::WHITE);
    let ink = Color::from_rgba8(20, 20, 20, 255);
    let grey = Color::from_rgba8(90, 90, 90, 255);
    if n > 0 {
        fonts.text(
            &mut pm,
            &sc.title,
            15.0,
            (width / 2.0, 40.0),
            Align::Center,
            grey,
        );
    } else {
        title_block(&mut pm, fonts, sc, page, ink, grey);
    }
    let mut notes = Vec::new();
    if cut {
        let bars = sc
            .systems
            .get(sc.shown)
            .map_or(sc.measures.len(), |s| s.first_bar)
            .min(sc.measures.len());
        notes.push(format!(
            "bars 1 to {bars} of {} shown; the MIDI file has every note",
            sc.measures.len()
        ));
    }
    if sc.pages > 1 {
        notes.push(format!("page {} of {}", n + 1, sc.pages));
    }
    if !notes.is_empty() {
        fonts.text(
            &mut pm,
            &notes.join("; "),
            15.0,
            (width / 2.0, y - FOOTNOTE as f32 / 2.0 + 10.0),
            Align::Center,
            grey,
        );
    }
    let last_i = if last_page && !cut {
        sc.systems.len().saturating_sub(1)
    } else {
        usize::MAX
    };
    let on_page = sc.systems.iter().enumerate().skip(page.first);
    for ((i, s), &bottom) in on_page.zip(&page.bottoms) {
        let x1 = s.bar_ends.last().copied().unwrap_or(width - MARGIN);
        let staff = draw::Staff {
            bottom,
            sp: SP,
            x0: MARGIN,
            x1,
            ink,
        };
        let signs = (sc.clef, sc.t.notation.key, sc.t.notation.meter);
        draw::system(&mut pm, fonts, s, signs, &staff, i == last_i);
    }
    pm.encode_png().unwrap_or_default()
}

/// Page 1's title, subtitle and tempo mark.
fn title_block(pm: &mut Pixmap, fonts: &Fonts, sc: &Score, page: &Page, ink: Color, grey: Color) {
    let t = sc.t;
    let width = PAGE_WIDTH as f32;
    fonts.text(pm, &sc.title, 30.0, (width / 2.0, 70.0), Align::Center, ink);
    let sub = if t.notes.is_empty() {
        "no notes detected".to_string()
    } else {
        let lo = t.notes.iter().map(|n| n.pitch).min().unwrap_or(60);
        let hi = t.notes.iter().map(|n| n.pitch).max().unwrap_or(60);
        format!(
            "{} notes, {} to {}, transcribed from humming",
            t.notes.len(),
            crate::note_name(lo),
            crate::note_name(hi)
        )
    };
    fonts.text(pm, &sub, 15.0, (width / 2.0, 98.0), Align::Center, grey);
    let mark = TempoMark::new(t.tempo_bpm, t.notation.meter);
    if let Some(&b0) = page.bottoms.first() {
        let above = sc.systems.first().map_or(6, |s| (s.pos_range.1 - 8).max(6));
        let ty = (b0 - 4.0 * SP - above as f32 * SP / 2.0 + 6.0).max(TOP - 8.0);
        fonts.text(pm, &mark.to_string(), 17.0, (MARGIN, ty), Align::Left, ink);
    }
}
