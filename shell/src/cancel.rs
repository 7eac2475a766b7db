//! Ctrl-C while a command runs in the interactive shell. The prompt's own Ctrl-C only clears
//! the line; during a command the first Ctrl-C asks the command to stop (a script at its next
//! operation, a transfer at its next chunk, keeping a download's partial file for a resume),
//! and a second one ends the shell as usual.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();

/// Catches SIGINT into the flag (interactive mode only: elsewhere Ctrl-C ends the process).
pub fn install() -> io::Result<()> {
    let flag = FLAG.get_or_init(|| Arc::new(AtomicBool::new(false)));
    // Registered first, so it sees the flag before this SIGINT sets it: a second Ctrl-C while
    // the first is still pending exits with the conventional 130.
    signal_hook::flag::register_conditional_shutdown(
        signal_hook::consts::SIGINT,
        130,
        flag.clone(),
    )?;
    signal_hook::flag::register(signal_hook::consts::SIGINT, flag.clone())?;
    Ok(())
}

/// Whether Ctrl-C was pressed since the last [`reset`].
pub fn requested() -> bool {
    FLAG.get().is_some_and(|f| f.load(Ordering::SeqCst))
}

/// Forgets an earlier Ctrl-C (before each command).
pub fn reset() {
    if let Some(f) = FLAG.get() {
        f.store(false, Ordering::SeqCst);
    }
}

/// The error a transfer stops with; not `Interrupted`, which `std` retries.
pub fn error() -> io::Error {
    io::Error::other("interrupted by Ctrl-C")
}

/// A reader that fails once Ctrl-C was pressed (an upload's source).
pub struct Reader<R>(pub R);

impl<R: io::Read> io::Read for Reader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if requested() {
            return Err(error());
        }
        self.0.read(buf)
    }
}
