//! The vip plugin's services, as this plugin uses them: typed calls through `kino-vip-api`, so
//! this crate never names the vip crate nor reads its `orders` table, and core never names
//! either plugin. Each call runs as the caller of the movies command that makes it.
//!
//! A movie is sold as the order item `movie:<id>`.

use std::collections::HashMap;

use kino_api::{CmdError, Ctx, ServiceId};
use kino_vip_api::{Charge, Item, Order, SalesQuery, CHARGE, OWNS, SALES, STATUS};

/// The services this plugin calls, for `Plugin::requires`.
pub const REQUIRED: [ServiceId; 4] = [STATUS.id(), OWNS.id(), CHARGE.id(), SALES.id()];

/// The order item a movie is sold as.
pub fn item(movie_id: i64) -> String {
    format!("movie:{movie_id}")
}

/// The prefix of every movie's order item.
pub const ITEM_PREFIX: &str = "movie:";

/// Whether the caller is VIP now (`vip.status`, read from the database on every call).
pub fn is_vip(ctx: &mut Ctx) -> Result<bool, CmdError> {
    Ok(ctx.call(STATUS, ())?.is_vip)
}

/// Whether the caller bought the movie (`vip.owns`).
pub fn owns(ctx: &mut Ctx, movie_id: i64) -> Result<bool, CmdError> {
    let item = item(movie_id);
    Ok(ctx.call(OWNS, Item { item })?.owned)
}

/// Charges the caller `amount` for the movie (`vip.charge`); `conflict` if already bought.
pub fn charge(ctx: &mut Ctx, movie_id: i64, amount: u64) -> Result<Order, CmdError> {
    let item = item(movie_id);
    ctx.call(CHARGE, Charge { item, amount })
}

/// Purchases and amount charged per movie id (`vip.sales` over `movie:` items).
pub fn sales(ctx: &mut Ctx) -> Result<HashMap<i64, Sales>, CmdError> {
    let prefix = Some(ITEM_PREFIX.to_owned());
    let rows = ctx.call(SALES, SalesQuery { prefix })?;
    let mut out = HashMap::new();
    for row in rows {
        let id = row
            .item
            .strip_prefix(ITEM_PREFIX)
            .and_then(|s| s.parse::<i64>().ok())
            .ok_or_else(|| CmdError::internal(format!("vip.sales item {}", row.item)))?;
        let (purchases, amount) = (row.purchases, row.amount);
        out.insert(id, Sales { purchases, amount });
    }
    Ok(out)
}

/// Sales of one movie.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sales {
    /// How many users bought it.
    pub purchases: i64,
    /// The sum charged.
    pub amount: i64,
}
