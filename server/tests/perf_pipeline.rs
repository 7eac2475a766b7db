//! The pre-encoded reply of a constant command (`ping`) on a real server: every envelope shape,
//! pipelined, is answered in order with the bytes the full path would write, and every request
//! is counted once in `server.info`.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use kino_api::serde_json::{json, Value};
use kino_client::Client;
use kino_testkit::{login, with_auth, TestServer};

fn frame(body: &str) -> Vec<u8> {
    let mut f = (body.len() as u32).to_le_bytes().to_vec();
    f.extend_from_slice(body.as_bytes());
    f
}

fn read_body(s: &mut TcpStream) -> Vec<u8> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).unwrap();
    let mut body = vec![0u8; u32::from_le_bytes(len) as usize];
    s.read_exact(&mut body).unwrap();
    body
}

fn counters(admin: &mut Client) -> (u64, u64, u64) {
    let info = admin.call("server.info", json!({})).unwrap();
    let ping = &info["commandstats"]["ping"];
    (
        info["commands"].as_u64().unwrap(),
        info["errors"].as_u64().unwrap(),
        ping["calls"].as_u64().unwrap_or(0),
    )
}

/// What one request must get back: exact reply bytes, or an error code with the echoed id.
enum Want {
    Bytes(String),
    Error(&'static str, Value),
}

/// Pings of every envelope shape (ids of any JSON, with a live, an unknown and a null session,
/// with an escaped `type`, with arguments, with a repeated key) interleaved with another
/// command, all in one write: replies come back in order, each `pong` byte for byte as
/// `Reply::ok` serialises it with the id echoed exactly, errors as before, and `commands`,
/// `errors` and ping's `calls` grow by exactly the number of requests of each kind.
#[test]
fn pipelined_pings_of_every_shape_answer_in_order_and_count_once() {
    let server = TestServer::with_admin(with_auth(Vec::new()), |c| c);
    let (mut admin, reply) = login(&server, "root", "root-pass-1");
    let token = reply["session"].as_str().unwrap().to_owned();
    let pong = |id: &str| format!(r#"{{"ok":true,"id":{id},"data":"pong"}}"#);
    let cases: Vec<(String, Want)> = vec![
        (r#"{"type":"ping"}"#.into(), Want::Bytes(pong("null"))),
        (
            r#"{"type":"ping","id":18446744073709551615123}"#.into(),
            Want::Bytes(pong("18446744073709551615123")),
        ),
        (
            r#" {"id" : "a\"b\u00e9" , "type":"ping"} "#.into(),
            Want::Bytes(pong(r#""a\"b\u00e9""#)),
        ),
        (
            r#"{"type":"ping","id":[1, {"k":null}]}"#.into(),
            Want::Bytes(pong(r#"[1, {"k":null}]"#)),
        ),
        (
            format!(r#"{{"type":"ping","session":"{token}","id":5}}"#),
            Want::Bytes(pong("5")),
        ),
        (
            r#"{"type":"ping","session":"no-such-session","id":6}"#.into(),
            Want::Bytes(pong("6")),
        ),
        (
            r#"{"type":"ping","session":null,"id":7}"#.into(),
            Want::Bytes(pong("7")),
        ),
        (
            r#"{"type":"p\u0069ng","id":8}"#.into(),
            Want::Bytes(pong("8")),
        ),
        (
            r#"{"type":"ping","x":1,"id":9}"#.into(),
            Want::Error("bad_args", json!(9)),
        ),
        (
            r#"{"type":"ping","id":1,"id":2}"#.into(),
            Want::Error("bad_request", Value::Null),
        ),
        (
            r#"{"type":"server.info","id":11}"#.into(),
            Want::Error("unauthenticated", json!(11)),
        ),
        (
            r#"{"type":"whoami","id":12}"#.into(),
            Want::Bytes(
                r#"{"ok":true,"id":12,"data":{"logged_in":false,"name":null,"role":"anon"}}"#
                    .into(),
            ),
        ),
    ];
    const ROUNDS: u64 = 40;
    let pongs = cases
        .iter()
        .filter(|(_, w)| matches!(w, Want::Bytes(b) if b.contains("pong")))
        .count() as u64;
    let errors = cases
        .iter()
        .filter(|(_, w)| matches!(w, Want::Error(..)))
        .count() as u64;

    let before = counters(&mut admin);
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut batch = Vec::new();
    for _ in 0..ROUNDS {
        for (body, _) in &cases {
            batch.extend_from_slice(&frame(body));
        }
    }
    s.write_all(&batch).unwrap();
    for round in 0..ROUNDS {
        for (body, want) in &cases {
            let got = read_body(&mut s);
            match want {
                Want::Bytes(b) => assert_eq!(
                    String::from_utf8_lossy(&got),
                    *b,
                    "round {round}, request {body}"
                ),
                Want::Error(code, id) => {
                    let v: Value = kino_api::serde_json::from_slice(&got).unwrap();
                    assert_eq!(
                        (&v["ok"], &v["error"]["code"], &v["id"]),
                        (&json!(false), &json!(code), id),
                        "round {round}, request {body}: {v}"
                    );
                }
            }
        }
    }
    // A logged-in connection's own session, with no `session` field.
    for _ in 0..ROUNDS {
        assert_eq!(admin.call("ping", json!({})).unwrap(), json!("pong"));
    }
    let after = counters(&mut admin);
    let requests = ROUNDS * cases.len() as u64 + ROUNDS;
    // The first server.info's own reply is counted after its snapshot was taken.
    assert_eq!(after.0 - before.0, requests + 1, "commands");
    assert_eq!(after.1 - before.1, ROUNDS * errors, "errors");
    assert_eq!(after.2 - before.2, ROUNDS * pongs + ROUNDS, "ping calls");
}
