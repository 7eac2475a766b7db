//! A small, panic-free RIFF/WAVE decoder.
//!
//! Uploaded audio is untrusted, so every length and offset is checked before use and
//! the decoder never allocates more than the bytes it was given can fill.

use thiserror::Error;

/// Mono audio ready for analysis: the channels of the file averaged into one.
#[derive(Debug, Clone, PartialEq)]
pub struct Audio {
    /// Samples per second, as declared by the file (8 kHz to 96 kHz).
    pub sample_rate: u32,
    /// Mono samples, nominally in -1.0..=1.0.
    pub samples: Vec<f32>,
}

impl Audio {
    /// Length in seconds; used for speed figures and the "too long" check.
    pub fn duration_s(&self) -> f64 {
        if self.sample_rate == 0 {
            0.0
        } else {
            self.samples.len() as f64 / f64::from(self.sample_rate)
        }
    }
}

/// Why a byte buffer could not be decoded as a WAV file; each message names the problem
/// so that a user can fix the upload.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum WavError {
    /// The buffer does not start with `RIFF....WAVE`.
    #[error("not a WAV file: missing RIFF/WAVE header")]
    NotRiffWave,
    /// The file ends in the middle of a header or chunk header.
    #[error("truncated WAV file: {0}")]
    Truncated(&'static str),
    /// No `fmt ` chunk appears before the data.
    #[error("WAV file has no fmt chunk")]
    NoFmtChunk,
    /// No `data` chunk in the file.
    #[error("WAV file has no data chunk")]
    NoDataChunk,
    /// Compressed or otherwise unknown encodings (only PCM and IEEE float are read).
    #[error("unsupported WAV format tag 0x{0:04x} (only PCM and IEEE float are supported)")]
    UnsupportedFormat(u16),
    /// A bit depth that does not go with the format tag.
    #[error("unsupported bit depth: {bits} bits for {kind}")]
    UnsupportedBitDepth {
        /// Bits per sample declared in the fmt chunk.
        bits: u16,
        /// "PCM" or "float".
        kind: &'static str,
    },
    /// Sample rates outside 8 kHz to 96 kHz are rejected.
    #[error("sample rate {0} Hz out of range (8000 to 96000 Hz)")]
    SampleRateOutOfRange(u32),
    /// The fmt chunk says zero channels.
    #[error("WAV file declares zero channels")]
    ZeroChannels,
    /// More channels than any recorder writes (more than 64).
    #[error("WAV file declares {0} channels (at most 64 are supported)")]
    TooManyChannels(u16),
    /// The data chunk holds not even one whole frame.
    #[error("WAV file holds no samples")]
    ZeroSamples,
    /// The audio is longer than the caller allows.
    #[error("audio too long: {seconds:.1} s (the limit is {max_seconds:.1} s)")]
    TooLong {
        /// Length of the audio in the file.
        seconds: f64,
        /// The limit the caller passed.
        max_seconds: f64,
    },
}

const FORMAT_PCM: u16 = 1;
const FORMAT_FLOAT: u16 = 3;
const FORMAT_EXTENSIBLE: u16 = 0xFFFE;

#[derive(Debug, Clone, Copy)]
enum Encoding {
    U8,
    I16,
    I24,
    I32,
    F32,
}

impl Encoding {
    fn bytes(self) -> usize {
        match self {
            Encoding::U8 => 1,
            Encoding::I16 => 2,
            Encoding::I24 => 3,
            Encoding::I32 | Encoding::F32 => 4,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Format {
    encoding: Encoding,
    channels: u16,
    sample_rate: u32,
    /// Bytes per frame as used to step through the data (block align, or computed).
    frame_bytes: usize,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([s[0], s[1]]))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn parse_fmt(body: &[u8]) -> Result<Format, WavError> {
    if body.len() < 16 {
        return Err(WavError::Truncated("fmt chunk shorter than 16 bytes"));
    }
    let short = WavError::Truncated("fmt chunk");
    let mut tag = u16_at(body, 0).ok_or(short.clone())?;
    let channels = u16_at(body, 2).ok_or(short.clone())?;
    let sample_rate = u32_at(body, 4).ok_or(short.clone())?;
    let block_align = u16_at(body, 12).ok_or(short.clone())?;
    let bits = u16_at(body, 14).ok_or(short.clone())?;
    if tag == FORMAT_EXTENSIBLE {
        // cbSize(2) validBits(2) channelMask(4) then the subformat GUID, whose first two
        // bytes are the real format tag.
        if body.len() < 40 {
            return Err(WavError::Truncated("WAVE_FORMAT_EXTENSIBLE fmt chunk"));
        }
        tag = u16_at(body, 24).ok_or(short)?;
    }
    let encoding = match tag {
        FORMAT_PCM => match bits {
            8 => Encoding::U8,
            16 => Encoding::I16,
            24 => Encoding::I24,
            32 => Encoding::I32,
            _ => return Err(WavError::UnsupportedBitDepth { bits, kind: "PCM" }),
        },
        FORMAT_FLOAT => match bits {
            32 => Encoding::F32,
            _ => {
                return Err(WavError::UnsupportedBitDepth {
                    bits,
                    kind: "float",
                })
            }
        },
        other => return Err(WavError::UnsupportedFormat(other)),
    };
    if channels == 0 {
        return Err(WavError::ZeroChannels);
    }
    if channels > 64 {
        return Err(WavError::TooManyChannels(channels));
    }
    if !(8000..=96000).contains(&sample_rate) {
        return Err(WavError::SampleRateOutOfRange(sample_rate));
    }
    let natural = encoding.bytes() * usize::from(channels);
    // Trust block align only when it is at least the packed frame size (some writers
    // pad 24-bit samples to 4 bytes); otherwise use the packed size.
    let frame_bytes = if usize::from(block_align) >= natural
        && usize::from(block_align) <= natural * 2
        && usize::from(block_align) % usize::from(channels) == 0
    {
        usize::from(block_align)
    } else {
        natural
    };
    Ok(Format {
        encoding,
        channels,
        sample_rate,
        frame_bytes,
    })
}

fn sample(enc: Encoding, s: &[u8]) -> f32 {
    match enc {
        Encoding::U8 => (f32::from(s[0]) - 128.0) / 128.0,
        Encoding::I16 => f32::from(i16::from_le_bytes([s[0], s[1]])) / 32768.0,
        Encoding::I24 => {
            let v = i32::from_le_bytes([0, s[0], s[1], s[2]]) >> 8;
            v as f32 / 8_388_608.0
        }
        Encoding::I32 => i32::from_le_bytes([s[0], s[1], s[2], s[3]]) as f32 / 2_147_483_648.0,
        Encoding::F32 => {
            let v = f32::from_le_bytes([s[0], s[1], s[2], s[3]]);
            if v.is_finite() {
                v.clamp(-4.0, 4.0)
            } else {
                0.0
            }
        }
    }
}

/// Decodes a RIFF/WAVE file into mono samples.
///
/// Reads PCM (8-bit unsigned, 16/24/32-bit signed), 32-bit IEEE float, and
/// `WAVE_FORMAT_EXTENSIBLE` with a PCM or float subformat, at 8 kHz to 96 kHz with any
/// number of channels (averaged to mono). Unknown chunks are skipped, odd-sized chunks
/// are padded as RIFF requires.
///
/// A `data` chunk whose declared size runs past the end of the file is accepted and
/// cut to the whole frames that are present, because many recorders (and streams that
/// were stopped early) write a wrong or placeholder size. A file whose headers are
/// themselves cut short is an error. Audio longer than `max_seconds` is rejected
/// before any sample is decoded.
pub fn decode_wav(bytes: &[u8], max_seconds: f64) -> Result<Audio, WavError> {
    if bytes.len() < 12 {
        if bytes.len() >= 4 && &bytes[0..4] == b"RIFF" {
            return Err(WavError::Truncated("RIFF header"));
        }
        return Err(WavError::NotRiffWave);
    }
    if &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(WavError::NotRiffWave);
    }
    let mut pos = 12usize;
    let mut format: Option<Format> = None;
    let mut data: Option<&[u8]> = None;
    while pos < bytes.len() {
        if bytes.len() - pos < 8 {
            // A few stray bytes after the last chunk are harmless once we have data.
            if data.is_some() {
                break;
            }
            return Err(WavError::Truncated("chunk header"));
        }
        let id = &bytes[pos..pos + 4];
        let size = u32_at(bytes, pos + 4).unwrap_or(0) as usize;
        let body_start = pos + 8;
        let declared_end = body_start.saturating_add(size);
        if id == b"fmt " {
            if declared_end > bytes.len() {
                return Err(WavError::Truncated("fmt chunk"));
            }
            format = Some(parse_fmt(&bytes[body_start..declared_end])?);
        } else if id == b"data" {
            let end = declared_end.min(bytes.len());
            data = Some(&bytes[body_start..end]);
            if declared_end >= bytes.len() {
                break;
            }
        }
        // Chunks are padded to an even size.
        pos = declared_end.saturating_add(size & 1);
    }
    let format = format.ok_or(WavError::NoFmtChunk)?;
    let data = data.ok_or(WavError::NoDataChunk)?;
    let frames = data.len() / format.frame_bytes;
    if frames == 0 {
        return Err(WavError::ZeroSamples);
    }
    let seconds = frames as f64 / f64::from(format.sample_rate);
    if seconds > max_seconds {
        return Err(WavError::TooLong {
            seconds,
            max_seconds,
        });
    }
    let bps = format.encoding.bytes();
    let channels = usize::from(format.channels);
    // Sample width within the frame slot (padded containers keep the data in the top bytes
    // for PCM; we read the packed layout when block align equals the natural size).
    let slot = format.frame_bytes / channels;
    let scale = 1.0 / channels as f32;
    let mut samples = Vec::with_capacity(frames);
    for frame in data.chunks_exact(format.frame_bytes) {
        let mut acc = 0.0f32;
        for ch in 0..channels {
            let start = ch * slot + (slot - bps);
            acc += sample(format.encoding, &frame[start..start + bps]);
        }
        samples.push(acc * scale);
    }
    Ok(Audio {
        sample_rate: format.sample_rate,
        samples,
    })
}

/// Encodes mono f32 samples as a 16-bit PCM WAV; used by tests and examples to build
/// inputs without a WAV library.
pub fn encode_wav_pcm16(sample_rate: u32, samples: &[f32]) -> Vec<u8> {
    let data_len = (samples.len() * 2) as u32;
    let mut out = Vec::with_capacity(44 + samples.len() * 2);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&FORMAT_PCM.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&sample_rate.to_le_bytes());
    out.extend_from_slice(&(sample_rate * 2).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for &s in samples {
        let v = (s.clamp(-1.0, 1.0) * 32767.0).round() as i16;
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}
