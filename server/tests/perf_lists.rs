//! `movies.list` and `notices.list` pages are remembered and answered from the event loop until
//! their table is written: on this node at once, by another node on the same database within
//! `SNAPSHOT_TTL`. Read with the pool busy, so an answer that went through the pool would wait.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use kino_api::changes::SNAPSHOT_TTL;
use kino_api::serde_json::{json, Value};
use kino_api::{CmdError, Command, Ctx, Output, Plugin};
use kino_client::Client;
use kino_testkit::{admin_client, TestServer};
use md5::{Digest, Md5};

/// Holds the only pool worker.
struct Stall;

fn stall(_: &mut Ctx, _: ()) -> Result<Output, CmdError> {
    std::thread::sleep(Duration::from_millis(1500));
    Ok(json!("stalled").into())
}

impl Plugin for Stall {
    fn name(&self) -> &'static str {
        "stall"
    }
    fn commands(&self) -> Vec<Command> {
        vec![Command::new(
            "stall.pool",
            "hold a pool worker 1.5 s",
            stall,
        )]
    }
}

fn plugins() -> Vec<Arc<dyn Plugin>> {
    kino_testkit::with_auth(vec![
        kino_notices::plugin(),
        kino_vip::plugin(),
        kino_movies::plugin(),
        Arc::new(Stall),
    ])
}

fn node(database: Option<String>) -> TestServer {
    TestServer::with_admin(plugins(), move |mut c| {
        c.limits.workers = 1;
        if database.is_some() {
            c.database = database;
        }
        c
    })
}

fn upload(admin: &mut Client, name: &str) -> u64 {
    let bytes = name.as_bytes();
    let md5 = hex::encode(Md5::digest(bytes));
    let r = admin
        .upload(
            "movies.upload",
            json!({"name": name, "md5": md5, "free": true}),
            &mut &bytes[..],
            bytes.len() as u64,
            &mut |_| {},
        )
        .unwrap();
    r["id"].as_u64().unwrap()
}

fn names(c: &mut Client, command: &str, field: &str) -> Vec<String> {
    let rows = c.call(command, json!({})).unwrap();
    rows.as_array()
        .unwrap()
        .iter()
        .map(|r| r[field].as_str().unwrap().to_owned())
        .collect()
}

fn publish(admin: &mut Client, title: &str) {
    admin
        .call("notices.publish", json!({"title": title, "content": "x"}))
        .unwrap();
}

/// With the only pool worker held for 1.5 s, lists already read are answered at once (from the
/// loop), and every write on this node (upload, delete, publish) shows in the next list.
#[test]
fn lists_are_answered_from_the_loop_and_every_write_shows_at_once() {
    let s = node(None);
    let mut admin = admin_client(&s, "root");
    let mut holder = admin_client(&s, "root");
    let first = upload(&mut admin, "first.mp4");
    publish(&mut admin, "one");
    // The reply from the snapshot (bytes serialised once) is the handler's, field for field.
    for command in ["movies.list", "notices.list"] {
        let ask = json!({"type": command, "id": "x-7", "limit": 5});
        admin.send(&ask).unwrap();
        let built = kino_api::serde_json::to_value(admin.recv().unwrap()).unwrap();
        admin.send(&ask).unwrap();
        let remembered = kino_api::serde_json::to_value(admin.recv().unwrap()).unwrap();
        assert_eq!(built, remembered);
        assert_eq!(remembered["page"]["total"], json!(1), "{remembered}");
        assert_eq!(remembered["id"], json!("x-7"));
    }
    // Read once: remembered from here, for SNAPSHOT_TTL at most.
    assert_eq!(names(&mut admin, "movies.list", "name"), ["first.mp4"]);
    assert_eq!(names(&mut admin, "notices.list", "title"), ["one"]);
    let remembered_at = Instant::now();
    holder.send(&json!({"type": "stall.pool"})).unwrap();
    holder.flush().unwrap();
    let stall_sent = Instant::now();
    std::thread::sleep(Duration::from_millis(50));
    // Lists asked while the snapshot is surely fresh (well inside SNAPSHOT_TTL, however slow
    // the machine), for as long as that lasts.
    let mut asked = 0;
    loop {
        assert_eq!(names(&mut admin, "movies.list", "name"), ["first.mp4"]);
        assert_eq!(names(&mut admin, "notices.list", "title"), ["one"]);
        asked += 2;
        if asked >= 40 || remembered_at.elapsed() >= SNAPSHOT_TTL * 3 / 5 {
            break;
        }
    }
    // A list that went through the pool would have waited for the 1.5 s stall to end.
    let answered_within = stall_sent.elapsed();
    assert!(
        answered_within < Duration::from_millis(1500),
        "{asked} lists were answered {answered_within:?} after the pool was stalled: they waited for it"
    );
    let stalled = kino_client::into_data(holder.recv().unwrap()).unwrap();
    assert_eq!(stalled, json!("stalled"));

    let second = upload(&mut admin, "second.mp4");
    assert_eq!(
        names(&mut admin, "movies.list", "name"),
        ["second.mp4", "first.mp4"]
    );
    admin
        .call("movies.delete", json!({"movie_id": first}))
        .unwrap();
    assert_eq!(names(&mut admin, "movies.list", "name"), ["second.mp4"]);
    publish(&mut admin, "two");
    assert_eq!(names(&mut admin, "notices.list", "title"), ["two", "one"]);
    // Another page is its own snapshot.
    let page = admin
        .call("notices.list", json!({"limit": 1, "offset": 1}))
        .unwrap();
    assert_eq!(page[0]["title"], json!("one"));
    assert!(second > first);
}

/// Two nodes on one database: a write on one shows in the other's lists within the snapshot
/// TTL (it cannot see the other's writes, only their age), never later. Notices only: each
/// node here keeps movie files in a data folder of its own.
#[test]
fn another_nodes_write_shows_within_the_snapshot_ttl() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("shared.db").display());
    let node = |db: String| {
        TestServer::with(plugins(), move |mut c| {
            c.database = Some(db);
            c.setting("allow-admin-signup", json!(true))
        })
    };
    let (a, b) = (node(db.clone()), node(db));
    let mut on_a = a.client();
    on_a.call(
        "auth.register",
        json!({"name": "boss", "password": "pw-of-boss", "role": "admin"}),
    )
    .unwrap();
    let login = json!({"name": "boss", "password": "pw-of-boss"});
    on_a.call("auth.login", login.clone()).unwrap();
    let mut on_b = b.client();
    on_b.call("auth.login", login).unwrap();
    publish(&mut on_a, "one");
    assert_eq!(names(&mut on_b, "notices.list", "title"), ["one"]);
    publish(&mut on_a, "two");
    let t0 = Instant::now();
    while names(&mut on_b, "notices.list", "title").len() < 2 {
        assert!(
            t0.elapsed() < SNAPSHOT_TTL + Duration::from_millis(400),
            "node b still lists one notice after {:?}",
            t0.elapsed()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let _: Value = on_b.call("ping", json!({})).unwrap();
}
