//! humgen: seeded synthetic hummed melodies with exact note truth, in the conditions where
//! transcription is hard (rooms, slow scoops, deep vibrato, sung words, child and low male
//! voices, whistles, pink noise). Pure std so the engine's tests and the `humset` example
//! share one generator: `#[path = "../../tools/humgen.rs"] mod humgen;`.
//!
//! Truth follows `shared/melody-dev`: the intended semitone; a detached note starts at its
//! attack (a consonant before the vowel is not part of it) and ends at the end of its
//! release; a legato note starts where the glide leaves the previous note, which ends there.
//!
//! Layout: this file holds the seeds, conditions and the clip assembly; `humgen/plan.rs` the
//! tune and its performance, `humgen/synth.rs` the voice and whistle, `humgen/acoustics.rs`
//! the room and noise, `humgen/files.rs` the WAV and CSV output.

#![allow(dead_code)]

#[path = "humgen/acoustics.rs"]
mod acoustics;
#[path = "humgen/files.rs"]
mod files;
#[path = "humgen/plan.rs"]
mod plan;
#[path = "humgen/synth.rs"]
mod synth;

// Only the `humset` example writes files; the tests that include this module do not.
#[allow(unused_imports)]
pub use files::{truth_csv, wav_bytes};

#[allow(unused_imports)]
pub use acoustics::held_fluctuation_db;
use acoustics::{add_noise, dense_room, room};
use plan::melody;
use std::f64::consts::PI;
use synth::{voice, whistle};

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
    /// The 8-line feedback delay network room that `room` was up to rooms round 6: sparse
    /// modes, deep beating on held notes. Kept so older figures can be repeated.
    FdnRoom,
}

impl Condition {
    pub const ALL: [Condition; 11] = [
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
        Condition::FdnRoom,
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
            Condition::FdnRoom => "fdn-room",
        }
    }
    /// Which thousand of a set's seeds the condition draws from: the network room takes the
    /// dense room's, so both hold the same dry clips.
    pub fn slot(self) -> u64 {
        match self {
            Condition::FdnRoom => 1,
            c => Condition::ALL.iter().position(|&a| a == c).unwrap_or(0) as u64,
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
    for &c in &Condition::ALL {
        for i in 0..per {
            let seed = base + 1_000 * c.slot() + i as u64;
            let mut clip = clip(c, seed, seconds, rate);
            clip.name = format!("{}_{:03}", c.name(), i + 1);
            out.push(clip);
        }
    }
    out
}

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
    if matches!(c, Condition::Room | Condition::FdnRoom) {
        let rt60 = r.range(0.6, 1.2);
        let drr = r.range(-2.0, 2.0);
        x = if c == Condition::Room {
            dense_room(&x, rate, rt60, drr, &mut r)
        } else {
            room(&x, rate, rt60, drr, &mut r)
        };
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
