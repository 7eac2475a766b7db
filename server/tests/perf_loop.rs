//! The loop's fast paths on a real server: what it does per request (quick-ACK only for partial
//! frames) and how it takes a burst of connections (listen backlog, accept until `WouldBlock`).
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kino_api::serde_json::{json, Value};
use kino_api::Plugin;
use kino_client::Client;
use kino_testkit::{admin_client, TestServer};

fn read_reply(s: &mut TcpStream) -> Value {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).unwrap();
    let mut body = vec![0u8; u32::from_le_bytes(len) as usize];
    s.read_exact(&mut body).unwrap();
    kino_api::serde_json::from_slice(&body).unwrap()
}

fn quickacks(admin: &mut Client) -> u64 {
    let info = admin.call("server.info", json!({})).unwrap();
    info["quickacks"]
        .as_u64()
        .unwrap_or_else(|| panic!("server.info has no `quickacks`: {info}"))
}

/// Whole request frames are answered without re-arming TCP quick-ACK (it used to cost a
/// `setsockopt` and a pure ACK segment per request, a quarter of the loop's CPU at 50x1); a
/// frame whose body is still missing re-arms it every time, so a Nagle client sending the
/// length and the body separately is not held up by a 40 ms delayed ACK.
#[test]
fn quick_ack_is_rearmed_only_for_partial_frames() {
    let server = TestServer::with_admin(kino_testkit::with_auth(Vec::new()), |c| c);
    let mut admin = admin_client(&server, "root");
    let before = quickacks(&mut admin);
    let mut c = server.client();
    for _ in 0..200 {
        c.call("ping", json!({})).unwrap();
    }
    let whole = quickacks(&mut admin) - before;
    assert!(
        whole < 20,
        "{whole} quick-ACK re-arms for 200 whole-frame pings"
    );

    let mut s = TcpStream::connect(server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let body = br#"{"type":"ping"}"#;
    let before = quickacks(&mut admin);
    for _ in 0..10 {
        s.write_all(&(body.len() as u32).to_le_bytes()).unwrap();
        std::thread::sleep(Duration::from_millis(15));
        s.write_all(body).unwrap();
        assert_eq!(read_reply(&mut s)["data"], json!("pong"));
    }
    let split = quickacks(&mut admin) - before;
    assert!(
        split >= 10,
        "only {split} quick-ACK re-arms for 10 frames sent header first"
    );
}

/// A command that holds the loop thread, so connects pile up in the kernel's accept queue.
struct Stall;

fn stall(_: &mut kino_api::FastCtx, _: ()) -> Result<kino_api::Output, kino_api::CmdError> {
    std::thread::sleep(Duration::from_millis(700));
    Ok(json!("stalled").into())
}

impl Plugin for Stall {
    fn name(&self) -> &'static str {
        "stall"
    }
    fn commands(&self) -> Vec<kino_api::Command> {
        vec![
            kino_api::Command::fast("stall.loop", "hold the loop 700 ms", stall)
                .role(kino_api::Role::Anon),
        ]
    }
}

/// 400 clients connect while the loop is busy. With std's listen backlog of 128 the accept
/// queue overflowed, the kernel dropped the other SYNs and those clients waited a second for
/// the retransmit; with `--listen-backlog` (default 1024) every connect completes at once, and
/// once the loop is free it accepts them all (until `WouldBlock`) and answers each.
#[test]
fn a_connection_burst_fits_the_listen_backlog() {
    let server = TestServer::with(
        kino_testkit::with_auth(vec![Arc::new(Stall) as Arc<dyn Plugin>]),
        |mut c| {
            c.limits.max_connections_per_ip = 1000;
            c
        },
    );
    let mut holder = server.client();
    holder.send(&json!({"type": "stall.loop"})).unwrap();
    holder.flush().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let addr = server.addr;
    let threads: Vec<_> = (0..8)
        .map(|_| {
            std::thread::spawn(move || {
                (0..50)
                    .map(|_| {
                        let t0 = Instant::now();
                        let s = TcpStream::connect(addr).unwrap();
                        (t0.elapsed(), s)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut conns = Vec::new();
    for t in threads {
        conns.extend(t.join().unwrap());
    }
    let slowest = conns.iter().map(|(t, _)| *t).max().unwrap();
    assert!(
        slowest < Duration::from_millis(600),
        "a connect took {slowest:?}: the accept queue overflowed"
    );
    assert_eq!(holder.recv().unwrap().data, Some(json!("stalled")));
    let ping = (br#"{"type":"ping"}"#.len() as u32)
        .to_le_bytes()
        .into_iter()
        .chain(br#"{"type":"ping"}"#.iter().copied())
        .collect::<Vec<u8>>();
    for (_, s) in conns.iter_mut() {
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(&ping).unwrap();
    }
    for (_, s) in conns.iter_mut() {
        assert_eq!(read_reply(s)["data"], json!("pong"));
    }
}

/// `--listen-backlog 0` would refuse every connection: the server does not start with it.
#[test]
fn a_zero_listen_backlog_is_refused() {
    let limits = kino_server::Limits {
        listen_backlog: 0,
        ..Default::default()
    };
    let err = limits.validate().unwrap_err();
    assert!(err.contains("--listen-backlog"), "{err}");
}

/// `listen-backlog` is read from the config file like the flag.
#[test]
fn the_listen_backlog_has_a_file_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kino.toml");
    std::fs::write(&path, "listen-backlog = 7\n").unwrap();
    let mut config = kino_server::Config::new(dir.path());
    kino_server::config::apply_file(&mut config, &path, &[]).unwrap();
    assert_eq!(config.limits.listen_backlog, 7);
}
