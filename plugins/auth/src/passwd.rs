//! `auth.passwd`: change one's own password; needs the old one.
//!
//! Wire form: `{"type":"auth.passwd","old":"...","new":"..."}` → `{"changed": true}`.
//! The account comes from the session only; no field names whose password changes.

use std::sync::Arc;

use kino_api::serde_json::json;
use kino_api::{params, Args, CmdError, Command, Ctx, Output};

use crate::account::{check_password, require};
use crate::password::Hasher;

/// The spec.
pub fn command(hasher: Arc<Hasher>) -> Command {
    Command::new("auth.passwd", "Change your password", move |ctx, args| {
        passwd(&hasher, ctx, args)
    })
    .req_str("old", "the current password")
    .req_str("new", "the new password")
}

fn passwd(hasher: &Hasher, ctx: &mut Ctx, args: &Args) -> Result<Output, CmdError> {
    let name = ctx.user()?.name.clone();
    let new = args.str("new")?;
    check_password(new)?;
    let account = require(ctx, &name)?;
    if !hasher.verify(args.str("old")?, &account.password_hash) {
        return Err(CmdError::unauthenticated("the old password is wrong"));
    }
    let hash = hasher.hash(new)?;
    ctx.db().execute(
        "UPDATE users SET password_hash = ? WHERE id = ?",
        params![hash, account.id],
    )?;
    Ok(json!({"changed": true}).into())
}
