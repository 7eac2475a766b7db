//! The speed-of-light reference: a bare mio server speaking Kino's framing (4-byte little-endian
//! length, then the body) that answers every whole frame with the same fixed reply Kino gives to
//! `ping`, without parsing anything. Kino's loop can at best match it, so `kino / echo` says how
//! much of the machine the request path costs.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::SocketAddr;

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};

/// Kino's exact reply to `{"type":"ping"}`, so both servers write the same bytes.
pub const PONG: &[u8] = br#"{"ok":true,"id":null,"data":"pong"}"#;

const LISTENER: Token = Token(usize::MAX);

struct EchoConn {
    stream: TcpStream,
    input: Vec<u8>,
    out: Vec<u8>,
    out_pos: usize,
    writable: bool,
}

/// Serves on `addr` forever; prints the bound address as the first line of stdout.
pub fn serve(addr: SocketAddr) -> io::Result<()> {
    let mut poll = Poll::new()?;
    let mut listener = TcpListener::bind(addr)?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    println!("{}", listener.local_addr()?);
    let mut reply = Vec::with_capacity(4 + PONG.len());
    reply.extend_from_slice(&(PONG.len() as u32).to_le_bytes());
    reply.extend_from_slice(PONG);
    let mut conns: HashMap<Token, EchoConn> = HashMap::new();
    let mut next = 0usize;
    let mut events = Events::with_capacity(1024);
    let mut scratch = vec![0u8; 64 * 1024];
    loop {
        if let Err(e) = poll.poll(&mut events, None) {
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        for ev in events.iter() {
            if ev.token() == LISTENER {
                loop {
                    match listener.accept() {
                        Ok((mut stream, _)) => {
                            let _ = stream.set_nodelay(true);
                            let token = Token(next);
                            next += 1;
                            poll.registry()
                                .register(&mut stream, token, Interest::READABLE)?;
                            conns.insert(
                                token,
                                EchoConn {
                                    stream,
                                    input: Vec::new(),
                                    out: Vec::new(),
                                    out_pos: 0,
                                    writable: false,
                                },
                            );
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(_) => break,
                    }
                }
                continue;
            }
            let token = ev.token();
            let Some(c) = conns.get_mut(&token) else {
                continue;
            };
            if !pump(c, &reply, &mut scratch) {
                if let Some(mut c) = conns.remove(&token) {
                    let _ = poll.registry().deregister(&mut c.stream);
                }
                continue;
            }
            let want = c.out_pos < c.out.len();
            if want != c.writable {
                let interest = if want {
                    Interest::READABLE | Interest::WRITABLE
                } else {
                    Interest::READABLE
                };
                poll.registry().reregister(&mut c.stream, token, interest)?;
                c.writable = want;
            }
        }
    }
}

/// Reads what is there, answers every whole frame, writes what it can; false when closed.
fn pump(c: &mut EchoConn, reply: &[u8], scratch: &mut [u8]) -> bool {
    loop {
        match c.stream.read(scratch) {
            Ok(0) => return false,
            Ok(n) => c.input.extend_from_slice(&scratch[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return false,
        }
    }
    let mut pos = 0;
    while let Some(h) = c.input.get(pos..pos + 4) {
        let len = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize;
        if c.input.len() - pos - 4 < len {
            break;
        }
        pos += 4 + len;
        c.out.extend_from_slice(reply);
    }
    c.input.drain(..pos);
    while c.out_pos < c.out.len() {
        match c.stream.write(&c.out[c.out_pos..]) {
            Ok(n) => c.out_pos += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return false,
        }
    }
    if c.out_pos == c.out.len() {
        c.out.clear();
        c.out_pos = 0;
    }
    true
}
