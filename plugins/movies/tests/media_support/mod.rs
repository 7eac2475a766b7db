//! Helpers shared by the media_* tests: a server with the video plugins, movie content, upload
//! and download over the real protocol, and a look at the data directory.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use kino_api::serde_json::{json, Value};
use kino_api::{ErrorCode, Plugin};
use kino_client::Client;
use kino_movies::Movies;
use kino_notices::Notices;
use kino_testkit::{into_data, request, ClientError, TestServer};
use kino_vip::Vip;
use md5::{Digest, Md5};

/// Auth and the three video plugins, in the order the server binary lists them.
pub fn plugins() -> Vec<Arc<dyn Plugin>> {
    vec![
        kino_auth::plugin(),
        Arc::new(Notices),
        Arc::new(Vip),
        Arc::new(Movies),
    ]
}

/// A server with the video plugins, the admin `root`, and the given free-download wait.
pub fn server(wait_s: u64) -> TestServer {
    TestServer::with_admin(plugins(), |c| {
        c.setting("free-download-wait", json!(wait_s))
    })
}

/// Deterministic, incompressible-looking bytes; different seeds give different content.
pub fn content(seed: u32, len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15 ^ u64::from(seed).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Lower-case hex MD5.
pub fn md5_hex(bytes: &[u8]) -> String {
    hex::encode(Md5::digest(bytes))
}

/// Uploads `bytes` as a movie with its true MD5.
pub fn upload(c: &mut Client, name: &str, bytes: &[u8], free: bool) -> Result<Value, ClientError> {
    upload_declared(c, name, bytes, &md5_hex(bytes), free)
}

/// Uploads `bytes` declaring `md5`, which may be wrong on purpose.
pub fn upload_declared(
    c: &mut Client,
    name: &str,
    bytes: &[u8],
    md5: &str,
    free: bool,
) -> Result<Value, ClientError> {
    c.upload(
        "movies.upload",
        json!({"name": name, "md5": md5, "free": free}),
        &mut &bytes[..],
        bytes.len() as u64,
        &mut |_| {},
    )
}

/// Uploads and returns the new movie's id.
pub fn upload_id(c: &mut Client, name: &str, bytes: &[u8], free: bool) -> i64 {
    upload(c, name, bytes, free).unwrap()["id"]
        .as_i64()
        .unwrap()
}

/// Downloads a movie from `offset`: the reply's data and the bytes that followed it.
pub fn download(
    c: &mut Client,
    id: i64,
    offset: Option<u64>,
) -> Result<(Value, Vec<u8>), ClientError> {
    let mut args = json!({"movie_id": id});
    if let Some(o) = offset {
        args["offset"] = json!(o);
    }
    c.send(&request("movies.download", args))?;
    let data = into_data(c.recv()?)?;
    let n = data["file_size"].as_u64().unwrap();
    let mut bytes = Vec::with_capacity(n as usize);
    c.recv_payload(n, &mut bytes, &mut |_| {})?;
    Ok((data, bytes))
}

/// The error code of a call that must fail.
pub fn code<T: std::fmt::Debug>(result: Result<T, ClientError>) -> ErrorCode {
    let err = result.expect_err("the call should have failed");
    err.code()
        .unwrap_or_else(|| panic!("no error reply but {err}"))
}

/// Every file under `dir`, relative to it, sorted (empty when `dir` does not exist).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.push(path.strip_prefix(root).unwrap().to_path_buf());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Where the blob store keeps content with this MD5, relative to the data directory.
pub fn blob_path(md5: &str) -> PathBuf {
    Path::new("blobs").join(&md5[..2]).join(&md5[2..])
}

/// Names of the movies `movies.list` shows for `kind`, newest first.
pub fn listed(c: &mut Client, kind: &str) -> Vec<String> {
    c.call("movies.list", json!({"kind": kind}))
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap().to_owned())
        .collect()
}

/// How long a test waits for any one reply before failing instead of hanging.
pub const READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

/// `c`, failing a read after [`READ_TIMEOUT`].
pub fn guarded(c: Client) -> Client {
    c.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    c
}

/// The admin `root`, logged in on a new connection.
pub fn root(server: &TestServer) -> Client {
    guarded(kino_testkit::admin_client(server, "root"))
}

/// Registers `name` and logs in on a new connection; returns it with the login reply.
pub fn register_and_login(server: &TestServer, name: &str) -> (Client, Value) {
    let mut c = guarded(server.client());
    c.call(
        "auth.register",
        json!({"name": name, "password": "pw-of-user"}),
    )
    .unwrap();
    let reply = c
        .call(
            "auth.login",
            json!({"name": name, "password": "pw-of-user"}),
        )
        .unwrap();
    (c, reply)
}

/// The caller's download records once there are `n` of them. A record is written by a
/// completion hook on a worker after the last byte was queued, so it can land a moment after
/// the client has read the bytes.
pub fn records_eventually(c: &mut Client, n: usize) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let records = c.call("movies.records", json!({})).unwrap();
        let have = records.as_array().unwrap().len();
        if have >= n || std::time::Instant::now() > deadline {
            assert_eq!(have, n, "records: {records}");
            return records;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// The content is not in the library and the catalogue is empty: a refused or interrupted
/// upload left nothing behind.
pub fn assert_no_movie(admin: &mut Client, content: &[u8]) {
    let check = admin
        .call("movies.check", json!({"md5": md5_hex(content)}))
        .unwrap();
    assert_eq!(check, json!({"exists": false, "id": null}));
    assert!(listed(admin, "all").is_empty());
}
