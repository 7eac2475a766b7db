//! Regression test over the shared development set (skipped when it is absent).
//!
//! Note F1 without offsets, with mir_eval's rule: an estimated note matches a reference
//! note when the onsets are within 50 ms and the pitches within 50 cents, one to one
//! (maximum bipartite matching). Clip scores are averaged with the README's empty-case
//! rules.

use kino_melody_engine::{decode_wav, transcribe, Params};

// The matching the scorer of the generated sets uses (mir_eval's maximum bipartite matching).
#[path = "../../tools/notescore.rs"]
mod notescore;
use notescore::max_matching;
use std::path::Path;

/// Mean F1 reached when this floor was set was 0.978; the floor leaves a little room.
const FLOOR: f64 = 0.95;

fn read_truth(path: &Path) -> Vec<(f64, u8)> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let mut it = l.split(',');
            let on: f64 = it.next()?.trim().parse().ok()?;
            let _off: f64 = it.next()?.trim().parse().ok()?;
            let p: f64 = it.next()?.trim().parse().ok()?;
            Some((on, p.round() as u8))
        })
        .collect()
}

fn f1(truth: &[(f64, u8)], est: &[(f64, u8)]) -> f64 {
    if truth.is_empty() || est.is_empty() {
        return if truth.is_empty() && est.is_empty() {
            1.0
        } else {
            0.0
        };
    }
    let adj: Vec<Vec<usize>> = truth
        .iter()
        .map(|r| {
            est.iter()
                .enumerate()
                .filter(|(_, e)| (e.0 - r.0).abs() <= 0.05 + 1e-9 && e.1 == r.1)
                .map(|(j, _)| j)
                .collect()
        })
        .collect();
    let m = max_matching(&adj, est.len()) as f64;
    if m == 0.0 {
        return 0.0;
    }
    let (p, r) = (m / est.len() as f64, m / truth.len() as f64);
    2.0 * p * r / (p + r)
}

#[test]
fn dev_set_note_f1() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../../shared/melody-dev");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        println!("skipped: no dev set at {}", dir.display());
        return;
    };
    let mut wavs: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "wav"))
        .collect();
    wavs.sort();
    if wavs.is_empty() {
        println!("skipped: no WAV files in {}", dir.display());
        return;
    }
    let mut scores = Vec::new();
    for wav in &wavs {
        let bytes = std::fs::read(wav).expect("read wav");
        let audio = decode_wav(&bytes, 600.0).expect("decode dev clip");
        let est: Vec<(f64, u8)> = transcribe(&audio, &Params::default())
            .notes
            .iter()
            .map(|n| (n.onset_s, n.pitch))
            .collect();
        let truth = read_truth(&wav.with_extension("csv"));
        let s = f1(&truth, &est);
        println!(
            "{:<24} {s:.3}",
            wav.file_stem()
                .map(|s| s.to_string_lossy())
                .unwrap_or_default()
        );
        scores.push(s);
    }
    let mean = scores.iter().sum::<f64>() / scores.len() as f64;
    println!(
        "mean note F1 (no offset) over {} clips: {mean:.3}",
        scores.len()
    );
    assert!(mean >= FLOOR, "mean note F1 {mean:.3} fell below {FLOOR}");
}
