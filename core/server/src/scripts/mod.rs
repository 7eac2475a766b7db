//! Script plugins in the running server: a second command table beside the native one,
//! replaced whole and atomically by each reload, consulted after the native table by dispatch,
//! `help`, nested calls and `server.info`.
//!
//! The native [`Registry`] never changes after start-up; script commands live in an
//! [`Overlay`] behind a lock held only to clone an `Arc`, so a request keeps the entry it
//! looked up (and the script version it names) even when a reload swaps the table under it.
//! Each script plugin owns its tables under the same guard as native plugins
//! ([`guard::Owner`]: `<name>` and `<name>_*`), its handlers run on the worker pool through
//! [`kino_script::Executor`], and its `on(EVENT, ...)` hooks run when a plugin emits the event.
//!
//! Layout: `load` (reading, checking, migrating, swapping), `commands` (`plugins.reload`,
//! `plugins.list`, `plugins.install`), `cluster` (scripts kept in the database, the version row
//! every node polls).

mod cluster;
mod commands;
mod load;

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use kino_api::{Command, CommandInfo, Ctx, Exec, Output};
use kino_script::{Executor, ScriptPlugin, Target};
use serde_json::{Map, Value};

pub use cluster::Poller;
pub use commands::commands;

use crate::registry::{CommandStats, Entry};
use crate::store::guard::{self, Owner};

/// Where a loaded script came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// `--script-plugins DIR/NAME/plugin.rhai`.
    Folder,
    /// Installed with `plugins.install`, kept in the database for every node.
    Database,
}

/// One loaded script plugin.
#[derive(Clone)]
pub struct Loaded {
    /// Its compiled spec and source.
    pub plugin: Arc<ScriptPlugin>,
    /// The tables it may touch.
    pub owner: Owner,
    /// Folder or database.
    pub origin: Origin,
}

/// The script commands of one load: replaced whole, never edited.
#[derive(Default)]
pub struct Overlay {
    entries: HashMap<String, Arc<Entry>>,
    plugins: Vec<Loaded>,
    errors: Vec<String>,
}

/// The script plugins of a server.
pub struct Scripts {
    dir: Option<PathBuf>,
    executor: Arc<Executor>,
    table: RwLock<Arc<Overlay>>,
    /// One reload at a time: two would each build from the same old table.
    reloading: Mutex<()>,
    /// The database version row this node last loaded (see `cluster`).
    seen_version: Mutex<i64>,
}

/// A script plugin's name as the `'static` its [`Owner`] needs: each distinct name is kept
/// once for the life of the process (names are short words; reloads add none).
fn interned(name: &str) -> &'static str {
    static NAMES: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());
    let mut names = NAMES.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(n) = names.get(name) {
        return n;
    }
    let leaked: &'static str = Box::leak(name.to_owned().into_boxed_str());
    names.insert(leaked);
    leaked
}

impl Scripts {
    /// No scripts yet; `dir` is `--script-plugins`.
    pub fn new(dir: Option<PathBuf>, limits: kino_script::ScriptLimits) -> Self {
        Scripts {
            dir,
            executor: Executor::new(limits),
            table: RwLock::new(Arc::new(Overlay::default())),
            reloading: Mutex::new(()),
            seen_version: Mutex::new(0),
        }
    }

    /// The table in force.
    pub fn current(&self) -> Arc<Overlay> {
        Arc::clone(&self.table.read().unwrap_or_else(PoisonError::into_inner))
    }

    fn swap(&self, next: Overlay) {
        *self.table.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(next);
    }

    /// A script command by name.
    pub fn get(&self, name: &str) -> Option<Arc<Entry>> {
        self.current().entries.get(name).cloned()
    }

    /// Public script commands, for `help`.
    pub fn infos(&self) -> Vec<CommandInfo> {
        self.current()
            .entries
            .values()
            .map(|e| e.command.info.clone())
            .collect()
    }

    /// Per-command counters of script commands called at least once.
    pub fn stats(&self) -> Map<String, Value> {
        self.current()
            .entries
            .iter()
            .filter_map(|(n, e)| Some((n.clone(), e.stats.snapshot()?)))
            .collect()
    }

    /// Script executor threads alive now.
    pub fn executors(&self) -> usize {
        self.executor.threads()
    }

    /// `; did you mean ...` among script commands.
    pub fn suggest(&self, name: &str) -> String {
        let table = self.current();
        kino_proto::suggest::hint(name, table.entries.keys().map(String::as_str))
    }

    /// Runs every script hook on `event`, each as its own plugin, with `ctx`'s caller and
    /// database; failures are logged.
    pub fn emit(&self, ctx: &mut Ctx, event: &str, data: &Value) {
        let table = self.current();
        for l in table
            .plugins
            .iter()
            .filter(|l| l.plugin.events.iter().any(|e| e == event))
        {
            let _owner = guard::enter(Some(l.owner));
            let hook = Target::Hook(event.into());
            if let Err(e) = self.executor.run(ctx, &l.plugin, hook, data.clone()) {
                log::warn!("script {} on({event}) failed: {e}", l.plugin.name);
            }
        }
    }
}

impl Overlay {
    fn new(plugins: Vec<Loaded>, errors: Vec<String>, executor: &Arc<Executor>) -> Self {
        let mut entries = HashMap::new();
        for l in &plugins {
            for info in &l.plugin.commands {
                let command = Command {
                    info: info.clone(),
                    exec: Exec::Blocking,
                    handler: handler(executor, &l.plugin, info),
                    quick: None,
                    constant: None,
                    lane: None,
                };
                let entry = Entry {
                    command,
                    stats: CommandStats::default(),
                    owner: Some(l.owner),
                };
                entries.insert(info.name.clone(), Arc::new(entry));
            }
        }
        Overlay {
            entries,
            plugins,
            errors,
        }
    }

    /// The loaded plugins.
    pub fn plugins(&self) -> &[Loaded] {
        &self.plugins
    }

    /// What the last load could not load.
    pub fn errors(&self) -> &[String] {
        &self.errors
    }
}

/// A script command's handler: the spec's defaults filled in, then the script on an executor.
fn handler(
    executor: &Arc<Executor>,
    plugin: &Arc<ScriptPlugin>,
    info: &CommandInfo,
) -> kino_api::Handler {
    let (executor, plugin, info) = (Arc::clone(executor), Arc::clone(plugin), info.clone());
    Arc::new(move |ctx: &mut Ctx, args: &kino_api::Args| {
        let mut fields = args.fields().clone();
        for a in &info.args {
            if let Some(d) = &a.default {
                if fields.get(&a.name).is_none_or(Value::is_null) {
                    fields.insert(a.name.clone(), d.clone());
                }
            }
        }
        let target = Target::Command(info.name.clone());
        executor
            .run(ctx, &plugin, target, Value::Object(fields))
            .map(Output::from)
    })
}
