//! The vip plugin's services, as this plugin uses them: all through `Ctx::call`, so this crate
//! never names the vip crate nor reads its `orders` table, and core never names either plugin.
//! Each call runs as the caller of the movies command that makes it.
//!
//! A movie is sold as the order item `movie:<id>`.

use std::collections::HashMap;

use kino_api::serde_json::{json, Value};
use kino_api::{CmdError, Ctx};

/// The order item a movie is sold as.
pub fn item(movie_id: i64) -> String {
    format!("movie:{movie_id}")
}

/// The prefix of every movie's order item.
pub const ITEM_PREFIX: &str = "movie:";

/// Whether the caller is VIP now (`vip.status`, read from the database on every call).
pub fn is_vip(ctx: &mut Ctx) -> Result<bool, CmdError> {
    let status = ctx.call("vip.status", json!({}))?;
    status["is_vip"]
        .as_bool()
        .ok_or_else(|| CmdError::internal(format!("vip.status answered {status}")))
}

/// Whether the caller bought the movie (`vip.owns`).
pub fn owns(ctx: &mut Ctx, movie_id: i64) -> Result<bool, CmdError> {
    let owned = ctx.call("vip.owns", json!({"item": item(movie_id)}))?;
    owned["owned"]
        .as_bool()
        .ok_or_else(|| CmdError::internal(format!("vip.owns answered {owned}")))
}

/// Charges the caller `amount` for the movie (`vip.charge`); `conflict` if already bought.
/// Returns the order: `{order_id, item, amount, created_at}`.
pub fn charge(ctx: &mut Ctx, movie_id: i64, amount: u64) -> Result<Value, CmdError> {
    ctx.call(
        "vip.charge",
        json!({"item": item(movie_id), "amount": amount}),
    )
}

/// Purchases and amount charged per movie id (`vip.sales` over `movie:` items).
pub fn sales(ctx: &mut Ctx) -> Result<HashMap<i64, Sales>, CmdError> {
    let rows = ctx.call("vip.sales", json!({"prefix": ITEM_PREFIX}))?;
    let rows = rows
        .as_array()
        .ok_or_else(|| CmdError::internal(format!("vip.sales answered {rows}")))?;
    let mut out = HashMap::new();
    for row in rows {
        let id = row["item"]
            .as_str()
            .and_then(|s| s.strip_prefix(ITEM_PREFIX))
            .and_then(|s| s.parse::<i64>().ok());
        let (Some(id), Some(purchases), Some(amount)) =
            (id, row["purchases"].as_i64(), row["amount"].as_i64())
        else {
            return Err(CmdError::internal(format!("vip.sales row {row}")));
        };
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
