//! `notices.list`: every notice, newest first.
//!
//! Wire form: `{"type":"notices.list","limit":50,"offset":0}` →
//! `[{id, title, content, author, created_at}]` (an empty array when there are none), with the
//! reply's `page` giving `{offset, count, total}`.
//! Errors: `unauthenticated` (not logged in), `bad_args` (`limit` over 1000).

use kino_api::{params, CmdError, Command, Ctx, Output, Paging, Setting, Snapshots};

use crate::notice::{Notice, COLUMNS};

/// Setting: pages remembered for the loop to answer from (per distinct `limit`, `offset`); each
/// is at most one page of rows, so this bounds the memory a client can make it hold.
pub const SNAPSHOTS: Setting<u64> = Setting::new(
    "notice-list-snapshots",
    "notices.list pages remembered for the event loop to answer from (0: none)",
    64,
);

/// The spec. A page is remembered until `notices` is written on this node, or for
/// [`kino_api::changes::SNAPSHOT_TTL`] (a write on another node), and answered from the loop
/// meanwhile.
pub fn command() -> Command {
    let snapshots = std::sync::Arc::new(Snapshots::new(&["notices"]));
    let read = snapshots.clone();
    Command::new("notices.list", "Notices, newest first", move |ctx, page| {
        list(ctx, page, &snapshots)
    })
    .quick(move |_, page: Paging| read.get(&(page.limit, page.offset)).map(Ok))
}

fn list(
    ctx: &mut Ctx,
    page: Paging,
    snapshots: &Snapshots<(u64, u64)>,
) -> Result<Output, CmdError> {
    let version = snapshots.version();
    let Paging { limit, offset } = page;
    let sql = format!("SELECT {COLUMNS} FROM notices ORDER BY id DESC LIMIT ? OFFSET ?");
    let rows = ctx.db().query(&sql, params![limit, offset])?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        out.push(Notice::from_row(r)?.to_json());
    }
    let total = ctx.db().count("SELECT COUNT(*) FROM notices", &[])?;
    let out = Output::page(out, offset, total);
    let max = usize::try_from(ctx.setting(SNAPSHOTS)).unwrap_or(usize::MAX);
    snapshots.put((limit, offset), version, &out, max);
    Ok(out)
}
