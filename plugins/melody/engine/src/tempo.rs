//! Tempo estimate from note onsets.
//!
//! Hummed tunes put their onsets on a metrical grid, so the beat period is the one that
//! makes the inter-onset intervals (of neighbouring and next-but-one notes) closest to
//! whole multiples of an eighth note, weighted by a broad prior centred on 100 bpm
//! (without it, ever finer grids would always fit better).

use crate::Note;

/// Tempo used when there are too few notes to measure one.
pub const FALLBACK_BPM: f64 = 120.0;

/// Estimates the tempo (bpm, 50 to 200) from the notes' onsets.
pub fn estimate(notes: &[Note]) -> f64 {
    if notes.len() < 3 {
        return FALLBACK_BPM;
    }
    let mut iois = Vec::new();
    for lag in 1..=3 {
        for w in notes.windows(lag + 1) {
            let d = w[lag].onset_s - w[0].onset_s;
            if d > 0.08 && d < 4.0 {
                iois.push(d);
            }
        }
    }
    if iois.is_empty() {
        return FALLBACK_BPM;
    }
    let sigma = 0.03;
    let mut best = (f64::NEG_INFINITY, FALLBACK_BPM);
    let mut bpm = 50.0;
    while bpm <= 200.0 {
        let eighth = 30.0 / bpm;
        let fit: f64 = iois
            .iter()
            .map(|&d| {
                let k = (d / eighth).round().max(1.0);
                let err = d - k * eighth;
                (-0.5 * (err / sigma).powi(2)).exp()
            })
            .sum::<f64>()
            / iois.len() as f64;
        let prior = (-0.5 * ((bpm / 100.0).log2() / 0.6).powi(2)).exp();
        let s = fit.ln() + 0.5 * prior.ln();
        if s > best.0 {
            best = (s, bpm);
        }
        bpm += 0.5;
    }
    best.1
}
