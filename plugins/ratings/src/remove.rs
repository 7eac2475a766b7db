//! `ratings.remove` (movie_id, user) → `{movie_id, user, removed: true}`. Admins only.
//!
//! Wire form: `{"type":"ratings.remove","movie_id":3,"user":"bob"}`. Removes the rating `user`
//! (an account name) gave the movie, e.g. one that is abuse. Errors: `forbidden` (not an
//! admin), `not_found` (that user has not rated that movie).

use kino_api::serde_json::json;
use kino_api::{log, params, CmdError, Command, CommandArgs, Ctx, Output, Role};

/// The spec.
pub fn command() -> Command {
    Command::new(
        "ratings.remove",
        "Remove a user's rating of a movie",
        remove,
    )
    .role(Role::Admin)
}

/// `ratings.remove`'s arguments.
#[derive(CommandArgs)]
pub struct Remove {
    /// the movie's id
    movie_id: u64,
    /// the account name of whoever rated it
    #[arg(max_len = 64)]
    user: String,
}

fn remove(ctx: &mut Ctx, a: Remove) -> Result<Output, CmdError> {
    let gone = ctx.db().execute(
        "DELETE FROM ratings_stars WHERE movie_id = ? AND user_name = ?",
        params![a.movie_id, a.user.as_str()],
    )?;
    if gone == 0 {
        return Err(CmdError::not_found(format!(
            "{} has not rated movie {}",
            a.user, a.movie_id
        )));
    }
    let admin = ctx.user()?.name.clone();
    log::info!(
        "{admin} removed {}'s rating of movie {}",
        a.user,
        a.movie_id
    );
    Ok(json!({"movie_id": a.movie_id, "user": a.user, "removed": true}).into())
}
