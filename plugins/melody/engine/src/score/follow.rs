//! Following a singer's tempo: measured times to grid positions when the beat drifts.
//!
//! One straight grid for the whole recording puts every onset after a ritardando or a slow
//! drift a little later than its grid point, until the notes fall on the wrong sixteenths. So
//! the grid is tracked like a beat: from the first onset (placed by the notation's grid), each
//! onset near a beat or an eighth-note point pulls the grid's phase half-way to it and its sixteenth
//! towards the length measured over the last bar or so, within a quarter of the notation's
//! (a change of tempo that large is a new tempo, not a drift). Onsets off the eighths (sixteenths,
//! triplets) are placed but do not steer, so that a rhythm is not mistaken for a drift.

/// Fraction of an onset's timing error taken into the grid's phase.
const PHASE_GAIN: f64 = 0.5;
/// Fraction of the measured sixteenth taken into the grid's.
const TEMPO_GAIN: f64 = 0.4;
/// How far an onset may sit from an off-beat eighth, in sixteenths, and still steer (a triplet's
/// onsets sit two thirds of a sixteenth from one).
const STEER: f64 = 0.35;
/// How far an onset may sit from a beat and still steer (nothing but a drift puts it there).
const STEER_BEAT: f64 = 0.7;
/// Sixteenths back to the anchor the tempo is measured from.
const SPAN: f64 = 8.0;

/// A grid point the tracked grid passes through: time (s), position (sixteenths), and the
/// sixteenth's length from there on (s).
#[derive(Debug, Clone, Copy)]
struct Anchor {
    time: f64,
    pos: f64,
    six: f64,
}

/// Piecewise-linear map from seconds to grid positions.
#[derive(Debug, Clone)]
pub struct Warp {
    anchors: Vec<Anchor>,
}

impl Warp {
    /// Tracks the grid through `onsets` (sorted, finite), starting from the straight grid on
    /// which time `origin` is position `start` with sixteenths of `six` seconds.
    pub fn new(onsets: &[f64], origin: f64, start: f64, six: f64) -> Warp {
        let mut anchors = vec![Anchor {
            time: origin,
            pos: start,
            six,
        }];
        if let Some(&t0) = onsets.first() {
            let p0 = (start + (t0 - origin) / six).round();
            anchors.push(Anchor {
                time: t0,
                pos: p0,
                six,
            });
        }
        for &t in onsets.iter().skip(1) {
            let Some(&a) = anchors.last() else { break };
            let x = a.pos + (t - a.time) / a.six;
            let beat = (x / 4.0).round() * 4.0;
            let eighth = (x / 2.0).round() * 2.0;
            let k = if (x - beat).abs() <= STEER_BEAT {
                beat
            } else if (x - eighth).abs() <= STEER {
                eighth
            } else {
                continue;
            };
            if k <= a.pos {
                continue;
            }
            let predicted = a.time + (k - a.pos) * a.six;
            // The sixteenth measured from an anchor about a bar back.
            let from = anchors
                .iter()
                .rev()
                .skip(1)
                .find(|b| k - b.pos >= SPAN)
                .copied()
                .unwrap_or(anchors[1.min(anchors.len() - 1)]);
            let mut next_six = a.six;
            if k > from.pos {
                let measured = (t - from.time) / (k - from.pos);
                next_six = (a.six + TEMPO_GAIN * (measured - a.six)).clamp(0.75 * six, 1.33 * six);
            }
            anchors.push(Anchor {
                time: predicted + PHASE_GAIN * (t - predicted),
                pos: k,
                six: next_six,
            });
        }
        Warp { anchors }
    }

    /// Grid position of time `t` (sixteenths, fractional).
    pub fn pos(&self, t: f64) -> f64 {
        let a = self.anchor(t);
        a.pos + (t - a.time) / a.six
    }

    /// Length of a sixteenth at time `t`, seconds.
    pub fn six(&self, t: f64) -> f64 {
        self.anchor(t).six
    }

    fn anchor(&self, t: f64) -> Anchor {
        let i = self.anchors.partition_point(|a| a.time <= t);
        self.anchors[i.saturating_sub(1)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_steady_grid_is_a_straight_line_and_a_slowing_one_is_followed() {
        let w = Warp::new(&[1.0, 1.5, 2.0, 2.5], 1.0, 0.0, 0.125);
        for (t, p) in [(1.0, 0.0), (1.25, 2.0), (2.5, 12.0), (3.0, 16.0)] {
            assert!((w.pos(t) - p).abs() < 1e-9, "{t}: {}", w.pos(t));
        }
        // Quarters whose beat grows by 1 % each (27 % slower at the end): the last is 12
        // sixteenths late on the straight grid, but on its quarter on the followed one.
        let mut onsets = vec![0.0];
        let mut beat = 0.5;
        for _ in 0..24 {
            onsets.push(onsets[onsets.len() - 1] + beat);
            beat *= 1.01;
        }
        let w = Warp::new(&onsets, 0.0, 0.0, 0.125);
        for (i, &t) in onsets.iter().enumerate() {
            let x = w.pos(t);
            assert!((x - 4.0 * i as f64).abs() < 0.5, "onset {i}: {x}");
        }
    }
}
