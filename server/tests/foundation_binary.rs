//! The real `kino-server` binary: operator account creation, the printed address, graceful
//! shutdown on SIGTERM, and a restart that keeps accounts.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kino_api::serde_json::json;
use kino_testkit::BinServer;

const BIN: &str = env!("CARGO_BIN_EXE_kino-server");

fn add_admin(data: &Path, name: &str, password: &str) {
    let mut child = Command::new(BIN)
        .args(["--data"])
        .arg(data)
        .args(["--argon2-memory-kib", "64", "--argon2-iterations", "1"])
        .args(["user", "add", name, "--admin", "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("created admin"));
}

/// Logs in as `root`; returns the client and the session token.
fn login_root(server: &BinServer) -> (kino_client::Client, String) {
    let mut c = server.client();
    let reply = c
        .call(
            "auth.login",
            json!({"name": "root", "password": "top secret"}),
        )
        .unwrap();
    assert_eq!(reply["role"], json!("admin"));
    (c, reply["session"].as_str().unwrap().to_string())
}

#[test]
fn operator_admin_then_serve_then_graceful_stop() {
    let dir = tempfile::tempdir().unwrap();
    add_admin(dir.path(), "root", "top secret");
    let mut server = BinServer::start(Path::new(BIN), dir.path(), &[]);
    let (mut c, token) = login_root(&server);
    assert!(c.call("server.info", json!({})).unwrap()["uptime_s"].is_u64());

    nix_kill(server.child.id(), "TERM");
    let started = Instant::now();
    let status = loop {
        if let Some(s) = server.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no graceful exit"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");

    // The account survives the restart; the session does not.
    let server = BinServer::start(Path::new(BIN), dir.path(), &[]);
    let (mut c, _) = login_root(&server);
    let old = c.call("whoami", json!({"session": token})).unwrap();
    assert_eq!(old["logged_in"], json!(false));
}

#[test]
fn bad_flags_and_unknown_settings_are_refused() {
    let out = Command::new(BIN).args(["--no-such-flag"]).output().unwrap();
    assert!(!out.status.success());
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("kino.toml");
    std::fs::write(&cfg, "no-such-key = 1\n").unwrap();
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-key"));
}

fn nix_kill(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

#[test]
fn docs_commands_md_matches_the_registry() {
    let out = Command::new(BIN).arg("commands").output().unwrap();
    assert!(out.status.success());
    let generated = String::from_utf8(out.stdout).unwrap();
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/commands.md"))
            .unwrap();
    assert!(
        generated == committed,
        "docs/commands.md is stale: run `cargo run --bin kino-server -- commands > docs/commands.md`"
    );
}
