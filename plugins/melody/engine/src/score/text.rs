//! The score as plain text, for a terminal: the same bars the PNG and MusicXML scores hold,
//! each note as its name spelt from the key and its value (`w`, `h.`, `h`, `q.`, `q`, `8.`,
//! `8`, `16`), rests as `r`, a tie as `~`, bar lines as `|`, four bars a line, a triplet
//! between `3[` and `]` (`3[ C4 8 D4 8 E4 8 ]`). A pickup bar stands before the first bar line.

use super::quantize::{quantize, Tuplet};
use crate::Transcription;

/// Bars per line of text.
const BARS_PER_LINE: usize = 4;

fn value(dur: u32) -> &'static str {
    match dur {
        16 => "w",
        12 => "h.",
        8 => "h",
        6 => "q.",
        4 => "q",
        3 => "8.",
        2 => "8",
        _ => "16",
    }
}

/// The transcription's bars as text, e.g. `| E4 q E4 q F4 q G4 q | G4 q F4 q E4 q D4 q |`.
pub fn score_text(t: &Transcription) -> String {
    let key = t.notation.key;
    let bar_len = t.notation.meter.bar();
    let measures = quantize(&t.notes, &t.notation);
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut in_line = 0;
    for m in &measures {
        let mut words = Vec::with_capacity(m.events.len());
        for e in &m.events {
            let v = if e.pitch.is_none() && e.dur == bar_len && e.pos == 0 {
                "w"
            } else {
                value(e.dur)
            };
            let word = match e.pitch {
                Some(p) => format!("{} {v}{}", key.name(p), if e.tie { "~" } else { "" }),
                None => format!("r {v}"),
            };
            if e.tuplet == Tuplet::First {
                words.push("3[".to_string());
            }
            words.push(word);
            if e.tuplet == Tuplet::Last {
                words.push("]".to_string());
            }
        }
        let body = words.join(" ");
        if m.pickup {
            line.push_str(&body);
            line.push(' ');
            continue;
        }
        line.push_str("| ");
        line.push_str(&body);
        line.push(' ');
        in_line += 1;
        if in_line == BARS_PER_LINE {
            line.push('|');
            lines.push(std::mem::take(&mut line));
            in_line = 0;
        }
    }
    if !line.is_empty() {
        line.push('|');
        lines.push(line);
    }
    lines.join("\n")
}
