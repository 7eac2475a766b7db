//! Key estimate and note spelling.
//!
//! The key is the Krumhansl-Schmuckler estimate: the duration-weighted pitch-class profile of
//! the melody (the last note counted twice, as tunes end on their tonic) correlated with the
//! Krumhansl-Kessler major and minor profiles in all twelve transpositions. Notes are then
//! spelt from the key: its scale notes with the signature's sharps or flats, other notes as
//! sharps in sharp keys and as flats in flat keys (F major writes B♭, never A♯), the raised
//! seventh of a minor key as a sharp or natural of its own letter (G♯ in A minor, C♯ in D minor).

use std::fmt;
use std::str::FromStr;

use crate::Note;

/// A key: its signature (`fifths`, negative for flats) and mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Key {
    /// Sharps (positive) or flats (negative) in the signature, -7 to 7.
    pub fifths: i8,
    /// Minor mode (the tonic is the relative minor of the signature's major key).
    pub minor: bool,
}

/// A pitch as written: letter (0 = C ... 6 = B), alteration in semitones, octave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spelt {
    /// Diatonic letter, 0 = C to 6 = B.
    pub letter: u8,
    /// -1 flat, 0 natural, 1 sharp.
    pub alter: i8,
    /// Scientific octave (C4 = middle C); the octave of the letter, so C♭5 is B4's sound.
    pub octave: i32,
}

const LETTERS: [&str; 7] = ["C", "D", "E", "F", "G", "A", "B"];
const NATURAL_PC: [i32; 7] = [0, 2, 4, 5, 7, 9, 11];
/// Letters in the order sharps are added to a signature (F C G D A E B); flats go backwards.
const SHARP_ORDER: [u8; 7] = [3, 0, 4, 1, 5, 2, 6];

const MAJOR: [f64; 12] = [
    6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88,
];
const MINOR: [f64; 12] = [
    6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17,
];

impl Key {
    /// Pitch class of the tonic.
    pub fn tonic(self) -> i32 {
        let major = (i32::from(self.fifths) * 7).rem_euclid(12);
        if self.minor {
            (major + 9) % 12
        } else {
            major
        }
    }

    /// The key whose tonic is pitch class `pc`, with the signature of fewer accidentals
    /// (F♯ major rather than G♭, D♭ rather than C♯).
    fn from_tonic(pc: i32, minor: bool) -> Key {
        let major_pc = if minor { (pc + 3) % 12 } else { pc };
        let f = (major_pc * 7).rem_euclid(12);
        let fifths = if f > 6 { f - 12 } else { f };
        Key {
            fifths: fifths as i8,
            minor,
        }
    }

    /// Alteration the signature gives to `letter`.
    pub fn signature_alter(self, letter: u8) -> i8 {
        let n = usize::from(self.fifths.unsigned_abs()).min(7);
        if self.fifths > 0 && SHARP_ORDER[..n].contains(&letter) {
            1
        } else if self.fifths < 0 && SHARP_ORDER[7 - n..].contains(&letter) {
            -1
        } else {
            0
        }
    }

    /// Letters of the signature's sharps or flats, in the order they are written.
    pub fn signature(self) -> Vec<u8> {
        let n = usize::from(self.fifths.unsigned_abs()).min(7);
        if self.fifths >= 0 {
            SHARP_ORDER[..n].to_vec()
        } else {
            SHARP_ORDER.iter().rev().take(n).copied().collect()
        }
    }

    /// How `pitch` is written in this key.
    pub fn spell(self, pitch: u8) -> Spelt {
        let pc = i32::from(pitch % 12);
        let octave_of = |letter: u8, alter: i8| -> i32 {
            // The octave follows the letter: B♯3 sounds as C4, C♭5 as B4.
            (i32::from(pitch) - i32::from(alter) - NATURAL_PC[usize::from(letter)]) / 12 - 1
        };
        let with = |letter: u8, alter: i8| Spelt {
            letter,
            alter,
            octave: octave_of(letter, alter),
        };
        // A scale note: its letter with the signature's alteration.
        for letter in 0..7u8 {
            let a = self.signature_alter(letter);
            if (NATURAL_PC[usize::from(letter)] + i32::from(a)).rem_euclid(12) == pc {
                return with(letter, a);
            }
        }
        // The raised seventh of a minor key: one above the scale's seventh letter.
        if self.minor && pc == (self.tonic() + 11) % 12 {
            let tonic_letter = self.spell_letter_of_tonic();
            let seventh = (tonic_letter + 6) % 7;
            let a = self.signature_alter(seventh) + 1;
            return with(seventh, a);
        }
        let natural = NATURAL_PC.iter().position(|&n| n == pc);
        match natural {
            Some(l) => with(l as u8, 0),
            None if self.fifths < 0 => {
                let l = NATURAL_PC
                    .iter()
                    .position(|&n| n == (pc + 1) % 12)
                    .unwrap_or(0);
                with(l as u8, -1)
            }
            None => {
                let l = NATURAL_PC
                    .iter()
                    .position(|&n| n == (pc + 11) % 12)
                    .unwrap_or(0);
                with(l as u8, 1)
            }
        }
    }

    fn spell_letter_of_tonic(self) -> u8 {
        let pc = self.tonic();
        (0..7u8)
            .find(|&l| {
                (NATURAL_PC[usize::from(l)] + i32::from(self.signature_alter(l))).rem_euclid(12)
                    == pc
            })
            .unwrap_or(0)
    }

    /// Name of a written pitch ("Bb4", "F#5", "E4").
    pub fn name(self, pitch: u8) -> String {
        let s = self.spell(pitch);
        let acc = match s.alter {
            a if a < 0 => "b",
            a if a > 0 => "#",
            _ => "",
        };
        format!("{}{acc}{}", LETTERS[usize::from(s.letter)], s.octave)
    }
}

/// Alterations in force within one bar, so that a sign is printed only where the key signature
/// or an earlier note of the bar does not already give it (a natural after a sharp, say).
#[derive(Debug, Default)]
pub struct BarAccidentals {
    in_force: std::collections::HashMap<(u8, i32), i8>,
}

impl BarAccidentals {
    /// The sign to print before `s` (-1 flat, 0 natural, 1 sharp), if any, remembering it for
    /// the rest of the bar; a note tied in from the previous one gets none.
    pub fn mark(&mut self, key: Key, s: Spelt, tied_in: bool) -> Option<i8> {
        let slot = (s.letter, s.octave);
        let current = self
            .in_force
            .get(&slot)
            .copied()
            .unwrap_or_else(|| key.signature_alter(s.letter));
        self.in_force.insert(slot, s.alter);
        (!tied_in && current != s.alter).then_some(s.alter)
    }
}

/// The Krumhansl-Schmuckler key of `notes` (C major when there are none).
pub fn estimate(notes: &[Note]) -> Key {
    let mut hist = [0.0f64; 12];
    for (i, n) in notes.iter().enumerate() {
        let d = (n.offset_s - n.onset_s).clamp(0.0, 4.0);
        let w = if i + 1 == notes.len() { 2.0 * d } else { d };
        hist[usize::from(n.pitch % 12)] += w;
    }
    if hist.iter().sum::<f64>() <= 0.0 {
        return Key::default();
    }
    let mut best = (f64::NEG_INFINITY, Key::default());
    for minor in [false, true] {
        let profile = if minor { &MINOR } else { &MAJOR };
        for tonic in 0..12 {
            let rotated: Vec<f64> = (0..12).map(|pc| profile[(pc + 12 - tonic) % 12]).collect();
            let r = correlation(&hist, &rotated);
            if r > best.0 + 1e-9 {
                best = (r, Key::from_tonic(tonic as i32, minor));
            }
        }
    }
    best.1
}

fn correlation(a: &[f64; 12], b: &[f64]) -> f64 {
    let ma = a.iter().sum::<f64>() / 12.0;
    let mb = b.iter().sum::<f64>() / 12.0;
    let (mut num, mut da, mut db) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        num += (x - ma) * (y - mb);
        da += (x - ma).powi(2);
        db += (y - mb).powi(2);
    }
    if da <= 0.0 || db <= 0.0 {
        0.0
    } else {
        num / (da * db).sqrt()
    }
}

/// Names of the keys `key` accepts, majors then minors ("Bb", "F#m").
pub const KEY_NAMES: [&str; 30] = [
    "C", "G", "D", "A", "E", "B", "F#", "C#", "F", "Bb", "Eb", "Ab", "Db", "Gb", "Cb", "Am", "Em",
    "Bm", "F#m", "C#m", "G#m", "D#m", "A#m", "Dm", "Gm", "Cm", "Fm", "Bbm", "Ebm", "Abm",
];

impl fmt::Display for Key {
    /// "F major", "D minor".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tonic = self.spell(60 + self.tonic() as u8);
        let acc = match tonic.alter {
            a if a < 0 => "b",
            a if a > 0 => "#",
            _ => "",
        };
        let mode = if self.minor { "minor" } else { "major" };
        write!(f, "{}{acc} {mode}", LETTERS[usize::from(tonic.letter)])
    }
}

/// A key name that is not one of [`KEY_NAMES`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown key (C, G, F, Bb, Am, F#m, ...)")]
pub struct BadKey;

impl FromStr for Key {
    type Err = BadKey;
    /// "Bb", "F#m", "D minor", "Eb major".
    fn from_str(s: &str) -> Result<Key, BadKey> {
        let s = s.trim();
        let (name, minor) = if let Some(n) = s.strip_suffix(" minor") {
            (n, true)
        } else if let Some(n) = s.strip_suffix(" major") {
            (n, false)
        } else if let Some(n) = s.strip_suffix('m') {
            (n, true)
        } else {
            (s, false)
        };
        let mut chars = name.chars();
        let letter = chars.next().ok_or(BadKey)?.to_ascii_uppercase();
        let l = LETTERS
            .iter()
            .position(|n| n.starts_with(letter))
            .ok_or(BadKey)?;
        let alter = match chars.as_str() {
            "" => 0,
            "#" | "♯" => 1,
            "b" | "♭" => -1,
            _ => return Err(BadKey),
        };
        let base_fifths = [0i32, 2, 4, -1, 1, 3, 5][l];
        let major_fifths = base_fifths + 7 * alter - if minor { 3 } else { 0 };
        if !(-7..=7).contains(&major_fifths) {
            return Err(BadKey);
        }
        Ok(Key {
            fifths: major_fifths as i8,
            minor,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(pitch: u8, d: f64) -> Note {
        Note {
            onset_s: 0.0,
            offset_s: d,
            pitch,
        }
    }

    #[test]
    fn keys_parse_print_and_spell() {
        let f: Key = "F".parse().unwrap_or_default();
        assert_eq!((f.fifths, f.minor), (-1, false));
        assert_eq!(f.name(70), "Bb4");
        assert_eq!(f.name(61), "Db4");
        assert_eq!(Key::default().name(70), "A#4");
        let d: Key = "D".parse().unwrap_or_default();
        assert_eq!(d.name(66), "F#4");
        assert_eq!(d.name(65), "F4");
        let am: Key = "Am".parse().unwrap_or_default();
        assert_eq!((am.fifths, am.minor), (0, true));
        assert_eq!(am.name(68), "G#4");
        let dm: Key = "D minor".parse().unwrap_or_default();
        assert_eq!((dm.fifths, dm.name(61)), (-1, "C#4".to_string()));
        assert_eq!(dm.to_string(), "D minor");
        for name in KEY_NAMES {
            let k: Key = name.parse().unwrap_or(Key {
                fifths: 99,
                minor: false,
            });
            assert!(k.fifths.abs() <= 7, "{name}");
        }
        assert!("H".parse::<Key>().is_err());
        assert!("B#m".parse::<Key>().is_err());
        assert_eq!(
            "Gb".parse::<Key>().map(|k| k.to_string()),
            Ok("Gb major".into())
        );
        assert_eq!("Cb".parse::<Key>().map(|k| k.name(71)), Ok("Cb5".into()));
    }

    #[test]
    fn scales_are_recognised() {
        // F major scale, tonic held at the end.
        let mut notes: Vec<Note> = [65, 67, 69, 70, 72, 74, 76, 77]
            .iter()
            .map(|&p| n(p, 0.5))
            .collect();
        notes.push(n(65, 1.0));
        assert_eq!(estimate(&notes).to_string(), "F major");
        let mut notes: Vec<Note> = [57, 59, 60, 62, 64, 65, 68, 69]
            .iter()
            .map(|&p| n(p, 0.5))
            .collect();
        notes.push(n(57, 1.0));
        assert_eq!(estimate(&notes).to_string(), "A minor");
    }
}
