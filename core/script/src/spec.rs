//! The declaration functions a script's top level calls (`plugin`, `migration`, `command`,
//! `on`) and the conversion of a command's rhai spec map into the [`CommandInfo`] native
//! commands have, so `help`, argument checks, completion and docs need nothing script-specific.
//!
//! A spec map: `#{ role: "anon" | "user" | "admin", args: [ARG, ...] }`, each `ARG` a map with
//! `name`, `kind` (`string`, `int`, `uint`, `number`, `bool`, `any`), `doc`, and optionally
//! `default`, `optional`, `min`, `max`, `max_len`, `choices`, `secret`. An argument is required
//! unless it has a `default` or `optional: true`. Unknown keys are refused (a typo would
//! otherwise drop a bound silently).

use std::cell::RefCell;

use kino_api::{ArgInfo, ArgKind, CommandInfo, PayloadKind, Role};
use rhai::{Dynamic, Engine, EvalAltResult, FnPtr, Map, Position, AST};

use crate::{LoadError, ScriptLimits};

/// What a script's top level declared.
#[derive(Default)]
pub(crate) struct Declared {
    pub plugin: Option<(String, String)>,
    pub migrations: Vec<(u32, String)>,
    pub commands: Vec<(CommandInfo, FnPtr)>,
    pub hooks: Vec<(String, FnPtr)>,
    pub path: String,
}

thread_local! {
    /// Set while a top level runs; the declaration functions fail outside it.
    static DECLARING: RefCell<Option<Declared>> = const { RefCell::new(None) };
}

type Fail = Box<EvalAltResult>;

fn fail(message: impl Into<String>) -> Fail {
    EvalAltResult::ErrorRuntime(Dynamic::from(message.into()), Position::NONE).into()
}

fn with<T>(f: impl FnOnce(&mut Declared) -> Result<T, Fail>) -> Result<T, Fail> {
    DECLARING.with(|d| match d.borrow_mut().as_mut() {
        Some(declared) => f(declared),
        None => Err(fail(
            "plugin, migration, command and on may only be called at the script's top level",
        )),
    })
}

fn valid_word(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Registers the declaration functions on `engine`.
pub(crate) fn register(engine: &mut Engine) {
    engine.register_fn("plugin", |name: &str, summary: &str| {
        with(|d| {
            if d.plugin.is_some() {
                return Err(fail("plugin(...) is called twice"));
            }
            if !valid_word(name) {
                return Err(fail(format!(
                    "plugin name `{name}`: lower-case letters, digits and `_` only"
                )));
            }
            d.plugin = Some((name.into(), summary.into()));
            Ok(())
        })
    });
    engine.register_fn("migration", |version: i64, sql: &str| {
        with(|d| {
            let version =
                u32::try_from(version).map_err(|_| fail("a migration version is 1, 2, 3, ..."))?;
            d.migrations.push((version, sql.into()));
            Ok(())
        })
    });
    engine.register_fn(
        "command",
        |name: &str, summary: &str, spec: Map, handler: FnPtr| {
            with(|d| {
                let Some((plugin, _)) = &d.plugin else {
                    return Err(fail("call plugin(NAME, SUMMARY) before command(...)"));
                };
                let verb = name
                    .strip_prefix(plugin.as_str())
                    .and_then(|r| r.strip_prefix('.'));
                if !verb.is_some_and(|v| v.split('.').all(valid_word)) {
                    return Err(fail(format!(
                        "plugin `{plugin}` may only declare `{plugin}.<verb>` commands, not `{name}`"
                    )));
                }
                if d.commands.iter().any(|(c, _)| c.name == name) {
                    return Err(fail(format!("command `{name}` is declared twice")));
                }
                let info = command_info(name, summary, &spec, &d.path).map_err(fail)?;
                d.commands.push((info, handler));
                Ok(())
            })
        },
    );
    engine.register_fn("on", |event: &str, handler: FnPtr| {
        with(|d| {
            d.hooks.push((event.into(), handler));
            Ok(())
        })
    });
}

/// Compiles `source` and runs its top level on `engine`, collecting the declarations.
pub(crate) fn declare_on(
    engine: &Engine,
    path: &str,
    source: &str,
) -> Result<(AST, Declared), LoadError> {
    let at = |line: Option<usize>, message: String| LoadError {
        path: path.into(),
        line: line.unwrap_or(0),
        message,
    };
    let ast = engine
        .compile(source)
        .map_err(|e| at(e.1.line(), e.0.to_string()))?;
    DECLARING.with(|d| {
        *d.borrow_mut() = Some(Declared {
            path: path.into(),
            ..Declared::default()
        })
    });
    let ran = engine.run_ast(&ast);
    let declared = DECLARING
        .with(|d| d.borrow_mut().take())
        .unwrap_or_default();
    ran.map_err(|e| {
        let line = e.position().line();
        let message = match *e {
            EvalAltResult::ErrorRuntime(v, _) | EvalAltResult::ErrorTerminated(v, _) => {
                v.to_string()
            }
            other => other.to_string(),
        };
        at(line, message)
    })?;
    Ok((ast, declared))
}

/// [`declare_on`] with a fresh engine under `limits`, for checking a script at load time.
pub(crate) fn declare(
    path: &str,
    source: &str,
    limits: &ScriptLimits,
) -> Result<Declared, LoadError> {
    let engine = crate::sandbox::engine(limits);
    crate::sandbox::start_clock(limits.timeout);
    declare_on(&engine, path, source).map(|(_, d)| d)
}

fn role(spec: &Map) -> Result<Role, String> {
    match spec.get("role").map(|r| r.to_string()).as_deref() {
        None | Some("user") => Ok(Role::User),
        Some("anon") => Ok(Role::Anon),
        Some("admin") => Ok(Role::Admin),
        Some(other) => Err(format!("role `{other}`: anon, user or admin")),
    }
}

fn command_info(name: &str, summary: &str, spec: &Map, path: &str) -> Result<CommandInfo, String> {
    if let Some(key) = spec.keys().find(|k| !matches!(k.as_str(), "role" | "args")) {
        return Err(format!("{name}: unknown spec key `{key}` (role, args)"));
    }
    let args = match spec.get("args") {
        None => Vec::new(),
        Some(a) => a
            .clone()
            .into_array()
            .map_err(|_| format!("{name}: `args` must be an array of maps"))?
            .iter()
            .map(|a| arg_info(name, a))
            .collect::<Result<Vec<_>, _>>()?,
    };
    for (i, a) in args.iter().enumerate() {
        if args[..i].iter().any(|b| b.name == a.name) {
            return Err(format!("{name}: argument `{}` is declared twice", a.name));
        }
        if matches!(a.name.as_str(), "type" | "id" | "session" | "file_size") {
            return Err(format!(
                "{name}: argument `{}` is a request envelope field",
                a.name
            ));
        }
    }
    Ok(CommandInfo {
        name: name.into(),
        summary: summary.into(),
        args,
        role: role(spec).map_err(|e| format!("{name}: {e}"))?,
        payload: PayloadKind::None,
        aliases: Vec::new(),
        open_args: false,
        legacy_only: false,
        internal: false,
        file_name: None,
        source: path.into(),
    })
}

fn int(v: &Dynamic, what: &str) -> Result<i64, String> {
    v.as_int()
        .map_err(|_| format!("`{what}` must be an integer"))
}

fn arg_info(command: &str, value: &Dynamic) -> Result<ArgInfo, String> {
    let m = value
        .read_lock::<Map>()
        .ok_or_else(|| format!("{command}: each argument is a map #{{ name, kind, doc }}"))?;
    let text = |k: &str| m.get(k).map(|v| v.to_string()).unwrap_or_default();
    let name = text("name");
    let err = |e: String| format!("{command}: argument `{name}`: {e}");
    if !valid_word(&name) {
        return Err(err("a name is lower-case letters, digits and `_`".into()));
    }
    let kind = match text("kind").as_str() {
        "string" => ArgKind::String,
        "int" => ArgKind::Int,
        "uint" => ArgKind::Uint,
        "number" => ArgKind::Number,
        "bool" => ArgKind::Bool,
        "any" => ArgKind::Any,
        other => {
            return Err(err(format!(
                "kind `{other}`: string, int, uint, number, bool or any"
            )))
        }
    };
    let mut a = ArgInfo::new(&name, kind, true, &text("doc"));
    for (key, v) in m.iter() {
        match key.as_str() {
            "name" | "kind" | "doc" => {}
            "default" => {
                let json: serde_json::Value =
                    rhai::serde::from_dynamic(v).map_err(|e| err(e.to_string()))?;
                a.default = Some(json);
                a.required = false;
            }
            "optional" => {
                a.required &= !v
                    .as_bool()
                    .map_err(|_| err("`optional` is true or false".into()))?
            }
            "min" => a.min = Some(int(v, "min").map_err(err)?),
            "max" => a.max = Some(int(v, "max").map_err(err)?),
            "max_len" => {
                a.max_len = Some(
                    u64::try_from(int(v, "max_len").map_err(err)?)
                        .map_err(|_| err("`max_len` is at least 0".into()))?,
                )
            }
            "secret" => {
                a.secret = v
                    .as_bool()
                    .map_err(|_| err("`secret` is true or false".into()))?
            }
            "choices" => {
                a.choices = v
                    .clone()
                    .into_array()
                    .map_err(|_| err("`choices` is an array of strings".into()))?
                    .iter()
                    .map(|c| c.to_string())
                    .collect()
            }
            other => {
                return Err(err(format!(
                    "unknown key `{other}` (name, kind, doc, default, optional, min, max, \
                     max_len, choices, secret)"
                )))
            }
        }
    }
    Ok(a)
}
