//! Writing a clip out: the WAV and the truth CSV the dev set uses.

use super::TruthNote;

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
