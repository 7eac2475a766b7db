//! The auth plugin on a real server: accounts, sessions, roles, locking, cool-down, and the
//! `user_id` trick.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use kino_api::serde_json::json;
use kino_api::ErrorCode;
use kino_testkit::{admin_client, login, user_client, TestServer};

fn code(r: Result<serde_json::Value, kino_testkit::ClientError>) -> Option<ErrorCode> {
    r.err().and_then(|e| e.code())
}

#[test]
fn register_login_whoami_logout() {
    let server = TestServer::start();
    let mut c = server.client();
    assert_eq!(
        c.call("whoami", json!({})).unwrap()["logged_in"],
        json!(false)
    );
    let reg = c
        .call(
            "auth.register",
            json!({"name": "alice", "password": "s3cret-pw"}),
        )
        .unwrap();
    assert_eq!(
        (reg["name"].clone(), reg["role"].clone()),
        (json!("alice"), json!("user"))
    );
    let reply = c
        .call(
            "auth.login",
            json!({"name": "alice", "password": "s3cret-pw"}),
        )
        .unwrap();
    let token = reply["session"].as_str().unwrap().to_string();
    assert_eq!(token.len(), 32);
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(
        (reply["role"].clone(), reply["is_vip"].clone()),
        (json!("user"), json!(false))
    );
    let me = c.call("whoami", json!({})).unwrap();
    assert_eq!(
        (me["name"].clone(), me["role"].clone()),
        (json!("alice"), json!("user"))
    );
    c.call("auth.logout", json!({})).unwrap();
    assert_eq!(
        c.call("whoami", json!({})).unwrap()["logged_in"],
        json!(false)
    );
    assert_eq!(
        code(c.call("auth.logout", json!({}))),
        Some(ErrorCode::Unauthenticated)
    );
    let mut other = server.client();
    let after = other.call("whoami", json!({"session": token})).unwrap();
    assert_eq!(
        after["logged_in"],
        json!(false),
        "logout must end the token everywhere"
    );
}

#[test]
fn a_session_token_works_on_another_connection() {
    let server = TestServer::start();
    let (_c, reply) = {
        let mut c = server.client();
        c.call(
            "auth.register",
            json!({"name": "bob", "password": "pw-of-test"}),
        )
        .unwrap();
        let r = c
            .call(
                "auth.login",
                json!({"name": "bob", "password": "pw-of-test"}),
            )
            .unwrap();
        (c, r)
    };
    let token = reply["session"].clone();
    let mut second = server.client();
    let me = second.call("whoami", json!({"session": token})).unwrap();
    assert_eq!(me["name"], json!("bob"));
    // Without the token the second connection is anonymous.
    assert_eq!(
        second.call("whoami", json!({})).unwrap()["logged_in"],
        json!(false)
    );
    let bogus = second.call(
        "auth.logout",
        json!({"session": "00000000000000000000000000000000"}),
    );
    assert_eq!(code(bogus), Some(ErrorCode::Unauthenticated));
}

#[test]
fn wrong_password_and_unknown_user_look_the_same() {
    let server = TestServer::start();
    let mut c = server.client();
    c.call(
        "auth.register",
        json!({"name": "carol", "password": "right-pw"}),
    )
    .unwrap();
    let wrong = c
        .call("auth.login", json!({"name": "carol", "password": "wrong"}))
        .unwrap_err();
    let unknown = c
        .call("auth.login", json!({"name": "nobody", "password": "wrong"}))
        .unwrap_err();
    assert_eq!(wrong.to_string(), unknown.to_string());
    assert_eq!(wrong.code(), Some(ErrorCode::Unauthenticated));
}

#[test]
fn five_failed_logins_start_a_cool_down() {
    let server = TestServer::with(kino_testkit::with_auth(vec![]), |c| {
        c.setting("login-cooldown", json!(60))
    });
    let mut c = server.client();
    c.call(
        "auth.register",
        json!({"name": "dave", "password": "right-pw"}),
    )
    .unwrap();
    for _ in 0..5 {
        let r = c.call("auth.login", json!({"name": "dave", "password": "wrong"}));
        assert_eq!(code(r), Some(ErrorCode::Unauthenticated));
    }
    let r = c.call(
        "auth.login",
        json!({"name": "dave", "password": "right-pw"}),
    );
    assert_eq!(code(r), Some(ErrorCode::RateLimited));
}

#[test]
fn names_are_checked_and_unique_ignoring_case() {
    let server = TestServer::start();
    let mut c = server.client();
    c.call(
        "auth.register",
        json!({"name": "Erin", "password": "pw-of-test"}),
    )
    .unwrap();
    assert_eq!(
        code(c.call(
            "auth.register",
            json!({"name": "erin", "password": "pw-of-test"})
        )),
        Some(ErrorCode::Conflict)
    );
    for bad in ["", "a b", "../x", "x".repeat(33).as_str()] {
        assert_eq!(
            code(c.call(
                "auth.register",
                json!({"name": bad, "password": "pw-of-test"})
            )),
            Some(ErrorCode::BadArgs),
            "{bad}"
        );
    }
    assert_eq!(
        code(c.call("auth.register", json!({"name": "ok", "password": ""}))),
        Some(ErrorCode::BadArgs)
    );
}

#[test]
fn roles_are_enforced_by_the_registry() {
    let server = TestServer::with_admin(kino_testkit::with_auth(vec![]), |c| c);
    let mut anon = server.client();
    assert_eq!(
        code(anon.call("auth.users", json!({}))),
        Some(ErrorCode::Unauthenticated)
    );
    assert_eq!(
        code(anon.call("server.info", json!({}))),
        Some(ErrorCode::Unauthenticated)
    );
    let mut user = user_client(&server, "frank");
    for cmd in ["auth.users", "server.info"] {
        assert_eq!(
            code(user.call(cmd, json!({}))),
            Some(ErrorCode::Forbidden),
            "{cmd}"
        );
    }
    assert_eq!(
        code(user.call("auth.lock", json!({"name": "root"}))),
        Some(ErrorCode::Forbidden)
    );
    let mut admin = admin_client(&server, "root");
    let users = admin.call("auth.users", json!({})).unwrap();
    assert_eq!(users.as_array().unwrap().len(), 2);
    let info = admin.call("server.info", json!({})).unwrap();
    assert!(
        info["commandstats"]["auth.users"]["calls"]
            .as_u64()
            .unwrap()
            >= 1
    );
    assert!(info["connections"].as_u64().unwrap() >= 3);
}

#[test]
fn admin_sign_up_needs_an_admin_or_the_server_flag() {
    let server = TestServer::with_admin(kino_testkit::with_auth(vec![]), |c| c);
    let mut anon = server.client();
    let r = anon.call(
        "auth.register",
        json!({"name": "evil", "password": "pw-of-test", "role": "admin"}),
    );
    assert_eq!(code(r), Some(ErrorCode::Forbidden));
    let mut admin = admin_client(&server, "root");
    admin
        .call(
            "auth.register",
            json!({"name": "second", "password": "pw-of-test", "role": "admin"}),
        )
        .unwrap();
    let (_, reply) = login(&server, "second", "pw-of-test");
    assert_eq!(reply["role"], json!("admin"));

    let open = TestServer::with(kino_testkit::with_auth(vec![]), |c| {
        c.setting("allow-admin-signup", json!(true))
    });
    let mut anon = open.client();
    let made = anon
        .call(
            "auth.register",
            json!({"name": "boss", "password": "pw-of-test", "role": "admin"}),
        )
        .unwrap();
    assert_eq!(made["role"], json!("admin"));
}

#[test]
fn a_user_id_field_gives_no_power() {
    let server = TestServer::with_admin(kino_testkit::with_auth(vec![]), |c| c);
    let mut user = user_client(&server, "mallory");
    // Commands refuse fields they do not declare, so a forged identity cannot even be sent...
    let r = user.call("auth.users", json!({"user_id": 1}));
    assert!(matches!(
        code(r),
        Some(ErrorCode::Forbidden | ErrorCode::BadArgs)
    ));
    let r = user.call(
        "auth.passwd",
        json!({"old": "pw-of-user", "new": "x", "user_id": 1}),
    );
    assert_eq!(code(r), Some(ErrorCode::BadArgs));
    // ...and the password that changes is always the caller's own.
    user.call(
        "auth.passwd",
        json!({"old": "pw-of-user", "new": "changed-pw"}),
    )
    .unwrap();
    let (_, reply) = login(&server, "root", "root-pass-1");
    assert_eq!(reply["name"], json!("root"));
    let (_, reply) = login(&server, "mallory", "changed-pw");
    assert_eq!(reply["name"], json!("mallory"));
}

#[test]
fn passwd_needs_the_old_password() {
    let server = TestServer::start();
    let mut c = user_client(&server, "gina");
    let r = c.call("auth.passwd", json!({"old": "nope", "new": "new-pw-1234"}));
    assert_eq!(code(r), Some(ErrorCode::Unauthenticated));
    c.call(
        "auth.passwd",
        json!({"old": "pw-of-user", "new": "new-pw-1234"}),
    )
    .unwrap();
    let mut again = server.client();
    assert!(again
        .call(
            "auth.login",
            json!({"name": "gina", "password": "new-pw-1234"})
        )
        .is_ok());
}

#[test]
fn locking_ends_sessions_and_refuses_logins_until_unlocked() {
    let server = TestServer::with_admin(kino_testkit::with_auth(vec![]), |c| c);
    let mut user = user_client(&server, "henry");
    let mut admin = admin_client(&server, "root");
    let locked = admin.call("auth.lock", json!({"name": "henry"})).unwrap();
    assert_eq!(locked["sessions_ended"], json!(1));
    assert_eq!(
        code(user.call("auth.passwd", json!({"old": "a", "new": "b"}))),
        Some(ErrorCode::Unauthenticated)
    );
    let r = server.client().call(
        "auth.login",
        json!({"name": "henry", "password": "pw-of-user"}),
    );
    assert_eq!(code(r), Some(ErrorCode::Locked));
    // A wrong password on a locked account still says only "wrong name or password".
    let r = server
        .client()
        .call("auth.login", json!({"name": "henry", "password": "bad"}));
    assert_eq!(code(r), Some(ErrorCode::Unauthenticated));
    assert_eq!(
        code(admin.call("auth.lock", json!({"name": "root"}))),
        Some(ErrorCode::Conflict)
    );
    assert_eq!(
        code(admin.call("auth.lock", json!({"name": "ghost"}))),
        Some(ErrorCode::NotFound)
    );
    admin.call("auth.unlock", json!({"name": "henry"})).unwrap();
    assert!(server
        .client()
        .call(
            "auth.login",
            json!({"name": "henry", "password": "pw-of-user"})
        )
        .is_ok());
}

#[test]
fn sessions_expire_after_the_idle_ttl() {
    let server = TestServer::with(kino_testkit::with_auth(vec![]), |mut c| {
        c.limits.session_ttl = Duration::from_secs(1);
        c
    });
    let mut c = user_client(&server, "ida");
    assert_eq!(
        c.call("whoami", json!({})).unwrap()["logged_in"],
        json!(true)
    );
    std::thread::sleep(Duration::from_millis(2200));
    assert_eq!(
        c.call("whoami", json!({})).unwrap()["logged_in"],
        json!(false)
    );
}
