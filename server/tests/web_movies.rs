//! `GET /movies/<id>` over real HTTP: ranges (first, middle, last, suffix, invalid), the
//! free-download wait held by the server and not repeated on a seek, purchases, and the
//! download record rule (a response that reaches the last byte, sent whole).
#![allow(clippy::unwrap_used)]

mod web_support;

use std::io::Write;
use std::time::{Duration, Instant};

use serde_json::json;
use web_support::{api, http, login, pattern, start, upload};

fn get(
    s: &web_support::WebServer,
    cookie: &str,
    id: u64,
    range: Option<&str>,
) -> web_support::Resp {
    let mut h = vec![("Cookie", cookie)];
    if let Some(r) = range {
        h.push(("Range", r));
    }
    http(s.web, "GET", &format!("/movies/{id}"), &h, b"")
}

#[test]
fn ranges_first_middle_last_suffix_and_invalid() {
    let s = start(&["--free-download-wait", "0"]);
    let root = login(s.web, "root");
    let bytes = pattern(10_000);
    let id = upload(s.web, &root, "clip.MP4", true, &bytes);
    let user = login(s.web, "bob");

    let whole = get(&s, &user, id, None);
    assert_eq!(whole.status, 200);
    assert_eq!(whole.body, bytes);
    assert_eq!(whole.header("accept-ranges"), Some("bytes"));
    assert_eq!(whole.header("content-type"), Some("video/mp4"));

    for (range, start, end) in [
        ("bytes=0-99", 0, 99),
        ("bytes=5000-5009", 5000, 5009),
        ("bytes=9990-", 9990, 9999),
        ("bytes=9000-20000", 9000, 9999),
        ("bytes=-25", 9975, 9999),
    ] {
        let r = get(&s, &user, id, Some(range));
        assert_eq!(r.status, 206, "{range}");
        assert_eq!(r.body, bytes[start..=end], "{range}");
        assert_eq!(
            r.header("content-range"),
            Some(format!("bytes {start}-{end}/10000").as_str())
        );
    }
    for bad in ["bytes=10000-", "bytes=50-10", "bytes=-0", "bytes=abc"] {
        let r = get(&s, &user, id, Some(bad));
        assert_eq!(r.status, 416, "{bad}");
        assert_eq!(r.header("content-range"), Some("bytes */10000"), "{bad}");
    }
    let r = get(&s, &user, 999, Some("bytes=0-1"));
    assert_eq!(r.status, 404);
    let r = http(s.web, "GET", &format!("/movies/{id}"), &[], b"");
    assert_eq!(r.status, 401, "no session, no movie");
}

/// A non-VIP user's first request of a free movie is held for the wait; a seek (another range)
/// right after starts at once; another user waits again; hanging up during the wait earns
/// nothing; a VIP never waits.
#[test]
fn the_free_wait_is_held_once_and_a_seek_does_not_wait_again() {
    let s = start(&["--free-download-wait", "2"]);
    let root = login(s.web, "root");
    let id = upload(s.web, &root, "free.webm", true, &pattern(5000));
    let user = login(s.web, "carol");
    let got = api(s.web, Some(&user), "movies.get", json!({"movie_id": id}));
    assert_eq!(got.json()["data"]["wait_s"], 2, "the page's countdown");

    // Hanging up during the wait earns no grant.
    {
        let mut c = std::net::TcpStream::connect(s.web).unwrap();
        let req = format!(
            "GET /movies/{id} HTTP/1.1\r\nHost: k\r\nCookie: {user}\r\nRange: bytes=0-\r\n\r\n"
        );
        c.write_all(req.as_bytes()).unwrap();
        std::thread::sleep(Duration::from_millis(300));
    }
    let t = Instant::now();
    let first = get(&s, &user, id, Some("bytes=0-"));
    assert_eq!(first.status, 206);
    assert!(
        t.elapsed() >= Duration::from_millis(1900),
        "held {:?}",
        t.elapsed()
    );

    let t = Instant::now();
    let seek = get(&s, &user, id, Some("bytes=4000-"));
    assert_eq!(seek.status, 206);
    assert!(
        t.elapsed() < Duration::from_millis(1500),
        "a seek waited {:?}",
        t.elapsed()
    );

    let other = login(s.web, "dave");
    let t = Instant::now();
    assert_eq!(get(&s, &other, id, Some("bytes=4000-")).status, 206);
    assert!(
        t.elapsed() >= Duration::from_millis(1900),
        "another user waits: {:?}",
        t.elapsed()
    );

    let vip = login(s.web, "erin");
    assert_eq!(api(s.web, Some(&vip), "vip.buy", json!({})).status, 200);
    let t = Instant::now();
    assert_eq!(get(&s, &vip, id, None).status, 200);
    assert!(
        t.elapsed() < Duration::from_millis(1500),
        "a VIP waited {:?}",
        t.elapsed()
    );
}

/// A charged movie is 402 until bought, then streams; a record is written only by a response
/// that reached the last byte, with that response's first byte as its offset.
#[test]
fn purchases_and_download_records() {
    let s = start(&["--free-download-wait", "0"]);
    let root = login(s.web, "root");
    let bytes = pattern(3000);
    let id = upload(s.web, &root, "paid.mp4", false, &bytes);
    let user = login(s.web, "frank");
    let r = get(&s, &user, id, Some("bytes=0-9"));
    assert_eq!((r.status, r.code().as_str()), (402, "payment_required"));
    assert_eq!(
        api(s.web, Some(&user), "movies.buy", json!({"movie_id": id})).status,
        200
    );
    assert_eq!(get(&s, &user, id, Some("bytes=0-9")).status, 206);
    let recs = api(s.web, Some(&user), "movies.records", json!({}));
    assert_eq!(
        recs.json()["data"],
        json!([]),
        "a partial range is no download"
    );
    let tail = get(&s, &user, id, Some("bytes=1000-"));
    assert_eq!(tail.body, bytes[1000..]);
    let recs = api(s.web, Some(&user), "movies.records", json!({})).json();
    let rows = recs["data"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{recs}");
    assert_eq!(
        (rows[0]["offset"].clone(), rows[0]["bytes"].clone()),
        (json!(1000), json!(2000))
    );
}
