//! A dropped connection is reported, and the next command reconnects and carries on as the
//! same user through the session token. A small TCP proxy in the test cuts the connection.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use common::proxy::Proxy;
use common::{add_user, server};
use serde_json::Value;

#[test]
fn a_dropped_connection_is_reported_and_the_next_command_logs_back_in() {
    let s = server();
    add_user(&s, "alice", "alice-pw-1");
    let proxy = Proxy::start(s.addr);
    let home = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_kino"))
        .args(["--addr", &proxy.addr.to_string(), "--json", "--keep-going"])
        .env("KINO_USER", "alice")
        .env("KINO_PASSWORD", "alice-pw-1")
        .env("HOME", home.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let mut output = BufReader::new(child.stdout.take().unwrap());
    let mut next = || {
        let mut line = String::new();
        output.read_line(&mut line).unwrap();
        serde_json::from_str::<Value>(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"))
    };

    input.write_all(b"whoami\n").unwrap();
    assert_eq!(next()["name"], "alice");

    proxy.cut();
    // The first command finds the connection gone and fails; the second reconnects.
    input.write_all(b"whoami\nwhoami\n").unwrap();
    let who = next();
    assert_eq!(
        (&who["logged_in"], &who["name"]),
        (&Value::Bool(true), &Value::from("alice"))
    );

    drop(input);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "one command failed: {stderr}");
    assert!(stderr.contains("the next command reconnects"), "{stderr}");
    assert!(
        stderr.contains("the server closed the connection"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("failed to fill") && !stderr.contains("os error"),
        "{stderr}"
    );
    assert!(stderr.contains("reconnected to"), "{stderr}");
    assert!(stderr.contains("as alice"), "{stderr}");
}
