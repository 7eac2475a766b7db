//! The notice request types, onto the notices plugin's commands.
//!
//! - `release_notice` (`title`, `content`) → `{"flag": true, "msg": "发布成功"}`. Admins only
//!   (the original let any logged-in account publish, and took the author from `user_id`).
//! - `check_notice` → `{"flag": true, "msg": ..., "back_notice_list": [[title, content], ...]}`,
//!   oldest first as the original listed them; none: `{"flag": false, "msg": "暂无公告"}`.

use kino_api::serde_json::{json, Map, Value};
use kino_api::{Command, CommandArgs, Ctx};
use kino_notices_api::{Page, Publish, LIST, PUBLISH};

use crate::reply::{self, admin, needed, user, LegacyResult, Refusal};

/// `legacy.release_notice`, alias `release_notice`.
pub fn release_command() -> Command {
    reply::command(
        "legacy.release_notice",
        "release_notice",
        "Original client: publish a notice (admins)",
        release,
    )
}

/// `release_notice`'s fields.
#[derive(CommandArgs)]
pub struct Release {
    /// one line
    title: Option<String>,
    /// the text
    content: Option<String>,
}

/// `legacy.check_notice`, alias `check_notice`.
pub fn check_command() -> Command {
    reply::command(
        "legacy.check_notice",
        "check_notice",
        "Original client: read every notice",
        check,
    )
}

fn release(ctx: &mut Ctx, args: Release) -> LegacyResult {
    admin(ctx)?;
    let title = needed(args.title, "title")?;
    let content = needed(args.content, "content")?;
    let (title, content) = (title.to_owned(), content.to_owned());
    ctx.call(PUBLISH, Publish { title, content })?;
    Ok(reply::ok("发布成功"))
}

fn check(ctx: &mut Ctx, _: ()) -> LegacyResult {
    user(ctx)?;
    let mut rows = crate::all_rows(ctx, LIST, |limit, offset| Page { limit, offset })?;
    if rows.is_empty() {
        return Err(Refusal::new("暂无公告"));
    }
    rows.sort_by_key(|n| n.id);
    let list: Vec<Value> = rows.iter().map(|n| json!([n.title, n.content])).collect();
    let mut fields = Map::new();
    fields.insert("back_notice_list".into(), Value::Array(list));
    Ok(reply::ok_with("查询成功", fields))
}
