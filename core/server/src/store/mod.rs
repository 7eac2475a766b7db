//! Persistent state behind small interfaces: the SQL database ([`sqlite`]), its per-plugin
//! migrations ([`migrate`]), the content-addressed blob store ([`blobs`]), reading blobs checked
//! against their keys ([`verify`]) and the operator's fsck ([`check`]).

pub mod blobs;
pub mod check;
pub mod migrate;
pub mod sqlite;
pub mod verify;

pub use blobs::FsBlobStore;
pub use sqlite::SqliteDb;
