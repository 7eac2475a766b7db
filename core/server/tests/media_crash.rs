//! The real `kino-server` binary killed with SIGKILL half-way through an upload: on restart the
//! database is consistent (the movie committed before is whole, the interrupted one does not
//! exist) and no temporary file is left.
#![allow(clippy::unwrap_used)]

mod media_support;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kino_api::serde_json::json;
use kino_client::Client;
use kino_testkit::{request, BinServer};
use media_support::*;

const BIN: &str = env!("CARGO_BIN_EXE_kino-server");

/// Creates the admin `root` offline, as an operator would.
fn add_root(data: &Path) {
    let mut child = Command::new(BIN)
        .arg("--data")
        .arg(data)
        .args(["--argon2-memory-kib", "64", "--argon2-iterations", "1"])
        .args(["user", "add", "root", "--admin", "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "root-pw").unwrap();
    assert!(child.wait().unwrap().success());
}

fn start(data: &Path) -> BinServer {
    BinServer::start(Path::new(BIN), data, &["--free-download-wait", "0"])
}

fn login_root(server: &BinServer) -> Client {
    let mut c = guarded(server.client());
    c.call("auth.login", json!({"name": "root", "password": "root-pw"}))
        .unwrap();
    c
}

#[test]
fn sigkill_mid_upload_restarts_consistent_and_clean() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    add_root(data);
    let kept = content(600, 300_000);
    let cut = content(601, 8 << 20);

    let mut server = start(data);
    let mut admin = login_root(&server);
    let kept_id = upload_id(&mut admin, "kept.mp4", &kept, true);
    admin
        .send(&request(
            "movies.upload",
            json!({"name": "cut.mp4", "md5": md5_hex(&cut), "free": true, "file_size": cut.len()}),
        ))
        .unwrap();
    admin.send_raw(&cut[..3 << 20]).unwrap();
    admin.flush().unwrap();
    let tmp = data.join("tmp");
    let deadline = Instant::now() + Duration::from_secs(5);
    while files_under(&tmp).is_empty() {
        assert!(Instant::now() < deadline, "no temporary file appeared");
        std::thread::sleep(Duration::from_millis(10));
    }
    server.child.kill().unwrap(); // SIGKILL: no shutdown code runs
    server.child.wait().unwrap();
    drop(admin);
    assert!(
        !files_under(&tmp).is_empty(),
        "the partial file survives the kill"
    );

    let server = start(data);
    assert!(
        files_under(&tmp).is_empty(),
        "leftovers removed at start-up"
    );
    let mut admin = login_root(&server);
    assert_eq!(listed(&mut admin, "all"), ["kept.mp4"]);
    assert_eq!(
        admin
            .call("movies.check", json!({"md5": md5_hex(&cut)}))
            .unwrap(),
        json!({"exists": false, "id": null})
    );
    let blobs: Vec<_> = files_under(&data.join("blobs"));
    assert_eq!(
        blobs,
        [blob_path(&md5_hex(&kept)).strip_prefix("blobs").unwrap()]
    );
    let (reply, bytes) = download(&mut admin, kept_id, None).unwrap();
    assert_eq!(reply["size"], json!(300_000));
    assert!(bytes == kept);

    // The interrupted content uploads whole after the restart.
    let id = upload_id(&mut admin, "cut.mp4", &cut, true);
    assert!(download(&mut admin, id, None).unwrap().1 == cut);
    assert!(files_under(&tmp).is_empty());
}
