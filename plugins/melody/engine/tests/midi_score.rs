//! MIDI round trip and score rendering.

use kino_melody_engine::score::{DEFAULT_MAX_HEIGHT, DEFAULT_MAX_PAGES};
use kino_melody_engine::{
    render_score, render_score_limited, render_score_pages, write_midi, Notation, Note,
    ScoreLimits, Transcription,
};
use midly::{MetaMessage, MidiMessage, Smf, Timing, TrackEventKind};

fn tr(notes: &[(f64, f64, u8)], bpm: f64) -> Transcription {
    Transcription {
        notes: notes
            .iter()
            .map(|&(onset_s, offset_s, pitch)| Note {
                onset_s,
                offset_s,
                pitch,
            })
            .collect(),
        tempo_bpm: bpm,
        notation: Notation::plain(bpm, notes.first().map_or(0.0, |n| n.0)),
    }
}

#[test]
fn midi_round_trip() {
    let t = tr(&[(0.5, 1.0, 60), (1.0, 1.25, 62), (1.5, 2.75, 67)], 90.0);
    let bytes = write_midi(&t);
    let smf = Smf::parse(&bytes).expect("valid SMF");
    let Timing::Metrical(tpb) = smf.header.timing else {
        panic!("metrical timing")
    };
    let tpb = f64::from(tpb.as_int());
    let mut tempo = None;
    let mut on: Vec<(f64, u8)> = Vec::new();
    let mut notes: Vec<(f64, f64, u8)> = Vec::new();
    let mut tick = 0u64;
    for ev in &smf.tracks[0] {
        tick += u64::from(ev.delta.as_int());
        match ev.kind {
            TrackEventKind::Meta(MetaMessage::Tempo(us)) => tempo = Some(us.as_int()),
            TrackEventKind::Midi { message, .. } => {
                let us = f64::from(tempo.expect("tempo before notes"));
                let s = tick as f64 / tpb * us / 1e6;
                match message {
                    MidiMessage::NoteOn { key, vel } if vel.as_int() > 0 => {
                        on.push((s, key.as_int()))
                    }
                    MidiMessage::NoteOn { key, .. } | MidiMessage::NoteOff { key, .. } => {
                        let i = on
                            .iter()
                            .position(|o| o.1 == key.as_int())
                            .expect("matching on");
                        let (start, k) = on.remove(i);
                        notes.push((start, s, k));
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    assert_eq!(tempo, Some(666_667));
    notes.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert_eq!(notes.len(), 3);
    for (g, w) in notes.iter().zip(&t.notes) {
        assert_eq!(g.2, w.pitch);
        assert!(
            (g.0 - w.onset_s).abs() < 0.002 && (g.1 - w.offset_s).abs() < 0.002,
            "{notes:?}"
        );
    }
    // An empty transcription is still a valid file.
    assert!(Smf::parse(&write_midi(&tr(&[], 120.0))).is_ok());
}

fn png_size(png: &[u8]) -> (u32, u32) {
    assert!(
        png.len() > 100 && png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "not a PNG"
    );
    let w = u32::from_be_bytes([png[16], png[17], png[18], png[19]]);
    let h = u32::from_be_bytes([png[20], png[21], png[22], png[23]]);
    (w, h)
}

fn save(name: &str, png: &[u8]) {
    if let Ok(dir) = std::env::var("MELODY_PNG_DIR") {
        let _ = std::fs::write(format!("{dir}/{name}.png"), png);
    }
}

#[test]
fn score_empty_extremes_and_long() {
    let empty = render_score(&tr(&[], 120.0), "Nothing");
    let (w, h_empty) = png_size(&empty);
    assert_eq!(w, 1240);
    save("empty", &empty);

    // Very high and very low notes in one piece: ledger lines on both sides.
    let extremes = tr(
        &[
            (0.0, 0.5, 96),
            (0.5, 1.0, 36),
            (1.0, 1.25, 61),
            (1.25, 1.5, 60),
            (1.5, 2.5, 84),
            (2.5, 2.75, 40),
        ],
        120.0,
    );
    let png = render_score(&extremes, "Extremes");
    assert_eq!(png_size(&png).0, 1240);
    save("extremes", &png);

    // A long melody wraps onto several systems, so the page grows.
    let mut notes = Vec::new();
    let scale = [60u8, 62, 64, 65, 67, 69, 71, 72];
    for i in 0..160 {
        let on = i as f64 * 0.3;
        let len: f64 = if i % 5 == 0 { 0.55 } else { 0.25 };
        notes.push((on, on + len.min(0.3), scale[(i * 3) % 8] + (i % 2) as u8));
    }
    let long = render_score(&tr(&notes, 100.0), "A long one");
    let (w, h_long) = png_size(&long);
    assert_eq!(w, 1240);
    assert!(h_long > 3 * h_empty, "{h_long} vs {h_empty}");
    save("long", &long);

    // Low range gets the bass clef and still renders.
    let low = tr(
        &[
            (0.0, 0.4, 43),
            (0.4, 0.6, 45),
            (0.6, 1.4, 47),
            (1.5, 1.6, 48),
        ],
        72.0,
    );
    let png = render_score(&low, "");
    assert_eq!(png_size(&png).0, 1240);
    save("low", &png);
}

#[test]
fn a_score_past_its_height_bound_is_cut_at_a_system() {
    // 2,000 busy notes: uncut, a page tens of thousands of pixels tall.
    let notes: Vec<(f64, f64, u8)> = (0..2000)
        .map(|i| {
            let on = f64::from(i) * 0.15;
            (on, on + 0.14, 48 + ((i * 7 + i / 5) % 24) as u8)
        })
        .collect();
    let t = tr(&notes, 400.0);
    let cut = render_score_limited(&t, "Cut", &ScoreLimits { max_height: 2000 });
    let (w, h) = png_size(&cut);
    assert_eq!(w, 1240);
    assert!((1000..=2000).contains(&h), "{h}");
    save("cut", &cut);
    // A page that fits is drawn whole, exactly as without a bound.
    let short = tr(&notes[..12], 100.0);
    assert_eq!(
        render_score_limited(&short, "Fits", &ScoreLimits::default()),
        render_score(&short, "Fits")
    );
    // A bound under the smallest page still gives the smallest page.
    let tiny = render_score_limited(&t, "Tiny", &ScoreLimits { max_height: 1 });
    assert_eq!(png_size(&tiny), (1240, 300));
}

/// `n` notes, each alone in a 4/4 bar at 120 bpm: as many bars as notes.
fn sparse_notes(n: u32) -> Vec<(f64, f64, u8)> {
    (0..n)
        .map(|i| {
            let on = f64::from(i) * 2.0;
            (on, on + 0.3, 48 + ((i * 7 + i / 5) % 24) as u8)
        })
        .collect()
}

#[test]
fn a_long_score_comes_in_bounded_pages() {
    let t = tr(&sparse_notes(60), 120.0);
    let limits = ScoreLimits::default();
    let started = std::time::Instant::now();
    let pages = render_score_pages(&t, "Long", &limits, DEFAULT_MAX_PAGES);
    eprintln!(
        "60 bars: {} pages, {} bytes, {:?}",
        pages.len(),
        pages.iter().map(Vec::len).sum::<usize>(),
        started.elapsed()
    );
    assert!(
        (3..DEFAULT_MAX_PAGES).contains(&pages.len()),
        "{}",
        pages.len()
    );
    let sizes: Vec<(u32, u32)> = pages.iter().map(|p| png_size(p)).collect();
    for &(w, h) in &sizes {
        assert_eq!(w, 1240);
        assert!(h <= DEFAULT_MAX_HEIGHT, "page {w}x{h}");
    }
    // Every page but the last is filled to near the bound.
    for &(_, h) in &sizes[..sizes.len() - 1] {
        assert!(h > DEFAULT_MAX_HEIGHT - 300, "{h}");
    }
    save("page2", &pages[1]);
    // Past the page bound the pages stop there: the same pages but for their footnotes.
    let two = render_score_pages(&t, "Long", &limits, 2);
    assert_eq!(two.len(), 2);
    assert_eq!(png_size(&two[1]), sizes[1]);
    assert_ne!(two[1], pages[1]);
    save("cut2", &two[1]);
    // A short tune is one page, as drawn without pages; zero pages asked still gives one.
    let short = tr(&sparse_notes(3), 120.0);
    assert_eq!(
        render_score_pages(&short, "Fits", &limits, DEFAULT_MAX_PAGES),
        vec![render_score(&short, "Fits")]
    );
    assert_eq!(render_score_pages(&short, "Fits", &limits, 0).len(), 1);
}
