//! `movies.check` and `movies.upload`: the admin's two-step upload, as in the original client
//! (ask whether the content is already there, then send it).

use std::io::Read;

use kino_api::log;
use kino_api::serde_json::{json, Value};
use kino_api::{
    clock, params, BlobError, BlobInfo, BlobWriter, CmdError, Command, CommandArgs, Ctx, Database,
    Output, Role,
};

use crate::movie::{blob_intact, check_md5, find, find_by_md5, Movie};
use crate::name::display_name;
use crate::resume;

/// Bytes copied per read from the upload pipe into the blob writer.
const COPY_CHUNK: usize = 256 * 1024;

/// `movies.check` (md5) → `{exists, id}`.
///
/// Wire form: `{"type":"movies.check","md5":"<32 hex>"}` → `{"exists": true, "id": 3}` or
/// `{"exists": false, "id": null}`. A deleted or damaged movie does not exist here: uploading
/// its content brings it back. Errors: `forbidden` (not an admin), `bad_args` (not 32 hex digits).
pub fn check_command() -> Command {
    Command::new(
        "movies.check",
        "Whether content with this MD5 is already in the library",
        check,
    )
    .role(Role::Admin)
}

/// `movies.check`'s arguments.
#[derive(CommandArgs)]
pub struct Check {
    /// MD5 of the whole file, 32 hex digits
    #[arg(max_len = 32)]
    md5: String,
}

/// `movies.upload` (name, md5, free; `file_size` bytes follow) →
/// `{id, name, free, size, md5, uploaded_at, restored}`.
///
/// Wire form: `{"type":"movies.upload","name":"C:\\films\\a.mp4","md5":"…","free":true,
/// "file_size":N}` then N bytes. The bytes stream into a temporary file while their MD5 is
/// computed; only a complete file whose digest matches `md5` is moved into the blob store, and
/// only then is the row committed, so no row ever points at a partial file. `restored` is true
/// when the content belonged to a deleted or damaged movie, which comes back (repaired) with the
/// new name and `free`.
///
/// `md5` may be left out by a client that has no full-file MD5 (the legacy plugin's
/// `update_movie`: the original client sends only a sampled fingerprint). The content is then
/// keyed by the MD5 computed while receiving, and the duplicate check happens only when
/// committing. Native clients should declare it: it catches corruption in transit.
///
/// Resumable: with `upload_id` (32 hex digits the client picks) the bytes stored survive a
/// cut-off; `movies.upload_status` says how many, and the same request with `offset` set to
/// that and the remaining bytes as payload finishes it (see [`crate::resume`]).
///
/// Errors: `forbidden` (not an admin); `bad_args` (bad name, bad `md5`, empty file, digest
/// mismatch, fewer bytes than declared); `conflict` (the content is already a movie: checked
/// before any byte is stored and again when committing, for two racing uploads); `too_large`
/// (over `--max-upload`, or the disk has no room: refused before any byte is written).
pub fn upload_command() -> Command {
    Command::new(
        "movies.upload",
        "Upload a movie (the file's bytes follow)",
        upload,
    )
    .role(Role::Admin)
    .upload()
    .file_name("name")
}

/// `movies.upload`'s arguments.
#[derive(CommandArgs)]
pub struct Upload {
    /// the file name; only its last path component is kept
    name: String,
    /// MD5 of the whole file, 32 hex digits (checked when given)
    md5: Option<String>,
    /// true: free to download; false: must be bought
    free: bool,
    /// 32 hex digits naming a resumable upload (the client picks it)
    #[arg(max_len = 32)]
    upload_id: Option<String>,
    /// with upload_id: bytes already stored (movies.upload_status); the payload is the rest
    offset: Option<u64>,
}

fn check(ctx: &mut Ctx, args: Check) -> Result<Output, CmdError> {
    let md5 = check_md5(&args.md5)?;
    let live = find_intact(ctx, &md5)?;
    Ok(json!({"exists": live.is_some(), "id": live.map(|m| m.id)}).into())
}

/// The live movie with this content, unless it is damaged (then its content is welcome again:
/// uploading it repairs the movie).
fn find_intact(ctx: &mut Ctx, md5: &str) -> Result<Option<Movie>, CmdError> {
    match find_by_md5(ctx.db(), md5)? {
        Some(m) if !m.deleted && !m.damaged && blob_intact(ctx, &m)? => Ok(Some(m)),
        _ => Ok(None),
    }
}

fn upload(ctx: &mut Ctx, args: Upload) -> Result<Output, CmdError> {
    let name = display_name(&args.name)?;
    let md5 = args.md5.as_deref().map(check_md5).transpose()?;
    let free = args.free;
    let uploader = ctx.user()?.clone();
    let (payload, len) = ctx
        .take_upload()
        .ok_or_else(|| CmdError::internal("movies.upload ran without its payload"))?;
    let resumed = resume::begin(
        ctx,
        (args.upload_id.as_deref(), args.offset),
        (&name, md5.as_deref(), free),
        &uploader,
        len,
    )?;
    let (open, mut lease) = match resumed {
        Some((open, lease)) => (Some(open), Some(lease)),
        None => (None, None),
    };
    let stored = store(
        ctx,
        (payload, len),
        open.as_ref(),
        lease.as_mut(),
        (name, md5, free),
    );
    // Given back however the request ends; a node that dies here lets it lapse instead.
    if let Some(lease) = lease {
        lease.release(ctx.db());
    }
    let (name, stored, free) = stored?;
    let committed = ctx
        .db()
        .transaction(|db| commit_row(db, &name, &stored, free, uploader.user_id));
    if let Some(open) = &open {
        resume::end(ctx, &open.id);
    }
    let (movie, restored) = committed?;
    log::info!(
        "{} {} movie {} `{}` ({} bytes, {})",
        uploader.name,
        if restored { "restored" } else { "uploaded" },
        movie.id,
        movie.name,
        movie.size,
        if movie.free { "free" } else { "charged" }
    );
    let mut reply = movie.to_json();
    if let Value::Object(m) = &mut reply {
        m.insert("restored".into(), json!(restored));
    }
    // Committed: listeners (script plugins' `on("movies.uploaded", ...)`) see the movie.
    ctx.emit("movies.uploaded", reply.clone());
    Ok(reply.into())
}

/// Writes the payload (a whole upload, or the rest of the resumable upload `open` under its
/// `lease`) and checks it; returns the name, what was stored and `free` to commit.
fn store(
    ctx: &mut Ctx,
    (payload, len): (&mut (dyn Read + Send), u64),
    open: Option<&resume::Open>,
    mut lease: Option<&mut resume::Lease>,
    (name, md5, free): (String, Option<String>, bool),
) -> Result<(String, BlobInfo, bool), CmdError> {
    let (name, md5, free, total) = match open {
        Some(open) => (open.name.clone(), open.md5.clone(), open.free, open.size),
        None => (name, md5, free, len),
    };
    if total == 0 {
        return Err(CmdError::bad_args("the file is empty"));
    }
    if let Some(md5) = &md5 {
        if let Some(live) = find_intact(ctx, md5)? {
            if let Some(open) = open {
                resume::end(ctx, &open.id);
            }
            return Err(already_there(&live));
        }
    }
    let mut writer = match open {
        Some(open) => ctx.blobs().resume(&open.id, total, open.offset)?,
        None => ctx.blobs().create(len)?,
    };
    let mut keep = || match lease.as_deref_mut() {
        Some(lease) => lease.keep(ctx.db()),
        None => Ok(()),
    };
    copy_payload(payload, &mut *writer, len, &mut keep).map_err(|e| match open {
        Some(open) => CmdError::new(
            e.code,
            format!(
                "{}; resume with upload_id {} from the offset movies.upload_status gives",
                e.message, open.id
            ),
        ),
        None => e,
    })?;
    match writer.finish(total, md5.as_deref()) {
        Ok(stored) => Ok((name, stored, free)),
        Err(e) => {
            if let Some(open) = open {
                if !resume::resumable(&e) {
                    resume::end(ctx, &open.id);
                }
            }
            Err(e.into())
        }
    }
}

fn already_there(movie: &Movie) -> CmdError {
    CmdError::conflict(format!(
        "this content is already movie {} `{}`",
        movie.id, movie.name
    ))
}

/// Streams `len` payload bytes into the blob writer, calling `keep` (the lease's renewal)
/// between chunks. A read failure means the client went away mid-upload; dropping the writer
/// (on return) removes the temporary file.
fn copy_payload(
    payload: &mut (dyn Read + Send),
    writer: &mut dyn BlobWriter,
    len: u64,
    keep: &mut dyn FnMut() -> Result<(), CmdError>,
) -> Result<(), CmdError> {
    let mut buf = vec![0u8; COPY_CHUNK];
    let mut copied = 0u64;
    while copied < len {
        let want = COPY_CHUNK.min((len - copied) as usize);
        let n = match payload.read(&mut buf[..want]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(CmdError::bad_args(format!(
                    "the upload stopped after {copied} of {len} bytes: {e}"
                )))
            }
        };
        writer.write_all(&buf[..n]).map_err(|e| match e.kind() {
            // The disk filled up after the space check: `unavailable`, like every full write.
            std::io::ErrorKind::StorageFull => CmdError::from(BlobError::Io(e)),
            _ => CmdError::internal(format!("writing an upload: {e}")),
        })?;
        copied += n as u64;
        keep()?;
    }
    Ok(())
}

/// Inserts the row for stored content, or brings a deleted row with that content back.
fn commit_row(
    db: &mut dyn Database,
    name: &str,
    stored: &BlobInfo,
    free: bool,
    uploader_id: i64,
) -> Result<(Movie, bool), CmdError> {
    let now = clock::now_rfc3339();
    let (id, restored) =
        match find_by_md5(db, &stored.md5)? {
            Some(live) if !live.deleted && !live.damaged => return Err(already_there(&live)),
            Some(deleted) => {
                db.execute(
                "UPDATE movies SET name = ?, free = ?, size = ?, deleted = 0, deleted_at = NULL,
                        damaged = 0, uploader_id = ?, uploaded_at = ?
                 WHERE id = ?",
                params![name, free, stored.size, uploader_id, now.as_str(), deleted.id],
            )?;
                (deleted.id, true)
            }
            None => {
                let id = db.insert(
                    "INSERT INTO movies (name, md5, size, free, uploader_id, uploaded_at)
                 VALUES (?, ?, ?, ?, ?, ?)",
                    params![
                        name,
                        stored.md5.as_str(),
                        stored.size,
                        free,
                        uploader_id,
                        now.as_str()
                    ],
                )?;
                (id, false)
            }
        };
    let movie = find(db, id)?
        .ok_or_else(|| CmdError::internal(format!("movie {id} vanished inside its transaction")))?;
    Ok((movie, restored))
}
