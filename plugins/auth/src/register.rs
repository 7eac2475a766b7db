//! `auth.register`: creates an account.
//!
//! Wire form: `{"type":"auth.register","name":"alice","password":"...","role":"user"}` →
//! `{"user_id": 7, "name": "alice", "role": "user"}`.
//! Errors: `bad_args` (name rules in [`crate::names`], password policy in
//! [`crate::account::check_password`]), `conflict` (the name is taken in any case or width),
//! `forbidden` (`role: "admin"` without an admin session, unless the server runs with
//! `--allow-admin-signup`).

use std::sync::Arc;

use kino_api::log;
use kino_api::serde_json::json;
use kino_api::{
    clock, params, ArgChoice, CmdError, Command, CommandArgs, Ctx, Output, Role, Setting,
};

use crate::account::{check_password, PASSWORD_MIN_LENGTH};
use crate::names;
use crate::password::Hasher;

/// Setting: anyone may register an admin over the wire (the legacy client needs it).
pub const ALLOW_ADMIN_SIGNUP: Setting<bool> = Setting::new(
    "allow-admin-signup",
    "Let anyone register an admin over the wire (the legacy client needs it)",
    false,
);

/// The spec.
pub fn command(hasher: Arc<Hasher>) -> Command {
    let lane = hasher.lane();
    Command::new(
        "auth.register",
        "Create an account (admins may create admins)",
        move |ctx, args| register(&hasher, ctx, args),
    )
    .role(Role::Anon)
    .lane(lane)
}

/// `auth.register`'s arguments.
#[derive(CommandArgs)]
pub struct Register {
    /// 1-32 letters, digits, _ - . in one script
    name: String,
    /// at least password-min-length characters, not the name
    #[arg(secret)]
    password: String,
    /// user (default) or admin
    #[arg(default = NewRole::User)]
    role: NewRole,
}

/// The role a new account asks for.
#[derive(ArgChoice, Clone, Copy, PartialEq, Eq)]
pub enum NewRole {
    /// An ordinary account.
    User,
    /// An admin (needs an admin caller or `--allow-admin-signup`).
    Admin,
}

fn register(hasher: &Hasher, ctx: &mut Ctx, args: Register) -> Result<Output, CmdError> {
    let typed = args.name.as_str();
    let password = args.password.as_str();
    let role = args.role.as_str();
    let key = names::check_new(typed)?;
    let name = names::display(typed);
    check_password(password, ctx.setting(PASSWORD_MIN_LENGTH), &key)?;
    if role == "admin" && !ctx.is_admin() && !ctx.setting(ALLOW_ADMIN_SIGNUP) {
        return Err(CmdError::forbidden(
            "only an admin can create an admin (or start the server with --allow-admin-signup)",
        ));
    }
    let turn = hasher.turn_for(hasher.place()?);
    let hash = hasher.hash(&turn, password)?;
    drop(turn);
    let id = ctx
        .db()
        .insert(
            "INSERT INTO users (name, name_key, role, password_hash, created_at)
             VALUES (?, ?, ?, ?, ?)",
            params![&name, &key, role, hash, clock::now_rfc3339()],
        )
        .map_err(|e| match e {
            kino_api::DbError::Unique(_) => {
                CmdError::conflict(format!("the name `{name}` is taken"))
            }
            other => other.into(),
        })?;
    log::info!("registered {name} ({role})");
    Ok(json!({"user_id": id, "name": name, "role": role}).into())
}
