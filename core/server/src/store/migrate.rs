//! Per-plugin numbered migrations, applied once, in order, each in its own transaction.
//!
//! SQLite's `user_version` is one number per file; plugins need one each, so versions live in a
//! `schema_versions(plugin, version)` table.

use std::path::Path;
use std::sync::Arc;

use kino_api::{Database, DbError, Migration, Plugin};
use rusqlite::TransactionBehavior;

use super::backend::AnyDb;
use super::guard::{self, Owner};
use super::pg::{PgDb, MIGRATE_LOCK};
use super::preflight;
use super::sqlite::{map_err, SqliteDb};

/// Why migrations could not be applied; the server refuses to start.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// Versions must run 1, 2, 3, ... with no gap or repeat.
    #[error("plugin {plugin}: migration versions must be 1..=n in order; found {found} at position {position}")]
    BadNumbering {
        /// The plugin.
        plugin: String,
        /// The version found.
        found: u32,
        /// Where.
        position: usize,
    },
    /// The database is newer than this build (a downgrade).
    #[error("plugin {plugin}: database is at schema version {db}, this build knows only {known}")]
    TooNew {
        /// The plugin.
        plugin: String,
        /// Version in the file.
        db: u32,
        /// Newest version compiled in.
        known: u32,
    },
    /// SQL failed.
    #[error("plugin {plugin}, migration {version} ({name}): {source}")]
    Sql {
        /// The plugin.
        plugin: String,
        /// Which migration.
        version: u32,
        /// Its name.
        name: String,
        /// The database error.
        source: DbError,
    },
    /// The bookkeeping table failed.
    #[error("schema_versions: {0}")]
    Table(DbError),
    /// The database is unfit to start on (see [`preflight`]).
    #[error(transparent)]
    Unfit(#[from] preflight::Unfit),
}

/// Checks the database ([`preflight::check`]) and applies every plugin's pending migrations.
/// On PostgreSQL both run under a session advisory lock, so nodes starting together migrate
/// once: the others wait, then find nothing left to do.
pub fn apply_all(
    db: &mut AnyDb,
    data: &Path,
    plugins: &[Arc<dyn Plugin>],
) -> Result<(), MigrateError> {
    if let AnyDb::Postgres(pg) = db {
        // No lock timeout here: the other node may take long on a big migration.
        pg.batch(&format!(
            "SET lock_timeout = 0; SELECT pg_advisory_lock({MIGRATE_LOCK})"
        ))
        .map_err(MigrateError::Table)?;
    }
    let result = check_and_apply(db, data, plugins);
    if let AnyDb::Postgres(pg) = db {
        // Closing the connection would release it too; this one serves on as the loop's.
        if let Err(e) = pg.batch(&format!(
            "SELECT pg_advisory_unlock({MIGRATE_LOCK}); SET lock_timeout = '5s'"
        )) {
            log::warn!("releasing the migration lock: {e}");
        }
    }
    result
}

fn check_and_apply(
    db: &mut AnyDb,
    data: &Path,
    plugins: &[Arc<dyn Plugin>],
) -> Result<(), MigrateError> {
    match db {
        // One read transaction: a snapshot, so tables and versions another server is migrating
        // at this moment are seen both before or both after (PostgreSQL runs this under the
        // migration lock instead).
        AnyDb::Sqlite(d) => {
            d.raw()
                .execute_batch("BEGIN")
                .map_err(|e| MigrateError::Table(map_err(e)))?;
            let checked = preflight::check(db, data, plugins);
            if let AnyDb::Sqlite(d) = db {
                if let Err(e) = d.raw().execute_batch("COMMIT") {
                    log::warn!("ending the start-up checks' read: {e}");
                }
            }
            checked?;
        }
        AnyDb::Postgres(_) => preflight::check(db, data, plugins)?,
    }
    let core = crate::session::MIGRATIONS;
    match db {
        AnyDb::Sqlite(d) => apply(d, crate::session::OWNER, core)?,
        AnyDb::Postgres(d) => apply_pg(d, crate::session::OWNER, core)?,
    };
    for p in plugins {
        match db {
            AnyDb::Sqlite(d) => apply(d, guard::owner_of(&**p), p.migrations())?,
            AnyDb::Postgres(d) => apply_pg(d, guard::owner_of(&**p), p.migrations())?,
        };
    }
    Ok(())
}

fn check_numbering(plugin: &str, migrations: &[Migration]) -> Result<(), MigrateError> {
    for (i, m) in migrations.iter().enumerate() {
        if m.version as usize != i + 1 {
            return Err(MigrateError::BadNumbering {
                plugin: plugin.into(),
                found: m.version,
                position: i,
            });
        }
    }
    Ok(())
}

/// SQLite functions migrations use that PostgreSQL lacks (`gen_random_uuid` draws from the
/// server's strong random source; 122 of each 128 bits are random).
const PG_COMPAT: &str = "
CREATE OR REPLACE FUNCTION hex(b bytea) RETURNS text LANGUAGE sql IMMUTABLE
  AS $$ SELECT upper(encode(b, 'hex')) $$;
CREATE OR REPLACE FUNCTION randomblob(n bigint) RETURNS bytea LANGUAGE sql VOLATILE
  AS $$ SELECT substring(string_agg(uuid_send(gen_random_uuid()), ''::bytea) FROM 1 FOR n::int)
        FROM generate_series(0, n / 16) $$;
";

/// [`apply`] on PostgreSQL: DDL is transactional there too, so each migration and its
/// version row commit together. Each runs as `owner`, checked by the PostgreSQL guard.
pub fn apply_pg(
    db: &mut PgDb,
    owner: Owner,
    migrations: &[Migration],
) -> Result<usize, MigrateError> {
    let plugin = owner.plugin;
    check_numbering(plugin, migrations)?;
    db.batch_raw(PG_COMPAT).map_err(MigrateError::Table)?;
    db.batch(
        "CREATE TABLE IF NOT EXISTS schema_versions (plugin TEXT PRIMARY KEY, version INTEGER NOT NULL)",
    )
    .map_err(MigrateError::Table)?;
    let current = (db as &mut dyn Database)
        .query_one(
            "SELECT version FROM schema_versions WHERE plugin = ?",
            kino_api::params![plugin],
        )
        .and_then(|r| r.map_or(Ok(0), |r| r.i64(0)))
        .map_err(MigrateError::Table)?;
    let current = usize::try_from(current).unwrap_or(0);
    if current > migrations.len() {
        return Err(MigrateError::TooNew {
            plugin: plugin.into(),
            db: current as u32,
            known: migrations.len() as u32,
        });
    }
    let mut applied = 0;
    for m in migrations.iter().skip(current) {
        let sql_err = |source: DbError| MigrateError::Sql {
            plugin: plugin.into(),
            version: m.version,
            name: m.name.into(),
            source,
        };
        db.batch("BEGIN").map_err(sql_err)?;
        let run = {
            let _owner = guard::enter(Some(owner));
            db.batch(m.sql)
        };
        let run = run.and_then(|()| {
            db.execute(
                "INSERT INTO schema_versions (plugin, version) VALUES (?, ?)
                 ON CONFLICT(plugin) DO UPDATE SET version = excluded.version",
                kino_api::params![plugin, m.version],
            )
        });
        let done = run.and_then(|_| db.batch("COMMIT"));
        if let Err(e) = done {
            if let Err(rb) = db.batch("ROLLBACK") {
                log::warn!("rolling back migration {plugin} {}: {rb}", m.version);
            }
            return Err(sql_err(e));
        }
        log::info!("applied migration {plugin} {} ({})", m.version, m.name);
        applied += 1;
    }
    Ok(applied)
}

/// Applies the plugin's pending migrations; returns how many ran. Each runs as `owner` (see
/// [`guard`]): a migration that creates or alters a table the plugin does not own fails, and
/// the server does not start.
pub fn apply(
    db: &mut SqliteDb,
    owner: Owner,
    migrations: &[Migration],
) -> Result<usize, MigrateError> {
    let plugin = owner.plugin;
    check_numbering(plugin, migrations)?;
    let conn = db.raw();
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_versions (plugin TEXT PRIMARY KEY, version INTEGER NOT NULL)",
    )
    .map_err(|e| MigrateError::Table(map_err(e)))?;
    let current = sqlite_version(conn, plugin).map_err(|e| MigrateError::Table(map_err(e)))?;
    if current as usize > migrations.len() {
        return Err(MigrateError::TooNew {
            plugin: plugin.into(),
            db: current,
            known: migrations.len() as u32,
        });
    }
    let mut applied = 0;
    for m in migrations.iter().skip(current as usize) {
        let sql_err = |e: rusqlite::Error| MigrateError::Sql {
            plugin: plugin.into(),
            version: m.version,
            name: m.name.into(),
            source: map_err(e),
        };
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err)?;
        // Another server on the same file (`--database sqlite:PATH`) may have applied it while
        // this one waited for the write lock.
        let now = sqlite_version(&tx, plugin).map_err(sql_err)?;
        if now >= m.version {
            continue;
        }
        {
            let _owner = guard::enter(Some(owner));
            tx.execute_batch(m.sql).map_err(sql_err)?;
        }
        tx.execute(
            "INSERT INTO schema_versions (plugin, version) VALUES (?1, ?2)
             ON CONFLICT(plugin) DO UPDATE SET version = excluded.version",
            rusqlite::params![plugin, m.version],
        )
        .map_err(sql_err)?;
        tx.commit().map_err(sql_err)?;
        log::info!("applied migration {plugin} {} ({})", m.version, m.name);
        applied += 1;
    }
    Ok(applied)
}

/// The schema version `plugin` is at on SQLite (0 before its first migration).
fn sqlite_version(conn: &rusqlite::Connection, plugin: &str) -> rusqlite::Result<u32> {
    conn.query_row(
        "SELECT version FROM schema_versions WHERE plugin = ?1",
        [plugin],
        |r| r.get(0),
    )
    .or_else(|e| match e {
        rusqlite::Error::QueryReturnedNoRows => Ok(0),
        e => Err(e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: &[Migration] = &[
        Migration {
            version: 1,
            name: "t",
            sql: "CREATE TABLE t (x INTEGER);",
        },
        Migration {
            version: 2,
            name: "u",
            sql: "ALTER TABLE t ADD COLUMN y TEXT;",
        },
    ];

    fn owner(plugin: &'static str) -> Owner {
        Owner {
            plugin,
            tables: &["t"],
        }
    }

    #[test]
    fn refuses_a_table_outside_the_plugin() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut db = SqliteDb::open(&dir.path().join("m.db")).expect("open");
        for sql in [
            "CREATE TABLE users (x INTEGER);",
            "CREATE TABLE p_mine (x INTEGER); CREATE INDEX q_idx ON p_mine (x);",
            "CREATE INDEX p_idx ON schema_versions (version);",
        ] {
            let m = [Migration {
                version: 1,
                name: "stray",
                sql,
            }];
            let err = apply(&mut db, owner("p"), &m).expect_err(sql);
            assert!(
                matches!(
                    err,
                    MigrateError::Sql {
                        source: DbError::Denied(_),
                        ..
                    }
                ),
                "{sql}: {err}"
            );
        }
        let ok = [Migration {
            version: 1,
            name: "own",
            sql:
                "CREATE TABLE p (x); CREATE TABLE p_more (x); CREATE INDEX p_more_x ON p_more (x);",
        }];
        assert_eq!(apply(&mut db, owner("p"), &ok).expect("own tables"), 1);
    }

    #[test]
    fn applies_once_and_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut db = SqliteDb::open(&dir.path().join("m.db")).expect("open");
        assert_eq!(apply(&mut db, owner("p"), &M[..1]).expect("first"), 1);
        assert_eq!(apply(&mut db, owner("p"), M).expect("second"), 1);
        assert_eq!(apply(&mut db, owner("p"), M).expect("again"), 0);
        assert!(matches!(
            apply(&mut db, owner("p"), &M[..1]),
            Err(MigrateError::TooNew { .. })
        ));
    }

    #[test]
    fn refuses_gaps_and_keeps_failed_migration_unapplied() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut db = SqliteDb::open(&dir.path().join("m.db")).expect("open");
        assert!(matches!(
            apply(&mut db, owner("p"), &M[1..]),
            Err(MigrateError::BadNumbering { .. })
        ));
        let bad = [Migration {
            version: 1,
            name: "bad",
            sql: "CREATE TABLE t (x); NOT SQL;",
        }];
        assert!(apply(&mut db, owner("q"), &bad).is_err());
        assert_eq!(apply(&mut db, owner("q"), &M[..1]).expect("clean"), 1);
    }
}
