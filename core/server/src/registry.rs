//! The command table: every built-in and plugin command with its live counters (redis'
//! `struct redisCommand`), checked once at start-up for duplicate and wrongly prefixed names.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use kino_api::{Command, CommandInfo, Plugin, Setting};
use serde_json::{json, Value};

use crate::store::guard::{owner_of, Owner};

/// Per-command counters for `server.info`.
#[derive(Debug, Default)]
pub struct CommandStats {
    calls: AtomicU64,
    failed: AtomicU64,
    micros: AtomicU64,
}

impl CommandStats {
    /// Records one call.
    pub fn record(&self, ok: bool, micros: u64) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        if !ok {
            self.failed.fetch_add(1, Ordering::Relaxed);
        }
        if micros > 0 {
            self.micros.fetch_add(micros, Ordering::Relaxed);
        }
    }

    /// The counters as `server.info` shows them; `None` before the first call.
    pub fn snapshot(&self) -> Option<Value> {
        let calls = self.calls.load(Ordering::Relaxed);
        let micros = self.micros.load(Ordering::Relaxed);
        (calls > 0).then(|| {
            json!({
                "calls": calls,
                "failed": self.failed.load(Ordering::Relaxed),
                "usec": micros,
                "usec_per_call": micros as f64 / calls as f64,
            })
        })
    }
}

/// A registered command.
pub struct Entry {
    /// Spec and handler.
    pub command: Command,
    /// Its counters.
    pub stats: CommandStats,
    /// The plugin whose tables its handler may touch; `None` for core's built-ins.
    pub owner: Option<Owner>,
}

/// A looked-up command: an entry of the native table, or of the script plugins' table, held
/// while it runs so that a reload cannot drop it under its caller.
pub enum EntryRef<'a> {
    /// Built in or from a native plugin.
    Native(&'a Entry),
    /// From a script plugin.
    Script(Arc<Entry>),
}

impl std::ops::Deref for EntryRef<'_> {
    type Target = Entry;

    fn deref(&self) -> &Entry {
        match self {
            EntryRef::Native(e) => e,
            EntryRef::Script(e) => e,
        }
    }
}

/// Why the command table could not be built; the server refuses to start.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RegistryError {
    /// Two commands (or settings, or plugins) share a name.
    #[error("duplicate {what} `{name}`")]
    Duplicate {
        /// command, setting or plugin.
        what: &'static str,
        /// The name.
        name: String,
    },
    /// A plugin command outside its `plugin.` prefix.
    #[error("plugin `{plugin}` may only register `{plugin}.<verb>` commands, not `{name}`")]
    BadPrefix {
        /// The plugin.
        plugin: String,
        /// The command.
        name: String,
    },
    /// Names are lower-case ASCII letters, digits and `_`.
    #[error("invalid name `{0}`")]
    BadName(String),
    /// A plugin requires a service that no registered command provides.
    #[error(
        "plugin `{plugin}` requires the service `{service}`, which no plugin in this server \
         provides: add the plugin that offers it to the plugin list"
    )]
    MissingService {
        /// The plugin that declared it in `requires`.
        plugin: String,
        /// The command it calls.
        service: String,
    },
    /// A plugin lists (in `Plugin::tables`) a table another plugin owns.
    #[error("plugin `{plugin}` claims a table of plugin `{owner}`")]
    TableClaim {
        /// The plugin making the claim.
        plugin: String,
        /// The plugin owning the table.
        owner: String,
    },
}

/// The command table.
pub struct Registry {
    entries: HashMap<String, Entry, ahash::RandomState>,
    aliases: HashMap<String, String, ahash::RandomState>,
    plugins: Vec<Arc<dyn Plugin>>,
    /// Names and aliases of [`Command::constant`]s: a few, compared before any hashing.
    constants: Vec<String>,
}

fn valid_word(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

impl Registry {
    /// Builds the table from the built-ins and the plugins, refusing bad or duplicate names.
    pub fn build(
        builtins: Vec<Command>,
        plugins: Vec<Arc<dyn Plugin>>,
    ) -> Result<Self, RegistryError> {
        let mut reg = Registry {
            entries: HashMap::default(),
            aliases: HashMap::default(),
            plugins: Vec::new(),
            constants: Vec::new(),
        };
        for cmd in builtins {
            reg.insert(cmd, None)?;
        }
        let mut seen_plugins = Vec::new();
        for plugin in plugins {
            let pname = plugin.name();
            if !valid_word(pname) {
                return Err(RegistryError::BadName(pname.into()));
            }
            if seen_plugins.contains(&pname) {
                return Err(RegistryError::Duplicate {
                    what: "plugin",
                    name: pname.into(),
                });
            }
            seen_plugins.push(pname);
            let owner = owner_of(&*plugin);
            if let Some(other) = reg.plugins.iter().find(|p| {
                let theirs = owner_of(&***p);
                // `movies` would own every table of a plugin named `movies_extra`.
                owner.tables.iter().any(|t| theirs.owns(t))
                    || theirs.tables.iter().any(|t| owner.owns(t))
                    || theirs.owns(pname)
                    || owner.owns(theirs.plugin)
            }) {
                return Err(RegistryError::TableClaim {
                    plugin: pname.into(),
                    owner: other.name().into(),
                });
            }
            for cmd in plugin.commands() {
                let verb = cmd
                    .info
                    .name
                    .strip_prefix(pname)
                    .and_then(|r| r.strip_prefix('.'));
                match verb {
                    Some(v) if v.split('.').all(valid_word) => {}
                    Some(_) => return Err(RegistryError::BadName(cmd.info.name.clone())),
                    None => {
                        return Err(RegistryError::BadPrefix {
                            plugin: pname.into(),
                            name: cmd.info.name.clone(),
                        })
                    }
                }
                reg.insert(cmd, Some(owner))?;
            }
            reg.plugins.push(plugin);
        }
        for plugin in &reg.plugins {
            if let Some(missing) = plugin
                .requires()
                .into_iter()
                .find(|s| !reg.entries.contains_key(s.0))
            {
                return Err(RegistryError::MissingService {
                    plugin: plugin.name().into(),
                    service: missing.0.into(),
                });
            }
        }
        Ok(reg)
    }

    fn insert(&mut self, command: Command, owner: Option<Owner>) -> Result<(), RegistryError> {
        let name = command.info.name.clone();
        for n in std::iter::once(&name).chain(&command.info.aliases) {
            if self.entries.contains_key(n) || self.aliases.contains_key(n) {
                return Err(RegistryError::Duplicate {
                    what: "command",
                    name: n.clone(),
                });
            }
        }
        // These top-level fields are the request envelope: the parser takes them out before
        // the arguments are checked, so an argument of that name could never arrive.
        if let Some(arg) = command
            .info
            .args
            .iter()
            .find(|a| matches!(a.name.as_str(), "type" | "id" | "session"))
        {
            return Err(RegistryError::BadName(format!(
                "{name}: argument `{}` is a request envelope field",
                arg.name
            )));
        }
        for alias in &command.info.aliases {
            if alias.is_empty() || alias.contains('.') {
                return Err(RegistryError::BadName(alias.clone()));
            }
            self.aliases.insert(alias.clone(), name.clone());
        }
        if command.constant.is_some() {
            self.constants.push(name.clone());
            self.constants.extend(command.info.aliases.iter().cloned());
        }
        self.entries.insert(
            name,
            Entry {
                command,
                stats: CommandStats::default(),
                owner,
            },
        );
        Ok(())
    }

    /// Looks a command up by name or alias.
    pub fn get(&self, name: &str) -> Option<&Entry> {
        self.entries
            .get(name)
            .or_else(|| self.entries.get(self.aliases.get(name)?))
    }

    /// Whether `name` is a [`Command::constant`] (or its alias), without hashing it.
    pub fn is_constant(&self, name: &str) -> bool {
        self.constants.iter().any(|c| c == name)
    }

    /// The plugins, in the order the server listed them.
    pub fn plugins(&self) -> &[Arc<dyn Plugin>] {
        &self.plugins
    }

    /// Every setting of every plugin, refusing duplicates.
    pub fn settings(plugins: &[Arc<dyn Plugin>]) -> Result<Vec<Setting>, RegistryError> {
        let mut out: Vec<Setting> = Vec::new();
        for s in plugins.iter().flat_map(|p| p.settings()) {
            if out.iter().any(|o| o.name == s.name) {
                return Err(RegistryError::Duplicate {
                    what: "setting",
                    name: s.name.into(),
                });
            }
            out.push(s);
        }
        Ok(out)
    }

    /// `; did you mean `NAME`?` for a mistyped command, among the ones `help` lists.
    pub fn suggest(&self, name: &str) -> String {
        let listed = self
            .entries
            .values()
            .map(|e| &e.command.info)
            .filter(|i| !i.internal && !i.legacy_only)
            .map(|i| i.name.as_str());
        kino_proto::suggest::hint(name, listed)
    }

    /// Whether an unknown request looks like one of an older protocol's: a type without a
    /// plugin prefix and no native `id`, on a server where a plugin serves such a protocol
    /// (every native command but the built-ins has a prefix, and the built-ins are known).
    pub fn legacy_looking(&self, command: &str, id: bool) -> bool {
        !id && !command.contains('.') && self.entries.values().any(|e| e.command.info.legacy_only)
    }

    /// Public commands sorted by name, for `help`.
    pub fn infos(&self) -> Vec<CommandInfo> {
        let mut v: Vec<CommandInfo> = self
            .entries
            .values()
            .filter(|e| !e.command.info.internal)
            .map(|e| e.command.info.clone())
            .collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    /// Each lane's counts by its name (commands sharing a lane show it once).
    pub fn lanes(&self) -> Value {
        let mut out = BTreeMap::new();
        for e in self.entries.values() {
            if let Some(lane) = &e.command.lane {
                out.insert(lane.name(), json!(lane.stats()));
            }
        }
        json!(out)
    }

    /// Per-command counters of commands called at least once.
    pub fn stats(&self) -> Value {
        let mut out = BTreeMap::new();
        for (name, e) in &self.entries {
            let calls = e.stats.calls.load(Ordering::Relaxed);
            if calls == 0 {
                continue;
            }
            let micros = e.stats.micros.load(Ordering::Relaxed);
            out.insert(
                name.clone(),
                json!({
                    "calls": calls,
                    "failed": e.stats.failed.load(Ordering::Relaxed),
                    "usec": micros,
                    "usec_per_call": micros as f64 / calls as f64,
                }),
            );
        }
        json!(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kino_api::{CmdError, Ctx, Output};

    fn nop(_: &mut Ctx, _: ()) -> Result<Output, CmdError> {
        Ok(serde_json::Value::Null.into())
    }

    struct P(&'static str, Vec<&'static str>);
    impl Plugin for P {
        fn name(&self) -> &'static str {
            self.0
        }
        fn commands(&self) -> Vec<Command> {
            self.1.iter().map(|n| Command::new(n, "", nop)).collect()
        }
    }

    fn build(plugins: Vec<P>) -> Result<Registry, RegistryError> {
        let plugins = plugins
            .into_iter()
            .map(|p| Arc::new(p) as Arc<dyn Plugin>)
            .collect();
        Registry::build(vec![Command::new("ping", "", nop)], plugins)
    }

    #[test]
    fn refuses_a_plugin_whose_prefix_covers_anothers_tables() {
        assert!(build(vec![P("movies", vec![]), P("vip", vec![])]).is_ok());
        assert!(matches!(
            build(vec![P("movies", vec![]), P("movies_extra", vec![])]),
            Err(RegistryError::TableClaim { .. })
        ));
    }

    #[test]
    fn refuses_wrong_prefix_and_duplicates() {
        assert!(build(vec![P("a", vec!["a.x", "a.y"])]).is_ok());
        assert!(matches!(
            build(vec![P("a", vec!["b.x"])]),
            Err(RegistryError::BadPrefix { .. })
        ));
        assert!(matches!(
            build(vec![P("a", vec!["ax"])]),
            Err(RegistryError::BadPrefix { .. })
        ));
        assert!(matches!(
            build(vec![P("a", vec!["a.x", "a.x"])]),
            Err(RegistryError::Duplicate { .. })
        ));
        assert!(matches!(
            build(vec![P("a", vec![]), P("a", vec![])]),
            Err(RegistryError::Duplicate { .. })
        ));
        assert!(matches!(
            build(vec![P("a", vec!["a.X"])]),
            Err(RegistryError::BadName(_))
        ));
        assert!(matches!(
            build(vec![P("A", vec![])]),
            Err(RegistryError::BadName(_))
        ));
        /// An argument named like an envelope field.
        #[derive(kino_api::CommandArgs)]
        struct Shadow {
            /// shadowed by the request id
            #[allow(dead_code)]
            id: u64,
        }
        fn shadow(_: &mut Ctx, _: Shadow) -> Result<Output, CmdError> {
            Ok(serde_json::Value::Null.into())
        }
        let reserved = Registry::build(vec![Command::new("x", "", shadow)], Vec::new());
        assert!(matches!(reserved, Err(RegistryError::BadName(_))));
    }
}
