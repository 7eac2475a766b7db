//! `kino-server check --data DIR [--database URL] [--repair]`: an fsck of the data directory.
//!
//! It runs SQLite's `PRAGMA integrity_check` (on PostgreSQL: a read of every plugin's
//! `schema_versions` row; the heap and indexes are `pg_amcheck`'s), then checks every blob a plugin's row names
//! ([`Plugin::blob_refs`]): stored, of the recorded size, with its MD5 (every byte is read).
//! Stored blobs that no row names are orphans. `--repair` moves damaged and orphan blobs to
//! `<data>/quarantine/` and marks the rows naming a damaged blob damaged; it leaves alone
//! orphans written in the last minute (an upload may be about to commit its row) and lists no
//! orphans at all when some plugin's references could not be read (every blob would look
//! orphaned). Run `--repair` with the server stopped.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use kino_api::{params, BlobStore, Database, DbError, Plugin};
use md5::{Digest, Md5};

use super::{AnyDb, BlobsAt, DbUrl, FsBlobStore, S3BlobStore};

/// The store being checked.
enum Inspect {
    Fs(FsBlobStore),
    S3(S3BlobStore),
}

/// A stored blob no row may name: where it is, its size, whether it was written lately.
struct Entry {
    place: String,
    len: u64,
    recent: bool,
    path: Option<std::path::PathBuf>,
}

impl Inspect {
    fn store(&self) -> &dyn BlobStore {
        match self {
            Inspect::Fs(s) => s,
            Inspect::S3(s) => s,
        }
    }
}

/// Orphans younger than this are reported but never moved: their row may be committing.
const RECENT: Duration = Duration::from_secs(60);

/// What a check found, line by line.
#[derive(Debug, Default)]
pub struct Report {
    /// One line per finding, then a summary.
    pub lines: Vec<String>,
    /// Problems found (rows already marked damaged are not counted).
    pub problems: usize,
}

impl Report {
    fn problem(&mut self, line: String) {
        self.problems += 1;
        self.lines.push(line);
    }
}

/// Checks the database `url` (`--database`, by default `kino.db` in the data directory) and
/// the blobs `at`; with `repair`, quarantines what is damaged or orphaned.
pub fn run(
    url: &DbUrl,
    at: &BlobsAt,
    plugins: &[Arc<dyn Plugin>],
    repair: bool,
) -> io::Result<Report> {
    let mut report = Report::default();
    let blobs = match at {
        BlobsAt::Dir(dir) => Inspect::Fs(FsBlobStore::inspect(dir, &BlobsAt::root_of(dir))),
        BlobsAt::S3(loc, id, secret) => {
            Inspect::S3(S3BlobStore::open(loc, id, secret).map_err(io::Error::other)?)
        }
    };
    let mut db = match url.sqlite_path() {
        Some(path) if !path.is_file() => {
            report.problem(format!("database: {} does not exist", path.display()));
            None
        }
        _ => match AnyDb::open(url) {
            Ok(db) => Some(db),
            Err(e) => {
                report.problem(format!("database: cannot open {url}: {e}"));
                None
            }
        },
    };
    let mut referenced = BTreeSet::new();
    let mut refs_complete = db.is_some();
    if let Some(db) = db.as_mut() {
        integrity(db, plugins, &mut report);
        for p in plugins {
            if !p.blob_refs().is_empty() && !migrated(db, p.name()) {
                // Never started with this plugin: it has no rows yet.
                continue;
            }
            for refs in p.blob_refs() {
                if let Err(e) = check_refs(db, &blobs, refs, repair, &mut referenced, &mut report) {
                    refs_complete = false;
                    report.problem(format!(
                        "{}: cannot read its blob references: {e}",
                        p.name()
                    ));
                }
            }
        }
    }
    let stored = match &blobs {
        Inspect::Fs(fs) => stored_blobs(fs.blobs_dir())?,
        Inspect::S3(s3) => stored_objects(s3)?,
    };
    if refs_complete {
        for (key, entry) in &stored {
            if !referenced.contains(key) {
                orphan(&blobs, key, entry, repair, &mut report);
            }
        }
    } else {
        report
            .lines
            .push("orphans: not checked, the blob references could not all be read".into());
    }
    report.lines.push(format!(
        "{} blob(s) stored, {} referenced: {} problem(s){}",
        stored.len(),
        referenced.len(),
        report.problems,
        if repair { ", repaired" } else { "" }
    ));
    Ok(report)
}

/// Whether the plugin's migrations ever ran on this database.
fn migrated(db: &mut AnyDb, plugin: &str) -> bool {
    (db as &mut dyn Database)
        .query_one(
            "SELECT version FROM schema_versions WHERE plugin = ?",
            params![plugin],
        )
        .ok()
        .flatten()
        .and_then(|r| r.i64(0).ok())
        .is_some_and(|v| v > 0)
}

fn integrity(db: &mut AnyDb, plugins: &[Arc<dyn Plugin>], report: &mut Report) {
    let sqlite = match db {
        AnyDb::Sqlite(sqlite) => sqlite,
        AnyDb::Postgres(pg) => return pg_answers(&mut **pg, plugins, report),
    };
    let rows: Result<Vec<String>, _> = sqlite
        .raw()
        .prepare("PRAGMA integrity_check")
        .and_then(|mut st| st.query_map([], |r| r.get(0))?.collect());
    match rows {
        Ok(rows) if rows == ["ok"] => report.lines.push("database: integrity_check ok".into()),
        Ok(rows) => {
            for r in rows {
                report.problem(format!("database: {r}"));
            }
        }
        Err(e) => report.problem(format!("database: integrity_check failed: {e}")),
    }
}

/// PostgreSQL checks its own pages (`pg_amcheck`); what is checked here is that the database
/// answers and holds this build's tables.
fn pg_answers(db: &mut dyn Database, plugins: &[Arc<dyn Plugin>], report: &mut Report) {
    match db.query("SELECT plugin FROM schema_versions", params![]) {
        Ok(rows) => {
            let known: BTreeSet<String> = rows.iter().filter_map(|r| r.string(0).ok()).collect();
            let missing: Vec<&str> = plugins
                .iter()
                .filter(|p| !p.migrations().is_empty() && !known.contains(p.name()))
                .map(|p| p.name())
                .collect();
            report.lines.push(format!(
                "database: PostgreSQL answers, {} plugin(s) migrated{}; run pg_amcheck for \
                     its pages",
                known.len(),
                if missing.is_empty() {
                    String::new()
                } else {
                    format!(" (never started with: {})", missing.join(", "))
                }
            ));
        }
        Err(e) => report.problem(format!("database: schema_versions unreadable: {e}")),
    }
}

fn check_refs(
    db: &mut AnyDb,
    blobs: &Inspect,
    refs: &kino_api::BlobRefs,
    repair: bool,
    referenced: &mut BTreeSet<String>,
    report: &mut Report,
) -> Result<(), DbError> {
    let rows: Vec<(String, String, Option<i64>, bool)> = db
        .query(refs.query, params![])?
        .iter()
        .map(|r| Ok((r.string(0)?, r.string(1)?, r.opt_i64(2)?, r.bool(3)?)))
        .collect::<Result<_, DbError>>()?;
    let mut verdicts: BTreeMap<String, Option<String>> = BTreeMap::new();
    for (what, md5, size, known) in rows {
        referenced.insert(md5.clone());
        let fault = verdicts
            .entry(md5.clone())
            .or_insert_with(|| verify(blobs, &md5, size))
            .clone();
        let Some(fault) = fault else { continue };
        if known {
            report
                .lines
                .push(format!("known damaged: {what}: blob {md5} {fault}"));
            continue;
        }
        let mut done = Vec::new();
        if repair {
            match blobs.store().quarantine(&md5) {
                Ok(()) => done.push("blob quarantined".to_owned()),
                Err(e) => done.push(format!("quarantine failed: {e}")),
            }
            match refs.mark_damaged {
                Some(sql) => match db.execute(sql, params![md5.as_str()]) {
                    Ok(_) => done.push("marked damaged".into()),
                    Err(e) => done.push(format!("marking damaged failed: {e}")),
                },
                None => done.push("no damaged mark for this row".into()),
            }
        }
        let done = if done.is_empty() {
            String::new()
        } else {
            format!(" [{}]", done.join(", "))
        };
        report.problem(format!("damaged: {what}: blob {md5} {fault}{done}"));
    }
    Ok(())
}

/// `None` when the blob is whole, else what is wrong with it.
fn verify(blobs: &Inspect, md5: &str, size: Option<i64>) -> Option<String> {
    if !kino_api::valid_key(md5) {
        return Some("is not a valid key".into());
    }
    let stored = match blobs.store().stat(md5) {
        Ok(stored) => stored,
        Err(e) => return Some(format!("cannot be read: {e}")),
    };
    let Some(stored) = stored else {
        return Some("is missing".into());
    };
    if let Some(size) = size {
        if i64::try_from(stored).ok() != Some(size) {
            return Some(format!("is {stored} bytes, not {size}"));
        }
    }
    let actual = match blobs {
        Inspect::Fs(fs) => fs
            .path_of(md5)
            .map_err(io::Error::other)
            .and_then(|p| md5_of(&p)),
        Inspect::S3(s3) => s3.digest(md5).map_err(io::Error::other),
    };
    match actual {
        Ok(actual) if actual == md5 => None,
        Ok(actual) => Some(format!("has MD5 {actual}")),
        Err(e) => Some(format!("cannot be read: {e}")),
    }
}

fn md5_of(path: &Path) -> io::Result<String> {
    let mut file = File::open(path)?;
    let mut hasher = Md5::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok(hex::encode(hasher.finalize()));
        }
        hasher.update(&buf[..n]);
    }
}

/// Every object under `blobs/` in the bucket.
fn stored_objects(s3: &S3BlobStore) -> io::Result<BTreeMap<String, Entry>> {
    let now = jiff::Timestamp::now();
    let objects = s3.list().map_err(io::Error::other)?;
    Ok(objects
        .into_iter()
        .map(|(key, len, modified)| {
            let recent = modified.parse::<jiff::Timestamp>().map_or(true, |t| {
                now.duration_since(t).as_secs() < RECENT.as_secs() as i64
            });
            let place = format!("S3 blobs/{key}");
            let entry = Entry {
                place,
                len,
                recent,
                path: None,
            };
            (key, entry)
        })
        .collect())
}

/// An entry for a file under `blobs/`.
fn file_entry(path: std::path::PathBuf) -> Entry {
    let meta = fs::metadata(&path);
    let len = meta.as_ref().map(|m| m.len()).unwrap_or(0);
    let recent = meta
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .is_some_and(|age| age < RECENT);
    Entry {
        place: path.display().to_string(),
        len,
        recent,
        path: Some(path),
    }
}

/// Every file under `blobs/`, by the key its place spells (`ab` + `cdef…`).
fn stored_blobs(dir: &Path) -> io::Result<BTreeMap<String, Entry>> {
    let mut out = BTreeMap::new();
    let shards = match fs::read_dir(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
        other => other?,
    };
    for shard in shards {
        let shard = shard?.path();
        let prefix = shard
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !shard.is_dir() {
            out.insert(prefix, file_entry(shard));
            continue;
        }
        for entry in fs::read_dir(&shard)? {
            let path = entry?.path();
            let rest = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            out.insert(format!("{prefix}{rest}"), file_entry(path));
        }
    }
    Ok(out)
}

fn orphan(blobs: &Inspect, key: &str, entry: &Entry, repair: bool, report: &mut Report) {
    let done = if !repair {
        String::new()
    } else if entry.recent {
        " [left: written in the last minute]".into()
    } else {
        let moved = match (blobs, &entry.path) {
            (Inspect::Fs(fs), Some(path)) => {
                super::verify::quarantine(path, fs.quarantine_dir(), key).map(drop)
            }
            _ => blobs.store().quarantine(key).map_err(io::Error::other),
        };
        match moved {
            Ok(()) => " [quarantined]".into(),
            Err(e) => format!(" [quarantine failed: {e}]"),
        }
    };
    report.problem(format!(
        "orphan: {} ({} bytes){done}",
        entry.place, entry.len
    ));
}
