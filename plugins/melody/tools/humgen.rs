//! humgen: seeded synthetic hummed melodies with exact note truth, in the conditions where
//! transcription is hard (rooms, slow scoops, deep vibrato, sung words, child and low male
//! voices, whistles, pink noise). Pure std so the engine's tests and the `humset` example
//! share one generator: `#[path = "../../tools/humgen.rs"] mod humgen;`.
//!
//! Truth follows `shared/melody-dev`: the intended semitone; a detached note starts at its
//! attack (a consonant before the vowel is not part of it) and ends at the end of its
//! release; a legato note starts where the glide leaves the previous note, which ends there.

#![allow(dead_code)]

use std::f64::consts::PI;

/// Deterministic generator (splitmix64), so every clip is a function of its seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9e37_79b9_7f4a_7c15)
    }
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub fn f(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn range(&mut self, a: f64, b: f64) -> f64 {
        a + (b - a) * self.f()
    }
    pub fn int(&mut self, a: i32, b: i32) -> i32 {
        a + (self.f() * f64::from(b - a + 1)).floor() as i32
    }
    pub fn chance(&mut self, p: f64) -> bool {
        self.f() < p
    }
    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let u = self.f().max(1e-12);
        (-2.0 * u.ln()).sqrt() * (2.0 * PI * self.f()).cos()
    }
}

/// The recording condition of a clip; its name prefixes the clip's file name.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Condition {
    Dry,
    Room,
    Glide,
    Vibrato,
    Words,
    Child,
    Low,
    Whistle,
    Noise10,
    Noise5,
}

impl Condition {
    pub const ALL: [Condition; 10] = [
        Condition::Dry,
        Condition::Room,
        Condition::Glide,
        Condition::Vibrato,
        Condition::Words,
        Condition::Child,
        Condition::Low,
        Condition::Whistle,
        Condition::Noise10,
        Condition::Noise5,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Condition::Dry => "dry",
            Condition::Room => "room",
            Condition::Glide => "glide",
            Condition::Vibrato => "vibrato",
            Condition::Words => "words",
            Condition::Child => "child",
            Condition::Low => "low",
            Condition::Whistle => "whistle",
            Condition::Noise10 => "noise10",
            Condition::Noise5 => "noise5",
        }
    }
    pub fn from_name(s: &str) -> Option<Condition> {
        Condition::ALL.into_iter().find(|c| c.name() == s)
    }
}

/// One note of the truth.
#[derive(Clone, Copy, Debug)]
pub struct TruthNote {
    pub onset: f64,
    pub offset: f64,
    pub pitch: u8,
}

/// A generated recording and its notes.
pub struct Clip {
    pub name: String,
    pub condition: Condition,
    pub rate: u32,
    pub samples: Vec<f32>,
    pub truth: Vec<TruthNote>,
}

/// Which of the two disjoint seed ranges a set comes from.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SetKind {
    /// The set to look at while developing.
    Tune,
    /// Seeds (hence tunes, voices and rooms) never looked at while developing.
    HeldOut,
}

/// `per` clips of every condition, each about `seconds` long; `rate` None picks 16, 22.05
/// or 44.1 kHz per clip.
pub fn set(kind: SetKind, per: usize, seconds: f64, rate: Option<u32>) -> Vec<Clip> {
    let base: u64 = match kind {
        SetKind::Tune => 1_000,
        SetKind::HeldOut => 7_000_000,
    };
    let mut out = Vec::new();
    for (ci, &c) in Condition::ALL.iter().enumerate() {
        for i in 0..per {
            let seed = base + 1_000 * ci as u64 + i as u64;
            let mut clip = clip(c, seed, seconds, rate);
            clip.name = format!("{}_{:03}", c.name(), i + 1);
            out.push(clip);
        }
    }
    out
}

#[derive(Clone, Copy)]
struct Plan {
    onset: f64,
    offset: f64,
    midi: i32,
    detune: f64,
    legato: bool,
    /// Pitch glide into the note: start offset (semitones) and duration (s).
    scoop_st: f64,
    scoop_s: f64,
    vib_cents: f64,
    vib_hz: f64,
    vib_delay: f64,
    attack: f64,
    release: f64,
    /// Consonant before the vowel: kind (0 none, 1 s, 2 h, 3 t) and length (s).
    consonant: u8,
    cons_s: f64,
    vowel: usize,
    gain: f64,
}

const VOWELS: [[f64; 3]; 5] = [
    [700.0, 1220.0, 2600.0], // ah
    [300.0, 870.0, 2240.0],  // oo
    [270.0, 2290.0, 3010.0], // ee
    [500.0, 900.0, 2500.0],  // oh
    [250.0, 1000.0, 2500.0], // mm
];

/// Generates one clip of condition `c` from `seed`.
pub fn clip(c: Condition, seed: u64, seconds: f64, rate: Option<u32>) -> Clip {
    let mut r = Rng::new(seed);
    let rate = rate.unwrap_or([16_000, 22_050, 44_100][r.int(0, 2) as usize]);
    let (lo, hi) = match c {
        Condition::Child => (62, 84),
        Condition::Low => (38, 55),
        Condition::Whistle => (76, 96),
        _ => {
            if r.chance(0.5) {
                (48, 67)
            } else {
                (55, 76)
            }
        }
    };
    let plans = melody(&mut r, c, lo, hi, seconds);
    let total = plans.last().map_or(1.0, |p| p.offset) + 1.2;
    let n = (total * f64::from(rate)) as usize;
    let mut x = match c {
        Condition::Whistle => whistle(&mut r, &plans, rate, n),
        _ => voice(&mut r, c, &plans, rate, n),
    };
    let sounding: Vec<bool> = {
        let mut s = vec![false; n];
        for p in &plans {
            let a = ((p.onset - p.cons_s) * f64::from(rate)) as usize;
            let b = ((p.offset * f64::from(rate)) as usize).min(n);
            for v in &mut s[a.min(b)..b] {
                *v = true;
            }
        }
        s
    };
    let voice_rms = rms_where(&x, &sounding);
    if c == Condition::Room {
        let rt60 = r.range(0.6, 1.2);
        let drr = r.range(-2.0, 2.0);
        x = room(&x, rate, rt60, drr, &mut r);
    }
    let snr = match c {
        Condition::Noise10 => 10.0,
        Condition::Noise5 => 5.0,
        _ => r.range(25.0, 35.0),
    };
    let pink = matches!(c, Condition::Noise10 | Condition::Noise5) || r.chance(0.5);
    add_noise(&mut x, voice_rms * 10f64.powf(-snr / 20.0), pink, &mut r);
    let peak = x.iter().fold(0.0f64, |m, &v| m.max(f64::from(v).abs()));
    let target = 10f64.powf(r.range(-12.0, -1.0) / 20.0);
    let g = if peak > 0.0 { target / peak } else { 1.0 };
    let samples = x.iter().map(|&v| (f64::from(v) * g) as f32).collect();
    let truth = plans
        .iter()
        .map(|p| TruthNote {
            onset: (p.onset * 1000.0).round() / 1000.0,
            offset: (p.offset * 1000.0).round() / 1000.0,
            pitch: p.midi as u8,
        })
        .collect();
    Clip {
        name: format!("{}_{seed}", c.name()),
        condition: c,
        rate,
        samples,
        truth,
    }
}

fn rms_where(x: &[f32], mask: &[bool]) -> f64 {
    let (mut s, mut k) = (0.0f64, 0usize);
    for (v, &m) in x.iter().zip(mask) {
        if m {
            s += f64::from(*v) * f64::from(*v);
            k += 1;
        }
    }
    (s / k.max(1) as f64).sqrt()
}

/// A singable random tune in a major, minor or pentatonic key inside `lo..=hi`.
fn melody(r: &mut Rng, c: Condition, lo: i32, hi: i32, seconds: f64) -> Vec<Plan> {
    const SCALES: [&[i32]; 3] = [
        &[0, 2, 4, 5, 7, 9, 11],
        &[0, 2, 3, 5, 7, 8, 10],
        &[0, 2, 4, 7, 9],
    ];
    let scale = SCALES[r.int(0, 2) as usize];
    let tonic = r.int(lo, lo + 11);
    let pitches: Vec<i32> = (lo..=hi)
        .filter(|p| scale.contains(&((p - tonic).rem_euclid(12))))
        .collect();
    let beat = 60.0 / r.range(70.0, 140.0);
    let tune_off = r.range(-25.0, 25.0);
    let mut idx = (pitches.len() / 2) as i32;
    let mut t = r.range(0.3, 0.8);
    let mut out: Vec<Plan> = Vec::new();
    let mut in_phrase = 0;
    let phrase_len = |r: &mut Rng| r.int(4, 8);
    let mut plen = phrase_len(r);
    while t < seconds {
        // Step: mostly small, some leaps, some repeats.
        let u = r.f();
        let step = if u < 0.15 {
            0
        } else if u < 0.8 {
            if r.chance(0.5) {
                1
            } else {
                -1
            }
        } else if u < 0.93 {
            r.int(-2, 2)
        } else {
            r.int(-5, 5)
        };
        idx = (idx + step).clamp(0, pitches.len() as i32 - 1);
        let midi = pitches[idx as usize];
        let beats = [0.5, 1.0, 1.0, 1.0, 1.5, 2.0, 0.5, 1.0][r.int(0, 7) as usize];
        let slot = (beats * beat).clamp(0.16, 1.3);
        let prev = out.last().copied();
        let same = prev.is_some_and(|p| p.midi == midi);
        let words = c == Condition::Words;
        let legato_p = match c {
            Condition::Glide => 0.4,
            Condition::Words => 0.1,
            _ => 0.25,
        };
        let legato = in_phrase > 0 && !same && r.chance(legato_p);
        let gap = if legato {
            0.0
        } else if words {
            r.range(0.09, 0.2)
        } else {
            r.range(0.04, 0.2)
        };
        let (consonant, cons_s) = if words && !legato && r.chance(0.75) {
            let k = r.int(1, 3) as u8;
            let d = match k {
                1 => r.range(0.06, 0.12),
                2 => r.range(0.05, 0.09),
                _ => r.range(0.04, 0.07),
            };
            (k, d)
        } else {
            (0, 0.0)
        };
        let onset = if legato { t } else { t + gap + cons_s };
        let dur = (slot - gap).max(0.12);
        let slow = c == Condition::Glide && r.chance(0.8);
        let (scoop_st, scoop_s) = if legato {
            let d = if slow {
                r.range(0.15, 0.3)
            } else {
                r.range(0.04, 0.1)
            };
            (
                f64::from(prev.map_or(midi, |p| p.midi) - midi),
                d.min(dur * 0.6),
            )
        } else if slow {
            let below = r.chance(0.75);
            let st = if below {
                -r.range(1.0, 3.0)
            } else {
                r.range(1.0, 2.0)
            };
            (st, r.range(0.15, 0.3).min(dur * 0.6))
        } else if r.chance(0.5) {
            (r.range(-2.5, 1.5), r.range(0.02, 0.08))
        } else {
            (0.0, 0.0)
        };
        let (vib_cents, vib_delay) = if c == Condition::Vibrato && dur >= 0.25 {
            (r.range(80.0, 130.0), r.range(0.05, 0.15))
        } else if dur >= 0.45 && r.chance(0.6) {
            (r.range(10.0, 40.0), r.range(0.1, 0.25))
        } else {
            (0.0, 0.0)
        };
        let detune = (tune_off + 8.0 * r.normal()).clamp(-35.0, 35.0) / 100.0;
        if legato {
            if let Some(p) = out.last_mut() {
                p.offset = onset;
            }
        }
        out.push(Plan {
            onset,
            offset: onset + dur,
            midi,
            detune,
            legato,
            scoop_st,
            scoop_s,
            vib_cents,
            vib_hz: r.range(5.0, 6.5),
            vib_delay,
            attack: if consonant == 3 {
                r.range(0.01, 0.03)
            } else {
                r.range(0.015, 0.06)
            },
            release: r.range(0.02, 0.08),
            consonant,
            cons_s,
            vowel: if words { r.int(0, 3) as usize } else { 0 },
            gain: 10f64.powf(r.range(-4.0, 2.0) / 20.0),
        });
        t = onset + dur;
        in_phrase += 1;
        if in_phrase >= plen {
            t += r.range(0.4, 1.2);
            in_phrase = 0;
            plen = phrase_len(r);
        }
    }
    out
}

/// Pitch (fractional MIDI) and amplitude of plan `k` at time `t`.
fn contour(plans: &[Plan], k: usize, t: f64, jitter: f64) -> (f64, f64) {
    let p = &plans[k];
    let target = f64::from(p.midi) + p.detune;
    let dt = t - p.onset;
    let mut m = target;
    if p.scoop_s > 0.0 && dt < p.scoop_s {
        // A steady approach: fast at first, easing into the note.
        let x = dt / p.scoop_s;
        let from = if p.legato && k > 0 {
            f64::from(plans[k - 1].midi) + plans[k - 1].detune
        } else {
            target + p.scoop_st
        };
        m = from + (target - from) * (0.5 - 0.5 * (PI * x).cos());
    }
    if p.vib_cents > 0.0 && dt > p.vib_delay {
        let ramp = ((dt - p.vib_delay) / 0.1).min(1.0);
        m += ramp * p.vib_cents / 100.0 * (2.0 * PI * p.vib_hz * (dt - p.vib_delay)).sin();
    }
    m += jitter;
    let next_legato = plans
        .get(k + 1)
        .is_some_and(|n| n.legato && (n.onset - p.offset).abs() < 1e-9);
    let att = if p.legato {
        1.0
    } else {
        (dt / p.attack).min(1.0)
    };
    let rel = if next_legato {
        1.0
    } else {
        ((p.offset - t) / p.release).min(1.0)
    };
    // A slight swell or fade over the note.
    let shape = 1.0 + 0.15 * ((t - p.onset) / (p.offset - p.onset) - 0.5);
    (m, att.min(rel).max(0.0) * p.gain * shape)
}

fn voice(r: &mut Rng, c: Condition, plans: &[Plan], rate: u32, n: usize) -> Vec<f32> {
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

fn whistle(r: &mut Rng, plans: &[Plan], rate: u32, n: usize) -> Vec<f32> {
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

/// A room: an 8-line feedback delay network whose loop gains give the RT60, mildly
/// darker as it decays, mixed to a direct-to-reverberant ratio of `drr_db`.
fn room(x: &[f32], rate: u32, rt60: f64, drr_db: f64, r: &mut Rng) -> Vec<f32> {
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

/// White or pink (Paul Kellet's filter) noise of the given RMS.
fn add_noise(x: &mut [f32], level: f64, pink: bool, r: &mut Rng) {
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

/// 16-bit PCM mono WAV bytes.
pub fn wav_bytes(samples: &[f32], rate: u32) -> Vec<u8> {
    let data = samples.len() * 2;
    let mut b = Vec::with_capacity(44 + data);
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&((36 + data) as u32).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&rate.to_le_bytes());
    b.extend_from_slice(&(rate * 2).to_le_bytes());
    b.extend_from_slice(&2u16.to_le_bytes());
    b.extend_from_slice(&16u16.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&(data as u32).to_le_bytes());
    for &s in samples {
        let v = (f64::from(s).clamp(-1.0, 1.0) * 32767.0).round() as i16;
        b.extend_from_slice(&v.to_le_bytes());
    }
    b
}

/// The truth as `onset_s,offset_s,midi_pitch` CSV (the dev set's format).
pub fn truth_csv(truth: &[TruthNote]) -> String {
    let mut s = String::from("onset_s,offset_s,midi_pitch\n");
    for n in truth {
        s.push_str(&format!("{:.3},{:.3},{}\n", n.onset, n.offset, n.pitch));
    }
    s
}
