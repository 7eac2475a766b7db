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

/// A plugin setting. The server turns each into a `--NAME` flag and a config-file key `NAME`.
#[derive(Debug, Clone)]
pub struct Setting {
    /// Kebab-case, unique across plugins, e.g. `free-download-wait`.
    pub name: &'static str,
    /// One line for `--help`.
    pub help: &'static str,
    /// Used when neither the flag nor the config file sets it; also fixes the JSON type.
    pub default: Value,
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

    /// The JSON value of a setting.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values.get(name)
    }

    /// A setting as an unsigned integer, 0 when unset or of another type.
    pub fn u64(&self, name: &str) -> u64 {
        self.get(name).and_then(Value::as_u64).unwrap_or(0)
    }

    /// A setting as a float, 0.0 when unset or of another type.
    pub fn f64(&self, name: &str) -> f64 {
        self.get(name).and_then(Value::as_f64).unwrap_or(0.0)
    }

    /// A setting as a boolean, false when unset.
    pub fn bool(&self, name: &str) -> bool {
        self.get(name).and_then(Value::as_bool).unwrap_or(false)
    }

    /// A setting as a string, empty when unset.
    pub fn str(&self, name: &str) -> &str {
        self.get(name).and_then(Value::as_str).unwrap_or("")
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

    /// Settings that become server flags and config keys.
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

    /// Called once after migrations, before the server accepts connections (e.g. to clean up).
    fn on_start(&self, ctx: &mut Ctx) -> Result<(), CmdError> {
        let _ = ctx;
        Ok(())
    }
}
