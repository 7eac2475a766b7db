//! `hum PATH.wav [--out DIR]` through the real binary: the notes are printed, and the MIDI file
//! and score are saved under the WAV's name.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use common::{add_user, kino, server_with};
use kino_melody::engine::wav::encode_wav_pcm16;
use serde_json::json;

fn tune() -> Vec<u8> {
    let rate = 16_000u32;
    let mut samples = vec![0.0f32; 4000];
    for pitch in [67.0f64, 69.0, 71.0] {
        let f = 440.0 * 2f64.powf((pitch - 69.0) / 12.0);
        for i in 0..8000 {
            let t = f64::from(i) / f64::from(rate);
            let env = (t / 0.02).min(1.0).min((0.5 - t) / 0.03).max(0.0);
            samples.push((0.3 * env * (2.0 * std::f64::consts::PI * f * t).sin()) as f32);
        }
        samples.extend(std::iter::repeat_n(0.0, 2000));
    }
    encode_wav_pcm16(rate, &samples)
}

#[test]
fn hum_prints_notes_and_saves_midi_musicxml_and_png() {
    let s = server_with(vec![Arc::new(kino_melody::Melody)]);
    add_user(&s, "singer", "singer-pw-1");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tune.wav"), tune()).unwrap();
    let out = dir.path().join("out");
    let ran = kino(&s)
        .user("singer", "singer-pw-1")
        .cwd(dir.path())
        .args([
            "--json",
            "-c",
            &format!("hum tune.wav --out {}", out.display()),
        ])
        .run();
    let reply = ran.expect_code(0).json_lines().remove(0);
    let pitches: Vec<_> = reply["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["pitch"].clone())
        .collect();
    assert_eq!(pitches, vec![json!(67), json!(69), json!(71)]);
    let midi = std::fs::read(out.join("tune.mid")).unwrap();
    assert_eq!(&midi[..4], b"MThd");
    let png = std::fs::read(out.join("tune.png")).unwrap();
    assert_eq!(&png[..4], b"\x89PNG");
    let xml = std::fs::read_to_string(out.join("tune.musicxml")).unwrap();
    assert!(xml.contains("<score-partwise"), "{xml}");
    assert_eq!(reply["saved"].as_array().map(Vec::len), Some(3), "{reply}");
    assert!(!out.join("tune.mid.part").exists());

    // Plain output: the tempo, time signature and key, the score as text, then where the files
    // went; the score arguments go through, a key with a sharp included.
    let ran = kino(&s)
        .user("singer", "singer-pw-1")
        .cwd(dir.path())
        .args([
            "-c",
            "hum tune.wav tempo_bpm=90 time_signature=3/4 key=F#m --out keyed",
        ])
        .run();
    ran.expect_code(0);
    assert!(
        ran.stdout.contains("tempo 90 bpm, 3/4, F# minor"),
        "{}",
        ran.stdout
    );
    let score = ran
        .stdout
        .lines()
        .find(|l| l.contains('|'))
        .unwrap_or_default();
    assert!(
        score.contains("G4 q") && score.contains("A4 q") && score.contains("B4 "),
        "{}",
        ran.stdout
    );
    let xml = std::fs::read_to_string(dir.path().join("keyed/tune.musicxml")).unwrap();
    assert!(xml.contains("<fifths>3</fifths>") && xml.contains("<beats>3</beats>"));
    let ran = kino(&s)
        .user("singer", "singer-pw-1")
        .cwd(dir.path())
        .args(["-c", "hum tune.wav time_signature=5/4"])
        .run();
    ran.expect_code(1);
    assert!(ran.stderr.contains("bad_args"), "{}", ran.stderr);

    // Plain output by default too.
    let ran = kino(&s)
        .user("singer", "singer-pw-1")
        .cwd(dir.path())
        .args(["-c", "hum tune.wav"])
        .run();
    ran.expect_code(0);
    assert!(
        ran.stdout.contains("G4") && ran.stdout.contains("B4"),
        "{}",
        ran.stdout
    );
    assert!(ran.stdout.contains("tune.mid"), "{}", ran.stdout);

    // Not a WAV: the server's error, exit code 1, nothing saved.
    std::fs::write(dir.path().join("bad.wav"), b"nope").unwrap();
    let ran = kino(&s)
        .user("singer", "singer-pw-1")
        .cwd(dir.path())
        .args(["-c", "hum bad.wav"])
        .run();
    ran.expect_code(1);
    assert!(ran.stderr.contains("bad_args"), "{}", ran.stderr);
    assert!(!dir.path().join("bad.mid").exists());
}

#[test]
fn hum_takes_the_servers_options_never_overwrites_and_saves_past_results() {
    let s = server_with(vec![Arc::new(kino_melody::Melody)]);
    add_user(&s, "singer", "singer-pw-1");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tune.wav"), tune()).unwrap();
    let singer = || kino(&s).user("singer", "singer-pw-1").cwd(dir.path());

    // The raw payload commands point at the shell commands that handle them.
    let ran = singer().args(["-c", "melody.transcribe"]).run();
    ran.expect_code(2);
    assert!(ran.stderr.contains("`hum PATH.wav`"), "{}", ran.stderr);
    assert!(!ran.stderr.contains("upload PATH"), "{}", ran.stderr);
    let ran = singer()
        .args(["-c", "melody.fetch key=abc format=png"])
        .run();
    ran.expect_code(2);
    assert!(ran.stderr.contains("hum --fetch KEY"), "{}", ran.stderr);
    assert!(ran.stderr.contains("save melody.fetch"), "{}", ran.stderr);
    assert!(!ran.stderr.contains("download ID"), "{}", ran.stderr);

    // The server's options go through.
    let ran = singer()
        .args([
            "--json",
            "-c",
            "hum tune.wav tempo_bpm=90 min_note_ms=50 title=Ode",
        ])
        .run();
    let reply = ran.expect_code(0).json_lines().remove(0);
    assert_eq!(reply["tempo_bpm"], json!(90.0), "{reply}");
    let key = reply["key"].as_str().unwrap().to_string();
    let first_midi = std::fs::read(dir.path().join("tune.mid")).unwrap();

    // A second run keeps the first files and numbers both new ones alike.
    let ran = singer().args(["-c", "hum tune.wav"]).run();
    ran.expect_code(0);
    assert!(
        ran.stdout.contains("saved MIDI to ./tune (1).mid")
            && ran.stdout.contains("saved score to ./tune (1).png"),
        "{}",
        ran.stdout
    );
    assert_eq!(
        std::fs::read(dir.path().join("tune.mid")).unwrap(),
        first_midi
    );
    assert!(dir.path().join("tune (1).png").exists());
    // `--force` replaces.
    singer()
        .args(["-c", "hum tune.wav --force"])
        .run()
        .expect_code(0);
    assert!(!dir.path().join("tune (2).mid").exists());

    // A past result: both files by key, or one through the generic `save`.
    let ran = singer()
        .args(["-c", &format!("hum --fetch {key} --out past")])
        .run();
    ran.expect_code(0);
    let midi = std::fs::read(dir.path().join(format!("past/{key}.mid"))).unwrap();
    assert_eq!(&midi[..4], b"MThd");
    assert!(dir.path().join(format!("past/{key}.png")).exists());
    let save = format!("save melody.fetch key={key} format=png --out score.png");
    singer().args(["-c", &save]).run().expect_code(0);
    let png = std::fs::read(dir.path().join("score.png")).unwrap();
    assert_eq!(&png[..4], b"\x89PNG");
    let ran = singer().args(["-c", &save]).run();
    ran.expect_code(1);
    assert!(ran.stderr.contains("add --force"), "{}", ran.stderr);
    singer()
        .args(["-c", &format!("{save} --force")])
        .run()
        .expect_code(0);

    // A refused fetch leaves no partial file.
    let ran = singer()
        .args(["-c", "save melody.fetch key=nope --out gone.mid"])
        .run();
    ran.expect_code(1);
    assert!(!dir.path().join("gone.mid.part").exists());
    assert!(!dir.path().join("gone.mid").exists());
}

/// Twenty seconds of 150 ms notes: a score of several pages at a small page height.
fn long_tune() -> Vec<u8> {
    let rate = 16_000u32;
    let step = (0.15 * f64::from(rate)) as usize;
    let mut phase = 0.0f64;
    let samples: Vec<f32> = (0..20 * rate as usize)
        .map(|i| {
            let k = (i / step) as u64;
            let pitch = 48 + ((k * 7 + k / 5) % 24) as u32;
            let f = 440.0 * 2f64.powf((f64::from(pitch) - 69.0) / 12.0);
            phase += f / f64::from(rate);
            (0.3 * (2.0 * std::f64::consts::PI * phase).sin()) as f32
        })
        .collect();
    encode_wav_pcm16(rate, &samples)
}

#[test]
fn hum_saves_every_page_of_a_long_score() {
    let s = kino_testkit::TestServer::with_admin(
        {
            let mut p = common::media_plugins();
            p.push(Arc::new(kino_melody::Melody));
            p
        },
        |c| c.setting("melody-max-score-px", json!(500)),
    );
    add_user(&s, "singer", "singer-pw-1");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("long.wav"), long_tune()).unwrap();
    let ran = kino(&s)
        .user("singer", "singer-pw-1")
        .cwd(dir.path())
        .args(["--json", "-c", "hum long.wav tempo_bpm=60"])
        .run();
    let reply = ran.expect_code(0).json_lines().remove(0);
    let pages = reply["pages"].as_u64().unwrap();
    assert!(pages >= 3, "{pages} pages");
    assert!(dir.path().join("long.png").exists());
    for page in 2..=pages {
        let png = std::fs::read(dir.path().join(format!("long-p{page}.png"))).unwrap();
        assert_eq!(&png[..4], b"\x89PNG", "page {page}");
    }
    assert_eq!(
        reply["saved"].as_array().map(Vec::len),
        Some(2 + pages as usize),
        "{reply}"
    );
}
