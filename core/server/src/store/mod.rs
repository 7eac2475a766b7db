//! Persistent state behind small interfaces: the SQL database ([`sqlite`], or [`pg`] when
//! `--database` names PostgreSQL; [`backend`] picks), its per-plugin
//! migrations ([`migrate`]), the content-addressed blob store ([`blobs`]), reading blobs checked
//! against their keys ([`verify`]), start-up checks of the database ([`preflight`]) and the
//! operator's fsck ([`check`]), and which plugin may touch which table ([`guard`]).

pub mod backend;
pub mod blobs;
pub mod check;
pub mod guard;
pub mod lock;
pub mod migrate;
pub mod pg;
pub mod preflight;
pub mod sqlite;
pub mod verify;

pub use backend::{AnyDb, DbUrl};
pub use blobs::FsBlobStore;
pub use sqlite::SqliteDb;
