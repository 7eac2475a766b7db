//! Which database the server runs on, chosen by `--database URL`, and a connection to either.

use std::fmt;
use std::path::{Path, PathBuf};

use kino_api::{Database, DbError, Row, SqlValue};

use super::pg::PgDb;
use super::SqliteDb;

/// Where the database lives.
#[derive(Clone, PartialEq, Eq)]
pub enum DbUrl {
    /// `sqlite:PATH`: the embedded file (the default, `<data>/kino.db`).
    Sqlite(PathBuf),
    /// `postgres://USER:PASS@HOST:PORT/DB` (or `postgresql://`, `?host=/run/postgresql`).
    Postgres(String),
}

impl DbUrl {
    /// Parses `--database` (a relative `sqlite:` path is relative to the working directory, as
    /// any path flag).
    pub fn parse(s: &str) -> Result<DbUrl, String> {
        if let Some(path) = s.strip_prefix("sqlite:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                return Err("--database sqlite:PATH needs a path".into());
            }
            return Ok(DbUrl::Sqlite(PathBuf::from(path)));
        }
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            return Ok(DbUrl::Postgres(s.to_owned()));
        }
        Err(format!(
            "--database {}: expected sqlite:PATH or postgres://USER:PASS@HOST:PORT/DB",
            redact(s)
        ))
    }

    /// The default: `kino.db` in the data directory.
    pub fn default_for(data: &Path) -> DbUrl {
        DbUrl::Sqlite(data.join("kino.db"))
    }

    /// The SQLite file, when it is one.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match self {
            DbUrl::Sqlite(p) => Some(p),
            DbUrl::Postgres(_) => None,
        }
    }
}

/// The URL with any password replaced, for logs and errors.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((auth, host)) = rest.split_once('@') else {
        return url.to_owned();
    };
    match auth.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

impl fmt::Display for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbUrl::Sqlite(p) => write!(f, "sqlite:{}", p.display()),
            DbUrl::Postgres(u) => f.write_str(&redact(u)),
        }
    }
}

impl fmt::Debug for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A connection to whichever database `--database` names.
pub enum AnyDb {
    /// The embedded file.
    Sqlite(SqliteDb),
    /// A PostgreSQL server (boxed: its connection and caches are large next to SQLite's).
    Postgres(Box<PgDb>),
}

impl AnyDb {
    /// Opens a connection.
    pub fn open(url: &DbUrl) -> Result<AnyDb, DbError> {
        Ok(match url {
            DbUrl::Sqlite(p) => AnyDb::Sqlite(SqliteDb::open(p)?),
            DbUrl::Postgres(u) => AnyDb::Postgres(Box::new(PgDb::open(u)?)),
        })
    }

    /// Rolls back a transaction a panicking handler left open.
    pub fn reset(&mut self) {
        kino_api::changes::rolled_back();
        match self {
            AnyDb::Sqlite(d) => d.reset(),
            AnyDb::Postgres(d) => d.reset(),
        }
    }

    fn inner(&mut self) -> &mut dyn Database {
        match self {
            AnyDb::Sqlite(d) => d,
            AnyDb::Postgres(d) => &mut **d,
        }
    }
}

impl Database for AnyDb {
    // Every write is counted for read snapshots (kino_api::changes), after it ran.
    fn execute(&mut self, sql: &str, params: &[SqlValue]) -> Result<u64, DbError> {
        let r = self.inner().execute(sql, params);
        kino_api::changes::wrote(sql);
        r
    }
    fn insert(&mut self, sql: &str, params: &[SqlValue]) -> Result<i64, DbError> {
        let r = self.inner().insert(sql, params);
        kino_api::changes::wrote(sql);
        r
    }
    fn query(&mut self, sql: &str, params: &[SqlValue]) -> Result<Vec<Row>, DbError> {
        let r = self.inner().query(sql, params);
        let head = sql.trim_start().get(..6).unwrap_or("");
        if !head.eq_ignore_ascii_case("SELECT") {
            kino_api::changes::wrote(sql);
        }
        r
    }
    fn begin(&mut self) -> Result<(), DbError> {
        kino_api::changes::began();
        self.inner().begin()
    }
    fn commit(&mut self) -> Result<(), DbError> {
        let r = self.inner().commit();
        kino_api::changes::committed();
        r
    }
    fn rollback(&mut self) -> Result<(), DbError> {
        kino_api::changes::rolled_back();
        self.inner().rollback()
    }
    fn retry_advised(&mut self) -> bool {
        self.inner().retry_advised()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_and_passwords_stay_out_of_logs() {
        assert_eq!(
            DbUrl::parse("sqlite:/tmp/k.db"),
            Ok(DbUrl::Sqlite("/tmp/k.db".into()))
        );
        let pg = DbUrl::parse("postgres://kino:s3cret@db:5432/kino").unwrap();
        assert_eq!(pg.to_string(), "postgres://kino:***@db:5432/kino");
        assert!(DbUrl::parse("postgresql://kino@/kino?host=/run/postgresql").is_ok());
        assert!(DbUrl::parse("mysql://x").is_err());
        assert!(DbUrl::parse("sqlite:").is_err());
    }
}
