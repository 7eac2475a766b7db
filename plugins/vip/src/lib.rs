//! The VIP plugin: VIP membership, and the `orders` table in which every charge is recorded
//! (VIP memberships and, through `vip.charge`, whatever other plugins sell, such as movies).
//!
//! Other plugins never read `orders`: they use the commands this plugin publishes. `vip.status`
//! is public; `vip.charge`, `vip.owns` and `vip.sales` are internal, reachable only
//! through `Ctx::call` from another command, never from the wire, and hidden from `help`. Their
//! contract (types and names) is the `kino-vip-api` crate.
//! VIP state is read from the database on every call, so `vip.buy` counts at once on every
//! session the user has.
//!
//! Layout:
//! - [`membership`] — `vip.buy`, `vip.status`.
//! - [`service`] — the internal commands `vip.charge`, `vip.owns`, `vip.sales`.
//! - [`orders`] — the `orders` table: insert a charge, look one up, sum them.

pub mod membership;
pub mod orders;
pub mod service;
pub mod stats;

use kino_api::serde_json::{json, Map, Value};
use kino_api::{CmdError, Command, Ctx, Migration, Plugin, Setting};

/// The order item that makes a user VIP.
pub const VIP_ITEM: &str = "vip";

/// The plugin value the server lists.
#[derive(Debug, Default)]
pub struct Vip;

const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "orders",
    sql: "CREATE TABLE orders (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL,
            user_name TEXT NOT NULL,
            item TEXT NOT NULL,
            amount INTEGER NOT NULL CHECK (amount >= 0),
            created_at TEXT NOT NULL,
            UNIQUE (user_id, item)
          );
          CREATE INDEX orders_by_item ON orders (item);",
}];

impl Plugin for Vip {
    fn name(&self) -> &'static str {
        "vip"
    }

    fn migrations(&self) -> &'static [Migration] {
        MIGRATIONS
    }

    /// Shipped before tables took the plugin's prefix.
    fn tables(&self) -> &'static [&'static str] {
        &["orders"]
    }

    fn settings(&self) -> Vec<Setting> {
        vec![membership::PRICE.info()]
    }

    fn commands(&self) -> Vec<Command> {
        vec![
            membership::buy_command(),
            membership::status_command(),
            service::charge_command(),
            service::owns_command(),
            service::sales_command(),
            stats::command(),
        ]
    }

    /// Adds `is_vip` to the login reply (the original client keeps it to show prices).
    fn on_login(&self, ctx: &mut Ctx) -> Result<Map<String, Value>, CmdError> {
        let user_id = ctx.user()?.user_id;
        let since = orders::find(ctx.db(), user_id, VIP_ITEM)?.map(|o| o.created_at);
        let mut out = Map::new();
        out.insert("is_vip".into(), json!(since.is_some()));
        Ok(out)
    }
}

/// The plugin as the server lists it: `kino-server`'s build script calls `plugin()` on every
/// plugin crate it depends on, so adding a plugin needs no code outside the plugin.
pub fn plugin() -> std::sync::Arc<dyn kino_api::Plugin> {
    std::sync::Arc::new(Vip)
}
