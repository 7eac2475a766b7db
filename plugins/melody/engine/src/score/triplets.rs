//! Triplets: beats of simple time divided in three.
//!
//! A melody sung in triplet or swung eighths puts onsets a third or two thirds into the beat;
//! on the sixteenth grid they come out as sixteenths and dotted eighths, which no musician would
//! write. So each beat is judged on its own: when the onsets inside it sit clearly nearer the
//! thirds of the beat than its sixteenths, the beat is a triplet and its notes are written as
//! triplet eighths and quarters under a bracket. Positions are counted in ticks, three to a
//! sixteenth and four to a triplet eighth, so both grids are whole numbers.

use std::collections::HashSet;

/// Ticks in a sixteenth.
pub const TICKS: i64 = 3;
/// Ticks in a quarter beat.
const BEAT: i64 = 4 * TICKS;
/// How much nearer (in sixteenths, per onset) the thirds must be than the sixteenths.
const MARGIN: f64 = 0.05;
/// How much farther the third of a lone onset may be (sixteenths) when the tune has clear
/// triplets.
const LEAN: f64 = 0.2;

/// The beats (quarter beats counted from the start of bar 0) written as triplets.
#[derive(Debug, Default)]
pub struct Triplets {
    beats: HashSet<i64>,
}

impl Triplets {
    /// Judges every beat from the onsets' grid positions (sixteenths, fractional); `simple`:
    /// the metre's beat is a quarter (compound time already divides it in three).
    pub fn find(onsets: &[f64], simple: bool) -> Triplets {
        let mut t = Triplets::default();
        if !simple {
            return t;
        }
        // Per beat: summed distance of the inner onsets to sixteenths and to thirds, and count.
        let mut per: std::collections::HashMap<i64, (f64, f64, u32)> = Default::default();
        // Inner onsets past the middle of their beat, whether nearer the sixteenths: a dotted
        // eighth and sixteenth, or a swung pair.
        let mut late: std::collections::HashMap<i64, bool> = Default::default();
        for &x in onsets.iter().filter(|x| x.is_finite()) {
            let b = (x / 4.0).floor();
            let f = x - 4.0 * b;
            if !(0.5..3.5).contains(&f) {
                continue;
            }
            let e = per.entry(b as i64).or_default();
            let (e16, e3) = (
                (f - f.round()).abs(),
                (f - 4.0 / 3.0 * (f * 0.75).round()).abs(),
            );
            e.0 += e16;
            e.1 += e3;
            e.2 += 1;
            if f >= 2.5 {
                late.insert(b as i64, e16 < e3);
            }
        }
        // A beat with two onsets inside on its thirds is surely a triplet; one with a single
        // onset (a swung pair) is one only in a tune that has those: a sixteenth after a dotted
        // eighth sung a little early sits as near a third of the beat.
        let clear = |&(e16, e3, n): &(f64, f64, u32)| n >= 2 && e3 + MARGIN * f64::from(n) < e16;
        // Without clear triplets, a tune that writes a pair as a dotted eighth and a sixteenth
        // elsewhere sings them all that way (Happy Birthday's pickup sung a little uneven).
        let has_clear = per.values().any(clear);
        let dotted = per
            .iter()
            .any(|(b, &(_, _, n))| n == 1 && late.get(b) == Some(&true));
        let lean = if has_clear { -LEAN } else { LEAN };
        let lone = has_clear || !dotted;
        for (b, (e16, e3, n)) in per {
            // In a tune with clear triplets, three notes in a beat nearly as near its thirds
            // as its sixteenths are one more (a fast triplet sung a little uneven), not a
            // sixteenth, an eighth and a sixteenth.
            let near = has_clear && n == 2 && e3 < e16 + LEAN;
            if clear(&(e16, e3, n)) || near || (lone && n == 1 && e3 + lean < e16) {
                t.beats.insert(b);
            }
        }
        t
    }

    /// Whether the beat holding tick `tick` is a triplet.
    pub fn at(&self, tick: i64) -> bool {
        !self.beats.is_empty() && self.beats.contains(&tick.div_euclid(BEAT))
    }

    /// The tick nearest grid position `x` (sixteenths) on its beat's grid.
    pub fn snap(&self, x: f64) -> i64 {
        let b = (x / 4.0).floor();
        if self.beats.contains(&(b as i64)) {
            let third = ((x - 4.0 * b) * 0.75).round() as i64;
            b as i64 * BEAT + 4 * third
        } else {
            x.round() as i64 * TICKS
        }
    }

    /// The first grid point at or after `tick`.
    pub fn up(&self, tick: i64) -> i64 {
        let step = if self.at(tick) { 4 } else { TICKS };
        let beat0 = tick.div_euclid(BEAT) * BEAT;
        let r = (tick - beat0).rem_euclid(step);
        if r == 0 {
            tick
        } else {
            tick + step - r
        }
    }

    /// End of the stretch from `tick` that is all triplet or all plain beats (at most `limit`).
    pub fn stretch_end(&self, tick: i64, limit: i64) -> i64 {
        let kind = self.at(tick);
        let mut end = (tick.div_euclid(BEAT) + 1) * BEAT;
        while end < limit && self.at(end) == kind {
            end += BEAT;
        }
        end.min(limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thirds_of_a_beat_make_a_triplet_and_sixteenths_do_not() {
        // Beat 0: triplet eighths; beat 1: a swung pair; beat 2: straight eighths; beat 3:
        // a dotted eighth and a sixteenth.
        let onsets = [0.0, 1.36, 2.62, 4.0, 6.7, 8.0, 10.1, 12.0, 15.0];
        let t = Triplets::find(&onsets, true);
        assert!(t.at(0) && t.at(BEAT + 1));
        assert!(!t.at(2 * BEAT) && !t.at(3 * BEAT));
        assert_eq!(t.snap(1.36), 4);
        assert_eq!(t.snap(6.7), BEAT + 8);
        assert_eq!(t.snap(10.1), 30);
        assert_eq!(t.up(5), 8);
        assert_eq!(t.up(2 * BEAT + 1), 2 * BEAT + 3);
        assert!(!Triplets::find(&onsets, false).at(0));
    }

    #[test]
    fn an_uneven_triplet_beside_clear_ones_is_a_triplet() {
        // Beat 1: clear triplet eighths; beat 3: three notes with the second 35 ms early at
        // 138 bpm (a sixteenth in, the third on its third): nearly as near the thirds.
        let onsets = [0.0, 4.0, 5.33, 6.67, 8.0, 12.0, 13.01, 14.66, 16.0];
        assert!(Triplets::find(&onsets, true).at(3 * BEAT));
        // Without clear triplets elsewhere it stays a sixteenth, an eighth and a sixteenth.
        assert!(!Triplets::find(&[0.0, 4.0, 8.0, 12.0, 13.01, 14.66, 16.0], true).at(3 * BEAT));
    }

    #[test]
    fn an_uneven_pair_among_dotted_pairs_is_dotted_too() {
        // Happy Birthday's pickup sung with its sixteenth early (2.68, nearer a third), then
        // quarters and the same pair sung straight (3.0) later on.
        let onsets = [0.0, 2.68, 4.0, 8.0, 12.0, 16.0, 24.0, 27.05, 28.0];
        let t = Triplets::find(&onsets, true);
        assert!(!t.at(0) && !t.at(6 * BEAT));
        assert_eq!(t.snap(2.68), 9);
        // Alone, the uneven pair is a swung one.
        assert!(Triplets::find(&onsets[..5], true).at(0));
    }
}
