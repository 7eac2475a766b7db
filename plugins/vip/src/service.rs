//! The internal commands other plugins use to sell things: `vip.charge`, `vip.owns`,
//! `vip.sales`. All are internal (`Command::internal`), for logged-in callers: reachable only through `Ctx::call` from another
//! command (running as that command's caller), never from the wire, and absent from `help`.
//! This keeps the `orders` table private to this plugin while letting the movies plugin sell
//! movies without naming this crate.

use kino_api::serde_json::json;
use kino_api::{CmdError, Command, CommandArgs, Ctx, Output};

use crate::{orders, VIP_ITEM};

/// `vip.charge` (item, amount) → `{order_id, item, amount, created_at}`.
///
/// Records that the caller bought `item` for `amount`. Errors: `conflict` when the caller
/// already has an order for `item`; `bad_args` for an empty or over-long item, or for the item
/// `vip` (memberships go through `vip.buy`, so their price is this plugin's setting).
pub fn charge_command() -> Command {
    Command::new("vip.charge", "Record a charge to the caller", charge).internal()
}

/// `vip.charge`'s arguments.
#[derive(CommandArgs)]
pub struct Charge {
    /// what is bought, e.g. movie:12
    item: String,
    /// the price charged
    amount: u64,
}

/// `vip.owns`'s arguments.
#[derive(CommandArgs)]
pub struct Owns {
    /// the item, e.g. movie:12
    item: String,
}

/// `vip.sales`'s arguments.
#[derive(CommandArgs)]
pub struct Sales {
    /// only items starting with this, e.g. movie:
    #[arg(default = "")]
    prefix: String,
}

/// `vip.owns` (item) → `{owned, since}`: whether the caller has an order for `item`.
pub fn owns_command() -> Command {
    Command::new("vip.owns", "Whether the caller bought an item", owns).internal()
}

/// `vip.sales` (optional prefix) → `[{item, purchases, amount}]` by item name, for reports such
/// as `movies.stats`. Only items starting with `prefix` (default: every item).
pub fn sales_command() -> Command {
    Command::new("vip.sales", "Purchase counts and sums per item", sales).internal()
}

fn charge(ctx: &mut Ctx, args: Charge) -> Result<Output, CmdError> {
    let item = args.item.as_str();
    let amount = args.amount;
    orders::check_item(item)?;
    if item == VIP_ITEM {
        return Err(CmdError::bad_args(
            "VIP memberships are bought with vip.buy",
        ));
    }
    let who = ctx.user()?.clone();
    let order = orders::charge(ctx.db(), &who, item, amount)?;
    Ok(json!({
        "order_id": order.id,
        "item": order.item,
        "amount": order.amount,
        "created_at": order.created_at,
    })
    .into())
}

fn owns(ctx: &mut Ctx, args: Owns) -> Result<Output, CmdError> {
    let item = args.item.as_str();
    let user_id = ctx.user()?.user_id;
    let order = orders::find(ctx.db(), user_id, item)?;
    Ok(json!({"owned": order.is_some(), "since": order.map(|o| o.created_at)}).into())
}

fn sales(ctx: &mut Ctx, args: Sales) -> Result<Output, CmdError> {
    let rows = orders::sales(ctx.db(), &args.prefix)?;
    let out: Vec<_> = rows
        .into_iter()
        .map(|s| json!({"item": s.item, "purchases": s.purchases, "amount": s.amount}))
        .collect();
    Ok(json!(out).into())
}
