//! Per-plugin numbered migrations, applied once, in order, each in its own transaction.
//!
//! SQLite's `user_version` is one number per file; plugins need one each, so versions live in a
//! `schema_versions(plugin, version)` table.

use kino_api::{DbError, Migration};
use rusqlite::TransactionBehavior;

use super::guard::{self, Owner};
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
    for (i, m) in migrations.iter().enumerate() {
        if m.version as usize != i + 1 {
            return Err(MigrateError::BadNumbering {
                plugin: plugin.into(),
                found: m.version,
                position: i,
            });
        }
    }
    let conn = db.raw();
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_versions (plugin TEXT PRIMARY KEY, version INTEGER NOT NULL)",
    )
    .map_err(|e| MigrateError::Table(map_err(e)))?;
    let current: u32 = conn
        .query_row(
            "SELECT version FROM schema_versions WHERE plugin = ?1",
            [plugin],
            |r| r.get(0),
        )
        .or_else(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => Ok(0),
            e => Err(e),
        })
        .map_err(|e| MigrateError::Table(map_err(e)))?;
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
