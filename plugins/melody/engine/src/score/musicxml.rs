//! MusicXML 4.0 output (`score-partwise`, one part), so a musician can open the result in
//! MuseScore, Sibelius or Finale and edit it. It is written from the same quantised bars the
//! PNG score draws (`quantize`), with the same clef, key signature, time signature and
//! spelling, so the two always agree note for note. A pickup bar is measure 0, marked implicit.

use quick_xml::events::{BytesDecl, BytesText, Event as XmlEvent};
use quick_xml::Writer;

use super::key::{BarAccidentals, Key};
use super::layout::{choose_clef, Clef};
use super::quantize::{quantize, Event, Measure, Tuplet};
use super::TempoMark;
use crate::{Notation, Transcription};

/// `<divisions>`: the sixteenth is the grid, so a quarter is 4 divisions and an event's
/// `dur` (in sixteenths) is its MusicXML duration as it stands; a score with triplets counts
/// three times finer (12), so that a triplet eighth is a whole 4.
const DIVISIONS: u32 = 4;

type W = Writer<Vec<u8>>;
type Res = std::io::Result<()>;

/// Writes the transcription as a MusicXML 4.0 partwise score (UTF-8 bytes): title, tempo,
/// the clef the PNG uses, the key and time signatures, every bar of the quantised score with
/// its notes (spelt from the key), rests, ties and dots.
pub fn write_musicxml(t: &Transcription, title: &str) -> Vec<u8> {
    let measures = quantize(&t.notes, &t.notation);
    let clef = choose_clef(t.notes.iter().map(|n| n.pitch));
    let title = if title.trim().is_empty() {
        "Melody"
    } else {
        title.trim()
    };
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    // Writing into a Vec cannot fail; an error would only mean a bug in this module.
    match document(&mut w, &measures, clef, t, title) {
        Ok(()) => w.into_inner(),
        Err(_) => Vec::new(),
    }
}

fn document(w: &mut W, measures: &[Measure], clef: Clef, t: &Transcription, title: &str) -> Res {
    w.write_event(XmlEvent::Decl(BytesDecl::new(
        "1.0",
        Some("UTF-8"),
        Some("no"),
    )))?;
    w.write_event(XmlEvent::DocType(BytesText::from_escaped(
        r#"score-partwise PUBLIC "-//Recordare//DTD MusicXML 4.0 Partwise//EN" "http://www.musicxml.org/dtds/partwise.dtd""#,
    )))?;
    w.create_element("score-partwise")
        .with_attribute(("version", "4.0"))
        .write_inner_content(|w| {
            w.create_element("work").write_inner_content(|w| {
                text(w, "work-title", title)?;
                Ok(())
            })?;
            w.create_element("identification")
                .write_inner_content(|w| {
                    w.create_element("encoding").write_inner_content(|w| {
                        text(w, "software", "Kino melody (transcribed from humming)")
                    })?;
                    Ok(())
                })?;
            w.create_element("part-list").write_inner_content(|w| {
                w.create_element("score-part")
                    .with_attribute(("id", "P1"))
                    .write_inner_content(|w| text(w, "part-name", "Voice"))?;
                Ok(())
            })?;
            w.create_element("part")
                .with_attribute(("id", "P1"))
                .write_inner_content(|w| part(w, measures, clef, t.tempo_bpm, &t.notation))?;
            Ok(())
        })?;
    Ok(())
}

fn text(w: &mut W, name: &str, value: &str) -> Res {
    w.create_element(name)
        .write_text_content(BytesText::new(value))?;
    Ok(())
}

fn part(w: &mut W, measures: &[Measure], clef: Clef, bpm: f64, n: &Notation) -> Res {
    let bpm = if bpm.is_finite() && bpm > 0.0 {
        bpm.clamp(20.0, 400.0)
    } else {
        120.0
    };
    let mut tied_in = false;
    let first = usize::from(!measures.first().is_some_and(|m| m.pickup));
    let fine = measures
        .iter()
        .flat_map(|m| &m.events)
        .any(|e| e.tuplet != Tuplet::None);
    let scale = if fine { 3 } else { 1 };
    for (i, m) in measures.iter().enumerate() {
        let number = (i + first).to_string();
        let mut el = w
            .create_element("measure")
            .with_attribute(("number", number.as_str()));
        if m.pickup {
            el = el.with_attribute(("implicit", "yes"));
        }
        el.write_inner_content(|w| {
            if i == 0 {
                attributes(w, clef, n, scale)?;
                tempo(w, bpm, n)?;
            }
            let mut acc = BarAccidentals::default();
            let whole_rest = m.events.len() == 1 && m.events[0].pitch.is_none();
            for ev in &m.events {
                note(w, ev, (tied_in, whole_rest, scale), n.key, &mut acc)?;
                tied_in = ev.tie && ev.pitch.is_some();
            }
            if i + 1 == measures.len() {
                w.create_element("barline")
                    .with_attribute(("location", "right"))
                    .write_inner_content(|w| text(w, "bar-style", "light-heavy"))?;
            }
            Ok(())
        })?;
    }
    Ok(())
}

fn attributes(w: &mut W, clef: Clef, n: &Notation, scale: u32) -> Res {
    let (sign, line) = match clef {
        Clef::Treble => ("G", "2"),
        Clef::Bass => ("F", "4"),
    };
    w.create_element("attributes").write_inner_content(|w| {
        text(w, "divisions", &(DIVISIONS * scale).to_string())?;
        let (beats, beat_type) = n.meter.figures();
        w.create_element("key").write_inner_content(|w| {
            text(w, "fifths", &n.key.fifths.to_string())?;
            text(w, "mode", if n.key.minor { "minor" } else { "major" })
        })?;
        w.create_element("time").write_inner_content(|w| {
            text(w, "beats", &beats.to_string())?;
            text(w, "beat-type", &beat_type.to_string())
        })?;
        w.create_element("clef").write_inner_content(|w| {
            text(w, "sign", sign)?;
            text(w, "line", line)
        })?;
        Ok(())
    })?;
    Ok(())
}

/// The metronome mark counts the beat (a dotted quarter in 6/8); `<sound tempo>` is always in
/// quarter notes, as the format defines it.
fn tempo(w: &mut W, bpm: f64, n: &Notation) -> Res {
    let mark = TempoMark::new(bpm, n.meter);
    let per_minute = format!("{}", mark.per_minute);
    let sound = format!("{}", (bpm * 100.0).round() / 100.0);
    w.create_element("direction")
        .with_attribute(("placement", "above"))
        .write_inner_content(|w| {
            w.create_element("direction-type")
                .write_inner_content(|w| {
                    w.create_element("metronome").write_inner_content(|w| {
                        text(w, "beat-unit", "quarter")?;
                        if mark.dotted {
                            w.create_element("beat-unit-dot").write_empty()?;
                        }
                        text(w, "per-minute", &per_minute)
                    })?;
                    Ok(())
                })?;
            w.create_element("sound")
                .with_attribute(("tempo", sound.as_str()))
                .write_empty()?;
            Ok(())
        })?;
    Ok(())
}

/// MusicXML `<type>` and dot count of a value in sixteenths.
fn value(dur: u32) -> (&'static str, bool) {
    match dur {
        16 => ("whole", false),
        12 => ("half", true),
        8 => ("half", false),
        6 => ("quarter", true),
        4 => ("quarter", false),
        3 => ("eighth", true),
        2 => ("eighth", false),
        _ => ("16th", false),
    }
}

/// One `<note>`; `tied_in`, `whole_rest`: what the bar says of it; `scale`: divisions per
/// sixteenth.
fn note(
    w: &mut W,
    ev: &Event,
    (tied_in, whole_rest, scale): (bool, bool, u32),
    key: Key,
    acc: &mut BarAccidentals,
) -> Res {
    let triplet = ev.tuplet != Tuplet::None;
    // A triplet sounds two thirds of its written value.
    let duration = if triplet {
        ev.dur * scale * 2 / 3
    } else {
        ev.dur * scale
    };
    let (kind, dotted) = value(ev.dur);
    w.create_element("note").write_inner_content(|w| {
        let mut mark = None;
        match ev.pitch {
            None if whole_rest => {
                w.create_element("rest")
                    .with_attribute(("measure", "yes"))
                    .write_empty()?;
            }
            None => {
                w.create_element("rest").write_empty()?;
            }
            Some(p) => {
                let s = key.spell(p);
                mark = acc.mark(key, s, tied_in).map(|a| match a {
                    a if a < 0 => "flat",
                    a if a > 0 => "sharp",
                    _ => "natural",
                });
                w.create_element("pitch").write_inner_content(|w| {
                    let step = ["C", "D", "E", "F", "G", "A", "B"][usize::from(s.letter)];
                    text(w, "step", step)?;
                    if s.alter != 0 {
                        text(w, "alter", &s.alter.to_string())?;
                    }
                    text(w, "octave", &s.octave.to_string())
                })?;
            }
        }
        text(w, "duration", &duration.to_string())?;
        let tie_out = ev.tie && ev.pitch.is_some();
        if ev.pitch.is_some() {
            if tied_in {
                w.create_element("tie")
                    .with_attribute(("type", "stop"))
                    .write_empty()?;
            }
            if tie_out {
                w.create_element("tie")
                    .with_attribute(("type", "start"))
                    .write_empty()?;
            }
        }
        text(w, "voice", "1")?;
        if !(whole_rest && ev.pitch.is_none()) {
            text(w, "type", kind)?;
            if dotted {
                w.create_element("dot").write_empty()?;
            }
        }
        if let Some(mark) = mark {
            text(w, "accidental", mark)?;
        }
        if triplet {
            w.create_element("time-modification")
                .write_inner_content(|w| {
                    text(w, "actual-notes", "3")?;
                    text(w, "normal-notes", "2")
                })?;
        }
        let bracket = match ev.tuplet {
            Tuplet::First => Some("start"),
            Tuplet::Last => Some("stop"),
            _ => None,
        };
        let ties = ev.pitch.is_some() && (tied_in || tie_out);
        if ties || bracket.is_some() {
            w.create_element("notations").write_inner_content(|w| {
                if let Some(kind) = bracket {
                    let mut el = w.create_element("tuplet").with_attribute(("type", kind));
                    if kind == "start" {
                        el = el.with_attribute(("bracket", "yes"));
                    }
                    el.write_empty()?;
                }
                if !ties {
                    return Ok(());
                }
                if tied_in {
                    w.create_element("tied")
                        .with_attribute(("type", "stop"))
                        .write_empty()?;
                }
                if tie_out {
                    w.create_element("tied")
                        .with_attribute(("type", "start"))
                        .write_empty()?;
                }
                Ok(())
            })?;
        }
        Ok(())
    })?;
    Ok(())
}

#[cfg(test)]
#[path = "musicxml_tests.rs"]
mod tests;
