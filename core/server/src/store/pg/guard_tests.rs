//! The guard's verdicts on SQL shapes, without a server (the real-server tests are in
//! `server/tests/rules_db.rs`, run on both backends).

use super::*;
use crate::store::pg::dialect::translate;

const PROBE: Owner = Owner {
    plugin: "probe",
    tables: &["legacy_t"],
};

fn verdict(sql: &str) -> Result<String, Refusal> {
    check(PROBE, &translate(sql))
}

#[test]
fn own_tables_pass_in_every_shape_plugins_use() {
    for sql in [
        "SELECT id, name FROM probe_items WHERE name = ? ORDER BY id LIMIT 5",
        "SELECT COUNT(*), max(stars), ifnull(SUM(stars), 0) FROM probe_items",
        "SELECT a.id FROM probe_items a JOIN legacy_t b ON b.id = a.id WHERE a.id IN (SELECT id FROM probe)",
        "WITH r AS (SELECT id FROM probe_items), s AS (SELECT id FROM r) SELECT * FROM s",
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3) SELECT i FROM n",
        "INSERT OR IGNORE INTO probe_items (name) VALUES (?)",
        "INSERT INTO probe_items (name) SELECT name FROM legacy_t",
        "UPDATE probe_items SET stars = ? WHERE id = ?",
        "DELETE FROM probe_items WHERE id = ?",
        "CREATE TABLE probe_x (id INTEGER PRIMARY KEY, t TEXT UNIQUE COLLATE NOCASE, p INTEGER REFERENCES probe (id))",
        "CREATE INDEX probe_x_t ON probe_x (t); DROP INDEX probe_x_t",
        "ALTER TABLE probe_x ADD COLUMN d INTEGER NOT NULL DEFAULT 0",
        "SELECT hex(randomblob(16)), lower(name) FROM probe WHERE name ILIKE ? ESCAPE '\\'",
        "SELECT * FROM generate_series(1, 3)",
    ] {
        assert!(verdict(sql).is_ok(), "{sql}: {:?}", verdict(sql));
    }
}

#[test]
fn other_tables_are_refused_in_every_position() {
    for sql in [
        "SELECT * FROM users",
        "SELECT * FROM probe_items WHERE id IN (SELECT id FROM users)",
        "SELECT (SELECT password_hash FROM users LIMIT 1) FROM probe",
        "SELECT * FROM probe p JOIN users u ON u.id = p.id",
        "SELECT * FROM probe WHERE EXISTS (SELECT 1 FROM kino_sessions)",
        "WITH x AS (SELECT * FROM users) SELECT * FROM x",
        // A CTE is not visible in its own body, nor in earlier ones: that `users` is the table.
        "WITH users AS (SELECT * FROM users) SELECT * FROM users",
        "WITH a AS (SELECT * FROM users), users AS (SELECT 1) SELECT * FROM a",
        // A CTE named like a table never stands in for a DML target.
        "WITH users AS (SELECT 1) UPDATE users SET role = 'admin'",
        "WITH d AS (DELETE FROM users RETURNING id) SELECT * FROM probe",
        "INSERT INTO probe_items (name) SELECT name FROM users",
        "INSERT INTO users (name) VALUES ('x')",
        "UPDATE users SET role = 'admin'",
        "UPDATE probe SET x = u.name FROM users u",
        "DELETE FROM users",
        "DELETE FROM probe USING users WHERE probe.id = users.id",
        "SELECT * FROM probe UNION SELECT * FROM orders",
        "SELECT * FROM public.users",
        "SELECT * FROM \"users\"",
        "SELECT * FROM pg_catalog.pg_authid",
        "SELECT query FROM pg_stat_activity",
        "CREATE TABLE movies_extra (x INTEGER)",
        "CREATE TABLE probe_y (x INTEGER REFERENCES users (id))",
        "CREATE TABLE probe_y () INHERITS (users)",
        "CREATE TABLE probe_y AS SELECT * FROM users",
        "CREATE INDEX probe_i ON users (name)",
        "CREATE INDEX users_i ON probe (name)",
        "CREATE VIEW probe_v AS SELECT * FROM users",
        "ALTER TABLE users ADD COLUMN x INTEGER",
        "ALTER TABLE probe RENAME TO users",
        "ALTER TABLE probe INHERIT users",
        "ALTER TABLE probe ATTACH PARTITION users FOR VALUES IN (1)",
        "DROP TABLE users",
        "DROP TABLE probe CASCADE",
        "SELECT * FROM probe; SELECT * FROM users",
    ] {
        assert!(verdict(sql).is_err(), "{sql} passed");
    }
}

#[test]
fn functions_and_statements_that_reach_past_the_tables_are_refused() {
    for sql in [
        "SELECT pg_read_file('/etc/passwd')",
        "SELECT * FROM pg_read_file('/etc/passwd')",
        "SELECT pg_catalog.lower('x')",
        "SELECT lo_import('/etc/passwd')",
        "SELECT * FROM dblink('dbname=kino', 'SELECT * FROM users') AS t(x TEXT)",
        "SELECT query_to_xml('SELECT * FROM users', true, false, '')",
        "SELECT set_config('role', 'none', false)",
        "SELECT pg_advisory_lock(1)",
        "SELECT nextval('users_id_seq')",
        "CREATE TABLE probe_c (x TEXT DEFAULT pg_read_file('/etc/passwd'))",
        "ALTER TABLE probe ALTER COLUMN x SET DEFAULT nextval('users_id_seq')",
        "EXPLAIN ANALYZE SELECT * FROM users",
        "SELECT count(*) FROM probe WHERE name = current_setting('x')",
        "COPY users TO '/tmp/u'",
        "COPY probe FROM PROGRAM 'id'",
        "SET ROLE postgres",
        "RESET ROLE",
        "DO $$ BEGIN PERFORM 1; END $$",
        "PREPARE p AS SELECT * FROM users",
        "EXECUTE s1",
        "TRUNCATE probe",
        "LOCK TABLE probe",
        "CREATE FUNCTION probe_f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
        "COMMIT",
        "SELECT * INTO probe_copy FROM probe",
        "TABLE users",
        "SELECT 1 UNION TABLE users",
        "",
        "SELEKT nonsense",
    ] {
        assert!(verdict(sql).is_err(), "{sql} passed");
    }
}

#[test]
fn what_runs_is_what_was_checked() {
    // Written out again from the parse: no comment or quirk of the plugin's text reaches
    // PostgreSQL.
    let out = verdict("SELECT name /* users */ FROM probe -- users\n WHERE id = ?").unwrap();
    assert!(!out.contains("users"), "{out}");
    assert!(out.contains("$1"), "{out}");
    let refusal = verdict("SELECT * FROM users").unwrap_err();
    assert_eq!(
        refusal.0,
        "plugin probe may not touch table `users` (its tables are `probe` and `probe_*`)"
    );
    assert_eq!(refusal.into_error(), DbError::Denied(DENIED.into()));
}

#[test]
fn verdicts_are_cached_per_plugin() {
    let mut v = Verdicts::default();
    let auth = Owner {
        plugin: "auth",
        tables: &["users"],
    };
    let sql = "SELECT name FROM users";
    assert!(v.check(auth, sql, || sql.into()).is_ok());
    assert!(matches!(
        v.check(PROBE, sql, || sql.into()),
        Err(DbError::Denied(_))
    ));
    assert!(v.check(auth, sql, || sql.into()).is_ok());
}

#[test]
fn expression_conflict_targets_are_checked_and_kept() {
    let sql = "INSERT INTO probe_owners (key, owner_id, note) VALUES (?, ?, 'it''s') \
               ON CONFLICT(ifnull(owner_id, -1), key) DO UPDATE SET note = excluded.note";
    let out = verdict(sql).unwrap();
    assert!(
        out.contains("ON CONFLICT(coalesce(owner_id, -1), key)"),
        "{out}"
    );
    assert!(out.contains("'it''s'"), "{out}");
    for sql in [
        "INSERT INTO probe (k) VALUES (1) ON CONFLICT (lower(pg_read_file('/etc/passwd'))) DO NOTHING",
        "INSERT INTO probe (k) VALUES (1) ON CONFLICT ((SELECT id FROM users)) DO NOTHING",
        // The placeholder written by the plugin itself.
        "INSERT INTO probe (k) VALUES (1) ON CONFLICT (kino_conflict_target_0) DO NOTHING; \
         INSERT INTO probe (k) VALUES (1) ON CONFLICT (lower(k)) DO NOTHING",
        "WITH x AS (INSERT INTO probe (k) VALUES (1) ON CONFLICT (lower(k)) DO NOTHING) SELECT 1",
    ] {
        assert!(verdict(sql).is_err(), "{sql} passed");
    }
}

#[test]
fn a_cte_hides_a_table_only_where_postgresql_resolves_to_it() {
    assert!(
        verdict("SELECT * FROM probe, (WITH users AS (SELECT 1) SELECT * FROM users) q").is_ok()
    );
    assert!(
        verdict("SELECT * FROM users, (WITH users AS (SELECT 1) SELECT * FROM users) q").is_err()
    );
    assert!(verdict(
        "WITH users AS (SELECT 1) SELECT * FROM probe WHERE EXISTS (SELECT 1 FROM users)"
    )
    .is_ok());
}
