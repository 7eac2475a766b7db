//! `movies.buy`: buys a charged movie.
//!
//! Wire form: `{"type":"movies.buy","movie_id":4}` →
//! `{movie_id, name, amount, is_vip, bought_at}`.
//! The price is `--movie-price-vip` for a VIP caller and `--movie-price` otherwise, read when
//! buying; the charge is recorded by the vip plugin as an order of item `movie:<id>` (through
//! the internal `vip.charge`), so there is one orders table for everything sold.
//! Errors: `not_found` (unknown or deleted movie), `conflict` (the movie is free, or the caller
//! already bought it), `unavailable` (the movie is damaged: its file is missing or altered).

use kino_api::log;
use kino_api::serde_json::json;
use kino_api::Setting;
use kino_api::{CmdError, Command, Ctx, ErrorCode, Output};

use crate::movie::{find_servable, MovieRef};
use crate::services;

/// Setting: what a regular user pays for a charged movie.
pub const PRICE: Setting<u64> = Setting::new(
    "movie-price",
    "Price of a charged movie for a regular user",
    10,
);
/// Setting: what a VIP pays for a charged movie.
pub const PRICE_VIP: Setting<u64> = Setting::new(
    "movie-price-vip",
    "Price of a charged movie for a VIP user",
    5,
);

/// The spec.
pub fn command() -> Command {
    Command::new("movies.buy", "Buy a charged movie (VIPs pay less)", buy)
}

/// The price of a charged movie for a caller of this VIP state.
pub fn price(ctx: &Ctx, is_vip: bool) -> u64 {
    ctx.setting(if is_vip { PRICE_VIP } else { PRICE })
}

fn buy(ctx: &mut Ctx, args: MovieRef) -> Result<Output, CmdError> {
    let movie = find_servable(ctx, args.movie_id)?;
    if movie.free {
        return Err(CmdError::conflict(format!(
            "movie {} is free: download it without buying",
            movie.id
        )));
    }
    let is_vip = services::is_vip(ctx)?;
    let amount = price(ctx, is_vip);
    let order = services::charge(ctx, movie.id, amount).map_err(|e| match e.code {
        ErrorCode::Conflict => CmdError::conflict(format!("you already bought movie {}", movie.id)),
        _ => e,
    })?;
    let who = ctx.user()?.name.clone();
    log::info!("{who} bought movie {} for {amount}", movie.id);
    Ok(json!({
        "movie_id": movie.id,
        "name": movie.name,
        "amount": amount,
        "is_vip": is_vip,
        "bought_at": order.created_at,
    })
    .into())
}
