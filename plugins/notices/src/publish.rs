//! `notices.publish`: an admin publishes a notice.
//!
//! Wire form: `{"type":"notices.publish","title":"…","content":"…"}` →
//! `{id, title, content, author, created_at}`.
//! Errors: `forbidden` (not an admin, checked by core), `bad_args` (empty or over-long title or
//! content, control characters in the title). The title is one line because clients show it in
//! lists and in the login banner; the content may hold line breaks and tabs.

use kino_api::log;
use kino_api::{clock, params, CmdError, Command, CommandArgs, Ctx, Output, Role};

use crate::notice::Notice;

/// Longest title, in characters.
pub const MAX_TITLE: usize = 200;
/// Longest content, in characters.
pub const MAX_CONTENT: usize = 10_000;

/// The spec.
pub fn command() -> Command {
    Command::new("notices.publish", "Publish a notice to every user", publish).role(Role::Admin)
}

/// `notices.publish`'s arguments. The lengths are checked again after trimming.
#[derive(CommandArgs)]
pub struct Publish {
    /// one line
    #[arg(max_len = MAX_TITLE)]
    title: String,
    /// the text
    #[arg(max_len = MAX_CONTENT)]
    content: String,
}

fn publish(ctx: &mut Ctx, args: Publish) -> Result<Output, CmdError> {
    let title = args.title.trim();
    let content = args.content.trim();
    check_title(title)?;
    check_content(content)?;
    let author = ctx.user()?.clone();
    let created_at = clock::now_rfc3339();
    let id = ctx.db().insert(
        "INSERT INTO notices (title, content, author_id, author, created_at)
         VALUES (?, ?, ?, ?, ?)",
        params![
            title,
            content,
            author.user_id,
            author.name.as_str(),
            created_at.as_str()
        ],
    )?;
    log::info!("{} published notice {id}: {title}", author.name);
    let notice = Notice {
        id,
        title: title.into(),
        content: content.into(),
        author: author.name,
        created_at,
    };
    Ok(notice.to_json().into())
}

fn check_title(title: &str) -> Result<(), CmdError> {
    if title.is_empty() {
        return Err(CmdError::bad_args("the title is empty"));
    }
    if title.chars().count() > MAX_TITLE {
        return Err(CmdError::bad_args(format!(
            "the title is over {MAX_TITLE} characters"
        )));
    }
    if title.chars().any(char::is_control) {
        return Err(CmdError::bad_args(
            "the title must be one line without control characters",
        ));
    }
    Ok(())
}

fn check_content(content: &str) -> Result<(), CmdError> {
    if content.is_empty() {
        return Err(CmdError::bad_args("the content is empty"));
    }
    if content.chars().count() > MAX_CONTENT {
        return Err(CmdError::bad_args(format!(
            "the content is over {MAX_CONTENT} characters"
        )));
    }
    if content
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(CmdError::bad_args(
            "the content may hold line breaks and tabs, but no other control characters",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_one_printable_line() {
        assert!(check_title("Maintenance tonight").is_ok());
        assert!(check_title("").is_err());
        assert!(check_title("two\nlines").is_err());
        assert!(check_title(&"t".repeat(MAX_TITLE + 1)).is_err());
    }

    #[test]
    fn content_allows_line_breaks_only() {
        assert!(check_content("line one\nline two\tand a tab").is_ok());
        assert!(check_content("bell\u{7}").is_err());
        assert!(check_content("").is_err());
    }
}
