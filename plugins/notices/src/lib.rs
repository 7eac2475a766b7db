//! The notices plugin: admins publish notices, users read them newest first, and every login
//! reply carries the newest one (as the original client shows it right after logging in).
//!
//! The login reply is the auth plugin's, yet this plugin adds to it without either naming the
//! other: core calls every plugin's [`Plugin::on_login`] from `Ctx::begin_session` and merges
//! the fields they return.
//!
//! Layout:
//! - [`notice`] — the `notices` table, the row type and its JSON form.
//! - [`publish`] — `notices.publish`.
//! - [`list`] — `notices.list`.

pub mod list;
pub mod notice;
pub mod publish;

use kino_api::serde_json::{Map, Value};
use kino_api::{CmdError, Command, Ctx, Migration, Plugin};

/// The plugin value the server lists.
#[derive(Debug, Default)]
pub struct Notices;

const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "notices",
    sql: "CREATE TABLE notices (
            id INTEGER PRIMARY KEY,
            title TEXT NOT NULL,
            content TEXT NOT NULL,
            author_id INTEGER NOT NULL,
            author TEXT NOT NULL,
            created_at TEXT NOT NULL
          );",
}];

impl Plugin for Notices {
    fn name(&self) -> &'static str {
        "notices"
    }

    fn migrations(&self) -> &'static [Migration] {
        MIGRATIONS
    }

    fn commands(&self) -> Vec<Command> {
        vec![publish::command(), list::command()]
    }

    fn settings(&self) -> Vec<kino_api::Setting> {
        vec![list::SNAPSHOTS.info()]
    }

    /// Adds `notice`: the newest notice as `notices.list` shows it, or null when there is none.
    fn on_login(&self, ctx: &mut Ctx) -> Result<Map<String, Value>, CmdError> {
        let newest = notice::newest(ctx.db())?;
        let mut out = Map::new();
        out.insert("notice".into(), newest.map_or(Value::Null, |n| n.to_json()));
        Ok(out)
    }
}

/// The plugin as the server lists it: `kino-server`'s build script calls `plugin()` on every
/// plugin crate it depends on, so adding a plugin needs no code outside the plugin.
pub fn plugin() -> std::sync::Arc<dyn kino_api::Plugin> {
    std::sync::Arc::new(Notices)
}
