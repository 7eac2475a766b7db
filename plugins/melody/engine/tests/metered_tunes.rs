//! Tunes sung in time come out as their printed melody: right time signature, key signature,
//! beat phase, pickup, note values and spellings, bar for bar in the MusicXML.
//!
//! Each tune is written below in the compact text notation of `score_text` (`|` bar lines,
//! a pickup before the first one, `q.` a dotted quarter, `~` a tie), hummed by a synthetic
//! voice at a tempo drawn from a seed (the checker never sees it) with onsets jittered by up to
//! ±20 ms, notes detached by a short breath, and vibrato on the long ones; then transcribed by
//! the engine from the WAV samples and its MusicXML read back bar by bar.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{render, Rng, SynthNote};
use kino_melody_engine::{score_text, transcribe, write_musicxml, Audio, Params};
use quick_xml::events::Event as X;
use quick_xml::Reader;

const RATE: u32 = 16_000;

/// Ode to Joy in D major, 4/4 (the dotted quarter and eighth of bars 4 and 8 included).
const ODE: &str = "| F#4 q F#4 q G4 q A4 q | A4 q G4 q F#4 q E4 q | D4 q D4 q E4 q F#4 q \
    | F#4 q. E4 8 E4 h | F#4 q F#4 q G4 q A4 q | A4 q G4 q F#4 q E4 q | D4 q D4 q E4 q F#4 q \
    | E4 q. D4 8 D4 h |";

/// Twinkle Twinkle Little Star in C major, 4/4.
const TWINKLE: &str = "| C4 q C4 q G4 q G4 q | A4 q A4 q G4 h | F4 q F4 q E4 q E4 q \
    | D4 q D4 q C4 h | G4 q G4 q F4 q F4 q | E4 q E4 q D4 h | G4 q G4 q F4 q F4 q \
    | E4 q E4 q D4 h | C4 q C4 q G4 q G4 q | A4 q A4 q G4 h | F4 q F4 q E4 q E4 q \
    | D4 q D4 q C4 h |";

/// Happy Birthday in F major, 3/4, with its one-beat pickup (and the B-flats of bar 7).
const BIRTHDAY: &str = "C4 8. C4 16 | D4 q C4 q F4 q | E4 h C4 8. C4 16 | D4 q C4 q G4 q \
    | F4 h C4 8. C4 16 | C5 q A4 q F4 q | E4 q D4 q Bb4 8. Bb4 16 | A4 q F4 q G4 q | F4 h. |";

/// Row, Row, Row Your Boat in C major, 6/8, with its "merrily" bars: three repeated eighths of
/// one pitch, each sung about 150 ms with a 110-130 ms breath before the next.
const ROW: &str = "| C4 q. C4 q. | C4 q D4 8 E4 q. | E4 q D4 8 E4 q F4 8 | G4 h. \
    | C5 8 C5 8 C5 8 G4 8 G4 8 G4 8 | E4 8 E4 8 E4 8 C4 8 C4 8 C4 8 | G4 q F4 8 E4 q D4 8 \
    | C4 h. |";

/// A bar as written: whether it is the pickup, and its tokens ("F#4 q.", "r h", "E4 q~").
#[derive(Debug, PartialEq)]
struct Bar {
    pickup: bool,
    tokens: Vec<String>,
}

fn bars_of(text: &str) -> Vec<Bar> {
    let mut out = Vec::new();
    let pickup = !text.trim_start().starts_with('|');
    for (i, bar) in text.split('|').enumerate() {
        let words: Vec<&str> = bar.split_whitespace().collect();
        if words.is_empty() {
            continue;
        }
        out.push(Bar {
            pickup: pickup && i == 0,
            tokens: words.chunks(2).map(|w| w.join(" ")).collect(),
        });
    }
    out
}

fn beats(value: &str) -> f64 {
    let (base, dotted) = match value.strip_suffix('.') {
        Some(b) => (b, true),
        None => (value, false),
    };
    let b = match base {
        "w" => 4.0,
        "h" => 2.0,
        "q" => 1.0,
        "8" => 0.5,
        "16" => 0.25,
        other => panic!("unknown value {other}"),
    };
    if dotted {
        b * 1.5
    } else {
        b
    }
}

fn midi_of(name: &str) -> f64 {
    let letter = [
        ('C', 0),
        ('D', 2),
        ('E', 4),
        ('F', 5),
        ('G', 7),
        ('A', 9),
        ('B', 11),
    ]
    .iter()
    .find(|(c, _)| name.starts_with(*c))
    .map(|p| p.1)
    .expect("letter");
    let rest = &name[1..];
    let (alter, octave) = match rest.chars().next() {
        Some('#') => (1, &rest[1..]),
        Some('b') => (-1, &rest[1..]),
        _ => (0, rest),
    };
    let octave: i32 = octave.parse().expect("octave");
    f64::from((octave + 1) * 12 + letter + alter)
}

/// Hums `tune` at `bpm`: onsets jittered by up to ±20 ms, each note released 60-90 ms before
/// the next onset (at most 30 % of a short note), 110-130 ms before a repeat of its pitch (at
/// most 45 %: a new syllable), and 40-cent vibrato on notes from a half note.
fn hum(tune: &str, bpm: f64, seed: u64) -> Audio {
    let beat = 60.0 / bpm;
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let tokens: Vec<(f64, f64)> = bars_of(tune)
        .iter()
        .flat_map(|b| b.tokens.clone())
        .map(|tok| {
            let (name, value) = tok.split_once(' ').expect("name value");
            (midi_of(name), beats(value))
        })
        .collect();
    let mut t = 0.5;
    let mut notes = Vec::new();
    for (i, &(midi, value)) in tokens.iter().enumerate() {
        let len = value * beat;
        let onset = t + 0.02 * rng.uniform();
        let repeat = tokens.get(i + 1).is_some_and(|n| n.0 == midi);
        let gap = if repeat {
            (0.11 + 0.02 * rng.uniform().abs()).min(0.45 * len)
        } else {
            (0.06 + 0.03 * rng.uniform().abs()).min(0.3 * len)
        };
        let mut n = SynthNote::new(onset, t + len - gap, midi);
        if value >= 2.0 {
            n.vibrato_cents = 40.0;
        }
        notes.push(n);
        t += len;
    }
    Audio {
        sample_rate: RATE,
        samples: render(&notes, RATE, t + 0.5, 8),
    }
}

/// What the MusicXML says: key fifths, time signature, and the bars.
struct Read {
    fifths: String,
    time: String,
    bars: Vec<Bar>,
}

fn read_musicxml(xml: &[u8]) -> Read {
    let text = std::str::from_utf8(xml).unwrap();
    let mut r = Reader::from_str(text);
    let mut path: Vec<String> = Vec::new();
    let mut read = Read {
        fifths: String::new(),
        time: String::new(),
        bars: Vec::new(),
    };
    let (mut beats_, mut beat_type) = (String::new(), String::new());
    // The note being read: step, alter, octave, type, dot, rest, tie start.
    let mut note: (String, String, String, String, bool, bool, bool) = Default::default();
    let mut buf = String::new();
    let value = |kind: &str, dot: bool| -> String {
        let v = match kind {
            "whole" | "" => "w",
            "half" => "h",
            "quarter" => "q",
            "eighth" => "8",
            "16th" => "16",
            other => panic!("unexpected type {other}"),
        };
        format!("{v}{}", if dot { "." } else { "" })
    };
    loop {
        let ev = r.read_event().unwrap();
        let (name, empty, e) = match &ev {
            X::Eof => break,
            X::Start(e) => (
                String::from_utf8(e.name().as_ref().to_vec()).unwrap(),
                false,
                Some(e.clone()),
            ),
            X::Empty(e) => (
                String::from_utf8(e.name().as_ref().to_vec()).unwrap(),
                true,
                Some(e.clone()),
            ),
            X::Text(t) => {
                buf.push_str(&t.decode().unwrap());
                continue;
            }
            X::End(_) => (String::new(), false, None),
            _ => continue,
        };
        if let Some(e) = e {
            let attr = |k: &str| {
                e.try_get_attribute(k)
                    .unwrap()
                    .map(|a| String::from_utf8(a.value.to_vec()).unwrap())
            };
            match name.as_str() {
                "measure" => read.bars.push(Bar {
                    pickup: attr("implicit").as_deref() == Some("yes"),
                    tokens: Vec::new(),
                }),
                "note" => note = Default::default(),
                "rest" => note.5 = true,
                "dot" => note.4 = true,
                "tie" if attr("type").as_deref() == Some("start") => note.6 = true,
                _ => {}
            }
            if !empty {
                path.push(name);
                buf.clear();
            }
            continue;
        }
        let leaf = path.pop().unwrap_or_default();
        let v = std::mem::take(&mut buf).trim().to_string();
        match leaf.as_str() {
            "fifths" => read.fifths = v,
            "beats" => beats_ = v,
            "beat-type" => beat_type = v,
            "step" => note.0 = v,
            "alter" => note.1 = v,
            "octave" => note.2 = v,
            "type" => note.3 = v,
            "note" => {
                let val = value(&note.3, note.4);
                let tok = if note.5 {
                    format!("r {val}")
                } else {
                    let acc = match note.1.as_str() {
                        "1" => "#",
                        "-1" => "b",
                        _ => "",
                    };
                    let tie = if note.6 { "~" } else { "" };
                    format!("{}{acc}{} {val}{tie}", note.0, note.2)
                };
                read.bars.last_mut().expect("a measure").tokens.push(tok);
            }
            _ => {}
        }
    }
    read.time = format!("{beats_}/{beat_type}");
    read
}

/// Transcribes the hummed tune and checks its score against the printed melody; trailing
/// rests that fill the last bar are allowed.
fn check(name: &str, tune: &str, fifths: &str, time: &str, seed: u64) {
    if let Err(e) = try_check(name, tune, fifths, time, seed) {
        panic!("{e}");
    }
}

fn try_check(name: &str, tune: &str, fifths: &str, time: &str, seed: u64) -> Result<(), String> {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    rng.uniform();
    let bpm = 96.0 + 24.0 * rng.uniform().abs();
    let audio = hum(tune, bpm, seed.wrapping_mul(7919));
    let t = transcribe(&audio, &Params::default());
    let xml = write_musicxml(&t, name);
    let read = read_musicxml(&xml);
    let context = format!(
        "{name} hummed at {bpm:.1} bpm, written at {:.1} bpm:\n{}",
        t.tempo_bpm,
        score_text(&t)
    );
    if read.time != time || read.fifths != fifths {
        return Err(format!("{} {} in {context}", read.time, read.fifths));
    }
    let want = bars_of(tune);
    let mut got = read.bars;
    if let Some(last) = got.last_mut() {
        while last.tokens.last().is_some_and(|t| t.starts_with("r ")) && last.tokens.len() > 1 {
            last.tokens.pop();
        }
    }
    if got.len() != want.len() {
        return Err(format!(
            "{} bars, not {}, in {context}",
            got.len(),
            want.len()
        ));
    }
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        if g != w {
            return Err(format!("bar {i}: {g:?}, not {w:?}, in {context}"));
        }
    }
    Ok(())
}

#[test]
fn ode_to_joy_is_four_four_in_d_major_on_the_beat() {
    for seed in [1, 2, 3] {
        check("Ode to Joy", ODE, "2", "4/4", seed);
    }
}

#[test]
fn twinkle_twinkle_is_four_four_in_c_major() {
    for seed in [4, 5] {
        check("Twinkle", TWINKLE, "0", "4/4", seed);
    }
}

#[test]
fn happy_birthday_is_three_four_in_f_with_a_pickup_and_b_flats() {
    for seed in [6, 7, 8] {
        check("Happy Birthday", BIRTHDAY, "-1", "3/4", seed);
    }
}

#[test]
fn row_row_row_your_boat_is_six_eight() {
    for seed in [9, 10] {
        check("Row", ROW, "0", "6/8", seed);
    }
}

/// Forty performances of each tune, for the success rate in docs/melody.md:
/// `cargo test -p kino-melody-engine --test metered_tunes -- --ignored --nocapture`.
#[test]
#[ignore]
fn success_rate_over_many_performances() {
    let tunes = [
        ("Ode to Joy", ODE, "2", "4/4"),
        ("Twinkle", TWINKLE, "0", "4/4"),
        ("Happy Birthday", BIRTHDAY, "-1", "3/4"),
        ("Row", ROW, "0", "6/8"),
    ];
    for (name, tune, fifths, time) in tunes {
        let mut ok = 0;
        for seed in 100..140 {
            match try_check(name, tune, fifths, time, seed) {
                Ok(()) => ok += 1,
                Err(e) => println!("seed {seed}: {e}"),
            }
        }
        println!("{name}: {ok}/40 bar for bar");
    }
}
