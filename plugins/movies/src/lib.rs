//! The movies plugin: the video library. Admins check, upload and delete movies and read
//! statistics; users list, buy and download them, and read their own download records.
//!
//! Movie files live in core's content-addressed blob store under their MD5, never under a name
//! the client sent; this plugin's tables hold the catalogue (`movies`) and the download records
//! (`download_records`). Prices depend on VIP state and every charge is an order, both owned by
//! the vip plugin: this plugin reaches them only through its typed services (`kino-vip-api`:
//! `vip.status`, and the internal `vip.charge`, `vip.owns`, `vip.sales`), never through its
//! tables or its crate, and declares them in `requires`. See [`services`].
//!
//! Layout:
//! - [`movie`] — the `movies` table, the row type, MD5 keys.
//! - [`name`] — display names from client file names.
//! - [`upload`] — `movies.check`, `movies.upload`.
//! - [`resume`] — resumable uploads: the `movies_uploads` table, `movies.upload_status`.
//! - [`list`] — `movies.list`.
//! - [`lookup`] — `movies.lookup`, the internal check other plugins make (see `kino-movies-api`).
//! - [`delete`] — `movies.delete`.
//! - [`buy`] — `movies.buy`.
//! - [`download`] — `movies.download`, with the free-download wait.
//! - [`served`] — waits already served, so a resume soon after does not wait again.
//! - [`records`] — `movies.records` and writing a record when a download completes.
//! - [`stats`] — `movies.stats`.
//! - [`services`] — the vip plugin's commands, as this plugin calls them.

pub mod buy;
pub mod delete;
pub mod download;
pub mod list;
pub mod lookup;
pub mod movie;
pub mod name;
pub mod records;
pub mod resume;
pub mod served;
pub mod services;
pub mod stats;
pub mod upload;

use kino_api::{BlobRefs, CmdError, Command, Ctx, Migration, Plugin, ServiceId, Setting};

/// The plugin value the server lists.
#[derive(Debug, Default)]
pub struct Movies;

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "movies",
        sql: "CREATE TABLE movies (
                id INTEGER PRIMARY KEY,
                name TEXT NOT NULL,
                md5 TEXT NOT NULL UNIQUE,
                size INTEGER NOT NULL CHECK (size >= 0),
                free INTEGER NOT NULL,
                deleted INTEGER NOT NULL DEFAULT 0,
                uploader_id INTEGER NOT NULL,
                uploaded_at TEXT NOT NULL,
                deleted_at TEXT
              );
              CREATE INDEX movies_newest ON movies (deleted, uploaded_at);",
    },
    Migration {
        version: 2,
        name: "download_records",
        sql: "CREATE TABLE download_records (
                id INTEGER PRIMARY KEY,
                user_id INTEGER NOT NULL,
                user_name TEXT NOT NULL,
                movie_id INTEGER NOT NULL REFERENCES movies (id),
                start_offset INTEGER NOT NULL,
                bytes INTEGER NOT NULL,
                downloaded_at TEXT NOT NULL
              );
              CREATE INDEX download_records_by_user ON download_records (user_id, id);
              CREATE INDEX download_records_by_movie ON download_records (movie_id);",
    },
    Migration {
        version: 3,
        name: "damaged",
        sql: "ALTER TABLE movies ADD COLUMN damaged INTEGER NOT NULL DEFAULT 0;",
    },
    Migration {
        version: 4,
        name: "movies_uploads",
        sql: "CREATE TABLE movies_uploads (
                id TEXT PRIMARY KEY,
                user_id INTEGER NOT NULL,
                name TEXT NOT NULL,
                md5 TEXT,
                free INTEGER NOT NULL,
                size INTEGER NOT NULL,
                started_at INTEGER NOT NULL,
                touched_at INTEGER NOT NULL
              );
              CREATE INDEX movies_uploads_by_user ON movies_uploads (user_id);",
    },
    Migration {
        version: 5,
        name: "movies_uploads_writer",
        sql: "ALTER TABLE movies_uploads ADD COLUMN writer TEXT;
              ALTER TABLE movies_uploads ADD COLUMN writer_until INTEGER NOT NULL DEFAULT 0;",
    },
];

impl Plugin for Movies {
    fn name(&self) -> &'static str {
        "movies"
    }

    fn migrations(&self) -> &'static [Migration] {
        MIGRATIONS
    }

    /// Shipped before tables took the plugin's prefix.
    fn tables(&self) -> &'static [&'static str] {
        &["download_records"]
    }

    fn settings(&self) -> Vec<Setting> {
        vec![
            download::FREE_WAIT.info(),
            download::RESUME_WINDOW.info(),
            download::RESUME_MAX.info(),
            list::SEARCH_MAX_CHARS.info(),
            list::SNAPSHOTS.info(),
            buy::PRICE.info(),
            buy::PRICE_VIP.info(),
            resume::UPLOAD_EXPIRY.info(),
            resume::MAX_OPEN_UPLOADS.info(),
            resume::UPLOAD_LEASE.info(),
        ]
    }

    fn requires(&self) -> Vec<ServiceId> {
        services::REQUIRED.to_vec()
    }

    fn blob_refs(&self) -> &'static [BlobRefs] {
        &[BlobRefs {
            query: "SELECT 'movie ' || id || ' `' || name || '`', md5, size, damaged FROM movies",
            mark_damaged: Some("UPDATE movies SET damaged = 1 WHERE md5 = ?"),
        }]
    }

    /// Refuses settings that cannot work, before the server accepts anyone.
    fn on_start(&self, ctx: &mut Ctx) -> Result<(), CmdError> {
        if ctx.setting(download::FREE_WAIT) > download::MAX_WAIT_S {
            return Err(CmdError::bad_args(format!(
                "--free-download-wait must be 0..={} seconds (one day)",
                download::MAX_WAIT_S
            )));
        }
        if ctx.setting(download::RESUME_WINDOW) > download::MAX_WAIT_S {
            return Err(CmdError::bad_args(format!(
                "--free-download-resume-window must be 0..={} seconds (one day)",
                download::MAX_WAIT_S
            )));
        }
        if ctx.setting(download::RESUME_MAX) == 0 {
            return Err(CmdError::bad_args(
                "--free-download-resume-max must be at least 1",
            ));
        }
        let expiry = ctx.setting(resume::UPLOAD_EXPIRY);
        if expiry == 0 || expiry > resume::MAX_EXPIRY_S {
            return Err(CmdError::bad_args(format!(
                "--upload-expiry must be 1..={} seconds (a week)",
                resume::MAX_EXPIRY_S
            )));
        }
        let lease = ctx.setting(resume::UPLOAD_LEASE);
        if lease == 0 || lease > resume::MAX_LEASE_S {
            return Err(CmdError::bad_args(format!(
                "--upload-lease must be 1..={} seconds (an hour)",
                resume::MAX_LEASE_S
            )));
        }
        resume::sweep(ctx)
    }

    fn commands(&self) -> Vec<Command> {
        let served = std::sync::Arc::new(served::Served::default());
        vec![
            upload::check_command(),
            upload::upload_command(),
            resume::status_command(),
            delete::command(),
            list::command(),
            lookup::command(),
            list::get_command(served.clone()),
            buy::command(),
            download::command(served),
            records::command(),
            stats::command(),
        ]
    }
}

/// The plugin as the server lists it: `kino-server`'s build script calls `plugin()` on every
/// plugin crate it depends on, so adding a plugin needs no code outside the plugin.
pub fn plugin() -> std::sync::Arc<dyn kino_api::Plugin> {
    std::sync::Arc::new(Movies)
}
