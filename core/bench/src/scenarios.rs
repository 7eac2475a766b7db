//! The scenarios. Each returns one number per round.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use kino_client::Client;
use serde_json::json;

use crate::server::{Spawned, ADMIN};

/// One benchmark.
pub struct Scenario {
    /// Name used by `--only`.
    pub name: &'static str,
    /// What the number means.
    pub unit: &'static str,
    /// Extra server flags.
    pub server_args: &'static [&'static str],
    /// One round.
    pub run: fn(&Spawned) -> Result<f64>,
}

/// Every scenario, in report order.
pub const ALL: &[Scenario] = &[
    Scenario {
        name: "ping_roundtrip",
        unit: "requests/s, 1 connection, one at a time",
        server_args: &[],
        run: ping_roundtrip,
    },
    Scenario {
        name: "ping_pipelined",
        unit: "requests/s, 1 connection, 256 in flight",
        server_args: &[],
        run: ping_pipelined,
    },
    Scenario {
        name: "ping_64_connections",
        unit: "requests/s, 64 connections, 16 in flight each",
        server_args: &[],
        run: ping_many,
    },
    Scenario {
        name: "two_send_roundtrip",
        unit: "requests/s, 1 connection, header and body in separate sends (legacy client pattern)",
        server_args: &[],
        run: two_send,
    },
    Scenario {
        name: "users_pool_command",
        unit: "requests/s, 8 connections, auth.users (a worker-pool command with a database query)",
        server_args: &[],
        run: pool_command,
    },
    Scenario {
        name: "login_default_argon2",
        unit: "logins/s, 4 connections, default argon2id cost",
        server_args: &[],
        run: logins,
    },
    Scenario {
        name: "upload_256mib",
        unit: "MB/s, movies.upload (MD5 + fsync + rename)",
        server_args: &[],
        run: crate::transfer::upload_throughput,
    },
    Scenario {
        name: "upload_1gib_vs_md5",
        unit: "x the md-5 crate's one-core rate (1 GiB upload; both rates on stderr)",
        server_args: &[],
        run: crate::transfer::upload_gib_vs_md5,
    },
    Scenario {
        name: "download_1gib_vs_iperf3",
        unit: "x one loopback iperf3 stream (1 GiB download; both rates on stderr)",
        // The free-download wait (30 s by default) is a rule, not transfer time.
        server_args: &["--free-download-wait", "0"],
        run: crate::transfer::download_gib_vs_iperf3,
    },
    Scenario {
        name: "upload_rss_growth",
        unit: "MiB of server memory growth (peak) during a 256 MiB upload",
        server_args: &[],
        run: crate::transfer::upload_rss,
    },
    Scenario {
        name: "download_256mib",
        unit: "MB/s, movies.download",
        server_args: &["--free-download-wait", "0"],
        run: crate::transfer::download_throughput,
    },
    Scenario {
        name: "slow_reader_rss_growth",
        unit: "MiB of server memory growth while a client reads a 256 MiB download at ~20 MB/s",
        server_args: &["--free-download-wait", "0"],
        run: crate::transfer::slow_reader_rss,
    },
    Scenario {
        name: "idle_connections_rss",
        unit: "KiB of server memory per idle connection (5000 connections)",
        server_args: &[],
        run: idle_rss,
    },
];

const SECONDS: Duration = Duration::from_millis(1500);

fn ping_roundtrip(s: &Spawned) -> Result<f64> {
    let mut c = Client::connect(s.addr)?;
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed() < SECONDS {
        c.call("ping", json!({}))?;
        n += 1;
    }
    Ok(n as f64 / started.elapsed().as_secs_f64())
}

fn pipelined(c: &mut Client, depth: usize, until: Instant) -> Result<u64> {
    let mut n = 0u64;
    let req = json!({"type": "ping"});
    for _ in 0..depth {
        c.send(&req)?;
    }
    c.flush()?;
    while Instant::now() < until {
        for _ in 0..depth / 2 {
            anyhow::ensure!(c.recv()?.ok, "ping failed");
            c.send(&req)?;
            n += 1;
        }
        c.flush()?;
    }
    for _ in 0..depth {
        c.recv()?;
        n += 1;
    }
    Ok(n)
}

fn ping_pipelined(s: &Spawned) -> Result<f64> {
    let mut c = Client::connect(s.addr)?;
    let started = Instant::now();
    let n = pipelined(&mut c, 256, started + SECONDS)?;
    Ok(n as f64 / started.elapsed().as_secs_f64())
}

fn ping_many(s: &Spawned) -> Result<f64> {
    let addr = s.addr;
    rate_across_threads(4, SECONDS, move |until| {
        let mut clients = (0..16)
            .map(|_| Client::connect(addr))
            .collect::<Result<Vec<_>, _>>()?;
        let mut n = 0;
        while Instant::now() < until {
            for c in clients.iter_mut() {
                for _ in 0..16 {
                    c.send(&json!({"type": "ping"}))?;
                }
                c.flush()?;
            }
            for c in clients.iter_mut() {
                for _ in 0..16 {
                    c.recv()?;
                    n += 1;
                }
            }
        }
        Ok(n)
    })
}

fn two_send(s: &Spawned) -> Result<f64> {
    // Like the original Python client: Nagle on (the default), the 4-byte length in one send and
    // the JSON body in a second one, then a blocking read of the reply.
    let mut sock = TcpStream::connect(s.addr)?;
    let body = br#"{"type": "ping"}"#;
    let started = Instant::now();
    let mut n = 0u64;
    let mut header = [0u8; 4];
    let mut reply = vec![0u8; 256];
    while started.elapsed() < SECONDS {
        sock.write_all(&(body.len() as u32).to_le_bytes())?;
        sock.write_all(body)?;
        sock.read_exact(&mut header)?;
        let len = u32::from_le_bytes(header) as usize;
        reply.resize(len, 0);
        sock.read_exact(&mut reply)?;
        n += 1;
    }
    Ok(n as f64 / started.elapsed().as_secs_f64())
}

fn admin_token(s: &Spawned) -> Result<String> {
    let mut c = Client::connect(s.addr)?;
    let r = c.call("auth.login", json!({"name": ADMIN.0, "password": ADMIN.1}))?;
    r["session"]
        .as_str()
        .map(str::to_owned)
        .context("no session")
}

fn pool_command(s: &Spawned) -> Result<f64> {
    // `auth.users` runs on the pool: this measures the worker hand-off, the waker and SQLite.
    let token = admin_token(s)?;
    let addr = s.addr;
    rate_across_threads(8, SECONDS, move |until| {
        let mut c = Client::connect(addr)?;
        let mut n = 0;
        while Instant::now() < until {
            c.call("auth.users", json!({"session": token}))?;
            n += 1;
        }
        Ok(n)
    })
}

fn logins(s: &Spawned) -> Result<f64> {
    let addr = s.addr;
    rate_across_threads(4, Duration::from_secs(3), move |until| {
        let mut c = Client::connect(addr)?;
        let mut n = 0;
        while Instant::now() < until {
            c.call("auth.login", json!({"name": ADMIN.0, "password": ADMIN.1}))?;
            n += 1;
        }
        Ok(n)
    })
}

/// Runs `threads` client loops until `span` has passed; each returns how many requests it made.
/// The result is requests per second over all of them.
fn rate_across_threads(
    threads: usize,
    span: Duration,
    body: impl Fn(Instant) -> Result<u64> + Send + Sync + 'static,
) -> Result<f64> {
    let started = Instant::now();
    let until = started + span;
    let body = std::sync::Arc::new(body);
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let body = std::sync::Arc::clone(&body);
            std::thread::spawn(move || body(until))
        })
        .collect();
    let mut total = 0;
    for h in handles {
        total += h
            .join()
            .map_err(|_| anyhow::anyhow!("client thread panicked"))??;
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

fn idle_rss(s: &Spawned) -> Result<f64> {
    let mut probe = Client::connect(s.addr)?;
    probe.call("ping", json!({}))?;
    let before = s.rss_kib()?;
    let mut conns = Vec::with_capacity(5000);
    for _ in 0..5000 {
        let mut c = Client::connect(s.addr)?;
        c.call("ping", json!({}))?;
        conns.push(c);
    }
    probe.call("ping", json!({}))?;
    let after = s.rss_kib()?;
    Ok(after.saturating_sub(before) as f64 / conns.len() as f64)
}
