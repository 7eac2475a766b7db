//! `ratings.remove` (movie_id, user) → `{movie_id, user, removed: true}`. Admins only.
//!
//! Wire form: `{"type":"ratings.remove","movie_id":3,"user":"bob"}`. Removes the rating `user`
//! (an account name) gave the movie, e.g. one that is abuse. Errors: `forbidden` (not an
//! admin), `not_found` (that user has not rated that movie).

use kino_api::serde_json::json;
use kino_api::{log, params, Args, CmdError, Command, Ctx, Output, Role};

/// The spec.
pub fn command() -> Command {
    Command::new(
        "ratings.remove",
        "Remove a user's rating of a movie",
        remove,
    )
    .role(Role::Admin)
    .req_uint("movie_id", "the movie's id")
    .req_str("user", "the account name of whoever rated it")
}

/// The arguments, read once at the top of the handler.
struct Remove {
    movie_id: u64,
    user: String,
}

impl Remove {
    fn parse(args: &Args) -> Result<Self, CmdError> {
        Ok(Remove {
            movie_id: args.u64("movie_id")?,
            user: args.str("user")?.to_owned(),
        })
    }
}

fn remove(ctx: &mut Ctx, args: &Args) -> Result<Output, CmdError> {
    let a = Remove::parse(args)?;
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
