//! One short smoke run of each benchmark mode against a real in-process server, so the bench
//! keeps compiling and running; no timing is asserted (figures come from release runs, see
//! docs/BENCHMARKS.md).
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
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
