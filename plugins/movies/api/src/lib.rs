//! The movies plugin's contract: what other plugins may ask of it, typed. A caller depends on
//! this crate, never on `kino-movies`, lists the services it uses in `Plugin::requires`, and
//! calls them with `ctx.call(LOOKUP, Lookup { movie_id })`. The `movies` tables stay private to
//! the movies plugin.
//!
//! [`LOOKUP`] is the one made for other plugins: cheap (one indexed row, no wait, no price, no
//! file check). The rest are the user-facing commands, for a plugin that re-shapes them (the
//! legacy protocol); they run as the caller with their usual checks.

use kino_api::Service;
use serde::{Deserialize, Serialize};

/// Whether a movie exists (live: not deleted) and what it is. Internal: not on the wire.
pub const LOOKUP: Service<Lookup, Found> = Service::new("movies.lookup");

/// Whether content with this MD5 is already a live movie (admins).
pub const CHECK: Service<Check, Checked> = Service::new("movies.check");

/// Stores the caller's payload as a movie (admins); call with `Ctx::call_with_upload`.
pub const UPLOAD: Service<Upload, Uploaded> = Service::new("movies.upload");

/// Deletes a movie (admins); `not_found` when unknown or deleted.
pub const DELETE: Service<MovieId, Deleted> = Service::new("movies.delete");

/// Buys a charged movie; `conflict` when already bought, `bad_args` for a free one.
pub const BUY: Service<MovieId, Purchase> = Service::new("movies.buy");

/// A movie's bytes (the reply's body), held for the free-download wait where it applies;
/// `payment_required` for a charged movie not bought. Call with `Ctx::call_output`.
pub const DOWNLOAD: Service<Download, Downloading> = Service::new("movies.download");

/// One page of the catalogue, newest first.
pub const LIST: Service<ListQuery, Vec<Listed>> = Service::new("movies.list");

/// One page of the caller's download records, newest first.
pub const RECORDS: Service<Page, Vec<Record>> = Service::new("movies.records");

/// Request naming one movie.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MovieId {
    /// The movie's id.
    pub movie_id: u64,
}

/// Request of [`LOOKUP`].
pub type Lookup = MovieId;

/// Reply of [`LOOKUP`]. When `exists` is false the other fields are empty (`""`, `false`, 0).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Found {
    /// The movie is in the catalogue (not deleted). A damaged one still exists.
    pub exists: bool,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// Free movies need no purchase.
    #[serde(default)]
    pub free: bool,
    /// Bytes.
    #[serde(default)]
    pub size: u64,
    /// Lower-case hex MD5 of the content.
    #[serde(default)]
    pub md5: String,
}

/// Request of [`CHECK`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// 32 hex digits.
    pub md5: String,
}

/// Reply of [`CHECK`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checked {
    /// A live movie has this content.
    pub exists: bool,
    /// Its id.
    pub id: Option<i64>,
}

/// Request of [`UPLOAD`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upload {
    /// The file name the uploader gave.
    pub name: String,
    /// Free or charged.
    pub free: bool,
    /// MD5 of the whole file, when the caller has it.
    pub md5: Option<String>,
}

/// Reply of [`UPLOAD`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Uploaded {
    /// The movie's id.
    pub id: i64,
    /// Display name.
    pub name: String,
    /// MD5 of the stored content.
    pub md5: String,
    /// Bytes.
    pub size: u64,
    /// The content was a deleted or damaged movie, now back.
    pub restored: bool,
}

/// Reply of [`DELETE`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deleted {
    /// The movie's id.
    pub id: i64,
    /// Its name.
    pub name: String,
}

/// Reply of [`BUY`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Purchase {
    /// The movie bought.
    pub movie_id: i64,
    /// The price charged.
    pub amount: u64,
}

/// Request of [`DOWNLOAD`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Download {
    /// The movie's id.
    pub movie_id: u64,
    /// Bytes already held (resume); `None` from the start.
    pub offset: Option<u64>,
}

/// Reply of [`DOWNLOAD`] (its bytes are the `Output`'s body).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Downloading {
    /// Display name, for the file saved.
    pub name: String,
    /// The whole file's size.
    pub size: u64,
    /// Seconds the reply is held.
    pub wait_s: u64,
}

/// Request of [`LIST`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListQuery {
    /// `all`, `free` or `charge`.
    pub kind: Option<String>,
    /// Rows at most.
    pub limit: Option<u64>,
    /// Rows skipped.
    pub offset: Option<u64>,
}

/// One row of [`LIST`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listed {
    /// The movie's id.
    pub id: i64,
    /// Display name.
    pub name: String,
    /// Free or charged.
    pub free: bool,
    /// Bytes.
    pub size: u64,
    /// MD5 of the content.
    pub md5: String,
}

/// Paging of a list request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    /// Rows at most.
    pub limit: Option<u64>,
    /// Rows skipped.
    pub offset: Option<u64>,
}

/// One row of [`RECORDS`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The record's id (in download order).
    pub id: i64,
    /// The movie's name.
    pub name: String,
}
