//! The native framing as the server's loop drives it: split a byte stream into frames with
//! `decode_header`, parse each body with `parse_request`, and answer it. Checks that a request
//! that parses agrees with serde_json and that its reply echoes the `id` text exactly.
#![no_main]

use kino_proto::{decode_header, parse_request, ErrorCode, Header, Reply, HEADER_LEN};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const MAX_FRAME: usize = 64 * 1024;

fuzz_target!(|data: &[u8]| {
    let mut buf = data;
    loop {
        match decode_header(buf, MAX_FRAME) {
            Header::Incomplete => break,
            Header::TooLarge(n) => {
                assert!(n > MAX_FRAME as u64);
                break;
            }
            Header::Frame(len) => {
                let body = &buf[HEADER_LEN..HEADER_LEN + len];
                check(body);
                buf = &buf[HEADER_LEN + len..];
            }
        }
    }
    // The whole input as one body too, so the parser sees every input.
    check(data);
});

fn check(body: &[u8]) {
    let reply = match parse_request(body) {
        Ok(req) => {
            assert!(!req.command.is_empty());
            for key in ["type", "id", "session"] {
                assert!(!req.args.contains_key(key));
            }
            // No repeated keys, so serde_json must read the same arguments (unless a number is
            // out of its range, which the `id` alone may hold).
            if let Ok(Value::Object(mut all)) = serde_json::from_slice::<Value>(body) {
                all.remove("type");
                all.remove("id");
                all.remove("session");
                assert_eq!(all, req.args);
            }
            Reply::ok(req.id, Value::Object(req.args))
        }
        Err(e) => {
            assert!(matches!(
                e.code,
                ErrorCode::BadFrame | ErrorCode::BadRequest
            ));
            Reply::err(e.id, e.code, e.message)
        }
    };
    let text = serde_json::to_vec(&reply).expect("a reply always serialises");
    let back: Reply = serde_json::from_slice(&text).expect("a reply always parses");
    assert_eq!(back.id, reply.id);
}
