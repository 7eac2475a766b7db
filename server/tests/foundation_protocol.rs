//! The wire protocol against a real server: pipelining, bad input of every kind, payload
//! discarding, panics, the connection limit. After each abuse a fresh connection is served.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kino_api::serde_json::{json, Value};
use kino_api::{CmdError, Command, CommandArgs, Ctx, ErrorCode, FastCtx, Output, Plugin, Role};
use kino_testkit::TestServer;

/// A plugin whose commands misbehave on purpose.
struct Chaos;

fn boom(_: &mut Ctx, _: ()) -> Result<Output, CmdError> {
    panic!("deliberate panic in a handler")
}

fn fast_boom(_: &mut FastCtx, _: ()) -> Result<Output, CmdError> {
    panic!("deliberate panic in a handler on the loop")
}

#[derive(CommandArgs)]
struct Echo {
    /// what to say
    text: String,
}

fn echo(_: &mut Ctx, args: Echo) -> Result<Output, CmdError> {
    Ok(json!({"said": args.text}).into())
}

impl Plugin for Chaos {
    fn name(&self) -> &'static str {
        "chaos"
    }
    fn commands(&self) -> Vec<Command> {
        vec![
            Command::new("chaos.boom", "panics", boom).role(Role::Anon),
            Command::fast("chaos.fastboom", "panics on the loop", fast_boom).role(Role::Anon),
            Command::new("chaos.echo", "echoes", echo).role(Role::Anon),
        ]
    }
}

fn server() -> TestServer {
    TestServer::with(kino_testkit::with_auth(vec![Arc::new(Chaos)]), |mut c| {
        c.limits.idle_timeout = Duration::from_secs(1);
        c.limits.max_frame = 64 * 1024;
        c
    })
}

fn raw(server: &TestServer) -> TcpStream {
    let s = TcpStream::connect(server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s
}

fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = (body.len() as u32).to_le_bytes().to_vec();
    out.extend_from_slice(body);
    out
}

fn read_reply(s: &mut TcpStream) -> Value {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).unwrap();
    let mut body = vec![0u8; u32::from_le_bytes(len) as usize];
    s.read_exact(&mut body).unwrap();
    serde_json::from_slice(&body).unwrap()
}

fn error_code(reply: &Value) -> &str {
    reply["error"]["code"].as_str().unwrap_or("<none>")
}

/// Whether the server closed the stream (EOF) within the read timeout.
fn closed(s: &mut TcpStream) -> bool {
    let mut b = [0u8; 1];
    matches!(s.read(&mut b), Ok(0))
        || matches!(s.read(&mut b), Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset)
}

fn still_serving(server: &TestServer) {
    let mut c = server.client();
    assert_eq!(c.call("ping", json!({})).unwrap(), json!("pong"));
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let server = server();
    let mut c = server.client();
    for i in 0..200 {
        let req = match i % 3 {
            0 => json!({"type": "ping", "id": i}),
            1 => json!({"type": "chaos.echo", "id": i, "text": format!("t{i}")}),
            _ => {
                json!({"type": "auth.register", "id": i, "name": format!("u{i}"), "password": "pw-of-test"})
            }
        };
        c.send(&req).unwrap();
    }
    for i in 0..200 {
        let reply = c.recv().unwrap();
        assert!(reply.ok, "request {i}: {reply:?}");
        assert_eq!(reply.id, json!(i));
    }
}

#[test]
fn later_requests_see_earlier_ones_on_the_same_connection() {
    let server = server();
    let mut c = server.client();
    c.send(&json!({"type": "auth.register", "name": "seq", "password": "pw-of-test"}))
        .unwrap();
    c.send(&json!({"type": "auth.login", "name": "seq", "password": "pw-of-test"}))
        .unwrap();
    c.send(&json!({"type": "whoami"})).unwrap();
    assert!(c.recv().unwrap().ok);
    assert!(c.recv().unwrap().ok);
    assert_eq!(c.recv().unwrap().data.unwrap()["name"], json!("seq"));
}

#[test]
fn malformed_frames_get_error_replies_and_the_connection_stays_usable() {
    let server = server();
    let mut s = raw(&server);
    let cases: [(&[u8], &str); 6] = [
        (b"\xde\xad\xbe\xef garbage", "bad_frame"),
        (b"not json at all", "bad_frame"),
        (b"[1, 2, 3]", "bad_request"),
        (br#"{"id": 1}"#, "bad_request"),
        (br#"{"type": 42}"#, "bad_request"),
        (br#"{"type": "no.such"}"#, "unknown_command"),
    ];
    for (body, code) in cases {
        s.write_all(&frame(body)).unwrap();
        let reply = read_reply(&mut s);
        assert_eq!(reply["ok"], json!(false));
        assert_eq!(
            error_code(&reply),
            code,
            "for body {:?}",
            String::from_utf8_lossy(body)
        );
    }
    s.write_all(&frame(br#"{"type": "ping", "id": "after"}"#))
        .unwrap();
    let reply = read_reply(&mut s);
    assert_eq!(
        (reply["data"].clone(), reply["id"].clone()),
        (json!("pong"), json!("after"))
    );
}

#[test]
fn bad_arguments_are_refused_before_the_handler() {
    let server = server();
    let mut c = server.client();
    let missing = c.call("chaos.echo", json!({})).unwrap_err();
    assert_eq!(missing.code(), Some(ErrorCode::BadArgs));
    let wrong_type = c.call("chaos.echo", json!({"text": 5})).unwrap_err();
    assert_eq!(wrong_type.code(), Some(ErrorCode::BadArgs));
    let unknown = c
        .call("chaos.echo", json!({"text": "x", "extra": 1}))
        .unwrap_err();
    assert_eq!(unknown.code(), Some(ErrorCode::BadArgs));
}

#[test]
fn random_bytes_get_a_reply_or_a_close_and_others_are_unaffected() {
    let server = server();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..20 {
        let mut junk = vec![0u8; 300];
        for b in junk.iter_mut() {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            *b = seed as u8;
        }
        let mut s = raw(&server);
        s.write_all(&junk).unwrap();
        let _ = s.shutdown(std::net::Shutdown::Write);
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest);
    }
    still_serving(&server);
}

#[test]
fn a_declared_length_over_the_limit_is_refused_and_closed() {
    let server = server();
    let mut s = raw(&server);
    s.write_all(&(10_000_000u32).to_le_bytes()).unwrap();
    let reply = read_reply(&mut s);
    assert_eq!(error_code(&reply), "too_large");
    assert!(closed(&mut s));
    still_serving(&server);
}

#[test]
fn a_half_sent_frame_is_closed_after_the_idle_timeout() {
    let server = server();
    let mut s = raw(&server);
    s.write_all(&[50, 0, 0, 0, b'{']).unwrap();
    let started = Instant::now();
    assert!(closed(&mut s), "the stalled connection must be closed");
    assert!(started.elapsed() < Duration::from_secs(4));
    still_serving(&server);
}

#[test]
fn a_panicking_handler_becomes_an_internal_error() {
    let server = server();
    let mut c = server.client();
    for cmd in ["chaos.boom", "chaos.fastboom"] {
        let err = c.call(cmd, json!({})).unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::Internal), "{cmd}");
    }
    assert_eq!(
        c.call("chaos.echo", json!({"text": "alive"})).unwrap()["said"],
        json!("alive")
    );
    still_serving(&server);
}

#[test]
fn a_refused_request_with_a_payload_has_its_bytes_discarded() {
    let server = server();
    let mut s = raw(&server);
    let mut bytes = frame(br#"{"type": "no.such", "file_size": 10}"#);
    bytes.extend_from_slice(b"0123456789");
    bytes.extend_from_slice(&frame(
        br#"{"type": "chaos.echo", "text": "x", "file_size": 3}"#,
    ));
    bytes.extend_from_slice(b"abc");
    bytes.extend_from_slice(&frame(br#"{"type": "ping"}"#));
    s.write_all(&bytes).unwrap();
    assert_eq!(error_code(&read_reply(&mut s)), "unknown_command");
    assert_eq!(error_code(&read_reply(&mut s)), "bad_args");
    assert_eq!(read_reply(&mut s)["data"], json!("pong"));
}

#[test]
fn help_lists_every_command_with_its_schema() {
    let server = server();
    let mut c = server.client();
    let help = c.call("help", json!({})).unwrap();
    let names: Vec<&str> = help
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    for expected in [
        "ping",
        "help",
        "whoami",
        "server.info",
        "auth.register",
        "auth.login",
        "auth.logout",
        "auth.passwd",
        "auth.users",
        "auth.lock",
        "auth.unlock",
        "chaos.echo",
        "chaos.boom",
    ] {
        assert!(
            names.contains(&expected),
            "help lacks {expected}: {names:?}"
        );
    }
    let echo = c.call("help", json!({"command": "chaos.echo"})).unwrap();
    assert_eq!(
        echo["args"][0],
        json!({"name": "text", "kind": "string", "required": true, "doc": "what to say"})
    );
    assert_eq!(echo["role"], json!("anon"));
    assert_eq!(
        c.call("help", json!({"command": "nope"}))
            .unwrap_err()
            .code(),
        Some(ErrorCode::NotFound)
    );
}

#[test]
fn connections_over_the_limit_get_busy() {
    let server = TestServer::with(kino_testkit::with_auth(vec![]), |mut c| {
        c.limits.max_connections = 2;
        c
    });
    let mut a = server.client();
    let mut b = server.client();
    a.call("ping", json!({})).unwrap();
    b.call("ping", json!({})).unwrap();
    let mut third = raw(&server);
    assert_eq!(error_code(&read_reply(&mut third)), "busy");
    assert!(closed(&mut third));
    drop(a);
    std::thread::sleep(Duration::from_millis(200));
    still_serving(&server);
}
