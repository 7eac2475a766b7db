//! `auth.login` and `auth.logout`.
//!
//! Login wire form: `{"type":"auth.login","name":"alice","password":"..."}` →
//! `{"session": "<32 hex>", "user_id": 7, "name": "alice", "role": "user", "is_vip": false, ...}`
//! plus whatever other plugins add through their `on_login` hook (the newest notice, VIP state).
//! The connection is logged in from then on; the token logs in any other connection. The name
//! is folded ([`crate::names`]), so `ALICE` and full-width `ａｌｉｃｅ` log in as `alice`.
//!
//! A wrong password and an unknown name get the same `unauthenticated` reply, message included,
//! so names cannot be probed. Every check is first counted against the caller's address
//! ([`crate::throttle`]); a spent counter answers `rate_limited` without checking anything. A
//! locked account (`locked`) is reported only after the right password, for the same reason.
//!
//! Logout wire form: `{"type":"auth.logout"}` → `{"logged_out": "alice"}`. It ends the session
//! the request runs under: the connection's own, or the one named by the request's `session`
//! field. Ending another token leaves the connection's own login in place.

use std::sync::Arc;

use kino_api::log;
use kino_api::serde_json::{json, Map, Value};
use kino_api::{CmdError, Command, CommandArgs, Ctx, ErrorCode, Output, Role};

use crate::account::Account;
use crate::names::{fold, MAX_NAME};
use crate::password::Hasher;
use crate::throttle;

const WRONG: &str = "wrong name or password";

/// The `auth.login` spec.
pub fn login_command(hasher: Arc<Hasher>) -> Command {
    let lane = hasher.lane();
    Command::new(
        "auth.login",
        "Log in; the reply carries a session token",
        move |ctx, args| login(&hasher, ctx, args),
    )
    .role(Role::Anon)
    .lane(lane)
}

/// `auth.login`'s arguments.
#[derive(CommandArgs)]
pub struct Login {
    /// account name
    name: String,
    /// the password
    #[arg(secret)]
    password: String,
}

/// The `auth.logout` spec.
pub fn logout_command() -> Command {
    Command::new("auth.logout", "End this session", logout)
}

fn login(hasher: &Hasher, ctx: &mut Ctx, args: Login) -> Result<Output, CmdError> {
    let name = args.name.as_str();
    let password = args.password.as_str();
    let key = fold(name);
    // A name longer than any account's cannot exist; it gets no counter of its own (the
    // address counter still applies), so it cannot grow the table with huge keys.
    let could_exist = !key.is_empty() && key.chars().count() <= MAX_NAME + 24;
    // `busy` comes before the throttle: a login refused for load is no failed attempt.
    let place = hasher.place()?;
    let attempt = throttle::reserve(ctx, could_exist.then_some(key.as_str()))?;
    let turn = hasher.turn_for(place);
    let account = if could_exist {
        Account::find(ctx.db(), &key)?
    } else {
        None
    };
    let Some(account) = account else {
        hasher.verify_dummy(&turn, password);
        return Err(CmdError::unauthenticated(WRONG));
    };
    if !hasher.verify(&turn, password, &account.password_hash) {
        return Err(CmdError::unauthenticated(WRONG));
    }
    // The reservation goes back before the gate's place does: a login the gate lets in next
    // must not find this one's failure still counted (`limit` right logins at once would be
    // refused as `rate_limited`).
    attempt.succeeded(ctx);
    drop(turn);
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

fn logout(ctx: &mut Ctx, _: ()) -> Result<Output, CmdError> {
    let name = ctx.user()?.name.clone();
    ctx.end_session();
    Ok(json!({"logged_out": name}).into())
}
