//! Resumable uploads on the real server, on the local folder and on a real S3 server
//! (`s3s-fs`): an upload cut off mid-stream resumes from `movies.upload_status`'s `stored`
//! and ends byte-identical; the open uploads per user are bounded; abandoned ones expire.
#![allow(clippy::unwrap_used)]

#[path = "../../plugins/movies/tests/media_support/mod.rs"]
mod media_support;

use std::time::{Duration, Instant};

use kino_api::serde_json::{json, Value};
use kino_api::ErrorCode;
use kino_client::Client;
use kino_server::Config;
use kino_testkit::{request, S3Server, TestServer};
use media_support::*;

fn server_with(tweak: impl FnOnce(Config) -> Config) -> TestServer {
    TestServer::with_admin(plugins(), |c| {
        tweak(c.setting("free-download-wait", json!(0)))
    })
}

/// Sends the upload request and the first `cut` bytes, then drops the connection; the cut
/// comes only once the server has recorded the upload (its handler may start after the first
/// bytes arrive).
fn cut_off(server: &TestServer, id: &str, bytes: &[u8], cut: usize) {
    let mut admin = root(server);
    let args = json!({"name": "big.mp4", "md5": md5_hex(bytes), "free": true,
        "upload_id": id, "file_size": bytes.len()});
    admin.send(&request("movies.upload", args)).unwrap();
    let first = cut.min(1024);
    admin.send_raw(&bytes[..first]).unwrap();
    admin.flush().unwrap();
    wait_recorded(&mut root(server), id);
    admin.send_raw(&bytes[first..cut]).unwrap();
    admin.flush().unwrap();
    drop(admin);
}

/// Waits until the cut-off request's handler (which may start a moment after the cut) has
/// recorded upload `id`.
fn wait_recorded(admin: &mut Client, id: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match admin.call("movies.upload_status", json!({"upload_id": id})) {
            Ok(_) => return,
            Err(e) if e.code() == Some(ErrorCode::NotFound) => {}
            Err(e) => panic!("upload_status {id}: {e}"),
        }
        assert!(Instant::now() < deadline, "upload {id} was never recorded");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Resumes `id` until it finishes: asks what is stored, sends the rest. Returns the movie and
/// the offset it resumed from.
fn resume(admin: &mut Client, id: &str, bytes: &[u8]) -> (Value, u64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let status = admin
            .call("movies.upload_status", json!({"upload_id": id}))
            .unwrap();
        assert_eq!(status["size"], json!(bytes.len()));
        let stored = status["stored"].as_u64().unwrap();
        let rest = &bytes[stored as usize..];
        let args = json!({"name": "big.mp4", "md5": md5_hex(bytes), "free": true,
            "upload_id": id, "offset": stored});
        match admin.upload(
            "movies.upload",
            args,
            &mut &rest[..],
            rest.len() as u64,
            &mut |_| {},
        ) {
            Ok(movie) => return (movie, stored),
            // The cut-off request may still hold the upload for a moment, or store more.
            Err(e) if matches!(e.code(), Some(ErrorCode::Busy | ErrorCode::Conflict)) => {
                assert!(Instant::now() < deadline, "never resumed: {e}");
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => panic!("resume failed: {e}"),
        }
    }
}

/// `id` differs per test: tests share the process, and with it which uploads are being
/// written.
fn cut_and_resume(server: &TestServer, id: &str, len: usize, cut: usize) -> u64 {
    let bytes = content(7, len);
    cut_off(server, id, &bytes, cut);
    let mut admin = root(server);
    wait_recorded(&mut admin, id);
    let (movie, from) = resume(&mut admin, id, &bytes);
    assert_eq!(movie["md5"], json!(md5_hex(&bytes)));
    let (_, got) = download(&mut admin, movie["id"].as_i64().unwrap(), None).unwrap();
    assert!(got == bytes, "the resumed upload downloads byte-identical");
    assert_eq!(
        code(admin.call("movies.upload_status", json!({"upload_id": id}))),
        ErrorCode::NotFound,
        "a finished upload is closed"
    );
    from
}

#[test]
fn a_cut_off_upload_resumes_on_the_local_folder() {
    let server = server_with(|c| c);
    let from = cut_and_resume(
        &server,
        "0123456789abcdef0123456789abcde0",
        6 << 20,
        4 << 20,
    );
    assert!(from > 0, "resumed from {from}, not from the start");
    let partials: Vec<_> = files_under(&server.data().join("tmp"));
    assert!(partials.is_empty(), "left behind: {partials:?}");
}

#[test]
fn a_cut_off_upload_resumes_on_s3_from_its_last_part() {
    let Some(s3) = S3Server::start() else { return };
    let server = server_with(|c| s3.configure(c));
    // 8 MiB parts: 12 MiB sent stores one part, the rest is sent again.
    let from = cut_and_resume(
        &server,
        "0123456789abcdef0123456789abcde1",
        20 << 20,
        12 << 20,
    );
    assert_eq!(from, 8 << 20);
    assert!(files_under(&server.data().join("blobs")).is_empty());
}

#[test]
fn open_uploads_per_user_are_bounded_and_wrong_offsets_refused() {
    let server = server_with(|c| c.setting("max-open-uploads", json!(1)));
    let bytes = content(8, 100_000);
    cut_off(&server, "11111111111111111111111111111111", &bytes, 50_000);
    let mut admin = root(&server);
    wait_recorded(&mut admin, "11111111111111111111111111111111");
    let other = content(9, 1000);
    let args = json!({"name": "b.mp4", "md5": md5_hex(&other), "free": true,
        "upload_id": "22222222222222222222222222222222"});
    let refused = admin.upload("movies.upload", args, &mut &other[..], 1000, &mut |_| {});
    assert_eq!(code(refused), ErrorCode::Busy);
    // A plain upload is not resumable and not counted.
    upload(&mut admin, "plain.mp4", &other, true).unwrap();

    let mut admin = root(&server);
    let args = json!({"name": "big.mp4", "free": true, "offset": 1,
        "upload_id": "11111111111111111111111111111111"});
    let wrong = admin.upload("movies.upload", args, &mut &bytes[1..], 99_999, &mut |_| {});
    assert!(matches!(
        wrong.unwrap_err().code(),
        Some(ErrorCode::Conflict | ErrorCode::Busy)
    ));
    let mut admin = root(&server);
    let args = json!({"name": "x.mp4", "free": true, "offset": 5,
        "upload_id": "33333333333333333333333333333333"});
    let unknown = admin.upload("movies.upload", args, &mut &bytes[5..10], 5, &mut |_| {});
    assert_eq!(code(unknown), ErrorCode::NotFound);
}

#[test]
fn abandoned_uploads_expire_with_their_bytes() {
    let server = server_with(|c| c.setting("upload-expiry", json!(1)));
    let bytes = content(10, 200_000);
    let id = "44444444444444444444444444444444";
    cut_off(&server, id, &bytes, 100_000);
    let mut admin = root(&server);
    wait_recorded(&mut admin, id);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = admin.call("movies.upload_status", json!({"upload_id": id}));
        if status
            .as_ref()
            .is_err_and(|e| e.code() == Some(ErrorCode::NotFound))
        {
            break;
        }
        assert!(Instant::now() < deadline, "never expired: {status:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(files_under(&server.data().join("tmp")).is_empty());
}

const BIN: &str = env!("CARGO_BIN_EXE_kino-server");

fn add_root(data: &std::path::Path, extra: &[&str]) {
    use std::io::Write;
    let mut child = std::process::Command::new(BIN)
        .arg("--data")
        .arg(data)
        .args(extra)
        .args(["--argon2-memory-kib", "64", "--argon2-iterations", "1"])
        .args(["user", "add", "root", "--admin", "--password-stdin"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "root-pass-1").unwrap();
    assert!(child.wait().unwrap().success());
}

fn bin_root(server: &kino_testkit::BinServer) -> Client {
    let mut c = guarded(server.client());
    c.call(
        "auth.login",
        json!({"name": "root", "password": "root-pass-1"}),
    )
    .unwrap();
    c
}

/// The real binary killed (SIGKILL) mid-upload and started again: the upload resumes from
/// what was stored, on the local folder and on S3 (where the restarted node has lost the MD5
/// state and reads the joined object back to check it).
fn killed_mid_upload(extra: &[&str], stored_so_far: impl Fn() -> u64) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    add_root(data, &[]);
    let bytes = content(11, 20 << 20);
    let id = "55555555555555555555555555555555";
    let mut server = kino_testkit::BinServer::start(std::path::Path::new(BIN), data, extra);
    let mut admin = bin_root(&server);
    let args = json!({"name": "big.mp4", "md5": md5_hex(&bytes), "free": true,
        "upload_id": id, "file_size": bytes.len()});
    admin.send(&request("movies.upload", args)).unwrap();
    admin.send_raw(&bytes[..12 << 20]).unwrap();
    admin.flush().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while stored_so_far() < 8 << 20 {
        assert!(Instant::now() < deadline, "nothing stored");
        std::thread::sleep(Duration::from_millis(10));
    }
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    drop(admin);
    let server = kino_testkit::BinServer::start(std::path::Path::new(BIN), data, extra);
    let mut admin = bin_root(&server);
    let (movie, from) = resume(&mut admin, id, &bytes);
    assert!(from >= 8 << 20, "resumed from {from}");
    let (_, got) = download(&mut admin, movie["id"].as_i64().unwrap(), None).unwrap();
    assert!(got == bytes);
}

#[test]
fn a_killed_server_resumes_the_upload_on_the_local_folder() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_path_buf();
    let blobs = format!("file:{}", data.join("store").join("blobs").display());
    let tmp = data.join("store").join("tmp");
    let stored = move || {
        std::fs::read_dir(&tmp)
            .map(|d| {
                d.flatten()
                    .filter_map(|e| e.metadata().ok())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0)
    };
    killed_mid_upload(
        &[
            "--free-download-wait",
            "0",
            "--upload-lease",
            "2",
            "--blobs",
            &blobs,
        ],
        stored,
    );
}

#[test]
fn a_killed_server_resumes_the_upload_on_s3() {
    let Some(s3) = S3Server::start() else { return };
    let conf = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        conf.path(),
        format!(
            "blobs = \"{}\"\naws-access-key-id = \"{}\"\naws-secret-access-key = \"{}\"\n",
            s3.url(),
            kino_testkit::S3_KEY_ID,
            kino_testkit::S3_SECRET
        ),
    )
    .unwrap();
    let conf_path = conf.path().to_str().unwrap().to_owned();
    // The upload's marker object lists the ETag of each part stored (8 MiB each).
    let marker = s3
        .bucket_dir()
        .join("uploads")
        .join("55555555555555555555555555555555.upload");
    let stored = move || {
        let lines = std::fs::read_to_string(&marker).map_or(0, |t| t.lines().count());
        (lines.saturating_sub(1) as u64) << 23
    };
    killed_mid_upload(
        &[
            "--free-download-wait",
            "0",
            "--upload-lease",
            "2",
            "--config",
            &conf_path,
        ],
        stored,
    );
}

/// Two servers on one database and one blob folder: while a connection to the first streams a
/// resumable upload, a resume of it through the second is `busy` (the writer's lease is in the
/// upload's row, not only in the first server's memory); once that connection is cut, the
/// lease is given back and the resume through the second server finishes the upload.
#[test]
fn a_resume_through_another_server_waits_for_the_writer() {
    let two = TwoNodes::start(&[]);
    let bytes = content(12, 4 << 20);
    let id = "66666666666666666666666666666666";
    let (on_a, mut on_b) = two.stall_on_a(id, &bytes);

    let stored = on_b
        .call("movies.upload_status", json!({"upload_id": id}))
        .unwrap()["stored"]
        .as_u64()
        .unwrap();
    let rest = &bytes[stored as usize..];
    let again = json!({"name": "big.mp4", "free": true, "upload_id": id, "offset": stored});
    let refused = on_b.upload(
        "movies.upload",
        again,
        &mut &rest[..],
        rest.len() as u64,
        &mut |_| {},
    );
    let err = refused.expect_err("a second writer through another server");
    assert_eq!(err.code(), Some(ErrorCode::Busy), "{err}");
    assert!(err.to_string().contains("another connection"), "{err}");

    drop(on_a);
    let (movie, _) = resume(&mut on_b, id, &bytes);
    let (_, got) = download(&mut on_b, movie["id"].as_i64().unwrap(), None).unwrap();
    assert!(
        got == bytes,
        "the upload finished through the second server is whole"
    );
}

/// A writer whose client stalls past `--upload-lease` (1 s here; far under `--idle-timeout`)
/// loses the upload to a resume through the other server, and when its client wakes up its
/// request is refused `busy` instead of writing over the finished upload.
#[test]
fn a_stalled_writer_loses_its_lease_to_another_server() {
    let two = TwoNodes::start(&["--upload-lease", "1"]);
    let bytes = content(13, 4 << 20);
    let id = "77777777777777777777777777777777";
    let (mut on_a, mut on_b) = two.stall_on_a(id, &bytes);
    let (movie, from) = resume(&mut on_b, id, &bytes);
    assert_eq!(from, 1 << 20, "the stalled writer's bytes were kept");
    let (_, got) = download(&mut on_b, movie["id"].as_i64().unwrap(), None).unwrap();
    assert!(got == bytes);

    on_a.send_raw(&bytes[1 << 20..]).unwrap();
    on_a.flush().unwrap();
    let late = kino_client::into_data(on_a.recv().unwrap());
    let err = late.expect_err("the stalled writer went on after losing its lease");
    assert_eq!(err.code(), Some(ErrorCode::Busy), "{err}");
}

/// Two real servers on one SQLite database and one blob folder, and an admin `root`.
struct TwoNodes {
    a: kino_testkit::BinServer,
    b: kino_testkit::BinServer,
    _dir: tempfile::TempDir,
}

impl TwoNodes {
    fn start(extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let shared = dir.path().join("shared");
        std::fs::create_dir_all(&shared).unwrap();
        let database = format!("sqlite:{}", shared.join("kino.db").display());
        let blobs = format!("file:{}", shared.join("store").join("blobs").display());
        let mut args = vec![
            "--free-download-wait",
            "0",
            "--database",
            &database,
            "--blobs",
            &blobs,
        ];
        args.extend_from_slice(extra);
        let (data_a, data_b) = (dir.path().join("a"), dir.path().join("b"));
        add_root(&data_a, &args);
        let bin = std::path::Path::new(BIN);
        let a = kino_testkit::BinServer::start(bin, &data_a, &args);
        let b = kino_testkit::BinServer::start(bin, &data_b, &args);
        TwoNodes { a, b, _dir: dir }
    }

    /// Starts upload `id` of `bytes` through the first server, sends its first MiB and stops
    /// there; returns that connection and one to the second server once that MiB is stored.
    fn stall_on_a(&self, id: &str, bytes: &[u8]) -> (Client, Client) {
        let mut on_a = bin_root(&self.a);
        let start = json!({"name": "big.mp4", "md5": md5_hex(bytes), "free": true,
            "upload_id": id, "file_size": bytes.len()});
        on_a.send(&request("movies.upload", start)).unwrap();
        on_a.send_raw(&bytes[..1 << 20]).unwrap();
        on_a.flush().unwrap();
        let mut on_b = bin_root(&self.b);
        wait_recorded(&mut on_b, id);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let status = on_b
                .call("movies.upload_status", json!({"upload_id": id}))
                .unwrap();
            if status["stored"] == json!(1 << 20) {
                return (on_a, on_b);
            }
            assert!(
                Instant::now() < deadline,
                "the first MiB was never stored: {status}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// `--upload-lease` and `--upload-expiry` outside their ranges stop the server before it
/// accepts anyone, naming the flag.
#[test]
fn upload_lease_and_expiry_out_of_range_are_refused_at_start() {
    for (key, value, flag) in [
        ("upload-lease", 0, "--upload-lease"),
        ("upload-lease", 3601, "--upload-lease"),
        ("upload-expiry", 0, "--upload-expiry"),
        ("upload-expiry", 7 * 86_400 + 1, "--upload-expiry"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let config = kino_testkit::fast_auth(Config::new(dir.path())).setting(key, json!(value));
        match kino_server::Core::open(config, plugins()) {
            Ok(_) => panic!("the server started with {key} = {value}"),
            Err(e) => assert!(e.to_string().contains(flag), "{key} = {value}: {e}"),
        }
    }
}
