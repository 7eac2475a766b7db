//! The movie request types, onto the movies plugin's commands.
//!
//! - `check_movie` (`file_md5`) → `{"flag": true, "msg": "可以上传"}` when the upload may go
//!   ahead, `{"flag": false, "msg": "该电影已存在"}` when the content is there. Admins only.
//! - `update_movie` (`file_name`, `file_size`, `file_md5`, `is_free`; then the bytes) →
//!   `{"flag": true, "msg": "上传成功"}`. Admins only.
//! - `get_movie_list` (`movie_type`: all, free, charge) →
//!   `{"flag": true, "msg": ..., "movie_list": [[name, "免费"|"收费", id], ...]}`, oldest first
//!   as the original listed them; none: `{"flag": false, "msg": "暂无影片"}`.
//! - `delete_movie` (`movie_id`) → `{"flag": true, "msg": "删除成功"}`. Admins only.
//! - `download_movie` (`movie_id`; the original's `movie_type` is ignored: the movie itself says
//!   whether it is free) → `{"flag": true, "msg": ..., "file_name", "file_size",
//!   "wait_time": 0}` followed by `file_size` bytes.
//! - `download_movie_record` → `{"flag": true, "msg": ..., "back_record_list": [name, ...]}`;
//!   none: `{"flag": false, "msg": "暂无下载记录"}`.
//!
//! The original client's `file_md5` is not the MD5 of the file: it is the MD5 of 10 bytes read
//! at four offsets (0, size/3, 2·size/3, size-10). The movies plugin keys content by its real
//! MD5, computed while the bytes arrive, so this plugin keeps its own table
//! `legacy_fingerprints(fingerprint → movie_id, md5)`: `check_movie` finds the content a
//! fingerprint stands for and asks `movies.check` whether it is still in the library (a deleted
//! movie counts as absent, so uploading it again brings it back, as `movies.upload` does).
//! `update_movie` uploads without declaring an MD5 (the legacy client has none) and records the
//! fingerprint of what was stored.
//!
//! Downloads: the free-download wait is enforced by `movies.download`, which holds its reply on
//! the server; the reply says `wait_time: 0` so an old client neither skips nor doubles it. A
//! charged movie the caller has not bought is bought first, through `movies.buy` (the original
//! client asks its user to confirm the price before it sends `download_movie`, and the original
//! server never recorded the payment); later downloads of it cost nothing more.

use kino_api::serde_json::{json, Map, Value};
use kino_api::{clock, params, CmdError, Command, CommandArgs, Ctx, ErrorCode, Output};

use kino_movies_api as m;

use crate::reply::{self, admin, needed, user, LegacyResult, Refusal};

/// Every live movie of a `kind` (`all`, `free`, `charge`), every page of `movies.list`.
fn list_all(ctx: &mut Ctx, kind: &str) -> Result<Vec<m::Listed>, CmdError> {
    crate::all_rows(ctx, m::LIST, |limit, offset| m::ListQuery {
        kind: Some(kind.to_owned()),
        limit,
        offset,
    })
}

/// `legacy.check_movie`, alias `check_movie`.
pub fn check_command() -> Command {
    reply::command(
        "legacy.check_movie",
        "check_movie",
        "Original client: may this file be uploaded? (admins)",
        check,
    )
}

/// `check_movie`'s fields.
#[derive(CommandArgs)]
pub struct CheckMovie {
    /// the client's sampled fingerprint
    file_md5: Option<String>,
}

/// `update_movie`'s fields.
#[derive(CommandArgs)]
pub struct UpdateMovie {
    /// file name (only the last part is kept)
    file_name: Option<String>,
    /// the client's sampled fingerprint
    file_md5: Option<String>,
    /// 1 (free) or 0 (charged)
    is_free: Option<Value>,
    /// bytes that follow the request
    file_size: Option<u64>,
}

/// `get_movie_list`'s fields.
#[derive(CommandArgs)]
pub struct ListMovies {
    /// all, free or charge
    movie_type: Option<String>,
}

/// `delete_movie`'s and `download_movie`'s fields.
#[derive(CommandArgs)]
pub struct MovieId {
    /// the movie's id
    movie_id: Option<u64>,
}

/// `legacy.update_movie`, alias `update_movie`: an upload (`file_size` bytes follow).
pub fn update_command() -> Command {
    reply::command(
        "legacy.update_movie",
        "update_movie",
        "Original client: upload a movie (admins; the bytes follow)",
        update,
    )
    .upload()
    .file_name("file_name")
}

/// `legacy.get_movie_list`, alias `get_movie_list`.
pub fn list_command() -> Command {
    reply::command(
        "legacy.get_movie_list",
        "get_movie_list",
        "Original client: list movies",
        list,
    )
}

/// `legacy.delete_movie`, alias `delete_movie`.
pub fn delete_command() -> Command {
    reply::command(
        "legacy.delete_movie",
        "delete_movie",
        "Original client: delete a movie (admins)",
        delete,
    )
}

/// `legacy.download_movie`, alias `download_movie`: the reply carries the file.
pub fn download_command() -> Command {
    reply::command(
        "legacy.download_movie",
        "download_movie",
        "Original client: download a movie (buys a charged one first)",
        download,
    )
    .download()
    .file_name("file_name")
}

/// `legacy.download_movie_record`, alias `download_movie_record`.
pub fn records_command() -> Command {
    reply::command(
        "legacy.download_movie_record",
        "download_movie_record",
        "Original client: names of the movies you downloaded",
        records,
    )
}

/// Checks a legacy fingerprint (32 hex digits) and returns it in lower case.
fn fingerprint(f: Option<&str>) -> Result<String, Refusal> {
    let f = needed(f, "file_md5")?;
    if f.len() == 32 && f.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(f.to_ascii_lowercase())
    } else {
        Err(Refusal::new("参数错误: file_md5 必须是32位十六进制"))
    }
}

/// The content MD5 a fingerprint was last stored as, if any.
fn content_of(ctx: &mut Ctx, fingerprint: &str) -> Result<Option<String>, CmdError> {
    let row = ctx.db().query_one(
        "SELECT md5 FROM legacy_fingerprints WHERE fingerprint = ?",
        params![fingerprint],
    )?;
    Ok(match row {
        Some(r) => Some(r.string(0)?),
        None => None,
    })
}

fn check(ctx: &mut Ctx, args: CheckMovie) -> LegacyResult {
    admin(ctx)?;
    let fp = fingerprint(args.file_md5.as_deref())?;
    let exists = match content_of(ctx, &fp)? {
        Some(md5) => ctx.call(m::CHECK, m::Check { md5 })?.exists,
        None => false,
    };
    if exists {
        Err(Refusal::new("该电影已存在"))
    } else {
        Ok(reply::ok("可以上传"))
    }
}

/// `is_free` as the original client sends it (1 or 0), or a boolean.
fn is_free(value: Option<&Value>) -> Result<bool, Refusal> {
    match value {
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::Number(n)) if n.as_i64().is_some() => Ok(n.as_i64() != Some(0)),
        Some(_) => Err(Refusal::new("参数错误: is_free 必须是 1 或 0")),
        None => Err(Refusal::new("缺少参数 `is_free`")),
    }
}

fn update(ctx: &mut Ctx, args: UpdateMovie) -> LegacyResult {
    // Refusing here, before the payload is taken, lets core discard the bytes that follow, so
    // the client's stream stays in sync.
    admin(ctx)?;
    let fp = fingerprint(args.file_md5.as_deref())?;
    let name = needed(args.file_name.as_deref(), "file_name")?;
    let free = is_free(args.is_free.as_ref())?;
    // No `md5`: the legacy client has only its fingerprint; movies.upload then keys the content
    // by the MD5 it computes while receiving.
    let asked = m::Upload {
        name: name.into(),
        free,
        md5: None,
    };
    let stored = match ctx.call_with_upload(m::UPLOAD, asked) {
        Ok(s) => s,
        Err(e) if e.code == ErrorCode::Conflict => {
            let size = args.file_size.unwrap_or(0);
            remember_existing(ctx, &fp, size)?;
            return Err(Refusal::new("该电影已存在"));
        }
        Err(e) => return Err(e.into()),
    };
    remember(ctx, &fp, stored.id, &stored.md5)?;
    Ok(reply::ok("上传成功"))
}

/// Records that a legacy fingerprint stands for the movie `id` with content `md5`.
fn remember(ctx: &mut Ctx, fp: &str, id: i64, md5: &str) -> Result<(), CmdError> {
    ctx.db().execute(
        "INSERT INTO legacy_fingerprints (fingerprint, movie_id, md5, created_at)
         VALUES (?, ?, ?, ?)
         ON CONFLICT (fingerprint) DO UPDATE
           SET movie_id = excluded.movie_id, md5 = excluded.md5, created_at = excluded.created_at",
        params![fp, id, md5, clock::now_rfc3339()],
    )?;
    Ok(())
}

/// The original client's fingerprint of stored content: the MD5 of 10 bytes read at 0,
/// size/3, 2·(size/3) and size-10 (`get_file_md5` in its lib/common.py).
fn stored_fingerprint(ctx: &Ctx, md5: &str, size: u64) -> Result<String, CmdError> {
    use kino_api::BlobError;
    use md5::{Digest, Md5};
    use std::io::Read;
    let mut hasher = Md5::new();
    for at in [0, size / 3, size / 3 * 2, size.saturating_sub(10)] {
        let (reader, _) = ctx.blobs().open(md5, at)?;
        let mut sample = Vec::with_capacity(10);
        reader
            .take(10)
            .read_to_end(&mut sample)
            .map_err(|e| CmdError::from(BlobError::Io(e)))?;
        hasher.update(&sample);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// After a `conflict`, the content is already a movie that no legacy fingerprint points at (it
/// came from a native client). Finds it among the movies of the same size by recomputing the
/// fingerprint from the stored bytes, and remembers it, so `check_movie` answers "exists" from
/// now on instead of inviting the same upload again.
fn remember_existing(ctx: &mut Ctx, fp: &str, size: u64) -> Result<(), CmdError> {
    for movie in list_all(ctx, "all")? {
        if movie.size == size && stored_fingerprint(ctx, &movie.md5, size)? == fp {
            return remember(ctx, fp, movie.id, &movie.md5);
        }
    }
    Ok(())
}

fn list(ctx: &mut Ctx, args: ListMovies) -> LegacyResult {
    user(ctx)?;
    let kind = match needed(args.movie_type.as_deref(), "movie_type")? {
        k @ ("all" | "free" | "charge") => k,
        _ => return Err(Refusal::new("参数错误: movie_type 是 all, free 或 charge")),
    };
    let mut rows = list_all(ctx, kind)?;
    if rows.is_empty() {
        return Err(Refusal::new("暂无影片"));
    }
    rows.sort_by_key(|m| m.id);
    let movie_list: Vec<Value> = rows
        .iter()
        .map(|m| {
            let price = if m.free { "免费" } else { "收费" };
            json!([m.name, price, m.id])
        })
        .collect();
    let mut fields = Map::new();
    fields.insert("movie_list".into(), Value::Array(movie_list));
    Ok(reply::ok_with("查询成功", fields))
}

fn delete(ctx: &mut Ctx, args: MovieId) -> LegacyResult {
    admin(ctx)?;
    let id = needed(args.movie_id, "movie_id")?;
    match ctx.call(m::DELETE, m::MovieId { movie_id: id }) {
        Ok(_) => Ok(reply::ok("删除成功")),
        Err(e) if e.code == ErrorCode::NotFound => Err(Refusal::new("该电影不存在")),
        Err(e) => Err(e.into()),
    }
}

fn download(ctx: &mut Ctx, args: MovieId) -> LegacyResult {
    user(ctx)?;
    let id = needed(args.movie_id, "movie_id")?;
    let asked = m::Download {
        movie_id: id,
        offset: None,
    };
    let (found, out) = match ctx.call_output(m::DOWNLOAD, asked) {
        Err(e) if e.code == ErrorCode::PaymentRequired => {
            // The original client has already asked its user to confirm the price: this
            // request is the purchase. `conflict` (bought meanwhile) is no reason to stop.
            match ctx.call(m::BUY, m::MovieId { movie_id: id }) {
                Ok(_) => {}
                Err(e) if e.code == ErrorCode::Conflict => {}
                Err(e) => return Err(refuse_download(e)),
            }
            ctx.call_output(m::DOWNLOAD, asked)
        }
        other => other,
    }
    .map_err(refuse_download)?;
    let Output {
        body, not_before, ..
    } = out;
    let mut fields = Map::new();
    fields.insert("file_name".into(), json!(found.name));
    fields.insert(
        "file_size".into(),
        json!(body.as_ref().map_or(0, |b| b.len)),
    );
    fields.insert("wait_time".into(), json!(0));
    let mut reply = reply::ok_with("开始下载", fields);
    reply.body = body;
    reply.not_before = not_before;
    Ok(reply)
}

fn refuse_download(e: CmdError) -> Refusal {
    if e.code == ErrorCode::NotFound {
        Refusal::new("暂无影片")
    } else {
        e.into()
    }
}

fn records(ctx: &mut Ctx, _: ()) -> LegacyResult {
    user(ctx)?;
    let mut rows = crate::all_rows(ctx, m::RECORDS, |limit, offset| m::Page { limit, offset })?;
    if rows.is_empty() {
        return Err(Refusal::new("暂无下载记录"));
    }
    rows.sort_by_key(|r| r.id);
    let names: Vec<Value> = rows.into_iter().map(|r| Value::String(r.name)).collect();
    let mut fields = Map::new();
    fields.insert("back_record_list".into(), Value::Array(names));
    Ok(reply::ok_with("查询成功", fields))
}
