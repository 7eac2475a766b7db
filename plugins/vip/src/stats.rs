//! `vip.stats`: the admin's view of sales, for reports (`scripts/admin_report.rhai`).
//!
//! Wire form: `{"type":"vip.stats"}` → `{"vips": 3, "vip_revenue": 90, "orders": 7,
//! "revenue": 115}`: members, what memberships brought in, every order and its sum.

use kino_api::serde_json::json;
use kino_api::{params, CmdError, Command, Ctx, Output, Role};

use crate::VIP_ITEM;

/// The spec.
pub fn command() -> Command {
    Command::new("vip.stats", "VIP members and sales totals", stats).role(Role::Admin)
}

fn stats(ctx: &mut Ctx, _: ()) -> Result<Output, CmdError> {
    let row = ctx.db().query_one(
        "SELECT COALESCE(SUM(CASE WHEN item = ? THEN 1 ELSE 0 END), 0),
                COALESCE(SUM(CASE WHEN item = ? THEN amount ELSE 0 END), 0),
                COUNT(*), COALESCE(SUM(amount), 0)
         FROM orders",
        params![VIP_ITEM, VIP_ITEM],
    )?;
    let Some(r) = row else {
        return Err(CmdError::internal("aggregate query returned no row"));
    };
    Ok(json!({
        "vips": r.i64(0)?,
        "vip_revenue": r.i64(1)?,
        "orders": r.i64(2)?,
        "revenue": r.i64(3)?,
    })
    .into())
}
