//! Ctrl-C while a command runs in the interactive shell. The prompt's own Ctrl-C only clears
//! the line; during a command the first Ctrl-C asks the command to stop (a script at its next
//! operation, a transfer at its next chunk, keeping a download's partial file for a resume)
//! and shuts down the connection's socket, so a reply the server holds back (the free-download
//! wait) or a long call stops at once; the next command reconnects. A second Ctrl-C ends the
//! shell only when the first has not stopped the command within [`GRACE`]: pressing it twice
//! in a row never loses the shell.

use std::io;
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use signal_hook::consts::SIGINT;
use signal_hook::iterator::Signals;

/// How long a command has to stop after the first Ctrl-C before a second one ends the shell.
pub const GRACE: Duration = Duration::from_secs(2);

#[derive(Default)]
struct State {
    flag: AtomicBool,
    since: Mutex<Option<Instant>>,
    socket: Mutex<Option<TcpStream>>,
}

static STATE: OnceLock<State> = OnceLock::new();

fn state() -> &'static State {
    STATE.get_or_init(State::default)
}

/// Catches SIGINT on a thread of its own (interactive mode only: elsewhere Ctrl-C ends the
/// process).
pub fn install() -> io::Result<()> {
    state();
    let mut signals = Signals::new([SIGINT])?;
    std::thread::Builder::new()
        .name("kino-ctrl-c".into())
        .spawn(move || {
            for _ in signals.forever() {
                on_ctrl_c();
            }
        })?;
    Ok(())
}

fn on_ctrl_c() {
    let s = state();
    let mut since = s.since.lock().unwrap_or_else(|p| p.into_inner());
    if s.flag.load(Ordering::SeqCst) && since.is_some_and(|t| t.elapsed() >= GRACE) {
        // The command ignored the first Ctrl-C: the conventional exit for SIGINT.
        std::process::exit(130);
    }
    if !s.flag.swap(true, Ordering::SeqCst) {
        *since = Some(Instant::now());
    }
    drop(since);
    if let Some(sock) = s.socket.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
        let _ = sock.shutdown(Shutdown::Both);
    }
}

/// Whether Ctrl-C was pressed since the last [`reset`].
pub fn requested() -> bool {
    STATE.get().is_some_and(|s| s.flag.load(Ordering::SeqCst))
}

/// Forgets an earlier Ctrl-C (before each command).
pub fn reset() {
    if let Some(s) = STATE.get() {
        s.flag.store(false, Ordering::SeqCst);
        *s.since.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

/// The socket a Ctrl-C shuts down while the returned guard lives (one call on the wire).
pub fn arm(socket: Option<TcpStream>) -> Armed {
    if let Some(s) = STATE.get() {
        *s.socket.lock().unwrap_or_else(|p| p.into_inner()) = socket;
    }
    Armed
}

/// Disarms on drop.
pub struct Armed;

impl Drop for Armed {
    fn drop(&mut self) {
        if let Some(s) = STATE.get() {
            *s.socket.lock().unwrap_or_else(|p| p.into_inner()) = None;
        }
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
