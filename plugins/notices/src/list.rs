//! `notices.list`: every notice, newest first.
//!
//! Wire form: `{"type":"notices.list","limit":50,"offset":0}` →
//! `[{id, title, content, author, created_at}]` (an empty array when there are none).
//! Errors: `unauthenticated` (not logged in), `bad_args` (`limit` over 1000).

use kino_api::serde_json::Value;
use kino_api::{params, Args, CmdError, Command, Ctx, Output};

use crate::notice::{Notice, COLUMNS};

/// Rows returned when the request gives no `limit`.
pub const DEFAULT_LIMIT: u64 = 100;
/// Largest `limit` accepted.
pub const MAX_LIMIT: u64 = 1000;

/// The spec.
pub fn command() -> Command {
    Command::new("notices.list", "Notices, newest first", list)
        .opt_uint("limit", "at most this many (default 100, max 1000)")
        .opt_uint("offset", "skip this many of the newest")
}

fn list(ctx: &mut Ctx, args: &Args) -> Result<Output, CmdError> {
    let limit = args.opt_u64("limit")?.unwrap_or(DEFAULT_LIMIT);
    if limit > MAX_LIMIT {
        return Err(CmdError::bad_args(format!("limit is at most {MAX_LIMIT}")));
    }
    let offset = args.opt_u64("offset")?.unwrap_or(0);
    let sql = format!("SELECT {COLUMNS} FROM notices ORDER BY id DESC LIMIT ? OFFSET ?");
    let rows = ctx.db().query(&sql, params![limit, offset])?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        out.push(Notice::from_row(r)?.to_json());
    }
    Ok(Value::Array(out).into())
}
