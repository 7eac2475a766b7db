//! WAV decoder: every supported encoding built from known samples, and hostile inputs.

use kino_melody_engine::{decode_wav, WavError};

/// Builds a WAV file from raw parts so that every field can be set (or broken) at will.
fn wav(
    tag: u16,
    channels: u16,
    rate: u32,
    bits: u16,
    data: &[u8],
    extra_chunks: &[(&[u8; 4], Vec<u8>)],
) -> Vec<u8> {
    let block = channels.wrapping_mul(bits.div_ceil(8));
    let mut fmt = Vec::new();
    fmt.extend_from_slice(&tag.to_le_bytes());
    fmt.extend_from_slice(&channels.to_le_bytes());
    fmt.extend_from_slice(&rate.to_le_bytes());
    fmt.extend_from_slice(&rate.wrapping_mul(u32::from(block)).to_le_bytes());
    fmt.extend_from_slice(&block.to_le_bytes());
    fmt.extend_from_slice(&bits.to_le_bytes());
    wav_with_fmt(&fmt, data, extra_chunks)
}

fn wav_with_fmt(fmt: &[u8], data: &[u8], extra_chunks: &[(&[u8; 4], Vec<u8>)]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(b"WAVE");
    for (id, c) in extra_chunks {
        chunk(&mut body, id, c);
    }
    chunk(&mut body, b"fmt ", fmt);
    chunk(&mut body, b"data", data);
    let mut out = Vec::new();
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&body);
    out
}

fn chunk(out: &mut Vec<u8>, id: &[u8; 4], c: &[u8]) {
    out.extend_from_slice(id);
    out.extend_from_slice(&(c.len() as u32).to_le_bytes());
    out.extend_from_slice(c);
    if c.len() % 2 == 1 {
        out.push(0);
    }
}

const VALUES: [f32; 5] = [0.0, 0.5, -0.5, 0.25, -1.0];

fn close(a: &[f32], b: &[f32], tol: f32) {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() <= tol, "{a:?} vs {b:?}");
    }
}

#[test]
fn pcm16_mono() {
    let data: Vec<u8> = VALUES
        .iter()
        .flat_map(|v| ((v * 32767.0) as i16).to_le_bytes())
        .collect();
    let a = decode_wav(&wav(1, 1, 16000, 16, &data, &[]), 10.0).expect("decode");
    assert_eq!(a.sample_rate, 16000);
    close(&a.samples, &VALUES, 1e-3);
}

#[test]
fn pcm8_unsigned() {
    let data: Vec<u8> = VALUES
        .iter()
        .map(|v| (v * 127.0 + 128.0).round() as u8)
        .collect();
    let a = decode_wav(&wav(1, 1, 8000, 8, &data, &[]), 10.0).expect("decode");
    close(&a.samples, &VALUES, 0.01);
}

#[test]
fn pcm24_and_pcm32() {
    let d24: Vec<u8> = VALUES
        .iter()
        .flat_map(|v| {
            let i = (v * 8_388_607.0) as i32;
            let b = i.to_le_bytes();
            [b[0], b[1], b[2]]
        })
        .collect();
    let a = decode_wav(&wav(1, 1, 44100, 24, &d24, &[]), 10.0).expect("24-bit");
    close(&a.samples, &VALUES, 1e-5);
    let d32: Vec<u8> = VALUES
        .iter()
        .flat_map(|v| ((f64::from(*v) * 2_147_483_647.0) as i32).to_le_bytes())
        .collect();
    let a = decode_wav(&wav(1, 1, 48000, 32, &d32, &[]), 10.0).expect("32-bit");
    close(&a.samples, &VALUES, 1e-6);
}

#[test]
fn float32_with_fact_and_peak_chunks() {
    let data: Vec<u8> = VALUES.iter().flat_map(|v| v.to_le_bytes()).collect();
    let extra = [(b"fact", vec![5, 0, 0, 0]), (b"PEAK", vec![1u8; 17])];
    let a = decode_wav(&wav(3, 1, 22050, 32, &data, &extra), 10.0).expect("float");
    close(&a.samples, &VALUES, 0.0);
}

#[test]
fn extensible_pcm_and_float() {
    for (sub, bits) in [(1u16, 16u16), (3, 32)] {
        let channels = 2u16;
        let block = channels * bits / 8;
        let mut fmt = Vec::new();
        fmt.extend_from_slice(&0xFFFEu16.to_le_bytes());
        fmt.extend_from_slice(&channels.to_le_bytes());
        fmt.extend_from_slice(&16000u32.to_le_bytes());
        fmt.extend_from_slice(&(16000 * u32::from(block)).to_le_bytes());
        fmt.extend_from_slice(&block.to_le_bytes());
        fmt.extend_from_slice(&bits.to_le_bytes());
        fmt.extend_from_slice(&22u16.to_le_bytes());
        fmt.extend_from_slice(&bits.to_le_bytes());
        fmt.extend_from_slice(&3u32.to_le_bytes());
        fmt.extend_from_slice(&sub.to_le_bytes());
        fmt.extend_from_slice(&[
            0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71,
        ]);
        let mut data = Vec::new();
        for v in VALUES {
            for ch in 0..2 {
                let s = if ch == 0 { v } else { -v };
                if sub == 1 {
                    data.extend_from_slice(&((s * 32767.0) as i16).to_le_bytes());
                } else {
                    data.extend_from_slice(&s.to_le_bytes());
                }
            }
        }
        let a = decode_wav(&wav_with_fmt(&fmt, &data, &[]), 10.0).expect("extensible");
        close(&a.samples, &[0.0; 5], 1e-4);
    }
}

#[test]
fn stereo_and_multichannel_mix_down() {
    let mut data = Vec::new();
    for v in VALUES {
        for k in 0..6 {
            let s = if k == 0 { v * 6.0 / 6.0 } else { 0.0 };
            data.extend_from_slice(&((s * 32767.0) as i16).to_le_bytes());
        }
    }
    let a = decode_wav(&wav(1, 6, 96000, 16, &data, &[]), 10.0).expect("6 ch");
    let want: Vec<f32> = VALUES.iter().map(|v| v / 6.0).collect();
    close(&a.samples, &want, 1e-3);
}

#[test]
fn odd_chunk_padding_and_unknown_chunks() {
    let data: Vec<u8> = VALUES
        .iter()
        .flat_map(|v| ((v * 32767.0) as i16).to_le_bytes())
        .collect();
    let extra = [(b"LIST", vec![1u8, 2, 3]), (b"junk", vec![9u8; 7])];
    let a = decode_wav(&wav(1, 1, 16000, 16, &data, &extra), 10.0).expect("decode");
    close(&a.samples, &VALUES, 1e-3);
}

#[test]
fn data_size_overrunning_the_file_is_accepted() {
    let data: Vec<u8> = VALUES
        .iter()
        .flat_map(|v| ((v * 32767.0) as i16).to_le_bytes())
        .collect();
    let mut w = wav(1, 1, 16000, 16, &data, &[]);
    let n = w.len();
    w[n - data.len() - 4..n - data.len()].copy_from_slice(&u32::MAX.to_le_bytes());
    w.push(0x7f); // half a frame at the end is dropped
    let a = decode_wav(&w, 10.0).expect("decode");
    close(&a.samples, &VALUES, 1e-3);
}

#[test]
fn errors_name_the_problem() {
    let pcm = |tag, ch, rate, bits| wav(tag, ch, rate, bits, &[0u8; 64], &[]);
    assert_eq!(decode_wav(&[], 10.0), Err(WavError::NotRiffWave));
    assert_eq!(
        decode_wav(b"RIFF", 10.0),
        Err(WavError::Truncated("RIFF header"))
    );
    assert_eq!(
        decode_wav(b"RIFF\0\0\0\0AVI LIST", 10.0),
        Err(WavError::NotRiffWave)
    );
    assert_eq!(
        decode_wav(&pcm(2, 1, 16000, 16), 10.0),
        Err(WavError::UnsupportedFormat(2))
    );
    assert!(matches!(
        decode_wav(&pcm(1, 1, 16000, 12), 10.0),
        Err(WavError::UnsupportedBitDepth { bits: 12, .. })
    ));
    assert!(matches!(
        decode_wav(&pcm(3, 1, 16000, 64), 10.0),
        Err(WavError::UnsupportedBitDepth { bits: 64, .. })
    ));
    assert_eq!(
        decode_wav(&pcm(1, 1, 4000, 16), 10.0),
        Err(WavError::SampleRateOutOfRange(4000))
    );
    assert_eq!(
        decode_wav(&pcm(1, 1, u32::MAX, 16), 10.0),
        Err(WavError::SampleRateOutOfRange(u32::MAX))
    );
    assert_eq!(
        decode_wav(&pcm(1, 0, 16000, 16), 10.0),
        Err(WavError::ZeroChannels)
    );
    assert_eq!(
        decode_wav(&pcm(1, 65535, 16000, 16), 10.0),
        Err(WavError::TooManyChannels(65535))
    );
    assert_eq!(
        decode_wav(&wav(1, 1, 16000, 16, &[], &[]), 10.0),
        Err(WavError::ZeroSamples)
    );
    assert_eq!(
        decode_wav(&wav(1, 2, 16000, 16, &[1, 2], &[]), 10.0),
        Err(WavError::ZeroSamples)
    );
    let long = wav(1, 1, 8000, 16, &vec![0u8; 8000 * 2 * 3], &[]);
    assert!(matches!(
        decode_wav(&long, 2.0),
        Err(WavError::TooLong { .. })
    ));
    // No fmt chunk, no data chunk.
    let mut only_data = b"RIFF\0\0\0\0WAVE".to_vec();
    chunk(&mut only_data, b"data", &[0u8; 8]);
    assert_eq!(decode_wav(&only_data, 10.0), Err(WavError::NoFmtChunk));
    let full = pcm(1, 1, 16000, 16);
    let fmt_only = &full[..12 + 8 + 16];
    assert_eq!(decode_wav(fmt_only, 10.0), Err(WavError::NoDataChunk));
    // A fmt chunk cut short is a truncated header.
    assert!(matches!(
        decode_wav(&full[..12 + 8 + 10], 10.0),
        Err(WavError::Truncated(_))
    ));
    assert!(matches!(
        decode_wav(&full[..12 + 5], 10.0),
        Err(WavError::Truncated(_))
    ));
    // Display says what is wrong.
    assert!(WavError::SampleRateOutOfRange(4000)
        .to_string()
        .contains("4000"));
    assert!(WavError::NoDataChunk.to_string().contains("data"));
}

/// A tiny xorshift generator: deterministic random bytes without a dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn hostile_inputs_never_panic() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let good = wav(1, 2, 44100, 16, &[1u8; 400], &[(b"LIST", vec![3u8; 9])]);
    // Every truncation of a valid file.
    for n in 0..good.len() {
        let _ = decode_wav(&good[..n], 10.0);
    }
    // Random bytes, random bytes behind a valid header, and single-byte corruptions.
    for round in 0..3000 {
        let len = (rng.next() % 300) as usize;
        let mut buf: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        if round % 3 == 1 && buf.len() >= 12 {
            buf[..12].copy_from_slice(b"RIFF\xff\xff\xff\xffWAVE");
        }
        let _ = decode_wav(&buf, 10.0);
        let mut g = good.clone();
        let at = (rng.next() as usize) % g.len();
        g[at] = rng.next() as u8;
        let _ = decode_wav(&g, 10.0);
    }
    // Absurd declared sizes in every chunk size field.
    for pos in [4usize, 16, 36, 48] {
        let mut g = good.clone();
        if pos + 4 <= g.len() {
            g[pos..pos + 4].copy_from_slice(&u32::MAX.to_le_bytes());
            let _ = decode_wav(&g, 10.0);
        }
    }
}
