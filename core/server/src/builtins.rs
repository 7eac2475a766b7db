//! The built-in commands, the only ones without a plugin prefix: `ping`, `help`, `whoami`,
//! `server.info`.

use kino_api::{CmdError, Command, CommandArgs, FastCtx, Output, Role};
use serde_json::json;

/// The built-ins, registered before any plugin.
pub fn commands() -> Vec<Command> {
    vec![
        Command::constant(
            "ping",
            "Check the server is alive; answers \"pong\"",
            json!("pong"),
        )
        .role(Role::Anon),
        Command::fast(
            "help",
            "List every command with its arguments and required role, or describe one",
            help,
        )
        .role(Role::Anon),
        Command::fast(
            "whoami",
            "Who this connection (or `session`) is logged in as",
            whoami,
        )
        .role(Role::Anon),
        Command::fast(
            "server.info",
            "Uptime, connections, per-command counters, bytes in and out, settings",
            info,
        )
        .role(Role::Admin),
    ]
    .into_iter()
    .chain(crate::scripts::commands())
    .collect()
}

/// The list clients build completion and usage from; a new plugin appears here with no client
/// change. Commands of an older protocol only are left out of the list (a native client cannot
/// call them) but `help NAME` still describes them.
/// `help`'s arguments.
#[derive(CommandArgs)]
struct Help {
    /// describe only this command
    command: Option<String>,
}

fn help(ctx: &mut FastCtx, args: Help) -> Result<Output, CmdError> {
    let infos = ctx.command_infos();
    match args.command {
        None => {
            let listed: Vec<_> = infos.into_iter().filter(|c| !c.legacy_only).collect();
            Ok(json!(listed).into())
        }
        Some(name) => infos
            .into_iter()
            .find(|c| c.name == name)
            .map(|c| json!(c).into())
            .ok_or_else(|| CmdError::not_found(format!("no command `{name}`"))),
    }
}

fn whoami(ctx: &mut FastCtx, _: ()) -> Result<Output, CmdError> {
    Ok(match ctx.caller() {
        Some(c) => json!({"logged_in": true, "user_id": c.user_id, "name": c.name, "role": c.role}),
        None => json!({"logged_in": false, "name": null, "role": "anon"}),
    }
    .into())
}

fn info(ctx: &mut FastCtx, _: ()) -> Result<Output, CmdError> {
    Ok(ctx.server_stats().into())
}
