//! The notices plugin's contract, for plugins that re-shape its commands (the legacy plugin).
//! The `notices` table stays private to the notices plugin.

use kino_api::Service;
use serde::{Deserialize, Serialize};

/// Publishes a notice (admins).
pub const PUBLISH: Service<Publish, Notice> = Service::new("notices.publish");

/// One page of notices, newest first.
pub const LIST: Service<Page, Vec<Notice>> = Service::new("notices.list");

/// Request of [`PUBLISH`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Publish {
    /// One line.
    pub title: String,
    /// The text.
    pub content: String,
}

/// A notice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// Its id, in publishing order.
    pub id: i64,
    /// One line.
    pub title: String,
    /// The text.
    pub content: String,
}

/// Paging of [`LIST`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    /// Rows at most.
    pub limit: Option<u64>,
    /// Rows skipped.
    pub offset: Option<u64>,
}
