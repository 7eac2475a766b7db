//! Each plugin owns its tables: while a plugin's code runs (a handler, a hook, a migration), the
//! SQLite authorizer refuses any statement that touches a table the plugin does not own, so no
//! plugin reads another's rows (nobody but `auth` reads password hashes) and no migration
//! creates a table in another plugin's name space.
//!
//! A plugin owns the table named as itself (`notices`), every table named `<plugin>_...`, and
//! the tables it lists in [`kino_api::Plugin::tables`] (names shipped before this rule). Which
//! plugin runs is a thread-local set by core around each call ([`enter`]), never something a
//! plugin can reach; every connection the server opens installs [`authorize`]. Core's own
//! statements (bookkeeping, `check`) run with no owner and are not restricted.
//!
//! SQLite asks the authorizer only while preparing a statement, so cached statements are kept
//! per owner (see [`cache_key`]): a statement prepared for `auth` is never reused for `vip`.

use std::borrow::Cow;
use std::cell::Cell;

use rusqlite::hooks::{AuthAction, AuthContext, Authorization};

/// The tables one plugin may touch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    /// The plugin's name, also its table prefix.
    pub plugin: &'static str,
    /// Tables it owns outside the prefix (grandfathered names).
    pub tables: &'static [&'static str],
}

impl Owner {
    /// Whether `table` (or an index, view or trigger of that name) belongs to this plugin.
    pub fn owns(&self, table: &str) -> bool {
        let lower = table.to_ascii_lowercase();
        lower == self.plugin
            || lower
                .strip_prefix(self.plugin)
                .is_some_and(|rest| rest.starts_with('_'))
            || self.tables.iter().any(|t| t.eq_ignore_ascii_case(&lower))
    }

    /// Whether an index or trigger name is this plugin's: its own prefix, or a grandfathered
    /// table's name as prefix (`download_records_by_user`).
    pub(crate) fn owns_index(&self, name: &str) -> bool {
        // SQLite names the index behind a UNIQUE column `sqlite_autoindex_<table>_<n>`.
        let name = name.strip_prefix("sqlite_autoindex_").unwrap_or(name);
        self.owns(name) || self.tables.iter().any(|t| name.starts_with(t))
    }
}

/// The tables `plugin` owns.
pub fn owner_of(plugin: &dyn kino_api::Plugin) -> Owner {
    Owner {
        plugin: plugin.name(),
        tables: plugin.tables(),
    }
}

thread_local! {
    static CURRENT: Cell<Option<Owner>> = const { Cell::new(None) };
}

/// Restores the previous owner when dropped (also when a handler panics).
#[must_use = "the owner is restored when the guard drops"]
pub struct Entered(Option<Owner>);

impl Drop for Entered {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.0));
    }
}

/// Runs this thread's database calls as `owner` until the returned guard drops; `None` lifts
/// the restriction (core's own work).
pub fn enter(owner: Option<Owner>) -> Entered {
    Entered(CURRENT.with(|c| c.replace(owner)))
}

/// The owner this thread's statements run as.
pub fn current() -> Option<Owner> {
    CURRENT.with(Cell::get)
}

/// The prepared-statement cache key for `sql`: tagged with the owner, so a statement
/// authorized for one plugin is never handed, already prepared, to another.
pub fn cache_key(sql: &str) -> Cow<'_, str> {
    match current() {
        Some(o) => Cow::Owned(format!("/*{}*/{sql}", o.plugin)),
        None => Cow::Borrowed(sql),
    }
}

/// The authorizer every connection installs.
pub fn authorize(ctx: AuthContext<'_>) -> Authorization {
    let Some(owner) = current() else {
        return Authorization::Allow;
    };
    let table = match ctx.action {
        AuthAction::Select
        | AuthAction::Transaction { .. }
        | AuthAction::Savepoint { .. }
        | AuthAction::Function { .. }
        | AuthAction::Recursive => return Authorization::Allow,
        AuthAction::Read { table_name, .. }
        | AuthAction::Insert { table_name }
        | AuthAction::Update { table_name, .. }
        | AuthAction::Delete { table_name }
        | AuthAction::CreateTable { table_name }
        | AuthAction::CreateTempTable { table_name }
        | AuthAction::DropTable { table_name }
        | AuthAction::DropTempTable { table_name }
        | AuthAction::AlterTable { table_name, .. }
        | AuthAction::Analyze { table_name } => table_name,
        AuthAction::CreateIndex {
            index_name,
            table_name,
        }
        | AuthAction::CreateTempIndex {
            index_name,
            table_name,
        }
        | AuthAction::DropIndex {
            index_name,
            table_name,
        }
        | AuthAction::DropTempIndex {
            index_name,
            table_name,
        } => return both(owner, index_name, table_name),
        AuthAction::CreateTrigger {
            trigger_name,
            table_name,
        }
        | AuthAction::CreateTempTrigger {
            trigger_name,
            table_name,
        }
        | AuthAction::DropTrigger {
            trigger_name,
            table_name,
        }
        | AuthAction::DropTempTrigger {
            trigger_name,
            table_name,
        } => return both(owner, trigger_name, table_name),
        AuthAction::CreateView { view_name }
        | AuthAction::CreateTempView { view_name }
        | AuthAction::DropView { view_name }
        | AuthAction::DropTempView { view_name } => view_name,
        // SQLite asks this of each index it creates.
        AuthAction::Reindex { index_name } if owner.owns_index(index_name) => {
            return Authorization::Allow
        }
        // PRAGMAs, ATTACH, virtual tables, REINDEX of another's index and anything newer: no plugin needs them.
        other => {
            log::error!("plugin {} may not run {other:?}", owner.plugin);
            return Authorization::Deny;
        }
    };
    // SQLite's own tables: CREATE TABLE is an INSERT into `sqlite_master`, and a plugin's
    // schema is no secret.
    if table.starts_with("sqlite_") || owner.owns(table) {
        return Authorization::Allow;
    }
    log::error!(
        "plugin {} may not touch table `{table}` (its tables are `{0}` and `{0}_*`)",
        owner.plugin
    );
    Authorization::Deny
}

/// An index or trigger: the plugin must own both its name and its table (index names share
/// one name space with tables, so a stray one could block another plugin's migration).
fn both(owner: Owner, name: &str, table: &str) -> Authorization {
    if owner.owns_index(name) && owner.owns(table) {
        Authorization::Allow
    } else {
        log::error!(
            "plugin {} may not create or drop `{name}` on `{table}`",
            owner.plugin
        );
        Authorization::Deny
    }
}

#[cfg(test)]
mod tests {
    use super::Owner;

    #[test]
    fn a_plugin_owns_its_name_its_prefix_and_its_listed_tables() {
        let o = Owner {
            plugin: "movies",
            tables: &["download_records"],
        };
        for t in ["movies", "movies_x", "MOVIES_Y", "download_records"] {
            assert!(o.owns(t), "{t}");
        }
        for t in [
            "users",
            "moviesx",
            "movie",
            "download_records_x",
            "vip_orders",
        ] {
            assert!(!o.owns(t), "{t}");
        }
    }
}
