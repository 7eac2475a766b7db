//! Requests per second on one connection with the original client's send pattern: the 4-byte
//! length in one `send`, the JSON body in a second, on a socket with Nagle's algorithm on (as
//! Python's default socket is), waiting for each reply before the next request. The original
//! Python server answered the same way and both sides paid a delayed-ACK stall per request,
//! about 22 requests/s; docs/legacy.md records the figure this test prints.
//!
//! Reproduce: `cargo test --release -p kino-legacy --test legacy_speed -- --nocapture`.
#![allow(clippy::unwrap_used)]

mod legacy_support;

use std::time::{Duration, Instant};

use kino_api::serde_json::json;
use legacy_support::{assert_ok, py_dumps, server, Legacy};

/// Requests per measurement; bounded in count and in time.
const REQUESTS: u32 = 500;
const TIME_CAP: Duration = Duration::from_secs(20);

fn rate(c: &mut Legacy, body: &[u8], split: bool) -> f64 {
    let started = Instant::now();
    let mut done = 0u32;
    while done < REQUESTS && started.elapsed() < TIME_CAP {
        if split {
            c.send_frame(body);
        } else {
            let mut frame = (body.len() as u32).to_le_bytes().to_vec();
            frame.extend_from_slice(body);
            std::io::Write::write_all(&mut c.stream, &frame).unwrap();
        }
        let back = c.recv();
        assert!(back["flag"].is_boolean(), "{back}");
        done += 1;
    }
    f64::from(done) / started.elapsed().as_secs_f64()
}

#[test]
fn the_two_send_pattern_does_not_stall() {
    let server = server();
    let mut c = Legacy::connect(server.addr);
    assert_ok(&c.register("speedy", "pw", "user"), "注册成功");
    assert_ok(&c.login("speedy", "pw", "user"), "登陆成功");
    let body = py_dumps(&[
        ("type", json!("get_movie_list")),
        ("session", c.session()),
        ("movie_type", json!("all")),
    ]);
    let one_send = rate(&mut c, &body, false);
    let two_sends = rate(&mut c, &body, true);
    println!(
        "legacy get_movie_list, one connection: {two_sends:.0} req/s with the original two sends \
         (Nagle on), {one_send:.0} req/s with one send"
    );
    // The original stalled at ~22 req/s; a stall per request would cap this near 25.
    assert!(two_sends > 80.0, "{two_sends:.0} req/s: delayed-ACK stall?");
}
