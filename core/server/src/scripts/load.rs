//! A reload: read every script (folder and database), keep unchanged ones as they are, compile
//! and check changed ones, apply their migrations, and swap the whole table at once. A script
//! that fails any step leaves its previous version serving (if it had one) and is reported
//! with its file and line.

use kino_api::{Database, DbError};
use kino_script::ScriptPlugin;
use serde_json::{json, Value};

use super::{cluster, interned, Loaded, Origin, Overlay, Scripts};
use crate::registry::Registry;
use crate::store::guard::{self, owner_of, Owner};

/// One script's text and where it came from.
pub(super) struct Source {
    pub name: String,
    pub path: String,
    pub text: String,
    pub origin: Origin,
}

/// Names core keeps for itself: its tables (`kino_*`) and its commands' prefixes.
const RESERVED: &[&str] = &["kino", "plugins", "server"];

impl Scripts {
    /// Re-reads the scripts and swaps the table; returns the report `plugins.reload` answers:
    /// each plugin with its version and whether it changed, removed plugins, and errors.
    pub fn reload(&self, native: &Registry, db: &mut dyn Database) -> Value {
        let _one = self
            .reloading
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let old = self.current();
        let mut errors = Vec::new();
        let mut sources = self.folder_sources(&mut errors);
        match cluster::sources(db) {
            Ok((version, stored)) => {
                *self
                    .seen_version
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = version;
                for s in stored {
                    if sources.iter().any(|f| f.name == s.name) {
                        errors.push(format!(
                            "{}: a folder plugin of that name is loaded instead",
                            s.path
                        ));
                    } else {
                        sources.push(s);
                    }
                }
            }
            Err(e) => errors.push(format!("installed scripts: {e}")),
        }
        let mut next: Vec<Loaded> = Vec::new();
        let mut report = Vec::new();
        for src in sources {
            let previous = old.plugins.iter().find(|l| l.plugin.name == src.name);
            if let Some(p) = previous.filter(|p| {
                p.plugin.version == kino_script::version_of(&src.text) && p.origin == src.origin
            }) {
                report
                    .push(json!({"name": src.name, "version": p.plugin.version, "changed": false}));
                next.push(p.clone());
                continue;
            }
            match self.prepare(native, &next, db, &src) {
                Ok(l) => {
                    report.push(
                        json!({"name": src.name, "version": l.plugin.version, "changed": true}),
                    );
                    next.push(l);
                }
                Err(e) => {
                    log::error!("script plugin not loaded: {e}");
                    errors.push(e);
                    if let Some(p) = previous {
                        report.push(json!({
                            "name": src.name, "version": p.plugin.version, "changed": false,
                            "kept_previous": true,
                        }));
                        next.push(p.clone());
                    }
                }
            }
        }
        let removed: Vec<&str> = old
            .plugins
            .iter()
            .map(|l| l.plugin.name.as_str())
            .filter(|n| !next.iter().any(|l| l.plugin.name == *n))
            .collect();
        let out = json!({ "plugins": report, "removed": removed, "errors": errors });
        self.swap(Overlay::new(next, errors, &self.executor));
        log::info!("script plugins loaded: {out}");
        out
    }

    fn folder_sources(&self, errors: &mut Vec<String>) -> Vec<Source> {
        let Some(dir) = &self.dir else {
            return Vec::new();
        };
        let folders = match kino_script::folders(dir) {
            Ok(f) => f,
            Err(e) => {
                errors.push(format!("--script-plugins {}: {e}", dir.display()));
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        for (name, path) in folders {
            match std::fs::read_to_string(&path) {
                Ok(text) => out.push(Source {
                    name,
                    path: path.display().to_string(),
                    text,
                    origin: Origin::Folder,
                }),
                Err(e) => errors.push(format!("{}: {e}", path.display())),
            }
        }
        out
    }

    fn prepare(
        &self,
        native: &Registry,
        loaded: &[Loaded],
        db: &mut dyn Database,
        src: &Source,
    ) -> Result<Loaded, String> {
        let plugin = kino_script::compile(&src.path, &src.name, &src.text, self.executor.limits())
            .map_err(|e| e.to_string())?;
        let owner = Owner {
            plugin: interned(&plugin.name),
            tables: &[],
        };
        check_names(native, loaded, &plugin, owner).map_err(|e| format!("{}: {e}", src.path))?;
        migrate(db, owner, &plugin).map_err(|e| format!("{}: {e}", src.path))?;
        Ok(Loaded {
            plugin: std::sync::Arc::new(plugin),
            owner,
            origin: src.origin,
        })
    }
}

/// A script plugin's names against the native plugins', core's and the other scripts': the same
/// rules as between native plugins (no shared command, no table of another's).
fn check_names(
    native: &Registry,
    loaded: &[Loaded],
    plugin: &ScriptPlugin,
    owner: Owner,
) -> Result<(), String> {
    if RESERVED.contains(&plugin.name.as_str()) {
        return Err(format!("the name `{}` is core's", plugin.name));
    }
    let clash = |theirs: Owner| {
        owner.tables.iter().any(|t| theirs.owns(t))
            || theirs.owns(owner.plugin)
            || owner.owns(theirs.plugin)
            || theirs.tables.iter().any(|t| owner.owns(t))
    };
    for p in native.plugins() {
        if clash(owner_of(&**p)) {
            return Err(format!(
                "`{}` would share names or tables with the native plugin `{}`",
                plugin.name,
                p.name()
            ));
        }
    }
    if let Some(l) = loaded.iter().find(|l| clash(l.owner)) {
        return Err(format!(
            "`{}` would share names or tables with the script plugin `{}`",
            plugin.name, l.plugin.name
        ));
    }
    if let Some(c) = plugin
        .commands
        .iter()
        .find(|c| native.get(&c.name).is_some())
    {
        return Err(format!("command `{}` is already a native command", c.name));
    }
    Ok(())
}

/// Applies the plugin's pending migrations, each in a transaction with its version row, the
/// statement run as the plugin (the guard refuses another's table).
fn migrate(db: &mut dyn Database, owner: Owner, plugin: &ScriptPlugin) -> Result<(), String> {
    let current = {
        let _core = guard::enter(None);
        db.execute(
            "CREATE TABLE IF NOT EXISTS schema_versions (plugin TEXT PRIMARY KEY, version INTEGER NOT NULL)",
            &[],
        )
        .map_err(|e| e.to_string())?;
        version_of(db, &plugin.name).map_err(|e| e.to_string())?
    };
    let known = plugin.migrations.len() as i64;
    if current > known {
        return Err(format!(
            "the database is at migration {current}, the script declares only {known}"
        ));
    }
    for (version, sql) in plugin.migrations.iter().skip(current as usize) {
        let applied = db
            .transaction(|db| {
                // Write transactions queue (SQLite's lock, PostgreSQL's advisory lock), so this
                // re-read sees another node's migration committed since the first read: two nodes
                // loading the same new script apply it once, and neither fails.
                if version_of(db, &plugin.name)? >= i64::from(*version) {
                    return Ok(false);
                }
                {
                    let _plugin = guard::enter(Some(owner));
                    db.execute(sql, &[])?;
                }
                let _core = guard::enter(None);
                db.execute(
                    "INSERT INTO schema_versions (plugin, version) VALUES (?, ?)
                 ON CONFLICT(plugin) DO UPDATE SET version = excluded.version",
                    kino_api::params![plugin.name.as_str(), *version],
                )
                .map(|_| true)
            })
            .map_err(|e: DbError| format!("migration {version}: {e}"))?;
        if applied {
            log::info!("applied migration {} {version} (script)", plugin.name);
        }
    }
    Ok(())
}

/// The plugin's migration version in the database (0: none yet).
fn version_of(db: &mut dyn Database, plugin: &str) -> Result<i64, DbError> {
    let _core = guard::enter(None);
    db.query_one(
        "SELECT version FROM schema_versions WHERE plugin = ?",
        kino_api::params![plugin],
    )
    .and_then(|r| r.map_or(Ok(0), |r| r.i64(0)))
}
