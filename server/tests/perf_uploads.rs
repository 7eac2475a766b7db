//! Upload payloads read by the handler's thread straight from the socket, not by the loop
//! (issue 12, "Latency under mixed load"; `kino_server::direct`): counted in `server.info`
//! as `bodies_read_direct`; a request pipelined right behind a payload is still the loop's
//! and answered; a stalled uploader loses its slot after `--idle-timeout`; a disconnect
//! mid-upload leaves no movie and no temporary file; `ping` is answered during a large upload.
#![allow(clippy::unwrap_used)]

#[path = "../../plugins/movies/tests/media_support/mod.rs"]
mod media_support;

use std::time::{Duration, Instant};

use kino_api::serde_json::{json, Value};
use kino_client::Client;
use kino_testkit::{into_data, request, TestServer};
use media_support::*;

fn info(admin: &mut Client) -> Value {
    admin.call("server.info", json!({})).unwrap()
}

fn read_direct(admin: &mut Client) -> u64 {
    let info = info(admin);
    info["bodies_read_direct"]
        .as_u64()
        .unwrap_or_else(|| panic!("server.info has no `bodies_read_direct`: {info}"))
}

fn with_idle(idle: Duration) -> TestServer {
    TestServer::with_admin(plugins(), move |mut c| {
        c.limits.idle_timeout = idle;
        c.setting("free-download-wait", json!(0))
    })
}

/// Polls `done` every 20 ms for up to `within`; panics with `what` if it never holds.
fn eventually(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends an upload's request and the first `sent` bytes of `film`, then stops.
fn start_upload(c: &mut Client, name: &str, film: &[u8], sent: usize) {
    c.send(&request(
        "movies.upload",
        json!({"name": name, "md5": md5_hex(film), "free": true, "file_size": film.len()}),
    ))
    .unwrap();
    c.send_raw(&film[..sent]).unwrap();
    c.flush().unwrap();
}

#[test]
fn an_upload_is_read_by_its_thread_and_stored_whole() {
    let server = server(0);
    let mut admin = root(&server);
    assert_eq!(read_direct(&mut admin), 0);
    let film = content(500, 3_000_000);
    let id = upload_id(&mut admin, "film.mp4", &film, true);
    assert_eq!(read_direct(&mut admin), 1, "the payload went by the thread");
    assert!(download(&mut admin, id, None).unwrap().1 == film);
}

/// The thread reads at most the payload: a `ping` written in the same burst right behind it
/// (and one behind a payload small enough to arrive whole with its request) is answered.
#[test]
fn a_request_pipelined_right_after_a_payload_is_answered() {
    let server = server(0);
    let mut admin = root(&server);
    for (seed, len) in [(501u32, 2_000_000usize), (502, 100)] {
        let film = content(seed, len);
        admin
            .send(&request(
                "movies.upload",
                json!({"name": format!("p{seed}.mp4"), "md5": md5_hex(&film),
                       "free": true, "file_size": film.len()}),
            ))
            .unwrap();
        admin.send_raw(&film).unwrap();
        admin.send(&request("ping", json!({}))).unwrap();
        admin.flush().unwrap();
        let stored = into_data(admin.recv().unwrap()).unwrap();
        assert_eq!(stored["size"], json!(len));
        assert_eq!(into_data(admin.recv().unwrap()).unwrap(), json!("pong"));
    }
    let mut names = listed(&mut admin, "all");
    names.sort();
    assert_eq!(names, ["p501.mp4", "p502.mp4"]);
}

/// An uploader that stops sending is given up by its thread after `--idle-timeout`: the
/// transfer slot comes back, the connection closes, no temporary file stays.
#[test]
fn a_stalled_uploader_loses_its_slot_after_the_idle_timeout() {
    let server = with_idle(Duration::from_secs(1));
    let mut admin = root(&server);
    let film = content(503, 4 << 20);
    let mut stalled = root(&server);
    start_upload(&mut stalled, "stall.mp4", &film, 1 << 20);
    eventually("the upload to start", Duration::from_secs(5), || {
        let i = info(&mut admin);
        i["transfers"] == json!(1) && i["bodies_read_direct"] == json!(1)
    });
    let began = Instant::now();
    eventually("the slot to come back", Duration::from_secs(10), || {
        info(&mut admin)["transfers"] == json!(0)
    });
    assert!(
        began.elapsed() >= Duration::from_millis(500),
        "given up before the idle timeout"
    );
    assert!(
        stalled.recv().is_err() || stalled.recv().is_err(),
        "the connection of a given-up uploader is closed"
    );
    assert!(files_under(&server.data().join("tmp")).is_empty());
    assert_no_movie(&mut admin, &film);
}

#[test]
fn a_disconnect_mid_upload_leaves_nothing_behind() {
    let server = server(0);
    let tmp = server.data().join("tmp");
    let mut admin = root(&server);
    let film = content(504, 4 << 20);
    let mut quitter = root(&server);
    start_upload(&mut quitter, "cut.mp4", &film, 1 << 20);
    eventually("the temporary file", Duration::from_secs(5), || {
        !files_under(&tmp).is_empty()
    });
    assert_eq!(read_direct(&mut admin), 1);
    drop(quitter);
    eventually("the temporary file to go", Duration::from_secs(5), || {
        files_under(&tmp).is_empty()
    });
    eventually("the slot to come back", Duration::from_secs(5), || {
        info(&mut admin)["transfers"] == json!(0)
    });
    assert_no_movie(&mut admin, &film);
    assert!(files_under(&server.data().join("blobs")).is_empty());
}

/// `ping` on another connection while a large payload streams in. The bound is far over a
/// loaded machine's scheduling noise (speed belongs to kino-bench, not to a unit test); the
/// loop reading the payload would still pass it, so the counter says who read it.
#[test]
fn ping_is_answered_during_a_large_upload() {
    let server = server(0);
    let mut admin = root(&server);
    let film = content(505, 32 << 20);
    let mut uploader = root(&server);
    let big = film.clone();
    let upload = std::thread::spawn(move || {
        upload(&mut uploader, "big.mp4", &big, true).unwrap()["size"].clone()
    });
    let mut pinger = guarded(server.client());
    let mut slowest = Duration::ZERO;
    let mut pings = 0;
    while !upload.is_finished() {
        let t = Instant::now();
        assert_eq!(pinger.call("ping", json!({})).unwrap(), json!("pong"));
        slowest = slowest.max(t.elapsed());
        pings += 1;
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(upload.join().unwrap(), json!(32 << 20));
    eprintln!("{pings} pings during a 32 MiB upload, slowest {slowest:?}");
    assert!(pings >= 3, "only {pings} pings");
    assert!(
        slowest < Duration::from_millis(250),
        "ping took {slowest:?}"
    );
    assert_eq!(read_direct(&mut admin), 1);
}

/// A resume sent while the cut-off request still holds its upload (its thread waits for bytes
/// that will never come) is refused `busy` by the handler after the payload was handed to that
/// handler's thread: the rest of the payload is discarded by the loop and the same connection
/// stays in step (a `ping` right after is answered); once the first request lets go, the
/// retried resume on that connection stores the rest and the movie downloads whole.
#[test]
fn a_busy_resume_is_discarded_in_step_and_retried_until_it_lands() {
    let server = TestServer::with_admin(plugins(), |mut c| {
        c.limits.max_transfers_per_user = 4;
        c.setting("free-download-wait", json!(0))
    });
    let mut admin = root(&server);
    let film = content(506, 6 << 20);
    let id = "5eed0b05c0ffee000000000000000506";
    let args = |offset: u64| {
        json!({"name": "busy.mp4", "md5": md5_hex(&film), "free": true,
               "upload_id": id, "offset": offset})
    };
    let mut first = root(&server);
    let mut opening = args(0);
    opening["file_size"] = json!(film.len());
    first.send(&request("movies.upload", opening)).unwrap();
    first.send_raw(&film[..1 << 20]).unwrap();
    first.flush().unwrap();
    let stored = |admin: &mut Client| {
        admin
            .call("movies.upload_status", json!({"upload_id": id}))
            .map(|s| s["stored"].as_u64().unwrap())
    };
    eventually(
        "the first request to store its bytes",
        Duration::from_secs(10),
        || stored(&mut admin).is_ok_and(|n| n >= 1 << 20),
    );
    let mut second = root(&server);
    let from = stored(&mut second).unwrap();
    let rest = &film[from as usize..];
    let refused = second.upload(
        "movies.upload",
        args(from),
        &mut &rest[..],
        rest.len() as u64,
        &mut |_| {},
    );
    assert_eq!(code(refused), kino_api::ErrorCode::Busy);
    assert_eq!(second.call("ping", json!({})).unwrap(), json!("pong"));
    assert_eq!(
        read_direct(&mut admin),
        2,
        "both payloads went by their threads"
    );
    drop(first);
    let deadline = Instant::now() + Duration::from_secs(10);
    let movie = loop {
        let from = stored(&mut second).unwrap();
        let rest = &film[from as usize..];
        match second.upload(
            "movies.upload",
            args(from),
            &mut &rest[..],
            rest.len() as u64,
            &mut |_| {},
        ) {
            Ok(movie) => break movie,
            Err(e) if e.code() == Some(kino_api::ErrorCode::Busy) => {
                assert!(Instant::now() < deadline, "never resumed: {e}");
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => panic!("resume failed: {e}"),
        }
    };
    let (_, got) = download(&mut second, movie["id"].as_i64().unwrap(), None).unwrap();
    assert!(got == film, "the resumed upload downloads byte-identical");
}
