//! `auth.passwd`: change one's own password; needs the old one.
//!
//! Wire form: `{"type":"auth.passwd","old":"...","new":"..."}` →
//! `{"changed": true, "sessions_ended": N}`.
//! The account comes from the session only; no field names whose password changes. A wrong old
//! password counts as a failed login from the caller's address ([`crate::throttle`]), so a
//! stolen token cannot be used to guess the password. Once changed, every other session of the
//! account ends (whoever else holds a token is logged out); the caller's own stays.
//! Errors: `unauthenticated` (old password wrong), `rate_limited`, `bad_args` (password policy).

use std::sync::Arc;

use kino_api::serde_json::json;
use kino_api::{log, params, CmdError, Command, CommandArgs, Ctx, Output};

use crate::account::{check_password, Account, PASSWORD_MIN_LENGTH};
use crate::password::Hasher;
use crate::throttle;

/// The spec.
pub fn command(hasher: Arc<Hasher>) -> Command {
    let lane = hasher.lane();
    Command::new("auth.passwd", "Change your password", move |ctx, args| {
        passwd(&hasher, ctx, args)
    })
    .lane(lane)
}

/// `auth.passwd`'s arguments.
#[derive(CommandArgs)]
pub struct Passwd {
    /// the current password
    #[arg(secret)]
    old: String,
    /// the new password
    #[arg(secret)]
    new: String,
}

fn passwd(hasher: &Hasher, ctx: &mut Ctx, args: Passwd) -> Result<Output, CmdError> {
    let user_id = ctx.user()?.user_id;
    let new = args.new.as_str();
    let account = Account::by_id(ctx.db(), user_id)?
        .ok_or_else(|| CmdError::not_found("your account no longer exists"))?;
    check_password(new, ctx.setting(PASSWORD_MIN_LENGTH), &account.name_key)?;
    // `busy` comes before the throttle: a change refused for load is no failed attempt.
    let place = hasher.place()?;
    let attempt = throttle::reserve(ctx, Some(&account.name_key))?;
    // One turn for both hashes, so a right old password is never followed by `busy`.
    let turn = hasher.turn_for(place);
    if !hasher.verify(&turn, &args.old, &account.password_hash) {
        return Err(CmdError::unauthenticated("the old password is wrong"));
    }
    attempt.succeeded(ctx);
    let hash = hasher.hash(&turn, new)?;
    drop(turn);
    ctx.db().execute(
        "UPDATE users SET password_hash = ? WHERE id = ?",
        params![hash, account.id],
    )?;
    let ended = ctx.end_other_sessions();
    log::info!(
        "{} changed their password; {ended} other sessions ended",
        account.name
    );
    Ok(json!({"changed": true, "sessions_ended": ended}).into())
}
