//! The PostgreSQL backend: one synchronous `postgres` connection per thread, as SQLite has.
//!
//! - Statements are translated ([`dialect`]) and prepared once per connection, then cached.
//! - A write transaction ([`Database::begin`]) takes one cluster-wide advisory lock
//!   (`pg_advisory_xact_lock`) at READ COMMITTED: writers queue for it exactly as they do for
//!   SQLite's `BEGIN IMMEDIATE` write lock, on every node at once, and each statement still
//!   sees the latest commits (a SERIALIZABLE snapshot would be taken before the lock is granted
//!   and fail most queued writers). Statements inside one run under a savepoint, so a failed
//!   statement (a UNIQUE refusal a plugin handles) leaves the transaction usable, as in SQLite.
//! - Statements outside a transaction that fail with a serialization failure or a deadlock are
//!   run again (a few times); inside one, the whole transaction runs again
//!   ([`Database::retry_advised`], used by `transaction`), then answers `busy`.
//! - A lost connection answers `unavailable` ([`DbError::Io`]); the next call reconnects, and a
//!   read that found the connection gone reconnects and runs again at once.

mod conflict;
pub mod dialect;
mod errors;
mod guard;
pub mod value;
mod walk;

use std::collections::HashMap;
use std::str::FromStr;
use std::time::{Duration, Instant};

use kino_api::{Database, DbError, Row, SqlValue};
use postgres::{Client, Config, NoTls, Statement};

pub use errors::map_err;
use errors::{lost, retryable, stale};
use value::{Column, Param};

/// Held by every write transaction: one writer at a time over the whole cluster.
pub const WRITE_LOCK: i64 = 0x6b69_6e6f_0000_0001;
/// Held while a node checks and migrates the schema.
pub const MIGRATE_LOCK: i64 = 0x6b69_6e6f_0000_0002;
/// How long a statement waits for a lock before the request gets `busy` (as SQLite's busy
/// timeout).
const LOCK_TIMEOUT: &str = "5s";
/// Runs of a statement that hit a serialization failure or deadlock.
const RETRIES: usize = 5;
/// Prepared statements kept per connection; plugins' SQL is static text, so this is never
/// reached unless a plugin builds SQL on the fly.
const CACHE_CAP: usize = 512;

/// A PostgreSQL connection implementing the plugin-facing [`Database`] interface.
pub struct PgDb {
    config: Config,
    client: Option<Client>,
    stmts: HashMap<String, Statement>,
    /// Identity (rowid-like) column per table, for [`Database::insert`].
    ids: HashMap<String, Option<String>>,
    /// The table guard's verdicts on plugins' statements ([`guard`]).
    verdicts: guard::Verdicts,
    in_tx: bool,
    /// The connection died inside a transaction: everything up to COMMIT or ROLLBACK fails,
    /// so no statement of it runs outside it on a new connection.
    tx_lost: bool,
    /// The open (or just failed) transaction lost a conflict: [`Database::retry_advised`].
    retry: bool,
    /// No new connection is tried before this, after one failed: callers on the event loop
    /// (fast commands, session checks) must not wait for a connect timeout on every request
    /// while PostgreSQL is down.
    next_connect: Option<Instant>,
}

/// Wait after a failed connect before the next try.
const RECONNECT_BACKOFF: Duration = Duration::from_secs(1);

impl PgDb {
    /// Connects to `url` (`postgres://USER:PASS@HOST:PORT/DB`, `?host=/run/postgresql` for a
    /// socket).
    pub fn open(url: &str) -> Result<Self, DbError> {
        let mut config = Config::from_str(url)
            .map_err(|e| DbError::Backend(format!("--database: not a PostgreSQL URL: {e}")))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(5));
        }
        config.application_name("kino-server");
        let mut db = PgDb {
            config,
            client: None,
            stmts: HashMap::new(),
            ids: HashMap::new(),
            verdicts: guard::Verdicts::default(),
            in_tx: false,
            tx_lost: false,
            retry: false,
            next_connect: None,
        };
        db.client()?;
        Ok(db)
    }

    /// The live connection, connecting again when it was lost.
    fn client(&mut self) -> Result<&mut Client, DbError> {
        if self.tx_lost {
            return Err(DbError::Io(
                "PostgreSQL connection lost during a transaction".into(),
            ));
        }
        if self.client.as_ref().is_some_and(Client::is_closed) {
            self.drop_connection();
        }
        if self.client.is_none() {
            if self.next_connect.is_some_and(|t| Instant::now() < t) {
                return Err(DbError::Io("PostgreSQL unavailable; reconnecting".into()));
            }
            let mut c = self.config.connect(NoTls).map_err(|e| {
                self.next_connect = Some(Instant::now() + RECONNECT_BACKOFF);
                map_err(&e)
            })?;
            c.batch_execute(&format!(
                "SET lock_timeout = '{LOCK_TIMEOUT}'; SET TIME ZONE 'UTC'"
            ))
            .map_err(|e| map_err(&e))?;
            self.client = Some(c);
        }
        self.client
            .as_mut()
            .ok_or_else(|| DbError::Io("PostgreSQL connection lost".into()))
    }

    fn drop_connection(&mut self) {
        self.client = None;
        self.stmts.clear();
        self.tx_lost = self.in_tx;
        self.in_tx = false;
    }

    /// Rolls back a transaction a panicking handler left open, so the next call starts clean.
    pub fn reset(&mut self) {
        if self.in_tx || self.tx_lost {
            if let Err(e) = self.rollback() {
                log::warn!("rollback after failed handler: {e}");
            }
        }
    }

    /// What PostgreSQL runs for `sql`: its translation, and while a plugin's code runs, the
    /// translation as the table guard parsed and allowed it ([`guard`]).
    fn text(&mut self, sql: &str) -> Result<String, DbError> {
        match crate::store::guard::current() {
            None => Ok(dialect::translate(sql)),
            Some(owner) => self.verdicts.check(owner, sql, || dialect::translate(sql)),
        }
    }

    /// Runs a script of statements without parameters (migrations, set-up).
    pub fn batch(&mut self, sql: &str) -> Result<(), DbError> {
        let text = self.text(sql)?;
        self.client()?.batch_execute(&text).map_err(|e| map_err(&e))
    }

    /// Runs a script as it is, untranslated (PostgreSQL's own SQL): core's only.
    pub fn batch_raw(&mut self, sql: &str) -> Result<(), DbError> {
        if let Some(owner) = crate::store::guard::current() {
            return Err(guard::Refusal(format!(
                "plugin {} may not run untranslated SQL",
                owner.plugin
            ))
            .into_error());
        }
        self.client()?.batch_execute(sql).map_err(|e| map_err(&e))
    }

    fn prepared(&mut self, key: &str, sql: impl FnOnce() -> String) -> Result<Statement, DbError> {
        if let Some(s) = self.stmts.get(key) {
            return Ok(s.clone());
        }
        let text = sql();
        let stmt = self.client()?.prepare(&text).map_err(|e| map_err(&e))?;
        if self.stmts.len() >= CACHE_CAP {
            self.stmts.clear();
        }
        self.stmts.insert(key.to_owned(), stmt.clone());
        Ok(stmt)
    }

    /// Runs `sql` (prepared once under `key`), inside a savepoint in a transaction, retrying
    /// what may be retried.
    fn run<T>(
        &mut self,
        key: &str,
        sql: &str,
        idempotent: bool,
        mut f: impl FnMut(&mut Client, &Statement) -> Result<T, postgres::Error>,
    ) -> Result<T, DbError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let stmt = self.prepared(key, || sql.to_owned())?;
            let in_tx = self.in_tx;
            let client = self.client()?;
            if in_tx {
                client
                    .batch_execute("SAVEPOINT kino_stmt")
                    .map_err(|e| map_err(&e))?;
            }
            let result = f(client, &stmt);
            match result {
                Ok(v) => {
                    if in_tx {
                        client
                            .batch_execute("RELEASE SAVEPOINT kino_stmt")
                            .map_err(|e| map_err(&e))?;
                    }
                    return Ok(v);
                }
                Err(e) => {
                    if lost(&e) {
                        self.drop_connection();
                        if idempotent && !in_tx && attempt == 1 {
                            continue;
                        }
                        return Err(map_err(&e));
                    }
                    if in_tx {
                        client
                            .batch_execute("ROLLBACK TO SAVEPOINT kino_stmt")
                            .map_err(|e| map_err(&e))?;
                    }
                    if stale(&e) && attempt <= RETRIES {
                        self.stmts.remove(key);
                        continue;
                    }
                    if retryable(&e) && !in_tx && attempt <= RETRIES {
                        continue;
                    }
                    self.retry |= in_tx && retryable(&e);
                    return Err(map_err(&e));
                }
            }
        }
    }

    /// The identity column of `table` (what `INTEGER PRIMARY KEY` became), if it has one.
    fn id_column(&mut self, table: &str) -> Result<Option<String>, DbError> {
        if let Some(c) = self.ids.get(table) {
            return Ok(c.clone());
        }
        // Core's own look-up in the catalogue, whichever plugin's INSERT asked.
        let _core = crate::store::guard::enter(None);
        let rows = self.query(
            "SELECT attname::text FROM pg_attribute WHERE attrelid = to_regclass(?) \
             AND attidentity <> '' AND NOT attisdropped",
            &[SqlValue::Text(table.to_owned())],
        )?;
        let col = rows.first().and_then(|r| r.string(0).ok());
        self.ids.insert(table.to_owned(), col.clone());
        Ok(col)
    }
}

fn params(values: &[SqlValue]) -> Vec<Param<'_>> {
    values.iter().map(Param).collect()
}

fn refs<'a>(p: &'a [Param<'a>]) -> Vec<&'a (dyn postgres::types::ToSql + Sync)> {
    p.iter()
        .map(|p| p as &(dyn postgres::types::ToSql + Sync))
        .collect()
}

fn to_rows(rows: Vec<postgres::Row>) -> Result<Vec<Row>, DbError> {
    rows.iter()
        .map(|r| {
            (0..r.len())
                .map(|i| {
                    r.try_get::<_, Column>(i)
                        .map(|c| c.0)
                        .map_err(|e| DbError::Backend(e.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Row)
        })
        .collect()
}

fn is_read(sql: &str) -> bool {
    let head = sql.trim_start();
    head.get(..6)
        .is_some_and(|h| h.eq_ignore_ascii_case("select"))
}

impl Database for PgDb {
    fn execute(&mut self, sql: &str, values: &[SqlValue]) -> Result<u64, DbError> {
        let text = self.text(sql)?;
        if values.is_empty() && text.trim_end().trim_end_matches(';').contains(';') {
            self.batch(sql)?;
            return Ok(0);
        }
        let p = params(values);
        let r = refs(&p);
        self.run(sql, &text, is_read(sql), |c, s| c.execute(s, &r))
    }

    fn insert(&mut self, sql: &str, values: &[SqlValue]) -> Result<i64, DbError> {
        if crate::store::guard::current().is_some() {
            // The guard first: a refused INSERT looks nothing up.
            self.text(sql)?;
        }
        let id = match dialect::insert_table(sql) {
            Some(table) => self.id_column(&table)?,
            None => None,
        };
        let p = params(values);
        let r = refs(&p);
        let Some(col) = id else {
            let text = self.text(sql)?;
            self.run(sql, &text, false, |c, s| c.execute(s, &r))?;
            return Ok(0);
        };
        let base = sql.trim_end().trim_end_matches(';');
        let text = format!("{} RETURNING {col}", self.text(base)?);
        let key = format!("{base} RETURNING {col}");
        let rows = self.run(&key, &text, false, |c, s| c.query(s, &r))?;
        // No row: `INSERT OR IGNORE` ignored it.
        match to_rows(rows)?.first() {
            Some(row) => row.i64(0),
            None => Ok(0),
        }
    }

    fn query(&mut self, sql: &str, values: &[SqlValue]) -> Result<Vec<Row>, DbError> {
        let text = self.text(sql)?;
        let p = params(values);
        let r = refs(&p);
        let rows = self.run(sql, &text, is_read(sql), |c, s| c.query(s, &r))?;
        to_rows(rows)
    }

    fn begin(&mut self) -> Result<(), DbError> {
        let client = self.client()?;
        let r = client.batch_execute(&format!(
            "BEGIN ISOLATION LEVEL READ COMMITTED; SELECT pg_advisory_xact_lock({WRITE_LOCK})"
        ));
        match r {
            Ok(()) => {
                self.in_tx = true;
                self.retry = false;
                Ok(())
            }
            Err(e) => {
                let mapped = map_err(&e);
                if lost(&e) {
                    self.drop_connection();
                } else if let Err(rb) = client.batch_execute("ROLLBACK") {
                    log::warn!("rollback after a failed BEGIN: {rb}");
                }
                Err(mapped)
            }
        }
    }

    fn commit(&mut self) -> Result<(), DbError> {
        self.in_tx = false;
        if std::mem::take(&mut self.tx_lost) {
            return Err(DbError::Io(
                "PostgreSQL connection lost during a transaction".into(),
            ));
        }
        let r = self.client()?.batch_execute("COMMIT");
        r.map_err(|e| {
            if lost(&e) {
                self.drop_connection();
            }
            self.retry |= retryable(&e);
            map_err(&e)
        })
    }

    fn retry_advised(&mut self) -> bool {
        self.retry
    }

    fn rollback(&mut self) -> Result<(), DbError> {
        if std::mem::take(&mut self.tx_lost) {
            // The server rolled it back when the connection went.
            return Ok(());
        }
        self.in_tx = false;
        let r = self.client()?.batch_execute("ROLLBACK");
        r.map_err(|e| {
            if lost(&e) {
                self.drop_connection();
            }
            map_err(&e)
        })
    }
}
