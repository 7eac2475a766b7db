//! Long output through a pager, as psql does: when standard output is a terminal and the text
//! has more lines than the terminal, it goes to `$PAGER` (`less -FRX` when unset; an empty
//! `PAGER` turns paging off), run by `sh -c`. `--no-pager` turns it off; pipes never page.

use std::io::{self, IsTerminal, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};

static ENABLED: AtomicBool = AtomicBool::new(true);

/// `--no-pager`.
pub fn configure(enabled: bool) {
    ENABLED.store(enabled, Ordering::SeqCst);
}

/// The pager command, if output should be paged at all.
fn pager_command() -> Option<String> {
    if !ENABLED.load(Ordering::SeqCst) || !io::stdout().is_terminal() {
        return None;
    }
    match std::env::var("PAGER") {
        Ok(p) if p.trim().is_empty() => None,
        Ok(p) => Some(p),
        Err(_) => Some("less -FRX".into()),
    }
}

/// Writes `text` to standard output, through the pager when it is taller than the terminal.
pub fn write(text: &str) -> io::Result<()> {
    if let Some(cmd) = pager_command() {
        // A terminal that reports no size is taken as 24 rows.
        let rows = crossterm::terminal::size()
            .ok()
            .map(|(_, r)| r)
            .filter(|r| *r > 0)
            .unwrap_or(24);
        if text.lines().count() >= usize::from(rows) {
            if let Ok(()) = page(&cmd, text) {
                return Ok(());
            }
        }
    }
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

fn page(cmd: &str, text: &str) -> io::Result<()> {
    let mut child = Command::new("sh")
        .args(["-c", cmd])
        .stdin(Stdio::piped())
        .spawn()?;
    if let Some(mut input) = child.stdin.take() {
        // Quitting the pager early closes its input: not an error.
        let _ = input.write_all(text.as_bytes());
    }
    child.wait()?;
    Ok(())
}
