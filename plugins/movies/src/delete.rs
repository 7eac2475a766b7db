//! `movies.delete`: soft delete, as in the original.
//!
//! Wire form: `{"type":"movies.delete","movie_id":3}` → `{id, name, deleted: true}`.
//! The movie disappears from listings, purchases and downloads; its row stays, so download
//! records and statistics keep its name, and its file stays in the blob store (uploading the
//! same content brings the movie back). Downloads already under way finish.
//! Errors: `forbidden` (not an admin), `not_found` (unknown or already deleted).

use kino_api::log;
use kino_api::serde_json::json;
use kino_api::{clock, params, CmdError, Command, Ctx, Output, Role};

use crate::movie::{find_live, MovieRef};

/// The spec.
pub fn command() -> Command {
    Command::new(
        "movies.delete",
        "Delete a movie (records stay readable)",
        delete,
    )
    .role(Role::Admin)
}

fn delete(ctx: &mut Ctx, args: MovieRef) -> Result<Output, CmdError> {
    let id = args.movie_id;
    let movie = find_live(ctx.db(), id)?;
    let changed = ctx.db().execute(
        "UPDATE movies SET deleted = 1, deleted_at = ? WHERE id = ? AND deleted = 0",
        params![clock::now_rfc3339(), movie.id],
    )?;
    if changed == 0 {
        // Another admin deleted it between the two statements.
        return Err(CmdError::not_found(format!("no movie {id}")));
    }
    let who = ctx.user()?.name.clone();
    log::info!("{who} deleted movie {} `{}`", movie.id, movie.name);
    Ok(json!({"id": movie.id, "name": movie.name, "deleted": true}).into())
}
