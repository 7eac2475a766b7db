//! Database rules on the real server: constraint failures reach the client as fixed messages
//! (`conflict` for UNIQUE, `internal` for CHECK and FOREIGN KEY), never as SQLite's text.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use kino_api::serde_json::json;
use kino_api::{params, CmdError, Command, Ctx, ErrorCode, Migration, Output, Plugin, Role};
use kino_testkit::{request, TestServer};

/// A plugin whose writes break its own constraints on purpose.
struct Probe;

fn dup(ctx: &mut Ctx, _: ()) -> Result<Output, CmdError> {
    ctx.db().insert(
        "INSERT INTO probe_items (name, stars) VALUES ('same', 3)",
        params![],
    )?;
    ctx.db().insert(
        "INSERT INTO probe_items (name, stars) VALUES ('same', 3)",
        params![],
    )?;
    Ok(json!({}).into())
}

fn check(ctx: &mut Ctx, _: ()) -> Result<Output, CmdError> {
    ctx.db().insert(
        "INSERT INTO probe_items (name, stars) VALUES ('nine', 9)",
        params![],
    )?;
    Ok(json!({}).into())
}

fn dangling(ctx: &mut Ctx, _: ()) -> Result<Output, CmdError> {
    ctx.db()
        .insert("INSERT INTO probe_refs (item_id) VALUES (999)", params![])?;
    Ok(json!({}).into())
}

impl Plugin for Probe {
    fn name(&self) -> &'static str {
        "probe"
    }
    fn migrations(&self) -> &'static [Migration] {
        &[Migration {
            version: 1,
            name: "items",
            sql: "CREATE TABLE probe_items (id INTEGER PRIMARY KEY, name TEXT UNIQUE,
                      stars INTEGER CHECK (stars BETWEEN 1 AND 5));
                  CREATE TABLE probe_refs (item_id INTEGER REFERENCES probe_items (id));",
        }]
    }
    fn commands(&self) -> Vec<Command> {
        vec![
            Command::new("probe.dup", "a UNIQUE failure", dup).role(Role::Anon),
            Command::new("probe.check", "a CHECK failure", check).role(Role::Anon),
            Command::new("probe.dangling", "a FOREIGN KEY failure", dangling).role(Role::Anon),
        ]
    }
}

/// The whole reply frame, as the client received it, with the error code.
fn reply_text(server: &TestServer, command: &str) -> (Option<ErrorCode>, String) {
    let mut c = server.client();
    c.send(&request(command, json!({}))).unwrap();
    let reply = c.recv().unwrap();
    let code = reply.error.as_ref().map(|e| e.code);
    (code, kino_api::serde_json::to_string(&reply).unwrap())
}

fn assert_no_sqlite_text(text: &str) {
    let lower = text.to_lowercase();
    for leak in [
        "constraint",
        "unique",
        "check",
        "foreign",
        "probe_",
        "sqlite",
    ] {
        assert!(!lower.contains(leak), "`{leak}` reached the wire: {text}");
    }
}

#[test]
fn constraint_failures_carry_fixed_messages_only() {
    let server = TestServer::with(vec![Arc::new(Probe)], |c| c);
    let (code, text) = reply_text(&server, "probe.dup");
    assert_eq!(code, Some(ErrorCode::Conflict), "{text}");
    assert_no_sqlite_text(&text);
    for command in ["probe.check", "probe.dangling"] {
        let (code, text) = reply_text(&server, command);
        assert_eq!(code, Some(ErrorCode::Internal), "{command}: {text}");
        assert_no_sqlite_text(&text);
    }
    let mut c = server.client();
    assert_eq!(c.call("ping", json!({})).unwrap(), json!("pong"));
}

/// A plugin that tries to read another plugin's tables.
struct Snoop;

fn hashes(ctx: &mut Ctx, _: ()) -> Result<Output, CmdError> {
    let rows = ctx.db().query("SELECT * FROM users", params![])?;
    Ok(json!({ "rows": rows.len() }).into())
}

/// The very text auth's login prepares: a statement already cached for auth must not be
/// handed to another plugin.
fn cached(ctx: &mut Ctx, _: ()) -> Result<Output, CmdError> {
    let row = ctx.db().query_one(
        "SELECT id, name, name_key, role, password_hash, locked FROM users WHERE name_key = ?",
        params!["alice"],
    )?;
    Ok(json!({ "found": row.is_some() }).into())
}

fn write(ctx: &mut Ctx, _: ()) -> Result<Output, CmdError> {
    ctx.db()
        .execute("UPDATE users SET role = 'admin'", params![])?;
    Ok(json!({}).into())
}

impl Plugin for Snoop {
    fn name(&self) -> &'static str {
        "snoop"
    }
    fn commands(&self) -> Vec<Command> {
        vec![
            Command::new("snoop.hashes", "reads auth's table", hashes).role(Role::Anon),
            Command::new("snoop.cached", "reuses auth's statement", cached).role(Role::Anon),
            Command::new("snoop.write", "writes auth's table", write).role(Role::Anon),
        ]
    }
}

#[test]
fn a_plugin_cannot_read_or_write_another_plugins_tables() {
    // One worker: auth's login and the snooping commands share one connection and its
    // statement cache.
    let server = TestServer::with(kino_testkit::with_auth(vec![Arc::new(Snoop)]), |mut c| {
        c.limits.workers = 1;
        c
    });
    let mut alice = kino_testkit::user_client(&server, "alice");
    for command in ["snoop.hashes", "snoop.cached", "snoop.write"] {
        let (code, text) = reply_text(&server, command);
        assert_eq!(code, Some(ErrorCode::Internal), "{command}: {text}");
        assert_no_sqlite_text(&text);
        assert!(!text.contains("argon2"), "{text}");
    }
    // Auth still reads its own table, and the server lives.
    let who = alice.call("whoami", json!({})).unwrap();
    assert_eq!(who["role"], json!("user"), "{who}");
    let (mut again, _) = kino_testkit::login(&server, "alice", "pw-of-user");
    assert_eq!(again.call("ping", json!({})).unwrap(), json!("pong"));
}

/// A plugin whose migration creates a table in another plugin's name space.
struct Squatter;

impl Plugin for Squatter {
    fn name(&self) -> &'static str {
        "squatter"
    }
    fn migrations(&self) -> &'static [Migration] {
        &[Migration {
            version: 1,
            name: "squat",
            sql: "CREATE TABLE movies_extra (x INTEGER);",
        }]
    }
    fn commands(&self) -> Vec<Command> {
        Vec::new()
    }
}

/// A plugin that claims another plugin's table as its own.
struct Claimer;

impl Plugin for Claimer {
    fn name(&self) -> &'static str {
        "claimer"
    }
    fn tables(&self) -> &'static [&'static str] {
        &["users"]
    }
    fn commands(&self) -> Vec<Command> {
        Vec::new()
    }
}

#[test]
fn the_server_refuses_to_start_with_a_plugin_outside_its_tables() {
    use kino_server::Core;
    let dir = tempfile::tempdir().unwrap();
    let auth: Arc<dyn Plugin> = Arc::new(kino_auth::Auth::new());
    // On the backend the run is for (`KINO_TEST_DATABASE`): PostgreSQL's guard refuses the
    // squatter's migration as SQLite's authorizer does.
    let plugins = vec![Arc::clone(&auth), Arc::new(Squatter)];
    let config = kino_testkit::test_config(dir.path(), &plugins);
    let err = Core::open(config, plugins).err().expect("refused");
    assert!(err.to_string().contains("squatter"), "{err}");
    assert!(err.to_string().contains("not authorized"), "{err}");
    let plugins = vec![auth, Arc::new(Claimer)];
    let config = kino_testkit::test_config(dir.path(), &plugins);
    let err = Core::open(config, plugins).err().expect("refused");
    assert!(err.to_string().contains("claimer"), "{err}");
}
