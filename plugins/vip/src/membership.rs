//! `vip.buy` and `vip.status`: becoming VIP, and asking whether one is.

use kino_api::log;
use kino_api::serde_json::json;
use kino_api::Setting;
use kino_api::{CmdError, Command, Ctx, Output};

use crate::{orders, VIP_ITEM};

/// Setting: the price of a VIP membership.
pub const PRICE: Setting<u64> = Setting::new(
    "vip-price",
    "Price of a VIP membership (recorded with each order; no money moves)",
    30,
);

/// `vip.buy` → `{is_vip: true, since, amount}`.
///
/// Wire form: `{"type":"vip.buy"}`. Records an order of item `vip` at the `--vip-price` in force
/// now (the amount stays with the order if the price changes later). Errors: `conflict` when the
/// caller is already VIP. Effective at once on every session of the user, because VIP state is
/// never cached in a session: `vip.status` reads the order.
pub fn buy_command() -> Command {
    Command::new(
        "vip.buy",
        "Become VIP (free movies without the wait, cheaper movies)",
        buy,
    )
}

/// `vip.status` → `{is_vip, since}` (`since`: RFC 3339 time of the VIP order, or null).
///
/// Wire form: `{"type":"vip.status"}`. Also what other plugins call (through `Ctx::call`) to
/// price a movie or decide the free-download wait.
pub fn status_command() -> Command {
    Command::new("vip.status", "Whether you are VIP, and since when", status)
}

fn buy(ctx: &mut Ctx, _: ()) -> Result<Output, CmdError> {
    let who = ctx.user()?.clone();
    let price = ctx.setting(PRICE);
    let order = orders::charge(ctx.db(), &who, VIP_ITEM, price).map_err(|e| match e.code {
        kino_api::ErrorCode::Conflict => CmdError::conflict("you are already VIP"),
        _ => e,
    })?;
    log::info!("{} bought VIP for {}", who.name, order.amount);
    Ok(json!({"is_vip": true, "since": order.created_at, "amount": order.amount}).into())
}

fn status(ctx: &mut Ctx, _: ()) -> Result<Output, CmdError> {
    let user_id = ctx.user()?.user_id;
    let order = orders::find(ctx.db(), user_id, VIP_ITEM)?;
    Ok(json!({
        "is_vip": order.is_some(),
        "since": order.map(|o| o.created_at),
    })
    .into())
}
