//! The original reply shapes: every reply is a bare JSON object (no `{ok, id, data}` envelope)
//! with `flag` (bool) and `msg` (string), plus the fields of the request type. A failure of any
//! kind, including a native error from a command this plugin calls, becomes
//! `{"flag": false, "msg": "..."}`, because the original client reads `flag` first and prints
//! `msg`, and knows nothing else.

use kino_api::serde_json::{Map, Value};
use kino_api::{CmdError, Command, CommandArgs, Ctx, ErrorCode, Identity, Output, Role};

/// The original's answer to a request that needs a login.
pub const NOT_LOGGED_IN: &str = "请先登录";
/// Answer to an admin-only request from a user (the original did not check; Kino does).
pub const NOT_ADMIN: &str = "需要管理员权限";

/// Why a legacy request failed: the `msg` of a `{"flag": false}` reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(pub String);

impl Refusal {
    /// A refusal with this message.
    pub fn new(msg: impl Into<String>) -> Self {
        Refusal(msg.into())
    }

    /// The reply frame: `{"flag": false, "msg": ...}`.
    pub fn into_output(self) -> Output {
        shaped(false, &self.0, Map::new()).refused()
    }
}

/// A native error, told in the original's language (the detail stays for the ones a user can
/// act on).
impl From<CmdError> for Refusal {
    fn from(e: CmdError) -> Self {
        let msg = match e.code {
            ErrorCode::Unauthenticated => NOT_LOGGED_IN.to_owned(),
            ErrorCode::Forbidden => NOT_ADMIN.to_owned(),
            ErrorCode::NotFound => format!("不存在: {}", e.message),
            ErrorCode::Conflict => format!("冲突: {}", e.message),
            ErrorCode::BadArgs => format!("参数错误: {}", e.message),
            ErrorCode::TooLarge => format!("太大: {}", e.message),
            ErrorCode::RateLimited => format!("尝试次数过多: {}", e.message),
            ErrorCode::Locked => "账户已被锁定".to_owned(),
            ErrorCode::PaymentRequired => "请先购买".to_owned(),
            ErrorCode::Busy => "服务器繁忙, 请重试".to_owned(),
            _ => "服务器内部错误".to_owned(),
        };
        Refusal(msg)
    }
}

impl From<kino_api::DbError> for Refusal {
    fn from(e: kino_api::DbError) -> Self {
        CmdError::from(e).into()
    }
}

/// What a legacy handler returns: a shaped reply, or a refusal that becomes one.
pub type LegacyResult = Result<Output, Refusal>;

/// A success: `{"flag": true, "msg": msg}`.
pub fn ok(msg: &str) -> Output {
    shaped(true, msg, Map::new())
}

/// A success with the request type's fields: `{"flag": true, "msg": msg, ...fields}`.
pub fn ok_with(msg: &str, fields: Map<String, Value>) -> Output {
    shaped(true, msg, fields)
}

fn shaped(flag: bool, msg: &str, fields: Map<String, Value>) -> Output {
    let mut m = Map::new();
    m.insert("flag".into(), Value::Bool(flag));
    m.insert("msg".into(), Value::String(msg.to_owned()));
    m.extend(fields);
    Output::from(Value::Object(m)).raw()
}

/// Builds a legacy command: `legacy.<verb>` answering to the original `type` as an alias,
/// callable by anyone (the handler checks the login itself, so the refusal has the original
/// shape), accepting the original's extra fields, always answering `{flag, msg, ...}`.
///
/// `A`'s fields are all optional (`Option<_>`), so that a missing one is refused in the
/// original shape by the handler, not with a native `bad_args`.
#[track_caller]
pub fn command<A: CommandArgs + 'static>(
    name: &str,
    alias: &str,
    summary: &str,
    handler: fn(&mut Ctx, A) -> LegacyResult,
) -> Command {
    Command::new(name, summary, move |ctx, args| {
        Ok(handler(ctx, args).unwrap_or_else(Refusal::into_output))
    })
    .role(Role::Anon)
    .open_args()
    .alias(alias)
    .legacy_only()
}

/// The logged-in caller, from the server-side session (never from a request field).
pub fn user(ctx: &Ctx) -> Result<Identity, Refusal> {
    ctx.caller()
        .cloned()
        .ok_or_else(|| Refusal::new(NOT_LOGGED_IN))
}

/// The logged-in caller, who must be an admin.
pub fn admin(ctx: &Ctx) -> Result<Identity, Refusal> {
    let who = user(ctx)?;
    if who.role == Role::Admin {
        Ok(who)
    } else {
        Err(Refusal::new(NOT_ADMIN))
    }
}

/// A field the request must carry (core has checked its kind against the spec).
pub fn needed<T>(value: Option<T>, name: &str) -> Result<T, Refusal> {
    value.ok_or_else(|| Refusal::new(format!("缺少参数 `{name}`")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_have_flag_and_msg() {
        let out = ok("好");
        assert!(out.raw);
        assert_eq!(out.data["flag"], Value::Bool(true));
        assert_eq!(out.data["msg"], Value::String("好".into()));
        let out = Refusal::from(CmdError::unauthenticated("x")).into_output();
        assert!(out.raw);
        assert_eq!(out.data["flag"], Value::Bool(false));
        assert_eq!(out.data["msg"], Value::String(NOT_LOGGED_IN.into()));
    }

    #[test]
    fn internal_details_stay_in_the_log() {
        let r = Refusal::from(CmdError::new(ErrorCode::Internal, "disk on fire"));
        assert!(!r.0.contains("disk"));
    }
}
