//! Database rules on the real server: constraint failures reach the client as fixed messages
//! (`conflict` for UNIQUE, `internal` for CHECK and FOREIGN KEY), never as SQLite's text.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use kino_api::serde_json::json;
use kino_api::{params, Args, CmdError, Command, Ctx, ErrorCode, Migration, Output, Plugin, Role};
use kino_testkit::{request, TestServer};

/// A plugin whose writes break its own constraints on purpose.
struct Probe;

fn dup(ctx: &mut Ctx, _: &Args) -> Result<Output, CmdError> {
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

fn check(ctx: &mut Ctx, _: &Args) -> Result<Output, CmdError> {
    ctx.db().insert(
        "INSERT INTO probe_items (name, stars) VALUES ('nine', 9)",
        params![],
    )?;
    Ok(json!({}).into())
}

fn dangling(ctx: &mut Ctx, _: &Args) -> Result<Output, CmdError> {
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
