//! The `kino-server` binary's start-up refusals say what is wrong once, name the file or address,
//! and say what to do: a taken port, a `--data` that is a file, a data directory another server
//! is using; `user add --help` shows only what concerns accounts.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use kino_testkit::BinServer;

const BIN: &str = env!("CARGO_BIN_EXE_kino-server");

/// Runs the binary, killing it if it has not exited within 20 s (a refusal is immediate).
fn run(args: &[&str], data: &Path) -> Output {
    let mut child = Command::new(BIN)
        .arg("--data")
        .arg(data)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_taken_port_is_said_once_with_what_to_do() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let out = run(&["--listen", &addr], dir.path());
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains(&addr), "{err}");
    assert_eq!(err.matches("Address already in use").count(), 1, "{err}");
    assert!(err.contains("--listen"), "{err}");
}

#[test]
fn data_that_is_a_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let out = run(&["--listen", "127.0.0.1:0"], &file);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains(&file.display().to_string()), "{err}");
    assert!(err.contains("must be a directory"), "{err}");
}

#[test]
fn a_second_server_on_the_same_data_is_refused_but_check_runs_beside() {
    let dir = tempfile::tempdir().unwrap();
    let first = BinServer::start(Path::new(BIN), dir.path(), &[]);
    let out = run(&["--listen", "127.0.0.1:0"], dir.path());
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("already using the data directory"), "{err}");
    assert!(err.contains(&dir.path().display().to_string()), "{err}");
    let out = run(&["check"], dir.path());
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(&["check", "--repair"], dir.path());
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("already using the data directory"),
        "{}",
        stderr(&out)
    );
    // The first still serves.
    assert_eq!(
        first
            .client()
            .call("ping", kino_api::serde_json::json!({}))
            .unwrap(),
        "pong"
    );
    drop(first);
    // Once it has stopped, a new server may use the directory.
    let again = BinServer::start(Path::new(BIN), dir.path(), &[]);
    drop(again);
}

#[test]
fn user_add_help_lists_only_its_own_flags() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&["user", "add", "--help"], dir.path());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("--password-stdin"), "{text}");
    assert!(!text.contains("--free-download-wait"), "{text}");
    assert!(!text.contains("--allow-admin-signup"), "{text}");
}
