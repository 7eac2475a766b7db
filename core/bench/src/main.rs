//! `kino-bench`: starts the real `kino-server` binary on a temporary data directory and measures
//! it over loopback sockets. Every figure is the median of several rounds taken in the same run,
//! and comparisons are ratios within that run, because these machines are noisy.
//!
//! Run: `cargo build --release --bins && target/release/kino-bench [--rounds 5]`;
//! `kino-bench --compare` for Kino against the echo server and redis, `kino-bench --storm` for
//! the connection storm, `kino-bench echo-server` for the reference server alone,
//! `kino-bench --backends` for the same commands on SQLite and on a throwaway PostgreSQL,
//! `kino-bench --mixed` for the ping p99 under uploads, logins and transcriptions at once.
//! `kino-bench --scripts` for script plugin commands against the same commands in Rust.
//! `kino-bench --http` for the HTTP gateway against the native port (pings, a whole movie).
//! The soak (honest clients beside attackers): `target/release/kino-bench soak --clients 200 --secs 60`.

mod backends;
mod compare;
mod echo;
mod hammer;
mod load;
mod mixed;
mod pg;
mod scenarios;
mod scripts;
mod server;
mod soak;
mod storm;
mod transfer;
mod web;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use crate::load::Shape;

/// Load benchmarks for kino-server.
#[derive(Debug, Parser)]
#[command(name = "kino-bench", version)]
struct Cli {
    /// The kino-server binary (default: next to this executable)
    #[arg(long)]
    server: Option<PathBuf>,
    /// Rounds per scenario; the median is reported
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Only these scenarios (comma-separated names; default: all)
    #[arg(long)]
    only: Option<String>,
    /// Ping Kino, the echo server and redis-server (when on the PATH) with one load generator,
    /// interleaved, and print each ratio
    #[arg(long)]
    compare: bool,
    /// Another kino-server binary to measure in the same --compare run (e.g. the previous build)
    #[arg(long)]
    baseline: Option<PathBuf>,
    /// Shapes for --compare, CONNECTIONSxDEPTH, comma-separated
    #[arg(long, default_value = "50x1,50x16,1x1,1000x1", value_delimiter = ',')]
    shapes: Vec<Shape>,
    /// Seconds each --compare measurement counts (after a fifth of that to warm up)
    #[arg(long, default_value_t = 1.0)]
    seconds: f64,
    /// Measure the Kino server already running here instead of starting one (--compare, --storm)
    #[arg(long)]
    addr: Option<SocketAddr>,
    /// Open this many connections at once and report the time to establish them all and the
    /// p99 connect time (0: skip)
    #[arg(long, default_value_t = 0)]
    storm: usize,
    /// Extra flags for every server started (the scenarios, --storm, --backends), e.g.
    /// `--listen-backlog=128`, `--database=postgres://...`, or `--blobs=s3://kino?endpoint=…` to
    /// measure the S3 blob store (credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)
    #[arg(long, allow_hyphen_values = true)]
    server_arg: Vec<String>,
    /// Run movies.list, notices.list, auth.users, movies.buy and ping on a server on SQLite and
    /// one on a throwaway PostgreSQL (initdb + pg_ctl), interleaved, and print rates, ratios and
    /// CPU per request
    #[arg(long)]
    backends: bool,
    /// A trivial script command (and a one-query one) against the same commands in Rust, at
    /// --connections connections: rates, ratios and CPU per request
    #[arg(long)]
    scripts: bool,
    /// Connections for --backends and --scripts, one request in flight each
    #[arg(long, default_value_t = 50)]
    connections: usize,
    /// Charged movies each --backends buyer may buy (its scenario ends early if they run out)
    #[arg(long, default_value_t = 200)]
    buy_movies: usize,
    /// Ping p99 under mixed load: uploads, logins in a loop and transcriptions at once, with
    /// pings on a connection of their own (see --mixed-*)
    #[arg(long)]
    mixed: bool,
    /// --mixed: clients uploading one movie each
    #[arg(long, default_value_t = 4)]
    mixed_uploaders: usize,
    /// --mixed: MiB each uploader sends
    #[arg(long, default_value_t = 1024)]
    mixed_upload_mib: u64,
    /// --mixed: clients logging in in a loop
    #[arg(long, default_value_t = 50)]
    mixed_logins: usize,
    /// --mixed: clients transcribing recordings in a loop
    #[arg(long, default_value_t = 2)]
    mixed_transcribers: usize,
    /// --mixed: nice levels the load-generating client threads (uploads, logins,
    /// transcriptions) run below the pinger, as if they were on other machines (0: the same)
    #[arg(long, default_value_t = 0)]
    mixed_client_nice: u32,
    /// Ping the HTTP gateway (GET /api/ping) and the native port with one load generator at
    /// each --shapes, then stream a 256 MiB movie both ways (GET /movies/<id> against
    /// movies.download), and print each ratio
    #[arg(long)]
    http: bool,
    /// With --http: skip the movie stream (pings only)
    #[arg(long)]
    http_no_movie: bool,
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// The reference: a bare mio server of Kino's framing answering each frame with Kino's
    /// fixed `ping` reply, without parsing; prints its address first
    EchoServer {
        /// Where to listen
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
    },
    /// Honest clients with attackers beside them; reports errors, peak RSS and a database check
    Soak(soak::SoakArgs),
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    if let Some(Cmd::EchoServer { listen }) = &cli.command {
        let listen = *listen;
        return echo::serve(listen).context("echo server");
    }
    let bin = match cli.server.clone() {
        Some(p) => p,
        None => std::env::current_exe()
            .context("locating this executable")?
            .with_file_name("kino-server"),
    };
    anyhow::ensure!(
        cli.addr.is_some() || bin.exists(),
        "no server binary at {} (build it with `cargo build --release --bins`)",
        bin.display()
    );
    if let Some(Cmd::Soak(args)) = &cli.command {
        return soak::run(&bin, args);
    }
    if cli.compare {
        let span = Duration::from_secs_f64(cli.seconds.max(0.05));
        return compare::run(
            &bin,
            cli.baseline.as_deref(),
            cli.addr,
            &cli.shapes,
            cli.rounds,
            span,
        );
    }
    if cli.http {
        let span = Duration::from_secs_f64(cli.seconds.max(0.05));
        return web::run(&bin, &cli.shapes, cli.rounds, span, !cli.http_no_movie);
    }
    if cli.backends {
        let opts = backends::Opts {
            connections: cli.connections.max(1),
            rounds: cli.rounds,
            span: Duration::from_secs_f64(cli.seconds.max(0.05)),
            extra: cli.server_arg.clone(),
            buy_movies: cli.buy_movies,
        };
        return backends::run(&bin, &opts);
    }
    if cli.scripts {
        let span = Duration::from_secs_f64(cli.seconds.max(0.05));
        return scripts::run(
            &bin,
            cli.connections.max(1),
            cli.rounds,
            span,
            &cli.server_arg,
        );
    }
    if cli.storm > 0 {
        return run_storm(&bin, &cli);
    }
    if cli.mixed {
        return mixed::run(
            &bin,
            &mixed::Opts {
                uploaders: cli.mixed_uploaders,
                upload_mib: cli.mixed_upload_mib,
                logins: cli.mixed_logins,
                transcribers: cli.mixed_transcribers,
                client_nice: cli.mixed_client_nice,
                rounds: cli.rounds,
                extra: cli.server_arg.clone(),
            },
        );
    }
    let only: Option<Vec<String>> = cli
        .only
        .clone()
        .map(|s| s.split(',').map(str::to_owned).collect());
    let extra: Vec<&str> = cli.server_arg.iter().map(String::as_str).collect();
    println!("| scenario | median | unit | rounds (each) |");
    println!("| --- | --- | --- | --- |");
    for s in scenarios::ALL {
        if only
            .as_ref()
            .is_some_and(|o| !o.iter().any(|n| n == s.name))
        {
            continue;
        }
        let mut values = Vec::with_capacity(cli.rounds);
        for _ in 0..cli.rounds.max(1) {
            let args: Vec<&str> = s.server_args.iter().copied().chain(extra.clone()).collect();
            let server = server::Spawned::start(&bin, &args)?;
            values.push((s.run)(&server).with_context(|| format!("scenario {}", s.name))?);
        }
        values.sort_by(f64::total_cmp);
        let median = values[values.len() / 2];
        // Ratios near their targets (0.8x) need the second decimal; rates do not mind it.
        let shown = values.iter().map(|v| format!("{v:.2}")).collect::<Vec<_>>();
        println!(
            "| {} | {:.2} | {} | {} ({}) |",
            s.name,
            median,
            s.unit,
            values.len(),
            shown.join(", ")
        );
    }
    Ok(())
}

fn run_storm(bin: &std::path::Path, cli: &Cli) -> Result<()> {
    println!("| server flags | connections | all answered in | p99 connect | max connect | stalled (> 0.9 s) |");
    println!("| --- | --- | --- | --- | --- | --- |");
    let extra: Vec<&str> = cli.server_arg.iter().map(String::as_str).collect();
    for _ in 0..cli.rounds.max(1) {
        let spawned = match cli.addr {
            Some(_) => None,
            None => Some(server::Spawned::start(bin, &extra)?),
        };
        let addr = cli
            .addr
            .or(spawned.as_ref().map(|s| s.addr))
            .context("no address")?;
        let s = storm::storm(addr, cli.storm, 16)?;
        println!(
            "| {} | {} | {:.0} ms | {:.1} ms | {:.1} ms | {} |",
            if extra.is_empty() {
                "(defaults)".to_owned()
            } else {
                extra.join(" ")
            },
            cli.storm,
            s.total.as_secs_f64() * 1e3,
            s.p99_connect.as_secs_f64() * 1e3,
            s.max_connect.as_secs_f64() * 1e3,
            s.stalled
        );
    }
    Ok(())
}
