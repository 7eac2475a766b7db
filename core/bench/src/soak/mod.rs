//! `kino-bench soak`: honest clients run a mixed workload (register, login, list, buy, download,
//! notices, transcribe) for a while with attackers beside them (unread pipelines, slowloris,
//! silent sockets, login guessing). Reported: the honest clients' protocol errors and `internal`
//! replies (both must be zero), every other refusal they met by code, latency, the server's
//! peak RSS (`VmHWM`), and whether every purchase, download and transcription a client saw
//! succeed is in the database (read-only, after the run).
//!
//! Run: `cargo build --release --bins && target/release/kino-bench soak --clients 200 --secs 60`.
//!
//! Layout: [`honest`] (one honest client and its tally), [`attack`] (the attackers), [`check`]
//! (the database against the tallies).

mod attack;
mod check;
mod honest;
mod net;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use kino_client::Client;
use serde_json::json;

use crate::server::{Spawned, ADMIN};

/// Flags of the soak.
#[derive(Debug, clap::Args)]
pub struct SoakArgs {
    /// Honest clients, each on its own connection and account
    #[arg(long, default_value_t = 200)]
    pub clients: usize,
    /// Seconds of load
    #[arg(long, default_value_t = 60)]
    pub secs: u64,
    /// Attacker connections of each kind (pipelines, slowloris, silent, login guessers)
    #[arg(long, default_value_t = 2)]
    pub attackers: usize,
    /// Requests each unread pipeline sends (the 20,000 `help`s grew the server ~190 MiB)
    #[arg(long, default_value_t = 20_000)]
    pub pipeline_requests: usize,
}

/// Movies the admin uploads before the clients start.
pub struct Catalogue {
    /// Free movie ids.
    pub free: Vec<u64>,
    /// Charged movie ids.
    pub charged: Vec<u64>,
}

/// Bytes of each soak movie: small, so downloads measure the server and not the disk.
const MOVIE_LEN: usize = 32 * 1024;

fn setup(server: &Spawned) -> Result<Catalogue> {
    let mut admin = Client::connect(server.addr)?;
    admin.call("auth.login", json!({"name": ADMIN.0, "password": ADMIN.1}))?;
    let mut cat = Catalogue {
        free: Vec::new(),
        charged: Vec::new(),
    };
    for i in 0..6u8 {
        let body: Vec<u8> = (0..MOVIE_LEN)
            .map(|j| (j as u8).wrapping_mul(i + 3))
            .collect();
        let free = i % 2 == 0;
        let reply = admin.upload(
            "movies.upload",
            json!({"name": format!("soak-{i}.bin"), "free": free}),
            &mut body.as_slice(),
            body.len() as u64,
            &mut |_| {},
        )?;
        let id = reply["id"].as_u64().context("upload reply has no id")?;
        if free {
            cat.free.push(id);
        } else {
            cat.charged.push(id);
        }
    }
    admin.call(
        "notices.publish",
        json!({"title": "soak", "content": "the soak is on"}),
    )?;
    Ok(cat)
}

/// Runs the soak against the binary at `bin` and prints its report.
pub fn run(bin: &Path, args: &SoakArgs) -> Result<()> {
    // The server's default per-address cap: every client has an address of its own (net.rs).
    let server = Spawned::start_per_ip(bin, "64", &["--free-download-wait", "0"])?;
    let cat = Arc::new(setup(&server).context("setting up the catalogue")?);
    let names: Vec<String> = (0..args.clients).map(honest::name).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let attackers = attack::start(server.addr, args, &names, &stop);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.secs);
    let clients: Vec<_> = (0..args.clients)
        .map(|i| {
            let cat = Arc::clone(&cat);
            let addr = server.addr;
            std::thread::Builder::new()
                .name(format!("honest-{i}"))
                .stack_size(256 * 1024)
                .spawn(move || honest::run(addr, i, &cat, deadline))
        })
        .collect::<Result<_, _>>()
        .context("spawning honest clients")?;
    let mut peak_rss = 0;
    while Instant::now() < deadline {
        peak_rss = peak_rss.max(server.rss_kib().unwrap_or(0));
        std::thread::sleep(Duration::from_millis(250));
    }
    let mut total = honest::Tally::default();
    for c in clients {
        match c.join() {
            Ok(t) => total.merge(t),
            Err(_) => total.panicked += 1,
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let attack = attack::join(attackers);
    let hwm = server.hwm_kib().unwrap_or(0);
    let alive = Client::connect(server.addr)
        .and_then(|mut c| c.call("ping", json!({})))
        .is_ok();
    // Completion hooks (download records) run just after the last byte went out.
    std::thread::sleep(Duration::from_millis(500));
    let db = check::run(&server.data().join("kino.db"), &total)?;
    total.report(args, elapsed);
    attack.report();
    println!("server peak RSS (VmHWM): {:.1} MiB; sampled VmRSS peak {:.1} MiB; answers ping after: {alive}",
        hwm as f64 / 1024.0, peak_rss as f64 / 1024.0);
    db.report();
    let failed = total.protocol_errors + total.internal + total.panicked + db.missing();
    println!(
        "verdict: {}",
        if failed == 0 && alive { "PASS" } else { "FAIL" }
    );
    Ok(())
}
