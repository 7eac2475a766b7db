//! `notices.list`: every notice, newest first.
//!
//! Wire form: `{"type":"notices.list","limit":50,"offset":0}` →
//! `[{id, title, content, author, created_at}]` (an empty array when there are none), with the
//! reply's `page` giving `{offset, count, total}`.
//! Errors: `unauthenticated` (not logged in), `bad_args` (`limit` over 1000).

use kino_api::{params, CmdError, Command, Ctx, Output, Paging};

use crate::notice::{Notice, COLUMNS};

/// The spec.
pub fn command() -> Command {
    Command::new("notices.list", "Notices, newest first", list)
}

fn list(ctx: &mut Ctx, page: Paging) -> Result<Output, CmdError> {
    let Paging { limit, offset } = page;
    let sql = format!("SELECT {COLUMNS} FROM notices ORDER BY id DESC LIMIT ? OFFSET ?");
    let rows = ctx.db().query(&sql, params![limit, offset])?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        out.push(Notice::from_row(r)?.to_json());
    }
    let total = ctx.db().count("SELECT COUNT(*) FROM notices", &[])?;
    Ok(Output::page(out, offset, total))
}
