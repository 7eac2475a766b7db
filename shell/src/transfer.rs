//! Moving files: `upload` asks `movies.check` for the MD5 first and skips content the server
//! already has; `download` resumes from `NAME.part`, shows the server-enforced wait, checks
//! size and MD5, then renames the file into place. Progress bars go to standard error and only
//! when it is a terminal.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressState, ProgressStyle};
use kino_client::ClientError;
use kino_proto::ErrorCode;
use md5::{Digest, Md5};
use serde_json::{json, Map, Value};

use crate::cancel;
use crate::failure::Failure;
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
    let mut file = cancel::Reader(File::open(path).map_err(|e| local(path, e))?);
    let bar = bytes_bar(style, len, &name);
    let sent = session.upload(
        "movies.upload",
        obj(json!({ "name": name, "md5": md5, "free": free })),
        &mut file,
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

/// Downloads movie `id` into `dir`, resuming from `NAME.part` when an earlier attempt left
/// one. Returns the final path: `NAME`, or the first free `NAME (N).EXT` when `NAME` exists.
pub fn download(
    session: &mut Session,
    id: u64,
    dir: &Path,
    style: Style,
) -> Result<PathBuf, Failure> {
    let movie = find_movie(session, id);
    let field = |k: &str| movie.as_ref().and_then(|m| m.get(k)).cloned();
    let name = field("name")
        .and_then(|v| v.as_str().map(safe_name))
        .unwrap_or_else(|| format!("movie-{id}"));
    let size = field("size").and_then(|v| v.as_u64());
    fs::create_dir_all(dir).map_err(|e| local(dir, e))?;
    let target = dir.join(&name);
    let part = dir.join(format!("{name}.part"));
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
    if offset > 0 && Some(offset) == size {
        let want = field("md5").and_then(|v| v.as_str().map(str::to_string));
        let got = hex::encode(hasher.finalize());
        return finish(&part, &target, offset, want.as_deref(), &got);
    }
    let file = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(offset == 0)
        .append(offset > 0)
        .open(&part)
        .map_err(|e| local(&part, e))?;
    let mut out = HashingWriter { file, hasher };
    let free = field("free").and_then(|v| v.as_bool()).unwrap_or(false);
    let bar = waiting_bar(style, field("wait_s").and_then(|v| v.as_u64()), free);
    let reply_bar = bar.clone();
    let label = name.clone();
    let mut on_reply = move |data: &Value| {
        let total = data.get("size").and_then(Value::as_u64).unwrap_or(0);
        reply_bar.set_style(bytes_style());
        reply_bar.set_length(total);
        reply_bar.set_position(offset);
        reply_bar.set_message(label.clone());
        reply_bar.reset_eta();
    };
    let progress_bar = bar.clone();
    let got = session.download(
        "movies.download",
        obj(json!({ "movie_id": id, "offset": offset })),
        &mut on_reply,
        &mut out,
        &mut |n| progress_bar.set_position(offset + n),
    );
    bar.finish_and_clear();
    if got.is_err() && cancel::requested() {
        return Err(Failure::Local(format!(
            "download interrupted; run it again to resume from {}",
            part.display()
        )));
    }
    let data = got?;
    out.file.sync_all().map_err(|e| local(&part, e))?;
    let HashingWriter { file, hasher } = out;
    drop(file);
    let total = data.get("size").and_then(Value::as_u64).unwrap_or(0);
    let md5 = data.get("md5").and_then(Value::as_str);
    finish(&part, &target, total, md5, &hex::encode(hasher.finalize()))
}

/// A file that hashes what is written to it: the download's MD5 costs no second read.
struct HashingWriter {
    file: File,
    hasher: Md5,
}

impl Write for HashingWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if cancel::requested() {
            return Err(cancel::error());
        }
        let n = self.file.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Checks a complete partial file against the server's size and MD5 and moves it into
/// place; a bad one is removed so the next attempt starts clean.
fn finish(
    part: &Path,
    target: &Path,
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
                target.display()
            )));
        }
    }
    place(part, target)
}

/// Moves `part` to `target`, or to the first of `NAME (1).EXT`, `NAME (2).EXT`, ... that does
/// not exist: a download never replaces a file. A hard link claims the name atomically; on a
/// file system without hard links, a checked rename.
fn place(part: &Path, target: &Path) -> Result<PathBuf, Failure> {
    for n in 0..10_000u32 {
        let candidate = numbered(target, n);
        match fs::hard_link(part, &candidate) {
            Ok(()) => {
                fs::remove_file(part).map_err(|e| local(part, e))?;
                return Ok(candidate);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(_) if fs::symlink_metadata(&candidate).is_ok() => continue,
            Err(_) => {
                fs::rename(part, &candidate).map_err(|e| local(&candidate, e))?;
                return Ok(candidate);
            }
        }
    }
    Err(Failure::Local(format!(
        "{}: no free name left for the download; {} is kept",
        target.display(),
        part.display()
    )))
}

/// `target` itself for 0, else `NAME (n).EXT` (`NAME (n)` without an extension).
fn numbered(target: &Path, n: u32) -> PathBuf {
    if n == 0 {
        return target.to_path_buf();
    }
    let stem = target
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match target.extension() {
        Some(ext) => format!("{stem} ({n}).{}", ext.to_string_lossy()),
        None => format!("{stem} ({n})"),
    };
    target.with_file_name(name)
}

/// The catalogue entry of movie `id` (name, size, md5, free), from `movies.get`: the partial
/// file is named after the movie, so the name is needed before the download starts.
fn find_movie(session: &mut Session, id: u64) -> Option<Value> {
    session
        .call("movies.get", obj(json!({"movie_id": id})))
        .ok()
}

/// The last path component of a server-sent name, never `..` or empty: a file name only.
fn safe_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = last.chars().filter(|c| !c.is_control()).collect();
    match cleaned.as_str() {
        "" | "." | ".." => "movie".into(),
        _ => cleaned,
    }
}

fn bytes_style() -> ProgressStyle {
    ProgressStyle::with_template(
        "{msg:20!} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ")
}

/// A byte-count bar with rate and ETA; hidden when standard error is not a terminal.
fn bytes_bar(style: Style, len: u64, msg: &str) -> ProgressBar {
    if !style.tty_err {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len).with_style(bytes_style());
    bar.set_message(msg.to_string());
    bar
}

/// A spinner shown while the server holds the reply back. `wait` is what `movies.get` said a
/// download by this user would wait (the server's `free-download-wait`, or 0): it counts that
/// down; without it, it shows the time waited.
fn waiting_bar(style: Style, wait: Option<u64>, free: bool) -> ProgressBar {
    if !style.tty_err {
        return ProgressBar::hidden();
    }
    let wait = wait.filter(|w| *w > 0);
    let template = match (free, wait) {
        (_, Some(_)) => "{spinner} free download: the server starts it in {left} s (of {wait} s)",
        (true, None) => "{spinner} waiting for the server (free download): {elapsed}",
        _ => "{spinner} waiting for the server: {elapsed}",
    };
    let total = wait.unwrap_or(0);
    let st = ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
        .with_key(
            "wait",
            move |_: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{total}");
            },
        )
        .with_key(
            "left",
            move |s: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{}", total.saturating_sub(s.elapsed().as_secs()));
            },
        );
    let bar = ProgressBar::new_spinner().with_style(st);
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
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

    #[test]
    fn numbered_names_keep_the_extension() {
        let t = Path::new("d/Metropolis (1927).txt");
        assert_eq!(numbered(t, 0), t);
        assert_eq!(numbered(t, 2), Path::new("d/Metropolis (1927) (2).txt"));
        assert_eq!(numbered(Path::new("d/reel"), 1), Path::new("d/reel (1)"));
    }
}
