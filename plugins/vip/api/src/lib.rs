//! The vip plugin's contract: what other plugins may ask of it, typed. A caller depends on this
//! crate, never on `kino-vip`, lists the services it uses in `Plugin::requires`, and calls them
//! with `ctx.call(STATUS, ())`. Items sold through [`CHARGE`] are strings such as `movie:12`;
//! the `orders` table behind them stays private to the vip plugin.

use kino_api::Service;
use serde::{Deserialize, Serialize};

/// Whether the caller is VIP now (read from the database on every call). Public on the wire
/// as well.
pub const STATUS: Service<(), Status> = Service::new("vip.status");

/// Makes the caller VIP at the configured price; `conflict` when already VIP.
pub const BUY: Service<(), Bought> = Service::new("vip.buy");

/// Records that the caller bought an item; `conflict` when already bought, `bad_args` for the
/// item `vip` (memberships go through [`BUY`]). Internal.
pub const CHARGE: Service<Charge, Order> = Service::new("vip.charge");

/// Whether the caller bought an item. Internal.
pub const OWNS: Service<Item, Owned> = Service::new("vip.owns");

/// Purchase counts and sums per item, for reports. Internal.
pub const SALES: Service<SalesQuery, Vec<ItemSales>> = Service::new("vip.sales");

/// Reply of [`STATUS`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// VIP now.
    pub is_vip: bool,
    /// RFC 3339 time of the membership order.
    pub since: Option<String>,
}

/// Reply of [`BUY`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bought {
    /// Always true.
    pub is_vip: bool,
    /// RFC 3339 time of the order.
    pub since: String,
    /// The price recorded with the order.
    pub amount: u64,
}

/// Request of [`CHARGE`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Charge {
    /// What is bought, e.g. `movie:12`.
    pub item: String,
    /// The price charged.
    pub amount: u64,
}

/// Reply of [`CHARGE`]: the order recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// The order's id.
    pub order_id: i64,
    /// What was bought.
    pub item: String,
    /// The price charged.
    pub amount: u64,
    /// RFC 3339.
    pub created_at: String,
}

/// Request of [`OWNS`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    /// The item, e.g. `movie:12`.
    pub item: String,
}

/// Reply of [`OWNS`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owned {
    /// The caller has an order for the item.
    pub owned: bool,
    /// RFC 3339 time of that order.
    pub since: Option<String>,
}

/// Request of [`SALES`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SalesQuery {
    /// Only items starting with this (every item when `None`).
    pub prefix: Option<String>,
}

/// One row of [`SALES`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemSales {
    /// The item.
    pub item: String,
    /// How many users bought it.
    pub purchases: i64,
    /// The sum charged.
    pub amount: i64,
}
