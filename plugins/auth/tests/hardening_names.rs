//! Hardening of account names and passwords (issue 9, items 10 and 11) on a real server: names
//! that look alike are one name (NFKC, case), mixed-script names are refused, accounts made
//! before folding are migrated, and the password policy holds on every path that sets one.
#![allow(clippy::unwrap_used)]

#[path = "../../legacy/tests/legacy_support/mod.rs"]
mod legacy_support;

use std::sync::Arc;

use kino_api::serde_json::{json, Value};
use kino_api::{ErrorCode, Plugin};
use kino_server::{Config, Core};
use kino_testkit::{admin_client, fast_auth, ClientError, TestServer};
use legacy_support::{md5_hex, Legacy};

fn code(r: Result<Value, ClientError>) -> Option<ErrorCode> {
    r.err().and_then(|e| e.code())
}

fn register(server: &TestServer, name: &str, password: &str) -> Result<Value, ClientError> {
    server
        .client()
        .call("auth.register", json!({"name": name, "password": password}))
}

fn login(server: &TestServer, name: &str, password: &str) -> Result<Value, ClientError> {
    server
        .client()
        .call("auth.login", json!({"name": name, "password": password}))
}

#[test]
fn names_that_look_alike_are_one_name() {
    let server = TestServer::start();
    register(&server, "älice", "alice-pass-1").unwrap();
    register(&server, "admin", "admin-pass-1").unwrap();
    register(&server, "kelvin", "kelvin-pass-1").unwrap();
    for (twin, of) in [
        ("ÄLICE", "älice"),
        // A decomposed ä (a + U+0308).
        ("a\u{308}lice", "älice"),
        ("ａｄｍｉｎ", "admin"),
        ("ＡＤＭＩＮ", "admin"),
        ("\u{212A}elvin", "kelvin"),
    ] {
        assert_eq!(
            code(register(&server, twin, "twin-pass-1")),
            Some(ErrorCode::Conflict),
            "{twin} registered beside {of}"
        );
    }
    // A Cyrillic а among Latin letters is refused outright, whatever else exists.
    for mixed in ["\u{430}dmin", "p\u{430}ypal"] {
        assert_eq!(
            code(register(&server, mixed, "mixed-pass-1")),
            Some(ErrorCode::BadArgs),
            "{mixed}"
        );
    }
    // One script, any script: an all-Cyrillic name and a CJK one are fine.
    register(&server, "админ", "cyril-pass-1").unwrap();
    register(&server, "中文名", "han-pass-12").unwrap();
    // Any spelling of a name logs into it.
    assert_eq!(
        login(&server, "ÄLICE", "alice-pass-1").unwrap()["name"],
        json!("älice")
    );
    assert_eq!(
        login(&server, "ＡＤＭＩＮ", "admin-pass-1").unwrap()["name"],
        json!("admin")
    );
    assert_eq!(
        login(&server, "\u{212A}ELVIN", "kelvin-pass-1").unwrap()["name"],
        json!("kelvin")
    );
    // A full-width name is stored in its plain form.
    let made = register(&server, "ｚｏｅ", "zoe-pass-12").unwrap();
    assert_eq!(made["name"], json!("zoe"));
}

#[test]
fn legacy_register_folds_names_the_same_way() {
    let server = legacy_support::server();
    let mut c = Legacy::connect(server.addr);
    assert_eq!(
        c.register("älice", "alice-pass-1", "user")["flag"],
        json!(true)
    );
    assert_eq!(
        c.register("ÄLICE", "other-pass-1", "user")["msg"],
        json!("用户已存在")
    );
    assert_eq!(
        c.register("admin", "admin-pass-1", "user")["flag"],
        json!(true)
    );
    assert_eq!(
        c.register("ａｄｍｉｎ", "other-pass-1", "user")["msg"],
        json!("用户已存在")
    );
    let mixed = c.register("\u{430}dmin", "other-pass-1", "user");
    assert_eq!(mixed["flag"], json!(false));
    assert!(
        mixed["msg"].as_str().unwrap().starts_with("参数错误"),
        "{mixed}"
    );
    assert_eq!(
        Legacy::connect(server.addr).login("ÄLICE", "alice-pass-1", "user")["flag"],
        json!(true)
    );
}

/// A server on `dir` with only the auth plugin, for the operator path.
fn operator_add(
    dir: &std::path::Path,
    name: &str,
    password: &str,
) -> Result<Value, kino_api::CmdError> {
    let plugins: Vec<Arc<dyn Plugin>> = vec![kino_auth::plugin()];
    let mut core = Core::open(fast_auth(Config::new(dir)), plugins).unwrap();
    core.operator_call("auth.register", json!({"name": name, "password": password}))
}

#[test]
fn accounts_made_before_folding_are_migrated_oldest_first() {
    let dir = tempfile::tempdir().unwrap();
    operator_add(dir.path(), "oldest", "oldest-pass-1").unwrap();
    operator_add(dir.path(), "template", "later-pass-1").unwrap();
    // Rows as an older server left them: no folded key, and names that fold alike.
    {
        let db = rusqlite::Connection::open(dir.path().join("kino.db")).unwrap();
        let hash = |n: &str| -> String {
            db.query_row(
                "SELECT password_hash FROM users WHERE name = ?1",
                [n],
                |r| r.get(0),
            )
            .unwrap()
        };
        let (old, later) = (hash("oldest"), hash("template"));
        db.execute(
            "UPDATE users SET name = 'älice', name_key = NULL WHERE name = 'oldest'",
            [],
        )
        .unwrap();
        db.execute(
            "INSERT INTO users (name, role, password_hash, created_at)
             VALUES ('ÄLICE', 'user', ?1, 'x'), ('ａｄｍｉｎ', 'user', ?2, 'x')",
            [&later, &old],
        )
        .unwrap();
        db.execute("DELETE FROM users WHERE name = 'template'", [])
            .unwrap();
    }
    let server = TestServer::in_dir(dir.path(), kino_testkit::with_auth(vec![]), |c| c);
    // The oldest keeps the name under every spelling...
    assert_eq!(
        login(&server, "ÄLICE", "oldest-pass-1").unwrap()["name"],
        json!("älice")
    );
    // ...a non-colliding old name just gains its key...
    assert_eq!(
        login(&server, "admin", "oldest-pass-1").unwrap()["name"],
        json!("ａｄｍｉｎ")
    );
    // ...and the later twin is renamed `<name>#<id>` and locked until an admin lets it in.
    let db = rusqlite::Connection::open(dir.path().join("kino.db")).unwrap();
    let (id, renamed, locked): (i64, String, bool) = db
        .query_row(
            "SELECT id, name, locked FROM users WHERE name LIKE 'ÄLICE#%'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(renamed, format!("ÄLICE#{id}"));
    assert!(locked);
    assert_eq!(
        code(login(&server, &renamed, "later-pass-1")),
        Some(ErrorCode::Locked)
    );
    operator_add_admin_and_unlock(&server, &renamed);
    assert_eq!(
        login(&server, &renamed, "later-pass-1").unwrap()["name"],
        json!(renamed)
    );
    assert_eq!(
        code(register(&server, "älice", "third-pass-1")),
        Some(ErrorCode::Conflict)
    );
}

fn operator_add_admin_and_unlock(server: &TestServer, name: &str) {
    let mut c = server.client();
    c.call(
        "auth.register",
        json!({"name": "boss", "password": "boss-pass-1"}),
    )
    .unwrap();
    let db = rusqlite::Connection::open(server.data().join("kino.db")).unwrap();
    db.execute("UPDATE users SET role = 'admin' WHERE name = 'boss'", [])
        .unwrap();
    c.call(
        "auth.login",
        json!({"name": "boss", "password": "boss-pass-1"}),
    )
    .unwrap();
    c.call("auth.unlock", json!({"name": name})).unwrap();
}

#[test]
fn passwords_are_long_enough_and_not_the_name_on_every_path() {
    let server = TestServer::with_admin(kino_testkit::with_auth(vec![]), |c| c);
    for (name, password) in [
        ("abby", "abc"),
        ("abby", "x"),
        ("abby", "seven77"),
        ("abigail1", "ABIGAIL1"),
        ("abigail1", "ａｂｉｇａｉｌ１"),
    ] {
        assert_eq!(
            code(register(&server, name, password)),
            Some(ErrorCode::BadArgs),
            "{name} / {password}"
        );
    }
    register(&server, "abigail1", "eight888").unwrap();
    let mut c = server.client();
    c.call(
        "auth.login",
        json!({"name": "abigail1", "password": "eight888"}),
    )
    .unwrap();
    for new in ["short", "ABIGAIL1", "abigail1"] {
        let r = c.call("auth.passwd", json!({"old": "eight888", "new": new}));
        assert_eq!(code(r), Some(ErrorCode::BadArgs), "{new}");
    }
    // An admin creating an account is held to the same rule.
    let mut admin = admin_client(&server, "root");
    let r = admin.call("auth.register", json!({"name": "cleo", "password": "tiny"}));
    assert_eq!(code(r), Some(ErrorCode::BadArgs));
    // So is the operator's `kino-server user add`.
    let dir = tempfile::tempdir().unwrap();
    let e = operator_add(dir.path(), "root", "root").unwrap_err();
    assert_eq!(e.code, ErrorCode::BadArgs);
    assert_eq!(
        operator_add(dir.path(), "rootuser", "RootUser")
            .unwrap_err()
            .code,
        ErrorCode::BadArgs
    );
    operator_add(dir.path(), "root", "root-pass-1").unwrap();
}

#[test]
fn the_minimum_length_is_a_setting() {
    let server = TestServer::with(kino_testkit::with_auth(vec![]), |c| {
        c.setting("password-min-length", json!(12))
    });
    assert_eq!(
        code(register(&server, "dora", "eleven-char")),
        Some(ErrorCode::BadArgs)
    );
    register(&server, "dora", "twelve-chars").unwrap();
}

#[test]
fn legacy_register_obeys_the_password_policy() {
    let server = legacy_support::server();
    let mut c = Legacy::connect(server.addr);
    // The original client sends MD5(password) as 32 hex digits, so the server sees a long
    // password; a client that sends something short is refused...
    let short = c.call(&[
        ("type", json!("register")),
        ("name", json!("eve")),
        ("password", json!("abc")),
        ("user_type", json!("user")),
    ]);
    assert_eq!(short["flag"], json!(false), "{short}");
    assert!(
        short["msg"].as_str().unwrap().starts_with("参数错误"),
        "{short}"
    );
    // ...and so is a password equal to the name.
    let name = md5_hex(b"same");
    let same = c.call(&[
        ("type", json!("register")),
        ("name", json!(name)),
        ("password", json!(name.to_uppercase())),
        ("user_type", json!("user")),
    ]);
    assert_eq!(same["flag"], json!(false), "{same}");
    assert_eq!(c.register("eve", "eve-pass-1", "user")["flag"], json!(true));
}
