//! The engine a script runs in: rhai's own limits (operations, call depth, string, array and
//! map sizes) plus a wall-time check, no module imports, no `eval`, `print` into the log, and
//! the only functions that reach outside the script: `db_query`, `db_execute`, `db_insert`,
//! `transaction`, `call`, `log`, `now` and `fail`. Each of those that needs the server sends a
//! request to the worker holding the caller's `Ctx` (see `exec`) and waits for its answer.

use std::cell::{Cell, RefCell};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use kino_api::{CmdError, Row, SqlValue};
use rhai::{Array, Dynamic, Engine, EvalAltResult, FnPtr, Map, NativeCallContext, Position};

use crate::exec::{HostRep, ToHost};
use crate::ScriptLimits;

thread_local! {
    /// When the running call must stop.
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
    /// The way to the worker serving the running call.
    pub(crate) static BRIDGE: RefCell<Option<Bridge>> = const { RefCell::new(None) };
    /// The running plugin, for its log lines.
    pub(crate) static PLUGIN: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Both ends of one call's channel pair, held by the executor thread.
pub(crate) struct Bridge {
    pub to_host: crossbeam_channel::Sender<ToHost>,
    pub from_host: crossbeam_channel::Receiver<HostRep>,
}

/// Starts this thread's clock for one call.
pub(crate) fn start_clock(timeout: Duration) {
    DEADLINE.with(|d| d.set(Instant::now().checked_add(timeout)));
}

type Res<T> = Result<T, Box<EvalAltResult>>;

/// A failure the script may catch: `#{ code, message }`, as the server would answer it.
pub(crate) fn thrown(e: &CmdError) -> Box<EvalAltResult> {
    let mut m = Map::new();
    m.insert("code".into(), Dynamic::from(code_name(e)));
    m.insert("message".into(), Dynamic::from(e.message.clone()));
    EvalAltResult::ErrorRuntime(Dynamic::from_map(m), Position::NONE).into()
}

fn code_name(e: &CmdError) -> String {
    serde_json::to_value(e.code)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "internal".into())
}

fn ask(req: ToHost) -> Res<HostRep> {
    let rep = BRIDGE.with(|b| {
        let b = b.borrow();
        let b = b
            .as_ref()
            .ok_or_else(|| CmdError::internal("a script reached the server outside a call"))?;
        b.to_host
            .send(req)
            .map_err(|_| CmdError::internal("the calling worker went away"))?;
        b.from_host
            .recv()
            .map_err(|_| CmdError::internal("the calling worker went away"))
    });
    match rep {
        Ok(HostRep::Failed(e)) | Err(e) => Err(thrown(&e)),
        Ok(rep) => Ok(rep),
    }
}

fn unexpected() -> Box<EvalAltResult> {
    thrown(&CmdError::internal("the worker answered another request"))
}

fn sql_params(params: Array) -> Res<Vec<SqlValue>> {
    params
        .into_iter()
        .map(|v| {
            if v.is_unit() {
                Ok(SqlValue::Null)
            } else if let Ok(i) = v.as_int() {
                Ok(SqlValue::Int(i))
            } else if let Ok(f) = v.as_float() {
                Ok(SqlValue::Real(f))
            } else if let Ok(b) = v.as_bool() {
                Ok(SqlValue::Int(i64::from(b)))
            } else if v.is_string() {
                Ok(SqlValue::Text(v.to_string()))
            } else if v.is_blob() {
                Ok(SqlValue::Blob(v.cast::<rhai::Blob>()))
            } else {
                Err(thrown(&CmdError::bad_args(format!(
                    "an SQL parameter must be (), a number, a bool, a string or a blob, not {}",
                    v.type_name()
                ))))
            }
        })
        .collect()
}

fn row(r: Row) -> Dynamic {
    let cols: Array =
        r.0.into_iter()
            .map(|v| match v {
                SqlValue::Null => Dynamic::UNIT,
                SqlValue::Int(i) => Dynamic::from_int(i),
                SqlValue::Real(f) => Dynamic::from_float(f),
                SqlValue::Text(s) => Dynamic::from(s),
                SqlValue::Blob(b) => Dynamic::from_blob(b),
            })
            .collect();
    Dynamic::from_array(cols)
}

fn query(sql: &str, params: Array) -> Res<Array> {
    match ask(ToHost::Query(sql.into(), sql_params(params)?))? {
        HostRep::Rows(rows) => Ok(rows.into_iter().map(row).collect()),
        _ => Err(unexpected()),
    }
}

fn execute(sql: &str, params: Array) -> Res<i64> {
    match ask(ToHost::Execute(sql.into(), sql_params(params)?))? {
        HostRep::Count(n) => Ok(i64::try_from(n).unwrap_or(i64::MAX)),
        _ => Err(unexpected()),
    }
}

fn insert(sql: &str, params: Array) -> Res<i64> {
    match ask(ToHost::Insert(sql.into(), sql_params(params)?))? {
        HostRep::Id(id) => Ok(id),
        _ => Err(unexpected()),
    }
}

fn call(name: &str, args: Map) -> Res<Dynamic> {
    let json: serde_json::Value = rhai::serde::from_dynamic(&Dynamic::from_map(args))?;
    let serde_json::Value::Object(fields) = json else {
        return Err(unexpected());
    };
    match ask(ToHost::Call(name.into(), fields))? {
        HostRep::Value(v) => rhai::serde::to_dynamic(v),
        _ => Err(unexpected()),
    }
}

fn transaction(context: NativeCallContext, f: FnPtr) -> Res<Dynamic> {
    ask(ToHost::Begin)?;
    match f.call_within_context::<Dynamic>(&context, ()) {
        Ok(v) => {
            ask(ToHost::Commit)?;
            Ok(v)
        }
        Err(e) => {
            // The script's own error is the one to report; a failed rollback is logged by core.
            let _ = ask(ToHost::Rollback);
            Err(e)
        }
    }
}

/// The engine, with `limits`, the declaration functions and the handler functions.
pub(crate) fn engine(limits: &ScriptLimits) -> Engine {
    let mut e = Engine::new();
    e.set_max_operations(limits.max_operations);
    e.set_max_call_levels(limits.max_call_levels);
    e.set_max_string_size(limits.max_string);
    e.set_max_array_size(limits.max_array);
    e.set_max_map_size(limits.max_map);
    e.set_max_expr_depths(64, 32);
    e.set_module_resolver(rhai::module_resolvers::DummyModuleResolver::new());
    e.disable_symbol("eval");
    e.on_progress(|_| {
        let late = DEADLINE.with(|d| d.get().is_some_and(|at| Instant::now() >= at));
        late.then(|| Dynamic::from("the script ran past --script-timeout"))
    });
    e.on_print(|s| PLUGIN.with(|p| log::info!("script {}: {s}", p.borrow())));
    e.on_debug(|s, _, pos| PLUGIN.with(|p| log::debug!("script {} {pos}: {s}", p.borrow())));
    crate::spec::register(&mut e);
    // `ctx.db_query(...)` is `db_query(ctx, ...)`: the context map comes first.
    e.register_fn("db_query", |_: &mut Map, sql: &str, p: Array| query(sql, p));
    e.register_fn("db_query", |_: &mut Map, sql: &str| {
        query(sql, Array::new())
    });
    e.register_fn("db_execute", |_: &mut Map, sql: &str, p: Array| {
        execute(sql, p)
    });
    e.register_fn("db_execute", |_: &mut Map, sql: &str| {
        execute(sql, Array::new())
    });
    e.register_fn("db_insert", |_: &mut Map, sql: &str, p: Array| {
        insert(sql, p)
    });
    // `transaction(|| ...)`, not `ctx.transaction(...)`: the closure captures `ctx`, and rhai
    // would hold `ctx` borrowed for the method call while the closure uses it.
    e.register_fn("transaction", |context: NativeCallContext, f: FnPtr| {
        transaction(context, f)
    });
    // `service`, not `call`: `x.call(...)` is rhai's own syntax for calling a function pointer.
    e.register_fn("service", |_: &mut Map, name: &str, args: Map| {
        call(name, args)
    });
    e.register_fn("log", |msg: &str| {
        PLUGIN.with(|p| log::info!("script {}: {msg}", p.borrow()))
    });
    e.register_fn("now", || {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64)
    });
    e.register_fn("fail", |code: &str, message: &str| -> Res<()> {
        let code = serde_json::from_value(serde_json::Value::from(code))
            .unwrap_or(kino_api::ErrorCode::BadArgs);
        Err(thrown(&CmdError::new(code, message)))
    });
    e
}
