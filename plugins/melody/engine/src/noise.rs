//! The clip's steady noise taken off the frame energies.
//!
//! In strong background noise (pink noise at 5-10 dB SNR) the energy between two notes of the
//! same pitch, or after a note's release, stays at the noise level only a few dB under the
//! voice, so repeats merge and offsets run on until the next note. The noise's power is
//! measured on the clip's quietest frames (between phrases only the noise is left) and taken
//! off every frame's power (power subtraction), which turns a 5 dB dip into a deep one.
//! A clip whose voice stands well clear of its floor is left as it was.

/// Share of the quietest frames that measure the noise.
const QUIET_SHARE: f64 = 0.1;
/// The measured noise power is taken off this many times: frames of noise alone vary
/// around the mean, and over-subtraction sends most of them well under the voice.
const OVER_SUBTRACT: f32 = 1.5;
/// A frame keeps at least this much of its power (dB under it), so noise frames keep an
/// order and the release slopes stay finite.
const MAX_DEPTH_DB: f32 = 10.0;
/// Voice level (97th percentile) over the noise floor under which the noise is taken off
/// in full, and over which it is left alone (dB); in between, a share. Clean recordings
/// sit 30-45 dB over their floor, 10 dB SNR near 17, 5 dB SNR near 12.
const FULL_GAP_DB: f32 = 20.0;
const NO_GAP_DB: f32 = 30.0;

/// Takes the steady noise's power off frame energies in dB, in place.
pub fn subtract_floor(energy_db: &mut [f32]) {
    let mut s: Vec<f32> = energy_db
        .iter()
        .copied()
        .filter(|e| e.is_finite() && *e > -130.0)
        .collect();
    if s.len() < 20 {
        return;
    }
    s.sort_by(f32::total_cmp);
    let quiet = ((s.len() as f64 * QUIET_SHARE) as usize).max(1);
    let noise = s[..quiet].iter().map(|&e| power(e)).sum::<f32>() / quiet as f32;
    let loud = s[((s.len() - 1) as f64 * 0.97).round() as usize];
    let gap = loud - 10.0 * noise.log10();
    let share = ((NO_GAP_DB - gap) / (NO_GAP_DB - FULL_GAP_DB)).clamp(0.0, 1.0);
    if share <= 0.0 {
        return;
    }
    let take = noise * OVER_SUBTRACT * share;
    let keep = power(-MAX_DEPTH_DB);
    for e in energy_db.iter_mut().filter(|e| e.is_finite()) {
        let p = power(*e);
        *e = 10.0 * (p - take).max(p * keep).max(1e-14).log10();
    }
}

fn power(db: f32) -> f32 {
    10f32.powf(db / 10.0)
}
