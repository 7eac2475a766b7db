//! Script plugins: server commands written in rhai, loaded at run time without a rebuild.
//!
//! A plugin is a folder holding `plugin.rhai`, whose top level declares the plugin and nothing
//! else:
//!
//! ```text
//! plugin("polls", "Polls on the programme");
//! migration(1, "CREATE TABLE polls_votes (...)");
//! command("polls.vote", "Vote for tonight's movie",
//!         #{ role: "user", args: [ #{ name: "movie_id", kind: "uint", doc: "the movie" } ] },
//!         |ctx, args| { ...; #{ votes: n } });
//! on("movies.uploaded", |ctx, event| { ... });
//! ```
//!
//! [`compile`] checks a source and turns it into a [`ScriptPlugin`]: plain data (names, specs as
//! the same [`CommandInfo`] native commands have, migrations), which core registers like a
//! native plugin's. [`Executor::run`] runs a handler: the rhai engine and the compiled script
//! live on executor threads (rhai values are not `Send`), and the handler's [`Ctx`] stays on
//! the calling worker, which answers the script's database and service requests over a
//! channel. Every run is bounded by [`ScriptLimits`].
//!
//! Layout: [`spec`] (the declaration functions, rhai maps → argument specs), `sandbox` (the
//! engine, its limits and the functions a handler may call), `exec` (executor threads and the
//! bridge to the caller's `Ctx`).
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]
#![warn(missing_docs)]

mod exec;
mod sandbox;
pub mod spec;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

pub use exec::{Executor, Target};
use kino_api::CommandInfo;
use md5::{Digest, Md5};

/// What one call of a script may use; every bound has a server flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptLimits {
    /// rhai operations per call (a loop that never ends stops here).
    pub max_operations: u64,
    /// Nested function calls inside the script (recursion).
    pub max_call_levels: usize,
    /// Longest string, in bytes.
    pub max_string: usize,
    /// Most elements of an array, nested arrays counted together.
    pub max_array: usize,
    /// Most entries of an object map, nested maps counted together.
    pub max_map: usize,
    /// Wall time per call, the script's own running time (not its database waits).
    pub timeout: Duration,
}

impl Default for ScriptLimits {
    fn default() -> Self {
        ScriptLimits {
            max_operations: 10_000_000,
            max_call_levels: 32,
            max_string: 1024 * 1024,
            max_array: 100_000,
            max_map: 10_000,
            timeout: Duration::from_secs(1),
        }
    }
}

/// A script that could not be loaded, with where: `plugins/polls/plugin.rhai:12: ...`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}:{line}: {message}")]
pub struct LoadError {
    /// The script file.
    pub path: String,
    /// 1-based line; 0 when the error is about the whole file.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// A compiled and checked script plugin: data only, shared by every thread.
#[derive(Debug)]
pub struct ScriptPlugin {
    /// The command prefix, also its folder's name and its table prefix.
    pub name: String,
    /// One line for `plugins.list`.
    pub summary: String,
    /// A hash of the source: what `plugins.list` shows and executors cache compiled code by.
    pub version: String,
    /// Where the source came from, for error messages.
    pub path: String,
    /// The source, compiled again (once) on each executor thread.
    pub source: Arc<str>,
    /// Numbered schema changes, one statement each.
    pub migrations: Vec<(u32, String)>,
    /// Command specs, in declaration order.
    pub commands: Vec<CommandInfo>,
    /// Events the plugin listens to (`on(...)`), in declaration order, repeats allowed.
    pub events: Vec<String>,
}

/// The version of a source: the first 12 hex digits of its MD5 (an identity, not a defence).
pub fn version_of(source: &str) -> String {
    let digest = Md5::digest(source.as_bytes());
    hex::encode(digest)[..12].to_string()
}

/// Compiles `source` (read from `path`, in a folder named `folder`) and runs its declarations
/// under `limits`: a syntax error, a declaration error, a name that is not `folder`, or a
/// command outside the plugin's prefix is a [`LoadError`] naming the line.
pub fn compile(
    path: &str,
    folder: &str,
    source: &str,
    limits: &ScriptLimits,
) -> Result<ScriptPlugin, LoadError> {
    let declared = spec::declare(path, source, limits)?;
    let whole = |message: String| LoadError {
        path: path.into(),
        line: 0,
        message,
    };
    let (name, summary) = declared
        .plugin
        .ok_or_else(|| whole("the script never calls plugin(NAME, SUMMARY)".into()))?;
    if name != folder {
        return Err(whole(format!(
            "plugin(\"{name}\") must be named as its folder `{folder}`"
        )));
    }
    for (i, (v, _)) in declared.migrations.iter().enumerate() {
        if *v as usize != i + 1 {
            return Err(whole(format!(
                "migrations must be numbered 1, 2, 3, ... in order; found {v} at position {}",
                i + 1
            )));
        }
    }
    Ok(ScriptPlugin {
        name,
        summary,
        version: version_of(source),
        path: path.into(),
        source: Arc::from(source),
        migrations: declared.migrations,
        commands: declared
            .commands
            .into_iter()
            .map(|(info, _)| info)
            .collect(),
        events: declared.hooks.into_iter().map(|(event, _)| event).collect(),
    })
}

/// The plugin folders under `dir`, sorted by name: `(folder name, path of plugin.rhai)`.
/// Folders without a `plugin.rhai` are skipped.
pub fn folders(dir: &Path) -> std::io::Result<Vec<(String, std::path::PathBuf)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let script = entry.path().join("plugin.rhai");
        if entry.file_type()?.is_dir() && script.is_file() {
            out.push((entry.file_name().to_string_lossy().into_owned(), script));
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests;
