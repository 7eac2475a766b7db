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
pub(crate) struct Pattern {
    left: u64,
    state: u64,
}

impl Pattern {
    /// `len` bytes; another `seed` gives other bytes (another MD5).
    pub(crate) fn new(len: u64, seed: u64) -> Self {
        Pattern {
            left: len,
            state: seed,
        }
    }

    /// The MD5 (hex) of the stream, by reading it.
    pub(crate) fn md5(mut self) -> Result<String> {
        let mut h = Md5::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = self.read(&mut buf)?;
            if n == 0 {
                return Ok(hex::encode(h.finalize()));
            }
            h.update(&buf[..n]);
        }
    }
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
    Pattern::new(FILE_LEN, 7).md5()
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
    upload_len(c, FILE_LEN, pattern_md5()?)
}

/// Uploads `len` bytes of the pattern (whose MD5 is `md5`); returns its id and MB/s.
fn upload_len(c: &mut Client, len: u64, md5: String) -> Result<(u64, f64)> {
    let started = Instant::now();
    let reply = c.upload(
        "movies.upload",
        json!({"name": "bench.bin", "md5": md5, "free": true}),
        &mut Pattern::new(len, 7),
        len,
        &mut |_| {},
    )?;
    let secs = started.elapsed().as_secs_f64();
    let id = reply["id"].as_u64().context("upload reply has no id")?;
    Ok((id, len as f64 / secs / 1e6))
}

/// Bytes of the file the 1 GiB scenarios move.
const GIB: u64 = 1 << 30;

/// MB/s of the md-5 crate on one core over 1 GiB in memory (the bytes made beforehand).
fn md5_rate() -> Result<f64> {
    let mut buf = vec![0u8; 64 << 20];
    Pattern::new(buf.len() as u64, 7).read_exact(&mut buf)?;
    let started = Instant::now();
    let mut h = Md5::new();
    for _ in 0..GIB / buf.len() as u64 {
        h.update(&buf);
    }
    std::hint::black_box(h.finalize());
    Ok(GIB as f64 / started.elapsed().as_secs_f64() / 1e6)
}

/// One 1 GiB upload's MB/s over the md-5 crate's single-core MB/s, measured right after it
/// (both printed to stderr).
pub fn upload_gib_vs_md5(s: &Spawned) -> Result<f64> {
    let md5 = Pattern::new(GIB, 7).md5()?;
    let (_, up) = upload_len(&mut admin(s)?, GIB, md5)?;
    let reference = md5_rate()?;
    eprintln!("upload_1gib: {up:.0} MB/s; md-5 crate, one core: {reference:.0} MB/s");
    Ok(up / reference)
}

/// A 1 GiB download's MB/s over one loopback iperf3 stream's, measured right after it; iperf3
/// must be on the PATH. The figure is the second download of the file: the first one hashes it
/// (the server checks every blob against its MD5 once, then remembers it unchanged), and is
/// printed to stderr beside it, so both costs stay visible.
pub fn download_gib_vs_iperf3(s: &Spawned) -> Result<f64> {
    let md5 = Pattern::new(GIB, 7).md5()?;
    let (id, _) = upload_len(&mut admin(s)?, GIB, md5)?;
    // A file changed within the timestamps' grain of its check is not remembered (50 ms).
    std::thread::sleep(Duration::from_millis(100));
    let first = download_rate(s, id)?;
    let down = download_rate(s, id)?;
    let info = admin(s)?.call("server.info", json!({}))?;
    let by_kernel = info["bodies_sendfile"].as_u64().unwrap_or(0);
    let reference = iperf3_rate()?;
    eprintln!(
        "download_1gib: {down:.0} MB/s (first download, hashed: {first:.0} MB/s; bodies sent \
         by sendfile: {by_kernel}); iperf3, one loopback stream: {reference:.0} MB/s"
    );
    Ok(down / reference)
}

/// MB/s of one iperf3 TCP stream over loopback for 3 s.
fn iperf3_rate() -> Result<f64> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut server = std::process::Command::new("iperf3")
        .args(["-s", "-1", "-p", &port.to_string()])
        .stdout(std::process::Stdio::null())
        .spawn()
        .context("iperf3 (apt-get install iperf3)")?;
    std::thread::sleep(Duration::from_millis(300));
    let out = std::process::Command::new("iperf3")
        .args(["-c", "127.0.0.1", "-p", &port.to_string(), "-t", "3", "-J"])
        .output()?;
    let _ = server.wait();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let bps = report["end"]["sum_received"]["bits_per_second"]
        .as_f64()
        .context("no rate in iperf3's report")?;
    Ok(bps / 8.0 / 1e6)
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
    download_rate(s, id)
}

/// MB/s of one whole `movies.download` of movie `id`, reply included, by an admin.
fn download_rate(s: &Spawned, id: u64) -> Result<f64> {
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
