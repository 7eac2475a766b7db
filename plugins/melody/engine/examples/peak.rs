//! Runs the whole per-recording pipeline of `melody.transcribe` once (decode, transcribe, cap the
//! notes, MIDI, score) so that its peak memory can be measured from outside:
//!
//! `cargo run -p kino-melody-engine-engine --example peak -- gen 600 8000 /tmp/adversarial.wav` writes a
//! hostile recording (a new pitch every 150 ms for 600 s at 8 kHz), then
//! `/usr/bin/time -v target/debug/examples/peak /tmp/adversarial.wav 400 0` reports the
//! "Maximum resident set size" of one transcription with `tempo_bpm: 400, min_note_ms: 0`
//! under the plugin's default bounds (docs/melody.md, "Memory").

use kino_melody_engine::{
    decode_wav, render_score_limited, transcribe, write_midi, Params, ScoreLimits,
    DEFAULT_MAX_NOTES,
};

fn generate(seconds: f64, rate: u32) -> Vec<u8> {
    let n = (seconds * f64::from(rate)) as usize;
    let step = (0.15 * f64::from(rate)) as usize;
    let mut phase = 0.0f64;
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        // A pitch wandering over two octaves, changed every step, never twice the same.
        let k = (i / step) as u64;
        let pitch = 48 + ((k * 7 + k / 5) % 24) as u32;
        let f = 440.0 * 2f64.powf((f64::from(pitch) - 69.0) / 12.0);
        phase += f / f64::from(rate);
        let s: f64 = (1..=3)
            .map(|h| (2.0 * std::f64::consts::PI * phase * f64::from(h)).sin() / f64::from(h))
            .sum();
        samples.push((0.3 * s) as f32);
    }
    kino_melody_engine::wav::encode_wav_pcm16(rate, &samples)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("gen") {
        let secs: f64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(600.0);
        let rate: u32 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(8000);
        let out = args.get(3).map_or("/tmp/adversarial.wav", String::as_str);
        std::fs::write(out, generate(secs, rate))?;
        return Ok(());
    }
    let Some(path) = args.first() else {
        eprintln!("usage: peak FILE.wav [TEMPO_BPM MIN_NOTE_MS] | peak gen SECONDS RATE OUT.wav");
        std::process::exit(2);
    };
    let params = Params {
        tempo_bpm: args.get(1).and_then(|s| s.parse().ok()),
        min_note_ms: args.get(2).and_then(|s| s.parse().ok()),
    };
    let wav = std::fs::read(path)?;
    let audio = decode_wav(&wav, 3600.0)?;
    // As the plugin does: the file's bytes are freed once decoded.
    drop(wav);
    let mut t = transcribe(&audio, &params);
    let found = t.notes.len();
    t.notes.truncate(DEFAULT_MAX_NOTES);
    let midi = write_midi(&t);
    let png = render_score_limited(&t, "peak", &ScoreLimits::default());
    println!(
        "{:.0} s of audio: {found} notes ({} kept), MIDI {} bytes, PNG {} bytes",
        audio.duration_s(),
        t.notes.len(),
        midi.len(),
        png.len()
    );
    Ok(())
}
