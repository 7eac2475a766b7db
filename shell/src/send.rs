//! Sending an upload's bytes so that a dropped connection does not start it over: the upload
//! carries an `upload_id`; after a connection failure (network, server restart) the shell
//! reconnects, asks `movies.upload_status` how much is stored and sends the rest, as
//! `download` resumes from its `.part` file. Servers without resumable uploads get the plain
//! one-shot request.

use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use kino_client::ClientError;
use kino_proto::ErrorCode;
use md5::{Digest, Md5};
use serde_json::{json, Map, Value};

use crate::cancel;
use crate::session::Session;

/// How long to keep retrying without the server storing more: a server notices a vanished
/// client only after its `--idle-timeout` (30 s by default) and refuses a resume with `busy`
/// until then.
const GIVE_UP: Duration = Duration::from_secs(60);

/// Pause before retry `n` (1-based): long enough for a restarting server, short for a blip.
fn backoff(n: u32) -> Duration {
    Duration::from_millis(200 * u64::from(n.min(10)))
}

/// A fresh upload id: 32 hex digits from the content, the name, the time and the process, so
/// two shells never pick the same one.
fn new_id(md5: &str, name: &str) -> String {
    let mut h = Md5::new();
    h.update(md5.as_bytes());
    h.update(name.as_bytes());
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    h.update(now.as_nanos().to_le_bytes());
    h.update(std::process::id().to_le_bytes());
    hex::encode(h.finalize())
}

fn is_code(e: &ClientError, code: ErrorCode) -> bool {
    matches!(e, ClientError::Server(b) if b.code == code)
}

/// Sends `path` (`len` bytes) with `args` (name, md5, free) as `movies.upload`, resuming after
/// dropped connections. `progress` sees the bytes stored or sent so far.
pub fn upload(
    session: &mut Session,
    path: &Path,
    args: Map<String, Value>,
    len: u64,
    progress: &mut dyn FnMut(u64),
) -> Result<Value, ClientError> {
    let resumable = session
        .command("movies.upload")
        .is_some_and(|c| c.args.iter().any(|a| a.name == "upload_id"));
    let open = || File::open(path).map_err(ClientError::Io);
    if !resumable {
        let mut file = cancel::Reader(open()?);
        return session.upload("movies.upload", args, &mut file, len, progress);
    }
    let md5 = args.get("md5").and_then(Value::as_str).unwrap_or_default();
    let name = args.get("name").and_then(Value::as_str).unwrap_or_default();
    let id = new_id(md5, name);
    let mut offset = 0u64;
    let mut retries = 0;
    let mut progress_at = Instant::now();
    loop {
        let mut file = open()?;
        file.seek(SeekFrom::Start(offset))
            .map_err(ClientError::Io)?;
        let mut file = cancel::Reader(file);
        let mut a = args.clone();
        a.insert("upload_id".into(), json!(id));
        if offset > 0 {
            a.insert("offset".into(), json!(offset));
        }
        let base = offset;
        let sent = session.upload("movies.upload", a, &mut file, len - offset, &mut |n| {
            progress(base + n)
        });
        let err = match sent {
            Ok(movie) => return Ok(movie),
            Err(e) if cancel::requested() => return Err(e),
            // The request that was cut off may still hold the upload for a moment.
            Err(e) if is_code(&e, ErrorCode::Busy) && offset > 0 => e,
            // Stored more (or less) than we thought: ask again.
            Err(e) if is_code(&e, ErrorCode::Conflict) && offset > 0 => e,
            Err(e @ ClientError::Server(_)) => return Err(e),
            Err(e) => e,
        };
        retries += 1;
        if progress_at.elapsed() > GIVE_UP {
            return Err(err);
        }
        std::thread::sleep(backoff(retries));
        let mut q = Map::new();
        q.insert("upload_id".into(), json!(id));
        match session.call("movies.upload_status", q) {
            Ok(status) => {
                let stored = status.get("stored").and_then(Value::as_u64).unwrap_or(0);
                if stored > offset {
                    retries = 0;
                    progress_at = Instant::now();
                }
                offset = stored.min(len);
                crate::render::note(&format!(
                    "connection lost; resuming {name} from byte {offset} of {len}"
                ));
            }
            // Finished after all (only the reply was lost) or never recorded: the caller's
            // `movies.check` tells which.
            Err(e) if is_code(&e, ErrorCode::NotFound) && offset == 0 => {}
            // Gone after it had started: report what the last attempt said (a `conflict` there
            // means the content arrived meanwhile).
            Err(e) if is_code(&e, ErrorCode::NotFound) => return Err(err),
            Err(e @ ClientError::Server(_)) => return Err(e),
            Err(_) => {}
        }
    }
}
