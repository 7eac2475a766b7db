//! Time signatures and the note values each one writes.
//!
//! Everything is counted in sixteenths. A value may start off the beat only if it ends by the
//! next beat (the eighth-quarter-eighth syncopation of simple time excepted), and in 4/4 only a
//! note from the downbeat crosses the middle of the bar, so that beat 3 stays visible. Rests are
//! never dotted in simple time; a bar with nothing in it is one whole-bar rest.

use std::fmt;
use std::str::FromStr;

/// A time signature the score can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Meter {
    /// Four quarter beats.
    #[default]
    FourFour,
    /// Three quarter beats (waltz).
    ThreeFour,
    /// Two dotted-quarter beats of three eighths.
    SixEight,
    /// Two quarter beats (march).
    TwoFour,
}

impl Meter {
    /// Every time signature, in the order `time_signature` lists them.
    pub const ALL: [Meter; 4] = [
        Meter::FourFour,
        Meter::ThreeFour,
        Meter::SixEight,
        Meter::TwoFour,
    ];

    /// Sixteenths in a bar.
    pub fn bar(self) -> u32 {
        match self {
            Meter::FourFour => 16,
            Meter::ThreeFour | Meter::SixEight => 12,
            Meter::TwoFour => 8,
        }
    }

    /// Sixteenths in a beat (a dotted quarter in 6/8).
    pub fn beat(self) -> u32 {
        match self {
            Meter::SixEight => 6,
            _ => 4,
        }
    }

    /// Upper and lower figures of the signature.
    pub fn figures(self) -> (u32, u32) {
        match self {
            Meter::FourFour => (4, 4),
            Meter::ThreeFour => (3, 4),
            Meter::SixEight => (6, 8),
            Meter::TwoFour => (2, 4),
        }
    }

    /// Whether a written value of `d` sixteenths may start at `pos` in the bar (`note`:
    /// a note rather than a rest).
    fn allows(self, d: u32, pos: u32, note: bool) -> bool {
        let beat = self.beat();
        let bar = self.bar();
        if pos + d > bar {
            return false;
        }
        let in_beat = pos % beat;
        let within_beat = in_beat == 0 || in_beat + d <= beat;
        let crosses_middle = bar == 16 && pos != 0 && pos < 8 && pos + d > 8;
        match d {
            16 => pos == 0,
            12 => note && pos == 0,
            8 => match self {
                Meter::SixEight => false,
                _ => in_beat == 0 && !crosses_middle && (note || pos.is_multiple_of(8)),
            },
            6 => match self {
                Meter::SixEight => in_beat == 0,
                _ => note && pos.is_multiple_of(2) && !crosses_middle,
            },
            4 => match self {
                Meter::SixEight => in_beat == 0 || in_beat == 2,
                _ => in_beat == 0 || (note && in_beat == 2 && !crosses_middle),
            },
            3 => note && within_beat && in_beat.is_multiple_of(2),
            2 => within_beat,
            1 => true,
            _ => false,
        }
    }

    /// Splits `len` sixteenths starting at `pos` in the bar into written values, longest
    /// first, each allowed where it starts.
    pub fn split(self, mut pos: u32, mut len: u32, note: bool) -> Vec<u32> {
        if !note && pos == 0 && len == self.bar() {
            return vec![len];
        }
        let mut out = Vec::new();
        while len > 0 {
            let d = [16, 12, 8, 6, 4, 3, 2, 1]
                .into_iter()
                .find(|&d| d <= len && self.allows(d, pos, note))
                .unwrap_or(1);
            out.push(d);
            pos += d;
            len -= d;
        }
        out
    }
}

impl fmt::Display for Meter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (a, b) = self.figures();
        write!(f, "{a}/{b}")
    }
}

/// A time signature that is not one of [`Meter::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("time signature must be one of 4/4, 3/4, 6/8, 2/4")]
pub struct BadMeter;

impl FromStr for Meter {
    type Err = BadMeter;
    fn from_str(s: &str) -> Result<Meter, BadMeter> {
        Meter::ALL
            .into_iter()
            .find(|m| m.to_string() == s.trim())
            .ok_or(BadMeter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_follow_the_beat() {
        let m = Meter::FourFour;
        // A rest from beat 2 to the end: quarter + half.
        assert_eq!(m.split(4, 12, false), vec![4, 8]);
        // A note from beat 2 to the end: quarter tied to half (beat 3 shown).
        assert_eq!(m.split(4, 12, true), vec![4, 8]);
        assert_eq!(m.split(8, 8, true), vec![8]);
        assert_eq!(m.split(0, 16, false), vec![16]);
        assert_eq!(m.split(2, 6, false), vec![2, 4]);
        assert_eq!(Meter::ThreeFour.split(0, 12, true), vec![12]);
        assert_eq!(Meter::ThreeFour.split(4, 8, true), vec![8]);
        assert_eq!(Meter::ThreeFour.split(0, 12, false), vec![12]);
        assert_eq!(Meter::SixEight.split(0, 6, true), vec![6]);
        assert_eq!(Meter::SixEight.split(4, 4, true), vec![2, 2]);
        assert_eq!("6/8".parse(), Ok(Meter::SixEight));
        // 6/8 is beaten in dotted quarters.
        let mark = crate::score::TempoMark::new(105.0, Meter::SixEight);
        assert_eq!(mark.to_string(), "\u{2669}. = 70");
        assert_eq!(
            crate::score::TempoMark::new(99.6, Meter::ThreeFour).to_string(),
            "\u{2669} = 100"
        );
        assert!("5/4".parse::<Meter>().is_err());
    }
}
