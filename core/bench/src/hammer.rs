//! A one-thread mio load generator for any Kino command: `connections` sockets with one request
//! in flight each, the next request of a connection produced by a closure (so every buyer can
//! buy a different movie). Unlike `load.rs` it checks every reply is `ok`, since a command
//! answering errors fast would otherwise look like a fast command.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use serde_json::Value;

/// What one counted window measured.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// Requests answered `ok` in the window.
    pub ok: u64,
    /// Its length.
    pub secs: f64,
    /// CPU ticks the server spent in it.
    pub kino_ticks: u64,
    /// CPU ticks the database spent in it (0 for SQLite: it runs inside the server).
    pub pg_ticks: u64,
}

/// `v` in Kino's framing: a 4-byte little-endian length, then the JSON.
pub fn frame(v: &Value) -> Vec<u8> {
    let body = v.to_string();
    let mut out = (body.len() as u32).to_le_bytes().to_vec();
    out.extend_from_slice(body.as_bytes());
    out
}

const OK: &[u8] = br#"{"ok":true"#;

struct Conn {
    stream: TcpStream,
    input: Vec<u8>,
    out: Vec<u8>,
    done: bool,
}

/// Drives `addr` for `warm` and then `span`, sampling `cpu` (server, db ticks) at both ends of
/// the counted part. A connection whose `next` returns `None` stops;
/// when all have, the window ends early.
pub fn hammer(
    addr: SocketAddr,
    connections: usize,
    warm: Duration,
    span: Duration,
    cpu: &dyn Fn() -> (u64, u64),
    mut next: impl FnMut(usize) -> Option<Vec<u8>>,
) -> Result<Window> {
    let mut poll = Poll::new()?;
    let mut conns = Vec::with_capacity(connections);
    for i in 0..connections {
        let std = std::net::TcpStream::connect(addr).with_context(|| format!("connect {addr}"))?;
        std.set_nodelay(true)?;
        std.set_nonblocking(true)?;
        let mut stream = TcpStream::from_std(std);
        poll.registry()
            .register(&mut stream, Token(i), Interest::READABLE)?;
        let mut c = Conn {
            stream,
            input: Vec::new(),
            out: Vec::new(),
            done: false,
        };
        match next(i) {
            Some(req) => {
                c.out = req;
                write_all(&mut c)?;
            }
            None => c.done = true,
        }
        conns.push(c);
    }
    let mut events = Events::with_capacity(1024);
    let mut scratch = vec![0u8; 256 * 1024];
    let warm_until = Instant::now() + warm;
    let mut started: Option<(Instant, (u64, u64))> = None;
    let mut ok = 0u64;
    loop {
        let now = Instant::now();
        let all_done = conns.iter().all(|c| c.done);
        match started {
            None if now >= warm_until || all_done => {
                started = Some((now, cpu()));
                ok = 0;
            }
            Some((t, (k0, p0))) if now.duration_since(t) >= span || all_done => {
                let (k1, p1) = cpu();
                return Ok(Window {
                    ok,
                    secs: now.duration_since(t).as_secs_f64().max(1e-9),
                    kino_ticks: k1.saturating_sub(k0),
                    pg_ticks: p1.saturating_sub(p0),
                });
            }
            _ => {}
        }
        poll.poll(&mut events, Some(Duration::from_millis(50)))?;
        for ev in events.iter() {
            let i = ev.token().0;
            let c = &mut conns[i];
            loop {
                match c.stream.read(&mut scratch) {
                    Ok(0) => bail!("{addr} closed a connection"),
                    Ok(n) => c.input.extend_from_slice(&scratch[..n]),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e.into()),
                }
            }
            let Some(h) = c.input.get(..4) else { continue };
            let len = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize;
            if c.input.len() < 4 + len {
                continue;
            }
            let body = &c.input[4..4 + len];
            if !body.starts_with(OK) {
                bail!("error reply: {}", String::from_utf8_lossy(body));
            }
            c.input.drain(..4 + len);
            ok += 1;
            match next(i) {
                Some(req) => {
                    c.out = req;
                    write_all(c)?;
                }
                None => c.done = true,
            }
        }
    }
}

/// Writes a whole small request; a blocking-ish retry is fine for one frame of a few hundred
/// bytes on a socket with nothing else queued.
fn write_all(c: &mut Conn) -> Result<()> {
    let mut pos = 0;
    while pos < c.out.len() {
        match c.stream.write(&c.out[pos..]) {
            Ok(n) => pos += n,
            Err(e)
                if e.kind() == io::ErrorKind::WouldBlock
                    || e.kind() == io::ErrorKind::Interrupted =>
            {
                std::thread::yield_now()
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
