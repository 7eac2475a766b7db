//! Transfer scenarios: upload and download throughput through `movies.upload` and
//! `movies.download`, and the server's memory while a client reads a large download slowly.

use std::io::{self, Read};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use kino_client::Client;
use md5::{Digest, Md5};
use serde_json::json;

use crate::server::{Spawned, ADMIN};

/// Bytes of the file the transfer scenarios move.
const FILE_LEN: u64 = 256 * 1024 * 1024;

/// A deterministic byte stream of `len` bytes that costs almost nothing to produce.
struct Pattern {
    left: u64,
    state: u64,
}

impl Read for Pattern {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.left as usize);
        for chunk in buf[..n].chunks_mut(8) {
            self.state = self
                .state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let bytes = self.state.to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
        self.left -= n as u64;
        Ok(n)
    }
}

fn pattern_md5() -> Result<String> {
    let mut p = Pattern {
        left: FILE_LEN,
        state: 7,
    };
    let mut h = Md5::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = p.read(&mut buf)?;
        if n == 0 {
            return Ok(hex::encode(h.finalize()));
        }
        h.update(&buf[..n]);
    }
}

pub(crate) fn admin(s: &Spawned) -> Result<Client> {
    let mut c = Client::connect(s.addr)?;
    c.call("auth.login", json!({"name": ADMIN.0, "password": ADMIN.1}))?;
    Ok(c)
}

/// Uploads the pattern file as a free movie; returns its id and the upload's MB/s.
pub(crate) fn upload(s: &Spawned) -> Result<(u64, f64)> {
    upload_on(&mut admin(s)?)
}

/// Uploads the pattern file on a logged-in admin connection.
fn upload_on(c: &mut Client) -> Result<(u64, f64)> {
    let md5 = pattern_md5()?;
    let started = Instant::now();
    let reply = c.upload(
        "movies.upload",
        json!({"name": "bench.bin", "md5": md5, "free": true}),
        &mut Pattern {
            left: FILE_LEN,
            state: 7,
        },
        FILE_LEN,
        &mut |_| {},
    )?;
    let secs = started.elapsed().as_secs_f64();
    let id = reply["id"].as_u64().context("upload reply has no id")?;
    Ok((id, FILE_LEN as f64 / secs / 1e6))
}

/// MB/s of one 256 MiB upload (MD5 and fsync included).
pub fn upload_throughput(s: &Spawned) -> Result<f64> {
    Ok(upload(s)?.1)
}

/// Peak growth of the server's resident memory (MiB) during one 256 MiB upload, sampled every
/// 5 ms: streaming (to a file, or as S3 multipart parts) keeps it near one part, whatever the
/// file's size.
pub fn upload_rss(s: &Spawned) -> Result<f64> {
    // Logged in first: the login's argon2 hash (19 MiB) is not the upload's.
    let mut c = admin(s)?;
    let before = s.rss_kib()?;
    let status = format!("/proc/{}/status", s.child.id());
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop = std::sync::Arc::clone(&done);
    let sampler = std::thread::spawn(move || {
        let mut peak = 0u64;
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            let rss = std::fs::read_to_string(&status).ok().and_then(|t| {
                t.lines()
                    .find_map(|l| l.strip_prefix("VmRSS:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            });
            peak = peak.max(rss.unwrap_or(0));
            std::thread::sleep(Duration::from_millis(5));
        }
        peak
    });
    let result = upload_on(&mut c);
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let peak = sampler.join().unwrap_or(0);
    result?;
    Ok(peak.saturating_sub(before) as f64 / 1024.0)
}

/// MB/s of one 256 MiB download.
pub fn download_throughput(s: &Spawned) -> Result<f64> {
    let (id, _) = upload(s)?;
    let mut c = admin(s)?;
    let started = Instant::now();
    c.send(&json!({"type": "movies.download", "movie_id": id}))?;
    let reply = kino_client::into_data(c.recv()?)?;
    let n = reply["file_size"].as_u64().context("no file_size")?;
    c.recv_payload(n, &mut io::sink(), &mut |_| {})?;
    Ok(n as f64 / started.elapsed().as_secs_f64() / 1e6)
}

/// Growth of the server's resident memory (MiB) while a client reads a 256 MiB download at
/// about 20 MB/s for two seconds: backpressure should keep it near the 1 MiB pipe.
pub fn slow_reader_rss(s: &Spawned) -> Result<f64> {
    let (id, _) = upload(s)?;
    let mut c = admin(s)?;
    let before = s.rss_kib()?;
    c.send(&json!({"type": "movies.download", "movie_id": id}))?;
    let reply = kino_client::into_data(c.recv()?)?;
    let mut left = reply["file_size"].as_u64().context("no file_size")?;
    let mut peak = before;
    let started = Instant::now();
    // 200 KiB every 10 ms: about 20 MB/s, far below what the server could send.
    let step = 200 * 1024;
    while started.elapsed() < Duration::from_secs(2) && left > 0 {
        let n = step.min(left);
        c.recv_payload(n, &mut io::sink(), &mut |_| {})?;
        left -= n;
        std::thread::sleep(Duration::from_millis(10));
        peak = peak.max(s.rss_kib()?);
    }
    Ok(peak.saturating_sub(before) as f64 / 1024.0)
}
