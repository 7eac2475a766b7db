//! `buy_vip`, onto `vip.buy`.
//!
//! `{"type": "buy_vip", "session": S}` → `{"flag": true, "msg": "购买成功"}`; already VIP:
//! `{"flag": false, "msg": "您已经是会员啦"}`. The membership is an order in the vip plugin's
//! table at the configured price (the original only flipped a column), and counts at once on
//! every session of the user. The buyer comes from the session, never from `user_id`.

use kino_api::{Command, Ctx, ErrorCode};
use kino_vip_api::BUY;

use crate::reply::{self, user, LegacyResult, Refusal};

/// `legacy.buy_vip`, alias `buy_vip`.
pub fn buy_command() -> Command {
    reply::command(
        "legacy.buy_vip",
        "buy_vip",
        "Original client: become VIP",
        buy,
    )
}

fn buy(ctx: &mut Ctx, _: ()) -> LegacyResult {
    user(ctx)?;
    match ctx.call(BUY, ()) {
        Ok(_) => Ok(reply::ok("购买成功")),
        Err(e) if e.code == ErrorCode::Conflict => Err(Refusal::new("您已经是会员啦")),
        Err(e) => Err(e.into()),
    }
}
