//! `ratings.rate` (movie_id, stars) → `{movie_id, name, stars, replaced}`.
//!
//! Wire form: `{"type":"ratings.rate","movie_id":3,"stars":4}`. One rating per user per movie:
//! rating again replaces the earlier stars (`replaced: true`). The movie must exist (checked
//! through `movies.lookup`; a deleted movie cannot be rated). Errors: `unauthenticated`,
//! `bad_args` (stars outside 1-5), `not_found` (no such movie).

use kino_api::serde_json::json;
use kino_api::{clock, params, CmdError, Command, CommandArgs, Ctx, Output};
use kino_movies_api::{Lookup, LOOKUP};

/// The spec.
pub fn command() -> Command {
    Command::new("ratings.rate", "Rate a movie from 1 to 5 stars", rate)
}

/// `ratings.rate`'s arguments; core refuses stars outside 1-5 before the handler runs.
#[derive(CommandArgs)]
pub struct Rate {
    /// the movie's id (`id` in movies.list)
    movie_id: u64,
    /// 1 (poor) to 5 (excellent)
    #[arg(range = 1..=5)]
    stars: u64,
}

fn rate(ctx: &mut Ctx, a: Rate) -> Result<Output, CmdError> {
    let movie = ctx.call(
        LOOKUP,
        Lookup {
            movie_id: a.movie_id,
        },
    )?;
    if !movie.exists {
        return Err(CmdError::not_found(format!("no movie {}", a.movie_id)));
    }
    let who = ctx.user()?.clone();
    let replaced = ctx.db().transaction(|db| {
        let before = db.query_one(
            "SELECT stars FROM ratings_stars WHERE user_id = ? AND movie_id = ?",
            params![who.user_id, a.movie_id],
        )?;
        db.execute(
            "INSERT INTO ratings_stars (user_id, user_name, movie_id, stars, rated_at)
             VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (user_id, movie_id) DO UPDATE
               SET stars = excluded.stars, rated_at = excluded.rated_at",
            params![
                who.user_id,
                who.name.as_str(),
                a.movie_id,
                a.stars,
                clock::now_rfc3339()
            ],
        )?;
        Ok::<_, CmdError>(before.is_some())
    })?;
    Ok(json!({
        "movie_id": a.movie_id,
        "name": movie.name,
        "stars": a.stars,
        "replaced": replaced,
    })
    .into())
}
