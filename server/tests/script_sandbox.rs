//! Hostile or buggy script plugins on the real server: an endless loop (stopped by the clock or
//! by the operation count) while other connections are served, huge strings and arrays, SQL on
//! another plugin's tables (a query, a DROP, a migration), recursion inside the script and a
//! command calling itself through the server: each answered `internal`, the server serving on.
//!
//! Runs on both backends: SQLite's authorizer and, under `KINO_TEST_DATABASE=postgres`, the
//! PostgreSQL statement guard (`store/pg/guard.rs`) refuse the same SQL.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use kino_api::serde_json::{json, Value};
use kino_api::ErrorCode;
use kino_client::Client;
use kino_testkit::{admin_client, TestServer};

fn server(dir: &Path, tweak: impl FnOnce(&mut kino_server::Config)) -> TestServer {
    let dir = dir.to_path_buf();
    TestServer::with_admin(kino_server_bin::plugins(), move |mut c| {
        c.limits.script_plugins = Some(dir);
        tweak(&mut c);
        c
    })
}

fn write(dir: &Path, name: &str, source: &str) {
    std::fs::create_dir_all(dir.join(name)).unwrap();
    std::fs::write(dir.join(name).join("plugin.rhai"), source).unwrap();
}

fn code(r: Result<Value, kino_client::ClientError>) -> Option<ErrorCode> {
    r.err().and_then(|e| e.code())
}

const HOSTILE: &str = r#"
plugin("evil", "Misbehaves");
command("evil.spin", "Never ends", #{ role: "anon" }, |ctx, args| { loop { } });
command("evil.grow", "Doubles a string forever", #{ role: "anon" }, |ctx, args| {
    let s = "0123456789"; loop { s += s; } });
command("evil.wide", "A huge array at once", #{ role: "anon" }, |ctx, args| {
    let a = []; a.pad(100000000, 0); a.len() });
command("evil.users", "Reads the auth plugin's accounts", #{ role: "anon" }, |ctx, args| {
    ctx.db_query("SELECT name FROM users") });
command("evil.drop", "Drops a table of another plugin", #{ role: "anon" }, |ctx, args| {
    ctx.db_execute("DROP TABLE movies") });
fn deeper(n) { deeper(n + 1) }
command("evil.recurse", "Recursion inside the script", #{ role: "anon" }, |ctx, args| deeper(0));
command("evil.self", "Calls itself through the server", #{ role: "anon" }, |ctx, args| {
    ctx.service("evil.self", #{}) });
command("evil.ok", "Behaves", #{ role: "anon" }, |ctx, args| 42);
"#;

#[test]
fn hostile_scripts_are_stopped_while_others_are_served() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "evil", HOSTILE);
    // Operations high enough that the wall clock stops the loop first.
    let s = server(dir.path(), |c| {
        c.limits.script_max_operations = u64::MAX;
    });
    let addr = s.addr;
    let spinner = std::thread::spawn(move || {
        let started = Instant::now();
        let r = Client::connect(addr).unwrap().call("evil.spin", json!({}));
        (code(r), started.elapsed())
    });
    std::thread::sleep(Duration::from_millis(100));
    let mut other = s.client();
    let started = Instant::now();
    assert_eq!(other.call("ping", json!({})).unwrap(), "pong");
    assert_eq!(other.call("evil.ok", json!({})).unwrap(), 42);
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "another connection waited {:?}",
        started.elapsed()
    );
    let (spun, took) = spinner.join().unwrap();
    assert_eq!(spun, Some(ErrorCode::Internal));
    assert!(took < Duration::from_secs(3), "the loop ran {took:?}");

    let mut c = s.client();
    for cmd in [
        "evil.grow",
        "evil.wide",
        "evil.users",
        "evil.drop",
        "evil.recurse",
        "evil.self",
    ] {
        let started = Instant::now();
        assert_eq!(
            code(c.call(cmd, json!({}))),
            Some(ErrorCode::Internal),
            "{cmd}"
        );
        assert!(started.elapsed() < Duration::from_secs(3), "{cmd}");
    }
    // Still serving, and the movies table is still there.
    assert_eq!(c.call("evil.ok", json!({})).unwrap(), 42);
    let mut admin = admin_client(&s, "root");
    assert!(admin.call("movies.list", json!({})).is_ok());
}

#[test]
fn the_operations_limit_stops_a_loop_before_the_clock() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "evil", HOSTILE);
    let s = server(dir.path(), |c| {
        c.limits.script_max_operations = 10_000;
        c.limits.script_timeout = Duration::from_secs(60);
    });
    let started = Instant::now();
    assert_eq!(
        code(s.client().call("evil.spin", json!({}))),
        Some(ErrorCode::Internal)
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn a_migration_on_another_plugins_table_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "sneaky",
        "plugin(\"sneaky\", \"x\");\nmigration(1, \"CREATE INDEX sneaky_i ON users (name)\");\n",
    );
    write(dir.path(), "auth_extra", "plugin(\"auth_extra\", \"x\");\n");
    let s = server(dir.path(), |_| {});
    let list = admin_client(&s, "root")
        .call("plugins.list", json!({}))
        .unwrap();
    let errors = list["errors"].to_string();
    assert!(errors.contains("sneaky/plugin.rhai: migration 1"), "{list}");
    assert!(errors.contains("native plugin `auth`"), "{list}");
    assert!(!list["plugins"].to_string().contains("sneaky"), "{list}");
}
