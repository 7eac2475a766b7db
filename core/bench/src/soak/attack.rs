//! The attackers that run beside the honest clients, each on its own thread until told to stop:
//! unread pipelines (thousands of `help` requests whose replies are never read), slowloris (a
//! frame sent at one byte a second), silent sockets (connect, send nothing), and login guessing
//! (wrong passwords against the honest clients' accounts, as fast as the server answers).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use kino_client::{Client, ClientError};
use serde_json::json;

use super::SoakArgs;

/// What the attackers managed.
#[derive(Debug, Default)]
pub struct AttackTally {
    /// Pipelined requests written and never read.
    pub pipelined: u64,
    /// Slowloris bytes trickled.
    pub trickled: u64,
    /// Connections the server closed on an attacker (then reopened).
    pub closed_by_server: u64,
    /// Login guesses answered, by outcome.
    pub guesses: BTreeMap<String, u64>,
}

impl AttackTally {
    fn merge(&mut self, o: AttackTally) {
        self.pipelined += o.pipelined;
        self.trickled += o.trickled;
        self.closed_by_server += o.closed_by_server;
        for (k, v) in o.guesses {
            *self.guesses.entry(k).or_default() += v;
        }
    }

    /// Prints the attackers' figures.
    pub fn report(&self) {
        println!(
            "attackers: {} unread pipelined requests, {} slowloris bytes, {} connections closed by the server, guesses {:?}",
            self.pipelined, self.trickled, self.closed_by_server, self.guesses
        );
    }
}

fn connect(from: Ipv4Addr, addr: SocketAddr) -> Option<TcpStream> {
    let s = super::net::connect_from(from, addr).ok()?;
    s.set_write_timeout(Some(Duration::from_secs(1))).ok()?;
    s.set_read_timeout(Some(Duration::from_millis(200))).ok()?;
    Some(s)
}

fn frame(body: &str) -> Vec<u8> {
    let mut out = (body.len() as u32).to_le_bytes().to_vec();
    out.extend_from_slice(body.as_bytes());
    out
}

/// Whether the server closed `s` (a read of 0 bytes or a reset); a timeout means still open.
fn closed(s: &mut TcpStream) -> bool {
    let mut b = [0u8; 256];
    match s.read(&mut b) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    }
}

fn pipeline(addr: SocketAddr, from: Ipv4Addr, requests: usize, stop: &AtomicBool) -> AttackTally {
    let mut t = AttackTally::default();
    let one = frame(r#"{"type":"help"}"#);
    let batch: Vec<u8> = one.repeat(500);
    let Some(mut s) = connect(from, addr) else {
        return t;
    };
    while !stop.load(Ordering::Relaxed) && (t.pipelined as usize) < requests {
        match s.write_all(&batch) {
            Ok(()) => t.pipelined += 500,
            // The server stopped reading (a high-water mark) or closed: hold the socket.
            Err(_) => break,
        }
    }
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(200));
    }
    t
}

fn slowloris(addr: SocketAddr, from: Ipv4Addr, stop: &AtomicBool) -> AttackTally {
    let mut t = AttackTally::default();
    let body = frame(&format!(
        r#"{{"type":"ping","pad":"{}"}}"#,
        "x".repeat(1000)
    ));
    while !stop.load(Ordering::Relaxed) {
        let Some(mut s) = connect(from, addr) else {
            std::thread::sleep(Duration::from_millis(500));
            continue;
        };
        for b in &body {
            if stop.load(Ordering::Relaxed) {
                return t;
            }
            if s.write_all(&[*b]).is_err() {
                t.closed_by_server += 1;
                break;
            }
            t.trickled += 1;
            std::thread::sleep(Duration::from_secs(1));
        }
    }
    t
}

fn silent(addr: SocketAddr, from: Ipv4Addr, stop: &AtomicBool) -> AttackTally {
    let mut t = AttackTally::default();
    while !stop.load(Ordering::Relaxed) {
        let Some(mut s) = connect(from, addr) else {
            std::thread::sleep(Duration::from_millis(500));
            continue;
        };
        while !stop.load(Ordering::Relaxed) {
            if closed(&mut s) {
                t.closed_by_server += 1;
                break;
            }
        }
    }
    t
}

fn guess(
    addr: SocketAddr,
    from: Ipv4Addr,
    names: &[String],
    seed: usize,
    stop: &AtomicBool,
) -> AttackTally {
    let mut t = AttackTally::default();
    let mut client = None;
    let mut n = seed;
    while !stop.load(Ordering::Relaxed) {
        let c = match client.as_mut() {
            Some(c) => c,
            None => match super::net::connect_from(from, addr)
                .map_err(ClientError::from)
                .and_then(Client::from_stream)
            {
                Ok(c) => {
                    let _ = c.set_read_timeout(Some(Duration::from_secs(10)));
                    client.insert(c)
                }
                Err(_) => {
                    std::thread::sleep(Duration::from_millis(200));
                    continue;
                }
            },
        };
        n = n.wrapping_mul(31).wrapping_add(7);
        let name = &names[n % names.len()];
        let outcome = match c.call(
            "auth.login",
            json!({"name": name, "password": format!("guess-{n}")}),
        ) {
            Ok(_) => "ok".to_string(),
            Err(ClientError::Server(e)) => e.code.as_str().to_string(),
            Err(_) => {
                client = None;
                "disconnected".to_string()
            }
        };
        *t.guesses.entry(outcome).or_default() += 1;
    }
    t
}

/// Starts every attacker.
pub fn start(
    addr: SocketAddr,
    args: &SoakArgs,
    names: &[String],
    stop: &Arc<AtomicBool>,
) -> Vec<JoinHandle<AttackTally>> {
    let mut out = Vec::new();
    for k in 0..args.attackers {
        let requests = args.pipeline_requests;
        let names = names.to_vec();
        let stops = [(); 4].map(|()| Arc::clone(stop));
        let [s1, s2, s3, s4] = stops;
        let ip = |kind| super::net::attacker_ip(kind, k);
        let (p, l, q, g) = (ip(0), ip(1), ip(2), ip(3));
        out.push(std::thread::spawn(move || pipeline(addr, p, requests, &s1)));
        out.push(std::thread::spawn(move || slowloris(addr, l, &s2)));
        out.push(std::thread::spawn(move || silent(addr, q, &s3)));
        out.push(std::thread::spawn(move || guess(addr, g, &names, k, &s4)));
    }
    out
}

/// Waits for the attackers (after `stop` was set) and sums what they did.
pub fn join(handles: Vec<JoinHandle<AttackTally>>) -> AttackTally {
    let mut total = AttackTally::default();
    for h in handles {
        if let Ok(t) = h.join() {
            total.merge(t);
        }
    }
    total
}
