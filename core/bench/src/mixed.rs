//! `--mixed`: the loop's latency under mixed load. While `--mixed-uploaders` clients each upload
//! a `--mixed-upload-mib` MiB movie, `--mixed-logins` clients log in over and over (argon2 on the
//! pool, at the server's own settings) and `--mixed-transcribers` clients transcribe recordings
//! (CPU on threads of their own), one more connection sends a `ping`, waits for the answer and
//! sleeps 1 ms, until the uploads end. Reports the ping round trip's percentiles and what the
//! others got done. `--mixed-client-nice` runs the load-generating client threads below the
//! pinger's priority, for a machine where the clients would otherwise take the cores the
//! server's loop and the pinger need.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use kino_client::Client;
use serde_json::json;

use crate::server::{Spawned, ADMIN};
use crate::transfer::Pattern;

/// What `--mixed` runs.
pub struct Opts {
    /// Clients uploading, one movie each.
    pub uploaders: usize,
    /// MiB each uploads.
    pub upload_mib: u64,
    /// Clients logging in in a loop.
    pub logins: usize,
    /// Clients transcribing in a loop.
    pub transcribers: usize,
    /// Nice levels the load-generating client threads run below the pinger.
    pub client_nice: u32,
    /// Rounds (a fresh server each).
    pub rounds: usize,
    /// Extra server flags.
    pub extra: Vec<String>,
}

#[derive(Default)]
struct Counts {
    logins: AtomicU64,
    login_errors: AtomicU64,
    transcriptions: AtomicU64,
    transcribe_errors: AtomicU64,
}

/// Runs the scenario `rounds` times and prints one row per round.
pub fn run(bin: &Path, opts: &Opts) -> Result<()> {
    println!(
        "| round | ping samples | p50 ms | p99 ms | p99.9 ms | max ms | upload MB/s (all) | logins/s | transcriptions | errors | load avg start | load avg end |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for round in 1..=opts.rounds.max(1) {
        let extra: Vec<&str> = opts.extra.iter().map(String::as_str).collect();
        let server = Spawned::start(bin, &extra)?;
        one_round(&server, opts, round)?;
    }
    Ok(())
}

fn register(admin: &mut Client, name: &str, role: &str) -> Result<()> {
    admin.call(
        "auth.register",
        json!({"name": name, "password": format!("{name}-password"), "role": role}),
    )?;
    Ok(())
}

fn logged_in(addr: std::net::SocketAddr, name: &str) -> Result<Client> {
    let mut c = Client::connect(addr)?;
    c.call(
        "auth.login",
        json!({"name": name, "password": format!("{name}-password")}),
    )?;
    Ok(c)
}

/// The 1-minute load average, as `/proc/loadavg` says.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_default()
}

/// Lowers the calling client thread's priority by `steps` (Linux keeps one per thread).
fn lower_this_thread(steps: u32) {
    if steps == 0 {
        return;
    }
    let tid = rustix::thread::gettid();
    if let Ok(now) = rustix::process::getpriority_process(Some(tid)) {
        let target = (now + steps.min(19) as i32).min(19);
        let _ = rustix::process::setpriority_process(Some(tid), target);
    }
}

fn one_round(s: &Spawned, opts: &Opts, round: usize) -> Result<()> {
    let addr = s.addr;
    let load_start = load_average();
    let nice = opts.client_nice;
    let mut admin = Client::connect(addr)?;
    admin.call("auth.login", json!({"name": ADMIN.0, "password": ADMIN.1}))?;
    for i in 0..opts.logins {
        register(&mut admin, &format!("login{i}"), "user")?;
    }
    for i in 0..opts.transcribers {
        register(&mut admin, &format!("hum{i}"), "user")?;
    }
    let len = opts.upload_mib << 20;
    // Hashed before anything starts, so the client's MD5 is not in the window.
    let sums: Vec<String> = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..opts.uploaders)
            .map(|i| sc.spawn(move || Pattern::new(len, 11 + i as u64).md5()))
            .collect();
        hs.into_iter()
            .map(|h| h.join().map_err(|_| anyhow::anyhow!("md5 thread"))?)
            .collect::<Result<Vec<_>>>()
    })?;
    let stop = Arc::new(AtomicBool::new(false));
    let counts = Arc::new(Counts::default());
    let mut background = Vec::new();
    for i in 0..opts.logins {
        let (stop, counts) = (Arc::clone(&stop), Arc::clone(&counts));
        background.push(std::thread::spawn(move || -> Result<()> {
            lower_this_thread(nice);
            let name = format!("login{i}");
            let mut c = Client::connect(addr)?;
            let login = json!({"name": name, "password": format!("{name}-password")});
            while !stop.load(Ordering::Relaxed) {
                match c.call("auth.login", login.clone()) {
                    Ok(_) => counts.logins.fetch_add(1, Ordering::Relaxed),
                    Err(_) => counts.login_errors.fetch_add(1, Ordering::Relaxed),
                };
            }
            Ok(())
        }));
    }
    for i in 0..opts.transcribers {
        let (stop, counts) = (Arc::clone(&stop), Arc::clone(&counts));
        background.push(std::thread::spawn(move || -> Result<()> {
            lower_this_thread(nice);
            let mut c = logged_in(addr, &format!("hum{i}"))?;
            let mut n = 0u32;
            while !stop.load(Ordering::Relaxed) {
                // Other audio every time: a repeat would be answered from the stored result.
                let wav = melody_wav(i as u32 * 1000 + n);
                n += 1;
                let r = c.upload(
                    "melody.transcribe",
                    json!({"title": format!("bench {i}-{n}")}),
                    &mut &wav[..],
                    wav.len() as u64,
                    &mut |_| {},
                );
                match r {
                    Ok(_) => counts.transcriptions.fetch_add(1, Ordering::Relaxed),
                    Err(_) => counts.transcribe_errors.fetch_add(1, Ordering::Relaxed),
                };
            }
            Ok(())
        }));
    }
    // Let the logins and transcriptions get going first.
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    let logins_before = counts.logins.load(Ordering::Relaxed);
    let uploads: Vec<_> = sums
        .into_iter()
        .enumerate()
        .map(|(i, md5)| {
            std::thread::spawn(move || -> Result<u64> {
                lower_this_thread(nice);
                let mut c = Client::connect(addr)?;
                c.call("auth.login", json!({"name": ADMIN.0, "password": ADMIN.1}))?;
                c.upload(
                    "movies.upload",
                    json!({"name": format!("mixed-{i}.bin"), "md5": md5, "free": true}),
                    &mut Pattern::new(len, 11 + i as u64),
                    len,
                    &mut |_| {},
                )?;
                Ok(len)
            })
        })
        .collect();
    let mut pinger = Client::connect(addr)?;
    let mut rtts: Vec<Duration> = Vec::new();
    while uploads.iter().any(|u| !u.is_finished()) {
        let t0 = Instant::now();
        pinger.call("ping", json!({}))?;
        rtts.push(t0.elapsed());
        std::thread::sleep(Duration::from_millis(1));
    }
    let secs = started.elapsed().as_secs_f64();
    let logins = counts.logins.load(Ordering::Relaxed) - logins_before;
    let mut bytes = 0u64;
    for u in uploads {
        bytes += u.join().map_err(|_| anyhow::anyhow!("upload thread"))??;
    }
    stop.store(true, Ordering::Relaxed);
    for b in background {
        b.join().map_err(|_| anyhow::anyhow!("client thread"))??;
    }
    rtts.sort_unstable();
    let pct = |p: f64| -> f64 {
        let i = ((rtts.len() as f64 * p) as usize).min(rtts.len().saturating_sub(1));
        rtts.get(i).map_or(0.0, |d| d.as_secs_f64() * 1e3)
    };
    let errors = counts.login_errors.load(Ordering::Relaxed)
        + counts.transcribe_errors.load(Ordering::Relaxed);
    let load = load_average();
    println!(
        "| {round} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.0} | {:.0} | {} | {errors} | {load_start} | {load} |",
        rtts.len(),
        pct(0.5),
        pct(0.99),
        pct(0.999),
        rtts.last().map_or(0.0, |d| d.as_secs_f64() * 1e3),
        bytes as f64 / secs / 1e6,
        logins as f64 / secs,
        counts.transcriptions.load(Ordering::Relaxed),
    );
    Ok(())
}

/// A 4-second 16 kHz mono WAV of eight half-second tones (a hummed phrase), shifted by `salt`
/// so each one is new to the server.
fn melody_wav(salt: u32) -> Vec<u8> {
    const RATE: u32 = 16_000;
    let notes = [220.0, 247.0, 262.0, 294.0, 330.0, 294.0, 262.0, 247.0];
    let mut data = Vec::with_capacity(RATE as usize * 8);
    for (k, f) in notes.iter().enumerate() {
        let f = f * (1.0 + f64::from(salt % 97) * 1e-4);
        for n in 0..RATE / 2 {
            let t = f64::from(n) / f64::from(RATE);
            let v = (t * f * std::f64::consts::TAU).sin() * 8000.0 * (1.0 + k as f64 * 0.01);
            data.extend_from_slice(&(v as i16).to_le_bytes());
        }
    }
    let mut out = Vec::with_capacity(44 + data.len());
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&RATE.to_le_bytes());
    out.extend_from_slice(&(RATE * 2).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(&data);
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_wav_is_well_formed() {
        let w = super::melody_wav(3);
        assert_eq!(&w[..4], b"RIFF");
        assert_eq!(w.len(), 44 + 16_000 * 4 * 2);
    }
}
