//! Upload payloads read from the socket by the handler's own thread, not by the loop, as
//! download bodies are written by theirs ([`crate::sendfile`]): the loop spent most of its run
//! time under mixed load moving upload bytes into pipes, and every `ping` waited behind that
//! (docs/BENCHMARKS.md "Latency under mixed load").
//!
//! A payload is raw bytes right after its request frame, and a connection runs one request at
//! a time, so while it streams the socket carries nothing else the loop could want. The loop
//! hands the thread what it already buffered of the payload and a second handle of the socket
//! (a `dup`, still non-blocking), stops reading the connection, and takes it back when the
//! handler's result arrives. The thread reads at most the payload's remaining length, never
//! past it: a request pipelined behind the payload stays in the socket for the loop. On
//! `EAGAIN` it waits in `poll`; a client that sends nothing for `--idle-timeout` is given up,
//! as the loop gives up a stalled frame. Closing the connection sets the abort flag and shuts
//! the socket down, which ends a `poll` or `read` in progress at once.

use std::io::{self, Read};
use std::net::TcpStream;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use crate::conn::{Conn, ReadState};
use crate::stats::ServerStats;

/// How long one wait for input lasts before the abort flag is looked at again.
const POLL_MS: u64 = 200;

/// What the loop and the reading thread share about one payload.
#[derive(Debug, Default)]
pub struct Shared {
    /// Payload bytes the thread took from the socket.
    moved: AtomicU64,
    /// The connection closed: stop reading.
    aborted: AtomicBool,
    /// The socket failed, ended or stalled mid-payload: the stream is out of step, so the loop
    /// closes the connection once the reply is out instead of discarding the rest.
    broken: AtomicBool,
}

impl Shared {
    /// Loop side: the connection is closing.
    pub fn abort(&self) {
        self.aborted.store(true, Ordering::Release);
    }
}

/// The handler's view of a payload read straight from the socket.
pub struct DirectReader {
    sock: TcpStream,
    head: Vec<u8>,
    head_pos: usize,
    /// Bytes still to read from the socket.
    left: u64,
    shared: Arc<Shared>,
    idle: Duration,
    host: Arc<crate::host::ServerHost>,
}

/// Hands the payload of the request just parsed on `conn` to its thread: the `len`-byte
/// payload's already-buffered part is taken out of the input, and unless that was all of it
/// the connection stops reading until [`take_back`]. `None` when the socket could not be
/// duplicated (out of descriptors): the caller pipes the payload through the loop instead.
pub fn hand_over(
    conn: &mut Conn,
    len: u64,
    host: &Arc<crate::host::ServerHost>,
) -> Option<DirectReader> {
    let sock = conn.stream.as_fd().try_clone_to_owned().ok()?;
    let buffered = len.min(conn.input().len() as u64) as usize;
    let head = conn.input()[..buffered].to_vec();
    conn.consume(buffered);
    let left = len - buffered as u64;
    let shared = Arc::new(Shared::default());
    if left > 0 {
        conn.read = ReadState::Direct {
            remaining: left,
            shared: Arc::clone(&shared),
        };
    }
    ServerStats::add(&host.stats.bodies_read_direct, 1);
    Some(DirectReader {
        sock: TcpStream::from(sock),
        head,
        head_pos: 0,
        left,
        shared,
        idle: host.limits.idle_timeout.max(Duration::from_millis(1)),
        host: Arc::clone(host),
    })
}

/// Loop side, once the handler's result arrived (its thread no longer reads): the connection
/// reads again. What the handler left unread is discarded so the stream stays in step, unless
/// the socket broke, then the connection closes after the reply.
pub fn take_back(conn: &mut Conn) {
    let ReadState::Direct { remaining, shared } = &conn.read else {
        return;
    };
    let rest = remaining.saturating_sub(shared.moved.load(Ordering::Acquire));
    let broken = shared.broken.load(Ordering::Acquire);
    conn.read = match rest {
        _ if broken => ReadState::Frames,
        0 => ReadState::Frames,
        rest => ReadState::Discard { remaining: rest },
    };
    conn.close_after_flush |= broken;
    // The thread consumed the readiness edges while it read: look at the socket again.
    conn.read_blocked = false;
    conn.last_input = conn.clock;
}

impl DirectReader {
    fn fail(&self, kind: io::ErrorKind, why: &str) -> io::Error {
        self.shared.broken.store(true, Ordering::Release);
        io::Error::new(kind, why.to_string())
    }
}

impl Read for DirectReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.head_pos < self.head.len() {
            let n = buf.len().min(self.head.len() - self.head_pos);
            buf[..n].copy_from_slice(&self.head[self.head_pos..self.head_pos + n]);
            self.head_pos += n;
            if self.head_pos == self.head.len() {
                self.head = Vec::new();
                self.head_pos = 0;
            }
            return Ok(n);
        }
        let want = usize::try_from(self.left)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        if want == 0 {
            return Ok(0);
        }
        let since = Instant::now();
        loop {
            if self.shared.aborted.load(Ordering::Acquire) {
                return Err(self.fail(
                    io::ErrorKind::ConnectionAborted,
                    "client disconnected during upload",
                ));
            }
            match self.sock.read(&mut buf[..want]) {
                Ok(0) => {
                    return Err(self.fail(
                        io::ErrorKind::UnexpectedEof,
                        "client disconnected during upload",
                    ))
                }
                Ok(n) => {
                    self.left -= n as u64;
                    self.shared.moved.fetch_add(n as u64, Ordering::AcqRel);
                    ServerStats::add(&self.host.stats.bytes_in, n as u64);
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let waited = since.elapsed();
                    if waited >= self.idle {
                        log::info!("an uploader sent nothing for {:?}: given up", self.idle);
                        return Err(self.fail(
                            io::ErrorKind::TimedOut,
                            "the client sent nothing for the idle timeout",
                        ));
                    }
                    let step = (self.idle - waited).min(Duration::from_millis(POLL_MS));
                    let ms = u16::try_from(step.as_millis().max(1)).unwrap_or(u16::MAX);
                    let mut fds = [PollFd::new(self.sock.as_fd(), PollFlags::POLLIN)];
                    let _ = poll(&mut fds, PollTimeout::from(ms));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.fail(e.kind(), &e.to_string())),
            }
        }
    }
}
