#![allow(clippy::unwrap_used)]

use super::*;
use crate::score::quantize::quantize;
use crate::Note;
use quick_xml::events::Event as X;
use quick_xml::Reader;

/// A `<note>` read back from the XML.
#[derive(Debug, Default, Clone, PartialEq)]
struct Read {
    step: String,
    alter: String,
    octave: String,
    rest: bool,
    duration: u32,
    kind: String,
    dot: bool,
    ties: Vec<String>,
    accidental: String,
}

/// Parses the whole document with quick-xml (failing on any malformed XML or mismatched end
/// tag) into bars of notes, plus the root element's name and the attributes' texts.
fn parse(xml: &[u8]) -> (String, Vec<Vec<Read>>, Vec<(String, String)>) {
    let text = std::str::from_utf8(xml).unwrap();
    let mut r = Reader::from_str(text);
    let mut root = String::new();
    let mut bars: Vec<Vec<Read>> = Vec::new();
    let mut path: Vec<String> = Vec::new();
    let mut leaves = Vec::new();
    let mut buf = String::new();
    loop {
        match r.read_event().unwrap() {
            X::Eof => break,
            X::Start(e) => {
                let name = String::from_utf8(e.name().as_ref().to_vec()).unwrap();
                if root.is_empty() {
                    root = name.clone();
                }
                start(&name, &e, &mut bars);
                buf.clear();
                path.push(name);
            }
            X::Empty(e) => {
                let name = String::from_utf8(e.name().as_ref().to_vec()).unwrap();
                start(&name, &e, &mut bars);
            }
            X::Text(t) => buf.push_str(&t.decode().unwrap()),
            X::GeneralRef(e) => buf.push_str(match e.decode().unwrap().as_ref() {
                "lt" => "<",
                "gt" => ">",
                "amp" => "&",
                other => panic!("unexpected entity {other}"),
            }),
            X::End(_) => {
                let leaf = path.pop().unwrap_or_default();
                let value = std::mem::take(&mut buf).trim().to_string();
                if !value.is_empty() {
                    leaves.push((leaf.clone(), value.clone()));
                }
                if path.iter().any(|p| p == "note") && !value.is_empty() {
                    let n = bars.last_mut().unwrap().last_mut().unwrap();
                    match leaf.as_str() {
                        "step" => n.step = value,
                        "alter" => n.alter = value,
                        "octave" => n.octave = value,
                        "duration" => n.duration = value.parse().unwrap(),
                        "type" => n.kind = value,
                        "accidental" => n.accidental = value,
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    assert!(path.is_empty(), "unclosed elements: {path:?}");
    (root, bars, leaves)
}

fn start(name: &str, e: &quick_xml::events::BytesStart, bars: &mut Vec<Vec<Read>>) {
    match name {
        "measure" => bars.push(Vec::new()),
        "note" => bars.last_mut().unwrap().push(Read::default()),
        "rest" => bars.last_mut().unwrap().last_mut().unwrap().rest = true,
        "dot" => bars.last_mut().unwrap().last_mut().unwrap().dot = true,
        "tie" => {
            let attr = e.try_get_attribute("type").unwrap().unwrap();
            let kind = String::from_utf8(attr.value.to_vec()).unwrap();
            bars.last_mut().unwrap().last_mut().unwrap().ties.push(kind);
        }
        _ => {}
    }
}

fn note(onset_s: f64, offset_s: f64, pitch: u8) -> Note {
    Note {
        onset_s,
        offset_s,
        pitch,
    }
}

/// At 120 bpm a sixteenth is 125 ms: C4 dotted quarter, D4 eighth, a quarter rest, E4 from
/// beat 4 over the bar line (quarter tied to half), then F#4 and F4 quarters.
fn known() -> Transcription {
    Transcription {
        notes: vec![
            note(0.0, 0.75, 60),
            note(0.75, 1.0, 62),
            note(1.5, 3.0, 64),
            note(3.0, 3.5, 66),
            note(3.5, 4.0, 65),
        ],
        tempo_bpm: 120.0,
        notation: crate::Notation::plain(120.0, 0.0),
    }
}

#[test]
fn known_melody_bars_ties_dots_and_rests() {
    let xml = write_musicxml(&known(), "Known <tune> & co");
    let (root, bars, leaves) = parse(&xml);
    assert_eq!(root, "score-partwise");
    assert_eq!(bars.len(), 2, "two bars of 4/4");
    for bar in &bars {
        assert_eq!(bar.iter().map(|n| n.duration).sum::<u32>(), 16);
    }
    let b1 = &bars[0];
    assert_eq!(
        (
            b1[0].step.as_str(),
            b1[0].octave.as_str(),
            b1[0].kind.as_str()
        ),
        ("C", "4", "quarter")
    );
    assert!(
        b1[0].dot && b1[0].duration == 6,
        "dotted quarter: {:?}",
        b1[0]
    );
    assert_eq!((b1[1].step.as_str(), b1[1].kind.as_str()), ("D", "eighth"));
    assert!(b1[2].rest && b1[2].kind == "quarter" && b1[2].duration == 4);
    // E4 tied over the bar line: start at the end of bar 1, stop at the start of bar 2.
    let last = b1.last().unwrap();
    assert_eq!(
        (last.step.as_str(), last.ties.clone()),
        ("E", vec!["start".to_string()])
    );
    let b2 = &bars[1];
    assert_eq!(
        (b2[0].step.as_str(), b2[0].ties.clone()),
        ("E", vec!["stop".to_string()])
    );
    assert_eq!((b2[0].kind.as_str(), b2[0].duration), ("half", 8));
    assert_eq!(
        (
            b2[1].step.as_str(),
            b2[1].alter.as_str(),
            b2[1].accidental.as_str()
        ),
        ("F", "1", "sharp")
    );
    assert_eq!(
        (
            b2[2].step.as_str(),
            b2[2].alter.as_str(),
            b2[2].accidental.as_str()
        ),
        ("F", "", "natural")
    );
    let get = |k: &str| leaves.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(get("work-title"), Some("Known <tune> & co"));
    assert_eq!(get("divisions"), Some("4"));
    assert_eq!(get("fifths"), Some("0"));
    assert_eq!((get("beats"), get("beat-type")), (Some("4"), Some("4")));
    assert_eq!((get("sign"), get("line")), (Some("G"), Some("2")));
    assert_eq!(get("per-minute"), Some("120"));
    let text = String::from_utf8(xml).unwrap();
    assert!(text.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\""));
    assert!(text.contains("MusicXML 4.0 Partwise"));
    assert!(text.contains("Known &lt;tune&gt; &amp; co"));
}

#[test]
fn agrees_with_the_png_quantiser_and_clef() {
    let t = known();
    let (_, bars, _) = parse(&write_musicxml(&t, "x"));
    let measures = quantize(&t.notes, &t.notation);
    assert_eq!(bars.len(), measures.len());
    for (read, m) in bars.iter().zip(&measures) {
        let durs: Vec<u32> = m.events.iter().map(|e| e.dur).collect();
        assert_eq!(read.iter().map(|n| n.duration).collect::<Vec<_>>(), durs);
    }
    let low = Transcription {
        notes: vec![note(0.0, 0.5, 40), note(0.5, 1.0, 45)],
        tempo_bpm: 120.0,
        notation: crate::Notation::plain(120.0, 0.0),
    };
    let (_, _, leaves) = parse(&write_musicxml(&low, "low"));
    assert!(leaves.contains(&("sign".to_string(), "F".to_string())));
}

#[test]
fn empty_transcription_is_one_bar_rest() {
    let t = Transcription {
        notes: Vec::new(),
        tempo_bpm: 120.0,
        notation: crate::Notation::plain(120.0, 0.0),
    };
    let (_, bars, _) = parse(&write_musicxml(&t, ""));
    assert_eq!(bars.len(), 1);
    assert_eq!(bars[0].len(), 1);
    assert!(bars[0][0].rest && bars[0][0].duration == 16);
}
