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
    let asked = json!({"name": name, "password": password, "role": role});
    match ctx.call("auth.register", asked) {
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
    let data = match ctx.call("auth.login", json!({"name": name, "password": password})) {
        Ok(d) => d,
        Err(e) if e.code == ErrorCode::Unauthenticated => return Err(Refusal::new(WRONG)),
        Err(e) => return Err(e.into()),
    };
    if data["role"].as_str() != Some(wanted) {
        ctx.end_session();
        return Err(Refusal::new(WRONG_TYPE));
    }
    let Some(session) = data["session"].as_str() else {
        ctx.end_session();
        return Err(kino_api::CmdError::internal(format!("auth.login answered {data}")).into());
    };
    let mut fields = Map::new();
    fields.insert("is_vip".into(), json!(vip_flag(&data["is_vip"])));
    fields.insert("session".into(), Value::String(session.to_owned()));
    Ok(reply::ok_with("登陆成功", fields))
}

/// The original's `is_vip` database column: the integer 0 or 1 (the login reply's `is_vip`,
/// which the vip plugin's login hook sets, is a boolean).
fn vip_flag(v: &Value) -> u8 {
    match v {
        Value::Bool(true) => 1,
        Value::Number(n) if n.as_u64().is_some_and(|n| n > 0) => 1,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vip_is_an_integer() {
        assert_eq!(vip_flag(&json!(true)), 1);
        assert_eq!(vip_flag(&json!(false)), 0);
        assert_eq!(vip_flag(&json!(1)), 1);
        assert_eq!(vip_flag(&Value::Null), 0);
    }
}
