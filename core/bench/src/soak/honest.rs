//! One honest client: its own account and connection, a fixed cycle of everyday commands until
//! the deadline, and a tally of what it saw (successes the database must hold, refusals by code,
//! protocol errors and `internal` replies, which must not happen).

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use kino_client::{into_data, Client, ClientError};
use kino_proto::ErrorCode;
use serde_json::{json, Value};

use super::{Catalogue, SoakArgs};

/// What one client (or all of them, merged) saw.
#[derive(Debug, Default)]
pub struct Tally {
    /// Requests sent.
    pub ops: u64,
    /// Requests answered `ok`.
    pub ok: u64,
    /// Refusals by error code (`conflict` for a second purchase is expected, for instance).
    pub refused: BTreeMap<String, u64>,
    /// Replies that were not replies, or bytes out of step.
    pub protocol_errors: u64,
    /// `internal` replies.
    pub internal: u64,
    /// Connections lost or timed out (then reconnected).
    pub disconnects: u64,
    /// Client threads that panicked.
    pub panicked: u64,
    /// Milliseconds per request.
    pub latency_ms: Vec<f64>,
    /// Accounts whose registration was answered `ok`.
    pub registered: Vec<String>,
    /// (user, movie id) of every purchase answered `ok`.
    pub bought: Vec<(String, u64)>,
    /// (user, movie id) of every download received whole.
    pub downloaded: Vec<(String, u64)>,
    /// (user, key) of every transcription answered `ok`.
    pub transcribed: Vec<(String, String)>,
}

impl Tally {
    /// Adds another client's tally.
    pub fn merge(&mut self, o: Tally) {
        self.ops += o.ops;
        self.ok += o.ok;
        for (k, v) in o.refused {
            *self.refused.entry(k).or_default() += v;
        }
        self.protocol_errors += o.protocol_errors;
        self.internal += o.internal;
        self.disconnects += o.disconnects;
        self.panicked += o.panicked;
        self.latency_ms.extend(o.latency_ms);
        self.registered.extend(o.registered);
        self.bought.extend(o.bought);
        self.downloaded.extend(o.downloaded);
        self.transcribed.extend(o.transcribed);
    }

    /// Prints the honest clients' figures.
    pub fn report(&mut self, args: &SoakArgs, secs: f64) {
        self.latency_ms.sort_by(f64::total_cmp);
        let pct = |p: f64| {
            let n = self.latency_ms.len();
            if n == 0 {
                return 0.0;
            }
            self.latency_ms[((n - 1) as f64 * p) as usize]
        };
        println!(
            "honest clients: {} for {secs:.1} s; attackers: {} of each kind",
            args.clients, args.attackers
        );
        println!(
            "requests {} ({:.0}/s), ok {}, protocol errors {}, internal {}, disconnects {}, panics {}",
            self.ops,
            self.ops as f64 / secs,
            self.ok,
            self.protocol_errors,
            self.internal,
            self.disconnects,
            self.panicked
        );
        println!("refusals by code: {:?}", self.refused);
        println!(
            "latency ms: p50 {:.1}, p99 {:.1}, max {:.1}",
            pct(0.5),
            pct(0.99),
            pct(1.0)
        );
        println!(
            "seen ok: {} registrations, {} purchases, {} downloads, {} transcriptions",
            self.registered.len(),
            self.bought.len(),
            self.downloaded.len(),
            self.transcribed.len()
        );
    }
}

/// The account name of honest client `i` (the login guessers aim at these).
pub fn name(i: usize) -> String {
    format!("soak{i:04}")
}

fn password(i: usize) -> String {
    format!("soak-password-{i}")
}

/// How one request ended, for the cycle to decide what to do next.
enum Step {
    Ok(Value),
    Refused(ErrorCode),
    Reconnect,
}

struct Honest<'a> {
    addr: SocketAddr,
    i: usize,
    cat: &'a Catalogue,
    client: Option<Client>,
    tally: Tally,
    wav: Vec<u8>,
}

impl Honest<'_> {
    fn record(&mut self, started: Instant, result: Result<Value, ClientError>) -> Step {
        self.tally.ops += 1;
        self.tally
            .latency_ms
            .push(started.elapsed().as_secs_f64() * 1000.0);
        match result {
            Ok(v) => {
                self.tally.ok += 1;
                Step::Ok(v)
            }
            Err(ClientError::Server(e)) => {
                if e.code == ErrorCode::Internal {
                    self.tally.internal += 1;
                }
                *self
                    .tally
                    .refused
                    .entry(e.code.as_str().to_string())
                    .or_default() += 1;
                Step::Refused(e.code)
            }
            Err(ClientError::Protocol(_)) => {
                self.tally.protocol_errors += 1;
                self.client = None;
                Step::Reconnect
            }
            Err(ClientError::Io(_)) => {
                self.tally.disconnects += 1;
                self.client = None;
                Step::Reconnect
            }
        }
    }

    fn call(&mut self, command: &str, args: Value) -> Step {
        let started = Instant::now();
        let Some(c) = self.client.as_mut() else {
            return Step::Reconnect;
        };
        let result = c.call(command, args);
        self.record(started, result)
    }

    fn connect(&mut self) -> bool {
        let connected = super::net::connect_from(super::net::honest_ip(self.i), self.addr)
            .map_err(kino_client::ClientError::from)
            .and_then(Client::from_stream);
        match connected {
            Ok(c) => {
                // A hung request must not hang the soak: it counts as a disconnect.
                let _ = c.set_read_timeout(Some(Duration::from_secs(30)));
                self.client = Some(c);
                true
            }
            Err(_) => {
                self.tally.disconnects += 1;
                false
            }
        }
    }

    fn login(&mut self) -> bool {
        let args = json!({"name": name(self.i), "password": password(self.i)});
        matches!(self.call("auth.login", args), Step::Ok(_))
    }

    fn download(&mut self, movie_id: u64) {
        let started = Instant::now();
        let Some(c) = self.client.as_mut() else {
            return;
        };
        let result = c
            .send(&json!({"type": "movies.download", "movie_id": movie_id}))
            .and_then(|()| c.recv())
            .and_then(into_data)
            .and_then(|data| {
                let n = data["file_size"].as_u64().unwrap_or(0);
                c.recv_payload(n, &mut io::sink(), &mut |_| {})?;
                Ok(data)
            });
        if let Step::Ok(_) = self.record(started, result) {
            self.tally.downloaded.push((name(self.i), movie_id));
        }
    }

    fn transcribe(&mut self) {
        let started = Instant::now();
        let Some(c) = self.client.as_mut() else {
            return;
        };
        let len = self.wav.len() as u64;
        let result = c.upload(
            "melody.transcribe",
            json!({"title": format!("soak {}", self.i)}),
            &mut self.wav.as_slice(),
            len,
            &mut |_| {},
        );
        if let Step::Ok(v) = self.record(started, result) {
            if let Some(key) = v["key"].as_str() {
                self.tally.transcribed.push((name(self.i), key.to_string()));
            }
        }
    }
}

/// Runs client `i` until `deadline`.
pub fn run(addr: SocketAddr, i: usize, cat: &Catalogue, deadline: Instant) -> Tally {
    let mut h = Honest {
        addr,
        i,
        cat,
        client: None,
        tally: Tally::default(),
        wav: hum(i),
    };
    let mut registered = false;
    let mut logged_in = false;
    let mut round = 0usize;
    while Instant::now() < deadline {
        if h.client.is_none() {
            logged_in = false;
            if !h.connect() {
                std::thread::sleep(Duration::from_millis(200));
                continue;
            }
        }
        if !registered {
            let args = json!({"name": name(i), "password": password(i)});
            match h.call("auth.register", args) {
                Step::Ok(_) => {
                    registered = true;
                    h.tally.registered.push(name(i));
                }
                // Taken means an earlier attempt went through before its reply was lost.
                Step::Refused(ErrorCode::Conflict) => registered = true,
                Step::Refused(_) => {
                    std::thread::sleep(Duration::from_millis(500));
                    continue;
                }
                Step::Reconnect => continue,
            }
        }
        if !logged_in {
            logged_in = h.login();
            if !logged_in {
                std::thread::sleep(Duration::from_millis(500));
                continue;
            }
        }
        let free = h.cat.free[(i + round) % h.cat.free.len()];
        let charged = h.cat.charged[(i + round) % h.cat.charged.len()];
        match round % 10 {
            0 | 5 => {
                h.call("movies.list", json!({"kind": "all"}));
            }
            1 => {
                h.call("notices.list", json!({}));
            }
            2 => {
                if let Step::Ok(_) = h.call("movies.buy", json!({"movie_id": charged})) {
                    h.tally.bought.push((name(i), charged));
                }
            }
            3 => h.download(free),
            4 => h.download(charged),
            6 => {
                h.call("movies.records", json!({}));
            }
            7 if round % 30 == 7 => h.transcribe(),
            8 => {
                h.call("whoami", json!({}));
            }
            9 if round % 50 == 49 => {
                h.call("auth.logout", json!({}));
                logged_in = false;
            }
            _ => {
                h.call("ping", json!({}));
            }
        }
        round += 1;
    }
    h.tally
}

/// A second of 8 kHz 16-bit mono hum, three notes, pitched per client so that each client's
/// transcription is its own.
fn hum(i: usize) -> Vec<u8> {
    const RATE: u32 = 8000;
    let base = 196.0 * 2f64.powf((i % 12) as f64 / 12.0);
    let samples: Vec<i16> = (0..RATE)
        .map(|n| {
            let t = n as f64 / RATE as f64;
            let f = base * [1.0, 1.25, 1.5][(t * 3.0) as usize % 3];
            (0.4 * (2.0 * std::f64::consts::PI * f * t).sin() * i16::MAX as f64) as i16
        })
        .collect();
    let data_len = (samples.len() * 2) as u32;
    let mut out = Vec::with_capacity(44 + data_len as usize);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&RATE.to_le_bytes());
    out.extend_from_slice(&(RATE * 2).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
    out
}
