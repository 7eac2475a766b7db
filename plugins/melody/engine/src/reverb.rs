//! Late-reverberation suppression for the energy envelope.
//!
//! In a room whose reverberant energy is about as strong as the direct sound, the gap
//! between two notes is filled by the first one's tail: repeats of one pitch merge and
//! offsets run into the tail. A room's tail is an exponential decay, and it cannot decay
//! faster than the room lets it, so:
//!
//! 1. Decay rate: in each frequency band of a short-time spectrum, the stretches where the
//!    band's energy keeps falling for at least `MIN_RUN_S` after a peak are free decays
//!    (a voice's own release is over in tens of milliseconds); the median of their slopes
//!    is the band's decay rate, and the median over bands the room's. Bands average the
//!    beating of single harmonics that spoiled a broadband fit. A clip with too few such
//!    decays is judged by its phrase ends instead (`tail_rate`): where the voice surely
//!    stops before a pause, a room's tail falls at tens of dB per second and a dry release
//!    at hundreds. A clip whose phrase ends are dry has no room and keeps its energy as it
//!    is.
//! 2. Suppression (`late.rs`): Habets' late reverberation per band, fed by the direct sound
//!    at the direct-to-reverberant ratio the clip shows, is the floor under the direct
//!    sound; what a frame's voice bands hold over it is the frame's direct energy. The tail
//!    after a release falls under the floor, and releases are looked for on what remains.

use crate::dsp::Signal;
use crate::late::Late;
use crate::pitch::percentile;
use realfft::RealFftPlanner;

/// FFT length (samples at the ~8 kHz analysis rate: 32 ms).
const FFT_LEN: usize = 256;
/// Bins per band for the decay estimate (about 250 Hz).
const BAND_BINS: usize = 8;
/// A free decay must last this long (seconds) above the band's noise.
const MIN_RUN_S: f64 = 0.08;
/// Skipped at the start of a decay: the voice's own release and the step down from the
/// direct sound to the reverberation (seconds).
const SKIP_S: f64 = 0.05;
/// A decay starts this far (dB) over the band's noise floor...
const PEAK_OVER_FLOOR_DB: f32 = 25.0;
/// ...and is followed while it stays this far over it (dB).
const RUN_OVER_FLOOR_DB: f32 = 8.0;
/// Bumps this small (dB) do not end a decay.
const BUMP_DB: f32 = 1.0;
/// A free decay falls at least `PLATEAU_DB` over every `PLATEAU` frames (20 dB/s over 50 ms,
/// the slowest room): the level of a held note, dry, stays within a decibel of its running
/// minimum for a second and passed for a decay ending in its release.
const PLATEAU: usize = 10;
const PLATEAU_DB: f32 = 1.0;
/// A band's floor lies at most this far (dB) under its loud level.
const BAND_RANGE_DB: f32 = 50.0;
/// Plausible rooms: decay rates between these (dB/s; RT60 3 s to 0.15 s).
const RATE_MIN: f32 = 20.0;
const RATE_MAX: f32 = 400.0;
/// A band needs this many free decays to give a rate; the clip this many of its 16 bands.
/// Fewer bands let the fades of dry clips pass for rooms (the TUNE set's dry, glide, child
/// and low voices lost offsets with 6), so only clearly wet clips are treated.
const MIN_DECAYS: usize = 3;
const MIN_BANDS: usize = 12;
/// Bands with free decays that make a room of a clip with no phrase end (`tail_rate`) to
/// judge by: a dry clip's phrase ends show it dry, so it never gets here.
const FEW_BANDS: usize = 2;
/// Share of a band's decays slower than its rate: the median (the fast end, 0.75, read the
/// TUNE rooms 1.3 to 1.9 times too fast: the skipped release still steepens some fits).
const RATE_QUANTILE: f64 = 0.5;
/// What the clip says about its room.
pub struct Room {
    /// Frame energies (dB, one per analysis frame) with the late reverberation taken out.
    pub direct_db: Vec<f32>,
    /// The late reverberation of the voice's bands (dB per frame), for error analysis.
    pub late_db: Vec<f32>,
    /// The room's decay rate (dB per second).
    pub rate_db_s: f32,
}

/// The room of the clip, or `None` when it shows none, and the coherent dips of its bands
/// over `w` frames each side.
pub fn room(sig: &Signal, w: usize) -> (Option<Room>, Coherent) {
    let hop_s = sig.hop_s();
    let bands = band_energies(sig);
    let dips = Coherent::new(&bands, w);
    let room = room_rate(&bands, hop_s, MIN_BANDS)
        .or_else(|| match tail_rate(sig) {
            (Some(rate), _) => Some(rate),
            // No phrase end to judge by: the free decays of a few bands must do.
            (None, 0) => room_rate(&bands, hop_s, FEW_BANDS),
            (None, _) => None,
        })
        .map(|rate| {
            let late = dips.late_of(rate, hop_s);
            Room {
                direct_db: late.direct_db,
                late_db: late.late_db,
                rate_db_s: rate,
            }
        });
    (room, dips)
}

/// The room's decay rate in dB per second, from the bands' free decays.
fn room_rate(bands: &[Vec<f32>], hop_s: f64, min_bands: usize) -> Option<f32> {
    let mut rates: Vec<f32> = bands.iter().filter_map(|b| band_rate(b, hop_s)).collect();
    if rates.len() < min_bands {
        return None;
    }
    rates.sort_by(f32::total_cmp);
    Some(rates[rates.len() / 2])
}

/// One band's decay rate (dB/s) from the slopes of its free decays.
fn band_rate(s: &[f32], hop_s: f64) -> Option<f32> {
    let n = s.len();
    // Digital silence between notes is no noise floor: a dry release falls through every
    // level, and its fall into the numerical floor passed for a free decay.
    let floor = percentile(s, 0.1).max(percentile(s, 0.95) - BAND_RANGE_DB);
    let min_run = (MIN_RUN_S / hop_s).round() as usize;
    let skip = (SKIP_S / hop_s).round() as usize;
    let mut slopes: Vec<f32> = Vec::new();
    let mut t = 3;
    while t + 3 < n {
        let peak = s[t] > floor + PEAK_OVER_FLOOR_DB && (t - 3..=t + 3).all(|u| s[u] <= s[t]);
        if !peak {
            t += 1;
            continue;
        }
        let mut low = s[t];
        let mut j = t;
        // A held note never rises over its running minimum either; a decay keeps falling.
        let falling = |u: usize| u < t + PLATEAU || s[u - PLATEAU] - s[u] >= PLATEAU_DB;
        while j + 1 < n
            && s[j + 1] <= low + BUMP_DB
            && s[j + 1] > floor + RUN_OVER_FLOOR_DB
            && falling(j + 1)
        {
            j += 1;
            low = low.min(s[j]);
        }
        let a = t + skip;
        if j >= a + min_run {
            let rate = -slope(&s[a..=j]) / hop_s as f32;
            if rate.is_finite() && rate > 0.0 {
                slopes.push(rate);
            }
        }
        t = j.max(t + 1);
    }
    if slopes.len() < MIN_DECAYS {
        return None;
    }
    slopes.sort_by(f32::total_cmp);
    let r = slopes[((slopes.len() - 1) as f64 * RATE_QUANTILE).round() as usize];
    (RATE_MIN..=RATE_MAX).contains(&r).then_some(r)
}

/// Least-squares slope of `y` per sample.
fn slope(y: &[f32]) -> f32 {
    let n = y.len() as f32;
    let mx = (n - 1.0) / 2.0;
    let my = y.iter().sum::<f32>() / n;
    let (mut num, mut den) = (0.0f32, 0.0f32);
    for (i, &v) in y.iter().enumerate() {
        let dx = i as f32 - mx;
        num += dx * (v - my);
        den += dx * dx;
    }
    if den > 0.0 {
        num / den
    } else {
        0.0
    }
}

/// Runs `f` on the power spectrum of every frame (Hann window centred on the frame).
fn spectra(sig: &Signal, mut f: impl FnMut(usize, &[f32])) {
    let mut planner = RealFftPlanner::<f32>::new();
    let fwd = planner.plan_fft_forward(FFT_LEN);
    let mut buf = fwd.make_input_vec();
    let mut spec = fwd.make_output_vec();
    let mut scratch = fwd.make_scratch_vec();
    let win: Vec<f32> = (0..FFT_LEN)
        .map(|i| {
            let x = std::f32::consts::PI * (i as f32 + 0.5) / FFT_LEN as f32;
            x.sin() * x.sin()
        })
        .collect();
    let mut power = vec![0.0f32; FFT_LEN / 2 + 1];
    for i in 0..sig.frames {
        let start = (i * sig.hop) as isize - (FFT_LEN / 2) as isize;
        for (j, b) in buf.iter_mut().enumerate() {
            let idx = start + j as isize;
            *b = if idx >= 0 && (idx as usize) < sig.x.len() {
                sig.x[idx as usize] * win[j]
            } else {
                0.0
            };
        }
        if fwd
            .process_with_scratch(&mut buf, &mut spec, &mut scratch)
            .is_err()
        {
            power.fill(0.0);
        } else {
            for (p, c) in power.iter_mut().zip(&spec) {
                *p = c.norm_sqr();
            }
        }
        f(i, &power);
    }
}

/// Band energies in dB, one series per band (smoothed over 5 frames).
fn band_energies(sig: &Signal) -> Vec<Vec<f32>> {
    let nb = (FFT_LEN / 2) / BAND_BINS;
    let mut out: Vec<Vec<f32>> = (0..nb).map(|_| Vec::with_capacity(sig.frames)).collect();
    spectra(sig, |_, p| {
        for (b, band) in out.iter_mut().enumerate() {
            let s: f32 = p[1 + b * BAND_BINS..1 + (b + 1) * BAND_BINS].iter().sum();
            band.push(10.0 * (s + 1e-20).log10());
        }
    });
    out.into_iter()
        .map(|v| crate::envelope::smooth(&v, 2))
        .collect()
}

/// The room's decay rate for error analysis (`None`: no room found).
#[doc(hidden)]
pub fn room_rate_of(sig: &Signal) -> Option<f32> {
    room(sig, 30).0.map(|r| r.rate_db_s)
}

/// A phrase end: a peak this far (dB) over the noise floor...
const TAIL_PEAK_DB: f32 = 28.0;
/// ...with no higher energy for this long after it (seconds)...
const TAIL_LOOK_S: f64 = 0.45;
/// ...by which time the energy has fallen this far under it (dB).
const TAIL_FALL_DB: f32 = 22.0;
/// The decay is measured between these depths under the peak (dB): under the first, the
/// note is over (its level beats by a few dB while held).
const TAIL_TOP_DB: f32 = 10.0;
/// A tail that takes this rate or slower (dB/s) is a room's: a dry voice's release falls
/// from 10 to 22 dB under its peak within a few tens of milliseconds (over 350 dB/s on the
/// TUNE set), a room of RT60 0.6-1.2 s at 50-300 dB/s (the step of the direct sound
/// ending included).
const TAIL_ROOM_RATE: f32 = 320.0;
/// Slower than this (dB/s; RT60 1.5 s) a phrase end is a note that fades out, not a room:
/// a held note's level is indistinguishable from so slow a decay.
const TAIL_RATE_MIN: f32 = 40.0;

/// The room's decay rate from the ends of phrases, where the voice surely stops and nothing
/// follows for a while: a dry voice's energy falls into the noise within its release, a
/// room's tail decays at the room's rate. `None` when half of the phrase ends or more are
/// dry; otherwise the median rate of the room-like ones. Also the number of phrase ends
/// judged.
fn tail_rate(sig: &Signal) -> (Option<f32>, usize) {
    let hop_s = sig.hop_s();
    let e = crate::envelope::smooth(
        &crate::dsp::frame_energy_db(sig, ((sig.rate * 0.02) as usize).max(1)),
        1,
    );
    let floor = percentile(&e, 0.1);
    let look = (TAIL_LOOK_S / hop_s).round() as usize;
    let mut rates: Vec<f32> = Vec::new();
    let mut t = 0;
    while t + look < e.len() {
        let p = e[t];
        let peak = p > floor + TAIL_PEAK_DB
            && e[t.saturating_sub(look / 3)..t].iter().all(|&v| v <= p)
            && e[t + 1..=t + look].iter().all(|&v| v < p)
            && e[t + look] < p - TAIL_FALL_DB;
        if !peak {
            t += 1;
            continue;
        }
        let top = (t..=t + look)
            .rev()
            .find(|&u| e[u] >= p - TAIL_TOP_DB)
            .unwrap_or(t);
        let bottom = (top..=t + look)
            .find(|&u| e[u] < p - TAIL_FALL_DB)
            .unwrap_or(t + look);
        if bottom > top + 1 {
            let rate = -slope(&e[top..=bottom]) / hop_s as f32;
            if rate.is_finite() && rate > 0.0 {
                rates.push(rate);
            }
        }
        t += look;
    }
    rates.sort_by(f32::total_cmp);
    // A phrase end slower than any room is a note faded out: it says nothing either way.
    rates.retain(|&r| r >= TAIL_RATE_MIN);
    // Half of the phrase ends at least must decay like a room: one note whose vibrato sags
    // before its release does not make a room.
    let ends = rates.len();
    let Some(&typical) = rates.get(ends.saturating_sub(1) / 2) else {
        return (None, 0);
    };
    if !(TAIL_RATE_MIN..=TAIL_ROOM_RATE).contains(&typical) {
        return (None, ends);
    }
    rates.retain(|r| (TAIL_RATE_MIN..=TAIL_ROOM_RATE).contains(r));
    (Some(rates[rates.len() / 2]), ends)
}

/// Habets' late reverberation decays at this share of the estimated rate: the fits of free
/// decays and phrase ends read the TUNE rooms' tails up to twice too fast (the voice's own
/// release and the step from the direct sound down to the tail steepen them), and a floor
/// that decays too fast leaves the tail in the direct energy (TUNE rooms' offsets 0.517 at
/// the full rate, 0.528-0.531 at 0.4-0.7 of it).
const LATE_RATE_SHARE: f32 = 0.5;

/// Bands whose loud level is this far (dB) under the loudest band's carry no voice.
const VOICE_BAND_DB: f32 = 30.0;

/// Dips shared by the voice's bands. A gap between two notes lowers every band at once; the
/// beating of a room's tail against a held note lowers single harmonics at their own
/// moments, which a median over bands ignores.
pub struct Coherent {
    /// The voice's bands (dB per frame).
    voice: Vec<Vec<f32>>,
    /// Per frame, the median over bands of how far each lies under its own maximum within
    /// `w` frames before and within `w` frames after: (fall, rise) in dB.
    dips: Vec<(f32, f32)>,
    w: usize,
}

impl Coherent {
    fn new(bands: &[Vec<f32>], w: usize) -> Coherent {
        let loud: Vec<f32> = bands.iter().map(|b| percentile(b, 0.95)).collect();
        let top = loud.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let voice: Vec<Vec<f32>> = bands
            .iter()
            .zip(&loud)
            .filter(|(_, &l)| l > top - VOICE_BAND_DB)
            .map(|(b, _)| b.clone())
            .collect();
        let n = voice.first().map_or(0, Vec::len);
        let mut c = Coherent {
            voice,
            dips: Vec::new(),
            w,
        };
        c.dips = (0..n).map(|t| (c.fall(t, 0), c.rise(t, n))).collect();
        c
    }

    fn late_of(&self, rate_db_s: f32, hop_s: f64) -> Late {
        let v: Vec<&[f32]> = self.voice.iter().map(Vec::as_slice).collect();
        crate::late::late(&v, rate_db_s * LATE_RATE_SHARE, hop_s)
    }

    fn median(&self, f: impl Fn(&[f32]) -> f32) -> f32 {
        let mut v: Vec<f32> = self.voice.iter().map(|b| f(b)).collect();
        v.sort_by(f32::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    }

    /// Median fall (dB) into frame `t` from the maxima since `max(lo, t - w)`.
    fn fall(&self, t: usize, lo: usize) -> f32 {
        let a = t.saturating_sub(self.w).max(lo).min(t);
        self.median(|b| crate::envelope::max_of(&b[a..=t]) - b[t])
    }

    /// Median rise (dB) out of frame `t` to the maxima before `min(hi, t + w + 1)`.
    pub fn rise(&self, t: usize, hi: usize) -> f32 {
        let n = self.dips.len().max(self.voice.first().map_or(0, Vec::len));
        let b_end = (t + self.w + 1).min(hi).min(n).max(t + 1);
        self.median(|b| crate::envelope::max_of(&b[t..b_end]) - b[t])
    }

    /// How deep (dB) frame `t` lies in a dip shared by the bands: the smaller of the fall
    /// into it and the rise out of it; 0 outside the clip.
    pub fn depth(&self, t: usize) -> f32 {
        self.dips.get(t).map_or(0.0, |&(f, r)| f.min(r))
    }
}

/// The coherent dips for error analysis: (fall, rise) per frame.
#[doc(hidden)]
pub fn coherent_dips_of(sig: &Signal, w: usize) -> Vec<(f32, f32)> {
    Coherent::new(&band_energies(sig), w).dips
}

/// Habets' late reverberation for error analysis: per frame (direct dB, late dB), empty when
/// no room is found.
#[doc(hidden)]
pub fn late_of(sig: &Signal) -> Vec<(f32, f32)> {
    let (r, _) = room(sig, 30);
    r.map(|r| r.direct_db.into_iter().zip(r.late_db).collect())
        .unwrap_or_default()
}
