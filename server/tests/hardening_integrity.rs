//! Data integrity on the real server (issue 9, items 13-15): tampered and lost blobs and
//! `kino-server check`, a lost or damaged database at start-up, a full database or disk.
#![allow(clippy::unwrap_used)]

#[path = "../../plugins/movies/tests/media_support/mod.rs"]
mod media_support;

use kino_api::serde_json::json;
use kino_api::ErrorCode;
use kino_server::{Config, Core};
use std::path::Path;

use kino_testkit::TestServer;
use media_support::*;

/// A full disk, made real with `--db-max-pages`: SQLite itself refuses to grow the file with
/// `SQLITE_FULL`, as it does when the disk is full. (A cap of 1 is raised by SQLite to the
/// file's current size, so the first write that needs a new page fails.)
#[test]
fn writes_on_a_full_database_are_unavailable_and_reads_go_on() {
    let server = TestServer::with_admin(plugins(), |mut c| {
        c.limits.db_max_pages = 1;
        c.setting("free-download-wait", json!(0))
    });
    let mut admin = root(&server);
    let (mut early, _) = register_and_login(&server, "early");
    let mut anon = guarded(server.client());
    let refused = register_until_refused(&mut anon, 500, "the database never filled");
    assert_eq!(refused.code(), Some(ErrorCode::Unavailable), "{refused}");
    assert!(refused.to_string().contains("storage is full"), "{refused}");
    let notice = json!({"title": "big", "content": "x".repeat(9_000)});
    assert_eq!(
        code(admin.call("notices.publish", notice)),
        ErrorCode::Unavailable
    );
    // Reads still answer, on old and new connections.
    assert_eq!(admin.call("notices.list", json!({})).unwrap(), json!([]));
    assert_eq!(early.call("movies.list", json!({})).unwrap(), json!([]));
    assert_eq!(
        early.call("vip.status", json!({})).unwrap()["is_vip"],
        json!(false)
    );
    let (mut again, login) = kino_testkit::login(&server, "early", "pw-of-user");
    assert_eq!(login["name"], json!("early"));
    assert!(again.call("whoami", json!({})).is_ok());
}

const BIN: &str = env!("CARGO_BIN_EXE_kino-server");

/// Rewrites one byte of a stored blob in place: same size, another MD5.
fn alter(data: &Path, md5: &str) {
    let path = data.join(blob_path(md5));
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last / 2] ^= 0xff;
    std::fs::write(&path, bytes).unwrap();
}

/// Starts a download and reads what comes: the promised size and the bytes that arrived
/// before the server cut the transfer (or all of them).
fn download_cut(c: &mut kino_client::Client, id: i64) -> (u64, Vec<u8>, bool) {
    c.send(&kino_testkit::request(
        "movies.download",
        json!({"movie_id": id}),
    ))
    .unwrap();
    let data = kino_testkit::into_data(c.recv().unwrap()).unwrap();
    let n = data["file_size"].as_u64().unwrap();
    let mut bytes = Vec::new();
    let whole = c.recv_payload(n, &mut bytes, &mut |_| {}).is_ok();
    (n, bytes, whole)
}

fn stats_of(admin: &mut kino_client::Client, id: i64) -> kino_api::serde_json::Value {
    let stats = admin.call("movies.stats", json!({})).unwrap();
    stats
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == json!(id))
        .cloned()
        .unwrap()
}

#[test]
fn an_altered_blob_is_cut_short_and_its_movie_becomes_damaged() {
    let server = server(0);
    let mut admin = root(&server);
    let film = content(10, 700_000);
    let id = upload_id(&mut admin, "altered.mp4", &film, true);
    let keep = upload_id(&mut admin, "whole.mp4", &content(11, 1000), true);
    alter(server.data(), &md5_hex(&film));
    let stored = std::fs::read(server.data().join(blob_path(&md5_hex(&film)))).unwrap();
    let (mut user, _) = register_and_login(&server, "ann");
    let (promised, got, whole) = download_cut(&mut user, id);
    assert_eq!(promised, 700_000);
    assert!(!whole, "the transfer of an altered file must not complete");
    assert!((got.len() as u64) < promised, "got {} bytes", got.len());
    assert!(
        got[..] == stored[..got.len()],
        "what arrived is the stored prefix"
    );
    assert!(server
        .data()
        .join("quarantine")
        .join(md5_hex(&film))
        .is_file());

    let (mut user, _) = register_and_login(&server, "bob");
    assert_eq!(listed(&mut user, "all"), ["whole.mp4"]);
    assert_eq!(
        code(user.call("movies.get", json!({"movie_id": id}))),
        ErrorCode::Unavailable
    );
    assert_eq!(code(download(&mut user, id, None)), ErrorCode::Unavailable);
    assert_eq!(stats_of(&mut admin, id)["damaged"], json!(true));
    assert_eq!(stats_of(&mut admin, keep)["damaged"], json!(false));
    assert!(user.call("movies.records", json!({})).unwrap() == json!([]));

    // Uploading the content again repairs the movie.
    let again = upload(&mut admin, "altered.mp4", &film, true).unwrap();
    assert_eq!(
        (again["id"].as_i64(), &again["restored"]),
        (Some(id), &json!(true))
    );
    let (_, bytes) = download(&mut user, id, None).unwrap();
    assert_eq!(bytes, film);
}

#[test]
fn a_lost_or_truncated_blob_hides_the_movie_and_refuses_purchase() {
    let server = server(0);
    let mut admin = root(&server);
    let lost = content(12, 5000);
    let cut = content(13, 5000);
    let lost_id = upload_id(&mut admin, "lost.mp4", &lost, false);
    let cut_id = upload_id(&mut admin, "cut.mp4", &cut, false);
    upload_id(&mut admin, "fine.mp4", &content(14, 5000), false);
    std::fs::remove_file(server.data().join(blob_path(&md5_hex(&lost)))).unwrap();
    let cut_path = server.data().join(blob_path(&md5_hex(&cut)));
    std::fs::write(&cut_path, &cut[..4000]).unwrap();

    let (mut user, _) = register_and_login(&server, "carol");
    assert_eq!(listed(&mut user, "all"), ["fine.mp4"]);
    for id in [lost_id, cut_id] {
        let err = user
            .call("movies.buy", json!({"movie_id": id}))
            .expect_err("a damaged movie is not sold");
        assert_eq!(err.code(), Some(ErrorCode::Unavailable));
        assert!(err.to_string().contains("damaged"), "{err}");
        assert_eq!(stats_of(&mut admin, id)["damaged"], json!(true));
    }
    assert!(!cut_path.exists(), "the truncated file went to quarantine");
    let vip = user.call("vip.status", json!({})).unwrap();
    assert_eq!(vip["is_vip"], json!(false));
}

fn check(data: &Path, repair: bool) -> (bool, String) {
    check_with(data, None, repair)
}

/// `kino-server check` on `data` (and `--database` when given): (passed, standard output).
fn check_with(data: &Path, database: Option<&str>, repair: bool) -> (bool, String) {
    let mut cmd = std::process::Command::new(BIN);
    cmd.arg("check").arg("--data").arg(data);
    if let Some(url) = database {
        cmd.arg("--database").arg(url);
    }
    if repair {
        cmd.arg("--repair");
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.success(), stdout)
}

#[test]
fn check_finds_altered_and_lost_blobs_and_orphans_and_repair_quarantines_them() {
    let mut server = server(0);
    let mut admin = root(&server);
    let altered = content(20, 3000);
    let lost = content(21, 3000);
    let altered_id = upload_id(&mut admin, "altered.mp4", &altered, true);
    let lost_id = upload_id(&mut admin, "lost.mp4", &lost, true);
    upload_id(&mut admin, "fine.mp4", &content(22, 3000), true);
    let dir = server.take_dir().unwrap();
    server.stop();
    let data = dir.path();
    let (ok, out) = check(data, false);
    assert!(ok, "a clean data directory passes: {out}");
    assert!(out.contains("integrity_check ok"), "{out}");

    alter(data, &md5_hex(&altered));
    std::fs::remove_file(data.join(blob_path(&md5_hex(&lost)))).unwrap();
    let orphan_md5 = md5_hex(b"nobody's");
    let orphan = data.join(blob_path(&orphan_md5));
    std::fs::create_dir_all(orphan.parent().unwrap()).unwrap();
    std::fs::write(&orphan, b"nobody's").unwrap();
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&orphan)
        .unwrap()
        .set_modified(old)
        .unwrap();

    let (ok, out) = check(data, false);
    assert!(!ok, "{out}");
    assert!(
        out.contains(&format!("movie {altered_id} `altered.mp4`")),
        "{out}"
    );
    assert!(
        out.contains(&format!("movie {lost_id} `lost.mp4`")),
        "{out}"
    );
    assert!(out.contains("is missing"), "{out}");
    assert!(
        out.contains("orphan:") && out.contains(&orphan_md5[2..]),
        "{out}"
    );
    assert!(out.contains("3 problem(s)"), "{out}");
    assert!(orphan.exists(), "a check without --repair moves nothing");

    let (ok, out) = check(data, true);
    assert!(!ok, "{out}");
    let quarantine = data.join("quarantine");
    assert!(quarantine.join(md5_hex(&altered)).is_file(), "{out}");
    assert!(quarantine.join(&orphan_md5).is_file(), "{out}");
    assert!(!orphan.exists());

    let (ok, out) = check(data, false);
    assert!(ok, "after --repair only known damage is left: {out}");
    assert!(out.contains("known damaged"), "{out}");

    let server = TestServer::in_dir(data, plugins(), |c| {
        c.setting("free-download-wait", json!(0))
    });
    let mut admin = root(&server);
    assert_eq!(listed(&mut admin, "all"), ["fine.mp4"]);
    assert_eq!(stats_of(&mut admin, altered_id)["damaged"], json!(true));
}

/// `check --database postgres://...` reads the rows from PostgreSQL (it used to refuse), finds
/// the altered blob, and `--repair` marks its row damaged there.
#[test]
fn check_reads_a_postgres_database_too() {
    let Some(cluster) = kino_testkit::pg::cluster() else {
        return;
    };
    let url = cluster.new_database();
    let dir = tempfile::tempdir().unwrap();
    let on_pg = |mut c: Config| {
        c.database = Some(url.clone());
        c.setting("free-download-wait", json!(0))
    };
    {
        let config = on_pg(kino_testkit::test_config(dir.path(), &plugins()));
        let mut core = Core::open(config, plugins()).unwrap();
        let admin = json!({"name": "root", "password": "root-pass-1", "role": "admin"});
        core.operator_call("auth.register", admin).unwrap();
    }
    let mut server = TestServer::in_dir(dir.path(), plugins(), on_pg);
    let mut admin = root(&server);
    let altered = content(40, 3000);
    let altered_id = upload_id(&mut admin, "altered.mp4", &altered, true);
    upload_id(&mut admin, "fine.mp4", &content(41, 3000), true);
    drop(admin);
    server.stop();
    let data = dir.path();
    let (ok, out) = check_with(data, Some(&url), false);
    assert!(ok, "a clean data directory passes: {out}");
    assert!(out.contains("PostgreSQL answers"), "{out}");

    alter(data, &md5_hex(&altered));
    let (ok, out) = check_with(data, Some(&url), false);
    assert!(!ok, "{out}");
    assert!(
        out.contains(&format!("movie {altered_id} `altered.mp4`")),
        "{out}"
    );
    assert!(out.contains("1 problem(s)"), "{out}");
    let (ok, out) = check_with(data, Some(&url), true);
    assert!(!ok, "{out}");
    assert!(out.contains("marked damaged"), "{out}");
    let mut pg = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let damaged: i64 = pg
        .query_one("SELECT damaged FROM movies WHERE id = $1", &[&altered_id])
        .unwrap()
        .get(0);
    assert_eq!(damaged, 1);
    let (ok, out) = check_with(data, Some(&url), false);
    assert!(ok, "after --repair only known damage is left: {out}");
    assert!(out.contains("known damaged"), "{out}");
}

/// A data directory with one uploaded movie (so `blobs/` holds a file), the server stopped.
fn data_with_a_movie() -> tempfile::TempDir {
    let mut server = server(0);
    let mut admin = root(&server);
    upload_id(&mut admin, "kept.mp4", &content(30, 4000), true);
    let dir = server.take_dir().unwrap();
    server.stop();
    for side in ["kino.db-wal", "kino.db-shm"] {
        let _ = std::fs::remove_file(dir.path().join(side));
    }
    dir
}

fn start_error(data: &Path) -> String {
    let config = kino_testkit::fast_auth(Config::new(data));
    match Core::open(config, plugins()) {
        Ok(_) => panic!("the server started on {}", data.display()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn an_emptied_database_beside_stored_blobs_is_refused() {
    let dir = data_with_a_movie();
    let db = dir.path().join("kino.db");
    std::fs::File::create(&db).unwrap(); // truncated to zero bytes
    let err = start_error(dir.path());
    assert!(err.contains("empty but blobs are stored"), "{err}");
    assert!(err.contains("kino-server check"), "{err}");
    std::fs::remove_file(&db).unwrap(); // lost altogether
    let err = start_error(dir.path());
    assert!(err.contains("empty but blobs are stored"), "{err}");
    // Refusing left the blob where it was, and a fresh data directory still starts.
    assert_eq!(files_under(&dir.path().join("blobs")).len(), 1);
    let fresh = tempfile::tempdir().unwrap();
    assert!(Core::open(Config::new(fresh.path()), plugins()).is_ok());
}

#[test]
fn a_database_missing_a_plugins_tables_is_refused() {
    let dir = data_with_a_movie();
    let conn = rusqlite::Connection::open(dir.path().join("kino.db")).unwrap();
    conn.execute_batch("DROP TABLE download_records; DROP TABLE movies;")
        .unwrap();
    drop(conn);
    let err = start_error(dir.path());
    assert!(err.contains("plugin movies"), "{err}");
    assert!(err.contains("download_records, movies"), "{err}");
}

#[test]
fn a_damaged_database_is_refused_with_a_pointer_to_check() {
    let dir = data_with_a_movie();
    let db = dir.path().join("kino.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    let page: u64 = conn
        .query_row(
            "SELECT rootpage FROM sqlite_master WHERE name = 'users'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    drop(conn);
    let _ = std::fs::remove_file(dir.path().join("kino.db-wal"));
    let _ = std::fs::remove_file(dir.path().join("kino.db-shm"));
    // Scribble over the users table's page; the schema on page 1 stays readable.
    let mut bytes = std::fs::read(&db).unwrap();
    let at = ((page - 1) * 4096) as usize;
    bytes[at..at + 4096].fill(0x5a);
    std::fs::write(&db, &bytes).unwrap();
    let err = start_error(dir.path());
    assert!(err.contains("fails PRAGMA quick_check"), "{err}");
    assert!(err.contains("kino-server check"), "{err}");
    // A file that is not a database at all.
    std::fs::write(&db, vec![0x5a; 8192]).unwrap();
    let err = start_error(dir.path());
    assert!(err.contains("cannot be opened"), "{err}");
    assert!(err.contains("kino-server check"), "{err}");
}

/// A really full disk: the data directory on an 8 MiB tmpfs filled to the last byte. Needs root
/// (it mounts the tmpfs), so it is ignored by default; run it with
/// `cargo test -p kino-server-bin --test hardening_integrity -- --ignored a_full_disk`
/// as root.
#[test]
#[ignore = "needs root to mount a tmpfs"]
fn a_full_disk_answers_unavailable_and_reads_go_on() {
    use std::io::Write;
    let mount = tempfile::tempdir().unwrap();
    let status = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=8m", "tmpfs"])
        .arg(mount.path())
        .status()
        .unwrap();
    assert!(status.success(), "mount failed: run as root");
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(mount.path().to_path_buf());
    let data = mount.path().join("data");
    kino_testkit::add_user(&data, plugins(), "root", "root-pass-1", true);
    let mut server = TestServer::in_dir(&data, plugins(), |c| {
        c.setting("free-download-wait", json!(0))
    });
    let mut admin = root(&server);
    let (mut early, _) = register_and_login(&server, "early");
    let mut filler = std::fs::File::create(mount.path().join("filler")).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    while filler.write_all(&chunk).is_ok() {}
    let _ = filler.write_all(&chunk[..1]);
    let mut anon = guarded(server.client());
    let refused = register_until_refused(&mut anon, 5000, "the disk never filled");
    assert_eq!(refused.code(), Some(ErrorCode::Unavailable), "{refused}");
    let notice = json!({"title": "t", "content": "x".repeat(9_000)});
    assert_eq!(
        code(admin.call("notices.publish", notice)),
        ErrorCode::Unavailable
    );
    assert_eq!(early.call("movies.list", json!({})).unwrap(), json!([]));
    assert_eq!(admin.call("notices.list", json!({})).unwrap(), json!([]));
    let (_, login) = kino_testkit::login(&server, "early", "pw-of-user");
    assert_eq!(login["name"], json!("early"));
    server.stop();
}

/// Registers accounts until the server refuses one (the storage filled up); returns the refusal.
fn register_until_refused(
    anon: &mut kino_client::Client,
    at_most: usize,
    never: &str,
) -> kino_testkit::ClientError {
    for i in 0..at_most {
        let r = anon.call(
            "auth.register",
            json!({"name": format!("user{i}"), "password": "pw-of-user"}),
        );
        if let Err(e) = r {
            return e;
        }
    }
    panic!("{never}");
}
