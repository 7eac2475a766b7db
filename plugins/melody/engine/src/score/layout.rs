//! Page layout: clef choice, staff positions and accidentals, horizontal spacing, and
//! line breaking into systems that fill the page width.

use super::key::{BarAccidentals, Key};
use super::quantize::{Event, Measure};

/// The clef of the whole score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Clef {
    /// G clef: bottom line E4.
    Treble,
    /// F clef: bottom line G2.
    Bass,
}

impl Clef {
    /// Diatonic number (octave * 7 + letter) of the bottom staff line.
    pub fn bottom(self) -> i32 {
        match self {
            Clef::Treble => 4 * 7 + 2,
            Clef::Bass => 2 * 7 + 4,
        }
    }
}

/// Staff position of a MIDI pitch spelt in `key` (0 = bottom line, 1 = first space, ...
/// 8 = top line).
pub fn staff_pos(pitch: u8, clef: Clef, key: Key) -> i32 {
    let s = key.spell(pitch);
    s.octave * 7 + i32::from(s.letter) - clef.bottom()
}

fn ledgers(pos: i32) -> i32 {
    if pos < -1 {
        -pos / 2
    } else if pos > 9 {
        (pos - 8) / 2
    } else {
        0
    }
}

/// Chooses the clef that needs fewer ledger lines for these pitches (treble on a tie).
pub fn choose_clef(pitches: impl Iterator<Item = u8> + Clone) -> Clef {
    let count = |c: Clef| -> i32 {
        pitches
            .clone()
            .map(|p| ledgers(staff_pos(p, c, Key::default())))
            .sum()
    };
    if count(Clef::Bass) < count(Clef::Treble) {
        Clef::Bass
    } else {
        Clef::Treble
    }
}

/// Accidental to print before a note head.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Accidental {
    /// No sign.
    None,
    /// Sharp sign.
    Sharp,
    /// Flat sign.
    Flat,
    /// Natural sign (cancels the key's or an earlier note's sharp or flat).
    Natural,
}

/// A note or rest with everything needed to draw it.
#[derive(Debug, Clone, Copy)]
pub struct Item {
    /// The written event.
    pub ev: Event,
    /// Staff position of the head (rests: 4).
    pub pos: i32,
    /// Sign before the head.
    pub acc: Accidental,
    /// Left x of the note head, in pixels.
    pub x: f32,
}

/// One line of music.
#[derive(Debug, Clone)]
pub struct System {
    /// Index of the first bar (for the bar number).
    pub first_bar: usize,
    /// x of every bar line that ends a bar in this system.
    pub bar_ends: Vec<f32>,
    /// Notes and rests with their x positions.
    pub items: Vec<Item>,
    /// Highest and lowest staff positions used (for vertical spacing).
    pub pos_range: (i32, i32),
    /// Whether this is the first system (time signature printed).
    pub first: bool,
    /// Width of the key signature, pixels.
    pub key_w: f32,
}

/// Horizontal metrics in staff spaces.
const CLEF_W: f32 = 4.2;
const TIME_W: f32 = 3.0;
const BAR_PAD_L: f32 = 1.3;
const BAR_PAD_R: f32 = 0.8;
const ACC_W: f32 = 1.5;
/// Width of one sign of the key signature, staff spaces.
pub const KEY_SIGN_W: f32 = 1.0;

fn event_width(dur: u32) -> f32 {
    2.3 + 1.55 * (dur as f32).log2()
}

/// Assigns positions and accidentals (from `key`), then breaks bars into systems of width
/// `width` pixels starting at `x0`, with staff space `sp`.
pub fn layout(
    measures: &[Measure],
    clef: Clef,
    key: Key,
    x0: f32,
    width: f32,
    sp: f32,
) -> Vec<System> {
    // Per bar: items with x relative to the bar start, and the bar's natural width.
    let mut bars: Vec<(Vec<Item>, f32)> = Vec::with_capacity(measures.len());
    let mut carried: Option<u8> = None; // the pitch tied into this bar
    for m in measures {
        let mut state = BarAccidentals::default();
        let mut x = BAR_PAD_L;
        let mut items = Vec::with_capacity(m.events.len());
        for (i, ev) in m.events.iter().enumerate() {
            let (pos, acc) = match ev.pitch {
                None => (4, Accidental::None),
                Some(p) => {
                    let tied_in = if i == 0 {
                        carried == Some(p)
                    } else {
                        m.events[i - 1].tie
                    };
                    let acc = match state.mark(key, key.spell(p), tied_in) {
                        None => Accidental::None,
                        Some(a) if a < 0 => Accidental::Flat,
                        Some(a) if a > 0 => Accidental::Sharp,
                        Some(_) => Accidental::Natural,
                    };
                    (staff_pos(p, clef, key), acc)
                }
            };
            if acc != Accidental::None {
                x += ACC_W;
            }
            items.push(Item {
                ev: *ev,
                pos,
                acc,
                x: x * sp,
            });
            x += event_width(ev.dur);
        }
        carried = m.events.last().filter(|e| e.tie).and_then(|e| e.pitch);
        bars.push((items, (x + BAR_PAD_R) * sp));
    }
    // Greedy line breaking, then justification.
    let mut systems = Vec::new();
    let mut b = 0;
    while b < bars.len() {
        let first = b == 0;
        let signs = key.fifths.unsigned_abs() as f32;
        let key_w = if signs > 0.0 {
            (signs * KEY_SIGN_W + 0.6) * sp
        } else {
            0.0
        };
        let header = (CLEF_W + if first { TIME_W } else { 0.0 }) * sp + key_w;
        let avail = width - header;
        let mut used = 0.0;
        let mut e = b;
        while e < bars.len() && (e == b || used + bars[e].1 <= avail) {
            used += bars[e].1;
            e += 1;
        }
        let last = e == bars.len();
        let stretch = if last && used < 0.75 * avail {
            1.0
        } else {
            avail / used.max(1.0)
        };
        let mut x = x0 + header;
        let mut sys = System {
            first_bar: b,
            bar_ends: Vec::new(),
            items: Vec::new(),
            pos_range: (0, 8),
            first,
            key_w,
        };
        for (items, w) in &bars[b..e] {
            for it in items {
                let mut it = *it;
                it.x = x + it.x * stretch;
                sys.pos_range.0 = sys.pos_range.0.min(it.pos - 7);
                sys.pos_range.1 = sys.pos_range.1.max(it.pos + 7);
                sys.items.push(it);
            }
            x += w * stretch;
            sys.bar_ends.push(x);
        }
        systems.push(sys);
        b = e;
    }
    systems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions() {
        let c = Key::default();
        assert_eq!(staff_pos(64, Clef::Treble, c), 0); // E4 bottom line
        assert_eq!(staff_pos(77, Clef::Treble, c), 8); // F5 top line
        assert_eq!(staff_pos(61, Clef::Treble, c), -2); // C#4 ledger
        assert_eq!(staff_pos(70, Clef::Treble, "F".parse().unwrap_or(c)), 4); // Bb4
        assert_eq!(staff_pos(43, Clef::Bass, c), 0); // G2
        assert_eq!(staff_pos(57, Clef::Bass, c), 8); // A3
        assert_eq!(choose_clef([40u8, 45, 50].into_iter()), Clef::Bass);
        assert_eq!(choose_clef([60u8, 67, 72].into_iter()), Clef::Treble);
    }
}
