//! Core's commands for plugins: `plugins.list`, `plugins.reload`, `plugins.install`,
//! `plugins.remove` (admins only).

use kino_api::{CmdError, Command, CommandArgs, Ctx, Output, Role};
use serde_json::{json, Value};

use super::cluster;
use crate::host::ServerHost;

/// The commands, registered with the built-ins.
pub fn commands() -> Vec<Command> {
    vec![
        Command::new(
            "plugins.list",
            "Native and script plugins: versions, commands, events, and the last load's errors",
            list,
        )
        .role(Role::Admin),
        Command::new(
            "plugins.reload",
            "Load script plugins again (folder and installed); a broken one keeps its previous version",
            reload,
        )
        .role(Role::Admin),
        Command::new(
            "plugins.install",
            "Store a script plugin in the database, for every node, and load it",
            install,
        )
        .role(Role::Admin),
        Command::new(
            "plugins.remove",
            "Delete an installed script plugin from the database, on every node (its tables stay)",
            remove,
        )
        .role(Role::Admin),
    ]
}

fn server<'a>(ctx: &Ctx<'a>) -> Result<&'a ServerHost, CmdError> {
    ctx.host_any()
        .and_then(|a| a.downcast_ref::<ServerHost>())
        .ok_or_else(|| CmdError::internal("plugins.*: not served by a kino server"))
}

fn list(ctx: &mut Ctx, _: ()) -> Result<Output, CmdError> {
    let host = server(ctx)?;
    let native: Vec<Value> = host
        .registry
        .plugins()
        .iter()
        .map(|p| {
            json!({
                "name": p.name(),
                "kind": "native",
                "version": env!("CARGO_PKG_VERSION"),
                "commands": p.commands().iter().map(|c| c.info.name.clone()).collect::<Vec<_>>(),
            })
        })
        .collect();
    let table = host.scripts.current();
    let scripts: Vec<Value> = table
        .plugins()
        .iter()
        .map(|l| {
            let p = &l.plugin;
            json!({
                "name": p.name,
                "kind": "script",
                "summary": p.summary,
                "version": p.version,
                "source": p.path,
                "installed": l.origin == super::Origin::Database,
                "commands": p.commands.iter().map(|c| c.name.clone()).collect::<Vec<_>>(),
                "events": p.events,
            })
        })
        .collect();
    Ok(json!({ "plugins": native.into_iter().chain(scripts).collect::<Vec<_>>(), "errors": table.errors() }).into())
}

fn reload(ctx: &mut Ctx, _: ()) -> Result<Output, CmdError> {
    let host = server(ctx)?;
    Ok(host.scripts.reload(&host.registry, ctx.db()).into())
}

/// `plugins.install`'s arguments.
#[derive(CommandArgs)]
struct Install {
    /// the plugin's name (its command prefix)
    #[arg(max_len = 64)]
    name: String,
    /// the text of its plugin.rhai (at most --max-frame bytes, like any request)
    source: String,
}

fn install(ctx: &mut Ctx, a: Install) -> Result<Output, CmdError> {
    let host = server(ctx)?;
    // Checked before it is stored, so a broken script never reaches the other nodes.
    let path = format!("db:{}/plugin.rhai", a.name);
    kino_script::compile(&path, &a.name, &a.source, &host.limits.script_limits())
        .map_err(|e| CmdError::bad_args(e.to_string()))?;
    cluster::store(ctx.db(), &a.name, Some(&a.source))?;
    Ok(host.scripts.reload(&host.registry, ctx.db()).into())
}

/// `plugins.remove`'s arguments.
#[derive(CommandArgs)]
struct Remove {
    /// the installed plugin's name
    #[arg(max_len = 64)]
    name: String,
}

fn remove(ctx: &mut Ctx, a: Remove) -> Result<Output, CmdError> {
    let host = server(ctx)?;
    if !cluster::store(ctx.db(), &a.name, None)? {
        return Err(CmdError::not_found(format!(
            "no installed script plugin `{}`",
            a.name
        )));
    }
    Ok(host.scripts.reload(&host.registry, ctx.db()).into())
}
