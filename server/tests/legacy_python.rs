//! The second, independent check: `plugins/legacy/tests/legacy_client.py`, a small Python
//! client written from the protocol that behaves like the original client frame for frame (two
//! sends per frame, Nagle on, uploads line by line), runs a full admin and user session against
//! the real `kino-server --allow-admin-signup` binary and must exit 0. Standard library only;
//! skipped, saying so, when the machine has no `python3`.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

use kino_testkit::BinServer;

const BIN: &str = env!("CARGO_BIN_EXE_kino-server");

fn has_python3() -> bool {
    Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn python_client_runs_a_full_admin_and_user_session() {
    if !has_python3() {
        eprintln!("SKIPPED legacy_python: no python3 on this machine");
        return;
    }
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/legacy/tests/legacy_client.py");
    let dir = tempfile::tempdir().unwrap();
    let server = BinServer::start(
        Path::new(BIN),
        dir.path(),
        &["--allow-admin-signup", "--free-download-wait", "1"],
    );
    let out = Command::new("python3")
        .arg(&script)
        .arg(server.addr.ip().to_string())
        .arg(server.addr.port().to_string())
        .args(["--wait", "1", "--bench", "300"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    assert!(out.status.success(), "legacy_client.py failed: {stderr}");
    assert!(stdout.contains("admin and user sessions passed"));
}
