//! `auth.login` and `auth.logout`.
//!
//! Login wire form: `{"type":"auth.login","name":"alice","password":"..."}` →
//! `{"session": "<32 hex>", "user_id": 7, "name": "alice", "role": "user", "is_vip": false, ...}`
//! plus whatever other plugins add through their `on_login` hook (the newest notice, VIP state).
//! The connection is logged in from then on; the token logs in any other connection.
//!
//! A wrong password and an unknown name give the same `unauthenticated` reply, message included,
//! so names cannot be probed. Five failures in a row refuse the account (`rate_limited`) for
//! `--login-cooldown` seconds. A locked account (`locked`) is reported only after the right
//! password, for the same reason.

use std::sync::Arc;

use kino_api::log;
use kino_api::serde_json::{json, Map, Value};
use kino_api::{clock, params, Args, CmdError, Command, Ctx, ErrorCode, Output, Role};

use crate::account::Account;
use crate::password::Hasher;

/// Failed logins in a row that start a cool-down.
pub const MAX_FAILURES: i64 = 5;

const WRONG: &str = "wrong name or password";

/// The `auth.login` spec.
pub fn login_command(hasher: Arc<Hasher>) -> Command {
    Command::new(
        "auth.login",
        "Log in; the reply carries a session token",
        move |ctx, args| login(&hasher, ctx, args),
    )
    .role(Role::Anon)
    .req_str("name", "account name")
    .req_str("password", "the password")
}

/// The `auth.logout` spec.
pub fn logout_command() -> Command {
    Command::new("auth.logout", "End this session", logout)
}

fn login(hasher: &Hasher, ctx: &mut Ctx, args: &Args) -> Result<Output, CmdError> {
    let name = args.str("name")?;
    let password = args.str("password")?;
    let Some(account) = Account::find(ctx.db(), name)? else {
        hasher.verify_dummy(password);
        return Err(CmdError::unauthenticated(WRONG));
    };
    let now = clock::unix_now();
    if account.cooldown_until > now {
        return Err(CmdError::new(
            ErrorCode::RateLimited,
            format!(
                "too many failed logins; try again in {} s",
                account.cooldown_until - now
            ),
        ));
    }
    if !hasher.verify(password, &account.password_hash) {
        record_failure(ctx, &account, now)?;
        return Err(CmdError::unauthenticated(WRONG));
    }
    if account.failed_logins > 0 {
        ctx.db().execute(
            "UPDATE users SET failed_logins = 0 WHERE id = ?",
            params![account.id],
        )?;
    }
    if account.locked {
        return Err(CmdError::new(
            ErrorCode::Locked,
            "this account is locked by an admin",
        ));
    }
    let identity = account.identity();
    let (token, extras) = ctx.begin_session(identity);
    let mut reply = Map::new();
    reply.insert("session".into(), json!(token));
    reply.insert("user_id".into(), json!(account.id));
    reply.insert("name".into(), json!(account.name));
    reply.insert("role".into(), json!(account.role));
    reply.insert("is_vip".into(), json!(false));
    reply.extend(extras);
    log::info!("login {}", account.name);
    Ok(Value::Object(reply).into())
}

fn record_failure(ctx: &mut Ctx, account: &Account, now: i64) -> Result<(), CmdError> {
    let failures = account.failed_logins + 1;
    if failures >= MAX_FAILURES {
        let until = now + ctx.settings().u64("login-cooldown") as i64;
        ctx.db().execute(
            "UPDATE users SET failed_logins = 0, cooldown_until = ? WHERE id = ?",
            params![until, account.id],
        )?;
        log::warn!(
            "{} refused until {until}: {failures} failed logins",
            account.name
        );
    } else {
        ctx.db().execute(
            "UPDATE users SET failed_logins = ? WHERE id = ?",
            params![failures, account.id],
        )?;
    }
    Ok(())
}

fn logout(ctx: &mut Ctx, _: &Args) -> Result<Output, CmdError> {
    let name = ctx.user()?.name.clone();
    ctx.end_session();
    Ok(json!({"logged_out": name}).into())
}
