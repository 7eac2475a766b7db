//! `ratings.top` (limit, offset) → `[{movie_id, name, average, votes}]`, best first.
//!
//! Wire form: `{"type":"ratings.top","limit":10}`. Sorted by average stars, then by number of
//! ratings, then by movie id; only movies with at least `--ratings-min-votes` ratings. The
//! reply's `page.total` counts the rated movies; a movie deleted since it was rated is left out
//! of the rows (its name comes from `movies.lookup`, which no longer finds it), so a page may
//! hold fewer rows than asked. Errors: `unauthenticated`, `bad_args` (`limit` over 1000).

use kino_api::serde_json::json;
use kino_api::{params, CmdError, Command, CommandArgs, Ctx, Output, Paging};
use kino_movies_api::{Lookup, LOOKUP};

use crate::MIN_VOTES;

/// The spec.
pub fn command() -> Command {
    Command::new("ratings.top", "The top rated movies", top)
}

/// `ratings.top`'s arguments: a page, as every list has.
#[derive(CommandArgs)]
pub struct Top {
    #[arg(flatten)]
    page: Paging,
}

fn top(ctx: &mut Ctx, args: Top) -> Result<Output, CmdError> {
    let a = args.page;
    let min_votes = ctx.setting(MIN_VOTES).max(1);
    let rows = ctx.db().query(
        "SELECT movie_id, AVG(stars), COUNT(*) FROM ratings_stars
         GROUP BY movie_id HAVING COUNT(*) >= ?
         ORDER BY AVG(stars) DESC, COUNT(*) DESC, movie_id
         LIMIT ? OFFSET ?",
        params![min_votes, a.limit, a.offset],
    )?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let movie_id = r.i64(0)?;
        let Ok(id) = u64::try_from(movie_id) else {
            continue;
        };
        let movie = ctx.call(LOOKUP, Lookup { movie_id: id })?;
        if !movie.exists {
            continue;
        }
        out.push(json!({
            "movie_id": movie_id,
            "name": movie.name,
            "average": (r.f64(1)? * 100.0).round() / 100.0,
            "votes": r.i64(2)?,
        }));
    }
    let total = ctx.db().count(
        "SELECT COUNT(*) FROM (SELECT movie_id FROM ratings_stars
           GROUP BY movie_id HAVING COUNT(*) >= ?) AS voted",
        params![min_votes],
    )?;
    Ok(Output::page(out, a.offset, total))
}
