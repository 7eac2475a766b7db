//! Scripts kept in the database, so every node of a cluster serves the same version:
//! `plugins.install` stores a script and bumps one version row; each node polls that row every
//! second ([`Poller`]) and reloads when it moved. Core's own tables (`kino_*`), created on first
//! use so no core migration is needed.

use std::sync::Weak;
use std::time::Duration;

use kino_api::{Database, DbError};

use super::load::Source;
use super::Origin;
use crate::host::ServerHost;
use crate::store::guard;
use crate::store::{AnyDb, DbUrl};

/// How often a node looks at the version row.
pub const POLL: Duration = Duration::from_secs(1);

const TABLES: [&str; 2] = [
    "CREATE TABLE IF NOT EXISTS kino_scripts (name TEXT PRIMARY KEY, source TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS kino_scripts_version (id INTEGER PRIMARY KEY, version INTEGER NOT NULL)",
];

fn tables(db: &mut dyn Database) -> Result<(), DbError> {
    for sql in TABLES {
        db.execute(sql, &[])?;
    }
    Ok(())
}

/// The version row (0 before the first install).
pub fn version(db: &mut dyn Database) -> Result<i64, DbError> {
    let _core = guard::enter(None);
    tables(db)?;
    db.query_one("SELECT version FROM kino_scripts_version WHERE id = 1", &[])?
        .map_or(Ok(0), |r| r.i64(0))
}

/// The version row and every stored script.
pub(super) fn sources(db: &mut dyn Database) -> Result<(i64, Vec<Source>), DbError> {
    let version = version(db)?;
    let _core = guard::enter(None);
    let rows = db.query("SELECT name, source FROM kino_scripts ORDER BY name", &[])?;
    let mut out = Vec::new();
    for r in rows {
        let name = r.string(0)?;
        out.push(Source {
            path: format!("db:{name}/plugin.rhai"),
            name,
            text: r.string(1)?,
            origin: Origin::Database,
        });
    }
    Ok((version, out))
}

/// Stores (`Some`) or deletes (`None`) a script and bumps the version row, in one transaction;
/// returns whether a row changed.
pub(super) fn store(
    db: &mut dyn Database,
    name: &str,
    source: Option<&str>,
) -> Result<bool, DbError> {
    let _core = guard::enter(None);
    tables(db)?;
    db.transaction(|db| {
        let changed = match source {
            Some(text) => db.execute(
                "INSERT INTO kino_scripts (name, source) VALUES (?, ?)
                 ON CONFLICT(name) DO UPDATE SET source = excluded.source",
                kino_api::params![name, text],
            )?,
            None => db.execute(
                "DELETE FROM kino_scripts WHERE name = ?",
                kino_api::params![name],
            )?,
        };
        db.execute(
            "INSERT INTO kino_scripts_version (id, version) VALUES (1, 1)
             ON CONFLICT(id) DO UPDATE SET version = kino_scripts_version.version + 1",
            &[],
        )?;
        Ok(changed > 0)
    })
}

/// Polls the version row every [`POLL`] and reloads this node's scripts when another node moved
/// it. Dropping it stops the thread and waits for it.
pub struct Poller {
    stop: Option<crossbeam_channel::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Poller {
    /// Starts polling for `host`, on a connection of its own.
    pub fn start(host: Weak<ServerHost>, url: DbUrl) -> std::io::Result<Self> {
        let (stop, rx) = crossbeam_channel::bounded::<()>(0);
        let thread = std::thread::Builder::new()
            .name("kino-scripts".into())
            .spawn(move || {
                let mut db = None;
                while let Err(crossbeam_channel::RecvTimeoutError::Timeout) = rx.recv_timeout(POLL)
                {
                    let Some(host) = host.upgrade() else { return };
                    if db.is_none() {
                        db = AnyDb::open(&url)
                            .map_err(|e| log::warn!("script version poll: {e}"))
                            .ok();
                    }
                    let Some(conn) = db.as_mut() else { continue };
                    let seen = *host
                        .scripts
                        .seen_version
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    match version(conn) {
                        Ok(v) if v != seen => {
                            log::info!("installed scripts changed (version {v}): reloading");
                            host.scripts.reload(&host.registry, conn);
                        }
                        Ok(_) => {}
                        Err(e) => {
                            log::warn!("script version poll: {e}");
                            db = None;
                        }
                    }
                }
            })?;
        Ok(Poller {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Poller {
    fn drop(&mut self) {
        self.stop.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
