//! Tunes written in `score_text`'s notation, hummed by a synthetic voice, transcribed, and their
//! MusicXML read back bar by bar: the harness of `metered_tunes.rs` and `score_timing.rs`.
//!
//! A tune is bars of `NAME VALUE` pairs (`F#4 q.`, `r h`, `E4 q~`), `|` bar lines, a pickup
//! before the first one, and triplets between `3[` and `]` (each value inside lasting two
//! thirds of its written length).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use crate::common::{render, Rng, SynthNote};
use kino_melody_engine::{score_text, transcribe, write_musicxml, Audio, Params};
use quick_xml::events::Event as X;
use quick_xml::Reader;

pub const RATE: u32 = 16_000;

/// A bar as written: whether it is the pickup, and its tokens ("F#4 q.", "r h", "E4 q~", and
/// "3[" and "]" around a triplet).
#[derive(Debug, PartialEq)]
pub struct Bar {
    pub pickup: bool,
    pub tokens: Vec<String>,
}

pub fn bars_of(text: &str) -> Vec<Bar> {
    let mut out = Vec::new();
    let pickup = !text.trim_start().starts_with('|');
    for (i, bar) in text.split('|').enumerate() {
        let mut tokens = Vec::new();
        let mut pending: Option<&str> = None;
        for w in bar.split_whitespace() {
            match (w, pending.take()) {
                ("3[" | "]", None) => tokens.push(w.to_string()),
                (_, None) => pending = Some(w),
                (_, Some(name)) => tokens.push(format!("{name} {w}")),
            }
        }
        if tokens.is_empty() {
            continue;
        }
        out.push(Bar {
            pickup: pickup && i == 0,
            tokens,
        });
    }
    out
}

pub fn beats(value: &str) -> f64 {
    let value = value.trim_end_matches('~');
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

pub fn midi_of(name: &str) -> f64 {
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

/// How a tune is performed beyond its notes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Performance {
    /// Ritardando: over the last `rit_bars` bars the beat grows smoothly until it is this
    /// fraction longer (0.12: the singer ends 12 % slower).
    pub rit: f64,
    /// Bars the ritardando spans, counted from the end (a drift when it is all of them).
    pub rit_bars: usize,
}

/// The tune's notes as (midi, beats, start in beats), rests left out and ties joined; where
/// the last `rit_bars` bars start and where the tune ends, in beats.
fn notes_of(tune: &str, rit_bars: usize) -> (Vec<(f64, f64, f64)>, f64, f64) {
    let bars = bars_of(tune);
    let mut out: Vec<(f64, f64, f64)> = Vec::new();
    let mut p = 0.0;
    let mut rit_from = 0.0;
    let mut scale = 1.0;
    let mut tied = false;
    for (i, bar) in bars.iter().enumerate() {
        if i + rit_bars.max(1) == bars.len() {
            rit_from = p;
        }
        for tok in &bar.tokens {
            match tok.as_str() {
                "3[" => scale = 2.0 / 3.0,
                "]" => scale = 1.0,
                _ => {
                    let (name, value) = tok.split_once(' ').expect("name value");
                    let len = beats(value) * scale;
                    if name != "r" {
                        if tied {
                            if let Some(last) = out.last_mut() {
                                last.1 += len;
                            }
                        } else {
                            out.push((midi_of(name), len, p));
                        }
                    }
                    tied = value.ends_with('~');
                    p += len;
                }
            }
        }
    }
    (out, rit_from, p)
}

/// Hums `tune` at `bpm` (quarter notes a minute): onsets jittered by up to ±20 ms, each note
/// released 60-90 ms before the next onset (at most 30 % of a short note), 110-130 ms before a
/// repeat of its pitch (at most 45 %: a new syllable), and 40-cent vibrato on notes from a half
/// note; `perf` may slow the last bars down.
pub fn hum(tune: &str, bpm: f64, seed: u64, perf: Performance) -> Audio {
    let beat = 60.0 / bpm;
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let (tokens, rit_from, end) = notes_of(tune, perf.rit_bars);
    // Time of score position `p` (beats): the beat grows linearly over the last bar.
    let time = |p: f64| -> f64 {
        let span = (end - rit_from).max(1e-9);
        let x = ((p - rit_from) / span).clamp(0.0, 1.0);
        let straight = p.min(rit_from);
        let slowed = (p - rit_from).max(0.0);
        0.5 + beat * (straight + slowed + perf.rit * span * x * x / 2.0)
    };
    let mut notes = Vec::new();
    for (i, &(midi, value, p)) in tokens.iter().enumerate() {
        let t = time(p);
        let len = time(p + value) - t;
        let onset = t + 0.02 * rng.uniform();
        let next = tokens.get(i + 1);
        let repeat = next.is_some_and(|n| n.0 == midi);
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
    }
    let total = time(end) + 0.5;
    Audio {
        sample_rate: RATE,
        samples: render(&notes, RATE, total, 8),
    }
}

/// What the MusicXML says: key fifths, time signature, metronome mark and the bars.
#[derive(Debug, Default)]
pub struct Read {
    pub fifths: String,
    pub time: String,
    /// `<beat-unit>` with a `.` for `<beat-unit-dot/>`, and `<per-minute>`.
    pub metronome: (String, String),
    pub bars: Vec<Bar>,
}

/// The note being read.
#[derive(Default)]
struct NoteRead {
    step: String,
    alter: String,
    octave: String,
    kind: String,
    dot: bool,
    rest: bool,
    tie_start: bool,
    tuplet_start: bool,
    tuplet_stop: bool,
    /// `<actual-notes>` of a `<time-modification>`.
    actual: String,
}

pub fn read_musicxml(xml: &[u8]) -> Read {
    let text = std::str::from_utf8(xml).unwrap();
    let mut r = Reader::from_str(text);
    let mut path: Vec<String> = Vec::new();
    let mut read = Read::default();
    let (mut beats_, mut beat_type) = (String::new(), String::new());
    let mut note = NoteRead::default();
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
                "note" => note = NoteRead::default(),
                "rest" => note.rest = true,
                "dot" => note.dot = true,
                "beat-unit-dot" => read.metronome.0.push('.'),
                "tie" if attr("type").as_deref() == Some("start") => note.tie_start = true,
                "tuplet" => match attr("type").as_deref() {
                    Some("start") => note.tuplet_start = true,
                    Some("stop") => note.tuplet_stop = true,
                    _ => {}
                },
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
            "beat-unit" => read.metronome.0.insert_str(0, &v),
            "per-minute" => read.metronome.1 = v,
            "step" => note.step = v,
            "alter" => note.alter = v,
            "octave" => note.octave = v,
            "type" => note.kind = v,
            "actual-notes" => note.actual = v,
            "note" => {
                let val = value(&note.kind, note.dot);
                let tok = if note.rest {
                    format!("r {val}")
                } else {
                    let acc = match note.alter.as_str() {
                        "1" => "#",
                        "-1" => "b",
                        _ => "",
                    };
                    let tie = if note.tie_start { "~" } else { "" };
                    format!("{}{acc}{} {val}{tie}", note.step, note.octave)
                };
                let bar = read.bars.last_mut().expect("a measure");
                if note.tuplet_start {
                    bar.tokens.push("3[".into());
                }
                let triplet = note.actual == "3";
                bar.tokens.push(tok);
                if note.tuplet_stop {
                    bar.tokens.push("]".into());
                }
                // A note squeezed three in the time of two is inside a bracket.
                let open = bar
                    .tokens
                    .iter()
                    .rev()
                    .find(|t| *t == "3[" || *t == "]")
                    .is_some_and(|t| t == "3[" || note.tuplet_stop);
                assert_eq!(triplet, open, "time-modification and tuplet agree");
            }
            _ => {}
        }
    }
    read.time = format!("{beats_}/{beat_type}");
    read
}

/// Hums `tune` at `bpm` with `perf`, transcribes it and checks its score against the printed
/// melody (time signature, key fifths, every bar; trailing rests that fill the last bar are
/// allowed). Returns what was read, or what differs with the score as text.
pub fn try_check(
    name: &str,
    tune: &str,
    fifths: &str,
    time: &str,
    bpm: f64,
    perf: Performance,
    seed: u64,
) -> Result<Read, String> {
    let audio = hum(tune, bpm, seed.wrapping_mul(7919), perf);
    let t = transcribe(&audio, &Params::default());
    let xml = write_musicxml(&t, name);
    let mut read = read_musicxml(&xml);
    let context = format!(
        "{name} hummed at {bpm:.1} bpm, written at {:.1} bpm:\n{}",
        t.tempo_bpm,
        score_text(&t)
    );
    if read.time != time || read.fifths != fifths {
        return Err(format!("{} {} in {context}", read.time, read.fifths));
    }
    let want = bars_of(tune);
    if let Some(last) = read.bars.last_mut() {
        while last.tokens.last().is_some_and(|t| t.starts_with("r ")) && last.tokens.len() > 1 {
            last.tokens.pop();
        }
    }
    if read.bars.len() != want.len() {
        return Err(format!(
            "{} bars, not {}, in {context}",
            read.bars.len(),
            want.len()
        ));
    }
    for (i, (g, w)) in read.bars.iter().zip(&want).enumerate() {
        if g != w {
            return Err(format!("bar {i}: {g:?}, not {w:?}, in {context}"));
        }
    }
    Ok(read)
}

/// A tempo between `lo` and `hi` bpm drawn from `seed` (the checker never sees it).
pub fn tempo_of(seed: u64, lo: f64, hi: f64) -> f64 {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    rng.uniform();
    lo + (hi - lo) * rng.uniform().abs()
}
