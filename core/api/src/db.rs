//! The database as plugins see it: SQL text with `?` placeholders, values in, rows out.
//!
//! Kept this small on purpose, so a PostgreSQL backend can stand in for the embedded SQLite one
//! (placeholders translated, `BEGIN IMMEDIATE` becoming `BEGIN`) without touching a plugin.
//! Plugins write portable SQL: `INTEGER PRIMARY KEY` ids, `TEXT` times in RFC 3339, no
//! SQLite-only functions in queries.

/// One SQL value.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    /// NULL.
    Null,
    /// INTEGER (booleans are stored as 0/1).
    Int(i64),
    /// REAL.
    Real(f64),
    /// TEXT.
    Text(String),
    /// BLOB.
    Blob(Vec<u8>),
}

macro_rules! from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for SqlValue {
            fn from(v: $t) -> Self { SqlValue::Int(v as i64) }
        }
    )*};
}
from_int!(i64, i32, u32, u16, u8);

impl From<u64> for SqlValue {
    fn from(v: u64) -> Self {
        SqlValue::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}
impl From<bool> for SqlValue {
    fn from(v: bool) -> Self {
        SqlValue::Int(i64::from(v))
    }
}
impl From<f64> for SqlValue {
    fn from(v: f64) -> Self {
        SqlValue::Real(v)
    }
}
impl From<&str> for SqlValue {
    fn from(v: &str) -> Self {
        SqlValue::Text(v.to_owned())
    }
}
impl From<String> for SqlValue {
    fn from(v: String) -> Self {
        SqlValue::Text(v)
    }
}
impl From<&String> for SqlValue {
    fn from(v: &String) -> Self {
        SqlValue::Text(v.clone())
    }
}
impl From<Vec<u8>> for SqlValue {
    fn from(v: Vec<u8>) -> Self {
        SqlValue::Blob(v)
    }
}
impl<T: Into<SqlValue>> From<Option<T>> for SqlValue {
    fn from(v: Option<T>) -> Self {
        v.map_or(SqlValue::Null, Into::into)
    }
}

/// Builds a `&[SqlValue]` from mixed Rust values: `params![id, name, true]`.
#[macro_export]
macro_rules! params {
    () => { &[] as &[$crate::SqlValue] };
    ($($v:expr),+ $(,)?) => { &[$($crate::SqlValue::from($v)),+] as &[$crate::SqlValue] };
}

/// Escapes `%`, `_` and `\` so `s` matches only itself in a `LIKE ? ESCAPE '\'` pattern (a
/// user's search text must not act as a wildcard).
pub fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Why a database call failed. Backend-neutral: each backend maps its own error codes here
/// (SQLite in `core/server/src/store/sqlite.rs`). The `String`s carry the backend's text for the
/// server log only; [`crate::CmdError`]'s conversion never puts them on the wire.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DbError {
    /// Another writer held the lock past the busy timeout.
    #[error("database busy")]
    Busy,
    /// A UNIQUE or PRIMARY KEY constraint refused the write: the row already exists. The one
    /// constraint failure a client can cause, so it reaches the client as `conflict`.
    #[error("unique constraint failed: {0}")]
    Unique(String),
    /// A FOREIGN KEY constraint refused the write: the plugin wrote a dangling reference.
    #[error("foreign key constraint failed: {0}")]
    ForeignKey(String),
    /// A CHECK or NOT NULL constraint refused the write: the plugin let a bad value through
    /// its own argument checks.
    #[error("check constraint failed: {0}")]
    Check(String),
    /// The server's database guard refused the statement (a plugin touching a table it does
    /// not own).
    #[error("statement not authorized: {0}")]
    Denied(String),
    /// A column held another type than the plugin asked for.
    #[error("column {index}: expected {expected}")]
    Type {
        /// Zero-based column.
        index: usize,
        /// What the caller asked for.
        expected: &'static str,
    },
    /// The database could not grow: the disk is full, or the file reached its configured cap
    /// (SQLite `SQLITE_FULL`). Reads still work.
    #[error("database storage is full")]
    Full,
    /// The disk failed under the database (SQLite `SQLITE_IOERR`); the detail is for the log.
    #[error("database I/O error: {0}")]
    Io(String),
    /// Anything else from the backend.
    #[error("database error: {0}")]
    Backend(String),
}

/// One result row.
#[derive(Debug, Clone, PartialEq)]
pub struct Row(pub Vec<SqlValue>);

impl Row {
    fn at(&self, i: usize) -> &SqlValue {
        self.0.get(i).unwrap_or(&SqlValue::Null)
    }

    /// An INTEGER column.
    pub fn i64(&self, i: usize) -> Result<i64, DbError> {
        match self.at(i) {
            SqlValue::Int(v) => Ok(*v),
            _ => Err(DbError::Type {
                index: i,
                expected: "integer",
            }),
        }
    }

    /// An INTEGER column that may be NULL.
    pub fn opt_i64(&self, i: usize) -> Result<Option<i64>, DbError> {
        match self.at(i) {
            SqlValue::Null => Ok(None),
            _ => self.i64(i).map(Some),
        }
    }

    /// A 0/1 column.
    pub fn bool(&self, i: usize) -> Result<bool, DbError> {
        Ok(self.i64(i)? != 0)
    }

    /// A REAL (or INTEGER) column.
    pub fn f64(&self, i: usize) -> Result<f64, DbError> {
        match self.at(i) {
            SqlValue::Real(v) => Ok(*v),
            SqlValue::Int(v) => Ok(*v as f64),
            _ => Err(DbError::Type {
                index: i,
                expected: "real",
            }),
        }
    }

    /// A TEXT column.
    pub fn str(&self, i: usize) -> Result<&str, DbError> {
        match self.at(i) {
            SqlValue::Text(v) => Ok(v),
            _ => Err(DbError::Type {
                index: i,
                expected: "text",
            }),
        }
    }

    /// A TEXT column that may be NULL.
    pub fn opt_str(&self, i: usize) -> Result<Option<&str>, DbError> {
        match self.at(i) {
            SqlValue::Null => Ok(None),
            _ => self.str(i).map(Some),
        }
    }

    /// A TEXT column, owned.
    pub fn string(&self, i: usize) -> Result<String, DbError> {
        self.str(i).map(str::to_owned)
    }
}

/// A connection to the database. Each worker thread has its own; handlers never share one.
pub trait Database {
    /// Runs a statement; returns the number of rows changed.
    fn execute(&mut self, sql: &str, params: &[SqlValue]) -> Result<u64, DbError>;
    /// Runs an INSERT; returns the new row's id.
    fn insert(&mut self, sql: &str, params: &[SqlValue]) -> Result<i64, DbError>;
    /// Runs a query; returns every row.
    fn query(&mut self, sql: &str, params: &[SqlValue]) -> Result<Vec<Row>, DbError>;
    /// Starts a write transaction that takes the write lock at once (SQLite `BEGIN IMMEDIATE`),
    /// so it never fails half-way with BUSY on the upgrade from read to write.
    fn begin(&mut self) -> Result<(), DbError>;
    /// Commits the open transaction.
    fn commit(&mut self) -> Result<(), DbError>;
    /// Rolls the open transaction back.
    fn rollback(&mut self) -> Result<(), DbError>;
    /// Whether the transaction that just failed lost a conflict with another one (PostgreSQL's
    /// serialization failure or deadlock) and running it again may succeed. SQLite's write lock
    /// never lets that happen.
    fn retry_advised(&mut self) -> bool {
        false
    }
}

/// Runs of one transaction that lost a conflict (see [`Database::retry_advised`]).
const TRANSACTION_RUNS: usize = 5;

impl dyn Database + '_ {
    /// The first row, if any.
    pub fn query_one(&mut self, sql: &str, params: &[SqlValue]) -> Result<Option<Row>, DbError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    /// The first column of the first row as a count (`SELECT COUNT(*) ...`), 0 when there is
    /// no row: the `total` of a paged list.
    pub fn count(&mut self, sql: &str, params: &[SqlValue]) -> Result<u64, DbError> {
        match self.query_one(sql, params)? {
            Some(row) => Ok(row.i64(0)?.max(0) as u64),
            None => Ok(0),
        }
    }

    /// Runs `f` in a write transaction: committed when it returns `Ok`, rolled back otherwise.
    /// A transaction that lost a conflict with another (PostgreSQL) runs again, a few times.
    pub fn transaction<T, E: From<DbError>>(
        &mut self,
        mut f: impl FnMut(&mut dyn Database) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut run = 0;
        loop {
            run += 1;
            self.begin()?;
            let failed = match f(self) {
                Ok(v) => match self.commit() {
                    Ok(()) => return Ok(v),
                    Err(e) => E::from(e),
                },
                Err(e) => {
                    if let Err(rb) = self.rollback() {
                        log::warn!("rollback failed: {rb}");
                    }
                    e
                }
            };
            if run >= TRANSACTION_RUNS || !self.retry_advised() {
                return Err(failed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::escape_like;

    #[test]
    fn like_wildcards_are_escaped() {
        assert_eq!(escape_like("movie:"), "movie:");
        assert_eq!(escape_like("50%_off\\"), "50\\%\\_off\\\\");
    }
}
