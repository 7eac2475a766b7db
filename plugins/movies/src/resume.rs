//! Resumable uploads: `movies.upload` with an `upload_id` the client chose, and
//! `movies.upload_status`.
//!
//! The first request (offset 0) records the upload (who, name, MD5, `free`, total size) in the
//! `movies_uploads` table; the bytes go to a resumable write of core's blob store (the local store's
//! `tmp/partial-<id>`, or an S3 multipart upload), which keeps what it stored when the
//! connection, the client or the server fails. `movies.upload_status` tells how many bytes are
//! stored; `movies.upload` with the same `upload_id` and that `offset` sends the rest, on any
//! server sharing the database and the store. Name, MD5 and `free` are the first request's.
//!
//! Uploads idle longer than `--upload-expiry` seconds are dropped (row and stored bytes) by the
//! next upload or status request; a user has at most `--max-open-uploads` at once.
//!
//! One request writes an upload at a time, on every server sharing the database: the writer
//! holds a lease in the upload's row (`writer`, `writer_until`), renewed while bytes arrive and
//! given back when the request ends, so a resume sent through another node while the first
//! connection still streams is `busy` instead of writing beside it. A node that dies mid-upload
//! holds the lease `--upload-lease` seconds at most.

use std::collections::HashSet;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use kino_api::serde_json::json;
use kino_api::{
    clock, params, valid_key, BlobError, CmdError, Command, CommandArgs, Ctx, Database, ErrorCode,
    Identity, Output, Role, Setting,
};

/// Longest `--upload-expiry`: a week.
pub const MAX_EXPIRY_S: u64 = 7 * 86_400;

/// Setting: seconds an unfinished resumable upload is kept after its last request.
pub const UPLOAD_EXPIRY: Setting<u64> = Setting::new(
    "upload-expiry",
    "Seconds an unfinished resumable upload is kept after its last request (at most 604800)",
    86_400,
);
/// Setting: unfinished resumable uploads one user may have at once.
pub const MAX_OPEN_UPLOADS: Setting<u64> = Setting::new(
    "max-open-uploads",
    "Unfinished resumable uploads one user may have at once",
    4,
);

/// Uploads being written by this server right now: a second connection resuming the same one
/// is refused with `busy` instead of writing beside it (without a database round trip).
static WRITING: LazyLock<Mutex<HashSet<String>>> = LazyLock::new(Mutex::default);

/// Setting: seconds a writer's lease on a resumable upload lasts unless renewed (renewed every
/// third of that while bytes arrive).
pub const UPLOAD_LEASE: Setting<u64> = Setting::new(
    "upload-lease",
    "Seconds a resumable upload stays claimed by a server that stopped renewing it (died, or its client stalled); at most 3600",
    10,
);
/// Longest `--upload-lease`: an hour.
pub const MAX_LEASE_S: u64 = 3600;

/// An open resumable upload, as recorded by its first request.
#[derive(Debug, Clone)]
pub struct Open {
    /// The client's id (32 lower-case hex digits).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Declared MD5, if any.
    pub md5: Option<String>,
    /// Free to download.
    pub free: bool,
    /// Total bytes.
    pub size: u64,
    /// Where this request continues.
    pub offset: u64,
}

/// This server's claim on an upload; dropping it lets another request on this server write it.
struct Claim(String);

impl Drop for Claim {
    fn drop(&mut self) {
        WRITING
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.0);
    }
}

/// This request's lease on writing an upload, held in its row for every server to see.
pub struct Lease {
    id: String,
    token: String,
    /// `--upload-lease` in seconds.
    secs: i64,
    renewed: Instant,
    _local: Claim,
}

impl Lease {
    /// Renews the lease when a third of it has passed; `busy` when another request has taken
    /// it (this one stalled past the lease).
    pub fn keep(&mut self, db: &mut dyn Database) -> Result<(), CmdError> {
        let every = Duration::from_secs(u64::try_from(self.secs).unwrap_or(0)) / 3;
        if self.renewed.elapsed() < every {
            return Ok(());
        }
        let now = clock::unix_now();
        let kept = db.execute(
            "UPDATE movies_uploads SET writer_until = ?, touched_at = ? WHERE id = ? AND writer = ?",
            params![now + self.secs, now, self.id.as_str(), self.token.as_str()],
        )?;
        if kept == 0 {
            return Err(taken());
        }
        self.renewed = Instant::now();
        Ok(())
    }

    /// Gives the lease back (the row may be gone already: committed or refused).
    pub fn release(self, db: &mut dyn Database) {
        let released = db.execute(
            "UPDATE movies_uploads SET writer = NULL, writer_until = 0 WHERE id = ? AND writer = ?",
            params![self.id.as_str(), self.token.as_str()],
        );
        if let Err(e) = released {
            kino_api::log::warn!(
                "upload {}: could not give its lease back ({e}); it lapses in {} s",
                self.id,
                self.secs
            );
        }
    }
}

fn taken() -> CmdError {
    CmdError::new(
        ErrorCode::Busy,
        "this upload is being written through another connection (or server); try again in a \
         moment, from the offset movies.upload_status gives",
    )
}

/// A fresh lease token: 128 random bits.
fn token() -> Result<String, CmdError> {
    let mut raw = [0u8; 16];
    getrandom::fill(&mut raw).map_err(|e| CmdError::internal(format!("no randomness: {e}")))?;
    Ok(raw.iter().map(|b| format!("{b:02x}")).collect())
}

fn claim(id: &str) -> Result<Claim, CmdError> {
    let mut writing = WRITING.lock().unwrap_or_else(|p| p.into_inner());
    if !writing.insert(id.to_owned()) {
        return Err(CmdError::new(
            ErrorCode::Busy,
            "this upload is still being written by an earlier request; try again in a moment",
        ));
    }
    Ok(Claim(id.to_owned()))
}

/// `movies.upload_status` (upload_id) → `{upload_id, name, size, stored, expires_in}`.
///
/// `stored` is how many bytes are safely stored: resume with `offset` = `stored`. Errors:
/// `not_found` (no such open upload of yours: finished, expired or never started).
pub fn status_command() -> Command {
    Command::new(
        "movies.upload_status",
        "How many bytes of a resumable upload are stored",
        status,
    )
    .role(Role::Admin)
}

/// `movies.upload_status`'s arguments.
#[derive(CommandArgs)]
pub struct UploadStatus {
    /// the id given to movies.upload, 32 hex digits
    #[arg(max_len = 32)]
    upload_id: String,
}

fn check_id(id: &str) -> Result<String, CmdError> {
    let id = id.to_ascii_lowercase();
    if !valid_key(&id) {
        return Err(CmdError::bad_args("upload_id must be 32 hex digits"));
    }
    Ok(id)
}

fn expiry(ctx: &Ctx) -> i64 {
    i64::try_from(ctx.setting(UPLOAD_EXPIRY)).unwrap_or(i64::MAX)
}

/// Drops uploads idle past the expiry, with what they stored.
pub fn sweep(ctx: &mut Ctx) -> Result<(), CmdError> {
    let cutoff = clock::unix_now().saturating_sub(expiry(ctx));
    let rows = ctx.db().query(
        "SELECT id FROM movies_uploads WHERE touched_at < ? AND writer_until < ?",
        params![cutoff, clock::unix_now()],
    )?;
    for row in rows {
        let id = row.string(0)?;
        let Ok(_claim) = claim(&id) else { continue };
        ctx.blobs().abandon(&id)?;
        ctx.db().execute(
            "DELETE FROM movies_uploads WHERE id = ?",
            params![id.as_str()],
        )?;
        kino_api::log::info!("expired the unfinished upload {id}");
    }
    Ok(())
}

fn find(db: &mut dyn Database, id: &str, user: i64) -> Result<Option<Open>, CmdError> {
    let row = db.query_one(
        "SELECT name, md5, free, size FROM movies_uploads WHERE id = ? AND user_id = ?",
        params![id, user],
    )?;
    let Some(r) = row else { return Ok(None) };
    Ok(Some(Open {
        id: id.to_owned(),
        name: r.string(0)?,
        md5: r.opt_str(1)?.map(str::to_owned),
        free: r.bool(2)?,
        size: u64::try_from(r.i64(3)?).unwrap_or(0),
        offset: 0,
    }))
}

fn not_open(id: &str) -> CmdError {
    CmdError::not_found(format!(
        "no open upload {id} of yours (finished, expired or never started)"
    ))
}

fn status(ctx: &mut Ctx, args: UploadStatus) -> Result<Output, CmdError> {
    let id = check_id(&args.upload_id)?;
    let user = ctx.user()?.user_id;
    sweep(ctx)?;
    let open = find(ctx.db(), &id, user)?.ok_or_else(|| not_open(&id))?;
    let stored = ctx.blobs().upload_stored(&id)?.unwrap_or(0);
    let touched = ctx
        .db()
        .query_one(
            "SELECT touched_at FROM movies_uploads WHERE id = ?",
            params![id.as_str()],
        )?
        .map(|r| r.i64(0))
        .transpose()?
        .unwrap_or(0);
    let expires_in = (touched + expiry(ctx) - clock::unix_now()).max(0);
    Ok(json!({
        "upload_id": id,
        "name": open.name,
        "size": open.size,
        "stored": stored,
        "expires_in": expires_in,
    })
    .into())
}

/// For a `movies.upload` with `upload_id`: records a new upload (offset 0) or finds the
/// caller's open one and checks `offset` + the payload's `len` is its size; returns it with
/// this request's lease on writing it.
pub fn begin(
    ctx: &mut Ctx,
    (upload_id, offset): (Option<&str>, Option<u64>),
    fresh: (&str, Option<&str>, bool),
    who: &Identity,
    len: u64,
) -> Result<Option<(Open, Lease)>, CmdError> {
    let Some(raw) = upload_id else {
        return Ok(None);
    };
    let id = check_id(raw)?;
    let offset = offset.unwrap_or(0);
    sweep(ctx)?;
    let claimed = claim(&id)?;
    let token = token()?;
    let secs = i64::try_from(ctx.setting(UPLOAD_LEASE)).unwrap_or(1);
    let now = clock::unix_now();
    let open = match find(ctx.db(), &id, who.user_id)? {
        Some(mut open) => {
            if offset.checked_add(len) != Some(open.size) {
                return Err(CmdError::bad_args(format!(
                    "offset {offset} + {len} bytes sent is not the upload's size {}",
                    open.size
                )));
            }
            open.offset = offset;
            open
        }
        None if offset > 0 => return Err(not_open(&id)),
        None => {
            let (name, md5, free) = fresh;
            if len == 0 {
                return Err(CmdError::bad_args("the file is empty"));
            }
            let max = ctx.setting(MAX_OPEN_UPLOADS);
            let mine = ctx.db().count(
                "SELECT COUNT(*) FROM movies_uploads WHERE user_id = ?",
                params![who.user_id],
            )?;
            if mine >= max {
                return Err(CmdError::new(
                    ErrorCode::Busy,
                    format!(
                        "you have {mine} unfinished movies_uploads (the limit, --max-open-uploads); \
                         finish one or let it expire"
                    ),
                ));
            }
            // An id another user holds is refused like a taken name (the primary key).
            ctx.db().execute(
                "INSERT INTO movies_uploads (id, user_id, name, md5, free, size, started_at, touched_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                params![id.as_str(), who.user_id, name, md5, free, len, now, now],
            )?;
            Open {
                id: id.clone(),
                name: name.to_owned(),
                md5: md5.map(str::to_owned),
                free,
                size: len,
                offset: 0,
            }
        }
    };
    let leased = ctx.db().execute(
        "UPDATE movies_uploads SET touched_at = ?, writer = ?, writer_until = ?
         WHERE id = ? AND writer_until < ?",
        params![now, token.as_str(), now + secs, id.as_str(), now],
    )?;
    if leased == 0 {
        return Err(taken());
    }
    let lease = Lease {
        id,
        token,
        secs,
        renewed: Instant::now(),
        _local: claimed,
    };
    Ok(Some((open, lease)))
}

/// Ends an upload whose content was refused or committed: its row and stored bytes go.
pub fn end(ctx: &mut Ctx, id: &str) {
    if let Err(e) = ctx.blobs().abandon(id) {
        kino_api::log::warn!("upload {id}: could not drop its stored bytes: {e}");
    }
    if let Err(e) = ctx
        .db()
        .execute("DELETE FROM movies_uploads WHERE id = ?", params![id])
    {
        kino_api::log::warn!("upload {id}: could not drop its row: {e}");
    }
}

/// Whether a failed finish leaves the upload worth resuming (bytes missing, or the store
/// failing) rather than refused for good (wrong content).
pub fn resumable(e: &BlobError) -> bool {
    !matches!(e, BlobError::DigestMismatch { .. } | BlobError::BadKey)
}
