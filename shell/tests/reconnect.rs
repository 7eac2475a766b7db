//! A dropped connection is reported, and the next command reconnects and carries on as the
//! same user through the session token. A small TCP proxy in the test cuts the connection.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use common::{add_user, server};
use serde_json::Value;

/// Forwards connections to `target`; `cut` closes every connection open so far.
struct Proxy {
    addr: SocketAddr,
    open: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let open = Arc::new(Mutex::new(Vec::new()));
        let list = Arc::clone(&open);
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let Ok(upstream) = TcpStream::connect(target) else {
                    return;
                };
                list.lock().unwrap().push(client.try_clone().unwrap());
                list.lock().unwrap().push(upstream.try_clone().unwrap());
                pipe(client.try_clone().unwrap(), upstream.try_clone().unwrap());
                pipe(upstream, client);
            }
        });
        Proxy { addr, open }
    }

    fn cut(&self) {
        for s in self.open.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if to.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
}

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
    assert!(stderr.contains("reconnected to"), "{stderr}");
    assert!(stderr.contains("as alice"), "{stderr}");
}
