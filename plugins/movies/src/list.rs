//! `movies.list`: the catalogue, newest first, deleted movies excluded.
//!
//! Wire form: `{"type":"movies.list","kind":"free","q":"matrix","limit":50,"offset":0}` →
//! `[{id, name, free, size, md5, uploaded_at}]` (an empty array when nothing matches), with the
//! reply's `page` giving `{offset, count, total}` (total: every movie matching `kind` and `q`).
//! `kind` is `all` (default), `free` or `charge`, as in the original `movie_type`; `q` keeps
//! names containing it, ignoring ASCII case, with `%` and `_` taken literally. `q` is at most
//! `--movie-search-max-chars` characters (default 200; SQLite refuses LIKE patterns over 50,000
//! bytes) and holds no control characters (a NUL would end the pattern early and match
//! everything). Damaged movies (file missing or altered) are left out: each listed movie's
//! file is checked for its size, and one found missing is marked damaged and the page read
//! again.
//! Errors: `unauthenticated`, `bad_args` (unknown `kind`, `limit` over 1000, `q` too long or
//! holding control characters).

use kino_api::{
    ArgChoice, CmdError, Command, CommandArgs, Ctx, Output, Paging, Snapshots, SqlValue,
};

use kino_api::db::escape_like;
use kino_api::Setting;

use crate::movie::{blob_intact, find_servable, Movie, MovieRef, COLUMNS};
use crate::served::Shared;

/// Times a page is read again after damaged movies were found on it.
const MAX_PASSES: usize = 4;

/// `movies.get` (movie_id) → `{id, name, free, size, md5, uploaded_at, wait_s}`: one movie of
/// the catalogue, and `wait_s`, how long a download of it by the caller would be held now (the
/// free-download wait, 0 for VIPs and charged movies), so a client can name the file and show a
/// countdown before it starts. Deleted or unknown: `not_found`; damaged: `unavailable`.
pub fn get_command(served: Shared) -> Command {
    Command::new("movies.get", "One movie by id", move |ctx, args| {
        get(ctx, args, &served)
    })
}

fn get(ctx: &mut Ctx, args: MovieRef, served: &Shared) -> Result<Output, CmdError> {
    let movie = find_servable(ctx, args.movie_id)?;
    let is_vip = crate::services::is_vip(ctx)?;
    let wait_s = crate::download::wait_for(ctx, served, &movie, is_vip);
    let mut out = movie.to_json();
    out["wait_s"] = wait_s.into();
    Ok(out.into())
}

/// Setting: the longest search text.
pub const SEARCH_MAX_CHARS: Setting<u64> = Setting::new(
    "movie-search-max-chars",
    "Longest `q` movies.list accepts, in characters",
    200,
);

/// Setting: pages remembered for the loop to answer from (per distinct arguments); each is at
/// most one page of rows, so this bounds the memory a client varying `q` can make it hold.
pub const SNAPSHOTS: Setting<u64> = Setting::new(
    "movie-list-snapshots",
    "movies.list pages remembered for the event loop to answer from (0: none)",
    64,
);

/// A page's arguments, as the snapshot key.
type Key = (u8, Option<String>, u64, u64);

fn key(args: &List) -> Key {
    let kind = match args.kind {
        Kind::All => 0,
        Kind::Free => 1,
        Kind::Charge => 2,
    };
    (kind, args.q.clone(), args.page.limit, args.page.offset)
}

/// The spec. A page is remembered until `movies` is written on this node, or for
/// [`kino_api::changes::SNAPSHOT_TTL`] (a write on another node), and answered from the loop
/// meanwhile; its files were checked when it was read.
pub fn command() -> Command {
    let snapshots = std::sync::Arc::new(Snapshots::new(&["movies"]));
    let read = snapshots.clone();
    Command::new("movies.list", "Movies, newest first", move |ctx, args| {
        list(ctx, args, &snapshots)
    })
    .quick(move |_, args: List| read.get(&key(&args)).map(Ok))
}

/// `movies.list`'s arguments.
#[derive(CommandArgs)]
pub struct List {
    /// all, free or charge
    #[arg(default = Kind::All)]
    kind: Kind,
    /// only names containing this (at most --movie-search-max-chars characters, no control characters)
    q: Option<String>,
    #[arg(flatten)]
    page: Paging,
}

/// Which movies `movies.list` shows (the original's `movie_type`).
#[derive(ArgChoice, Clone, Copy)]
pub enum Kind {
    /// Every movie.
    All,
    /// Free movies only.
    Free,
    /// Charged movies only.
    Charge,
}

fn list(ctx: &mut Ctx, args: List, snapshots: &Snapshots<Key>) -> Result<Output, CmdError> {
    let version = snapshots.version();
    let key = key(&args);
    let Paging { limit, offset } = args.page;
    let mut filter = String::from("FROM movies WHERE deleted = 0 AND damaged = 0");
    let mut params: Vec<SqlValue> = Vec::new();
    match args.kind {
        Kind::Free => filter.push_str(" AND free = 1"),
        Kind::Charge => filter.push_str(" AND free = 0"),
        Kind::All => {}
    }
    if let Some(q) = args.q.as_deref().filter(|q| !q.is_empty()) {
        check_query(q, ctx.setting(SEARCH_MAX_CHARS))?;
        filter.push_str(" AND LOWER(name) LIKE LOWER(?) ESCAPE '\\'");
        params.push(format!("%{}%", escape_like(q)).into());
    }
    let count_sql = format!("SELECT COUNT(*) {filter}");
    let sql =
        format!("SELECT {COLUMNS} {filter} ORDER BY uploaded_at DESC, id DESC LIMIT ? OFFSET ?");
    let mut page_params = params.clone();
    page_params.push(limit.into());
    page_params.push(offset.into());
    // Each pass marks at least one more movie damaged or ends; a few passes fill a page after
    // files went missing, and the last pass's movies are shown even if short of `limit`.
    let mut out = Vec::new();
    for _ in 0..MAX_PASSES {
        let rows = ctx.db().query(&sql, &page_params)?;
        out = Vec::with_capacity(rows.len());
        let mut found_damage = false;
        for r in &rows {
            let movie = Movie::from_row(r)?;
            if blob_intact(ctx, &movie)? {
                out.push(movie.to_json());
            } else {
                found_damage = true;
            }
        }
        if !found_damage {
            break;
        }
    }
    // Counted after the passes, so movies just found damaged are not in the total.
    let total = ctx.db().count(&count_sql, &params)?;
    let out = Output::page(out, offset, total);
    let max = usize::try_from(ctx.setting(SNAPSHOTS)).unwrap_or(usize::MAX);
    snapshots.put(key, version, &out, max);
    Ok(out)
}

/// Refuses a search text that is too long or holds control characters.
fn check_query(q: &str, max_chars: u64) -> Result<(), CmdError> {
    if q.chars().any(char::is_control) {
        return Err(CmdError::bad_args("`q` holds control characters"));
    }
    if q.chars().count() as u64 > max_chars {
        return Err(CmdError::bad_args(format!(
            "`q` is over {max_chars} characters (--movie-search-max-chars)"
        )));
    }
    Ok(())
}
