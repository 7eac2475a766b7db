//! The media flows on a real S3 server (`s3s-fs`, installed by `.ci/run`) with `--blobs s3://`:
//! upload (multipart, several parts), dedupe, download from 0 and from an offset, delete and
//! upload again, `kino-server check` clean then finding an altered object; nothing lands in
//! the local blob folder.
#![allow(clippy::unwrap_used)]

#[path = "../../plugins/movies/tests/media_support/mod.rs"]
mod media_support;

use std::process::Command;

use kino_api::serde_json::json;
use kino_api::ErrorCode;
use kino_testkit::{S3Server, TestServer, S3_KEY_ID, S3_SECRET};
use media_support::*;

fn check(server: &TestServer, s3: &S3Server) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kino-server"))
        .args(["check", "--data"])
        .arg(server.data())
        .args(["--blobs", &s3.url()])
        .env("AWS_ACCESS_KEY_ID", S3_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", S3_SECRET)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned()
        + String::from_utf8_lossy(&out.stderr).as_ref();
    (out.status.success(), text)
}

#[test]
fn media_flow_on_s3() {
    let Some(s3) = S3Server::start() else { return };
    let server = TestServer::with_admin(plugins(), |c| {
        s3.configure(c.setting("free-download-wait", json!(0)))
    });
    let mut admin = root(&server);
    let film = content(1, (9 << 20) + 12_345);
    let small = content(2, 1000);
    let film_id = upload_id(&mut admin, "film.mp4", &film, true);
    upload_id(&mut admin, "small.mp4", &small, true);
    let md5 = md5_hex(&film);
    assert!(s3.bucket_dir().join("blobs").join(&md5).is_file());
    assert!(files_under(&server.data().join("blobs")).is_empty());
    assert_eq!(
        code(upload(&mut admin, "again.mp4", &film, true)),
        ErrorCode::Conflict
    );
    let wrong = upload_declared(
        &mut admin,
        "bad.mp4",
        &small[..500],
        &md5_hex(&film[..9]),
        true,
    );
    assert_eq!(code(wrong), ErrorCode::BadArgs);

    let (data, bytes) = download(&mut admin, film_id, None).unwrap();
    assert_eq!(data["file_size"], json!(film.len()));
    assert!(bytes == film);
    let offset = 5 << 20;
    let (_, rest) = download(&mut admin, film_id, Some(offset)).unwrap();
    assert!(rest[..] == film[offset as usize..]);

    admin
        .call("movies.delete", json!({"movie_id": film_id}))
        .unwrap();
    let back = upload(&mut admin, "back.mp4", &film, true).unwrap();
    assert_eq!(back["restored"], json!(true));

    let (ok, text) = check(&server, &s3);
    assert!(ok, "check on S3: {text}");
    assert!(text.contains("2 blob(s) stored, 2 referenced"), "{text}");
    let leftovers: Vec<_> = files_under(&s3.bucket_dir().join("uploads"));
    assert!(
        leftovers.is_empty(),
        "temporary objects left: {leftovers:?}"
    );

    std::fs::write(s3.bucket_dir().join("blobs").join(md5_hex(&small)), b"x").unwrap();
    let (ok, text) = check(&server, &s3);
    assert!(!ok && text.contains("damaged"), "{text}");
}

/// The bucket going away is `unavailable` to callers, never a reason to mark movies damaged.
#[test]
fn an_unreachable_bucket_is_unavailable_not_damage() {
    let Some(s3) = S3Server::start() else { return };
    let server = TestServer::with_admin(plugins(), |c| {
        s3.configure(c.setting("free-download-wait", json!(0)))
    });
    let mut admin = root(&server);
    let film = content(5, 10_000);
    let id = upload_id(&mut admin, "film.mp4", &film, true);
    drop(s3);
    assert_eq!(
        code(admin.call("movies.list", json!({}))),
        ErrorCode::Unavailable
    );
    assert_eq!(code(download(&mut admin, id, None)), ErrorCode::Unavailable);
    let db = rusqlite::Connection::open(server.data().join("kino.db")).unwrap();
    let damaged: i64 = db
        .query_row("SELECT damaged FROM movies WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(damaged, 0);
}

/// An object altered in the bucket (same size, one byte changed) is read as damage: the
/// download from byte 0 ends short, the object moves to `quarantine/`, and the movie is
/// unavailable from then on, until its content is uploaded again.
#[test]
fn an_altered_object_is_cut_short_and_quarantined() {
    let Some(s3) = S3Server::start() else { return };
    let server = TestServer::with_admin(plugins(), |c| {
        s3.configure(c.setting("free-download-wait", json!(0)))
    });
    let mut admin = root(&server);
    let film = content(7, 300_000);
    let id = upload_id(&mut admin, "film.mp4", &film, true);
    let object = s3.bucket_dir().join("blobs").join(md5_hex(&film));
    let mut altered = film.clone();
    altered[150_000] ^= 0xff;
    std::fs::write(&object, &altered).unwrap();

    let cut = download(&mut admin, id, None);
    assert!(
        cut.is_err(),
        "the download of an altered object must not complete"
    );
    assert!(!object.exists(), "the altered object stays in blobs/");
    let quarantined = files_under(&s3.bucket_dir().join("quarantine"));
    assert_eq!(quarantined.len(), 1, "{quarantined:?}");

    let mut admin = root(&server);
    assert_eq!(code(download(&mut admin, id, None)), ErrorCode::Unavailable);
    let again = upload(&mut admin, "film.mp4", &film, true).unwrap();
    assert_eq!(again["restored"], json!(true));
    let (_, bytes) = download(&mut admin, id, None).unwrap();
    assert!(bytes == film);
}
