//! What lies between the singer and the microphone: the room and the background noise.

use super::Rng;
use std::f64::consts::PI;

/// A room: an 8-line feedback delay network whose loop gains give the RT60, mildly
/// darker as it decays, mixed to a direct-to-reverberant ratio of `drr_db`.
pub fn room(x: &[f32], rate: u32, rt60: f64, drr_db: f64, r: &mut Rng) -> Vec<f32> {
    let fs = f64::from(rate);
    let size = r.range(0.8, 1.3);
    let lens: Vec<usize> = [29.7, 37.1, 41.1, 43.7, 53.0, 59.3, 67.1, 73.9]
        .iter()
        .map(|ms| ((ms * size / 1000.0 * fs) as usize).max(1))
        .collect();
    let wet = |input: &[f64], len: usize| -> Vec<f64> {
        let mut lines: Vec<Vec<f64>> = lens.iter().map(|&l| vec![0.0; l]).collect();
        let gains: Vec<f64> = lens
            .iter()
            .map(|&l| 10f64.powf(-3.0 * l as f64 / (rt60 * fs)))
            .collect();
        let mut lp = [0.0f64; 8];
        let mut pos = [0usize; 8];
        let mut out = vec![0.0f64; len];
        let mut o = [0.0f64; 8];
        for (i, y) in out.iter_mut().enumerate() {
            let u = input.get(i).copied().unwrap_or(0.0);
            for j in 0..8 {
                let v = lines[j][pos[j]] * gains[j];
                lp[j] = 0.7 * v + 0.3 * lp[j];
                o[j] = lp[j];
            }
            *y = o.iter().sum::<f64>();
            // Hadamard mixing, normalised.
            let mut h = o;
            let mut w = 1;
            while w < 8 {
                for a in (0..8).step_by(2 * w) {
                    for b in a..a + w {
                        let (p, q) = (h[b], h[b + w]);
                        h[b] = p + q;
                        h[b + w] = p - q;
                    }
                }
                w *= 2;
            }
            for j in 0..8 {
                lines[j][pos[j]] = h[j] / 8f64.sqrt() + u;
                pos[j] = (pos[j] + 1) % lens[j];
            }
        }
        out
    };
    let ir_len = (rt60 * fs * 1.5) as usize;
    let mut imp = vec![0.0f64; 1];
    imp[0] = 1.0;
    let ir = wet(&imp, ir_len);
    let e_ir: f64 = ir.iter().map(|v| v * v).sum();
    let g = (10f64.powf(-drr_db / 10.0) / e_ir.max(1e-12)).sqrt();
    let input: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
    let y = wet(&input, x.len());
    x.iter()
        .zip(&y)
        .map(|(&d, &w)| (f64::from(d) + g * w) as f32)
        .collect()
}

/// A dense room: the impulse response is exponentially decaying Gaussian noise in three
/// bands (the high band decays twice as fast as the low one, so the tail darkens) after a few
/// early reflections, mixed to `drr_db`. Real rooms above ~200 Hz have dense, overlapping
/// modes; this holds a steady tone steady, where the 8-line network (`room`) beats.
pub fn dense_room(x: &[f32], rate: u32, rt60: f64, drr_db: f64, r: &mut Rng) -> Vec<f32> {
    let fs = f64::from(rate);
    let n = (rt60 * fs * 1.5) as usize;
    let pre = (r.range(0.004, 0.012) * fs) as usize;
    // Lowest band at rt60, middle 0.8x, highest 0.5x; one-pole splits at ~500 Hz and ~3 kHz.
    let a1 = (-2.0 * PI * 500.0 / fs).exp();
    let a2 = (-2.0 * PI * 3000.0 / fs).exp();
    let (mut l1, mut l2) = (0.0f64, 0.0f64);
    let mut ir = vec![0.0f64; n];
    for (i, v) in ir.iter_mut().enumerate().skip(pre) {
        let t = (i - pre) as f64 / fs;
        let w = r.normal();
        l1 = (1.0 - a1) * w + a1 * l1;
        l2 = (1.0 - a2) * w + a2 * l2;
        let (low, mid, high) = (l1, l2 - l1, w - l2);
        let env = |k: f64| (-6.91 * t / (rt60 * k)).exp();
        // A 10 ms fade-in: the tail builds up rather than starting at its loudest.
        let ramp = (t / 0.01).min(1.0);
        *v = ramp * (low * env(1.0) + mid * env(0.8) + high * 0.7 * env(0.5));
    }
    let e_tail: f64 = ir.iter().map(|v| v * v).sum();
    for k in 0..6 {
        let at = (r.range(0.002, 0.025) * fs) as usize;
        let sign = if r.chance(0.5) { 1.0 } else { -1.0 };
        if at < n {
            ir[at] +=
                sign * r.range(0.15, 0.4) * (e_tail / n as f64).sqrt() * 30.0 / (k + 1) as f64;
        }
    }
    let e_ir: f64 = ir.iter().map(|v| v * v).sum();
    let g = (10f64.powf(-drr_db / 10.0) / e_ir.max(1e-12)).sqrt();
    let input: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
    let y = convolve(&input, &ir);
    x.iter()
        .zip(&y)
        .map(|(&d, &w)| (f64::from(d) + g * w) as f32)
        .collect()
}

/// `a` convolved with `b`, cut to `a`'s length (FFT, so 10 s at 44.1 kHz stays fast).
fn convolve(a: &[f64], b: &[f64]) -> Vec<f64> {
    let size = (a.len() + b.len()).next_power_of_two();
    let mut fa: Vec<(f64, f64)> = (0..size)
        .map(|i| (a.get(i).copied().unwrap_or(0.0), 0.0))
        .collect();
    let mut fb: Vec<(f64, f64)> = (0..size)
        .map(|i| (b.get(i).copied().unwrap_or(0.0), 0.0))
        .collect();
    fft(&mut fa, false);
    fft(&mut fb, false);
    for (p, q) in fa.iter_mut().zip(&fb) {
        *p = (p.0 * q.0 - p.1 * q.1, p.0 * q.1 + p.1 * q.0);
    }
    fft(&mut fa, true);
    fa.iter().take(a.len()).map(|v| v.0 / size as f64).collect()
}

/// In-place radix-2 FFT (unscaled; `inverse` flips the sign of the exponent).
fn fft(x: &mut [(f64, f64)], inverse: bool) {
    let n = x.len();
    let mut j = 0;
    for i in 1..n {
        let mut bit = n >> 1;
        while j & bit != 0 {
            j ^= bit;
            bit >>= 1;
        }
        j |= bit;
        if i < j {
            x.swap(i, j);
        }
    }
    let mut len = 2;
    while len <= n {
        let ang = if inverse { 2.0 } else { -2.0 } * PI / len as f64;
        let (wr, wi) = (ang.cos(), ang.sin());
        for s in (0..n).step_by(len) {
            let (mut cr, mut ci) = (1.0f64, 0.0f64);
            for k in 0..len / 2 {
                let (ur, ui) = x[s + k];
                let (vr0, vi0) = x[s + k + len / 2];
                let (vr, vi) = (vr0 * cr - vi0 * ci, vr0 * ci + vi0 * cr);
                x[s + k] = (ur + vr, ui + vi);
                x[s + k + len / 2] = (ur - vr, ui - vi);
                (cr, ci) = (cr * wr - ci * wi, cr * wi + ci * wr);
            }
        }
        len <<= 1;
    }
}

/// Held-note energy fluctuation: the standard deviation (dB) of 20 ms frame energies over
/// the steady part of every note of at least 0.5 s (its first 150 ms and last 100 ms left
/// out), averaged over those notes. A steady tone in a dense room stays within a few dB.
pub fn held_fluctuation_db(x: &[f32], rate: u32, notes: &[(f64, f64)]) -> Option<f64> {
    let fs = f64::from(rate);
    let hop = (0.02 * fs) as usize;
    let mut stds = Vec::new();
    for &(on, off) in notes {
        if off - on < 0.5 {
            continue;
        }
        let (a, b) = (
            ((on + 0.15) * fs) as usize,
            (((off - 0.1) * fs) as usize).min(x.len()),
        );
        let db: Vec<f64> = (a..b.saturating_sub(hop))
            .step_by(hop)
            .map(|s| {
                let e = x[s..s + hop]
                    .iter()
                    .map(|&v| f64::from(v).powi(2))
                    .sum::<f64>();
                10.0 * (e / hop as f64 + 1e-12).log10()
            })
            .collect();
        if db.len() < 5 {
            continue;
        }
        let m = db.iter().sum::<f64>() / db.len() as f64;
        stds.push((db.iter().map(|v| (v - m).powi(2)).sum::<f64>() / db.len() as f64).sqrt());
    }
    (!stds.is_empty()).then(|| stds.iter().sum::<f64>() / stds.len() as f64)
}

/// White or pink (Paul Kellet's filter) noise of the given RMS.
pub fn add_noise(x: &mut [f32], level: f64, pink: bool, r: &mut Rng) {
    let mut b = [0.0f64; 7];
    let mut buf = Vec::with_capacity(x.len());
    for _ in 0..x.len() {
        let w = r.normal();
        let v = if pink {
            b[0] = 0.99886 * b[0] + w * 0.0555179;
            b[1] = 0.99332 * b[1] + w * 0.0750759;
            b[2] = 0.96900 * b[2] + w * 0.1538520;
            b[3] = 0.86650 * b[3] + w * 0.3104856;
            b[4] = 0.55000 * b[4] + w * 0.5329522;
            b[5] = -0.7616 * b[5] - w * 0.0168980;
            let s = b[0] + b[1] + b[2] + b[3] + b[4] + b[5] + b[6] + w * 0.5362;
            b[6] = w * 0.115926;
            s
        } else {
            w
        };
        buf.push(v);
    }
    let rms = (buf.iter().map(|v| v * v).sum::<f64>() / buf.len().max(1) as f64).sqrt();
    let g = if rms > 0.0 { level / rms } else { 0.0 };
    for (s, v) in x.iter_mut().zip(&buf) {
        *s += (v * g) as f32;
    }
}
