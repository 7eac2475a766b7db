//! The `notices` table: one row per published notice; ids grow, so "newest first" is by id.

use kino_api::serde_json::{json, Value};
use kino_api::{params, Database, DbError, Row};

/// Columns in the order [`Notice::from_row`] reads them.
pub const COLUMNS: &str = "id, title, content, author, created_at";

/// One notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// Row id.
    pub id: i64,
    /// One line.
    pub title: String,
    /// The text; may span lines.
    pub content: String,
    /// Name of the admin who published it.
    pub author: String,
    /// RFC 3339.
    pub created_at: String,
}

impl Notice {
    /// Reads a row selected with [`COLUMNS`].
    pub fn from_row(r: &Row) -> Result<Notice, DbError> {
        Ok(Notice {
            id: r.i64(0)?,
            title: r.string(1)?,
            content: r.string(2)?,
            author: r.string(3)?,
            created_at: r.string(4)?,
        })
    }

    /// The wire form: `{id, title, content, author, created_at}`.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "title": self.title,
            "content": self.content,
            "author": self.author,
            "created_at": self.created_at,
        })
    }
}

/// The newest notice, if any.
pub fn newest(db: &mut dyn Database) -> Result<Option<Notice>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM notices ORDER BY id DESC LIMIT 1");
    db.query(&sql, params![])?
        .first()
        .map(Notice::from_row)
        .transpose()
}
