//! A TCP proxy for tests that cut the shell's connection.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A link forwards bytes.
const RUNNING: u8 = 0;
/// A link stopped reading from the client (its receive window fills and shuts).
const FROZEN: u8 = 1;
/// A frozen link was cut: its threads let go of the sockets without reading.
const GONE: u8 = 2;

/// One proxied connection.
struct Link {
    client: TcpStream,
    upstream: TcpStream,
    state: Arc<AtomicU8>,
}

/// Forwards connections to `target`; `cut` closes every connection open so far.
pub struct Proxy {
    /// Where the shell connects.
    pub addr: SocketAddr,
    open: Arc<Mutex<Vec<Link>>>,
}

impl Proxy {
    /// Starts forwarding to `target`.
    pub fn start(target: SocketAddr) -> Proxy {
        Proxy::start_limited(target, u64::MAX)
    }

    /// Forwards to `target`, closing each connection once `limit` bytes went to the client
    /// (a transfer cut part-way).
    pub fn start_limited(target: SocketAddr, limit: u64) -> Proxy {
        Proxy::start_with(target, limit, Duration::ZERO, None)
    }

    /// Forwards to `target`, pausing `pause` after each chunk sent to the server (an upload
    /// slow enough to be cut part-way).
    pub fn start_throttled(target: SocketAddr, pause: Duration) -> Proxy {
        Proxy::start_with(target, u64::MAX, pause, None)
    }

    /// [`Proxy::start_throttled`] with a small fixed receive buffer on the client side, so
    /// that a [`Proxy::freeze`] shuts the client's send window within a few kilobytes.
    pub fn start_throttled_small(target: SocketAddr, pause: Duration) -> Proxy {
        Proxy::start_with(target, u64::MAX, pause, Some(64 * 1024))
    }

    fn start_with(target: SocketAddr, limit: u64, pause: Duration, rcvbuf: Option<usize>) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        if let Some(n) = rcvbuf {
            socket2::SockRef::from(&listener)
                .set_recv_buffer_size(n)
                .unwrap();
        }
        let addr = listener.local_addr().unwrap();
        let open = Arc::new(Mutex::new(Vec::new()));
        let list = Arc::clone(&open);
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let Ok(upstream) = TcpStream::connect(target) else {
                    return;
                };
                let state = Arc::new(AtomicU8::new(RUNNING));
                list.lock().unwrap().push(Link {
                    client: client.try_clone().unwrap(),
                    upstream: upstream.try_clone().unwrap(),
                    state: Arc::clone(&state),
                });
                pipe(
                    client.try_clone().unwrap(),
                    upstream.try_clone().unwrap(),
                    u64::MAX,
                    pause,
                    Some(state),
                );
                pipe(upstream, client, limit, Duration::ZERO, None);
            }
        });
        Proxy { addr, open }
    }

    /// Closes every connection open so far.
    pub fn cut(&self) {
        for l in self.open.lock().unwrap().drain(..) {
            let _ = l.client.shutdown(Shutdown::Both);
            let _ = l.upstream.shutdown(Shutdown::Both);
        }
    }

    /// Stops reading what the clients of the connections open so far send; replies still
    /// flow. Their send windows fill and shut.
    pub fn freeze(&self) {
        for l in self.open.lock().unwrap().iter() {
            l.state.store(FROZEN, Ordering::Release);
        }
    }

    /// Closes every connection open so far the way a peer that stopped reading may: the
    /// client side is shut down (a FIN), what it had received is read out, and the socket is
    /// closed with nothing unread, so no reset follows. A client whose send window was shut
    /// ([`Proxy::freeze`]) gets no sign of it while blocked in a send: the kernel's window
    /// probes keep being answered until the closed socket times out, a minute later.
    pub fn cut_quietly(&self) {
        for l in self.open.lock().unwrap().drain(..) {
            let _ = l.client.shutdown(Shutdown::Both);
            let mut rest = &l.client;
            rest.set_nonblocking(true).unwrap();
            let mut buf = [0u8; 64 * 1024];
            while matches!(rest.read(&mut buf), Ok(n) if n > 0) {}
            l.state.store(GONE, Ordering::Release);
            let _ = l.upstream.shutdown(Shutdown::Both);
        }
    }
}

fn pipe(
    mut from: TcpStream,
    mut to: TcpStream,
    limit: u64,
    pause: Duration,
    state: Option<Arc<AtomicU8>>,
) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        let mut sent = 0u64;
        loop {
            let now = || {
                state
                    .as_ref()
                    .map_or(RUNNING, |s| s.load(Ordering::Acquire))
            };
            while now() == FROZEN {
                std::thread::sleep(Duration::from_millis(1));
            }
            if now() == GONE {
                return;
            }
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let n = n.min(usize::try_from(limit - sent).unwrap_or(usize::MAX));
                    if to.write_all(&buf[..n]).is_err() {
                        break;
                    }
                    sent += n as u64;
                    std::thread::sleep(pause);
                    if sent >= limit {
                        let _ = from.shutdown(Shutdown::Both);
                        let _ = to.shutdown(Shutdown::Both);
                        return;
                    }
                }
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
}
