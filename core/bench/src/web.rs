//! `kino-bench --http`: the HTTP gateway beside the native port of the same server in one
//! run: pings (`GET /api/ping` on keep-alive connections against `{"type":"ping"}` frames,
//! one load generator for both) and a whole-movie stream (`GET /movies/<id>` against
//! `movies.download`), rounds interleaved, medians and ratios printed.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::json;

use crate::load::{self, Shape, Wire};
use crate::server::{Spawned, ADMIN};
use crate::transfer;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// Runs both comparisons and prints one table.
pub fn run(bin: &Path, shapes: &[Shape], rounds: usize, span: Duration, movie: bool) -> Result<()> {
    let s = Spawned::start(
        bin,
        &[
            "--http-listen=127.0.0.1:0",
            "--free-download-wait=0",
            "--http-max-connections=20000",
            "--http-max-connections-per-ip=20000",
        ],
    )?;
    let web = s.web.context("the server printed no `web` line")?;
    println!("| measure | native | http | http / native |");
    println!("| --- | --- | --- | --- |");
    for shape in shapes {
        let (mut native, mut http) = (Vec::new(), Vec::new());
        for _ in 0..rounds.max(1) {
            native.push(load::rate(s.addr, Wire::Kino, *shape, span)?);
            http.push(load::rate(web, Wire::Http, *shape, span)?);
        }
        let (n, h) = (median(native), median(http));
        println!(
            "| ping {}x{} (req/s) | {n:.0} | {h:.0} | {:.2} |",
            shape.connections,
            shape.depth,
            h / n
        );
    }
    if !movie {
        return Ok(());
    }
    let (id, _) = transfer::upload(&s)?;
    let mut admin = transfer::admin(&s)?;
    let login = admin.call("auth.login", json!({"name": ADMIN.0, "password": ADMIN.1}))?;
    let token = login["session"].as_str().context("no session")?.to_string();
    let (mut native, mut http) = (Vec::new(), Vec::new());
    for _ in 0..rounds.max(1) {
        let started = Instant::now();
        admin.send(&json!({"type": "movies.download", "movie_id": id}))?;
        let reply = kino_client::into_data(admin.recv()?)?;
        let n = reply["file_size"].as_u64().context("no file_size")?;
        admin.recv_payload(n, &mut io::sink(), &mut |_| {})?;
        native.push(n as f64 / started.elapsed().as_secs_f64() / 1e6);
        http.push(http_download(web, id, &token)?);
    }
    let (n, h) = (median(native), median(http));
    println!(
        "| whole movie, 256 MiB (MB/s) | {n:.0} | {h:.0} | {:.2} |",
        h / n
    );
    Ok(())
}

/// MB/s of one `GET /movies/<id>`.
fn http_download(web: SocketAddr, id: u64, token: &str) -> Result<f64> {
    let started = Instant::now();
    let mut s = TcpStream::connect(web)?;
    write!(
        s,
        "GET /movies/{id} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n\
         Connection: close\r\n\r\n"
    )?;
    let mut r = BufReader::with_capacity(256 * 1024, s);
    let mut len = None;
    let mut status = String::new();
    r.read_line(&mut status)?;
    anyhow::ensure!(status.contains(" 200 "), "GET /movies/{id}: {status}");
    loop {
        let mut line = String::new();
        r.read_line(&mut line)?;
        let line = line.trim_end().to_ascii_lowercase();
        if line.is_empty() {
            break;
        }
        if let Some(v) = line.strip_prefix("content-length:") {
            len = v.trim().parse::<u64>().ok();
        }
    }
    let len = len.context("no Content-Length")?;
    let got = io::copy(&mut r.take(len), &mut io::sink())?;
    anyhow::ensure!(got == len, "short body: {got} of {len}");
    Ok(len as f64 / started.elapsed().as_secs_f64() / 1e6)
}
