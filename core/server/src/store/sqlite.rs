//! The embedded database: one rusqlite connection per thread, WAL, busy timeout, foreign keys.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use kino_api::{Database, DbError, Row, SqlValue};
use rusqlite::types::{Value as RValue, ValueRef};
use rusqlite::{Connection, ErrorCode as SqliteCode};

/// How long a writer waits for another writer's lock before the request gets `busy`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Page caps by database file (`--db-max-pages`). SQLite's `max_page_count` holds for one
/// connection only, and connections are opened on many threads (workers, transfers) from just a
/// path, so the cap is looked up by that path whenever one is opened.
static PAGE_CAPS: Mutex<Option<HashMap<PathBuf, u64>>> = Mutex::new(None);

/// Caps the database file at `pages` pages (0: no cap) for every connection opened on `path`
/// from now on in this process. Past it, writes fail as [`DbError::Full`], like on a full disk.
pub fn set_page_cap(path: &Path, pages: u64) {
    let mut caps = PAGE_CAPS.lock().unwrap_or_else(PoisonError::into_inner);
    let caps = caps.get_or_insert_with(HashMap::new);
    if pages == 0 {
        caps.remove(path);
    } else {
        caps.insert(path.to_path_buf(), pages);
    }
}

fn page_cap(path: &Path) -> Option<u64> {
    let caps = PAGE_CAPS.lock().unwrap_or_else(PoisonError::into_inner);
    caps.as_ref().and_then(|c| c.get(path).copied())
}

/// A SQLite connection implementing the plugin-facing [`Database`] interface.
pub struct SqliteDb {
    conn: Connection,
}

impl SqliteDb {
    /// Opens (creating if needed) the database file with the pragmas every connection needs.
    pub fn open(path: &Path) -> Result<Self, DbError> {
        let conn = Connection::open(path).map_err(map_err)?;
        conn.authorizer(Some(super::guard::authorize));
        conn.busy_timeout(BUSY_TIMEOUT).map_err(map_err)?;
        // WAL lets readers on other workers go on while one writes; NORMAL is durable across
        // application crashes (a power cut may lose the last commits, never corrupt the file).
        // Switching a new file to WAL takes an exclusive lock without calling the busy handler,
        // so a second server opening the same new file at that moment retries here.
        let started = std::time::Instant::now();
        loop {
            match conn.execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
            ) {
                Err(e) if is_busy(&e) && started.elapsed() < BUSY_TIMEOUT => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                r => break r.map_err(map_err)?,
            }
        }
        if let Some(pages) = page_cap(path) {
            // SQLite answers with the cap in force (never below the file's current size).
            conn.query_row(&format!("PRAGMA max_page_count = {pages}"), [], |_| Ok(()))
                .map_err(map_err)?;
        }
        Ok(SqliteDb { conn })
    }

    /// Rolls back a transaction a panicking handler left open, so the next call starts clean.
    pub fn reset(&mut self) {
        if !self.conn.is_autocommit() {
            if let Err(e) = self.conn.execute_batch("ROLLBACK") {
                log::warn!("rollback after failed handler: {e}");
            }
        }
    }

    /// The raw connection, for migrations.
    pub fn raw(&mut self) -> &mut Connection {
        &mut self.conn
    }
}

/// Whether `e` is SQLite's BUSY or LOCKED.
fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(SqliteCode::DatabaseBusy) | Some(SqliteCode::DatabaseLocked)
    )
}

pub(crate) fn map_err(e: rusqlite::Error) -> DbError {
    use rusqlite::ffi;
    let extended = match &e {
        rusqlite::Error::SqliteFailure(f, _) => f.extended_code,
        _ => 0,
    };
    match e.sqlite_error_code() {
        Some(SqliteCode::DatabaseBusy) | Some(SqliteCode::DatabaseLocked) => DbError::Busy,
        Some(SqliteCode::ConstraintViolation) => match extended {
            ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                DbError::Unique(e.to_string())
            }
            ffi::SQLITE_CONSTRAINT_FOREIGNKEY => DbError::ForeignKey(e.to_string()),
            _ => DbError::Check(e.to_string()),
        },
        Some(SqliteCode::AuthorizationForStatementDenied) => DbError::Denied(e.to_string()),
        Some(SqliteCode::DiskFull) => DbError::Full,
        Some(SqliteCode::SystemIoFailure) => DbError::Io(e.to_string()),
        _ => DbError::Backend(e.to_string()),
    }
}

fn to_sql(v: &SqlValue) -> RValue {
    match v {
        SqlValue::Null => RValue::Null,
        SqlValue::Int(i) => RValue::Integer(*i),
        SqlValue::Real(f) => RValue::Real(*f),
        SqlValue::Text(s) => RValue::Text(s.clone()),
        SqlValue::Blob(b) => RValue::Blob(b.clone()),
    }
}

fn from_sql(v: ValueRef<'_>) -> SqlValue {
    match v {
        ValueRef::Null => SqlValue::Null,
        ValueRef::Integer(i) => SqlValue::Int(i),
        ValueRef::Real(f) => SqlValue::Real(f),
        ValueRef::Text(t) => SqlValue::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => SqlValue::Blob(b.to_vec()),
    }
}

impl Database for SqliteDb {
    fn execute(&mut self, sql: &str, params: &[SqlValue]) -> Result<u64, DbError> {
        let mut stmt = self
            .conn
            .prepare_cached(&super::guard::cache_key(sql))
            .map_err(map_err)?;
        let n = stmt
            .execute(rusqlite::params_from_iter(params.iter().map(to_sql)))
            .map_err(map_err)?;
        Ok(n as u64)
    }

    fn insert(&mut self, sql: &str, params: &[SqlValue]) -> Result<i64, DbError> {
        self.execute(sql, params)?;
        Ok(self.conn.last_insert_rowid())
    }

    fn query(&mut self, sql: &str, params: &[SqlValue]) -> Result<Vec<Row>, DbError> {
        let mut stmt = self
            .conn
            .prepare_cached(&super::guard::cache_key(sql))
            .map_err(map_err)?;
        let width = stmt.column_count();
        let mut rows = stmt
            .query(rusqlite::params_from_iter(params.iter().map(to_sql)))
            .map_err(map_err)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(map_err)? {
            let mut values = Vec::with_capacity(width);
            for i in 0..width {
                values.push(from_sql(row.get_ref(i).map_err(map_err)?));
            }
            out.push(Row(values));
        }
        Ok(out)
    }

    fn begin(&mut self) -> Result<(), DbError> {
        self.conn.execute_batch("BEGIN IMMEDIATE").map_err(map_err)
    }

    fn commit(&mut self) -> Result<(), DbError> {
        self.conn.execute_batch("COMMIT").map_err(map_err)
    }

    fn rollback(&mut self) -> Result<(), DbError> {
        self.conn.execute_batch("ROLLBACK").map_err(map_err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kino_api::params;

    #[test]
    fn round_trips_values_and_maps_constraints() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut db = SqliteDb::open(&dir.path().join("t.db")).expect("open");
        let db: &mut dyn Database = &mut db;
        db.execute(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE, score REAL)",
            params![],
        )
        .expect("create");
        let id = db
            .insert(
                "INSERT INTO t (name, score) VALUES (?, ?)",
                params!["a", 1.5],
            )
            .expect("insert");
        let row = db
            .query_one("SELECT id, name, score FROM t WHERE id = ?", params![id])
            .expect("query")
            .expect("row");
        assert_eq!(
            (row.i64(0).ok(), row.str(1).ok(), row.f64(2).ok()),
            (Some(id), Some("a"), Some(1.5))
        );
        let dup = db.insert("INSERT INTO t (name) VALUES (?)", params!["a"]);
        assert!(matches!(dup, Err(DbError::Unique(_))));
    }

    #[test]
    fn failed_transaction_rolls_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut db = SqliteDb::open(&dir.path().join("t.db")).expect("open");
        let db: &mut dyn Database = &mut db;
        db.execute("CREATE TABLE t (x INTEGER)", params![])
            .expect("create");
        let r: Result<(), DbError> = db.transaction(|tx| {
            tx.execute("INSERT INTO t VALUES (1)", params![])?;
            Err(DbError::Busy)
        });
        assert!(r.is_err());
        let rows = db.query("SELECT x FROM t", params![]).expect("query");
        assert!(rows.is_empty());
    }
}
