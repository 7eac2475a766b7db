//! `movies.stats`: downloads and purchases per movie, with totals.
//!
//! Wire form: `{"type":"movies.stats"}` →
//! `[{id, name, free, deleted, damaged, downloads, bytes_sent, purchases, revenue}, …, {id: null,
//! name: "total", …}]`: one object per movie ever uploaded (deleted ones included, since their
//! records and sales stay), oldest first, then a last object with `id: null` holding the sums
//! (its `free`, `deleted` and `damaged` are null). `damaged` is true for a movie whose file is
//! missing or altered (hidden from users until uploaded again); every live movie's file is
//! checked for its size first. `downloads` counts completed downloads, `bytes_sent`
//! their bytes; `purchases` and `revenue` come from the vip plugin's orders (`vip.sales`).
//! Errors: `forbidden` (not an admin).

use kino_api::serde_json::{json, Value};
use kino_api::{params, CmdError, Command, Ctx, Output, Role};

use crate::movie::{blob_intact, Movie, COLUMNS};
use crate::services;

/// The spec.
pub fn command() -> Command {
    Command::new(
        "movies.stats",
        "Downloads and purchases per movie, and totals",
        stats,
    )
    .role(Role::Admin)
}

fn stats(ctx: &mut Ctx, _: ()) -> Result<Output, CmdError> {
    let sales = services::sales(ctx)?;
    let sql = format!("SELECT {COLUMNS} FROM movies WHERE deleted = 0 AND damaged = 0");
    for r in &ctx.db().query(&sql, params![])? {
        blob_intact(ctx, &Movie::from_row(r)?)?;
    }
    let rows = ctx.db().query(
        "SELECT m.id, m.name, m.free, m.deleted, COUNT(r.id), COALESCE(SUM(r.bytes), 0),
                m.damaged
         FROM movies m LEFT JOIN download_records r ON r.movie_id = m.id
         GROUP BY m.id, m.name, m.free, m.deleted, m.damaged ORDER BY m.id",
        params![],
    )?;
    let mut out = Vec::with_capacity(rows.len() + 1);
    let (mut downloads, mut bytes, mut purchases, mut revenue) = (0i64, 0i64, 0i64, 0i64);
    for r in &rows {
        let id = r.i64(0)?;
        let sold = sales.get(&id).copied().unwrap_or_default();
        let (n, b) = (r.i64(4)?, r.i64(5)?);
        downloads += n;
        bytes += b;
        purchases += sold.purchases;
        revenue += sold.amount;
        out.push(json!({
            "id": id,
            "name": r.str(1)?,
            "free": r.bool(2)?,
            "deleted": r.bool(3)?,
            "damaged": r.bool(6)?,
            "downloads": n,
            "bytes_sent": b,
            "purchases": sold.purchases,
            "revenue": sold.amount,
        }));
    }
    out.push(json!({
        "id": null,
        "name": "total",
        "free": null,
        "deleted": null,
        "damaged": null,
        "downloads": downloads,
        "bytes_sent": bytes,
        "purchases": purchases,
        "revenue": revenue,
    }));
    Ok(Value::Array(out).into())
}
