//! Downloads of blobs verified before (issue 12, "Download of 1 GiB"): the first whole read
//! hashes the file; later downloads of the same unchanged file go out by `sendfile`, unhashed;
//! a file changed on disk after that is hashed again and still caught; the remembered set is
//! bounded by `--verified-blobs-max`.
#![allow(clippy::unwrap_used)]

#[path = "../../plugins/movies/tests/media_support/mod.rs"]
mod media_support;

use std::time::Duration;

use kino_api::serde_json::json;
use kino_api::ErrorCode;
use kino_client::Client;
use kino_testkit::TestServer;
use media_support::*;

/// A file is remembered only when its ctime is older than the check by the store's margin for
/// coarse timestamps (`store::verified::RACY`, 2 s): tests wait that long after an upload.
const SETTLE: Duration = Duration::from_millis(2_100);

fn sendfile_bodies(admin: &mut Client) -> u64 {
    let info = admin.call("server.info", json!({})).unwrap();
    info["bodies_sendfile"]
        .as_u64()
        .unwrap_or_else(|| panic!("server.info has no `bodies_sendfile`: {info}"))
}

fn with_verified_max(max: usize) -> TestServer {
    TestServer::with_admin(plugins(), move |mut c| {
        c.limits.verified_blobs_max = max;
        c.setting("free-download-wait", json!(0))
    })
}

/// Rewrites one byte of a stored blob in place: same size, same inode, another MD5.
fn alter(server: &TestServer, md5: &str) {
    let path = server.data().join(blob_path(md5));
    let mut bytes = std::fs::read(&path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&path, bytes).unwrap();
}

#[test]
fn a_verified_blob_goes_out_by_sendfile_until_it_is_altered_then_is_caught() {
    let server = server(0);
    let mut admin = root(&server);
    let film = content(21, 3_000_000);
    let id = upload_id(&mut admin, "film.mp4", &film, true);
    std::thread::sleep(SETTLE);
    let (mut user, _) = register_and_login(&server, "ann");

    let (_, first) = download(&mut user, id, None).unwrap();
    assert_eq!(first, film);
    assert_eq!(sendfile_bodies(&mut admin), 0, "the first read is hashed");
    let (_, second) = download(&mut user, id, None).unwrap();
    assert_eq!(second, film);
    assert_eq!(
        sendfile_bodies(&mut admin),
        1,
        "verified once, sent by the kernel"
    );
    let (data, tail) = download(&mut user, id, Some(1_000_001)).unwrap();
    assert_eq!(data["offset"], json!(1_000_001));
    assert_eq!(
        tail,
        film[1_000_001..],
        "a resumed download from the middle"
    );
    assert_eq!(sendfile_bodies(&mut admin), 2);

    // Altered on disk after it was verified: hashed again, cut short, quarantined.
    alter(&server, &md5_hex(&film));
    user.send(&kino_testkit::request(
        "movies.download",
        json!({"movie_id": id}),
    ))
    .unwrap();
    let data = kino_testkit::into_data(user.recv().unwrap()).unwrap();
    let promised = data["file_size"].as_u64().unwrap();
    let mut got = Vec::new();
    let whole = user.recv_payload(promised, &mut got, &mut |_| {}).is_ok();
    assert!(!whole, "the altered file must not arrive whole");
    assert!((got.len() as u64) < promised, "got {} bytes", got.len());
    assert_eq!(sendfile_bodies(&mut admin), 2, "not sent unhashed");
    let quarantined = server.data().join("quarantine").join(md5_hex(&film));
    assert!(quarantined.is_file(), "the altered blob went to quarantine");
    let (mut user, _) = register_and_login(&server, "bob");
    assert_eq!(code(download(&mut user, id, None)), ErrorCode::Unavailable);
}

#[test]
fn the_remembered_set_is_bounded_by_its_flag() {
    let server = with_verified_max(1);
    let mut admin = root(&server);
    let a = content(22, 200_000);
    let b = content(23, 200_000);
    let id_a = upload_id(&mut admin, "a.mp4", &a, true);
    let id_b = upload_id(&mut admin, "b.mp4", &b, true);
    std::thread::sleep(SETTLE);
    let (mut user, _) = register_and_login(&server, "ann");
    let mut fetch = |id, want: &[u8]| {
        let (_, bytes) = download(&mut user, id, None).unwrap();
        assert_eq!(bytes, want);
    };
    fetch(id_a, &a);
    fetch(id_a, &a);
    assert_eq!(sendfile_bodies(&mut admin), 1);
    fetch(id_b, &b); // remembered in place of a (the limit is 1)
    fetch(id_a, &a);
    assert_eq!(
        sendfile_bodies(&mut admin),
        1,
        "a was forgotten: hashed again"
    );
    fetch(id_a, &a);
    assert_eq!(sendfile_bodies(&mut admin), 2);

    let none = with_verified_max(0);
    let mut admin = root(&none);
    let id = upload_id(&mut admin, "a.mp4", &a, true);
    std::thread::sleep(SETTLE);
    for _ in 0..2 {
        let (_, bytes) = download(&mut admin, id, None).unwrap();
        assert_eq!(bytes, a);
    }
    assert_eq!(sendfile_bodies(&mut admin), 0, "0 remembers nothing");
}

/// A client that stops reading a body sent by the kernel is given up after `--idle-timeout`,
/// as one reading a piped body is: the transfer slot comes back.
#[test]
fn a_stalled_reader_of_a_sendfile_body_is_given_up() {
    let server = TestServer::with_admin(plugins(), |mut c| {
        c.limits.idle_timeout = Duration::from_secs(1);
        c.setting("free-download-wait", json!(0))
    });
    let mut admin = root(&server);
    let film = content(24, 32 * 1024 * 1024);
    let id = upload_id(&mut admin, "big.mp4", &film, true);
    std::thread::sleep(SETTLE);
    let (_, bytes) = download(&mut admin, id, None).unwrap();
    assert!(bytes == film);
    let (mut stalled, _) = register_and_login(&server, "ann");
    stalled
        .send(&kino_testkit::request(
            "movies.download",
            json!({"movie_id": id}),
        ))
        .unwrap();
    let _ = stalled.recv().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let info = admin.call("server.info", json!({})).unwrap();
        if info["bodies_sendfile"] == json!(1) && info["transfers"] == json!(0) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the stalled download still holds its slot: {info}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(stalled);
}
