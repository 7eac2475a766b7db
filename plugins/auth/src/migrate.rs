//! Folded keys for accounts made before names were folded (migration 2 adds the column empty).
//!
//! Each row without a key gets the fold of its name, oldest account first. Before folding, the
//! only uniqueness was ASCII-case-insensitive, so two rows can fold to one key (`ÄLICE` made
//! after `älice`, a full-width `ａｄｍｉｎ` after `admin`). The oldest keeps the name; each later
//! one is renamed `<name>#<id>` (a `#` no new name may hold, so the new name is free for ever)
//! and locked, and a warning names it in the log. Its data stays; an admin who knows its owner
//! unlocks it (`auth.unlock name=<name>#<id>`) and its owner logs in under the new name. Names
//! that break today's one-script rule but collide with nothing keep working as they are.

use kino_api::{log, params, CmdError, Database, DbError};

use crate::names::fold;

/// Fills `name_key` for every row that has none; one transaction.
pub fn fold_existing(db: &mut dyn Database) -> Result<(), CmdError> {
    let rows = db.query(
        "SELECT id, name FROM users WHERE name_key IS NULL ORDER BY id",
        params![],
    )?;
    if rows.is_empty() {
        return Ok(());
    }
    db.transaction(|db| {
        for r in &rows {
            let (id, name) = (r.i64(0)?, r.string(1)?);
            let set = db.execute(
                "UPDATE users SET name_key = ? WHERE id = ?",
                params![fold(&name), id],
            );
            match set {
                Ok(_) => {}
                Err(DbError::Unique(_)) => {
                    let renamed = format!("{name}#{id}");
                    db.execute(
                        "UPDATE users SET name = ?, name_key = ?, locked = 1 WHERE id = ?",
                        params![&renamed, fold(&renamed), id],
                    )?;
                    log::warn!(
                        "account {id} `{name}` looks like an older account's name: renamed \
                         `{renamed}` and locked (auth.unlock to let its owner in)"
                    );
                }
                Err(e) => return Err(e.into()),
            }
        }
        log::info!("folded {} account names", rows.len());
        Ok::<_, CmdError>(())
    })
}
