//! The `Plugin` trait: how a crate adds commands, tables, settings and login extras.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::{CmdError, Command, Ctx, ServiceId};

/// One numbered schema change, applied once, in order, inside a transaction at start-up.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// 1, 2, 3, ... per plugin; never renumber a shipped migration.
    pub version: u32,
    /// Shown in the log when applied.
    pub name: &'static str,
    /// One or more SQL statements.
    pub sql: &'static str,
}

/// Where a plugin's rows name blobs, for `kino-server check`: each blob a row names is checked
/// (stored, of its size, with its MD5), and a stored blob no plugin names is an orphan.
#[derive(Debug, Clone, Copy)]
pub struct BlobRefs {
    /// A query returning one row per reference: `(what TEXT, md5 TEXT, size INTEGER or NULL,
    /// damaged INTEGER)`; `what` names the row in the report (e.g. `movie 3`), `damaged` is 1
    /// for a row already known damaged (reported, not counted as a problem).
    pub query: &'static str,
    /// A statement with one `?`, the MD5, marking every row naming it damaged (run by `check
    /// --repair`); `None` when the plugin keeps no such mark.
    pub mark_damaged: Option<&'static str>,
}

/// A plugin setting, declared once as a typed key and read back through the same constant, so
/// a misspelt name is a compile error rather than a silent 0:
///
/// ```
/// use kino_api::{Ctx, Setting};
///
/// /// Seconds a free download waits.
/// pub const FREE_WAIT: Setting<u64> = Setting::new("free-download-wait", "Seconds to wait", 30);
///
/// fn wait(ctx: &Ctx) -> u64 {
///     ctx.setting(FREE_WAIT)
/// }
/// ```
///
/// A name is no key:
///
/// ```compile_fail
/// fn wait(ctx: &kino_api::Ctx) -> u64 {
///     ctx.setting("free-download-wait")
/// }
/// ```
///
/// The server turns each into a `--NAME` flag and a config-file key `NAME`; it sees them untyped,
/// as `Setting<Value>` (what [`Plugin::settings`] returns, built with [`Setting::info`]).
#[derive(Debug, Clone, Copy)]
pub struct Setting<T = Value> {
    /// Kebab-case, unique across plugins, e.g. `free-download-wait`.
    pub name: &'static str,
    /// One line for `--help`.
    pub help: &'static str,
    /// Used when neither the flag nor the config file sets it; also fixes the JSON type.
    pub default: T,
}

impl<T: SettingValue> Setting<T> {
    /// A typed key; `default` also fixes the type the flag and config key accept.
    pub const fn new(name: &'static str, help: &'static str, default: T) -> Self {
        Setting {
            name,
            help,
            default,
        }
    }

    /// The untyped form the server builds flags and config keys from.
    pub fn info(&self) -> Setting {
        Setting {
            name: self.name,
            help: self.help,
            default: self.default.to_json(),
        }
    }
}

/// A type a [`Setting`] can hold. Sealed to the JSON types the config layer parses.
pub trait SettingValue: Copy + sealed::Sealed {
    /// What reading the setting gives (`String` for a `&'static str` default).
    type Read;
    /// The default as JSON, which also tells the config layer how to parse the flag.
    fn to_json(self) -> Value;
    /// A resolved value, `None` when it is of another type.
    fn read(v: &Value) -> Option<Self::Read>;
    /// The default, as read.
    fn owned(self) -> Self::Read;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for u64 {}
    impl Sealed for f64 {}
    impl Sealed for bool {}
    impl Sealed for &'static str {}
}

impl SettingValue for u64 {
    type Read = u64;
    fn to_json(self) -> Value {
        Value::from(self)
    }
    fn read(v: &Value) -> Option<u64> {
        v.as_u64()
    }
    fn owned(self) -> u64 {
        self
    }
}

impl SettingValue for f64 {
    type Read = f64;
    fn to_json(self) -> Value {
        Value::from(self)
    }
    fn read(v: &Value) -> Option<f64> {
        v.as_f64()
    }
    fn owned(self) -> f64 {
        self
    }
}

impl SettingValue for bool {
    type Read = bool;
    fn to_json(self) -> Value {
        Value::from(self)
    }
    fn read(v: &Value) -> Option<bool> {
        v.as_bool()
    }
    fn owned(self) -> bool {
        self
    }
}

impl SettingValue for &'static str {
    type Read = String;
    fn to_json(self) -> Value {
        Value::from(self)
    }
    fn read(v: &Value) -> Option<String> {
        v.as_str().map(str::to_owned)
    }
    fn owned(self) -> String {
        self.to_owned()
    }
}

/// Resolved values of every setting, by name.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    values: BTreeMap<String, Value>,
}

impl Settings {
    /// Builds from resolved values.
    pub fn new(values: BTreeMap<String, Value>) -> Self {
        Settings { values }
    }

    /// The JSON value of a setting, by name: for core, which sees settings untyped. Plugins
    /// read theirs with [`Settings::of`].
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values.get(name)
    }

    /// A setting's resolved value; its default when unset (or, set programmatically, of
    /// another type than the key's).
    pub fn of<T: SettingValue>(&self, key: Setting<T>) -> T::Read {
        self.values
            .get(key.name)
            .and_then(T::read)
            .unwrap_or_else(|| key.default.owned())
    }

    /// Every setting, for `server.info`.
    pub fn all(&self) -> &BTreeMap<String, Value> {
        &self.values
    }
}

/// A plugin. Its `name` is the prefix of every command it registers (`auth` → `auth.login`);
/// the registry refuses a command outside that prefix or a name already taken.
pub trait Plugin: Send + Sync {
    /// The command prefix and the key of its schema version.
    fn name(&self) -> &'static str;

    /// The plugin's tables, as numbered migrations.
    fn migrations(&self) -> &'static [Migration] {
        &[]
    }

    /// Tables this plugin owns beyond its own name and `<name>_*`: names it shipped before
    /// that rule, kept so old data directories open unchanged. The server refuses any other
    /// table to the plugin (its migrations and its handlers), and refuses two plugins claiming
    /// one table. New tables take the prefix; never list another plugin's table.
    fn tables(&self) -> &'static [&'static str] {
        &[]
    }

    /// Settings that become server flags and config keys: each typed key's
    /// [`Setting::info`], e.g. `vec![FREE_WAIT.info()]`.
    fn settings(&self) -> Vec<Setting> {
        Vec::new()
    }

    /// The commands, each with its spec and handler.
    fn commands(&self) -> Vec<Command>;

    /// The other plugins' services this plugin calls (`vec![LOOKUP.id()]`). The server
    /// refuses to start when one is not registered, naming this plugin and the service, so a
    /// missing provider is found at start-up rather than by a user's request.
    fn requires(&self) -> Vec<ServiceId> {
        Vec::new()
    }

    /// Called when a user logs in (by whatever plugin handles logins, through
    /// [`Ctx::begin_session`]); the returned fields are merged into the login reply. This is how
    /// one plugin adds to another's reply without either naming the other.
    fn on_login(&self, ctx: &mut Ctx) -> Result<Map<String, Value>, CmdError> {
        let _ = ctx;
        Ok(Map::new())
    }

    /// Extra listeners with their own framing (off unless their setting holds an address);
    /// `settings` are the resolved settings, e.g. for a message size limit.
    fn listeners(&self, settings: &Settings) -> Vec<crate::Listener> {
        let _ = settings;
        Vec::new()
    }

    /// The plugin's references to blobs, for `kino-server check`. A plugin that stores blobs
    /// must list them, or `check --repair` moves its blobs to quarantine as orphans.
    fn blob_refs(&self) -> &'static [BlobRefs] {
        &[]
    }

    /// Counters shown by `server.info` under `plugins.NAME` (queue depths, refusals); `None`
    /// shows nothing.
    fn stats(&self) -> Option<Value> {
        None
    }

    /// Called once after migrations, before the server accepts connections (e.g. to clean up).
    fn on_start(&self, ctx: &mut Ctx) -> Result<(), CmdError> {
        let _ = ctx;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WAIT: Setting<u64> = Setting::new("wait", "seconds", 30);
    const ADDR: Setting<&str> = Setting::new("addr", "where", "");

    #[test]
    fn typed_keys_read_their_value_or_their_default() {
        let mut values = BTreeMap::new();
        values.insert("addr".to_owned(), Value::from("127.0.0.1:2017"));
        let s = Settings::new(values);
        assert_eq!(s.of(WAIT), 30, "unset: the default, not 0");
        assert_eq!(s.of(ADDR), "127.0.0.1:2017");
        assert_eq!(WAIT.info().default, Value::from(30));
    }
}
