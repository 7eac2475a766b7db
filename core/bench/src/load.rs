//! One load generator for every server compared (Kino, the echo server, redis), so the ratios
//! measure the servers and not three different clients: one thread, mio, `connections`
//! sockets each keeping `depth` pings in flight (redis-benchmark's model).

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

/// The wire a target speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    /// Kino's framing, `{"type":"ping"}`; the echo server speaks it too.
    Kino,
    /// Redis RESP `PING`, answered by the 7-byte `+PONG\r\n`.
    Resp,
    /// Kino's HTTP gateway: `GET /api/ping` on a keep-alive connection.
    Http,
}

impl Wire {
    fn request(self) -> Vec<u8> {
        match self {
            Wire::Kino => {
                let body = br#"{"type":"ping"}"#;
                let mut v = (body.len() as u32).to_le_bytes().to_vec();
                v.extend_from_slice(body);
                v
            }
            Wire::Resp => b"*1\r\n$4\r\nPING\r\n".to_vec(),
            Wire::Http => b"GET /api/ping HTTP/1.1\r\nHost: bench\r\n\r\n".to_vec(),
        }
    }

    /// Whole replies at the front of `buf`, and the bytes they take.
    fn replies(self, buf: &[u8]) -> (usize, usize) {
        match self {
            Wire::Resp => (buf.len() / 7, buf.len() / 7 * 7),
            Wire::Http => http_replies(buf),
            Wire::Kino => {
                let (mut n, mut pos) = (0, 0);
                while let Some(h) = buf.get(pos..pos + 4) {
                    let len = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize;
                    if buf.len() - pos - 4 < len {
                        break;
                    }
                    pos += 4 + len;
                    n += 1;
                }
                (n, pos)
            }
        }
    }
}

/// Whole HTTP responses (head, then `Content-Length` bytes) at the front of `buf`.
fn http_replies(buf: &[u8]) -> (usize, usize) {
    let (mut n, mut pos) = (0, 0);
    while let Some(end) = buf[pos..].windows(4).position(|w| w == b"\r\n\r\n") {
        let head = String::from_utf8_lossy(&buf[pos..pos + end]).to_ascii_lowercase();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        let total = end + 4 + len;
        if buf.len() - pos < total {
            break;
        }
        pos += total;
        n += 1;
    }
    (n, pos)
}

/// A connections x pipeline-depth shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// Open connections.
    pub connections: usize,
    /// Requests in flight on each.
    pub depth: usize,
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}", self.connections, self.depth)
    }
}

impl std::str::FromStr for Shape {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (c, d) = s.split_once('x').ok_or("a shape is CONNECTIONSxDEPTH")?;
        let n = |v: &str| v.trim().parse::<usize>().map_err(|e| format!("{s}: {e}"));
        let shape = Shape {
            connections: n(c)?,
            depth: n(d)?,
        };
        if shape.connections == 0 || shape.depth == 0 {
            return Err(format!("{s}: both numbers must be at least 1"));
        }
        Ok(shape)
    }
}

struct LoadConn {
    stream: TcpStream,
    input: Vec<u8>,
    out: Vec<u8>,
    out_pos: usize,
}

impl LoadConn {
    fn flush(&mut self) -> io::Result<()> {
        while self.out_pos < self.out.len() {
            match self.stream.write(&self.out[self.out_pos..]) {
                Ok(n) => self.out_pos += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.out.clear();
        self.out_pos = 0;
        Ok(())
    }
}

/// Pings per second that `addr` answers at `shape`, counted over `span` after a short warm-up.
pub fn rate(addr: SocketAddr, wire: Wire, shape: Shape, span: Duration) -> Result<f64> {
    let mut poll = Poll::new()?;
    let request = wire.request();
    let mut conns = Vec::with_capacity(shape.connections);
    for i in 0..shape.connections {
        let std = std::net::TcpStream::connect(addr).with_context(|| format!("connect {addr}"))?;
        std.set_nodelay(true)?;
        std.set_nonblocking(true)?;
        let mut stream = TcpStream::from_std(std);
        poll.registry().register(
            &mut stream,
            Token(i),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        let mut c = LoadConn {
            stream,
            input: Vec::new(),
            out: request.repeat(shape.depth),
            out_pos: 0,
        };
        c.flush()?;
        conns.push(c);
    }
    let mut events = Events::with_capacity(1024);
    let mut scratch = vec![0u8; 64 * 1024];
    let warm_until = Instant::now() + span / 5;
    let mut started: Option<Instant> = None;
    let mut counted = 0u64;
    loop {
        let now = Instant::now();
        match started {
            None if now >= warm_until => {
                started = Some(now);
                counted = 0;
            }
            Some(t) if now.duration_since(t) >= span => {
                return Ok(counted as f64 / now.duration_since(t).as_secs_f64());
            }
            _ => {}
        }
        poll.poll(&mut events, Some(Duration::from_millis(100)))?;
        for ev in events.iter() {
            let c = &mut conns[ev.token().0];
            loop {
                match c.stream.read(&mut scratch) {
                    Ok(0) => anyhow::bail!("{addr} closed a connection"),
                    Ok(n) => c.input.extend_from_slice(&scratch[..n]),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e.into()),
                }
            }
            let (n, used) = wire.replies(&c.input);
            c.input.drain(..used);
            counted += n as u64;
            for _ in 0..n {
                c.out.extend_from_slice(&request);
            }
            c.flush()?;
        }
    }
}
