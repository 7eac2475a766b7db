//! Rhai scripts: one engine per run, hardened in [`limits::harden`], with the shell's functions
//! registered in [`register`] and kept inside a [`Sandbox`]. A script starts on the caller's session (connected, and logged
//! in when the shell is); `connect` and `login` move the script to a session of its own so the
//! interactive shell keeps its login.

use std::cell::{Cell, RefCell};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

use kino_client::ClientError;
use rhai::{Array, Dynamic, Engine, EvalAltResult, ImmutableString, Map, Position, Scope};
use serde_json::Value;

use crate::failure::Failure;
use crate::files;
use crate::limits::{self, ScriptLimits};
use crate::render::{self, Style};
use crate::sandbox::{self, Sandbox};
use crate::session::Session;
use crate::transfer::{self, Uploaded};

/// A rhai error as native functions return it.
type RhaiError = Box<EvalAltResult>;

/// Settings of one script run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Stop the script after this long (checked between operations and during `sleep`).
    pub timeout: Option<Duration>,
    /// Folders (or files) the script may use besides its own folder, the current directory
    /// and its arguments (`--allow-path`).
    pub allow_paths: Vec<PathBuf>,
    /// Servers `connect` may reach besides the shell's own (`--allow-connect`).
    pub allow_connect: Vec<String>,
    /// Operations, sizes and memory.
    pub limits: ScriptLimits,
}

/// What the script's native functions are held to.
struct Bounds {
    sandbox: Sandbox,
    /// When `--timeout` runs out.
    deadline: Option<Instant>,
    /// The most entries `files()` returns (the array limit).
    max_files: usize,
}

/// A sandbox refusal as a catchable error with code `sandbox`.
fn refused(r: sandbox::Refused) -> RhaiError {
    thrown("sandbox", &r.0)
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
    limits::harden(&mut engine, &options.limits);
    let sandbox = Sandbox::new(
        path,
        args,
        &options.allow_paths,
        session.borrow().addr(),
        &options.allow_connect,
    );
    let broken_pipe = Rc::new(Cell::new(false));
    let broken = broken_pipe.clone();
    engine.on_print(move |text| {
        let mut out = io::stdout().lock();
        if writeln!(out, "{text}").and_then(|_| out.flush()).is_err() {
            broken.set(true);
        }
    });
    engine.on_debug(|text, _, pos| render::note(&format!("[{pos}] {text}")));
    let deadline = options.timeout.map(|t| Instant::now() + t);
    let broken = broken_pipe.clone();
    let (baseline, memory) = (limits::allocated(), options.limits.memory);
    engine.on_progress(move |_| {
        if broken.get() {
            Some("output closed".into())
        } else if let Some(why) = limits::stopped(deadline) {
            Some(why.into())
        } else {
            limits::over_memory(baseline, memory)
        }
    });
    let script_args: Array = args.iter().map(|a| Dynamic::from(a.clone())).collect();
    let bounds = Bounds {
        sandbox,
        deadline,
        max_files: options.limits.array,
    };
    register(
        &mut engine,
        Rc::new(RefCell::new(session)),
        script_args.clone(),
        style,
        Rc::new(bounds),
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
        Err(e) => match innermost(&e) {
            EvalAltResult::ErrorTerminated(v, _) if v.is_int() => {
                match u8::try_from(v.as_int().unwrap_or(1)).unwrap_or(1) {
                    0 => Ok(()),
                    code => Err(Failure::Reported(code)),
                }
            }
            _ => Err(report(&shown, *e, style)),
        },
    }
}

/// The error inside calls of script functions, for the script's own `exit(n)` and `throw` made
/// in a function.
fn innermost(mut err: &EvalAltResult) -> &EvalAltResult {
    while let EvalAltResult::ErrorInFunctionCall(_, _, inner, _) = err {
        err = inner;
    }
    err
}

/// Prints `error[code]: PATH:LINE:COL: message` for an uncaught error, looking through calls
/// of script functions to the place the error happened. A string the script throws itself is
/// its own message to its user (`throw "usage: ..."`): printed alone, without the location, and
/// a usage message exits 2 like the shell's own usage errors.
fn report(path: &str, mut err: EvalAltResult, style: Style) -> Failure {
    if let EvalAltResult::ErrorRuntime(v, _) = innermost(&err) {
        if let Some(message) = v.read_lock::<ImmutableString>().map(|s| s.to_string()) {
            let usage = message.starts_with("usage:");
            render::error(style, usage.then_some("usage"), &message);
            return Failure::Reported(if usage { 2 } else { 3 });
        }
    }
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
        // `import` is turned off by allowing zero modules; rhai's own words for it mislead.
        EvalAltResult::ErrorTooManyModules(_) => (
            "script".to_string(),
            "import is not available in kino scripts; put the functions in the script itself"
                .to_string(),
        ),
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
        Failure::Unreachable(m) => thrown("connection", &m),
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
fn register(engine: &mut Engine, current: Current, args: Array, style: Style, bounds: Rc<Bounds>) {
    let cur = current.clone();
    let b = bounds.clone();
    engine.register_fn("connect", move |addr: &str| -> Result<(), RhaiError> {
        let mut failed = None;
        for a in b.sandbox.server(addr).map_err(refused)? {
            match Session::open(&a.to_string()) {
                Ok(s) => {
                    *cur.borrow_mut() = Rc::new(RefCell::new(s));
                    return Ok(());
                }
                Err(e) => failed = Some(e),
            }
        }
        Err(failed.map_or_else(
            || thrown("connection", &format!("{addr}: no address")),
            |e| from_failure(e.into()),
        ))
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
        let b = bounds.clone();
        move |path: &str, opts: Map| -> Result<Dynamic, RhaiError> {
            b.sandbox.path(path).map_err(refused)?;
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
        let b = bounds.clone();
        move |id: i64, dir: &str| -> Result<ImmutableString, RhaiError> {
            let id = u64::try_from(id).map_err(|_| thrown("local", "a movie id is >= 0"))?;
            b.sandbox.path(dir).map_err(refused)?;
            let session = cur.borrow().clone();
            let out = crate::place::Out::Dir(dir.into());
            let path = transfer::download(&mut session.borrow_mut(), id, &out, false, style)
                .map_err(from_failure)?;
            Ok(path.display().to_string().into())
        }
    };
    let download1 = download.clone();
    engine.register_fn("download", download);
    engine.register_fn("download", move |id: i64| download1(id, "."));
    let b = bounds.clone();
    engine.register_fn(
        "files",
        move |dir: &str, pattern: &str| -> Result<Array, RhaiError> {
            b.sandbox.path(dir).map_err(refused)?;
            let found =
                files::list_files(Path::new(dir), pattern, b.max_files).map_err(from_failure)?;
            Ok(found
                .into_iter()
                .map(|p| Dynamic::from(p.display().to_string()))
                .collect())
        },
    );
    let b = bounds.clone();
    engine.register_fn(
        "md5",
        move |path: &str| -> Result<ImmutableString, RhaiError> {
            b.sandbox.path(path).map_err(refused)?;
            let hidden = indicatif::ProgressBar::hidden();
            Ok(transfer::md5_file(Path::new(path), &hidden)
                .map_err(from_failure)?
                .into())
        },
    );
    engine.register_fn("args", move || args.clone());
    engine.register_fn("env", |name: &str| -> Dynamic {
        if sandbox::hidden_env(name) {
            return Dynamic::UNIT;
        }
        std::env::var(name)
            .map(Dynamic::from)
            .unwrap_or(Dynamic::UNIT)
    });
    let deadline = bounds.deadline;
    engine.register_fn("sleep", move |ms: i64| limits::sleep(ms, deadline));
    // Columns of text reports: `len()` counts characters, but a CJK character takes two cells.
    engine.register_fn("width", |s: &str| {
        unicode_width::UnicodeWidthStr::width(s) as i64
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
