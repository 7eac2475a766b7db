//! Signal preparation: decimation to an analysis rate near 8 kHz (a voice's pitch and
//! its first harmonics fit well below 4 kHz, and fewer samples make every later stage
//! cheaper), a high-pass against rumble and mains hum, and frame energies.

use crate::Audio;

/// Analysis hop in seconds (5 ms): fine enough for 50 ms onset tolerance.
pub const HOP_S: f64 = 0.005;
/// Target analysis rate; the actual rate is the input rate divided by an integer.
const TARGET_RATE: f64 = 8000.0;
/// High-pass corner (Hz): under the lowest sung note (E2 = 82 Hz), above mains hum.
const HIGHPASS_HZ: f64 = 60.0;

/// The analysis signal: decimated, high-passed mono samples and the framing that all
/// later stages share.
pub struct Signal {
    /// Samples at `rate`.
    pub x: Vec<f32>,
    /// Analysis sample rate in Hz.
    pub rate: f64,
    /// Hop between frames in samples.
    pub hop: usize,
    /// Number of frames (frame `i` is centred on sample `i * hop`).
    pub frames: usize,
}

impl Signal {
    /// Hop in seconds (exact, from the integer hop).
    pub fn hop_s(&self) -> f64 {
        self.hop as f64 / self.rate
    }
}

/// Decimates, filters and frames the audio.
pub fn prepare(audio: &Audio) -> Signal {
    let sr = f64::from(audio.sample_rate);
    let factor = ((sr / TARGET_RATE).round() as usize).max(1);
    let rate = sr / factor as f64;
    let mut x = decimate(&audio.samples, factor);
    highpass(&mut x, rate, HIGHPASS_HZ);
    let hop = ((rate * HOP_S).round() as usize).max(1);
    let frames = x.len() / hop + 1;
    Signal {
        x,
        rate,
        hop,
        frames,
    }
}

/// Low-pass (Hann-windowed sinc) and keep every `factor`-th sample.
fn decimate(input: &[f32], factor: usize) -> Vec<f32> {
    if factor == 1 {
        return input.to_vec();
    }
    let half = 4 * factor;
    let cutoff = 0.45 / factor as f64; // cycles per input sample
    let taps: Vec<f32> = (0..=2 * half)
        .map(|k| {
            let n = k as f64 - half as f64;
            let sinc = if n == 0.0 {
                2.0 * cutoff
            } else {
                (2.0 * std::f64::consts::PI * cutoff * n).sin() / (std::f64::consts::PI * n)
            };
            let w = 0.5 + 0.5 * (std::f64::consts::PI * n / (half as f64 + 1.0)).cos();
            (sinc * w) as f32
        })
        .collect();
    let n_out = input.len().div_ceil(factor);
    let mut out = Vec::with_capacity(n_out);
    for o in 0..n_out {
        let c = o * factor;
        let acc = if c >= half && c + half < input.len() {
            input[c - half..=c + half]
                .iter()
                .zip(&taps)
                .map(|(a, b)| a * b)
                .sum::<f32>()
        } else {
            let mut acc = 0.0f32;
            for (k, t) in taps.iter().enumerate() {
                let idx = c as isize + k as isize - half as isize;
                if idx >= 0 && (idx as usize) < input.len() {
                    acc += input[idx as usize] * t;
                }
            }
            acc
        };
        out.push(acc);
    }
    out
}

/// Second-order Butterworth high-pass, in place.
fn highpass(x: &mut [f32], rate: f64, corner: f64) {
    let w0 = 2.0 * std::f64::consts::PI * corner / rate;
    let q = std::f64::consts::FRAC_1_SQRT_2;
    let alpha = w0.sin() / (2.0 * q);
    let cosw = w0.cos();
    let a0 = 1.0 + alpha;
    let b0 = (1.0 + cosw) / 2.0 / a0;
    let b1 = -(1.0 + cosw) / a0;
    let b2 = b0;
    let a1 = -2.0 * cosw / a0;
    let a2 = (1.0 - alpha) / a0;
    let (mut x1, mut x2, mut y1, mut y2) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    for s in x.iter_mut() {
        let x0 = f64::from(*s);
        let y0 = b0 * x0 + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2;
        x2 = x1;
        x1 = x0;
        y2 = y1;
        y1 = y0;
        *s = y0 as f32;
    }
}

/// Frame energies in dB (mean square over a window of `win` samples centred on each
/// frame); silence is floored at -140 dB.
pub fn frame_energy_db(sig: &Signal, win: usize) -> Vec<f32> {
    let n = sig.x.len();
    // Prefix sums of squares make any window O(1).
    let mut prefix = Vec::with_capacity(n + 1);
    let mut acc = 0.0f64;
    prefix.push(0.0);
    for &v in &sig.x {
        acc += f64::from(v) * f64::from(v);
        prefix.push(acc);
    }
    let half = win / 2;
    (0..sig.frames)
        .map(|i| {
            let c = i * sig.hop;
            let a = c.saturating_sub(half).min(n);
            let b = (c + half).min(n);
            let ms = if b > a {
                (prefix[b] - prefix[a]) / win as f64
            } else {
                0.0
            };
            (10.0 * (ms + 1e-14).log10()) as f32
        })
        .collect()
}
