//! The sources: a harmonic voice shaped by vowel formants (with consonant noise and
//! breath), and a near-sinusoidal whistle.

use super::plan::{contour, Plan};
use super::{Condition, Rng};
use std::f64::consts::PI;

const VOWELS: [[f64; 3]; 5] = [
    [700.0, 1220.0, 2600.0], // ah
    [300.0, 870.0, 2240.0],  // oo
    [270.0, 2290.0, 3010.0], // ee
    [500.0, 900.0, 2500.0],  // oh
    [250.0, 1000.0, 2500.0], // mm
];

pub fn voice(r: &mut Rng, c: Condition, plans: &[Plan], rate: u32, n: usize) -> Vec<f32> {
    let fs = f64::from(rate);
    let mut x = vec![0.0f32; n];
    let fmul = match c {
        Condition::Child => 1.3,
        Condition::Low => 0.9,
        _ => r.range(0.95, 1.15),
    };
    let default_vowel = r.int(0, 4) as usize;
    let tilt = r.range(-12.0, -6.0);
    let breath = r.range(0.01, 0.04);
    let block = (fs * 0.005) as usize;
    let mut amps = [0.0f64; 40];
    let mut phase = 0.0f64;
    let mut jit = 0.0f64;
    let mut k = 0usize;
    let mut hp = 0.0f64;
    for (i, xi) in x.iter_mut().enumerate() {
        let t = i as f64 / fs;
        while k + 1 < plans.len() && t >= plans[k].offset {
            k += 1;
        }
        let p = &plans[k];
        // Consonant noise before the vowel.
        if p.consonant > 0 && t >= p.onset - p.cons_s && t < p.onset {
            let u = (t - (p.onset - p.cons_s)) / p.cons_s;
            let w = r.normal();
            let hi = w - hp;
            hp = w;
            let (env, s) = match p.consonant {
                1 => ((PI * u).sin(), 0.5 * hi),
                2 => ((PI * u).sin(), 0.3 * w),
                _ => (if u > 0.3 { (1.0 - u) * 1.5 } else { 0.0 }, 0.6 * hi),
            };
            *xi += (0.25 * p.gain * env * s) as f32;
            continue;
        }
        if t < p.onset || t >= p.offset {
            continue;
        }
        if i % 64 == 0 {
            jit = 0.97 * jit + 0.03 * 0.15 * r.normal();
        }
        let (m, a) = contour(plans, k, t, jit);
        let f0 = 440.0 * 2f64.powf((m - 69.0) / 12.0);
        let nh = ((0.45 * fs.min(16000.0) / f0) as usize).clamp(1, amps.len());
        if i % block == 0 {
            let vowel = if c == Condition::Words {
                p.vowel
            } else {
                default_vowel
            };
            for (h, amp) in amps.iter_mut().enumerate().take(nh) {
                let f = f0 * (h + 1) as f64;
                let mut g = 0.03;
                for (j, &fm) in VOWELS[vowel].iter().enumerate() {
                    let fm = fm * fmul;
                    let bw = 60.0 + 40.0 * j as f64;
                    g += [1.0, 0.5, 0.25][j] / (1.0 + ((f - fm) / bw).powi(2));
                }
                *amp = g * 10f64.powf(tilt / 20.0 * ((h + 1) as f64).log2());
            }
        }
        phase += 2.0 * PI * f0 / fs;
        if phase > 2.0 * PI {
            phase -= 2.0 * PI;
        }
        let mut s = 0.0;
        for (h, amp) in amps.iter().enumerate().take(nh) {
            s += amp * (phase * (h + 1) as f64).sin();
        }
        s += breath * r.normal();
        *xi += (0.3 * a * s) as f32;
    }
    x
}

pub fn whistle(r: &mut Rng, plans: &[Plan], rate: u32, n: usize) -> Vec<f32> {
    let fs = f64::from(rate);
    let mut x = vec![0.0f32; n];
    let (mut phase, mut jit, mut k) = (0.0f64, 0.0f64, 0usize);
    let h2 = r.range(0.02, 0.08);
    for (i, v) in x.iter_mut().enumerate() {
        let t = i as f64 / fs;
        while k + 1 < plans.len() && t >= plans[k].offset {
            k += 1;
        }
        let p = &plans[k];
        if t < p.onset || t >= p.offset {
            continue;
        }
        if i % 64 == 0 {
            jit = 0.97 * jit + 0.03 * 0.1 * r.normal();
        }
        let (m, a) = contour(plans, k, t, jit);
        let f0 = 440.0 * 2f64.powf((m - 69.0) / 12.0);
        phase += 2.0 * PI * f0 / fs;
        if phase > 2.0 * PI {
            phase -= 2.0 * PI;
        }
        let s = phase.sin() + h2 * (2.0 * phase).sin() + 0.03 * r.normal();
        *v = (0.3 * a * s) as f32;
    }
    x
}
