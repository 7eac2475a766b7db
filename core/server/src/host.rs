//! The server's side of the plugin API: what a handler's `Ctx` reaches through `Host`, and the
//! one function that runs a handler (stats, panic catching, nested calls).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use kino_api::{
    check_args, BlobStore, CmdError, CommandInfo, Ctx, Host, Identity, Output, Role, Settings,
};
use serde_json::{json, Map, Value};

use crate::config::Limits;
use crate::registry::{Entry, EntryRef, Registry};
use crate::session::{now_ms, SessionStore};
use crate::stats::ServerStats;
use crate::store::guard;

/// Everything shared by the loop, the workers and transfer threads.
pub struct ServerHost {
    /// The command table.
    pub registry: Registry,
    /// Sessions, in the database, with this node's cache.
    pub sessions: SessionStore,
    /// File storage.
    pub blobs: Box<dyn BlobStore>,
    /// Plugin settings.
    pub settings: Settings,
    /// Core limits.
    pub limits: Limits,
    /// Counters.
    pub stats: ServerStats,
    /// For uptime.
    pub started: Instant,
    /// Rate limit for warnings a client can cause.
    pub warns: crate::ratelog::RateLog,
    /// Script plugins: the command table each reload replaces.
    pub scripts: crate::scripts::Scripts,
}

impl ServerHost {
    /// The sessions.
    pub fn sessions(&self) -> &SessionStore {
        &self.sessions
    }

    /// A command by name or alias: native first, then script plugins'.
    pub fn lookup(&self, name: &str) -> Option<EntryRef<'_>> {
        match self.registry.get(name) {
            Some(e) => Some(EntryRef::Native(e)),
            None => self.scripts.get(name).map(EntryRef::Script),
        }
    }

    /// The identity behind a token, if the session is live.
    pub fn resolve(&self, token: &str) -> Option<Identity> {
        self.sessions.resolve(token, now_ms())
    }
}

/// Whether `caller` may run a command that needs `role`; the error says why not. Whether the
/// command may be reached at all from where the request came (the wire cannot reach internal
/// ones) is checked by the caller of this function.
pub fn authorize(role: Role, caller: Option<&Identity>) -> Result<(), CmdError> {
    match (role, caller) {
        (Role::Anon, _) => Ok(()),
        (_, None) => Err(CmdError::unauthenticated(
            "log in first (auth.login), or send a live `session`",
        )),
        (Role::Admin, Some(c)) if c.role != Role::Admin => {
            Err(CmdError::forbidden("this command needs an admin"))
        }
        _ => Ok(()),
    }
}

/// Runs a handler, turning a panic into an `internal` error and recording its stats.
pub fn run_handler(
    entry: &Entry,
    ctx: &mut Ctx,
    args: &kino_api::Args,
) -> Result<Output, CmdError> {
    let started = Instant::now();
    let owner = guard::enter(entry.owner);
    let result = catch_unwind(AssertUnwindSafe(|| (entry.command.handler)(ctx, args)))
        .unwrap_or_else(|panic| {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Err(CmdError::internal(format!(
                "handler of {} panicked: {what}",
                entry.command.info.name
            )))
        });
    drop(owner);
    let ok = result.as_ref().is_ok_and(|o| !o.refused);
    entry.stats.record(ok, started.elapsed().as_micros() as u64);
    result.map(|o| owned_completion(o, entry.owner))
}

/// A pool command's answer from memory ([`kino_api::Command::quick`]), on the loop; `None`
/// when the pool must run it. Counted like a handler run when it answers.
pub fn run_quick(
    entry: &Entry,
    ctx: &mut Ctx,
    args: &kino_api::Args,
) -> Option<Result<Output, CmdError>> {
    let quick = entry.command.quick.as_ref()?;
    let started = Instant::now();
    let owner = guard::enter(entry.owner);
    let result = catch_unwind(AssertUnwindSafe(|| quick(&mut ctx.as_fast(), args))).ok()?;
    drop(owner);
    if let Some(r) = &result {
        entry.stats.record(
            r.as_ref().is_ok_and(|o| !o.refused),
            started.elapsed().as_micros() as u64,
        );
    }
    result
}

/// A download's completion hook runs later, on a worker, but still as the plugin whose handler
/// returned it.
fn owned_completion(mut output: Output, owner: Option<guard::Owner>) -> Output {
    if let Some(body) = output.body.as_mut() {
        if let Some(hook) = body.on_complete.take() {
            body.on_complete = Some(Box::new(move |ctx: &mut Ctx, sent| {
                let _owner = guard::enter(owner);
                hook(ctx, sent)
            }));
        }
    }
    output
}

impl Host for ServerHost {
    fn settings(&self) -> &Settings {
        &self.settings
    }

    fn blobs(&self) -> &dyn BlobStore {
        &*self.blobs
    }

    fn session_begin(&self, who: &Identity) -> String {
        self.sessions.begin(who.clone(), now_ms())
    }

    fn session_end(&self, token: &str) {
        self.sessions.end(token);
    }

    fn sessions_end_user(&self, user_id: i64) -> usize {
        self.sessions.end_user(user_id)
    }

    fn sessions_end_user_except(&self, user_id: i64, keep: &str) -> usize {
        self.sessions.end_user_except(user_id, keep)
    }

    fn login_extras(&self, ctx: &mut Ctx) -> Map<String, Value> {
        let mut out = Map::new();
        for plugin in self.registry.plugins() {
            let _owner = guard::enter(Some(guard::owner_of(&**plugin)));
            match plugin.on_login(ctx) {
                Ok(fields) => out.extend(fields),
                Err(e) => log::warn!("login hook of {} failed: {e}", plugin.name()),
            }
        }
        out
    }

    fn call(
        &self,
        ctx: &mut Ctx,
        command: &str,
        args: Map<String, Value>,
    ) -> Result<Output, CmdError> {
        // `ctx` is already the nested call's context: depth 1 is the first nested call.
        if ctx.depth() > kino_api::MAX_CALL_DEPTH {
            return Err(CmdError::internal(format!(
                "Ctx::call of {command} nested deeper than {} calls",
                kino_api::MAX_CALL_DEPTH
            )));
        }
        let entry = self.lookup(command).ok_or_else(|| {
            CmdError::internal(format!("Ctx::call of unregistered command {command}"))
        })?;
        authorize(entry.command.info.role, ctx.caller())?;
        let args = check_args(&entry.command.info, &args)?;
        run_handler(&entry, ctx, &args)
    }

    fn commands(&self) -> Vec<CommandInfo> {
        let mut all = self.registry.infos();
        all.extend(self.scripts.infos());
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    fn emit(&self, ctx: &mut Ctx, event: &str, data: &Value) {
        self.scripts.emit(ctx, event, data);
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }

    fn stats(&self) -> Value {
        let s = &self.stats;
        json!({
            "uptime_s": self.started.elapsed().as_secs(),
            "version": env!("CARGO_PKG_VERSION"),
            "connections": ServerStats::get(&s.connections),
            "connections_total": ServerStats::get(&s.connections_total),
            "connections_rejected": ServerStats::get(&s.connections_rejected),
            "sessions": self.sessions.len(),
            "commands": ServerStats::get(&s.commands),
            "errors": ServerStats::get(&s.errors),
            "bytes_in": ServerStats::get(&s.bytes_in),
            "bytes_out": ServerStats::get(&s.bytes_out),
            "input_buffered": ServerStats::get(&s.input_buffered),
            "output_buffered": ServerStats::get(&s.output_buffered),
            "output_peak": ServerStats::get(&s.output_peak),
            "connections_timed_out": ServerStats::get(&s.connections_timed_out),
            "transfers": ServerStats::get(&s.transfers),
            "transfers_rejected": ServerStats::get(&s.transfers_rejected),
            "quickacks": ServerStats::get(&s.quickacks),
            "http_connections": ServerStats::get(&s.http_connections),
            "http_handlers": ServerStats::get(&s.http_handlers),
            "http_handlers_peak": ServerStats::get(&s.http_handlers_peak),
            "http_busy": ServerStats::get(&s.http_busy),
            "bodies_sendfile": ServerStats::get(&s.bodies_sendfile),
            "bodies_read_direct": ServerStats::get(&s.bodies_read_direct),
            "script_executors": self.scripts.executors(),
            "lanes": self.registry.lanes(),
            "plugins": self
                .registry
                .plugins()
                .iter()
                .filter_map(|p| Some((p.name().to_owned(), p.stats()?)))
                .collect::<Map<String, Value>>(),
            "commandstats": match self.registry.stats() {
                Value::Object(mut native) => {
                    native.extend(self.scripts.stats());
                    Value::Object(native)
                }
                other => other,
            },
            "settings": self.settings.all(),
        })
    }
}
