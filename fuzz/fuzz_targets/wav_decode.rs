//! The WAV decoder on arbitrary bytes: it must answer `Ok` or a `WavError`, never panic, keep
//! to the duration cap, and what it decodes must survive a 16-bit re-encode.
#![no_main]

use kino_melody::engine::decode_wav;
use kino_melody::engine::wav::encode_wav_pcm16;
use libfuzzer_sys::fuzz_target;

const MAX_SECONDS: f64 = 30.0;

fuzz_target!(|data: &[u8]| {
    let Ok(audio) = decode_wav(data, MAX_SECONDS) else {
        return;
    };
    assert!((8_000..=96_000).contains(&audio.sample_rate));
    assert!(audio.samples.len() as f64 <= MAX_SECONDS * audio.sample_rate as f64 + 1.0);
    let again = decode_wav(
        &encode_wav_pcm16(audio.sample_rate, &audio.samples),
        MAX_SECONDS,
    )
    .expect("a re-encoded decode decodes");
    assert_eq!(again.samples.len(), audio.samples.len());
});
