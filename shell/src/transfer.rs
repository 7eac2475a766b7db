//! Moving files: `upload` asks `movies.check` for the MD5 first and skips content the server
//! already has, and resumes after a dropped connection ([`crate::send`]); `download` resumes from `NAME.part`, shows the server-enforced wait, checks
//! size and MD5, then renames the file into place. Progress bars go to standard error and only
//! when it is a terminal.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use indicatif::{HumanBytes, ProgressBar};
use kino_client::ClientError;
use kino_proto::ErrorCode;
use md5::{Digest, Md5};
use serde_json::{json, Map, Value};

use crate::bars::{self, bytes_bar, waiting_bar};
use crate::cancel;
use crate::failure::Failure;
use crate::place::{self, Out};
use crate::render::Style;
use crate::session::Session;

/// What became of one uploaded file.
#[derive(Debug, Clone)]
pub enum Uploaded {
    /// Sent; the server's movie object.
    New(Value),
    /// The server already had this content (by MD5); its movie id, when known.
    Skipped(Value),
}

/// The MD5 of a file, hex, read in chunks (files may be larger than memory).
pub fn md5_file(path: &Path, bar: &ProgressBar) -> Result<String, Failure> {
    let mut hasher = Md5::new();
    hash_into(path, &mut hasher, bar)?;
    Ok(hex::encode(hasher.finalize()))
}

fn hash_into(path: &Path, hasher: &mut Md5, bar: &ProgressBar) -> Result<(), Failure> {
    let mut file = File::open(path).map_err(|e| local(path, e))?;
    let mut buf = vec![0u8; 256 * 1024];
    let mut done = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(|e| local(path, e))?;
        if n == 0 {
            return Ok(());
        }
        hasher.update(&buf[..n]);
        done += n as u64;
        bar.set_position(done);
    }
}

/// Uploads one regular file as a movie named after its last path component.
pub fn upload(
    session: &mut Session,
    path: &Path,
    free: bool,
    style: Style,
) -> Result<Uploaded, Failure> {
    let meta = fs::metadata(path).map_err(|e| local(path, e))?;
    if !meta.is_file() {
        return Err(Failure::Local(format!(
            "{}: not a regular file",
            path.display()
        )));
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| Failure::Local(format!("{}: no file name", path.display())))?;
    let len = meta.len();
    let bar = bytes_bar(style, len, &format!("md5 {name}"));
    let md5 = md5_file(path, &bar)?;
    bar.finish_and_clear();
    let check = session.call("movies.check", obj(json!({ "md5": md5 })))?;
    if check.get("exists").and_then(Value::as_bool) == Some(true) {
        return Ok(Uploaded::Skipped(
            check.get("id").cloned().unwrap_or(Value::Null),
        ));
    }
    let bar = bytes_bar(style, len, &name);
    let sent = crate::send::upload(
        session,
        path,
        obj(json!({ "name": name, "md5": md5, "free": free })),
        len,
        &mut |n| bar.set_position(n),
    );
    bar.finish_and_clear();
    match sent {
        Ok(movie) => Ok(Uploaded::New(movie)),
        // Someone uploaded the same content between the check and now.
        Err(ClientError::Server(b)) if b.code == ErrorCode::Conflict => {
            Ok(Uploaded::Skipped(Value::Null))
        }
        Err(_) if cancel::requested() => Err(Failure::Local(format!(
            "upload of {} interrupted",
            path.display()
        ))),
        Err(e) => Err(e.into()),
    }
}

/// Downloads movie `id` to `out`, resuming from `NAME.part` when an earlier attempt left one.
/// The partial file is created only once bytes arrive, so a refusal leaves nothing behind.
/// Returns the final path (see [`place`]).
pub fn download(
    session: &mut Session,
    id: u64,
    out: &Out,
    force: bool,
    style: Style,
) -> Result<PathBuf, Failure> {
    out.check(force)?;
    let movie = find_movie(session, id)?;
    let field = |k: &str| movie.get(k).cloned();
    let name = field("name")
        .and_then(|v| v.as_str().map(safe_name))
        .unwrap_or_else(|| format!("movie-{id}"));
    let size = field("size").and_then(|v| v.as_u64());
    let target = out.target(&name);
    let part = place::part_of(&target);
    // Appending through a link planted in the folder would write somewhere else.
    if fs::symlink_metadata(&part).is_ok_and(|m| !m.is_file()) {
        return Err(Failure::Local(format!(
            "{}: not a regular file; remove it and run the download again",
            part.display()
        )));
    }
    let mut offset = fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
    if size.is_some_and(|s| offset > s) {
        offset = 0;
    }
    let mut hasher = Md5::new();
    if offset > 0 {
        // Hash what is already here now, so the whole file is read once in total.
        let bar = bytes_bar(style, offset, &format!("md5 {name}.part"));
        hash_into(&part, &mut hasher, &bar)?;
        bar.finish_and_clear();
    }
    let placing = Placing {
        target: &target,
        force,
        numbered: matches!(out, Out::Dir(_)),
    };
    if offset > 0 && Some(offset) == size {
        let want = field("md5").and_then(|v| v.as_str().map(str::to_string));
        let got = hex::encode(hasher.finalize());
        return finish(&part, &placing, offset, want.as_deref(), &got);
    }
    let mut sink = HashingWriter {
        path: part.clone(),
        file: None,
        append: offset > 0,
        hasher,
    };
    let free = field("free").and_then(|v| v.as_bool()).unwrap_or(false);
    let bar = waiting_bar(style, field("wait_s").and_then(|v| v.as_u64()), free);
    let reply_bar = bar.clone();
    let label = name.clone();
    let mut on_reply = move |data: &Value| {
        let total = data.get("size").and_then(Value::as_u64).unwrap_or(0);
        bars::to_bytes(&reply_bar, total, offset, &label);
    };
    let progress_bar = bar.clone();
    let got = session.download(
        "movies.download",
        obj(json!({ "movie_id": id, "offset": offset })),
        &mut on_reply,
        &mut sink,
        &mut |n| progress_bar.set_position(offset + n),
    );
    bar.finish_and_clear();
    let data = match got {
        Ok(data) => data,
        Err(e) => return Err(interrupted(e, id, &part, sink.file.is_some() || offset > 0)),
    };
    let file = sink.open()?;
    file.sync_all().map_err(|e| local(&part, e))?;
    let HashingWriter { file, hasher, .. } = sink;
    drop(file);
    let total = data.get("size").and_then(Value::as_u64).unwrap_or(0);
    let md5 = data.get("md5").and_then(Value::as_str);
    finish(&part, &placing, total, md5, &hex::encode(hasher.finalize()))
}

/// A failed or stopped download, saying what is kept and how to go on.
fn interrupted(e: ClientError, id: u64, part: &Path, started: bool) -> Failure {
    if matches!(e, ClientError::Server(_)) {
        return e.into();
    }
    let have = fs::metadata(part).map(|m| m.len()).unwrap_or(0);
    let why = if cancel::requested() {
        "stopped (Ctrl-C)"
    } else {
        "interrupted (the connection was lost)"
    };
    if !started || have == 0 {
        return Failure::Local(format!(
            "download {why} before any byte arrived; nothing was saved"
        ));
    }
    Failure::Local(format!(
        "transfer {why}; `download {id}` resumes from {} ({} is kept)",
        HumanBytes(have),
        part.display()
    ))
}

/// A partial file created at the first byte, hashing what is written to it: the download's
/// MD5 costs no second read.
struct HashingWriter {
    path: PathBuf,
    file: Option<File>,
    append: bool,
    hasher: Md5,
}

impl HashingWriter {
    fn open(&mut self) -> Result<&mut File, Failure> {
        if self.file.is_none() {
            if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                fs::create_dir_all(dir).map_err(|e| local(dir, e))?;
            }
            let file = OpenOptions::new()
                .create(true)
                .write(true)
                .truncate(!self.append)
                .append(self.append)
                .open(&self.path)
                .map_err(|e| local(&self.path, e))?;
            self.file = Some(file);
        }
        match self.file.as_mut() {
            Some(f) => Ok(f),
            None => Err(Failure::Local("no partial file".into())),
        }
    }
}

impl Write for HashingWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if cancel::requested() {
            return Err(cancel::error());
        }
        let file = match self.open() {
            Ok(f) => f,
            Err(Failure::Local(m)) => return Err(io::Error::other(m)),
            Err(_) => return Err(io::Error::other("cannot open the partial file")),
        };
        let n = file.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.file.as_mut() {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

/// Where a finished download goes.
struct Placing<'a> {
    target: &'a Path,
    force: bool,
    numbered: bool,
}

/// Checks a complete partial file against the server's size and MD5 and moves it into
/// place; a bad one is removed so the next attempt starts clean.
fn finish(
    part: &Path,
    to: &Placing,
    size: u64,
    want: Option<&str>,
    got: &str,
) -> Result<PathBuf, Failure> {
    let have = fs::metadata(part).map_err(|e| local(part, e))?.len();
    if have != size {
        return Err(Failure::Local(format!(
            "{}: {have} bytes, expected {size}; run the download again to resume",
            part.display()
        )));
    }
    if let Some(want) = want {
        if !got.eq_ignore_ascii_case(want) {
            let _ = fs::remove_file(part);
            return Err(Failure::Local(format!(
                "{}: MD5 {got} does not match the server's {want}; the partial file was removed",
                to.target.display()
            )));
        }
    }
    place::place(part, to.target, to.force, to.numbered, 0)
}

/// The catalogue entry of movie `id` (name, size, md5, free, wait_s), from `movies.get`: the
/// partial file is named after the movie, so the name is needed before the download starts;
/// an unknown movie or a missing login is refused here, before any file is touched.
fn find_movie(session: &mut Session, id: u64) -> Result<Value, Failure> {
    Ok(session.call("movies.get", obj(json!({"movie_id": id})))?)
}

/// The last path component of a server-sent name, never `..` or empty: a file name only.
pub fn safe_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = last.chars().filter(|c| !c.is_control()).collect();
    match cleaned.as_str() {
        "" | "." | ".." => "movie".into(),
        _ => cleaned,
    }
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// A local I/O error, naming the path.
pub fn local(path: &Path, e: io::Error) -> Failure {
    Failure::Local(format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_names_are_reduced_to_a_file_name() {
        assert_eq!(safe_name("../../etc/passwd"), "passwd");
        assert_eq!(safe_name(".."), "movie");
        assert_eq!(safe_name("a\\b.mp4"), "b.mp4");
    }
}
