//! One short smoke run of each benchmark mode against a real in-process server, so the bench
//! keeps compiling and running; no timing is asserted (figures come from release runs, see
//! docs/BENCHMARKS.md).
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use kino_testkit::TestServer;

const BENCH: &str = env!("CARGO_BIN_EXE_kino-bench");

fn bench(args: &[&str]) -> String {
    let out = Command::new(BENCH).args(args).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "kino-bench {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// `--compare` pings Kino, the echo server (and redis when installed) and prints every ratio.
#[test]
fn compare_prints_a_ratio_per_shape() {
    let server = TestServer::start();
    let addr = server.addr.to_string();
    let out = bench(&[
        "--compare",
        "--addr",
        &addr,
        "--rounds",
        "1",
        "--seconds",
        "0.2",
        "--shapes",
        "2x1,2x4",
    ]);
    for shape in ["| 2x1 |", "| 2x4 |"] {
        let row = out
            .lines()
            .find(|l| l.starts_with(shape))
            .unwrap_or_else(|| panic!("{out}"));
        let ratio: f64 = row.split('|').nth(4).unwrap().trim().parse().unwrap();
        assert!(ratio > 0.0, "{row}");
    }
}

/// `--storm` opens its connections, has each answered, and reports the p99 connect time.
#[test]
fn storm_reports_connect_times() {
    let server = TestServer::start();
    let addr = server.addr.to_string();
    let out = bench(&["--storm", "48", "--addr", &addr, "--rounds", "1"]);
    assert!(
        out.lines().any(|l| l.starts_with("| (defaults) | 48 |")),
        "{out}"
    );
}

/// `echo-server` prints its address and answers a framed request with Kino's `ping` reply.
#[test]
fn echo_server_answers_like_ping() {
    let mut child = Command::new(BENCH)
        .args(["echo-server", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let mut c = kino_client::Client::connect(line.trim()).unwrap();
    let pong = c.call("ping", serde_json::json!({})).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(pong, "pong");
}

/// `--backends` runs every scenario on SQLite and on a throwaway PostgreSQL and prints a
/// non-zero rate for each on both. Skips loudly when PostgreSQL is not installed, except under
/// `KINO_REQUIRE_ENGINES` or `CI`.
#[test]
fn backends_runs_every_scenario_on_sqlite_and_postgres() {
    // kino-bench starts the kino-server next to itself; make sure it is there and current.
    build_server();
    let args = [
        "--backends",
        "--rounds",
        "1",
        "--seconds",
        "0.5",
        "--connections",
        "3",
        "--buy-movies",
        "4",
    ];
    let out = Command::new(BENCH).args(args).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() && stderr.contains("PostgreSQL is not installed") {
        assert!(
            std::env::var_os("KINO_REQUIRE_ENGINES").is_none() && std::env::var_os("CI").is_none(),
            "{stderr}"
        );
        let _ = writeln!(
            std::io::stderr(),
            "\n!!!!!!!! SKIPPING kino-bench --backends: {stderr} !!!!!!!!\n"
        );
        return;
    }
    assert!(
        out.status.success(),
        "kino-bench {args:?} failed:\n{stdout}\n{stderr}"
    );
    for name in [
        "ping",
        "movies.list",
        "notices.list",
        "auth.users",
        "movies.buy",
    ] {
        let row = out_row(&stdout, name);
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let sqlite: f64 = cells[2].parse().unwrap();
        let postgres: f64 = cells[3].parse().unwrap();
        assert!(sqlite > 0.0 && postgres > 0.0, "{row}");
    }
}

/// `--mixed` runs uploads, logins and transcriptions at once and reports the ping percentiles.
#[test]
fn mixed_reports_ping_percentiles_under_load() {
    build_server();
    let out = bench(&[
        "--mixed",
        "--rounds",
        "1",
        "--mixed-uploaders",
        "2",
        "--mixed-upload-mib",
        "8",
        "--mixed-logins",
        "3",
        "--mixed-transcribers",
        "1",
        "--server-arg=--argon2-memory-kib=1024",
        "--server-arg=--argon2-iterations=1",
    ]);
    let row = out
        .lines()
        .find(|l| l.starts_with("| 1 |"))
        .unwrap_or_else(|| panic!("{out}"));
    let cells: Vec<&str> = row.split('|').map(str::trim).collect();
    let samples: u64 = cells[2].parse().unwrap();
    assert!(samples > 0, "{row}");
}

/// The benches that start `kino-server` need the binary of this checkout.
fn build_server() {
    let built = Command::new(env!("CARGO"))
        .args([
            "build",
            "-q",
            "-p",
            "kino-server-bin",
            "--bin",
            "kino-server",
        ])
        .status()
        .unwrap();
    assert!(built.success(), "building kino-server failed");
}

fn out_row<'a>(out: &'a str, name: &str) -> &'a str {
    out.lines()
        .find(|l| l.starts_with(&format!("| {name} |")))
        .unwrap_or_else(|| panic!("no {name} row in:\n{out}"))
}

/// `--scripts` loads its script plugin into the real binary and measures each native command
/// and its script twin (a non-zero rate for each).
#[test]
fn scripts_measures_each_command_and_its_script_twin() {
    build_server();
    let out = bench(&[
        "--scripts",
        "--rounds",
        "1",
        "--seconds",
        "0.3",
        "--connections",
        "3",
    ]);
    for name in [
        "`whoami`",
        "`bench.whoami`",
        "`notices.list`",
        "`bench.notes`",
    ] {
        let row = out_row(&out, name);
        let rate: f64 = row.split('|').nth(3).unwrap().trim().parse().unwrap();
        assert!(rate > 0.0, "{row}");
    }
}

/// `--http` pings the HTTP gateway and the native port of one server and prints the ratio
/// (the movie stream is left to release runs: 256 MiB is slow in a debug build).
#[test]
fn http_prints_the_gateway_against_the_native_port() {
    build_server();
    let out = bench(&[
        "--http",
        "--http-no-movie",
        "--rounds",
        "1",
        "--seconds",
        "0.3",
        "--shapes",
        "2x1",
    ]);
    let row = out_row(&out, "ping 2x1 (req/s)");
    let cells: Vec<&str> = row.split('|').map(str::trim).collect();
    let (native, http): (f64, f64) = (cells[2].parse().unwrap(), cells[3].parse().unwrap());
    assert!(native > 0.0 && http > 0.0, "{row}");
}
