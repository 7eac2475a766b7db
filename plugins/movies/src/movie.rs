//! The `movies` table: one row per distinct content (MD5 is UNIQUE). Deleting is soft, as in
//! the original: the row stays so download records keep their movie names, and uploading the
//! same content again brings the row back.
//!
//! A movie is `damaged` when its file is missing, of another size than recorded, or no longer
//! has its MD5 (found by core's blob store while streaming it). A damaged movie is hidden from
//! listings and refused to buyers and downloaders; admins see it in `movies.stats`; uploading
//! its content again repairs it. Files are checked cheaply (their size) whenever a movie is
//! listed, fetched, bought or downloaded, and fully (their MD5) whenever one is downloaded.

use kino_api::serde_json::{json, Value};
use kino_api::{log, params, CmdError, CommandArgs, Ctx, Database, DbError, ErrorCode, Row};

/// The arguments of the commands that name one movie (`movies.get`, `movies.buy`,
/// `movies.delete`).
#[derive(CommandArgs)]
pub struct MovieRef {
    /// the movie's id (`id` in movies.list)
    pub movie_id: u64,
}

/// Columns in the order [`Movie::from_row`] reads them.
pub const COLUMNS: &str = "id, name, md5, size, free, deleted, uploaded_at, damaged";

/// One movie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Movie {
    /// Row id, the `id` every command takes.
    pub id: i64,
    /// Display name (the last component of the uploader's file name).
    pub name: String,
    /// Lower-case hex MD5 of the content: its key in the blob store.
    pub md5: String,
    /// Bytes.
    pub size: u64,
    /// Free movies need no purchase (but non-VIP users wait before the download starts).
    pub free: bool,
    /// Soft-deleted: hidden from listings, downloads and purchases.
    pub deleted: bool,
    /// RFC 3339; also when a deleted movie was brought back.
    pub uploaded_at: String,
    /// Its file is missing or altered: hidden and refused until uploaded again.
    pub damaged: bool,
}

impl Movie {
    /// Reads a row selected with [`COLUMNS`].
    pub fn from_row(r: &Row) -> Result<Movie, DbError> {
        Ok(Movie {
            id: r.i64(0)?,
            name: r.string(1)?,
            md5: r.string(2)?,
            size: u64::try_from(r.i64(3)?).map_err(|_| DbError::Type {
                index: 3,
                expected: "non-negative integer",
            })?,
            free: r.bool(4)?,
            deleted: r.bool(5)?,
            uploaded_at: r.string(6)?,
            damaged: r.bool(7)?,
        })
    }

    /// The listing form: `{id, name, free, size, md5, uploaded_at}`.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "free": self.free,
            "size": self.size,
            "md5": self.md5,
            "uploaded_at": self.uploaded_at,
        })
    }
}

/// The movie with this id, deleted or not.
pub fn find(db: &mut dyn Database, id: i64) -> Result<Option<Movie>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM movies WHERE id = ?");
    db.query(&sql, params![id])?
        .first()
        .map(Movie::from_row)
        .transpose()
}

/// The movie with this content, deleted or not.
pub fn find_by_md5(db: &mut dyn Database, md5: &str) -> Result<Option<Movie>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM movies WHERE md5 = ?");
    db.query(&sql, params![md5])?
        .first()
        .map(Movie::from_row)
        .transpose()
}

/// The movie with the id a request gave, or `not_found` when it does not exist or is deleted
/// (a deleted movie is gone for every command but the records and statistics).
pub fn find_live(db: &mut dyn Database, id: u64) -> Result<Movie, CmdError> {
    let missing = || CmdError::not_found(format!("no movie {id}"));
    let id = i64::try_from(id).map_err(|_| missing())?;
    match find(db, id)? {
        Some(m) if !m.deleted => Ok(m),
        _ => Err(missing()),
    }
}

/// The movie with the id a request gave, if a user may buy or download it: live, not damaged,
/// and its file stored at its size (checked now; a missing or resized file marks it damaged).
pub fn find_servable(ctx: &mut Ctx, id: u64) -> Result<Movie, CmdError> {
    let movie = find_live(ctx.db(), id)?;
    if movie.damaged || !blob_intact(ctx, &movie)? {
        return Err(damaged(&movie));
    }
    Ok(movie)
}

/// The refusal for a damaged movie.
pub fn damaged(movie: &Movie) -> CmdError {
    CmdError::new(
        ErrorCode::Unavailable,
        format!(
            "movie {} is damaged on the server (its file is missing or altered): it cannot be \
             bought or downloaded until an admin uploads it again",
            movie.id
        ),
    )
}

/// Whether the movie's file is stored at its recorded size. When it is not, what is there is
/// moved to quarantine and the movie is marked damaged.
pub fn blob_intact(ctx: &mut Ctx, movie: &Movie) -> Result<bool, CmdError> {
    // A store that cannot answer (S3 down) is `unavailable`, not a reason to mark anything.
    let why = match ctx.blobs().stat(&movie.md5)? {
        Some(size) if size == movie.size => return Ok(true),
        Some(size) => {
            if let Err(e) = ctx.blobs().quarantine(&movie.md5) {
                log::error!("quarantining blob {}: {e}", movie.md5);
            }
            format!("its file is {size} bytes, not {}", movie.size)
        }
        None => "its file is missing".to_owned(),
    };
    mark_damaged(ctx.db(), movie, &why)?;
    Ok(false)
}

/// Marks a movie damaged, with a log line saying why.
pub fn mark_damaged(db: &mut dyn Database, movie: &Movie, why: &str) -> Result<(), CmdError> {
    log::error!(
        "movie {} `{}` ({}) is damaged: {why}",
        movie.id,
        movie.name,
        movie.md5
    );
    db.execute(
        "UPDATE movies SET damaged = 1 WHERE id = ?",
        params![movie.id],
    )?;
    Ok(())
}

/// Checks a client's MD5 (32 hex digits, any case) and returns it in lower case, the form the
/// blob store and the table use.
pub fn check_md5(md5: &str) -> Result<String, CmdError> {
    if md5.len() == 32 && md5.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(md5.to_ascii_lowercase())
    } else {
        Err(CmdError::bad_args("md5 must be 32 hexadecimal digits"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_keys_are_normalised() {
        assert_eq!(
            check_md5("5D41402ABC4B2A76B9719D911017C592")
                .ok()
                .as_deref(),
            Some("5d41402abc4b2a76b9719d911017c592")
        );
        assert!(check_md5("5d41402abc4b2a76b9719d911017c59").is_err());
        assert!(check_md5("../../5d41402abc4b2a76b9719d91101").is_err());
    }
}
