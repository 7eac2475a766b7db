//! Harmonic-versus-fundamental check on the NSDF's peaks. A vowel whose formant lifts the
//! second or third harmonic far above the fundamental is nearly periodic at the harmonic's
//! period too, so McLeod's "first peak above k times the highest" picks the harmonic for
//! most k. The true period shows itself in the pattern of the peaks at multiples of the
//! harmonic's lag: those at multiples of the true period are clearly higher than the others
//! (the fundamental's share of the energy is out of phase at the rest), while a truly
//! periodic voice repeats about equally well at every multiple of its period.

/// The true period's peak must be at least this much higher than the others...
const MARGIN: f32 = 0.03;
/// ...and leave at most this share of the candidate's aperiodicity (1 - height): noise
/// lowers every peak alike, a missing fundamental only the harmonic's.
const APERIODIC_SHARE: f32 = 0.5;
/// The most a parabola through three NSDF samples misses a lobe's top by.
const PARABOLA_MISS: f32 = 0.2;
/// How close a peak must be to a multiple of the lag (semitones).
const TOLERANCE: f32 = 0.35;

use crate::nsdf_interp::nsdf_at;

/// The NSDF around one frame's peaks, with heights measured alike at every lag: a parabola
/// through three samples misses the top of a lobe by up to 0.15 when strong harmonics lie
/// near the Nyquist rate, by an amount that depends on where the lag falls between samples,
/// which would make multiples of a true period look more periodic than the period itself.
pub struct Lags<'a> {
    /// NSDF per integer lag.
    pub nsdf: &'a [f32],
    /// Analysis sample rate (Hz).
    pub rate: f64,
}

impl Lags<'_> {
    fn height(&self, p: (f32, f32)) -> f32 {
        let lag = self.rate / (440.0 * 2f64.powf((f64::from(p.0) - 69.0) / 12.0));
        // At the peak's own lag (a parabola's or the sinc search's): a height error of the
        // second order in the lag's error.
        let top = nsdf_at(self.nsdf, lag) as f32;
        top.clamp(p.1, 1.0)
    }
}

/// Semitones below a pitch of the period `k` times as long.
fn below(k: f32) -> f32 {
    12.0 * k.log2()
}

/// Height of the highest peak within `TOLERANCE` of `midi`.
fn height_at(peaks: &[(f32, f32)], midi: f32, lags: &Lags) -> Option<f32> {
    peaks
        .iter()
        .filter(|p| (p.0 - midi).abs() < TOLERANCE)
        .map(|&p| lags.height(p))
        .max_by(f32::total_cmp)
}

/// Index of the peak that stands for the fundamental of peak `i`; `peaks` are
/// (MIDI, height) in order of increasing lag.
pub fn fundamental(peaks: &[(f32, f32)], mut i: usize, lags: &Lags) -> usize {
    'up: loop {
        let m = peaks[i].0;
        let mut h = None;
        // The period twice or three times as long, if it stands out: higher than the
        // candidate, and than the multiple of the candidate's lag that is not one of its own
        // (3 for 2, 2 for 3), where that is in range.
        for (k, other) in [(2.0f32, 3.0f32), (3.0, 2.0)] {
            let target = m - below(k);
            let Some(j) = peaks
                .iter()
                .enumerate()
                .skip(i + 1)
                .filter(|(_, q)| (q.0 - target).abs() < TOLERANCE)
                .max_by(|a, b| a.1 .1.total_cmp(&b.1 .1))
                .map(|(j, _)| j)
            else {
                continue;
            };
            // A parabola's height is never above the lobe's top, nor more than
            // `PARABOLA_MISS` under it: most frames are decided without interpolating.
            if peaks[j].1 + PARABOLA_MISS < peaks[i].1 + MARGIN {
                continue;
            }
            let h = *h.get_or_insert_with(|| lags.height(peaks[i]));
            let q = lags.height(peaks[j]);
            let stands_out = q >= h + MARGIN
                && 1.0 - q <= APERIODIC_SHARE * (1.0 - h)
                && height_at(peaks, m - below(other), lags).is_none_or(|o| o <= q - MARGIN);
            if stands_out {
                i = j;
                continue 'up;
            }
        }
        return i;
    }
}

/// The fundamentals found in one frame, since McLeod's rule picks the same peak for
/// several thresholds.
#[derive(Default)]
pub struct Memo(Vec<(usize, usize)>);

impl Memo {
    /// Forgets the previous frame.
    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// [`fundamental`], once per peak.
    pub fn get(&mut self, peaks: &[(f32, f32)], i: usize, lags: &Lags) -> usize {
        if let Some(&(_, f)) = self.0.iter().find(|(a, _)| *a == i) {
            return f;
        }
        let f = fundamental(peaks, i, lags);
        self.0.push((i, f));
        f
    }
}
