//! Reply bodies sent by the kernel (`sendfile`) from a file the blob store vouches for, so the
//! bytes pass through neither user space nor a hash: the download of a blob verified whole
//! before and unchanged since ([`crate::store::verified`]).
//!
//! Where it runs: on the body's transfer thread, never on the loop. `sendfile` reads the file
//! and a regular file cannot be made non-blocking, so on the loop a cold page cache would stall
//! every connection behind one disk read. The thread writes through its own handle of the
//! socket (a `dup`, still non-blocking): on `EAGAIN` it waits in `poll` for room, so a slow
//! reader costs only its own thread. The loop stays the socket's only other user and writes
//! nothing while the body goes out (a connection runs one request at a time): it flushes the
//! reply frame, says [`Pipe::go`], keeps reading input, and is woken through the pipe when the
//! thread is done, comparing the bytes moved with the body's length as for a piped body.
//! Closing the connection aborts the pipe and shuts the socket down, which ends a `poll` or a
//! `sendfile` in progress at once. A client that reads nothing for `--idle-timeout` is given
//! up, as the loop gives up unread replies.

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::sendfile::sendfile64;

use crate::host::ServerHost;
use crate::pipe::Pipe;
use crate::stats::ServerStats;
use crate::transfers::Slot;

/// Most bytes per `sendfile` call, so an abort is seen between calls even on a fast socket.
const STEP: u64 = 16 * 1024 * 1024;
/// How long one wait for socket room lasts before the abort flag is looked at again.
const POLL_MS: u16 = 200;

/// One body to send.
pub struct KernelBody {
    /// The connection's socket (a second handle of it).
    pub sock: OwnedFd,
    /// The file and where the body starts in it.
    pub file: File,
    /// Where the body starts in the file.
    pub offset: u64,
    /// Bytes to send.
    pub len: u64,
    /// The body's reader, read once with an empty buffer so its start hook runs.
    pub source: Box<dyn Read + Send>,
}

/// Starts the thread that sends `body` once the loop says [`Pipe::go`] on `pipe`.
pub fn spawn(
    body: KernelBody,
    pipe: Arc<Pipe>,
    host: Arc<ServerHost>,
    slot: Option<Slot>,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("kino-sendfile".into())
        .spawn(move || {
            crate::priority::lower_this_thread(host.limits.pool_nice, host.limits.pool_sched);
            let _slot = slot;
            let KernelBody {
                sock,
                file,
                offset,
                len,
                mut source,
            } = body;
            let _ = source.read(&mut []);
            if pipe.wait_go() {
                ServerStats::add(&host.stats.bodies_sendfile, 1);
                send(&sock, &file, offset, len, &pipe, &host);
            }
            pipe.finish();
        })
        .map(drop)
}

fn send(sock: &OwnedFd, file: &File, offset: u64, len: u64, pipe: &Pipe, host: &ServerHost) {
    let idle = host.limits.idle_timeout;
    let Ok(mut off) = i64::try_from(offset) else {
        return;
    };
    let mut left = len;
    let mut stalled: Option<Instant> = None;
    while left > 0 && !pipe.is_aborted() {
        let step = usize::try_from(left.min(STEP)).unwrap_or(usize::MAX);
        match sendfile64(sock.as_fd(), file.as_fd(), Some(&mut off), step) {
            Ok(0) => {
                log::error!("a verified file ended {left} bytes early while sent");
                return;
            }
            Ok(n) => {
                left -= n as u64;
                pipe.moved(n as u64);
                ServerStats::add(&host.stats.bytes_out, n as u64);
                stalled = None;
            }
            Err(Errno::EAGAIN) => {
                let since = *stalled.get_or_insert_with(Instant::now);
                if since.elapsed() > idle.max(Duration::from_millis(1)) {
                    log::info!("a download's client read nothing for {idle:?}: given up");
                    return;
                }
                let mut fds = [PollFd::new(sock.as_fd(), PollFlags::POLLOUT)];
                let _ = poll(&mut fds, PollTimeout::from(POLL_MS));
            }
            Err(Errno::EINTR) => {}
            Err(e) => {
                log::debug!("sending a file: {e}");
                return;
            }
        }
    }
}
