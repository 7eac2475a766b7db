//! Rhai scripts: one engine per run, hardened in [`harden`], with the shell's functions
//! registered in [`register`]. A script starts on the caller's session (connected, and logged
//! in when the shell is); `connect` and `login` move the script to a session of its own so the
//! interactive shell keeps its login.

use std::cell::{Cell, RefCell};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

use kino_client::ClientError;
use rhai::module_resolvers::DummyModuleResolver;
use rhai::{Array, Dynamic, Engine, EvalAltResult, ImmutableString, Map, Position, Scope};
use serde_json::Value;

use crate::cancel;
use crate::failure::Failure;
use crate::files;
use crate::render::{self, Style};
use crate::session::Session;
use crate::transfer::{self, Uploaded};

/// A rhai error as native functions return it.
type RhaiError = Box<EvalAltResult>;

/// Settings of one script run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Stop the script after this long (checked between operations).
    pub timeout: Option<Duration>,
}

/// The default budget of script operations: far more than a bulk upload of thousands of
/// files needs, small enough to stop a runaway loop. `KINO_SCRIPT_MAX_OPERATIONS` changes it.
pub const MAX_OPERATIONS: u64 = 50_000_000;

/// Sets every limit explicitly: rhai's defaults differ between debug and release builds, and
/// a script must behave the same under `cargo test` as in a release binary.
pub fn harden(engine: &mut Engine, max_operations: u64) {
    engine.set_max_operations(max_operations);
    engine.set_max_call_levels(48);
    engine.set_max_expr_depths(64, 48);
    engine.set_max_string_size(4 * 1024 * 1024);
    engine.set_max_array_size(100_000);
    engine.set_max_map_size(10_000);
    engine.set_max_variables(10_000);
    engine.set_max_functions(1_000);
    // No `import`: modules would be a way to read files the sandbox does not offer.
    engine.set_max_modules(0);
    engine.set_module_resolver(DummyModuleResolver::new());
    engine.disable_symbol("eval");
}

/// The script's current session: the caller's at first, its own after `connect` or `login`.
type Current = Rc<RefCell<Rc<RefCell<Session>>>>;

/// Runs the script at `path` with `args` on `session`.
pub fn run(
    path: &Path,
    args: &[String],
    session: Rc<RefCell<Session>>,
    style: Style,
    options: &RunOptions,
) -> Result<(), Failure> {
    let shown = path.display().to_string();
    let mut engine = Engine::new();
    let max_operations = std::env::var("KINO_SCRIPT_MAX_OPERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(MAX_OPERATIONS);
    harden(&mut engine, max_operations);
    let broken_pipe = Rc::new(Cell::new(false));
    let broken = broken_pipe.clone();
    engine.on_print(move |text| {
        let mut out = io::stdout().lock();
        if writeln!(out, "{text}").and_then(|_| out.flush()).is_err() {
            broken.set(true);
        }
    });
    engine.on_debug(|text, _, pos| render::note(&format!("[{pos}] {text}")));
    let started = Instant::now();
    let timeout = options.timeout;
    let broken = broken_pipe.clone();
    engine.on_progress(move |_| {
        if broken.get() {
            Some("output closed".into())
        } else if cancel::requested() {
            Some("interrupted".into())
        } else if timeout.is_some_and(|t| started.elapsed() > t) {
            Some("time limit reached".into())
        } else {
            None
        }
    });
    let script_args: Array = args.iter().map(|a| Dynamic::from(a.clone())).collect();
    register(
        &mut engine,
        Rc::new(RefCell::new(session)),
        script_args.clone(),
        style,
    );
    let ast = match engine.compile_file(PathBuf::from(path)) {
        Ok(ast) => ast,
        Err(e) => return Err(report(&shown, *e, style)),
    };
    let mut scope = Scope::new();
    scope.push_constant("args", script_args);
    // Where the script lives, so it can find files shipped beside it wherever it is run from.
    let dir = Path::new(path)
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    scope.push_constant("script_dir", dir.display().to_string());
    match engine.run_ast_with_scope(&mut scope, &ast) {
        Ok(()) => Ok(()),
        Err(_) if broken_pipe.get() => Err(Failure::BrokenPipe),
        Err(e) => match *e {
            EvalAltResult::ErrorTerminated(v, _) if v.is_int() => {
                match u8::try_from(v.as_int().unwrap_or(1)).unwrap_or(1) {
                    0 => Ok(()),
                    code => Err(Failure::Reported(code)),
                }
            }
            other => Err(report(&shown, other, style)),
        },
    }
}

/// Prints `error[code]: PATH:LINE:COL: message` for an uncaught error, looking through calls
/// of script functions to the place the error happened.
fn report(path: &str, mut err: EvalAltResult, style: Style) -> Failure {
    let mut within = Vec::new();
    while let EvalAltResult::ErrorInFunctionCall(name, _, inner, _) = err {
        within.push(name);
        err = *inner;
    }
    let pos = err.take_position();
    let location = match (pos.line(), pos.position()) {
        (Some(l), Some(c)) => format!("{path}:{l}:{c}"),
        (Some(l), None) => format!("{path}:{l}"),
        _ => path.to_string(),
    };
    let context: String = within
        .iter()
        .map(|f| format!(" (in function `{f}`)"))
        .collect();
    let (code, message) = match &err {
        EvalAltResult::ErrorRuntime(v, _) if v.is_map() => {
            let m = v.clone().cast::<Map>();
            let field = |k: &str| m.get(k).map(|x| x.to_string()).unwrap_or_default();
            (field("code"), field("message"))
        }
        EvalAltResult::ErrorRuntime(v, _) => ("script".to_string(), v.to_string()),
        EvalAltResult::ErrorTerminated(v, _) => ("script".to_string(), format!("stopped: {v}")),
        other => ("script".to_string(), other.to_string()),
    };
    render::error(
        style,
        Some(&code),
        &format!("{location}: {message}{context}"),
    );
    Failure::Reported(3)
}

/// A catchable rhai error carrying the server's `code` and `message`, so scripts can
/// `try { ... } catch (e) { if e.code == "conflict" { ... } }`.
fn thrown(code: &str, message: &str) -> RhaiError {
    let mut m = Map::new();
    m.insert("code".into(), code.into());
    m.insert("message".into(), message.into());
    Box::new(EvalAltResult::ErrorRuntime(m.into(), Position::NONE))
}

/// Places an error raised at no particular position at `pos`.
fn at(mut e: RhaiError, pos: Position) -> RhaiError {
    if e.position().is_none() {
        e.set_position(pos);
    }
    e
}

fn from_failure(f: Failure) -> RhaiError {
    match f {
        Failure::Client(ClientError::Server(b)) => thrown(b.code.as_str(), &b.message),
        Failure::Client(e) => thrown("connection", &e.to_string()),
        Failure::Usage(m) | Failure::Local(m) => thrown("local", &m),
        Failure::Reported(c) => thrown("script", &format!("exit {c}")),
        Failure::BrokenPipe => thrown("local", "output closed"),
    }
}

fn to_dynamic(v: &Value) -> Result<Dynamic, RhaiError> {
    rhai::serde::to_dynamic(v)
}

fn from_map(m: Map) -> Result<serde_json::Map<String, Value>, RhaiError> {
    match rhai::serde::from_dynamic::<Value>(&Dynamic::from_map(m))? {
        Value::Object(o) => Ok(o),
        _ => Err(thrown("local", "arguments must be an object map")),
    }
}

/// `call(command)` and `call(command, #{args})`. rhai reserves the name `call` for calling
/// function pointers and refuses a registered function of that name, so it is a small custom
/// syntax with the same look: `call` `(` expr [`,` expr] `)`. (Function pointers are still
/// called method-style, `f.call(x)`.)
fn register_call(
    engine: &mut Engine,
    call: impl Fn(&str, Map) -> Result<Dynamic, RhaiError> + 'static,
) {
    engine.register_custom_syntax_with_state_raw(
        "call",
        |symbols, look_ahead, _| {
            Ok(match (symbols.len(), look_ahead) {
                (1, _) => Some("(".into()),
                (2, _) => Some("$expr$".into()),
                (3, ",") => Some(",".into()),
                (3, _) => Some(")".into()),
                (4, _) if symbols[3].as_str() == "," => Some("$expr$".into()),
                (5, _) => Some(")".into()),
                _ => None,
            })
        },
        false,
        move |ctx, inputs, _| {
            let pos = inputs
                .first()
                .map(|e| e.position())
                .unwrap_or(Position::NONE);
            let fail = |what: &str| at(thrown("local", what), pos);
            let command = match inputs.first() {
                Some(e) => ctx.eval_expression_tree(e)?,
                None => return Err(fail("call needs a command name")),
            };
            let command = command
                .into_immutable_string()
                .map_err(|_| fail("call(command, #{args}): the command is a string"))?;
            let args = match inputs.get(1) {
                Some(e) => ctx
                    .eval_expression_tree(e)?
                    .try_cast::<Map>()
                    .ok_or_else(|| fail("call(command, #{args}): the arguments are a map"))?,
                None => Map::new(),
            };
            call(&command, args).map_err(|e| at(e, pos))
        },
    );
}

/// The functions the issue lists: `connect`, `login`, `call` (see [`register_call`]),
/// `upload`, `download`, `files`, `md5`, `args`, `env`, `sleep` (`print` is rhai's, sent to
/// standard output), plus rhai's `exit(n)` made to set the process exit code.
fn register(engine: &mut Engine, current: Current, args: Array, style: Style) {
    let cur = current.clone();
    engine.register_fn("connect", move |addr: &str| -> Result<(), RhaiError> {
        let s = Session::open(addr).map_err(|e| from_failure(e.into()))?;
        *cur.borrow_mut() = Rc::new(RefCell::new(s));
        Ok(())
    });
    let cur = current.clone();
    engine.register_fn(
        "login",
        move |name: &str, password: &str| -> Result<Dynamic, RhaiError> {
            let addr = cur.borrow().borrow().addr().to_string();
            let mut s = Session::open(&addr).map_err(|e| from_failure(e.into()))?;
            let mut reply = s
                .login(name, password)
                .map_err(|e| from_failure(e.into()))?;
            if let Value::Object(m) = &mut reply {
                m.remove("session");
            }
            *cur.borrow_mut() = Rc::new(RefCell::new(s));
            to_dynamic(&reply)
        },
    );
    let cur = current.clone();
    let call = move |command: &str, a: Map| -> Result<Dynamic, RhaiError> {
        let session = cur.borrow().clone();
        let data = session
            .borrow_mut()
            .call(command, from_map(a)?)
            .map_err(|e| from_failure(e.into()))?;
        to_dynamic(&data)
    };
    register_call(engine, call);
    let upload = {
        let cur = current.clone();
        move |path: &str, opts: Map| -> Result<Dynamic, RhaiError> {
            let free = match opts.get("free") {
                None => true,
                Some(v) => v
                    .as_bool()
                    .map_err(|_| thrown("local", "`free` must be true or false"))?,
            };
            let session = cur.borrow().clone();
            let p = Path::new(path);
            let size = std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
            let out = transfer::upload(&mut session.borrow_mut(), p, free, style)
                .map_err(from_failure)?;
            let (status, mut v) = match out {
                Uploaded::New(m) => ("uploaded", m),
                Uploaded::Skipped(id) => ("skipped", serde_json::json!({ "id": id })),
            };
            if let Value::Object(m) = &mut v {
                m.insert("status".into(), status.into());
                m.insert("path".into(), path.into());
                m.entry("size").or_insert(size.into());
            }
            to_dynamic(&v)
        }
    };
    let upload1 = upload.clone();
    engine.register_fn("upload", upload);
    engine.register_fn("upload", move |path: &str| upload1(path, Map::new()));
    let download = {
        let cur = current.clone();
        move |id: i64, dir: &str| -> Result<ImmutableString, RhaiError> {
            let id = u64::try_from(id).map_err(|_| thrown("local", "a movie id is >= 0"))?;
            let session = cur.borrow().clone();
            let path = transfer::download(&mut session.borrow_mut(), id, Path::new(dir), style)
                .map_err(from_failure)?;
            Ok(path.display().to_string().into())
        }
    };
    let download1 = download.clone();
    engine.register_fn("download", download);
    engine.register_fn("download", move |id: i64| download1(id, "."));
    engine.register_fn(
        "files",
        |dir: &str, pattern: &str| -> Result<Array, RhaiError> {
            let found = files::list_files(Path::new(dir), pattern).map_err(from_failure)?;
            Ok(found
                .into_iter()
                .map(|p| Dynamic::from(p.display().to_string()))
                .collect())
        },
    );
    engine.register_fn("md5", |path: &str| -> Result<ImmutableString, RhaiError> {
        let hidden = indicatif::ProgressBar::hidden();
        Ok(transfer::md5_file(Path::new(path), &hidden)
            .map_err(from_failure)?
            .into())
    });
    engine.register_fn("args", move || args.clone());
    engine.register_fn("env", |name: &str| -> Dynamic {
        std::env::var(name)
            .map(Dynamic::from)
            .unwrap_or(Dynamic::UNIT)
    });
    engine.register_fn("sleep", |ms: i64| {
        std::thread::sleep(Duration::from_millis(ms.clamp(0, 3_600_000) as u64));
    });
    // rhai's own `exit(value)` ends the script with success whatever the value; here an
    // integer becomes the process exit code, as scripts like bulk_upload need.
    engine.register_fn("exit", |code: i64| -> Result<(), RhaiError> {
        Err(Box::new(EvalAltResult::ErrorTerminated(
            Dynamic::from(code),
            Position::NONE,
        )))
    });
}
