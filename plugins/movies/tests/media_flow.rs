//! The original video service end to end, on the real server: the admin's view (operator-made
//! admin logs in, checks and uploads a free and a charged movie, lists, deletes, publishes a
//! notice) and the user's (registers, logs in and sees the notice, reads notices, lists all /
//! free / charge, waits for a free download, buys a charged movie, buys VIP, downloads without
//! waiting, resumes, reads its records), then the admin's statistics.
#![allow(clippy::unwrap_used)]

mod media_support;

use std::time::{Duration, Instant};

use kino_api::serde_json::{json, Value};
use kino_api::ErrorCode;
use media_support::*;

/// The wait configured for these tests.
const WAIT: Duration = Duration::from_secs(1);

#[test]
fn original_flow_admin_then_user() {
    let server = server(WAIT.as_secs());

    // Admin: `root` was made by the operator command before the server started.
    let mut admin = root(&server);
    let free_film = content(1, 300_000);
    let charged_film = content(2, 200_000);
    let doomed_film = content(3, 1000);

    let check = admin
        .call("movies.check", json!({"md5": md5_hex(&free_film)}))
        .unwrap();
    assert_eq!(check, json!({"exists": false, "id": null}));
    let free = upload(
        &mut admin,
        "/home/root/films/Free Film.mp4",
        &free_film,
        true,
    )
    .unwrap();
    assert_eq!(free["name"], json!("Free Film.mp4"));
    assert_eq!(free["free"], json!(true));
    assert_eq!(free["size"], json!(300_000));
    assert_eq!(free["md5"], json!(md5_hex(&free_film)));
    assert_eq!(free["restored"], json!(false));
    let free_id = free["id"].as_i64().unwrap();
    let check = admin
        .call("movies.check", json!({"md5": md5_hex(&free_film)}))
        .unwrap();
    assert_eq!(check, json!({"exists": true, "id": free_id}));

    let charged_id = upload_id(&mut admin, "C:\\films\\Charged.mkv", &charged_film, false);
    let doomed_id = upload_id(&mut admin, "doomed.avi", &doomed_film, true);
    assert_eq!(
        listed(&mut admin, "all"),
        ["doomed.avi", "Charged.mkv", "Free Film.mp4"]
    );
    let deleted = admin
        .call("movies.delete", json!({"movie_id": doomed_id}))
        .unwrap();
    assert_eq!(
        deleted,
        json!({"id": doomed_id, "name": "doomed.avi", "deleted": true})
    );
    assert_eq!(listed(&mut admin, "all"), ["Charged.mkv", "Free Film.mp4"]);

    let notice = admin
        .call(
            "notices.publish",
            json!({"title": "Welcome", "content": "Two new films this week."}),
        )
        .unwrap();
    assert_eq!(notice["title"], json!("Welcome"));
    assert_eq!(notice["author"], json!("root"));
    assert!(notice["created_at"].as_str().unwrap().ends_with('Z'));

    // User: the login reply carries the newest notice (notices plugin) and VIP state (vip).
    let (mut user, login) = register_and_login(&server, "alice");
    assert_eq!(login["notice"], notice);
    assert_eq!(login["is_vip"], json!(false));
    let notices = user.call("notices.list", json!({})).unwrap();
    assert_eq!(notices, json!([notice]));

    assert_eq!(listed(&mut user, "all"), ["Charged.mkv", "Free Film.mp4"]);
    assert_eq!(listed(&mut user, "free"), ["Free Film.mp4"]);
    assert_eq!(listed(&mut user, "charge"), ["Charged.mkv"]);
    let all = user.call("movies.list", json!({})).unwrap();
    assert_eq!(all[0]["free"], json!(false));
    assert_eq!(all[1]["size"], json!(300_000));

    // A free movie for a non-VIP: the reply (and its bytes) arrive only after the wait.
    let started = Instant::now();
    let (reply, bytes) = download(&mut user, free_id, None).unwrap();
    let waited = started.elapsed();
    assert!(waited >= WAIT, "the free download started after {waited:?}");
    assert!(waited < WAIT + Duration::from_millis(900), "{waited:?}");
    assert_eq!(reply["wait_s"], json!(WAIT.as_secs()));
    assert_eq!(reply["size"], json!(300_000));
    assert_eq!(reply["file_size"], json!(300_000));
    assert_eq!(reply["offset"], json!(0));
    assert_eq!(reply["name"], json!("Free Film.mp4"));
    assert!(bytes == free_film, "downloaded bytes differ");
    records_eventually(&mut user, 1);

    // A charged movie: refused until bought, at the regular price.
    assert_eq!(
        code(download(&mut user, charged_id, None)),
        ErrorCode::PaymentRequired
    );
    let bought = user
        .call("movies.buy", json!({"movie_id": charged_id}))
        .unwrap();
    assert_eq!(bought["amount"], json!(10));
    assert_eq!(bought["is_vip"], json!(false));
    assert_eq!(bought["name"], json!("Charged.mkv"));
    let started = Instant::now();
    let (reply, bytes) = download(&mut user, charged_id, None).unwrap();
    assert!(started.elapsed() < Duration::from_millis(500));
    assert_eq!(reply["wait_s"], json!(0));
    assert_eq!(md5_hex(&bytes), md5_hex(&charged_film));
    records_eventually(&mut user, 2);

    // VIP: no wait for free movies, at once on another session opened before buying.
    let mut other_session = guarded(server.client());
    other_session
        .call(
            "auth.login",
            json!({"name": "alice", "password": "pw-of-user"}),
        )
        .unwrap();
    let vip = user.call("vip.buy", json!({})).unwrap();
    assert_eq!(vip["is_vip"], json!(true));
    assert_eq!(vip["amount"], json!(30));
    assert_eq!(
        user.call("vip.status", json!({})).unwrap(),
        json!({"is_vip": true, "since": vip["since"]})
    );
    let started = Instant::now();
    let (reply, bytes) = download(&mut other_session, free_id, None).unwrap();
    assert!(started.elapsed() < Duration::from_millis(500));
    assert_eq!(reply["wait_s"], json!(0));
    assert!(bytes == free_film);
    // A record is written once the last byte went out, on a worker, so it can land after the
    // client has read that byte and started its next download: "newest first" is the order in
    // which downloads ended at the server. Each is awaited before the next starts.
    records_eventually(&mut user, 3);

    // Resume from an offset: `size` is the whole file, `file_size` what follows.
    let (reply, tail) = download(&mut user, free_id, Some(123_456)).unwrap();
    assert_eq!(reply["offset"], json!(123_456));
    assert_eq!(reply["size"], json!(300_000));
    assert_eq!(reply["file_size"], json!(300_000 - 123_456));
    assert!(tail[..] == free_film[123_456..]);

    // Records: the caller's own, newest first, with names and byte counts.
    let records = records_eventually(&mut user, 4);
    let summary: Vec<(Value, Value, Value)> = records
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["name"].clone(), r["offset"].clone(), r["bytes"].clone()))
        .collect();
    assert_eq!(
        summary,
        [
            (
                json!("Free Film.mp4"),
                json!(123_456),
                json!(300_000 - 123_456)
            ),
            (json!("Free Film.mp4"), json!(0), json!(300_000)),
            (json!("Charged.mkv"), json!(0), json!(200_000)),
            (json!("Free Film.mp4"), json!(0), json!(300_000)),
        ]
    );
    assert!(records[0]["downloaded_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(records[0]["movie_id"], json!(free_id));

    // A new login now says VIP.
    let (_, login) = kino_testkit::login(&server, "alice", "pw-of-user");
    assert_eq!(login["is_vip"], json!(true));

    // The admin's statistics: per movie (deleted included), then the totals row.
    let stats = admin.call("movies.stats", json!({})).unwrap();
    assert_eq!(
        stats,
        json!([
            {"id": free_id, "name": "Free Film.mp4", "free": true, "deleted": false,
             "damaged": false, "downloads": 3, "bytes_sent": 600_000 + 300_000 - 123_456,
             "purchases": 0, "revenue": 0},
            {"id": charged_id, "name": "Charged.mkv", "free": false, "deleted": false,
             "damaged": false, "downloads": 1, "bytes_sent": 200_000, "purchases": 1, "revenue": 10},
            {"id": doomed_id, "name": "doomed.avi", "free": true, "deleted": true,
             "damaged": false, "downloads": 0, "bytes_sent": 0, "purchases": 0, "revenue": 0},
            {"id": null, "name": "total", "free": null, "deleted": null,
             "damaged": null, "downloads": 4, "bytes_sent": 1_100_000 - 123_456, "purchases": 1, "revenue": 10},
        ])
    );
}

#[test]
fn vip_pays_the_vip_price_and_notices_come_newest_first() {
    let server = server(0);
    let mut admin = root(&server);
    let first = upload_id(&mut admin, "one.mp4", &content(10, 5000), false);
    let second = upload_id(&mut admin, "two.mp4", &content(11, 5000), false);

    let (_, login) = register_and_login(&server, "bob");
    assert_eq!(login["notice"], json!(null), "no notice published yet");
    for (title, content) in [("First", "one"), ("Second", "two"), ("Third", "three")] {
        admin
            .call(
                "notices.publish",
                json!({"title": title, "content": content}),
            )
            .unwrap();
    }
    let (mut bob, login) = kino_testkit::login(&server, "bob", "pw-of-user");
    assert_eq!(login["notice"]["title"], json!("Third"));
    let titles: Vec<Value> = bob
        .call("notices.list", json!({}))
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["title"].clone())
        .collect();
    assert_eq!(titles, [json!("Third"), json!("Second"), json!("First")]);
    let page = bob
        .call("notices.list", json!({"limit": 1, "offset": 1}))
        .unwrap();
    assert_eq!(page[0]["title"], json!("Second"));

    assert_eq!(
        bob.call("movies.buy", json!({"movie_id": first})).unwrap()["amount"],
        json!(10)
    );
    bob.call("vip.buy", json!({})).unwrap();
    let bought = bob.call("movies.buy", json!({"movie_id": second})).unwrap();
    assert_eq!(
        (bought["amount"].clone(), bought["is_vip"].clone()),
        (json!(5), json!(true))
    );
    let (_, bytes) = download(&mut bob, second, None).unwrap();
    assert!(bytes == content(11, 5000));
    let stats = admin.call("movies.stats", json!({})).unwrap();
    assert_eq!(stats[2]["revenue"], json!(15), "{stats}");
}

#[test]
fn prices_follow_the_settings() {
    let server = kino_testkit::TestServer::with_admin(plugins(), |c| {
        c.setting("movie-price", json!(12))
            .setting("movie-price-vip", json!(7))
            .setting("vip-price", json!(99))
    });
    let mut admin = root(&server);
    let a = upload_id(&mut admin, "a.mp4", &content(20, 100), false);
    let b = upload_id(&mut admin, "b.mp4", &content(21, 100), false);
    let (mut user, _) = register_and_login(&server, "carol");
    assert_eq!(
        user.call("movies.buy", json!({"movie_id": a})).unwrap()["amount"],
        json!(12)
    );
    assert_eq!(
        user.call("vip.buy", json!({})).unwrap()["amount"],
        json!(99)
    );
    assert_eq!(
        user.call("movies.buy", json!({"movie_id": b})).unwrap()["amount"],
        json!(7)
    );
}
