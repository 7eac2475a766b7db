//! A TCP proxy for tests that cut the shell's connection.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// Forwards connections to `target`; `cut` closes every connection open so far.
pub struct Proxy {
    /// Where the shell connects.
    pub addr: SocketAddr,
    open: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    /// Starts forwarding to `target`.
    pub fn start(target: SocketAddr) -> Proxy {
        Proxy::start_limited(target, u64::MAX)
    }

    /// Forwards to `target`, closing each connection once `limit` bytes went to the client
    /// (a transfer cut part-way).
    pub fn start_limited(target: SocketAddr, limit: u64) -> Proxy {
        Proxy::start_with(target, limit, std::time::Duration::ZERO)
    }

    /// Forwards to `target`, pausing `pause` after each chunk sent to the server (an upload
    /// slow enough to be cut part-way).
    pub fn start_throttled(target: SocketAddr, pause: std::time::Duration) -> Proxy {
        Proxy::start_with(target, u64::MAX, pause)
    }

    fn start_with(target: SocketAddr, limit: u64, pause: std::time::Duration) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let open = Arc::new(Mutex::new(Vec::new()));
        let list = Arc::clone(&open);
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let Ok(upstream) = TcpStream::connect(target) else {
                    return;
                };
                list.lock().unwrap().push(client.try_clone().unwrap());
                list.lock().unwrap().push(upstream.try_clone().unwrap());
                pipe(
                    client.try_clone().unwrap(),
                    upstream.try_clone().unwrap(),
                    u64::MAX,
                    pause,
                );
                pipe(upstream, client, limit, std::time::Duration::ZERO);
            }
        });
        Proxy { addr, open }
    }

    /// Closes every connection open so far.
    pub fn cut(&self) {
        for s in self.open.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream, limit: u64, pause: std::time::Duration) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        let mut sent = 0u64;
        loop {
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
