//! Download records: written when a download's last byte went out, read with `movies.records`.
//!
//! Wire form: `{"type":"movies.records","limit":50,"offset":0}` →
//! `[{id, movie_id, name, offset, bytes, downloaded_at}]`, the caller's own records, newest
//! first, with movie names (deleted movies included: records stay readable). `offset` is where
//! a resumed download started; `bytes` is how many were sent.
//! Errors: `unauthenticated`, `bad_args` (`limit` over 1000).

use kino_api::serde_json::json;
use kino_api::{clock, params, CmdError, Command, Ctx, Database, Identity, Output, Paging};

/// The spec.
pub fn command() -> Command {
    Command::new(
        "movies.records",
        "Your download records, newest first",
        records,
    )
}

/// Records that `who` received `bytes` bytes of a movie starting at `offset`.
pub fn record(
    db: &mut dyn Database,
    who: &Identity,
    movie_id: i64,
    offset: u64,
    bytes: u64,
) -> Result<(), CmdError> {
    db.insert(
        "INSERT INTO download_records
           (user_id, user_name, movie_id, start_offset, bytes, downloaded_at)
         VALUES (?, ?, ?, ?, ?, ?)",
        params![
            who.user_id,
            who.name.as_str(),
            movie_id,
            offset,
            bytes,
            clock::now_rfc3339()
        ],
    )?;
    Ok(())
}

fn records(ctx: &mut Ctx, page: Paging) -> Result<Output, CmdError> {
    let Paging { limit, offset } = page;
    let user_id = ctx.user()?.user_id;
    let rows = ctx.db().query(
        "SELECT r.id, r.movie_id, m.name, r.start_offset, r.bytes, r.downloaded_at
         FROM download_records r JOIN movies m ON m.id = r.movie_id
         WHERE r.user_id = ? ORDER BY r.id DESC LIMIT ? OFFSET ?",
        params![user_id, limit, offset],
    )?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        out.push(json!({
            "id": r.i64(0)?,
            "movie_id": r.i64(1)?,
            "name": r.str(2)?,
            "offset": r.i64(3)?,
            "bytes": r.i64(4)?,
            "downloaded_at": r.str(5)?,
        }));
    }
    let total = ctx.db().count(
        "SELECT COUNT(*) FROM download_records r JOIN movies m ON m.id = r.movie_id
         WHERE r.user_id = ?",
        params![user_id],
    )?;
    Ok(Output::page(out, offset, total))
}
