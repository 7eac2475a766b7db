//! Progress bars and the free-download countdown, drawn on standard error and never wider than
//! the terminal: a line longer than the terminal wraps, and indicatif then redraws from the
//! wrong row, filling a narrow window with copies of the bar. The layout is picked by the
//! terminal's width when the bar is made, and the file name gets what the layout leaves,
//! shortened with an ellipsis by display width (CJK names take two columns a character).

use std::time::Duration;

use indicatif::{ProgressBar, ProgressState, ProgressStyle};
use unicode_width::UnicodeWidthChar;

use crate::render::Style;

/// Width assumed when standard error reports none (the classic terminal).
const DEFAULT_COLS: usize = 80;

/// Columns of standard error's terminal, as indicatif measures them for `{wide_msg}`.
fn terminal_cols() -> usize {
    console::Term::stderr()
        .size_checked()
        .map(|(_, cols)| usize::from(cols))
        .filter(|c| *c > 0)
        .unwrap_or(DEFAULT_COLS)
}

/// A byte-bar layout and the most columns its parts other than the message can take
/// (`1023.99 MiB/1023.99 MiB`, `1023.99 MiB/s`, a four-column ETA), so the message gets the rest.
struct Layout {
    template: &'static str,
    fixed: usize,
}

/// The widest layout that leaves the name at least a few columns in `cols`.
fn layout(cols: usize) -> Layout {
    if cols >= 100 {
        Layout {
            template:
                "{wide_msg} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
            fixed: 1 + 32 + 1 + 23 + 1 + 13 + 5 + 4,
        }
    } else if cols >= 60 {
        Layout {
            template: "{wide_msg} [{bar:20}] {percent:>3}% {binary_bytes_per_sec} ETA {eta}",
            fixed: 1 + 22 + 1 + 4 + 1 + 13 + 5 + 4,
        }
    } else if cols >= 24 {
        Layout {
            template: "{wide_msg} {percent:>3}% ETA {eta}",
            fixed: 1 + 4 + 5 + 4,
        }
    } else {
        Layout {
            template: "{percent:>3}% {wide_msg}",
            fixed: 5,
        }
    }
}

/// `text` cut to at most `cols` display columns, ending in `…` when cut.
pub fn clamp(text: &str, cols: usize) -> String {
    if unicode_width::UnicodeWidthStr::width(text) <= cols {
        return text.to_string();
    }
    let Some(room) = cols.checked_sub(1) else {
        return String::new();
    };
    let mut used = 0;
    let mut out = String::new();
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > room {
            break;
        }
        used += w;
        out.push(c);
    }
    out.push('…');
    out
}

/// Styles a bar as a byte count for `msg` fitted to `cols` columns.
fn style_bytes(bar: &ProgressBar, cols: usize, msg: &str) {
    let l = layout(cols);
    let style = ProgressStyle::with_template(l.template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message(clamp(msg, cols.saturating_sub(l.fixed)));
}

/// A byte-count bar with rate and ETA as room allows; hidden when standard error is not a
/// terminal.
pub fn bytes_bar(style: Style, len: u64, msg: &str) -> ProgressBar {
    if !style.tty_err {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    style_bytes(&bar, terminal_cols(), msg);
    bar
}

/// Turns a waiting spinner into the byte bar once the download's reply arrived.
pub fn to_bytes(bar: &ProgressBar, len: u64, done: u64, msg: &str) {
    if bar.is_hidden() {
        return;
    }
    style_bytes(bar, terminal_cols(), msg);
    bar.set_length(len);
    bar.set_position(done);
    bar.reset_eta();
}

/// The countdown's wording for `cols` columns: `(free, counting down)` picks the line.
fn waiting_template(cols: usize, free: bool, counting: bool) -> &'static str {
    // At most 61 and 26 columns with a five-digit wait (the server caps it at 86400 s).
    match (cols >= 64, cols >= 30, free, counting) {
        (true, _, _, true) => {
            "{spinner} free download: the server starts it in {left} s (of {wait} s)"
        }
        (true, _, true, false) => "{spinner} waiting for the server (free download): {elapsed}",
        (true, _, false, false) => "{spinner} waiting for the server: {elapsed}",
        (false, true, _, true) => "{spinner} free download in {left} s",
        (false, true, _, false) => "{spinner} waiting: {elapsed}",
        (false, false, _, true) => "{spinner} {left} s",
        (false, false, _, false) => "{spinner} {elapsed}",
    }
}

/// A spinner shown while the server holds the reply back. `wait` is what `movies.get` said a
/// download by this user would wait (the server's `free-download-wait`, or 0): it counts that
/// down; without it, it shows the time waited.
pub fn waiting_bar(style: Style, wait: Option<u64>, free: bool) -> ProgressBar {
    if !style.tty_err {
        return ProgressBar::hidden();
    }
    let wait = wait.filter(|w| *w > 0);
    let template = waiting_template(terminal_cols(), free, wait.is_some());
    let total = wait.unwrap_or(0);
    let st = ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
        .with_key(
            "wait",
            move |_: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{total}");
            },
        )
        .with_key(
            "left",
            move |s: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{}", total.saturating_sub(s.elapsed().as_secs()));
            },
        );
    let bar = ProgressBar::new_spinner().with_style(st);
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

#[cfg(test)]
mod tests {
    use super::*;
    use unicode_width::UnicodeWidthStr;

    #[test]
    fn names_are_cut_by_display_width_with_an_ellipsis() {
        assert_eq!(clamp("short.mp4", 20), "short.mp4");
        assert_eq!(clamp("a-long-file-name.mp4", 10), "a-long-fi…");
        // Two columns a character: 4 characters and the ellipsis fill 9 of 10 columns.
        let cut = clamp("東京物語東京物語.mp4", 10);
        assert_eq!(cut, "東京物語…");
        assert!(cut.width() <= 10);
        assert_eq!(clamp("abc", 0), "");
    }

    #[test]
    fn every_layout_leaves_the_name_some_room() {
        for cols in [24, 40, 60, 80, 100, 200] {
            assert!(layout(cols).fixed + 8 <= cols, "{cols}");
        }
    }
}
