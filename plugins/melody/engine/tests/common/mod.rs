//! Synthetic voice signals with exactly known notes, for the transcription tests.

#![allow(dead_code)]

/// One note of a synthetic melody.
#[derive(Clone, Copy)]
pub struct SynthNote {
    pub onset: f64,
    pub offset: f64,
    pub midi: f64,
    /// Legato into this note: the pitch glides from the previous note over `glide` s.
    pub legato: bool,
    /// Vibrato depth in cents (0 = none), at 5.5 Hz.
    pub vibrato_cents: f64,
}

impl SynthNote {
    pub fn new(onset: f64, offset: f64, midi: f64) -> SynthNote {
        SynthNote {
            onset,
            offset,
            midi,
            legato: false,
            vibrato_cents: 0.0,
        }
    }
}

/// Deterministic noise source.
pub struct Rng(pub u64);
impl Rng {
    pub fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    }
}

/// Renders a hummed melody: a harmonic voice (eight harmonics, -9 dB per octave) with
/// 25 ms attacks and 40 ms releases, 50 ms glides into legato notes, and optional
/// vibrato. `harmonics == 1` gives a pure tone.
pub fn render(notes: &[SynthNote], rate: u32, len_s: f64, harmonics: usize) -> Vec<f32> {
    let n = (len_s * f64::from(rate)) as usize;
    let mut out = vec![0.0f32; n];
    let mut phase = 0.0f64;
    let glide = 0.05;
    for (i, slot) in out.iter_mut().enumerate() {
        let t = i as f64 / f64::from(rate);
        let Some((k, note)) = notes
            .iter()
            .enumerate()
            .find(|(_, nt)| t >= nt.onset && t < nt.offset)
        else {
            continue;
        };
        let mut midi = note.midi;
        if note.legato && k > 0 && t - note.onset < glide {
            let prev = notes[k - 1].midi;
            let x = (t - note.onset) / glide;
            midi = prev + (note.midi - prev) * (0.5 - 0.5 * (std::f64::consts::PI * x).cos());
        }
        if note.vibrato_cents > 0.0 && t - note.onset > 0.15 {
            midi += note.vibrato_cents / 100.0
                * (2.0 * std::f64::consts::PI * 5.5 * (t - note.onset)).sin();
        }
        let f = 440.0 * 2f64.powf((midi - 69.0) / 12.0);
        phase += 2.0 * std::f64::consts::PI * f / f64::from(rate);
        let attack = if note.legato {
            1.0
        } else {
            ((t - note.onset) / 0.025).min(1.0)
        };
        let next_legato = notes
            .get(k + 1)
            .is_some_and(|nx| nx.legato && (nx.onset - note.offset).abs() < 1e-9);
        let release = if next_legato {
            1.0
        } else {
            ((note.offset - t) / 0.04).min(1.0)
        };
        let env = attack.min(release).max(0.0);
        let mut s = 0.0;
        for h in 1..=harmonics {
            s += (phase * h as f64).sin() * 10f64.powf(-9.0 / 20.0 * (h as f64).log2());
        }
        *slot = (0.3 * env * s) as f32;
    }
    out
}

/// Adds white noise and 50 Hz mains hum at `snr_db` under the voice's RMS while it sounds.
pub fn add_noise(x: &mut [f32], rate: u32, snr_db: f64, seed: u64) {
    let voiced: Vec<f64> = x
        .iter()
        .filter(|v| v.abs() > 1e-4)
        .map(|&v| f64::from(v))
        .collect();
    let rms = (voiced.iter().map(|v| v * v).sum::<f64>() / voiced.len().max(1) as f64).sqrt();
    let noise_rms = rms * 10f64.powf(-snr_db / 20.0);
    let mut rng = Rng(seed);
    for (i, s) in x.iter_mut().enumerate() {
        let t = i as f64 / f64::from(rate);
        let white = rng.uniform() * 3f64.sqrt();
        let hum = (2.0 * std::f64::consts::PI * 50.0 * t).sin() * 2f64.sqrt();
        *s += (noise_rms * (0.8 * white + 0.6 * hum)) as f32;
    }
}
