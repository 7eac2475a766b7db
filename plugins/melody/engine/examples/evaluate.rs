//! Transcribes every .wav in a directory and reports time per clip and the speed factor.
//!
//! `cargo run --release -p kino-melody-engine-engine --example evaluate -- DIR [OUT_DIR] [--png]`
//! writes OUT_DIR/STEM.mid (and STEM.png with `--png`) for every DIR/STEM.wav.

use std::path::PathBuf;
use std::time::Instant;

/// CPU time of this thread in seconds (Linux `/proc/thread-self/schedstat`), so that
/// the speed factor does not depend on other load on the machine; `None` elsewhere.
fn cpu_seconds() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: f64 = s.split_whitespace().next()?.parse().ok()?;
    Some(ns / 1e9)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let png = if let Some(i) = args.iter().position(|a| a == "--png") {
        args.remove(i);
        true
    } else {
        false
    };
    let Some(dir) = args.first().map(PathBuf::from) else {
        eprintln!("usage: evaluate DIR [OUT_DIR] [--png]");
        std::process::exit(2);
    };
    let out_dir = args.get(1).map(PathBuf::from);
    if let Some(o) = &out_dir {
        std::fs::create_dir_all(o)?;
    }
    let mut wavs: Vec<PathBuf> = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("wav")))
        .collect();
    wavs.sort();
    let (mut audio_s, mut cpu_s) = (0.0f64, 0.0f64);
    for path in &wavs {
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let bytes = std::fs::read(path)?;
        let t0 = Instant::now();
        let c0 = cpu_seconds();
        let audio = match kino_melody_engine::decode_wav(&bytes, 3600.0) {
            Ok(a) => a,
            Err(e) => {
                println!("{stem}: {e}");
                continue;
            }
        };
        let tr = kino_melody_engine::transcribe(&audio, &kino_melody_engine::Params::default());
        let midi = kino_melody_engine::write_midi(&tr);
        let wall = t0.elapsed().as_secs_f64();
        let dt = match (c0, cpu_seconds()) {
            (Some(a), Some(b)) if b > a => b - a,
            _ => wall,
        };
        let dur = audio.duration_s();
        audio_s += dur;
        cpu_s += dt;
        println!(
            "{stem:<24} {dur:6.2} s audio  {:7.1} ms CPU  {:4} notes  {:6.1} bpm  x{:.0}",
            dt * 1000.0,
            tr.notes.len(),
            tr.tempo_bpm,
            dur / dt.max(1e-9)
        );
        if let Some(o) = &out_dir {
            std::fs::write(o.join(format!("{stem}.mid")), midi)?;
            if png {
                std::fs::write(
                    o.join(format!("{stem}.png")),
                    kino_melody_engine::render_score(&tr, &stem),
                )?;
            }
        }
    }
    println!(
        "total: {} clips, {audio_s:.1} s audio in {cpu_s:.3} s CPU (one thread): speed factor x{:.0}",
        wavs.len(),
        audio_s / cpu_s.max(1e-9)
    );
    Ok(())
}
