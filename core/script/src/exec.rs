//! Executor threads. rhai values are not `Send` (the workspace builds rhai without `sync`), so
//! each executor thread keeps its own engine and its own compiled copy of each script, keyed by
//! version. A handler's `Ctx` borrows the worker's database and cannot leave the worker, so the
//! worker hands the call to an idle executor and then serves the script's requests (queries,
//! service calls) with its `Ctx` until the script is done.
//!
//! A call reserves an idle executor (one counter, decremented by the caller) or, finding none,
//! starts one, so a script calling a command that runs a script (at any depth core allows)
//! never waits for a thread held by its own caller, and a busy server does not start a thread
//! per call. Idle executors leave after a minute.

use std::cell::RefCell;
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{bounded, unbounded, Receiver, RecvTimeoutError, Sender};
use kino_api::{CmdError, Ctx, ErrorCode, Row, SqlValue};
use rhai::{Dynamic, Engine, EvalAltResult, FnPtr, AST};
use serde_json::{json, Map, Value};

use crate::sandbox::{self, Bridge, BRIDGE, PLUGIN};
use crate::{ScriptLimits, ScriptPlugin};

/// What to run of a plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A command's handler, by command name.
    Command(String),
    /// Every `on(EVENT, ...)` handler of the plugin, in order.
    Hook(String),
}

/// A script's request to the worker holding its `Ctx`.
pub(crate) enum ToHost {
    Query(String, Vec<SqlValue>),
    Execute(String, Vec<SqlValue>),
    Insert(String, Vec<SqlValue>),
    Begin,
    Commit,
    Rollback,
    Call(String, Map<String, Value>),
    Done(Result<Value, CmdError>),
}

/// The worker's answer.
pub(crate) enum HostRep {
    Rows(Vec<Row>),
    Count(u64),
    Id(i64),
    Unit,
    Value(Value),
    Failed(CmdError),
}

struct Job {
    plugin: Arc<ScriptPlugin>,
    target: Target,
    ctx: Value,
    args: Value,
    bridge: Bridge,
}

/// Runs script handlers on executor threads (see the module doc).
pub struct Executor {
    tx: Sender<Job>,
    rx: Receiver<Job>,
    /// Executors waiting for work and not yet reserved by a caller.
    idle: Arc<AtomicUsize>,
    /// Executor threads alive.
    threads: Arc<AtomicUsize>,
    limits: ScriptLimits,
}

/// Compiled scripts an executor thread keeps at most; past it the cache starts over.
const CACHED: usize = 64;
/// Idle time after which an executor thread ends.
const IDLE: Duration = Duration::from_secs(60);
/// Stack of an executor thread: deep enough for `--script-max-call-levels` in a debug build.
const STACK: usize = 64 * 1024 * 1024;

struct Compiled {
    ast: AST,
    commands: HashMap<String, FnPtr>,
    hooks: Vec<(String, FnPtr)>,
}

thread_local! {
    static ENGINE: RefCell<Option<Rc<Engine>>> = const { RefCell::new(None) };
    static CACHE: RefCell<HashMap<String, Rc<Compiled>>> = RefCell::new(HashMap::new());
}

impl Executor {
    /// An executor whose calls run under `limits`. Threads start on demand.
    pub fn new(limits: ScriptLimits) -> Arc<Self> {
        let (tx, rx) = unbounded();
        Arc::new(Executor {
            tx,
            rx,
            idle: Arc::new(AtomicUsize::new(0)),
            threads: Arc::new(AtomicUsize::new(0)),
            limits,
        })
    }

    /// Executor threads alive now (`server.info`).
    pub fn threads(&self) -> usize {
        self.threads.load(Ordering::Relaxed)
    }

    /// The limits calls run under.
    pub fn limits(&self) -> &ScriptLimits {
        &self.limits
    }

    /// Runs `target` of `plugin` for the caller of `ctx` with `args` (an object), serving the
    /// script's database and service requests with `ctx` on this thread; returns the script's
    /// value as JSON. A script that breaks a limit or fails is `internal`, logged with its
    /// file and line; a `fail(code, message)` or a refusal it did not catch is that error.
    pub fn run(
        &self,
        ctx: &mut Ctx,
        plugin: &Arc<ScriptPlugin>,
        target: Target,
        args: Value,
    ) -> Result<Value, CmdError> {
        let (to_host, from_script) = unbounded();
        let (to_script, from_host) = bounded(1);
        let caller = ctx
            .caller()
            .map(|c| json!({ "id": c.user_id, "name": c.name, "role": c.role.as_str() }));
        let job = Job {
            plugin: Arc::clone(plugin),
            target,
            ctx: json!({ "user": caller, "plugin": plugin.name }),
            args,
            bridge: Bridge { to_host, from_host },
        };
        let reserved = self
            .idle
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            .is_ok();
        if !reserved {
            self.spawn(job)?;
        } else if let Err(e) = self.tx.send(job) {
            // Cannot happen while `self` holds the receiver; run it on a new executor anyway.
            self.spawn(e.into_inner())?;
        }
        loop {
            let req = from_script
                .recv()
                .map_err(|_| CmdError::internal("a script executor ended mid-call"))?;
            let rep = match req {
                ToHost::Done(result) => return result,
                req => serve(ctx, req),
            };
            if to_script.send(rep).is_err() {
                return Err(CmdError::internal("a script executor ended mid-call"));
            }
        }
    }

    fn spawn(&self, first: Job) -> Result<(), CmdError> {
        let rx = self.rx.clone();
        let idle = Arc::clone(&self.idle);
        let threads = Arc::clone(&self.threads);
        let limits = self.limits.clone();
        threads.fetch_add(1, Ordering::Relaxed);
        let alive = Arc::clone(&threads);
        std::thread::Builder::new()
            .name("kino-script".into())
            .stack_size(STACK)
            .spawn(move || {
                let _alive = Alive(alive);
                run_job(&limits, first, &idle);
                loop {
                    match rx.recv_timeout(IDLE) {
                        Ok(job) => run_job(&limits, job, &idle),
                        Err(RecvTimeoutError::Disconnected) => return,
                        // Leave unless a caller reserved this thread meanwhile (its job is
                        // then on the way: wait for it).
                        Err(RecvTimeoutError::Timeout) => {
                            let left = idle
                                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                                    n.checked_sub(1)
                                })
                                .is_ok();
                            if left {
                                return;
                            }
                        }
                    }
                }
            })
            .map(drop)
            .map_err(|e| {
                threads.fetch_sub(1, Ordering::Relaxed);
                CmdError::internal(format!("starting a script executor: {e}"))
            })
    }
}

/// Counts an executor thread out when it ends, however it ends.
struct Alive(Arc<AtomicUsize>);

impl Drop for Alive {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

fn serve(ctx: &mut Ctx, req: ToHost) -> HostRep {
    let result = match req {
        ToHost::Query(sql, p) => ctx.db().query(&sql, &p).map(HostRep::Rows),
        ToHost::Execute(sql, p) => ctx.db().execute(&sql, &p).map(HostRep::Count),
        ToHost::Insert(sql, p) => ctx.db().insert(&sql, &p).map(HostRep::Id),
        ToHost::Begin => ctx.db().begin().map(|()| HostRep::Unit),
        ToHost::Commit => ctx.db().commit().map(|()| HostRep::Unit),
        ToHost::Rollback => ctx.db().rollback().map(|()| HostRep::Unit),
        ToHost::Call(name, args) => {
            return match ctx.call_by_name(&name, args) {
                Ok(out) => HostRep::Value(out.data),
                Err(e) => HostRep::Failed(e),
            }
        }
        ToHost::Done(_) => return HostRep::Failed(CmdError::internal("a second Done")),
    };
    result.unwrap_or_else(|e| HostRep::Failed(e.into()))
}

fn run_job(limits: &ScriptLimits, job: Job, idle: &AtomicUsize) {
    let Job {
        plugin,
        target,
        ctx,
        args,
        bridge,
    } = job;
    let to_host = bridge.to_host.clone();
    BRIDGE.with(|b| *b.borrow_mut() = Some(bridge));
    PLUGIN.with(|p| p.borrow_mut().clone_from(&plugin.name));
    let result = catch_unwind(AssertUnwindSafe(|| {
        execute(limits, &plugin, &target, ctx, args)
    }))
    .unwrap_or_else(|_| {
        Err(CmdError::internal(format!(
            "script {} panicked the executor",
            plugin.path
        )))
    });
    BRIDGE.with(|b| *b.borrow_mut() = None);
    // Idle before the worker hears Done, so its next call finds this thread rather than
    // starting another.
    idle.fetch_add(1, Ordering::AcqRel);
    // The worker may have given up (it never does before Done); nothing to tell then.
    let _ = to_host.send(ToHost::Done(result));
}

fn engine(limits: &ScriptLimits) -> Rc<Engine> {
    ENGINE.with(|e| {
        Rc::clone(
            e.borrow_mut()
                .get_or_insert_with(|| Rc::new(sandbox::engine(limits))),
        )
    })
}

fn compiled(engine: &Engine, plugin: &ScriptPlugin) -> Result<Rc<Compiled>, CmdError> {
    let key = format!("{}@{}", plugin.name, plugin.version);
    if let Some(c) = CACHE.with(|c| c.borrow().get(&key).cloned()) {
        return Ok(c);
    }
    // The top level only declares: it gets no way to the server, as when it was loaded.
    let bridge = BRIDGE.with(|b| b.borrow_mut().take());
    let declared = crate::spec::declare_on(engine, &plugin.path, &plugin.source);
    BRIDGE.with(|b| *b.borrow_mut() = bridge);
    let (ast, declared) = declared.map_err(|e| CmdError::internal(format!("script {e}")))?;
    let c = Rc::new(Compiled {
        ast,
        commands: declared
            .commands
            .into_iter()
            .map(|(info, f)| (info.name, f))
            .collect(),
        hooks: declared.hooks,
    });
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if cache.len() >= CACHED {
            cache.clear();
        }
        cache.insert(key, Rc::clone(&c));
    });
    Ok(c)
}

fn execute(
    limits: &ScriptLimits,
    plugin: &ScriptPlugin,
    target: &Target,
    ctx: Value,
    args: Value,
) -> Result<Value, CmdError> {
    let engine = engine(limits);
    sandbox::start_clock(limits.timeout);
    let code = compiled(&engine, plugin)?;
    let to_dyn = |v: Value| {
        rhai::serde::to_dynamic(v).map_err(|e| CmdError::internal(format!("script input: {e}")))
    };
    let (ctx, args) = (to_dyn(ctx)?, to_dyn(args)?);
    sandbox::start_clock(limits.timeout);
    match target {
        Target::Command(name) => {
            let f = code.commands.get(name).ok_or_else(|| {
                CmdError::internal(format!("script {} has no command {name}", plugin.path))
            })?;
            let out = f
                .call::<Dynamic>(&engine, &code.ast, (ctx, args))
                .map_err(|e| script_error(plugin, name, *e))?;
            rhai::serde::from_dynamic::<Value>(&out)
                .map_err(|e| CmdError::internal(format!("{name}: its reply is not JSON: {e}")))
        }
        Target::Hook(event) => {
            for (_, f) in code.hooks.iter().filter(|(e, _)| e == event) {
                sandbox::start_clock(limits.timeout);
                if let Err(e) = f.call::<Dynamic>(&engine, &code.ast, (ctx.clone(), args.clone())) {
                    // One hook failing must not keep the others (or the event's command) from
                    // finishing; the error is logged by the conversion.
                    let _ = script_error(plugin, &format!("on({event})"), *e);
                }
            }
            Ok(Value::Null)
        }
    }
}

/// A thrown `#{ code, message }` (from `fail` or a refusal the script did not catch) becomes
/// that error; a thrown string is `bad_args`; anything else (a limit, a bug) is `internal`,
/// logged with the script's file and line.
fn script_error(plugin: &ScriptPlugin, what: &str, outer: EvalAltResult) -> CmdError {
    // Errors inside functions the handler called arrive wrapped, one layer per call.
    let e = outer.unwrap_inner();
    let line = e.position().line().unwrap_or(0);
    let at = format!("{}:{line}", plugin.path);
    if let EvalAltResult::ErrorRuntime(value, _) = e {
        if let Some(m) = value.read_lock::<rhai::Map>() {
            let code = m
                .get("code")
                .map(|c| c.to_string())
                .and_then(|c| serde_json::from_value::<ErrorCode>(Value::from(c)).ok());
            let message = m.get("message").map(|c| c.to_string()).unwrap_or_default();
            if let Some(code) = code {
                if code == ErrorCode::Internal {
                    log::error!("script {what} ({at}) failed: {message}");
                }
                return CmdError::new(code, message);
            }
        }
        if value.is_string() {
            return CmdError::bad_args(value.to_string());
        }
    }
    let why = match e {
        EvalAltResult::ErrorTerminated(token, _) => token.to_string(),
        other => other.to_string(),
    };
    CmdError::internal(format!("script {what} ({at}) stopped: {why}"))
}
