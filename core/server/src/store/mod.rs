//! Persistent state behind small interfaces: the SQL database ([`sqlite`]), its per-plugin
//! migrations ([`migrate`]) and the content-addressed blob store ([`blobs`]).

pub mod blobs;
pub mod migrate;
pub mod sqlite;

pub use blobs::FsBlobStore;
pub use sqlite::SqliteDb;
