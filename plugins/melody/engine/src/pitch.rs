//! Frame-wise pitch tracking.
//!
//! 1. For every 5 ms frame, the normalised square difference function (NSDF, McLeod &
//!    Wyvill 2005) over a ~34 ms window, computed with one real FFT pair. Its positive
//!    lobes' maxima are the period candidates; their height is the periodicity
//!    ("clarity", 1.0 for a perfectly periodic frame, near 0 for noise).
//! 2. Candidate weights as in pYIN: the McLeod rule "first maximum above k times the
//!    highest one" is applied for a spread of k, and every candidate gets the share of k
//!    values that pick it. This keeps octave-up and octave-down alternatives alive with a
//!    probability instead of a hard choice.
//! 3. A Viterbi pass over 20-cent pitch states (MIDI 36 to 88) plus one unvoiced state.
//!    Moving between neighbouring states costs in proportion to the distance (glides
//!    and vibrato are cheap, isolated octave flips are not); any larger jump has a fixed
//!    cost. The distance cost is applied in O(states) per frame with a two-pass distance
//!    transform, so the whole pass is linear in the number of states.

use crate::dsp::{self, Signal};
use crate::harmonics;
use crate::noise;
use crate::nsdf_interp::{nsdf_at, sinc_peak, SINC_REFINE_TAU};
use realfft::RealFftPlanner;

/// Lowest and highest pitch state (MIDI numbers).
const MIDI_LO: f32 = 36.0;
const MIDI_HI: f32 = 98.0;
/// Pitch state spacing in semitones (20 cents).
const BIN_ST: f32 = 0.2;
/// Analysis window for the NSDF (seconds): two periods of the lowest pitch.
const NSDF_WIN_S: f64 = 0.034;
/// Periodicity at which a frame starts to count as voiced, and where it surely is.
const CLARITY_LO: f32 = 0.35;
const CLARITY_HI: f32 = 0.7;
/// Most candidates kept per frame.
const MAX_CANDS: usize = 6;

/// Output of the tracker, one value per 5 ms frame.
pub struct Track {
    /// Frame hop in seconds.
    pub hop_s: f64,
    /// Frame energy (dB, 20 ms window) of the analysis signal.
    pub energy_db: Vec<f32>,
    /// Highest NSDF value in the pitch range (0..1): periodicity of the frame.
    pub clarity: Vec<f32>,
    /// Smoothed pitch as fractional MIDI number, NaN where the frame is unvoiced.
    pub midi: Vec<f32>,
}

#[derive(Clone, Copy, Default)]
struct Cand {
    midi: f32,
    weight: f32,
}

fn midi_of(freq: f64) -> f32 {
    (69.0 + 12.0 * (freq / 440.0).log2()) as f32
}

/// Per-frame NSDF candidates and clarity.
fn candidates(sig: &Signal) -> (Vec<[Cand; MAX_CANDS]>, Vec<f32>) {
    let n = ((sig.rate * NSDF_WIN_S).round() as usize).max(16);
    let fft_len = good_size(2 * n);
    let mut planner = RealFftPlanner::<f32>::new();
    let fwd = planner.plan_fft_forward(fft_len);
    let inv = planner.plan_fft_inverse(fft_len);
    let mut buf = fwd.make_input_vec();
    let mut spec = fwd.make_output_vec();
    let mut corr = inv.make_output_vec();
    let mut scratch_f = fwd.make_scratch_vec();
    let mut scratch_i = inv.make_scratch_vec();
    let freq_hi = 440.0 * 2f64.powf((f64::from(MIDI_HI) + 0.5 - 69.0) / 12.0);
    let freq_lo = 440.0 * 2f64.powf((f64::from(MIDI_LO) - 0.5 - 69.0) / 12.0);
    let tau_min = ((sig.rate / freq_hi).floor() as usize).max(2);
    let tau_max = ((sig.rate / freq_lo).ceil() as usize).min(n - 2);
    let mut nsdf = vec![0.0f32; tau_max + 2];
    let mut frame = vec![0.0f32; n];
    let ks: [f32; 7] = [0.66, 0.72, 0.78, 0.84, 0.88, 0.92, 0.96];
    let mut out = Vec::with_capacity(sig.frames);
    let mut clar = Vec::with_capacity(sig.frames);
    let mut peaks: Vec<(f32, f32)> = Vec::with_capacity(32);
    let mut fundamentals = harmonics::Memo::default();
    for i in 0..sig.frames {
        let start = (i * sig.hop) as isize - (n / 2) as isize;
        let mut energy = 0.0f32;
        for (j, b) in buf.iter_mut().enumerate() {
            let idx = start + j as isize;
            *b = if j < n && idx >= 0 && (idx as usize) < sig.x.len() {
                sig.x[idx as usize]
            } else {
                0.0
            };
            energy += *b * *b;
        }
        let mut cands = [Cand::default(); MAX_CANDS];
        if energy <= 1e-12 {
            out.push(cands);
            clar.push(0.0);
            continue;
        }
        frame.copy_from_slice(&buf[..n]);
        if fwd
            .process_with_scratch(&mut buf, &mut spec, &mut scratch_f)
            .is_err()
        {
            out.push(cands);
            clar.push(0.0);
            continue;
        }
        for c in spec.iter_mut() {
            *c = realfft::num_complex::Complex::new(c.norm_sqr(), 0.0);
        }
        if inv
            .process_with_scratch(&mut spec, &mut corr, &mut scratch_i)
            .is_err()
        {
            out.push(cands);
            clar.push(0.0);
            continue;
        }
        // corr is scaled by fft_len; m(tau) from the frame itself.
        let scale = 1.0 / fft_len as f32;
        let mut m = 2.0 * energy;
        for tau in 0..=tau_max + 1 {
            if tau > 0 {
                m -= frame[tau - 1] * frame[tau - 1] + frame[n - tau] * frame[n - tau];
            }
            nsdf[tau] = if m > 1e-12 {
                2.0 * corr[tau] * scale / m
            } else {
                0.0
            };
        }
        // Key maxima: the highest point of each positive lobe after the first
        // negative-going zero crossing.
        peaks.clear();
        let mut tau = 1;
        while tau <= tau_max && nsdf[tau] > 0.0 {
            tau += 1;
        }
        let mut best: Option<(usize, f32)> = None;
        while tau <= tau_max {
            let v = nsdf[tau];
            if v > 0.0 {
                if best.is_none_or(|(_, bv)| v > bv) {
                    best = Some((tau, v));
                }
            } else if let Some((bt, bv)) = best.take() {
                push_peak(&mut peaks, &nsdf, bt, bv, tau_min, sig.rate);
            }
            tau += 1;
        }
        if let Some((bt, bv)) = best {
            push_peak(&mut peaks, &nsdf, bt, bv, tau_min, sig.rate);
        }
        let vmax = peaks.iter().map(|p| p.1).fold(0.0f32, f32::max);
        clar.push(vmax);
        if vmax <= 0.0 {
            out.push(cands);
            continue;
        }
        let mut count = 0;
        let lags = harmonics::Lags {
            nsdf: &nsdf,
            rate: sig.rate,
        };
        fundamentals.clear();
        for &k in &ks {
            if let Some(i) = peaks.iter().position(|p| p.1 >= k * vmax) {
                let p = peaks[fundamentals.get(&peaks, i, &lags)];
                if let Some(c) = cands[..count].iter_mut().find(|c| c.midi == p.0) {
                    c.weight += 1.0 / ks.len() as f32;
                } else if count < MAX_CANDS {
                    cands[count] = Cand {
                        midi: p.0,
                        weight: 1.0 / ks.len() as f32,
                    };
                    count += 1;
                }
            }
        }
        out.push(cands);
    }
    (out, clar)
}

fn push_peak(
    peaks: &mut Vec<(f32, f32)>,
    nsdf: &[f32],
    t: usize,
    v: f32,
    tau_min: usize,
    rate: f64,
) {
    if t < tau_min || t == 0 || t + 1 >= nsdf.len() {
        return;
    }
    let (a, b, c) = (nsdf[t - 1], v, nsdf[t + 1]);
    let den = a - 2.0 * b + c;
    let (shift, height) = if den.abs() > 1e-9 {
        let s = (0.5 * (a - c) / den).clamp(-0.5, 0.5);
        (s, b - 0.25 * (a - c) * s)
    } else {
        (0.0, b)
    };
    let (period, height) = if t < SINC_REFINE_TAU {
        let p = sinc_peak(nsdf, t as f64 + f64::from(shift));
        // Harmonics near the Nyquist rate make the sampled lobe far lower than its peak,
        // which would hand the candidate to a subharmonic with a luckier sampling.
        (p, (nsdf_at(nsdf, p) as f32).max(height))
    } else {
        (t as f64 + f64::from(shift), height)
    };
    let midi = midi_of(rate / period);
    if (MIDI_LO - 0.5..=MIDI_HI + 0.5).contains(&midi) {
        peaks.push((midi, height.min(1.0)));
    }
}

/// Smallest 2^a * 3^b >= n (sizes that FFT fast).
fn good_size(n: usize) -> usize {
    let mut best = n.next_power_of_two();
    let mut p3 = 1;
    while p3 < best {
        let mut v = p3;
        while v < n {
            v *= 2;
        }
        best = best.min(v);
        p3 *= 3;
    }
    best
}

/// Runs the tracker on a prepared signal.
pub fn track(sig: &Signal) -> Track {
    let mut energy_db = dsp::frame_energy_db(sig, ((sig.rate * 0.02) as usize).max(1));
    let (cands, clarity) = candidates(sig);
    // Voicing and segmentation read the energies with the steady noise taken off: in
    // strong noise a note's end and a repeat's dip sink into the noise otherwise.
    noise::subtract_floor(&mut energy_db);
    let voicing = voicing_prob(&energy_db, &clarity);
    let midi = viterbi(&cands, &voicing);
    Track {
        hop_s: sig.hop_s(),
        energy_db,
        clarity,
        midi,
    }
}

/// Loudness reference of a clip: a high percentile of frame energy (dB).
pub fn percentile(v: &[f32], q: f64) -> f32 {
    let mut s: Vec<f32> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if s.is_empty() {
        return -140.0;
    }
    s.sort_by(f32::total_cmp);
    let idx = ((s.len() - 1) as f64 * q).round() as usize;
    s[idx.min(s.len() - 1)]
}

/// Probability that each frame is voiced, from periodicity and loudness relative to
/// the clip's own voice level.
fn voicing_prob(energy_db: &[f32], clarity: &[f32]) -> Vec<f32> {
    let loud = percentile(energy_db, 0.97);
    let floor = percentile(energy_db, 0.10);
    // Quieter than 40 dB under the voice, or within 1 dB of the noise floor: not voice.
    let gate = (loud - 40.0).max(floor + 1.0).min(loud - 10.0);
    energy_db
        .iter()
        .zip(clarity)
        .map(|(&e, &c)| {
            let pc = ((c - CLARITY_LO) / (CLARITY_HI - CLARITY_LO)).clamp(0.0, 1.0);
            let pe = ((e - gate) / 5.0).clamp(0.0, 1.0);
            pc * pe
        })
        .collect()
}

fn bin_midi(b: usize) -> f32 {
    MIDI_LO + b as f32 * BIN_ST
}

/// Viterbi decoding over pitch states plus unvoiced; returns fractional MIDI or NaN.
fn viterbi(cands: &[[Cand; MAX_CANDS]], voicing: &[f32]) -> Vec<f32> {
    let nb = ((MIDI_HI - MIDI_LO) / BIN_ST).round() as usize + 1;
    let n = cands.len();
    let mut out = vec![f32::NAN; n];
    // Active stretches: frames that may be voiced, padded; elsewhere the path is unvoiced.
    let active: Vec<bool> = voicing.iter().map(|&p| p > 0.01).collect();
    let mut i = 0;
    while i < n {
        if !active[i] {
            i += 1;
            continue;
        }
        let mut j = i;
        while j < n && active[j] {
            j += 1;
        }
        decode_run(&cands[i..j], &voicing[i..j], nb, &mut out[i..j]);
        i = j;
    }
    out
}

const STEP_COST: f32 = 0.35; // per 20-cent bin per frame
const JUMP_COST: f32 = 9.0;
const VOICE_ON_COST: f32 = 4.0;
const VOICE_OFF_COST: f32 = 4.0;

fn decode_run(cands: &[[Cand; MAX_CANDS]], voicing: &[f32], nb: usize, out: &mut [f32]) {
    let n = cands.len();
    let unv = nb; // index of the unvoiced state
    let mut score = vec![f32::NEG_INFINITY; nb + 1];
    score[unv] = 0.0;
    let mut back: Vec<u16> = vec![0; n * (nb + 1)];
    let mut fwd_v = vec![0.0f32; nb];
    let mut fwd_i = vec![0u16; nb];
    let mut emit = vec![0.0f32; nb];
    let mut next = vec![0.0f32; nb + 1];
    for t in 0..n {
        // Emissions: a Gaussian (25 cents) around each candidate over a floor. Only the
        // bins near a candidate differ from the floor, so only those are computed.
        let pv = voicing[t].clamp(0.001, 0.999);
        let floor = 0.08 / nb as f32;
        let base = (pv * floor).ln();
        emit.fill(0.0);
        let mut lo_b = nb;
        let mut hi_b = 0;
        for c in cands[t].iter().filter(|c| c.weight > 0.0) {
            let centre = (c.midi - MIDI_LO) / BIN_ST;
            let a = (centre - 4.0).floor().max(0.0) as usize;
            let z = ((centre + 4.0).ceil().max(0.0) as usize).min(nb - 1);
            for (b, e) in emit.iter_mut().enumerate().take(z + 1).skip(a) {
                let d = (bin_midi(b) - c.midi) / 0.25;
                if d.abs() < 3.0 {
                    *e += c.weight * (-0.5 * d * d).exp();
                }
            }
            lo_b = lo_b.min(a);
            hi_b = hi_b.max(z + 1);
        }
        for (b, e) in emit.iter_mut().enumerate() {
            *e = if b >= lo_b && b < hi_b && *e > 0.0 {
                (pv * (0.92 * *e + floor)).ln()
            } else {
                base
            };
        }
        let e_unv = (1.0 - pv).ln();
        // Distance transform over voiced states: best predecessor with linear cost.
        for b in 0..nb {
            let (mut v, mut arg) = (score[b], b as u16);
            if b > 0 && fwd_v[b - 1] - STEP_COST > v {
                v = fwd_v[b - 1] - STEP_COST;
                arg = fwd_i[b - 1];
            }
            fwd_v[b] = v;
            fwd_i[b] = arg;
        }
        for b in (0..nb - 1).rev() {
            if fwd_v[b + 1] - STEP_COST > fwd_v[b] {
                fwd_v[b] = fwd_v[b + 1] - STEP_COST;
                fwd_i[b] = fwd_i[b + 1];
            }
        }
        let (mut vbest, mut vbest_i) = (f32::NEG_INFINITY, 0usize);
        for (b, &s) in score[..nb].iter().enumerate() {
            if s > vbest {
                vbest = s;
                vbest_i = b;
            }
        }
        let row = &mut back[t * (nb + 1)..(t + 1) * (nb + 1)];
        for b in 0..nb {
            let mut v = fwd_v[b];
            let mut arg = fwd_i[b];
            if vbest - JUMP_COST > v {
                v = vbest - JUMP_COST;
                arg = vbest_i as u16;
            }
            if score[unv] - VOICE_ON_COST > v {
                v = score[unv] - VOICE_ON_COST;
                arg = unv as u16;
            }
            next[b] = v + emit[b];
            row[b] = arg;
        }
        let (mut u, mut uarg) = (score[unv], unv as u16);
        if vbest - VOICE_OFF_COST > u {
            u = vbest - VOICE_OFF_COST;
            uarg = vbest_i as u16;
        }
        next[unv] = u + e_unv;
        row[unv] = uarg;
        // Normalise to keep numbers small.
        let mx = next.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        for (s, v) in score.iter_mut().zip(&next) {
            *s = v - mx;
        }
    }
    // Backtrack from the best final state.
    let mut state = 0usize;
    let mut best = f32::NEG_INFINITY;
    for (b, &s) in score.iter().enumerate() {
        if s > best {
            best = s;
            state = b;
        }
    }
    for t in (0..n).rev() {
        if state < nb {
            let m = bin_midi(state);
            // Refine with the nearest candidate within a semitone.
            let refined = cands[t]
                .iter()
                .filter(|c| c.weight > 0.0 && (c.midi - m).abs() < 0.6)
                .min_by(|a, b| (a.midi - m).abs().total_cmp(&(b.midi - m).abs()))
                .map_or(m, |c| c.midi);
            out[t] = refined;
        }
        state = usize::from(back[t * (nb + 1) + state]);
    }
}
