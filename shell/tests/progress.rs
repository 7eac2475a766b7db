//! The transfer progress bar and the free-download countdown in a narrow terminal: every line
//! they draw fits the window (a wrapped line makes indicatif redraw from the wrong row), and a
//! long file name is shortened rather than pushing the bar over the edge.
#![allow(clippy::unwrap_used)]

mod common;

use common::{add_user, kino, pty, write_file};
use unicode_width::UnicodeWidthStr;

const LONG_NAME: &str =
    "The Extraordinarily Long and Winding Title of a Restored Silent Film (1927) Director's Cut.mp4";

#[test]
fn the_progress_bar_never_draws_a_line_wider_than_a_40_column_terminal() {
    let s = common::server();
    let src = tempfile::tempdir().unwrap();
    write_file(&src.path().join(LONG_NAME), 3_000_000, 7);
    kino(&s)
        .root()
        .cwd(src.path())
        .args(["-c", &format!("upload \"{LONG_NAME}\"")])
        .run()
        .expect_code(0);
    add_user(&s, "alice", "alice-pw-1");
    let out = tempfile::tempdir().unwrap();
    let raw = pty::run(
        &s.addr.to_string(),
        out.path(),
        40,
        ("alice", "alice-pw-1"),
        &["-c", "download 1"],
    );
    let lines = pty::drawn_lines(&raw);
    // Both the countdown (a one-second wait) and the byte bar were drawn.
    assert!(
        lines.iter().any(|l| l.contains("free download in")),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains('%') && l.contains("The Extra")),
        "{lines:#?}"
    );
    assert!(lines.iter().any(|l| l.contains('…')), "{lines:#?}");
    // The closing `saved PATH` is ordinary output, which a terminal may wrap harmlessly.
    for l in lines.iter().filter(|l| !l.starts_with("saved ")) {
        assert!(l.width() <= 40, "{} columns: {l:?}", l.width());
    }
    assert_eq!(
        std::fs::metadata(out.path().join(LONG_NAME)).unwrap().len(),
        3_000_000
    );
}
