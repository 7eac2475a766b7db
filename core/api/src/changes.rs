//! Which tables this process has written, as counters, so a read can be remembered (a
//! [`Snapshots`] page) until the tables it read change. Core's database connection calls
//! [`wrote`] after every write statement and [`committed`] after every commit; a write inside a
//! transaction counts only once it is committed, so a snapshot built from the rows before the
//! commit is never stamped with the version after it.
//!
//! Only this process's writes are seen: another node on the same database (or the offline
//! tools) changes rows behind it, so every snapshot also expires after [`SNAPSHOT_TTL`], the
//! same bound the session cache gives another node's logout.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use kino_proto::Page;
use serde_json::Value;

use crate::Output;

/// How long a snapshot is served at most: what another node's write may take to show here.
pub const SNAPSHOT_TTL: Duration = Duration::from_millis(500);

/// Bumped by statements whose table cannot be told (DDL, `WITH ...`): every table changed.
static EPOCH: AtomicU64 = AtomicU64::new(0);
static TABLES: Mutex<Option<HashMap<String, u64>>> = Mutex::new(None);

thread_local! {
    /// Tables written in this thread's open transaction, bumped again at its commit.
    static PENDING: RefCell<Option<Vec<String>>> = const { RefCell::new(None) };
}

/// The table a write statement names (`INSERT [OR x] INTO t`, `UPDATE [OR x] t`,
/// `DELETE FROM t`, `REPLACE INTO t`); `Err(())` for a statement that may write anything;
/// `Ok(None)` for one that writes nothing (`SELECT`).
fn target(sql: &str) -> Result<Option<String>, ()> {
    let mut words = sql
        .split(|c: char| c.is_whitespace() || c == '(' || c == ';')
        .filter(|w| !w.is_empty());
    let first = words.next().ok_or(())?.to_ascii_uppercase();
    let table = match first.as_str() {
        "SELECT" | "VALUES" => return Ok(None),
        "INSERT" | "REPLACE" => words
            .find(|w| w.eq_ignore_ascii_case("INTO"))
            .and_then(|_| words.next()),
        "UPDATE" => match words.next() {
            Some(w) if w.eq_ignore_ascii_case("OR") => words.nth(1),
            w => w,
        },
        "DELETE" => words
            .find(|w| w.eq_ignore_ascii_case("FROM"))
            .and_then(|_| words.next()),
        _ => None,
    };
    table
        .map(|t| {
            Some(
                t.trim_matches(|c| c == '"' || c == '`')
                    .to_ascii_lowercase(),
            )
        })
        .ok_or(())
}

fn bump(table: &str) {
    let mut map = TABLES.lock().unwrap_or_else(PoisonError::into_inner);
    *map.get_or_insert_with(HashMap::new)
        .entry(table.to_owned())
        .or_default() += 1;
}

/// A statement that may write ran on this thread's connection (reads are told apart here).
pub fn wrote(sql: &str) {
    match target(sql) {
        Ok(None) => {}
        Ok(Some(table)) => {
            bump(&table);
            PENDING.with(|p| {
                if let Some(tables) = p.borrow_mut().as_mut() {
                    tables.push(table);
                }
            });
        }
        Err(()) => {
            EPOCH.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// A transaction began on this thread's connection.
pub fn began() {
    PENDING.with(|p| {
        p.borrow_mut().get_or_insert_with(Vec::new);
    });
}

/// This thread's transaction committed: its tables change again, now that others see it.
pub fn committed() {
    if let Some(tables) = PENDING.with(|p| p.borrow_mut().take()) {
        for t in tables {
            bump(&t);
        }
    }
}

/// This thread's transaction rolled back.
pub fn rolled_back() {
    PENDING.with(|p| *p.borrow_mut() = None);
}

/// The version of `tables` together: it changes whenever one of them is written.
pub fn version(tables: &[&str]) -> u64 {
    let map = TABLES.lock().unwrap_or_else(PoisonError::into_inner);
    let sum = tables
        .iter()
        .map(|t| map.as_ref().and_then(|m| m.get(*t)).copied().unwrap_or(0))
        .fold(0u64, u64::wrapping_add);
    sum.wrapping_add(EPOCH.load(Ordering::SeqCst))
}

struct Snap {
    version: u64,
    built: Instant,
    encoded: Arc<[u8]>,
    page: Option<Page>,
}

/// Read-only replies remembered by their arguments until a table they read is written (on this
/// node) or [`SNAPSHOT_TTL`] passes, so a hot list is answered on the event loop without the
/// database. At most `max` keys (the plugin's setting, passed to [`Snapshots::put`]); when
/// full, the oldest half is dropped.
pub struct Snapshots<K> {
    tables: &'static [&'static str],
    map: Mutex<HashMap<K, Snap>>,
}

impl<K: Hash + Eq + Clone> Snapshots<K> {
    /// Snapshots of replies read from `tables`.
    pub fn new(tables: &'static [&'static str]) -> Self {
        Snapshots {
            tables,
            map: Mutex::new(HashMap::new()),
        }
    }

    /// The version to stamp a reply with: read it BEFORE reading the rows.
    pub fn version(&self) -> u64 {
        version(self.tables)
    }

    /// The remembered reply for `key`, if still current.
    pub fn get(&self, key: &K) -> Option<Output> {
        let now = self.version();
        let map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        let snap = map.get(key)?;
        if snap.version != now || snap.built.elapsed() >= SNAPSHOT_TTL {
            return None;
        }
        let mut out = Output::from(Value::Null);
        out.encoded = Some(Arc::clone(&snap.encoded));
        out.page = snap.page;
        Some(out)
    }

    /// Remembers `out` (built from rows read after `version` was taken) for `key`, keeping at
    /// most `max` replies (0: none).
    pub fn put(&self, key: K, version: u64, out: &Output, max: usize) {
        if max == 0 || out.body.is_some() || out.raw || out.not_before.is_some() {
            return;
        }
        let Ok(encoded) = serde_json::to_vec(&out.data) else {
            return;
        };
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= max && !map.contains_key(&key) {
            let mut ages: Vec<Instant> = map.values().map(|s| s.built).collect();
            ages.sort_unstable();
            let cut = ages[ages.len() / 2];
            map.retain(|_, s| s.built > cut);
        }
        map.insert(
            key,
            Snap {
                version,
                built: Instant::now(),
                encoded: encoded.into(),
                page: out.page,
            },
        );
    }

    /// How many replies are remembered.
    pub fn len(&self) -> usize {
        self.map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_statements_name_their_table() {
        assert_eq!(
            target("INSERT INTO movies (a) VALUES (?)"),
            Ok(Some("movies".into()))
        );
        assert_eq!(
            target("insert or ignore into Notices(a) values (1)"),
            Ok(Some("notices".into()))
        );
        assert_eq!(
            target("UPDATE movies SET damaged = 1"),
            Ok(Some("movies".into()))
        );
        assert_eq!(
            target("UPDATE OR REPLACE movies SET x = 1"),
            Ok(Some("movies".into()))
        );
        assert_eq!(
            target("  DELETE FROM \"movies\" WHERE id = ?"),
            Ok(Some("movies".into()))
        );
        assert_eq!(target("SELECT 1"), Ok(None));
        assert_eq!(target("WITH x AS (SELECT 1) DELETE FROM movies"), Err(()));
        assert_eq!(target("CREATE TABLE t (a)"), Err(()));
    }

    #[test]
    fn snapshots_past_the_cap_keep_at_most_the_cap_and_the_newest() {
        let snaps: Snapshots<u64> = Snapshots::new(&["changes_test_cap"]);
        let out = Output::from(serde_json::json!([1, 2, 3]));
        for k in 0..1000u64 {
            snaps.put(k, snaps.version(), &out, 8);
            assert!(snaps.len() <= 8, "{} remembered after {k}", snaps.len());
        }
        assert!(snaps.get(&999).is_some(), "the newest is kept");
        snaps.put(1000, snaps.version(), &out, 0);
        assert!(snaps.get(&1000).is_none(), "a cap of 0 remembers nothing");
    }

    #[test]
    fn a_transaction_counts_again_at_commit_and_unknown_writes_count_everywhere() {
        let v0 = version(&["changes_test_a"]);
        began();
        wrote("INSERT INTO changes_test_a VALUES (1)");
        let v1 = version(&["changes_test_a"]);
        assert_ne!(v0, v1);
        committed();
        assert_ne!(version(&["changes_test_a"]), v1);
        let v2 = version(&["changes_test_b"]);
        wrote("CREATE TABLE x (a)");
        assert_ne!(version(&["changes_test_b"]), v2);
    }
}
