//! Habets' late-reverberation model per band, as a floor under the direct sound.
//!
//! The reverberant field of a room is fed by the direct sound and decays at the room's rate:
//! per band, `R(t) = a R(t-1) + g D(t-1)` with `a` the decay per frame and `g = (1 - a) / DRR`
//! (a steady note then has `D / R = DRR`), and `D = P - R` the part of the band's power `P`
//! that the reverberation does not explain. The *late* reverberation at `t` is what was
//! reverberant `T_late` ago, decayed since: `a^L R(t - L)`. Lebart's predictor (used before)
//! takes the whole observed power as reverberant and over-predicts during notes; with the
//! direct-to-reverberant ratio the prediction stays under a held note and meets a free decay.
//!
//! Per band rather than broadband (single harmonics beat against the tail) or per bin (the
//! subtraction deepens every beating dip): a band holds a harmonic or two, and the voice's
//! bands are summed. A frame's direct energy is what exceeds the predicted late reverberation;
//! after a release it falls under the floor (the tail explains everything). (As a cue for
//! re-attacks of one pitch it was tried and dropped: held notes' beating and tremolo dips
//! fall under the floor as often as the gaps between repeats; docs/melody.md.)

/// Late reverberation starts this long (seconds) after the direct sound.
const T_LATE_S: f64 = 0.05;

/// Per frame: the direct energy of the voice's bands (dB) and their predicted late
/// reverberation (dB).
pub struct Late {
    /// What the voice's bands hold over their late reverberation, summed (dB).
    pub direct_db: Vec<f32>,
    /// The voice's bands' late reverberation, summed (dB).
    pub late_db: Vec<f32>,
}

/// Candidate direct-to-reverberant ratios (dB), wettest first.
const DRR_GRID: [f32; 9] = [-6.0, -3.0, 0.0, 3.0, 6.0, 9.0, 12.0, 15.0, 20.0];
/// The late reverberation never exceeds the power observed: the wettest ratio whose
/// prediction lies at most `SPILL_DB` over it in all but `SPILL_SHARE` of the voice's frames
/// is the clip's.
const SPILL_DB: f32 = 3.0;
const SPILL_SHARE: f64 = 0.05;
/// Frames this far (dB) under the voice's loud level are not weighed for the ratio.
const VOICE_RANGE_DB: f32 = 40.0;

/// The late reverberation of `bands` (dB per frame) in a room decaying at `rate_db_s`, with
/// the direct-to-reverberant ratio that the clip shows (`DRR_GRID`).
pub fn late(bands: &[&[f32]], rate_db_s: f32, hop_s: f64) -> Late {
    let pw: Vec<Vec<f32>> = bands
        .iter()
        .map(|b| b.iter().map(|v| 10f32.powf(v / 10.0)).collect())
        .collect();
    let n = pw.first().map_or(0, Vec::len);
    let db = |v: f32| 10.0 * (v + 1e-12).log10();
    let total: Vec<f32> = (0..n).map(|t| db(pw.iter().map(|b| b[t]).sum())).collect();
    let loud = crate::pitch::percentile(&total, 0.95);
    let mut best = None;
    for drr in DRR_GRID {
        let l = late_at(&pw, rate_db_s, drr, hop_s);
        let mut spill: Vec<f32> = (0..n)
            .filter(|&t| total[t] > loud - VOICE_RANGE_DB)
            .map(|t| l.late_db[t] - total[t])
            .collect();
        spill.sort_by(|a, b| b.total_cmp(a));
        let k = (spill.len() as f64 * SPILL_SHARE) as usize;
        let fits = spill.get(k).is_none_or(|&v| v <= SPILL_DB);
        best = Some(l);
        if fits {
            break;
        }
    }
    best.unwrap_or(Late {
        direct_db: Vec::new(),
        late_db: Vec::new(),
    })
}

fn late_at(pw: &[Vec<f32>], rate_db_s: f32, drr_db: f32, hop_s: f64) -> Late {
    let n = pw.first().map_or(0, Vec::len);
    let a = 10f32.powf(-rate_db_s * hop_s as f32 / 10.0);
    let g = (1.0 - a) / 10f32.powf(drr_db / 10.0);
    let l = ((T_LATE_S / hop_s).round() as usize).max(1);
    let al = a.powi(l as i32);
    let mut direct = vec![0.0f32; n];
    let mut late = vec![0.0f32; n];
    let mut r = vec![0.0f32; n];
    for b in pw {
        let mut d_prev = 0.0f32;
        for t in 0..n {
            let p = b[t];
            let rt = if t > 0 {
                a * r[t - 1] + g * d_prev
            } else {
                0.0
            };
            r[t] = rt;
            d_prev = (p - rt).max(0.0);
            let lt = if t >= l { al * r[t - l] } else { 0.0 };
            late[t] += lt;
            direct[t] += (p - lt).max(0.0);
        }
    }
    let db = |v: f32| 10.0 * (v + 1e-12).log10();
    Late {
        direct_db: direct.into_iter().map(db).collect(),
        late_db: late.into_iter().map(db).collect(),
    }
}
