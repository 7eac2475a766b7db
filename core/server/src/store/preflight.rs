//! Start-up checks on the database, before any migration runs: a lost or damaged database must
//! not be taken for a fresh install (that would orphan every stored blob and start over).
//!
//! The server refuses to start when `PRAGMA quick_check` fails, when the database has no tables
//! while `blobs/` holds files, when it has tables but no `schema_versions`, or when a plugin's
//! recorded schema version says it created tables that are gone.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use kino_api::{Database, Plugin};

use super::backend::AnyDb;
use super::SqliteDb;

/// Why the database is unfit to start on; the message says what to do.
#[derive(Debug, thiserror::Error)]
#[error("{0}; run `kino-server check --data DIR` and restore the database from a backup")]
pub struct Unfit(pub String);

/// Runs the checks. `data` is the data directory (for `blobs/`).
pub fn check(db: &mut AnyDb, data: &Path, plugins: &[Arc<dyn Plugin>]) -> Result<(), Unfit> {
    // PostgreSQL checks its own pages (and has no whole-database check to run at start-up).
    if let AnyDb::Sqlite(db) = db {
        quick_check(db)?;
    }
    let tables = tables(db)?;
    if tables.is_empty() {
        if let Some(blob) = any_blob(&data.join("blobs")) {
            return Err(Unfit(format!(
                "the database is empty but blobs are stored (e.g. {}): refusing to start as a \
                 fresh install",
                blob
            )));
        }
        return Ok(());
    }
    if !tables.contains("schema_versions") {
        return Err(Unfit(format!(
            "the database has tables ({}) but no schema_versions",
            tables.iter().cloned().collect::<Vec<_>>().join(", ")
        )));
    }
    for p in plugins {
        let version = recorded_version(db, p.name())?;
        let applied = p.migrations().iter().take(version);
        let mut expected = BTreeSet::new();
        for m in applied {
            for (created, name) in table_statements(m.sql) {
                if created {
                    expected.insert(name);
                } else {
                    expected.remove(&name);
                }
            }
        }
        let missing: Vec<_> = expected.difference(&tables).cloned().collect();
        if !missing.is_empty() {
            return Err(Unfit(format!(
                "plugin {} is at schema version {version} but its table(s) {} are missing",
                p.name(),
                missing.join(", ")
            )));
        }
    }
    Ok(())
}

fn quick_check(db: &mut SqliteDb) -> Result<(), Unfit> {
    let rows: Result<Vec<String>, _> = db
        .raw()
        .prepare("PRAGMA quick_check")
        .and_then(|mut st| st.query_map([], |r| r.get(0))?.collect());
    match rows {
        Ok(rows) if rows == ["ok"] => Ok(()),
        Ok(rows) => Err(Unfit(format!(
            "the database fails PRAGMA quick_check: {}",
            rows.into_iter().take(3).collect::<Vec<_>>().join("; ")
        ))),
        Err(e) => Err(Unfit(format!("the database fails PRAGMA quick_check: {e}"))),
    }
}

fn tables(db: &mut AnyDb) -> Result<BTreeSet<String>, Unfit> {
    let sql = match db {
        AnyDb::Sqlite(_) => "SELECT name FROM sqlite_master WHERE type = 'table'",
        AnyDb::Postgres(_) => {
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
        }
    };
    let rows = db
        .query(sql, &[])
        .map_err(|e| Unfit(format!("the database's tables cannot be read: {e}")))?;
    Ok(rows.iter().filter_map(|r| r.string(0).ok()).collect())
}

fn recorded_version(db: &mut AnyDb, plugin: &str) -> Result<usize, Unfit> {
    let row = (db as &mut dyn Database)
        .query_one(
            "SELECT version FROM schema_versions WHERE plugin = ?",
            kino_api::params![plugin],
        )
        .map_err(|e| Unfit(format!("schema_versions cannot be read: {e}")))?;
    Ok(row
        .and_then(|r| r.i64(0).ok())
        .map_or(0, |v| usize::try_from(v).unwrap_or(0)))
}

/// The first stored blob found, if any.
fn any_blob(blobs: &Path) -> Option<String> {
    let shards = std::fs::read_dir(blobs).ok()?;
    for shard in shards.flatten() {
        let path = shard.path();
        if path.is_file() {
            return Some(path.display().to_string());
        }
        if let Ok(files) = std::fs::read_dir(&path) {
            if let Some(f) = files.flatten().next() {
                return Some(f.path().display().to_string());
            }
        }
    }
    None
}

/// `(true, name)` for each `CREATE TABLE name` and `(false, name)` for each `DROP TABLE name`
/// in a migration's SQL, in order, names lower-cased.
fn table_statements(sql: &str) -> Vec<(bool, String)> {
    let words: Vec<String> = sql
        .split(|c: char| c.is_whitespace() || c == '(' || c == ';')
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    let mut out = Vec::new();
    for (i, pair) in words.windows(2).enumerate() {
        let created = match (pair[0].as_str(), pair[1].as_str()) {
            ("create", "table") => true,
            ("drop", "table") => false,
            _ => continue,
        };
        let mut rest = words[i + 2..].iter().map(String::as_str);
        let mut name = rest.next();
        if name == Some("if") {
            // IF NOT EXISTS / IF EXISTS
            name = rest.find(|w| *w == "exists").and_then(|_| rest.next());
        }
        if let Some(n) = name {
            out.push((created, n.trim_matches(['"', '`', '[', ']']).to_owned()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_created_and_dropped_tables() {
        let sql = "CREATE TABLE movies (id INTEGER); CREATE INDEX x ON movies (id);
                   create table if not exists \"notes\"(a); DROP TABLE IF EXISTS old;";
        assert_eq!(
            table_statements(sql),
            [
                (true, "movies".to_owned()),
                (true, "notes".to_owned()),
                (false, "old".to_owned())
            ]
        );
    }
}
