//! The table guard against the SQL shapes that hide a table (subquery, CTE, JOIN,
//! INSERT ... SELECT, data-modifying CTE) and against functions that read past the tables, on
//! the real server: SQLite's authorizer by default, the statement guard under
//! `KINO_TEST_DATABASE=postgres` (`core/server/src/store/pg/guard.rs`). The plugin sees the same
//! error on both.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use kino_api::serde_json::{json, Value};
use kino_api::{
    params, CmdError, Command, CommandArgs, Ctx, DbError, Migration, Output, Plugin, Role,
};
use kino_testkit::TestServer;

/// A plugin that runs the SQL it is given and says how the database answered.
struct Peek;

#[derive(CommandArgs)]
struct Sql {
    /// the statement
    sql: String,
    /// run it as a write (`execute`) rather than a read
    #[arg(default = false)]
    write: bool,
}

fn run(ctx: &mut Ctx, a: Sql) -> Result<Output, CmdError> {
    let db = ctx.db();
    let answer = if a.write {
        db.execute(&a.sql, params![])
            .map(|n| json!({ "changed": n }))
    } else {
        db.query(&a.sql, params![])
            .map(|rows| json!({ "rows": rows.len() }))
    };
    Ok(match answer {
        Ok(v) => v,
        // SQLite's text varies with what was refused (`not authorized`, `access to users.id is
        // prohibited`); the variant is what a plugin can tell apart.
        Err(DbError::Denied(_)) => json!({ "denied": true }),
        Err(e) => json!({ "error": e.to_string() }),
    }
    .into())
}

impl Plugin for Peek {
    fn name(&self) -> &'static str {
        "peek"
    }
    fn migrations(&self) -> &'static [Migration] {
        &[Migration {
            version: 1,
            name: "items",
            sql: "CREATE TABLE peek_items (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
                  CREATE TABLE peek_notes (item_id INTEGER REFERENCES peek_items (id), note TEXT);
                  CREATE INDEX peek_notes_item ON peek_notes (item_id);
                  INSERT INTO peek_items (name) VALUES ('a'), ('b');
                  INSERT INTO peek_notes (item_id, note) VALUES (1, 'x');",
        }]
    }
    fn commands(&self) -> Vec<Command> {
        vec![Command::new("peek.sql", "runs SQL as the peek plugin", run).role(Role::Anon)]
    }
}

fn server() -> TestServer {
    TestServer::with(kino_testkit::with_auth(vec![Arc::new(Peek)]), |c| c)
}

fn peek(server: &TestServer, sql: &str, write: bool) -> Value {
    let mut c = server.client();
    c.call("peek.sql", json!({ "sql": sql, "write": write }))
        .unwrap()
}

#[test]
fn every_shape_that_reaches_another_plugins_table_is_refused() {
    let server = server();
    let _alice = kino_testkit::user_client(&server, "alice");
    for (sql, write) in [
        (
            "SELECT name FROM peek_items WHERE id IN (SELECT id FROM users)",
            false,
        ),
        (
            "SELECT (SELECT password_hash FROM users LIMIT 1) FROM peek_items",
            false,
        ),
        (
            "WITH u AS (SELECT name, password_hash FROM users) SELECT * FROM u",
            false,
        ),
        (
            "SELECT p.name FROM peek_items p JOIN users u ON u.id = p.id",
            false,
        ),
        (
            "INSERT INTO peek_items (name) SELECT password_hash FROM users",
            true,
        ),
        ("UPDATE users SET role = 'admin'", true),
        (
            "DELETE FROM peek_items WHERE id IN (SELECT id FROM kino_sessions)",
            true,
        ),
        ("CREATE TABLE peek_copy AS SELECT * FROM users", true),
    ] {
        let got = peek(&server, sql, write);
        assert_eq!(got, json!({ "denied": true }), "{sql}");
    }
    if kino_testkit::pg::wanted() {
        // A CTE named like the table it hides: PostgreSQL resolves the inner `users` (and an
        // earlier CTE's) to the table, where SQLite calls the first a circular reference.
        for sql in [
            "WITH users AS (SELECT * FROM users) SELECT * FROM users",
            "WITH a AS (SELECT * FROM users), users AS (SELECT 1 AS x) SELECT * FROM a",
            // The CTE is the subquery's; the outer `users` is the table.
            "SELECT name FROM users, (WITH users AS (SELECT 1 AS x) SELECT x FROM users) q",
        ] {
            assert_eq!(
                peek(&server, sql, false),
                json!({ "denied": true }),
                "{sql}"
            );
        }
    }
    // Nothing was copied, and auth still reads its own table.
    assert_eq!(
        peek(&server, "SELECT id FROM peek_items", false),
        json!({ "rows": 2 })
    );
    let (mut again, _) = kino_testkit::login(&server, "alice", "pw-of-user");
    assert_eq!(
        again.call("whoami", json!({})).unwrap()["role"],
        json!("user")
    );
}

#[test]
fn functions_that_read_files_or_other_tables_are_refused() {
    let server = server();
    for sql in [
        "SELECT pg_read_file('/etc/hostname')",
        "SELECT * FROM pg_ls_dir('.')",
        "SELECT query_to_xml('SELECT * FROM users', true, false, '')",
        "SELECT lo_import('/etc/hostname')",
    ] {
        let got = peek(&server, sql, false);
        if kino_testkit::pg::wanted() {
            // The test cluster's user is a superuser: without the guard these would run.
            assert_eq!(got, json!({ "denied": true }), "{sql}");
        } else {
            // SQLite has no such functions at all.
            assert!(got.get("error").is_some(), "{sql}: {got}");
        }
    }
    if kino_testkit::pg::wanted() {
        for (sql, write) in [
            ("COPY peek_items TO STDOUT", true),
            ("SET ROLE NONE", true),
            ("SELECT pg_advisory_lock(1)", false),
        ] {
            let got = peek(&server, sql, write);
            assert_eq!(got, json!({ "denied": true }), "{sql}");
        }
    }
}

#[test]
fn the_same_shapes_on_the_plugins_own_tables_run() {
    let server = server();
    for (sql, write, want) in [
        (
            "SELECT name FROM peek_items WHERE id IN (SELECT item_id FROM peek_notes)",
            false,
            json!({ "rows": 1 }),
        ),
        (
            "WITH n AS (SELECT item_id FROM peek_notes) SELECT i.name FROM peek_items i JOIN n ON n.item_id = i.id",
            false,
            json!({ "rows": 1 }),
        ),
        (
            "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < 3) SELECT i FROM k",
            false,
            json!({ "rows": 3 }),
        ),
        (
            "SELECT count(*), max(id), ifnull(sum(id), 0) FROM peek_items WHERE name LIKE 'A%'",
            false,
            json!({ "rows": 1 }),
        ),
        (
            "INSERT INTO peek_notes (item_id, note) SELECT id, name FROM peek_items",
            true,
            json!({ "changed": 2 }),
        ),
        (
            // Comments and a literal naming another table are not a table.
            "SELECT name /* users */ FROM peek_items WHERE name <> 'users' -- users",
            false,
            json!({ "rows": 2 }),
        ),
    ] {
        assert_eq!(peek(&server, sql, write), want, "{sql}");
    }
}
