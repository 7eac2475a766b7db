//! The legacy plugin: the original service's Python client works unchanged against Kino.
//!
//! The original client speaks the same frames as Kino (a 4-byte little-endian length, then a
//! JSON object), but with its own request types (`register`, `login`, `check_movie`, ...) and
//! its own reply shapes (`{"flag": bool, "msg": "...", ...}` with no `{ok, id, data}` envelope).
//! This plugin registers one command per original type, `legacy.<verb>` with the original type
//! as an alias, and translates each onto the native plugins' commands through typed `Ctx::call`s
//! (their `-api` contract crates, declared in `requires`): it never reads their tables nor
//! names their plugin crates, and core knows nothing about it.
//!
//! Every legacy command is `Role::Anon` with open arguments, so a client that is not logged in,
//! or that sends the original's extra fields (`user_id`, `movie_type` on downloads), still gets
//! an answer in the original shape (`{"flag": false, "msg": "请先登录"}`) instead of a native
//! error. The login and the admin role are checked here, from the server-side session only:
//! a `user_id` in a request is ignored.
//!
//! Layout:
//! - [`reply`]: the `{flag, msg}` shapes, refusals, and the command builder every verb uses.
//! - [`accounts`]: the types `register` and `login`.
//! - [`movies`]: the types `check_movie`, `update_movie`, `get_movie_list`, `delete_movie`,
//!   `download_movie`, `download_movie_record`, and the legacy fingerprint table.
//! - [`notices`]: the types `release_notice` and `check_notice`.
//! - [`vip`]: the type `buy_vip`.
//!
//! docs/legacy.md lists every request type with its reply, and what differs from the original on
//! purpose.

pub mod accounts;
pub mod movies;
pub mod notices;
pub mod reply;
pub mod vip;

use kino_api::{CmdError, Command, Ctx, Migration, Plugin, Service, ServiceId};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The plugin value the server lists.
#[derive(Debug, Default)]
pub struct Legacy;

const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "legacy_fingerprints",
    // The original client identifies a file by an MD5 of 40 sampled bytes, not of its content;
    // the movies plugin knows only content MD5s, so the mapping lives here.
    sql: "CREATE TABLE legacy_fingerprints (
            fingerprint TEXT PRIMARY KEY,
            movie_id INTEGER NOT NULL,
            md5 TEXT NOT NULL,
            created_at TEXT NOT NULL
          );",
}];

impl Plugin for Legacy {
    fn name(&self) -> &'static str {
        "legacy"
    }

    fn migrations(&self) -> &'static [Migration] {
        MIGRATIONS
    }

    fn requires(&self) -> Vec<ServiceId> {
        use kino_movies_api as m;
        vec![
            kino_auth_api::REGISTER.id(),
            kino_auth_api::LOGIN.id(),
            m::CHECK.id(),
            m::UPLOAD.id(),
            m::LIST.id(),
            m::DELETE.id(),
            m::DOWNLOAD.id(),
            m::BUY.id(),
            m::RECORDS.id(),
            kino_notices_api::PUBLISH.id(),
            kino_notices_api::LIST.id(),
            kino_vip_api::BUY.id(),
        ]
    }

    fn commands(&self) -> Vec<Command> {
        vec![
            accounts::register_command(),
            accounts::login_command(),
            movies::check_command(),
            movies::update_command(),
            movies::list_command(),
            movies::delete_command(),
            movies::download_command(),
            movies::records_command(),
            notices::release_command(),
            notices::check_command(),
            vip::buy_command(),
        ]
    }
}

/// Rows asked for per page when reading a whole native list.
const PAGE: u64 = kino_api::PAGE_MAX;
/// Pages read at most (100 000 rows): the original answered every row in one frame, and this
/// bounds that frame.
const MAX_PAGES: u64 = 100;

/// Reads every row of a paged native list service (`movies.list`, `movies.records`,
/// `notices.list`), since the original answered whole lists in one reply. `ask` builds the
/// request for a page from its `limit` and `offset`.
pub(crate) fn all_rows<Q: Serialize, R: DeserializeOwned>(
    ctx: &mut Ctx,
    service: Service<Q, Vec<R>>,
    ask: impl Fn(Option<u64>, Option<u64>) -> Q,
) -> Result<Vec<R>, CmdError> {
    let mut rows = Vec::new();
    for page in 0..MAX_PAGES {
        let got = ctx.call(service, ask(Some(PAGE), Some(page * PAGE)))?;
        let last = (got.len() as u64) < PAGE;
        rows.extend(got);
        if last {
            break;
        }
    }
    Ok(rows)
}

/// The plugin as the server lists it: `kino-server`'s build script calls `plugin()` on every
/// plugin crate it depends on, so adding a plugin needs no code outside the plugin.
pub fn plugin() -> std::sync::Arc<dyn kino_api::Plugin> {
    std::sync::Arc::new(Legacy)
}
