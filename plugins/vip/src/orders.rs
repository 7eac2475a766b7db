//! The `orders` table: one row per charge, at most one per user and item.
//!
//! An item is a short string naming what was bought: `vip` for a membership, `movie:<id>` for a
//! movie (the movies plugin picks its own names; this plugin does not interpret them). No money
//! moves; the row is the record of what was charged and when.

use kino_api::db::escape_like;
use kino_api::{clock, params, CmdError, Database, DbError, Identity, Row};

/// Longest item name accepted.
pub const MAX_ITEM_LEN: usize = 100;

/// One charge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    /// Row id.
    pub id: i64,
    /// Who was charged.
    pub user_id: i64,
    /// What was bought.
    pub item: String,
    /// How much was charged.
    pub amount: i64,
    /// When, RFC 3339.
    pub created_at: String,
}

impl Order {
    fn from_row(r: &Row) -> Result<Order, DbError> {
        Ok(Order {
            id: r.i64(0)?,
            user_id: r.i64(1)?,
            item: r.string(2)?,
            amount: r.i64(3)?,
            created_at: r.string(4)?,
        })
    }
}

/// Purchases of one item, summed over users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemSales {
    /// The item.
    pub item: String,
    /// How many users bought it.
    pub purchases: i64,
    /// The sum charged.
    pub amount: i64,
}

/// Refuses an empty, over-long or control-character item name (`bad_args`).
pub fn check_item(item: &str) -> Result<(), CmdError> {
    if item.is_empty() || item.chars().count() > MAX_ITEM_LEN || item.chars().any(char::is_control)
    {
        return Err(CmdError::bad_args(format!(
            "an order item is 1-{MAX_ITEM_LEN} printable characters"
        )));
    }
    Ok(())
}

/// Records a charge of `amount` to `who` for `item`. A second charge of the same item to the
/// same user is a `conflict` (the UNIQUE constraint decides, so two racing requests cannot both
/// succeed).
pub fn charge(
    db: &mut dyn Database,
    who: &Identity,
    item: &str,
    amount: u64,
) -> Result<Order, CmdError> {
    let amount = i64::try_from(amount).map_err(|_| CmdError::bad_args("amount is too large"))?;
    let created_at = clock::now_rfc3339();
    let id = db
        .insert(
            "INSERT INTO orders (user_id, user_name, item, amount, created_at)
             VALUES (?, ?, ?, ?, ?)",
            params![
                who.user_id,
                who.name.as_str(),
                item,
                amount,
                created_at.as_str()
            ],
        )
        .map_err(|e| match e {
            DbError::Unique(_) => CmdError::conflict(format!("`{item}` was already bought")),
            other => other.into(),
        })?;
    Ok(Order {
        id,
        user_id: who.user_id,
        item: item.to_owned(),
        amount,
        created_at,
    })
}

/// The user's order for `item`, if any.
pub fn find(db: &mut dyn Database, user_id: i64, item: &str) -> Result<Option<Order>, DbError> {
    db.query(
        "SELECT id, user_id, item, amount, created_at FROM orders WHERE user_id = ? AND item = ?",
        params![user_id, item],
    )?
    .first()
    .map(Order::from_row)
    .transpose()
}

/// Purchase counts and sums per item whose name starts with `prefix`, by item name.
pub fn sales(db: &mut dyn Database, prefix: &str) -> Result<Vec<ItemSales>, DbError> {
    let pattern = format!("{}%", escape_like(prefix));
    db.query(
        "SELECT item, COUNT(*), COALESCE(SUM(amount), 0) FROM orders
         WHERE item LIKE ? ESCAPE '\\' GROUP BY item ORDER BY item",
        params![pattern],
    )?
    .iter()
    .map(|r| {
        Ok(ItemSales {
            item: r.string(0)?,
            purchases: r.i64(1)?,
            amount: r.i64(2)?,
        })
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_names_are_checked() {
        assert!(check_item("movie:12").is_ok());
        assert!(check_item("").is_err());
        assert!(check_item("a\nb").is_err());
        assert!(check_item(&"x".repeat(MAX_ITEM_LEN + 1)).is_err());
    }
}
