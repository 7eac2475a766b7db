//! The NSDF between its integer lags, for short periods (high voices, whistles): the NSDF of
//! a band-limited signal is itself nearly band-limited, so Lanczos interpolation recovers
//! the peak that three samples of a 4-sample period cannot.

/// Periods shorter than this (samples) are refined on the band-limited NSDF: a parabola
/// through three samples of a 4-sample period misses by tens of cents (whistles near C7).
pub const SINC_REFINE_TAU: usize = 14;

/// The NSDF between samples (Lanczos, 6 lobes), using its symmetry around lag 0.
pub fn nsdf_at(nsdf: &[f32], x: f64) -> f64 {
    const A: i64 = 6;
    let base = x.floor() as i64;
    // sin(pi (x - k)) only alternates in sign with k.
    let s0 = (std::f64::consts::PI * (x - base as f64)).sin();
    let mut acc = 0.0;
    for k in base - A + 1..=base + A {
        let idx = k.unsigned_abs() as usize;
        let Some(&v) = nsdf.get(idx) else { continue };
        let d = x - k as f64;
        let w = if d.abs() < 1e-9 {
            1.0
        } else {
            let pd = std::f64::consts::PI * d;
            let s = if (base - k) % 2 == 0 { s0 } else { -s0 };
            A as f64 * s * (pd / A as f64).sin() / (pd * pd)
        };
        acc += f64::from(v) * w;
    }
    acc
}

/// The lag of the NSDF's maximum near `x0`, by golden-section search over +-0.6 samples
/// (12 steps: within 0.002 samples, a cent at a 4-sample period).
pub fn sinc_peak(nsdf: &[f32], x0: f64) -> f64 {
    let g = 0.618_033_988_75;
    let (mut a, mut b) = (x0 - 0.6, x0 + 0.6);
    let mut c = b - g * (b - a);
    let mut d = a + g * (b - a);
    let (mut fc, mut fd) = (nsdf_at(nsdf, c), nsdf_at(nsdf, d));
    for _ in 0..12 {
        if fc > fd {
            b = d;
            d = c;
            fd = fc;
            c = b - g * (b - a);
            fc = nsdf_at(nsdf, c);
        } else {
            a = c;
            c = d;
            fc = fd;
            d = a + g * (b - a);
            fd = nsdf_at(nsdf, d);
        }
    }
    0.5 * (a + b)
}
