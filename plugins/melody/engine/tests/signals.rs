//! Transcription of generated signals whose notes are known exactly.

mod common;

use common::{add_noise, render, SynthNote};
use kino_melody_engine::{transcribe, Audio, Note, Params};

fn run(samples: Vec<f32>, rate: u32) -> Vec<Note> {
    transcribe(
        &Audio {
            sample_rate: rate,
            samples,
        },
        &Params::default(),
    )
    .notes
}

fn check(got: &[Note], want: &[SynthNote]) {
    let show = format!("{got:?}");
    assert_eq!(got.len(), want.len(), "notes: {show}");
    for (g, w) in got.iter().zip(want) {
        assert_eq!(f64::from(g.pitch), w.midi.round(), "pitch: {show}");
        assert!(
            (g.onset_s - w.onset).abs() <= 0.05,
            "onset {} vs {}: {show}",
            g.onset_s,
            w.onset
        );
        assert!(g.offset_s > g.onset_s);
    }
}

#[test]
fn pure_tone() {
    let want = [SynthNote::new(0.5, 1.5, 69.0)];
    let got = run(render(&want, 16000, 2.0, 1), 16000);
    check(&got, &want);
    assert!((got[0].offset_s - 1.5).abs() < 0.08, "{got:?}");
}

#[test]
fn scale_with_legato_glides() {
    let mut want = Vec::new();
    for (i, m) in [60.0, 62.0, 64.0, 65.0, 67.0, 69.0].iter().enumerate() {
        let on = 0.3 + 0.4 * i as f64;
        let mut n = SynthNote::new(on, on + 0.4, *m);
        n.legato = i > 0;
        want.push(n);
    }
    let got = run(render(&want, 22050, 3.0, 8), 22050);
    check(&got, &want);
}

#[test]
fn vibrato_and_detuning() {
    // 40 cents of vibrato around a note detuned 25 cents sharp: still one A3.
    let mut n = SynthNote::new(0.4, 2.2, 57.25);
    n.vibrato_cents = 40.0;
    let got = run(render(&[n], 44100, 2.6, 8), 44100);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].pitch, 57);
    assert!((got[0].onset_s - 0.4).abs() <= 0.05);
}

#[test]
fn notes_in_noise_and_hum() {
    let want = [
        SynthNote::new(0.5, 0.9, 55.0),
        SynthNote::new(1.0, 1.4, 59.0),
        SynthNote::new(1.5, 1.9, 62.0),
        SynthNote::new(2.1, 2.8, 59.0),
    ];
    let mut x = render(&want, 16000, 3.2, 8);
    add_noise(&mut x, 16000, 12.0, 7);
    let got = run(x, 16000);
    check(&got, &want);
}

#[test]
fn silence_and_noise_give_no_notes() {
    assert!(run(vec![0.0; 16000], 16000).is_empty());
    let mut x = vec![0.0f32; 32000];
    let mut rng = common::Rng(3);
    for s in &mut x {
        *s = (0.01 * rng.uniform()) as f32;
    }
    assert!(run(x, 16000).is_empty());
    assert!(run(Vec::new(), 16000).is_empty());
}

#[test]
fn note_names() {
    assert_eq!(kino_melody_engine::note_name(60), "C4");
    assert_eq!(kino_melody_engine::note_name(61), "C#4");
    assert_eq!(kino_melody_engine::note_name(21), "A0");
    assert_eq!(kino_melody_engine::note_name(0), "C-1");
    assert_eq!(kino_melody_engine::note_name(127), "G9");
}

#[test]
fn odd_inputs_do_not_panic() {
    let mut rng = common::Rng(11);
    let mut cases: Vec<(u32, Vec<f32>)> = vec![
        (8000, vec![0.5]),
        (96000, vec![0.1; 7]),
        (44100, vec![1.0; 44100]), // DC
        (
            22050,
            (0..22050)
                .map(|i| if i % 100 < 50 { 1.0 } else { -1.0 })
                .collect(),
        ), // square
        (
            16000,
            (0..48000)
                .map(|i| if i % 4000 == 0 { 1.0 } else { 0.0 })
                .collect(),
        ), // clicks
        (16000, (0..48000).map(|_| rng.uniform() as f32).collect()), // loud noise
    ];
    // A sweep from 50 Hz to 2 kHz, clipped.
    let sweep: Vec<f32> = (0..64000)
        .map(|i| {
            let t = f64::from(i) / 16000.0;
            (3.0 * (2.0 * std::f64::consts::PI * (50.0 * t + 240.0 * t * t)).sin()).clamp(-1.0, 1.0)
                as f32
        })
        .collect();
    cases.push((16000, sweep));
    for (rate, samples) in cases {
        let t = transcribe(
            &Audio {
                sample_rate: rate,
                samples,
            },
            &Params::default(),
        );
        for n in &t.notes {
            assert!(n.offset_s > n.onset_s && n.onset_s >= 0.0);
        }
        assert!(t.tempo_bpm.is_finite() && t.tempo_bpm > 0.0);
        let odd = Params {
            tempo_bpm: Some(f64::NAN),
            min_note_ms: Some(f64::NAN),
        };
        let _ = transcribe(
            &Audio {
                sample_rate: rate,
                samples: vec![0.0; 10],
            },
            &odd,
        );
    }
}

#[test]
fn detached_notes_with_digital_silence_between_stay_four_notes() {
    // Clean harmonic tones with 120 ms of exact silence between them: the gaps are short
    // enough to be joined as possible legato, but silence is never a note of its own.
    let rate = 16_000u32;
    let mut samples = vec![0.0f32; 4800];
    let mut want = Vec::new();
    for &(pitch, secs) in &[(60u8, 0.5f64), (62, 0.5), (64, 0.5), (67, 0.8)] {
        want.push((samples.len() as f64 / f64::from(rate), pitch));
        let f = 440.0 * 2f64.powf((f64::from(pitch) - 69.0) / 12.0);
        for i in 0..(secs * f64::from(rate)) as usize {
            let t = i as f64 / f64::from(rate);
            let env = (t / 0.02).min(1.0).min((secs - t) / 0.03).max(0.0);
            let s: f64 = (1..=4)
                .map(|h| (2.0 * std::f64::consts::PI * f * f64::from(h) * t).sin() / f64::from(h))
                .sum();
            samples.push((0.3 * env * s) as f32);
        }
        samples.extend(std::iter::repeat_n(0.0, 1920));
    }
    let got = run(samples, rate);
    assert_eq!(got.len(), want.len(), "{got:?}");
    for (g, (onset, pitch)) in got.iter().zip(want) {
        assert_eq!(g.pitch, pitch, "{got:?}");
        assert!((g.onset_s - onset).abs() < 0.05, "{got:?}");
    }
}
