//! Generates the synthetic condition sets of `plugins/melody/tools/humgen.rs` and scores the
//! transcriber on them (or on any directory of WAV + truth CSV, such as the dev set):
//!
//! ```text
//! cargo run --release -p kino-melody-engine --example humset -- run tune|heldout [--per N] [--seconds S] [--only COND] [--base SEED] [-v]
//! cargo run --release -p kino-melody-engine --example humset -- gen tune|heldout OUT_DIR [--per N] [--seconds S]
//! cargo run --release -p kino-melody-engine --example humset -- eval DIR [-v]
//! cargo run --release -p kino-melody-engine --example humset -- one COND SEED [--seconds S] [--rate HZ] [--wav OUT.wav] [-v]
//! ```
//!
//! `run` scores in memory; `gen` writes COND_NNN.wav and COND_NNN.csv; `eval` groups clips by
//! the file name before its last `_`. Figures: mean over clips of note F1 (onset 50 ms, pitch
//! 50 cents) and F1 with offsets, pooled precision/recall, and the speed factor (CPU time of
//! this thread for decoding and transcription).

#[path = "../../tools/humgen.rs"]
mod humgen;
#[path = "../../tools/notescore.rs"]
mod notescore;

use humgen::{Clip, SetKind};
use kino_melody_engine::{decode_wav, transcribe, Params};
use notescore::{score, N};
use std::collections::BTreeMap;
use std::path::PathBuf;

fn cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .next()
                .and_then(|v| v.parse::<f64>().ok())
        })
        .map_or(0.0, |ns| ns / 1e9)
}

/// (group, name, sample rate, samples, truth).
type Item = (String, String, u32, Vec<f32>, Vec<N>);

#[derive(Default)]
struct Group {
    clips: usize,
    f: f64,
    fo: f64,
    notes: usize,
    est: usize,
    matched: usize,
    matched_o: usize,
    audio_s: f64,
    cpu_s: f64,
}

fn opt(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn show(n: &[N]) -> String {
    n.iter()
        .map(|(a, b, p)| format!("{a:.2}-{b:.2}:{p}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let verbose = args.iter().any(|a| a == "-v");
    let per: usize = opt(&args, "--per")
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let seconds: f64 = opt(&args, "--seconds")
        .and_then(|v| v.parse().ok())
        .unwrap_or(12.0);
    let only = opt(&args, "--only");
    let kind = |s: Option<&String>| match s.map(String::as_str) {
        Some("tune") => Ok(SetKind::Tune),
        Some("heldout") => Ok(SetKind::HeldOut),
        _ => Err("the set is `tune` or `heldout`"),
    };
    let mut items: Vec<Item> = Vec::new();
    match args.first().map(String::as_str) {
        Some("gen") => {
            let set = humgen::set(kind(args.get(1))?, per, seconds, None);
            let out = PathBuf::from(args.get(2).ok_or("gen needs OUT_DIR")?);
            std::fs::create_dir_all(&out)?;
            for c in &set {
                std::fs::write(
                    out.join(format!("{}.wav", c.name)),
                    humgen::wav_bytes(&c.samples, c.rate),
                )?;
                std::fs::write(
                    out.join(format!("{}.csv", c.name)),
                    humgen::truth_csv(&c.truth),
                )?;
            }
            println!("{} clips written to {}", set.len(), out.display());
            return Ok(());
        }
        Some("run") => {
            // `--base SEED`: the same conditions from other seeds (new variants to check a
            // change on, beside the two fixed sets).
            let set: Vec<Clip> = match opt(&args, "--base").and_then(|v| v.parse::<u64>().ok()) {
                Some(base) => humgen::Condition::ALL
                    .iter()
                    .flat_map(|&c| {
                        (0..per).map(move |i| {
                            let mut clip =
                                humgen::clip(c, base + 1_000 * c.slot() + i as u64, seconds, None);
                            clip.name = format!("{}_{:03}", c.name(), i + 1);
                            clip
                        })
                    })
                    .collect(),
                None => humgen::set(kind(args.get(1))?, per, seconds, None),
            };
            for c in set {
                if only.as_deref().is_some_and(|o| o != c.condition.name()) {
                    continue;
                }
                let truth = c
                    .truth
                    .iter()
                    .map(|n| (n.onset, n.offset, n.pitch))
                    .collect();
                items.push((
                    c.condition.name().to_string(),
                    c.name,
                    c.rate,
                    c.samples,
                    truth,
                ));
            }
        }
        Some("one") => {
            // One clip: COND SEED, at --seconds and --rate (16 kHz, as the engine's tests).
            let c = args
                .get(1)
                .and_then(|n| humgen::Condition::from_name(n))
                .ok_or("one needs a condition name")?;
            let seed: u64 = args
                .get(2)
                .and_then(|v| v.parse().ok())
                .ok_or("one needs a seed")?;
            let rate: u32 = opt(&args, "--rate")
                .and_then(|v| v.parse().ok())
                .unwrap_or(16_000);
            let clip = humgen::clip(c, seed, seconds, Some(rate));
            if let Some(out) = opt(&args, "--wav") {
                std::fs::write(out, humgen::wav_bytes(&clip.samples, clip.rate))?;
            }
            let truth = clip
                .truth
                .iter()
                .map(|n| (n.onset, n.offset, n.pitch))
                .collect();
            items.push((
                c.name().to_string(),
                clip.name,
                clip.rate,
                clip.samples,
                truth,
            ));
        }
        Some("eval") => {
            let dir = PathBuf::from(args.get(1).ok_or("eval needs DIR")?);
            let mut wavs: Vec<PathBuf> = std::fs::read_dir(&dir)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "wav"))
                .collect();
            wavs.sort();
            for w in wavs {
                let Ok(text) = std::fs::read_to_string(w.with_extension("csv")) else {
                    continue;
                };
                let stem = w
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let group = stem
                    .rsplit_once('_')
                    .map_or(stem.clone(), |(g, _)| g.to_string());
                if only.as_deref().is_some_and(|o| o != group) {
                    continue;
                }
                let audio = decode_wav(&std::fs::read(&w)?, 3600.0)?;
                items.push((
                    group,
                    stem,
                    audio.sample_rate,
                    audio.samples,
                    notescore::read_csv(&text),
                ));
            }
        }
        _ => {
            eprintln!("usage: humset run|gen|eval ... (see the doc comment)");
            std::process::exit(2);
        }
    }
    let mut groups: BTreeMap<String, Group> = BTreeMap::new();
    for (group, name, rate, samples, truth) in items {
        let audio = kino_melody_engine::Audio {
            sample_rate: rate,
            samples,
        };
        let c0 = cpu_seconds();
        let tr = transcribe(&audio, &Params::default());
        let dt = cpu_seconds() - c0;
        let est: Vec<N> = tr
            .notes
            .iter()
            .map(|n| (n.onset_s, n.offset_s, n.pitch))
            .collect();
        let a = score(&truth, &est, false);
        let b = score(&truth, &est, true);
        if verbose && (a.f < 0.999 || b.f < 0.999) {
            println!(
                "{name}: F1 {:.3} / {:.3} (room decay {:?} dB/s)\n  truth {}\n  est   {}",
                a.f,
                b.f,
                kino_melody_engine::debug_room_rate(&audio),
                show(&truth),
                show(&est)
            );
        }
        for key in [group.clone(), "ALL".to_string()] {
            let g = groups.entry(key).or_default();
            g.clips += 1;
            g.f += a.f;
            g.fo += b.f;
            g.notes += truth.len();
            g.est += est.len();
            g.matched += a.matched;
            g.matched_o += b.matched;
            g.audio_s += audio.duration_s();
            g.cpu_s += dt;
        }
        if group == "dry" || group == "room" {
            let g = groups
                .entry("half-room (dry+room)".to_string())
                .or_default();
            g.clips += 1;
            g.f += a.f;
            g.fo += b.f;
            g.notes += truth.len();
            g.est += est.len();
            g.matched += a.matched;
            g.matched_o += b.matched;
            g.audio_s += audio.duration_s();
            g.cpu_s += dt;
        }
    }
    println!(
        "{:<22} {:>5} {:>6} {:>7} {:>9} {:>7} {:>7} {:>8}",
        "condition", "clips", "notes", "F1", "F1 offs", "prec", "recall", "speed"
    );
    for (name, g) in &groups {
        let n = g.clips.max(1) as f64;
        println!(
            "{:<22} {:>5} {:>6} {:>7.3} {:>9.3} {:>7.3} {:>7.3} {:>7.0}x",
            name,
            g.clips,
            g.notes,
            g.f / n,
            g.fo / n,
            g.matched as f64 / g.est.max(1) as f64,
            g.matched as f64 / g.notes.max(1) as f64,
            g.audio_s / g.cpu_s.max(1e-9)
        );
    }
    Ok(())
}
