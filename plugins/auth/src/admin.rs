//! Admin commands: `auth.users`, `auth.lock NAME`, `auth.unlock NAME`.
//!
//! Locking also ends every session the user has, on every connection, at once.

use kino_api::log;
use kino_api::serde_json::json;
use kino_api::{params, CmdError, Command, CommandArgs, Ctx, Output, Role};

use crate::account::require;

/// `auth.users` → `[{user_id, name, role, locked, created_at}]`, oldest first.
pub fn users_command() -> Command {
    Command::new("auth.users", "List every account", users).role(Role::Admin)
}

/// `auth.lock` (name) → `{name, locked: true, sessions_ended}`.
pub fn lock_command() -> Command {
    Command::new(
        "auth.lock",
        "Lock an account and end its sessions",
        |ctx, args: Lock| set_locked(ctx, &args.name, true),
    )
    .role(Role::Admin)
}

/// `auth.lock`'s arguments.
#[derive(CommandArgs)]
pub struct Lock {
    /// account to lock
    name: String,
}

/// `auth.unlock`'s arguments.
#[derive(CommandArgs)]
pub struct Unlock {
    /// account to unlock
    name: String,
}

/// `auth.unlock` (name) → `{name, locked: false}`; also clears the account's login counters
/// at every address.
pub fn unlock_command() -> Command {
    Command::new("auth.unlock", "Unlock an account", |ctx, args: Unlock| {
        set_locked(ctx, &args.name, false)
    })
    .role(Role::Admin)
}

fn users(ctx: &mut Ctx, _: ()) -> Result<Output, CmdError> {
    let rows = ctx.db().query(
        "SELECT id, name, role, locked, created_at FROM users ORDER BY id",
        params![],
    )?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push(json!({
            "user_id": r.i64(0)?,
            "name": r.str(1)?,
            "role": r.str(2)?,
            "locked": r.bool(3)?,
            "created_at": r.str(4)?,
        }));
    }
    Ok(json!(out).into())
}

fn set_locked(ctx: &mut Ctx, name: &str, locked: bool) -> Result<Output, CmdError> {
    let account = require(ctx, name)?;
    if locked && ctx.caller().is_some_and(|c| c.user_id == account.id) {
        return Err(CmdError::conflict("you cannot lock your own account"));
    }
    ctx.db().execute(
        "UPDATE users SET locked = ? WHERE id = ?",
        params![locked, account.id],
    )?;
    if !locked {
        crate::throttle::clear_account(ctx.db(), &account.name_key)?;
    }
    let ended = if locked {
        ctx.end_sessions_of(account.id)
    } else {
        0
    };
    log::info!(
        "{} {}",
        if locked { "locked" } else { "unlocked" },
        account.name
    );
    Ok(json!({"name": account.name, "locked": locked, "sessions_ended": ended}).into())
}
