//! After the run: the database, opened read-only, against what the honest clients saw. Every
//! purchase, download and transcription a client saw succeed must be there; rows no client saw
//! succeed (a reply lost with its connection) are counted apart.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use rusqlite::{Connection, OpenFlags};

use super::honest::Tally;

/// Seen successes missing from the database, and rows no client saw succeed.
#[derive(Debug, Default)]
pub struct DbCheck {
    missing_users: u64,
    missing_orders: u64,
    missing_downloads: u64,
    missing_transcriptions: u64,
    unseen_orders: u64,
    unseen_downloads: u64,
    orders: u64,
    downloads: u64,
}

impl DbCheck {
    /// Seen successes that are not in the database (must be zero).
    pub fn missing(&self) -> u64 {
        self.missing_users
            + self.missing_orders
            + self.missing_downloads
            + self.missing_transcriptions
    }

    /// Prints the check.
    pub fn report(&self) {
        println!(
            "database: {} soak orders, {} soak download records; missing: {} users, {} orders, {} downloads, {} transcriptions; rows no client saw succeed: {} orders, {} downloads",
            self.orders,
            self.downloads,
            self.missing_users,
            self.missing_orders,
            self.missing_downloads,
            self.missing_transcriptions,
            self.unseen_orders,
            self.unseen_downloads
        );
    }
}

fn counts(db: &Connection, sql: &str) -> Result<BTreeMap<(String, String), u64>> {
    let mut stmt = db.prepare(sql)?;
    let rows = stmt.query_map([], |r| {
        Ok((
            (r.get::<_, String>(0)?, r.get::<_, String>(1)?),
            r.get::<_, i64>(2)?,
        ))
    })?;
    let mut out = BTreeMap::new();
    for row in rows {
        let (k, n) = row?;
        out.insert(k, n as u64);
    }
    Ok(out)
}

fn seen<'a>(pairs: impl Iterator<Item = (&'a String, String)>) -> BTreeMap<(String, String), u64> {
    let mut out = BTreeMap::new();
    for (who, what) in pairs {
        *out.entry((who.clone(), what)).or_default() += 1;
    }
    out
}

/// Compares `tally` with the database at `path`.
pub fn run(path: &Path, tally: &Tally) -> Result<DbCheck> {
    let db = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .with_context(|| format!("opening {} read-only", path.display()))?;
    let mut c = DbCheck::default();
    for name in &tally.registered {
        let n: i64 = db.query_row("SELECT COUNT(*) FROM users WHERE name = ?", [name], |r| {
            r.get(0)
        })?;
        if n != 1 {
            c.missing_users += 1;
        }
    }
    let orders = counts(
        &db,
        "SELECT user_name, item, COUNT(*) FROM orders WHERE user_name LIKE 'soak%' GROUP BY 1, 2",
    )?;
    let bought = seen(tally.bought.iter().map(|(u, m)| (u, format!("movie:{m}"))));
    let downloads = counts(
        &db,
        "SELECT user_name, CAST(movie_id AS TEXT), COUNT(*) FROM download_records
          WHERE user_name LIKE 'soak%' GROUP BY 1, 2",
    )?;
    let downloaded = seen(tally.downloaded.iter().map(|(u, m)| (u, m.to_string())));
    for (want, have, missing, unseen) in [
        (
            &bought,
            &orders,
            &mut c.missing_orders,
            &mut c.unseen_orders,
        ),
        (
            &downloaded,
            &downloads,
            &mut c.missing_downloads,
            &mut c.unseen_downloads,
        ),
    ] {
        for (k, n) in want {
            *missing += n.saturating_sub(have.get(k).copied().unwrap_or(0));
        }
        for (k, n) in have {
            *unseen += n.saturating_sub(want.get(k).copied().unwrap_or(0));
        }
    }
    c.orders = orders.values().sum();
    c.downloads = downloads.values().sum();
    for (who, key) in &tally.transcribed {
        let n: i64 = db.query_row(
            "SELECT COUNT(*) FROM melody_owners WHERE owner_name = ? AND key = ?",
            [who, key],
            |r| r.get(0),
        )?;
        if n == 0 {
            c.missing_transcriptions += 1;
        }
    }
    Ok(c)
}
