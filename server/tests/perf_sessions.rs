//! Session lookups the cache cannot answer run on a pool worker, not on the event loop: while
//! the sessions table is locked (a slow or stuck database), the loop keeps answering everyone
//! else, and what a token means (live, unknown, ended, expired) is unchanged.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use kino_api::serde_json::{json, Value};
use kino_api::ErrorCode;
use kino_client::{Client, ClientError};
use kino_server::session::RECHECK;
use kino_testkit::{pg, TestServer};

/// Far below the lock's hold time: an answer this quick did not wait for the database.
const QUICK: Duration = Duration::from_millis(400);
/// How long the test keeps the sessions table locked.
const HOLD: Duration = Duration::from_millis(1500);

fn server(database: Option<String>, tweak: impl FnOnce(&mut kino_server::Config)) -> TestServer {
    TestServer::with(kino_testkit::with_auth(Vec::new()), move |mut c| {
        c.database = database;
        tweak(&mut c);
        c.setting("allow-admin-signup", json!(true))
    })
}

fn login(c: &mut Client, name: &str) -> String {
    let reply = c
        .call(
            "auth.login",
            json!({"name": name, "password": "pw-of-boss"}),
        )
        .unwrap();
    reply["session"].as_str().unwrap().to_owned()
}

fn register_and_login(s: &TestServer) -> (Client, String) {
    let mut c = s.client();
    c.call(
        "auth.register",
        json!({"name": "boss", "password": "pw-of-boss", "role": "admin"}),
    )
    .unwrap();
    let token = login(&mut c, "boss");
    (c, token)
}

fn who(c: &mut Client, token: &str) -> Value {
    c.call("whoami", json!({"session": token})).unwrap()["name"].clone()
}

fn users_refusal(c: &mut Client, token: &str) -> Option<ErrorCode> {
    match c.call("auth.users", json!({"session": token})) {
        Ok(_) => None,
        Err(ClientError::Server(e)) => Some(e.code),
        Err(e) => panic!("auth.users: {e}"),
    }
}

/// With `ACCESS EXCLUSIVE` held on `kino_sessions` (every read of it waits), three requests
/// whose session is not cached (more than the two pool workers) wait for the lookup, while a
/// `ping` and a `whoami` whose session the cache vouches for are answered at once: the loop
/// never waited. Once the lock is gone, the stale-but-live session resolves to its user and an
/// unknown token to nobody. Before this change the loop itself ran the lookup and every other
/// connection stalled for the whole hold. PostgreSQL: in SQLite's WAL mode no lock a test can
/// take blocks a reader; skips loudly when PostgreSQL is not installed.
#[test]
fn a_stuck_session_lookup_does_not_stall_the_loop() {
    let Some(cluster) = pg::cluster() else { return };
    let url = cluster.new_database();
    let s = server(Some(url.clone()), |c| c.limits.workers = 2);
    let (mut boss, stale) = register_and_login(&s);
    // Past the recheck: the next use of `stale` must read the database.
    std::thread::sleep(RECHECK + Duration::from_millis(200));

    let mut fresh_client = s.client();
    let fresh = login(&mut fresh_client, "boss");
    let fresh_at = Instant::now();
    let mut locker = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let mut lock = locker.transaction().unwrap();
    lock.batch_execute("LOCK TABLE kino_sessions IN ACCESS EXCLUSIVE MODE")
        .unwrap();
    let locked_at = Instant::now();

    let mut waiting: Vec<Client> = (0..3).map(|_| s.client()).collect();
    for (i, c) in waiting.iter_mut().enumerate() {
        let token = if i == 2 {
            "0123456789abcdef0123456789abcdef"
        } else {
            &stale
        };
        c.send(&json!({"type": "whoami", "session": token}))
            .unwrap();
        c.flush().unwrap();
    }
    std::thread::sleep(Duration::from_millis(100));

    let mut other = s.client();
    let t0 = Instant::now();
    assert_eq!(other.call("ping", json!({})).unwrap(), json!("pong"));
    let ping = t0.elapsed();
    assert!(ping < QUICK, "ping waited {ping:?} behind a session lookup");

    let t0 = Instant::now();
    let name = who(&mut fresh_client, &fresh);
    let cached = t0.elapsed();
    // Only meaningful while the cache still vouches for `fresh` (a loaded machine may take
    // longer than RECHECK to get here; then this session too needs the database).
    if fresh_at.elapsed() < RECHECK {
        assert_eq!(name, json!("boss"));
        assert!(cached < QUICK, "a cached session waited {cached:?}");
    }

    std::thread::sleep(HOLD.saturating_sub(locked_at.elapsed()));
    lock.commit().unwrap();
    let answers: Vec<Value> = waiting
        .iter_mut()
        .map(|c| kino_client::into_data(c.recv().unwrap()).unwrap())
        .collect();
    assert!(
        locked_at.elapsed() >= HOLD,
        "the lookups did not wait for the lock"
    );
    assert_eq!(answers[0]["name"], json!("boss"), "{answers:?}");
    assert_eq!(answers[1]["name"], json!("boss"), "{answers:?}");
    assert_eq!(answers[2]["logged_in"], json!(false), "{answers:?}");
    // The lookup refilled the cache: `stale` works again on the loop, as before.
    assert_eq!(who(&mut boss, &stale), json!("boss"));
}

/// What a token means is unchanged now that lookups leave the loop (SQLite): a live session
/// read back after the recheck still names its user and may run admin commands; an unknown
/// token is nobody and is refused `unauthenticated`; a logged-out one too; one idle past
/// `--session-ttl` is expired; pipelined requests behind a lookup are answered in order.
#[test]
fn session_meaning_is_unchanged_off_the_loop() {
    let s = server(None, |c| c.limits.session_ttl = Duration::from_secs(2));
    let (mut c, token) = register_and_login(&s);
    assert_eq!(who(&mut c, &token), json!("boss"));
    std::thread::sleep(RECHECK + Duration::from_millis(100));
    assert_eq!(users_refusal(&mut c, &token), None);
    assert_eq!(who(&mut c, &token), json!("boss"));

    let unknown = "0123456789abcdef0123456789abcdef";
    assert_eq!(who(&mut c, unknown), Value::Null);
    assert_eq!(
        users_refusal(&mut c, unknown),
        Some(ErrorCode::Unauthenticated)
    );

    // In order: a lookup, then a ping, then a cached whoami, sent at once.
    std::thread::sleep(RECHECK + Duration::from_millis(100));
    let mut p = s.client();
    p.send(&json!({"type": "whoami", "session": token, "id": 1}))
        .unwrap();
    p.send(&json!({"type": "ping", "id": 2})).unwrap();
    p.send(&json!({"type": "whoami", "session": unknown, "id": 3}))
        .unwrap();
    let ids: Vec<Value> = (0..3).map(|_| json!(p.recv().unwrap().id)).collect();
    assert_eq!(ids, vec![json!(1), json!(2), json!(3)]);

    let mut other = s.client();
    let ended = login(&mut other, "boss");
    other.call("auth.logout", json!({})).unwrap();
    std::thread::sleep(RECHECK + Duration::from_millis(100));
    assert_eq!(who(&mut c, &ended), Value::Null);

    // Idle past the TTL (2 s): expired, through the lookup path (the cache entry is stale).
    std::thread::sleep(Duration::from_millis(2600));
    assert_eq!(who(&mut c, &token), Value::Null);
    assert_eq!(
        users_refusal(&mut c, &token),
        Some(ErrorCode::Unauthenticated)
    );
}
