//! Server-side sessions: a random token maps to an identity. Identity comes only from here.
//!
//! Sessions live in the database (`kino_sessions`), so every node on one database knows them:
//! a session made on one node works on another, and a logout, `auth.lock` or password change on
//! any node ends it everywhere. Only a hash of the token is stored (SHA-256: tokens are 128
//! random bits, so no slow hash is needed), so a leaked database or backup holds no usable
//! session.
//!
//! Resolving a token happens for every request, so each node keeps a small cache: an entry is
//! trusted for [`RECHECK`] after it was read from the database, then read again. The loop only
//! ever consults the cache ([`SessionStore::cached`]); a miss is read on a pool worker
//! ([`SessionStore::resolve_on`]), so a slow database never stalls other connections. A session ended on another node is therefore refused here within `RECHECK` (500 ms);
//! ended on this node, at once. Reads never wait for a writer (SQLite WAL, PostgreSQL MVCC);
//! the writes a request causes (idle timers moving on) are batched by [`SessionStore::flush`]
//! on a thread of their own, never on the loop.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use kino_api::{params, Database, DbError, Identity, Migration, Role};
use sha2::{Digest, Sha256};

use crate::store::{AnyDb, DbUrl};

/// How long a cached session is trusted before the database is asked again.
pub const RECHECK: Duration = Duration::from_millis(500);

/// Who owns the sessions table for the migration guard: core, under the `kino_` prefix.
pub const OWNER: crate::store::guard::Owner = crate::store::guard::Owner {
    plugin: "kino",
    tables: &[],
};

/// The sessions table, migrated as the pseudo-plugin `kino` (core's own tables).
pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "sessions",
    sql: "CREATE TABLE kino_sessions (
            token_hash TEXT PRIMARY KEY,
            user_id INTEGER NOT NULL,
            name TEXT NOT NULL,
            role TEXT NOT NULL,
            last_used INTEGER NOT NULL
          );
          CREATE INDEX kino_sessions_user ON kino_sessions (user_id);
          CREATE INDEX kino_sessions_last_used ON kino_sessions (last_used);",
}];

#[derive(Debug, Clone)]
struct Cached {
    identity: Identity,
    /// When the database last confirmed it (ms).
    checked: i64,
}

/// Every session, in the database, with this node's cache in front.
pub struct SessionStore {
    /// For the loop's reads; `None` once the server stopped ([`SessionStore::close`]).
    reader: Mutex<Option<AnyDb>>,
    /// For begin, end and the flush.
    writer: Mutex<Option<AnyDb>>,
    // aHash: keyed per process like SipHash (hashes come from client tokens), and fast.
    cache: Mutex<HashMap<String, Cached, ahash::RandomState>>,
    /// Sessions used since the last flush, with their last use (ms).
    touched: Mutex<HashMap<String, i64, ahash::RandomState>>,
    ttl_ms: i64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn closed() -> DbError {
    DbError::Backend("the server has stopped".into())
}

/// Runs `f` on a connection, unless the store was closed. As core, not as the plugin whose
/// handler began or ended the session (the table guard would refuse it `kino_sessions`).
fn with<T>(
    m: &Mutex<Option<AnyDb>>,
    f: impl FnOnce(&mut dyn Database) -> Result<T, DbError>,
) -> Result<T, DbError> {
    let _core = crate::store::guard::enter(None);
    match lock(m).as_mut() {
        Some(db) => f(db),
        None => Err(closed()),
    }
}

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl SessionStore {
    /// Opens the store's connections; sessions end after `ttl` without use.
    pub fn open(url: &DbUrl, ttl: Duration) -> Result<Self, DbError> {
        Ok(SessionStore {
            reader: Mutex::new(Some(AnyDb::open(url)?)),
            writer: Mutex::new(Some(AnyDb::open(url)?)),
            cache: Mutex::default(),
            touched: Mutex::default(),
            ttl_ms: i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX),
        })
    }

    /// Creates a session with a fresh 128-bit token from the OS RNG. When the database refuses
    /// the row, the token still works on this node until its cache entry is rechecked.
    pub fn begin(&self, identity: Identity, now: i64) -> String {
        let mut raw = [0u8; 16];
        if let Err(e) = getrandom::fill(&mut raw) {
            // Without the OS RNG no token is safe to hand out; refuse to go on.
            panic!("OS random number generator failed: {e}");
        }
        let token = hex::encode(raw);
        let key = hash(&token);
        let written = with(&self.writer, |db| {
            db.execute(
                "INSERT INTO kino_sessions (token_hash, user_id, name, role, last_used)
                 VALUES (?, ?, ?, ?, ?)",
                params![
                    key.as_str(),
                    identity.user_id,
                    identity.name.as_str(),
                    identity.role.as_str(),
                    now
                ],
            )
        });
        if let Err(e) = written {
            log::error!("recording a session for {}: {e}", identity.name);
        }
        lock(&self.cache).insert(
            key,
            Cached {
                identity,
                checked: now,
            },
        );
        token
    }

    /// The identity behind a token when this node's cache still vouches for it, refreshing its
    /// idle timer. It never reads the database, so the loop may call it; `None` means only
    /// [`SessionStore::resolve_on`] (off the loop) can say.
    pub fn cached(&self, token: &str, now: i64) -> Option<Identity> {
        let key = hash(token);
        let recheck = RECHECK.as_millis() as i64;
        let identity = lock(&self.cache)
            .get(&key)
            .filter(|c| now - c.checked < recheck)
            .map(|c| c.identity.clone())?;
        lock(&self.touched).insert(key, now);
        Some(identity)
    }

    /// The identity behind a token, refreshing its idle timer; expired or ended sessions give
    /// `None` (and so does a database that cannot be read: refusing is the safe side). May
    /// read the database through the store's own connection.
    pub fn resolve(&self, token: &str, now: i64) -> Option<Identity> {
        if let Some(identity) = self.cached(token, now) {
            return Some(identity);
        }
        self.read_through(token, now, |sql, values| {
            with(&self.reader, |db| db.query_one(sql, values))
        })
    }

    /// [`SessionStore::resolve`] on the calling thread's connection (a pool worker's), so
    /// lookups that miss the cache neither run on the loop nor queue behind one another.
    pub fn resolve_on(&self, db: &mut dyn Database, token: &str, now: i64) -> Option<Identity> {
        if let Some(identity) = self.cached(token, now) {
            return Some(identity);
        }
        let _core = crate::store::guard::enter(None);
        self.read_through(token, now, |sql, values| db.query_one(sql, values))
    }

    fn read_through(
        &self,
        token: &str,
        now: i64,
        query_one: impl FnOnce(&str, &[kino_api::SqlValue]) -> Result<Option<kino_api::Row>, DbError>,
    ) -> Option<Identity> {
        let key = hash(token);
        let row = query_one(
            "SELECT user_id, name, role, last_used FROM kino_sessions WHERE token_hash = ?",
            params![key.as_str()],
        );
        let row = match row {
            Ok(Some(r)) => r,
            Ok(None) => {
                lock(&self.cache).remove(&key);
                return None;
            }
            Err(e) => {
                log::warn!("reading a session: {e}");
                return None;
            }
        };
        let last_used = row.i64(3).ok()?;
        let pending = lock(&self.touched).get(&key).copied().unwrap_or(0);
        if now - last_used.max(pending) > self.ttl_ms {
            lock(&self.cache).remove(&key);
            return None;
        }
        let identity = Identity {
            user_id: row.i64(0).ok()?,
            name: row.string(1).ok()?,
            role: if row.str(2).ok()? == "admin" {
                Role::Admin
            } else {
                Role::User
            },
        };
        lock(&self.cache).insert(
            key.clone(),
            Cached {
                identity: identity.clone(),
                checked: now,
            },
        );
        lock(&self.touched).insert(key, now);
        Some(identity)
    }

    /// Ends one session.
    pub fn end(&self, token: &str) {
        let key = hash(token);
        lock(&self.cache).remove(&key);
        lock(&self.touched).remove(&key);
        if let Err(e) = with(&self.writer, |db| {
            db.execute(
                "DELETE FROM kino_sessions WHERE token_hash = ?",
                params![key.as_str()],
            )
        }) {
            log::error!("ending a session: {e}");
        }
    }

    /// Ends every session of a user; returns how many.
    pub fn end_user(&self, user_id: i64) -> usize {
        lock(&self.cache).retain(|_, c| c.identity.user_id != user_id);
        self.delete(
            "DELETE FROM kino_sessions WHERE user_id = ?",
            params![user_id],
        )
    }

    /// Ends every session of a user except `keep`; returns how many.
    pub fn end_user_except(&self, user_id: i64, keep: &str) -> usize {
        let keep = hash(keep);
        lock(&self.cache).retain(|k, c| c.identity.user_id != user_id || *k == keep);
        self.delete(
            "DELETE FROM kino_sessions WHERE user_id = ? AND token_hash <> ?",
            params![user_id, keep.as_str()],
        )
    }

    fn delete(&self, sql: &str, values: &[kino_api::SqlValue]) -> usize {
        match with(&self.writer, |db| db.execute(sql, values)) {
            Ok(n) => n as usize,
            Err(e) => {
                log::error!("ending sessions: {e}");
                0
            }
        }
    }

    /// Forgets cache entries due for a recheck anyway (the loop's timer), so the cache holds
    /// only sessions in use.
    pub fn sweep(&self, now: i64) {
        let recheck = RECHECK.as_millis() as i64;
        lock(&self.cache).retain(|_, c| now - c.checked < recheck);
    }

    /// Writes the idle timers of sessions used since the last flush and deletes expired
    /// sessions; runs off the loop (it may wait for the database's write lock).
    pub fn flush(&self, now: i64) {
        let touched = std::mem::take(&mut *lock(&self.touched));
        let mut db = lock(&self.writer);
        let Some(db) = db.as_mut() else { return };
        for (key, at) in touched {
            if let Err(e) = db.execute(
                "UPDATE kino_sessions SET last_used = ? WHERE token_hash = ? AND last_used < ?",
                params![at, key.as_str(), at],
            ) {
                log::warn!("recording session use: {e}");
                break;
            }
        }
        if let Err(e) = db.execute(
            "DELETE FROM kino_sessions WHERE last_used < ?",
            params![now.saturating_sub(self.ttl_ms)],
        ) {
            log::warn!("deleting expired sessions: {e}");
        }
    }

    /// Live sessions over every node, for `server.info` (0 when the database cannot say).
    pub fn len(&self) -> usize {
        let since = now_ms().saturating_sub(self.ttl_ms);
        with(&self.reader, |db| {
            db.count(
                "SELECT COUNT(*) FROM kino_sessions WHERE last_used >= ?",
                params![since],
            )
        })
        .map_or(0, |n| n as usize)
    }

    /// Ends every session (a single node's restart).
    pub fn clear(&self) -> Result<(), DbError> {
        lock(&self.cache).clear();
        lock(&self.touched).clear();
        with(&self.writer, |db| {
            db.execute("DELETE FROM kino_sessions", &[])
        })
        .map(drop)
    }

    /// Closes the connections when the server stops, whichever thread drops the last
    /// reference to it later (a transfer thread finishing), so files can be moved at once.
    pub fn close(&self) {
        lock(&self.reader).take();
        lock(&self.writer).take();
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests;
