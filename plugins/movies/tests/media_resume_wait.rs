//! A resumed free download does not wait again: once a user's waited download of a movie has
//! started, the same user resumes that movie at once for `--free-download-resume-window`
//! seconds. Asking and hanging up during the wait earns nothing, and the grant never covers
//! another movie.
#![allow(clippy::unwrap_used)]

mod media_support;

use std::time::{Duration, Instant};

use kino_api::serde_json::{json, Value};
use kino_client::Client;
use kino_testkit::TestServer;
use media_support::{content, guarded, plugins, register_and_login, root, upload_id};

fn server(window_s: u64) -> TestServer {
    TestServer::with_admin(plugins(), |c| {
        c.setting("free-download-wait", json!(1))
            .setting("free-download-resume-window", json!(window_s))
    })
}

fn login(server: &TestServer, name: &str) -> Client {
    let mut c = guarded(server.client());
    c.call(
        "auth.login",
        json!({"name": name, "password": "pw-of-user"}),
    )
    .unwrap();
    c
}

fn wait_s(c: &mut Client, id: i64) -> Value {
    c.call("movies.get", json!({"movie_id": id})).unwrap()["wait_s"].clone()
}

/// Starts a download, reads its first `bytes`, and hangs up: an interrupted download.
fn start_and_drop(c: &mut Client, id: i64, bytes: u64) -> Duration {
    let began = Instant::now();
    let reply = c
        .call("movies.download", json!({"movie_id": id, "offset": 0}))
        .unwrap();
    let took = began.elapsed();
    assert!(reply["file_size"].as_u64().unwrap() > bytes);
    c.recv_payload(bytes, &mut std::io::sink(), &mut |_| {})
        .unwrap();
    took
}

#[test]
fn a_resume_of_a_started_movie_does_not_wait_again_but_other_movies_do() {
    let s = server(600);
    let mut admin = root(&s);
    let film = content(1, 3 << 20);
    let a = upload_id(&mut admin, "a.mp4", &film, true);
    let b = upload_id(&mut admin, "b.mp4", &content(2, 1000), true);
    let (mut first, _) = register_and_login(&s, "alice");
    assert_eq!(wait_s(&mut first, a), json!(1));

    let took = start_and_drop(&mut first, a, 64 * 1024);
    assert!(took >= Duration::from_millis(900), "the wait: {took:?}");
    drop(first);

    // A new connection and login: the resume of `a` starts at once, and says so.
    let mut again = login(&s, "alice");
    assert_eq!(wait_s(&mut again, a), json!(0));
    let began = Instant::now();
    let reply = again
        .call(
            "movies.download",
            json!({"movie_id": a, "offset": 64 * 1024}),
        )
        .unwrap();
    assert!(
        began.elapsed() < Duration::from_millis(500),
        "{:?}",
        began.elapsed()
    );
    assert_eq!(reply["wait_s"], json!(0));
    let mut rest = Vec::new();
    again
        .recv_payload(reply["file_size"].as_u64().unwrap(), &mut rest, &mut |_| {})
        .unwrap();
    assert_eq!(rest, film[64 * 1024..]);

    // Another movie still waits, and so does another user for the same movie.
    assert_eq!(wait_s(&mut again, b), json!(1));
    let (mut bob, _) = register_and_login(&s, "bob");
    assert_eq!(wait_s(&mut bob, a), json!(1));

    // Asking for `b` and hanging up during the wait earns nothing.
    let mut quitter = login(&s, "alice");
    quitter
        .send(&kino_client::request(
            "movies.download",
            json!({"movie_id": b, "offset": 0}),
        ))
        .unwrap();
    quitter.flush().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    drop(quitter);
    std::thread::sleep(Duration::from_millis(1200));
    assert_eq!(wait_s(&mut again, b), json!(1));
    let began = Instant::now();
    let reply = again
        .call("movies.download", json!({"movie_id": b}))
        .unwrap();
    assert!(began.elapsed() >= Duration::from_millis(900));
    assert_eq!(reply["wait_s"], json!(1));
    again
        .recv_payload(
            reply["file_size"].as_u64().unwrap(),
            &mut std::io::sink(),
            &mut |_| {},
        )
        .unwrap();
}

#[test]
fn the_grant_ends_with_the_window_and_a_zero_window_always_waits() {
    let s = server(1);
    let mut admin = root(&s);
    let a = upload_id(&mut admin, "a.mp4", &content(3, 1 << 20), true);
    let (mut alice, _) = register_and_login(&s, "alice");
    start_and_drop(&mut alice, a, 1024);
    let mut again = login(&s, "alice");
    assert_eq!(wait_s(&mut again, a), json!(0));
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(wait_s(&mut again, a), json!(1), "the window is over");

    let s = server(0);
    let mut admin = root(&s);
    let a = upload_id(&mut admin, "a.mp4", &content(4, 1 << 20), true);
    let (mut alice, _) = register_and_login(&s, "alice");
    start_and_drop(&mut alice, a, 1024);
    let mut again = login(&s, "alice");
    assert_eq!(wait_s(&mut again, a), json!(1));
}
