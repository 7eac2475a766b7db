//! `register` and `login`, onto `auth.register` and `auth.login`.
//!
//! The original client hashes the password with MD5 before sending it; Kino takes that hex
//! string as the password and stores it with argon2id like any other, so an account made by the
//! legacy client also logs in from a native client that sends the same string.
//!
//! - `{"type": "register", "name": N, "password": P, "user_type": "admin"|"user"}` →
//!   `{"flag": true, "msg": "注册成功"}`; a taken name: `{"flag": false, "msg": "用户已存在"}`.
//!   `user_type: "admin"` over the wire needs the server's `--allow-admin-signup` (or an admin
//!   logged in on the connection), as `auth.register` decides.
//! - `{"type": "login", "name": N, "password": P, "user_type": T}` →
//!   `{"flag": true, "msg": "登陆成功", "is_vip": 0|1, "session": "<token>"}`. The account's
//!   role must match `user_type`, as in the original; if it does not, the session that
//!   `auth.login` just opened is ended again and the reply is `用户类型不对`. A wrong password
//!   and an unknown name get the same reply (the original told them apart, which let anyone
//!   probe names), and the role is compared only after the right password, so it leaks nothing.

use kino_api::serde_json::{json, Map, Value};
use kino_api::{Command, CommandArgs, Ctx, ErrorCode};
use kino_auth_api::{Login, Register, LOGIN, REGISTER};

use crate::reply::{self, needed, LegacyResult, Refusal};

const WRONG: &str = "用户名或密码不正确";
const WRONG_TYPE: &str = "用户类型不对";

/// `legacy.register`, alias `register`.
pub fn register_command() -> Command {
    reply::command(
        "legacy.register",
        "register",
        "Original client: create an account",
        register,
    )
}

/// `legacy.login`, alias `login`.
pub fn login_command() -> Command {
    reply::command(
        "legacy.login",
        "login",
        "Original client: log in; checks the account's role against user_type",
        login,
    )
}

/// The fields both account types carry: name, the client-hashed password, and the role.
#[derive(CommandArgs)]
pub struct Account {
    /// account name
    name: Option<String>,
    /// the client's MD5 of the password
    #[arg(secret)]
    password: Option<String>,
    /// admin or user
    user_type: Option<String>,
}

impl Account {
    fn user_type(&self) -> Result<&str, Refusal> {
        match needed(self.user_type.as_deref(), "user_type")? {
            t @ ("admin" | "user") => Ok(t),
            _ => Err(Refusal::new(WRONG_TYPE)),
        }
    }
}

fn register(ctx: &mut Ctx, args: Account) -> LegacyResult {
    let name = needed(args.name.as_deref(), "name")?;
    let password = needed(args.password.as_deref(), "password")?;
    let role = args.user_type()?;
    let asked = Register {
        name: name.into(),
        password: password.into(),
        role: Some(role.into()),
    };
    match ctx.call(REGISTER, asked) {
        Ok(_) => Ok(reply::ok("注册成功")),
        Err(e) if e.code == ErrorCode::Conflict => Err(Refusal::new("用户已存在")),
        Err(e) if e.code == ErrorCode::Forbidden => Err(Refusal::new(
            "不能注册管理员: 服务器没有以 --allow-admin-signup 启动",
        )),
        Err(e) => Err(e.into()),
    }
}

fn login(ctx: &mut Ctx, args: Account) -> LegacyResult {
    let name = needed(args.name.as_deref(), "name")?;
    let password = needed(args.password.as_deref(), "password")?;
    let wanted = args.user_type()?;
    let asked = Login {
        name: name.into(),
        password: password.into(),
    };
    let data = match ctx.call(LOGIN, asked) {
        Ok(d) => d,
        Err(e) if e.code == ErrorCode::Unauthenticated => return Err(Refusal::new(WRONG)),
        Err(e) => return Err(e.into()),
    };
    if data.role != wanted {
        ctx.end_session();
        return Err(Refusal::new(WRONG_TYPE));
    }
    let mut fields = Map::new();
    // The original's `is_vip` was a database column: the integer 0 or 1.
    fields.insert("is_vip".into(), json!(u8::from(data.is_vip)));
    fields.insert("session".into(), Value::String(data.session));
    Ok(reply::ok_with("登陆成功", fields))
}
