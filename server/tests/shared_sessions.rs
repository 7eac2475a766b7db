//! Sessions live in the database: two servers on one database (each with its own data
//! directory, as two nodes behind a load balancer) share them. A session made on one works on
//! the other; a logout, an `auth.lock` or a password change on one ends the session on the
//! other within a second. On SQLite always; on PostgreSQL when it is installed (see
//! `kino_testkit::pg`).
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use kino_api::serde_json::{json, Value};
use kino_client::Client;
use kino_testkit::{pg, TestServer};

/// The bound the issue sets for another node to notice an ended session.
const WITHIN: Duration = Duration::from_secs(1);

fn node(database: &str) -> TestServer {
    let database = database.to_owned();
    TestServer::with(kino_testkit::with_auth(Vec::new()), move |mut c| {
        c.database = Some(database);
        c.setting("allow-admin-signup", json!(true))
    })
}

fn login(c: &mut Client, name: &str, password: &str) -> String {
    let reply = c
        .call("auth.login", json!({"name": name, "password": password}))
        .unwrap();
    reply["session"].as_str().unwrap().to_owned()
}

fn who(c: &mut Client, token: &str) -> Value {
    let reply = c.call("whoami", json!({"session": token})).unwrap();
    if reply["logged_in"] == json!(true) {
        reply["name"].clone()
    } else {
        Value::Null
    }
}

/// Polls `node` until `token` is refused there; returns how long that took.
fn refused_within(c: &mut Client, token: &str) -> Duration {
    let start = Instant::now();
    while who(c, token) != Value::Null {
        assert!(
            start.elapsed() < WITHIN * 3,
            "the session still works on the other node"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    start.elapsed()
}

fn shared_by_two_nodes(database: &str) {
    let a = node(database);
    let b = node(database);
    let (mut ca, mut cb) = (a.client(), b.client());
    ca.call(
        "auth.register",
        json!({"name": "boss", "password": "pw-of-boss", "role": "admin"}),
    )
    .unwrap();
    ca.call(
        "auth.register",
        json!({"name": "eve", "password": "pw-of-eve"}),
    )
    .unwrap();

    // Made on A, works on B.
    let token = login(&mut ca, "eve", "pw-of-eve");
    assert_eq!(who(&mut cb, &token), json!("eve"));

    // Logout on A ends it on B within a second.
    ca.call("auth.logout", json!({"session": token})).unwrap();
    let took = refused_within(&mut cb, &token);
    assert!(took <= WITHIN, "logout reached B after {took:?}");

    // An admin's lock on A ends it on B.
    let token = login(&mut ca, "eve", "pw-of-eve");
    assert_eq!(who(&mut cb, &token), json!("eve"));
    let boss = login(&mut ca, "boss", "pw-of-boss");
    ca.call("auth.lock", json!({"session": boss, "name": "eve"}))
        .unwrap();
    let took = refused_within(&mut cb, &token);
    assert!(took <= WITHIN, "lock reached B after {took:?}");
    ca.call("auth.unlock", json!({"session": boss, "name": "eve"}))
        .unwrap();

    // A password change on A ends eve's other sessions on B, and keeps the one that changed it.
    let other = login(&mut cb, "eve", "pw-of-eve");
    let mine = login(&mut ca, "eve", "pw-of-eve");
    ca.call(
        "auth.passwd",
        json!({"session": mine, "old": "pw-of-eve", "new": "new-pw-of-eve"}),
    )
    .unwrap();
    let took = refused_within(&mut cb, &other);
    assert!(took <= WITHIN, "password change reached B after {took:?}");
    assert_eq!(who(&mut cb, &mine), json!("eve"));
}

#[test]
fn two_sqlite_nodes_share_sessions() {
    let shared = tempfile::tempdir().unwrap();
    shared_by_two_nodes(&format!(
        "sqlite:{}",
        shared.path().join("kino.db").display()
    ));
}

#[test]
fn two_postgres_nodes_share_sessions() {
    let Some(cluster) = pg::cluster() else { return };
    shared_by_two_nodes(&cluster.new_database());
}

/// The database holds a hash of each token, never the token.
#[test]
fn the_database_never_holds_a_token() {
    let shared = tempfile::tempdir().unwrap();
    let path = shared.path().join("kino.db");
    let a = node(&format!("sqlite:{}", path.display()));
    let mut c = a.client();
    c.call(
        "auth.register",
        json!({"name": "tom", "password": "pw-of-tom"}),
    )
    .unwrap();
    let token = login(&mut c, "tom", "pw-of-tom");
    let db = rusqlite::Connection::open(&path).unwrap();
    let stored: Vec<String> = db
        .prepare("SELECT token_hash FROM kino_sessions")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(stored.len(), 1);
    assert!(!stored.iter().any(|h| h.contains(&token)));
}

/// Login failures are counted in the database: guesses spread over two nodes meet one limit.
fn failures_count_across_nodes(database: &str) {
    let node = |db: &str| {
        let db = db.to_owned();
        TestServer::with(kino_testkit::with_auth(Vec::new()), move |mut c| {
            c.database = Some(db);
            c.setting("login-failures-per-account-address", json!(4))
        })
    };
    let (a, b) = (node(database), node(database));
    let (mut ca, mut cb) = (a.client(), b.client());
    ca.call(
        "auth.register",
        json!({"name": "sam", "password": "pw-of-sam"}),
    )
    .unwrap();
    for i in 0..4 {
        let c = if i % 2 == 0 { &mut ca } else { &mut cb };
        let r = c.call("auth.login", json!({"name": "sam", "password": "wrong"}));
        let code = r.unwrap_err().code();
        assert_eq!(
            code,
            Some(kino_api::ErrorCode::Unauthenticated),
            "guess {i}"
        );
    }
    for c in [&mut ca, &mut cb] {
        let r = c.call(
            "auth.login",
            json!({"name": "sam", "password": "pw-of-sam"}),
        );
        assert_eq!(
            r.unwrap_err().code(),
            Some(kino_api::ErrorCode::RateLimited)
        );
    }
}

#[test]
fn login_failures_count_across_sqlite_nodes() {
    let shared = tempfile::tempdir().unwrap();
    failures_count_across_nodes(&format!(
        "sqlite:{}",
        shared.path().join("kino.db").display()
    ));
}

#[test]
fn login_failures_count_across_postgres_nodes() {
    let Some(cluster) = pg::cluster() else { return };
    failures_count_across_nodes(&cluster.new_database());
}

/// Two nodes starting at once on one SQLite file (`--database sqlite:PATH`) migrate once: each
/// migration re-reads the version under the write lock.
#[test]
fn two_sqlite_nodes_starting_at_once_migrate_once() {
    use std::sync::{Arc, Barrier};
    for _ in 0..5 {
        let shared = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", shared.path().join("kino.db").display());
        let barrier = Arc::new(Barrier::new(2));
        let nodes: Vec<_> = (0..2)
            .map(|_| {
                let (url, barrier) = (url.clone(), Arc::clone(&barrier));
                std::thread::spawn(move || {
                    let dir = tempfile::tempdir().unwrap();
                    let mut config = kino_testkit::fast_auth(kino_server::Config::new(dir.path()));
                    config.database = Some(url);
                    let plugins: Vec<std::sync::Arc<dyn kino_api::Plugin>> = vec![
                        Arc::new(kino_auth::Auth::new()),
                        Arc::new(kino_vip::Vip),
                        Arc::new(kino_movies::Movies),
                        Arc::new(kino_melody::Melody),
                    ];
                    barrier.wait();
                    kino_server::Core::open(config, plugins).map(drop)
                })
            })
            .collect();
        for n in nodes {
            n.join().unwrap().expect("both nodes start");
        }
    }
}
