//! Hardening of logins and sessions (issue 9, items 7 and 8) on a real server: failed-login
//! limits per (account, address) and per address, counted atomically before any password
//! check; a login whose attempt cannot be recorded is refused; `auth.passwd` ends the other
//! sessions and its wrong old passwords count; logging out another token keeps one's own.
//!
//! Clients connect from chosen loopback addresses (all of 127.0.0.0/8 is local on Linux), so
//! one test plays an attacker at one address and the owner at another.
#![allow(clippy::unwrap_used)]

#[path = "../../legacy/tests/legacy_support/mod.rs"]
mod legacy_support;

use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use kino_api::serde_json::{json, Value};
use kino_api::ErrorCode;
use kino_client::Client;
use kino_testkit::{ClientError, TestServer};
use legacy_support::{md5_hex, Legacy};
use socket2::{Domain, Socket, Type};

fn code(r: Result<Value, ClientError>) -> Option<ErrorCode> {
    r.err().and_then(|e| e.code())
}

/// A TCP stream to `to` from the loopback address `from`.
fn stream_from(from: &str, to: SocketAddr) -> TcpStream {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    let local: IpAddr = from.parse().unwrap();
    socket.bind(&SocketAddr::new(local, 0).into()).unwrap();
    socket.connect(&to.into()).unwrap();
    socket.into()
}

fn client_from(server: &TestServer, from: &str) -> Client {
    Client::from_stream(stream_from(from, server.addr)).unwrap()
}

fn login_from(
    server: &TestServer,
    from: &str,
    name: &str,
    password: &str,
) -> Result<Value, ClientError> {
    client_from(server, from).call("auth.login", json!({"name": name, "password": password}))
}

fn register(server: &TestServer, name: &str, password: &str) {
    server
        .client()
        .call("auth.register", json!({"name": name, "password": password}))
        .unwrap();
}

#[test]
fn guesses_from_one_address_do_not_lock_the_owner_out_from_another() {
    let server = TestServer::start();
    register(&server, "alice", "alice-pass-1");
    for _ in 0..5 {
        let r = login_from(&server, "127.0.0.2", "alice", "guess-guess");
        assert_eq!(code(r), Some(ErrorCode::Unauthenticated));
    }
    // The attacker's address is spent, even with the right password...
    let r = login_from(&server, "127.0.0.2", "alice", "alice-pass-1");
    assert_eq!(code(r), Some(ErrorCode::RateLimited));
    // ...while the owner logs in from anywhere else.
    let me = login_from(&server, "127.0.0.3", "alice", "alice-pass-1").unwrap();
    assert_eq!(me["name"], json!("alice"));
    assert!(server
        .client()
        .call(
            "auth.login",
            json!({"name": "alice", "password": "alice-pass-1"})
        )
        .is_ok());
}

#[test]
fn parallel_guesses_get_at_most_the_budget_of_password_checks() {
    // The real argon2 cost, so checks overlap on the workers as they do in production.
    let server = TestServer::with(kino_testkit::with_auth(vec![]), |c| {
        c.setting("argon2-memory-kib", json!(19_456))
            .setting("argon2-iterations", json!(2))
    });
    register(&server, "bob", "bob-pass-12");
    let n = 40;
    let start = Arc::new(Barrier::new(n));
    let addr = server.addr;
    let threads: Vec<_> = (0..n)
        .map(|_| {
            let start = Arc::clone(&start);
            std::thread::spawn(move || {
                let mut c = Client::from_stream(stream_from("127.0.0.4", addr)).unwrap();
                start.wait();
                code(c.call(
                    "auth.login",
                    json!({"name": "bob", "password": "not-it-at-all"}),
                ))
            })
        })
        .collect();
    let codes: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let checked = codes
        .iter()
        .filter(|c| **c == Some(ErrorCode::Unauthenticated))
        .count();
    let refused = codes
        .iter()
        .filter(|c| **c == Some(ErrorCode::RateLimited))
        .count();
    // Only a password that was really checked can answer `unauthenticated`.
    assert_eq!(checked, 5, "real password checks: {codes:?}");
    assert_eq!(refused, n - 5, "{codes:?}");
}

#[test]
fn one_address_trying_many_accounts_is_throttled() {
    let server = TestServer::with(kino_testkit::with_auth(vec![]), |c| {
        c.setting("login-failures-per-address", json!(6))
    });
    for i in 0..8 {
        register(&server, &format!("user{i}"), "user-pass-1");
    }
    let mut codes = Vec::new();
    for i in 0..8 {
        codes.push(code(login_from(
            &server,
            "127.0.0.5",
            &format!("user{i}"),
            "password-spray",
        )));
    }
    assert_eq!(
        codes,
        [
            vec![Some(ErrorCode::Unauthenticated); 6],
            vec![Some(ErrorCode::RateLimited); 2]
        ]
        .concat()
    );
    // Names that do not exist are counted the same, so `rate_limited` reveals no names.
    let r = login_from(&server, "127.0.0.5", "nobody-at-all", "password-spray");
    assert_eq!(code(r), Some(ErrorCode::RateLimited));
    assert!(login_from(&server, "127.0.0.6", "user7", "user-pass-1").is_ok());
}

#[test]
fn a_right_password_gives_its_attempt_back() {
    let server = TestServer::with(kino_testkit::with_auth(vec![]), |c| {
        c.setting("login-failures-per-address", json!(3))
    });
    register(&server, "carol", "carol-pass-1");
    // Three right logins in a row use none of the address's three failures.
    for _ in 0..3 {
        assert!(login_from(&server, "127.0.0.7", "carol", "carol-pass-1").is_ok());
    }
    for _ in 0..3 {
        let r = login_from(&server, "127.0.0.7", "carol", "wrong-wrong");
        assert_eq!(code(r), Some(ErrorCode::Unauthenticated));
    }
    let r = login_from(&server, "127.0.0.7", "carol", "carol-pass-1");
    assert_eq!(code(r), Some(ErrorCode::RateLimited));
}

#[test]
fn a_login_whose_attempt_cannot_be_recorded_is_refused() {
    let server = TestServer::start();
    register(&server, "dave", "dave-pass-1");
    // Stands in for a full disk: every write to the counters fails.
    let db = rusqlite::Connection::open(server.data().join("kino.db")).unwrap();
    db.execute_batch(
        "CREATE TRIGGER full_i BEFORE INSERT ON login_throttle BEGIN SELECT RAISE(ABORT, 'full'); END;
         CREATE TRIGGER full_u BEFORE UPDATE ON login_throttle BEGIN SELECT RAISE(ABORT, 'full'); END;",
    )
    .unwrap();
    let right = code(login_from(&server, "127.0.0.8", "dave", "dave-pass-1"));
    let wrong = code(login_from(&server, "127.0.0.8", "dave", "wrong-wrong"));
    // Refused either way, and the same way: no password was checked.
    assert!(right.is_some(), "a login went through unrecorded");
    assert_eq!(right, wrong);
    assert_ne!(right, Some(ErrorCode::Unauthenticated));
    db.execute_batch("DROP TRIGGER full_i; DROP TRIGGER full_u;")
        .unwrap();
    assert!(login_from(&server, "127.0.0.8", "dave", "dave-pass-1").is_ok());
}

/// The legacy client from `from`.
fn legacy_from(server: &TestServer, from: &str) -> Legacy {
    let stream = stream_from(from, server.addr);
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    Legacy {
        stream,
        session: None,
    }
}

#[test]
fn legacy_login_obeys_the_same_limits() {
    let server = legacy_support::server();
    assert_eq!(
        legacy_from(&server, "127.0.0.9").register("erin", "erin-pass-1", "user")["flag"],
        json!(true)
    );
    for _ in 0..5 {
        let back = legacy_from(&server, "127.0.0.9").login("erin", "guess-guess", "user");
        assert_eq!(back["flag"], json!(false));
    }
    let back = legacy_from(&server, "127.0.0.9").login("erin", "erin-pass-1", "user");
    assert_eq!(back["flag"], json!(false), "{back}");
    assert!(
        back["msg"].as_str().unwrap().contains("尝试次数过多"),
        "{back}"
    );
    let back = legacy_from(&server, "127.0.0.10").login("erin", "erin-pass-1", "user");
    assert_eq!(back["flag"], json!(true), "{back}");
    // Native and legacy guesses share the counters: the native login from .9 is refused too.
    let r = login_from(&server, "127.0.0.9", "erin", &md5_hex(b"erin-pass-1"));
    assert_eq!(code(r), Some(ErrorCode::RateLimited));
}

#[test]
fn passwd_ends_every_other_session_and_keeps_the_callers() {
    let server = TestServer::start();
    register(&server, "frank", "frank-pass-1");
    let login = |c: &mut Client| {
        c.call(
            "auth.login",
            json!({"name": "frank", "password": "frank-pass-1"}),
        )
        .unwrap()["session"]
            .clone()
    };
    let mut mine = server.client();
    login(&mut mine);
    let mut thief = server.client();
    let stolen = login(&mut thief);
    let changed = mine
        .call(
            "auth.passwd",
            json!({"old": "frank-pass-1", "new": "frank-pass-2"}),
        )
        .unwrap();
    assert_eq!(changed["sessions_ended"], json!(1));
    assert_eq!(
        mine.call("whoami", json!({})).unwrap()["name"],
        json!("frank")
    );
    assert_eq!(
        thief.call("whoami", json!({})).unwrap()["logged_in"],
        json!(false)
    );
    let r = server.client().call("whoami", json!({"session": stolen}));
    assert_eq!(r.unwrap()["logged_in"], json!(false));
}

#[test]
fn wrong_old_passwords_count_like_failed_logins() {
    let server = TestServer::start();
    register(&server, "gina", "gina-pass-1");
    // A stolen token, used from the thief's address.
    let mut thief = client_from(&server, "127.0.0.11");
    thief
        .call(
            "auth.login",
            json!({"name": "gina", "password": "gina-pass-1"}),
        )
        .unwrap();
    for _ in 0..5 {
        let r = thief.call(
            "auth.passwd",
            json!({"old": "guess-guess", "new": "mine-now-1"}),
        );
        assert_eq!(code(r), Some(ErrorCode::Unauthenticated));
    }
    let r = thief.call(
        "auth.passwd",
        json!({"old": "gina-pass-1", "new": "mine-now-1"}),
    );
    assert_eq!(code(r), Some(ErrorCode::RateLimited));
    // They count as failed logins at that address, and nowhere else.
    let r = login_from(&server, "127.0.0.11", "gina", "gina-pass-1");
    assert_eq!(code(r), Some(ErrorCode::RateLimited));
    assert!(login_from(&server, "127.0.0.12", "gina", "gina-pass-1").is_ok());
}

#[test]
fn logging_out_another_token_keeps_the_callers_own_session() {
    let server = TestServer::start();
    register(&server, "hank", "hank-pass-1");
    register(&server, "iris", "iris-pass-1");
    let mut hank = server.client();
    hank.call(
        "auth.login",
        json!({"name": "hank", "password": "hank-pass-1"}),
    )
    .unwrap();
    let iris_token = server
        .client()
        .call(
            "auth.login",
            json!({"name": "iris", "password": "iris-pass-1"}),
        )
        .unwrap()["session"]
        .clone();
    let out = hank
        .call("auth.logout", json!({"session": iris_token}))
        .unwrap();
    assert_eq!(out["logged_out"], json!("iris"));
    assert_eq!(
        hank.call("whoami", json!({})).unwrap()["name"],
        json!("hank")
    );
    let r = server
        .client()
        .call("whoami", json!({"session": iris_token}));
    assert_eq!(r.unwrap()["logged_in"], json!(false));
    // Logging out on one's own connection still ends one's own session.
    hank.call("auth.logout", json!({})).unwrap();
    assert_eq!(
        hank.call("whoami", json!({})).unwrap()["logged_in"],
        json!(false)
    );
}

#[test]
fn a_spent_counter_opens_again_after_the_cool_down() {
    let server = TestServer::with(kino_testkit::with_auth(vec![]), |c| {
        c.setting("login-failures-per-account-address", json!(2))
            .setting("login-window", json!(1))
            .setting("login-cooldown", json!(1))
    });
    register(&server, "jane", "jane-pass-1");
    for _ in 0..2 {
        let r = login_from(&server, "127.0.0.13", "jane", "wrong-wrong");
        assert_eq!(code(r), Some(ErrorCode::Unauthenticated));
    }
    let r = login_from(&server, "127.0.0.13", "jane", "jane-pass-1");
    assert_eq!(code(r), Some(ErrorCode::RateLimited));
    // Counters hold whole seconds: two of them are past a one-second cool-down.
    std::thread::sleep(Duration::from_millis(2100));
    assert!(login_from(&server, "127.0.0.13", "jane", "jane-pass-1").is_ok());
}
