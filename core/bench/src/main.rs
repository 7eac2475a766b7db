//! `kino-bench`: starts the real `kino-server` binary on a temporary data directory and measures
//! it over loopback sockets. Every figure is the median of several rounds taken in the same run,
//! and comparisons are ratios within that run, because these machines are noisy.
//!
//! Run: `cargo build --release --bins && target/release/kino-bench [--rounds 5]`; the soak
//! (honest clients beside attackers): `target/release/kino-bench soak --clients 200 --secs 60`.

mod scenarios;
mod server;
mod soak;
mod transfer;

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Parser;

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
    #[command(subcommand)]
    mode: Option<Mode>,
}

#[derive(Debug, clap::Subcommand)]
enum Mode {
    /// Honest clients with attackers beside them; reports errors, peak RSS and a database check
    Soak(soak::SoakArgs),
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let bin = match cli.server {
        Some(p) => p,
        None => std::env::current_exe()
            .context("locating this executable")?
            .with_file_name("kino-server"),
    };
    anyhow::ensure!(
        bin.exists(),
        "no server binary at {} (build it with `cargo build --release --bins`)",
        bin.display()
    );
    if let Some(Mode::Soak(args)) = &cli.mode {
        return soak::run(&bin, args);
    }
    let only: Option<Vec<String>> = cli.only.map(|s| s.split(',').map(str::to_owned).collect());
    println!("| scenario | median | unit | rounds |");
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
            let server = server::Spawned::start(&bin, s.server_args)?;
            values.push((s.run)(&server).with_context(|| format!("scenario {}", s.name))?);
        }
        values.sort_by(f64::total_cmp);
        let median = values[values.len() / 2];
        println!(
            "| {} | {:.1} | {} | {} |",
            s.name,
            median,
            s.unit,
            values.len()
        );
    }
    Ok(())
}
