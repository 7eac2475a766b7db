//! `--compare`: Kino, the echo server and (when installed) redis-server measured by the same
//! load generator, interleaved shape by shape and round by round, so that the load other
//! processes put on the machine falls on all of them alike; prints medians and ratios.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result};

use crate::load::{rate, Shape, Wire};

/// A child process killed on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `kino-bench echo-server` on a free port.
fn start_echo() -> Result<(Proc, SocketAddr)> {
    let exe = std::env::current_exe().context("locating this executable")?;
    let mut child = Command::new(exe)
        .args(["echo-server", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("starting the echo server")?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().context("stdout")?).read_line(&mut line)?;
    let addr = line
        .trim()
        .parse()
        .with_context(|| format!("echo said {line:?}"))?;
    Ok((Proc(child), addr))
}

fn on_path(bin: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(bin).is_file()))
}

/// Starts `redis-server` without persistence on a free port, when it is installed.
fn start_redis() -> Result<Option<(Proc, SocketAddr)>> {
    if !on_path("redis-server") {
        return Ok(None);
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no", "--maxclients", "10000"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting redis-server")?;
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    for _ in 0..100 {
        if std::net::TcpStream::connect(addr).is_ok() {
            return Ok(Some((Proc(child), addr)));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    anyhow::bail!("redis-server did not start listening on {addr}")
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// Runs the comparison; `kino_addr` measures an already running server instead of a fresh one.
pub fn run(
    bin: &Path,
    baseline: Option<&Path>,
    kino_addr: Option<SocketAddr>,
    shapes: &[Shape],
    rounds: usize,
    span: Duration,
) -> Result<()> {
    let spawned = match kino_addr {
        Some(_) => None,
        None => Some(crate::server::Spawned::start(bin, &[])?),
    };
    let kino = kino_addr
        .or(spawned.as_ref().map(|s| s.addr))
        .context("no Kino address")?;
    let (_echo, echo) = start_echo()?;
    let redis = start_redis()?;
    let mut targets = vec![("kino", kino, Wire::Kino), ("echo", echo, Wire::Kino)];
    let base = match baseline {
        Some(b) => Some(crate::server::Spawned::start(b, &[])?),
        None => None,
    };
    if let Some((_, addr)) = &redis {
        targets.push(("redis", *addr, Wire::Resp));
    } else {
        eprintln!("redis-server is not on the PATH: comparing with the echo server only");
    }
    if let Some(b) = &base {
        targets.push(("baseline", b.addr, Wire::Kino));
    }
    // samples[shape][target] = one rate per round
    let mut samples = vec![vec![Vec::new(); targets.len()]; shapes.len()];
    for _ in 0..rounds.max(1) {
        for (si, shape) in shapes.iter().enumerate() {
            for (ti, (name, addr, wire)) in targets.iter().enumerate() {
                let r = rate(*addr, *wire, *shape, span)
                    .with_context(|| format!("{name} at {shape}"))?;
                samples[si][ti].push(r);
            }
        }
    }
    let with_redis = redis.is_some();
    let base_col = targets.len() - 1;
    print!("| shape | kino req/s | echo req/s | kino/echo |");
    if with_redis {
        print!(" redis req/s | kino/redis |");
    }
    if base.is_some() {
        print!(" baseline req/s | baseline/echo | kino/baseline |");
    }
    println!();
    println!(
        "| --- | --- | --- | --- |{}{}",
        if with_redis { " --- | --- |" } else { "" },
        if base.is_some() {
            " --- | --- | --- |"
        } else {
            ""
        }
    );
    for (si, shape) in shapes.iter().enumerate() {
        let meds: Vec<f64> = samples[si].iter_mut().map(|v| median(v)).collect();
        print!(
            "| {shape} | {:.0} | {:.0} | {:.2} |",
            meds[0],
            meds[1],
            meds[0] / meds[1]
        );
        if with_redis {
            print!(" {:.0} | {:.2} |", meds[2], meds[0] / meds[2]);
        }
        if base.is_some() {
            let b = meds[base_col];
            print!(" {b:.0} | {:.2} | {:.2} |", b / meds[1], meds[0] / b);
        }
        println!();
    }
    Ok(())
}
