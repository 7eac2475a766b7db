//! What a script may consume: rhai's own limits, set explicitly (its defaults differ between
//! debug and release builds, and a script must behave the same under `cargo test` as in a
//! release binary), plus two rhai does not enforce on its own. rhai checks a map's or an
//! array's size when it is passed to a function, not when `m[key] = value` adds an entry, and
//! never counts map keys; so every use of a variable checks its size, and the process's heap
//! is counted by the allocator and checked between operations.

use std::alloc::System;
use std::time::{Duration, Instant};

use cap::Cap;
use rhai::module_resolvers::DummyModuleResolver;
use rhai::{Dynamic, Engine, EvalAltResult, Position};

use crate::cancel;

/// Counts every allocation of the `kino` process so a script's memory can be bounded. The
/// limit itself is never hit here: [`over_memory`] turns it into a script error instead of an
/// allocation failure, which would abort the shell.
#[global_allocator]
static ALLOCATOR: Cap<System> = Cap::new(System, usize::MAX);

/// Bytes on the heap now.
pub fn allocated() -> usize {
    ALLOCATOR.allocated()
}

/// The bounds of one script run; every one has a `--script-max-*` flag.
#[derive(Debug, Clone, Copy)]
pub struct ScriptLimits {
    /// rhai operations (a runaway loop stops here).
    pub operations: u64,
    /// Entries of one array, nested arrays included (also the most `files()` returns).
    pub array: usize,
    /// Entries of one object map, nested maps included.
    pub map: usize,
    /// Bytes of one string (all strings within one value together).
    pub string: usize,
    /// Heap the script may add to the shell's, in bytes (map keys and many variables included).
    pub memory: usize,
}

impl Default for ScriptLimits {
    /// Far more than a bulk upload of thousands of files needs, small enough to stop a
    /// runaway script quickly.
    fn default() -> Self {
        ScriptLimits {
            operations: 50_000_000,
            array: 100_000,
            map: 10_000,
            string: 4 * 1024 * 1024,
            memory: 256 * 1024 * 1024,
        }
    }
}

/// Sets every limit explicitly and turns off what would reach past the sandbox.
pub fn harden(engine: &mut Engine, limits: &ScriptLimits) {
    engine.set_max_operations(limits.operations);
    engine.set_max_call_levels(48);
    engine.set_max_expr_depths(64, 48);
    engine.set_max_string_size(limits.string);
    engine.set_max_array_size(limits.array);
    engine.set_max_map_size(limits.map);
    engine.set_max_variables(10_000);
    engine.set_max_functions(1_000);
    // No `import`: modules would be a way to read files the sandbox does not offer.
    engine.set_max_modules(0);
    engine.set_module_resolver(DummyModuleResolver::new());
    engine.disable_symbol("eval");
    let (max_array, max_map) = (limits.array, limits.map);
    // The top level only, so each check is O(1); deeper growth is caught by the memory bound.
    #[allow(deprecated)] // rhai marks `on_var` as volatile, not as going away.
    engine.on_var(move |name, index, ctx| {
        let scope = ctx.scope();
        // `index` counts from the end of the scope (1: the last variable); 0: search by name.
        let at = index
            .checked_sub(1)
            .and_then(|i| scope.iter_raw().nth(i))
            .filter(|(n, _, _)| *n == name)
            .map(|(_, _, v)| v);
        let Some(value) = at.or_else(|| scope.get(name)) else {
            return Ok(None);
        };
        if value.is_map() && value.as_map_ref().is_ok_and(|m| m.len() > max_map) {
            return Err(too_large("Size of object map"));
        }
        if value.is_array() && value.as_array_ref().is_ok_and(|a| a.len() > max_array) {
            return Err(too_large("Size of array"));
        }
        Ok(None)
    });
}

fn too_large(what: &str) -> Box<EvalAltResult> {
    Box::new(EvalAltResult::ErrorDataTooLarge(
        what.to_string(),
        Position::NONE,
    ))
}

/// The memory bound as an `on_progress` check: the heap grown past `limit` since `baseline`.
pub fn over_memory(baseline: usize, limit: usize) -> Option<Dynamic> {
    (allocated().saturating_sub(baseline) > limit).then(|| {
        format!(
            "memory limit reached (over {} MiB; --script-max-memory)",
            limit / (1024 * 1024)
        )
        .into()
    })
}

/// Why the script must stop now, if it must: Ctrl-C or the time limit.
pub fn stopped(deadline: Option<Instant>) -> Option<&'static str> {
    if cancel::requested() {
        Some("interrupted")
    } else if deadline.is_some_and(|d| Instant::now() >= d) {
        Some("time limit reached (--timeout)")
    } else {
        None
    }
}

/// The script's `sleep(ms)`: in slices, so Ctrl-C and `--timeout` stop a sleeping script too.
pub fn sleep(ms: i64, deadline: Option<Instant>) -> Result<(), Box<EvalAltResult>> {
    let until = Instant::now() + Duration::from_millis(ms.clamp(0, 3_600_000) as u64);
    loop {
        if let Some(why) = stopped(deadline) {
            return Err(Box::new(EvalAltResult::ErrorTerminated(
                why.into(),
                Position::NONE,
            )));
        }
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(());
        }
        std::thread::sleep(left.min(Duration::from_millis(20)));
    }
}
