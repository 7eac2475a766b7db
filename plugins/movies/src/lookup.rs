//! `movies.lookup`: the cheap check other plugins make before they keep something about a movie
//! (a rating, a playlist entry). One indexed row: no file check, no price, no wait, no vip call.
//! Internal (reached through `kino_movies_api::LOOKUP` only) and open to any caller, since it
//! says no more than `movies.list` does.

use kino_api::serde_json;
use kino_api::{CmdError, Command, CommandArgs, Ctx, Output, Role};
use kino_movies_api::{Found, LOOKUP};

use crate::movie::find;

/// The spec.
pub fn command() -> Command {
    Command::new(
        LOOKUP.name(),
        "Whether a movie exists, for other plugins",
        lookup,
    )
    .role(Role::Anon)
    .internal()
}

/// `movies.lookup`'s arguments.
#[derive(CommandArgs)]
pub struct Lookup {
    /// the movie's id
    movie_id: u64,
}

fn lookup(ctx: &mut Ctx, args: Lookup) -> Result<Output, CmdError> {
    let id = args.movie_id;
    let movie = match i64::try_from(id) {
        Ok(id) => find(ctx.db(), id)?.filter(|m| !m.deleted),
        Err(_) => None,
    };
    let found = match movie {
        Some(m) => Found {
            exists: true,
            name: m.name,
            free: m.free,
            size: m.size,
            md5: m.md5,
        },
        None => Found::default(),
    };
    serde_json::to_value(found)
        .map(Output::from)
        .map_err(|e| CmdError::internal(format!("movies.lookup reply: {e}")))
}
