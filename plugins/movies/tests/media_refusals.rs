//! What the video service refuses, and what each refusal leaves on disk: roles, internal
//! services, wrong or duplicate content, unknown and deleted movies, hostile names, sizes over
//! the limit or the disk.
#![allow(clippy::unwrap_used)]

mod media_support;

use std::path::PathBuf;

use kino_api::serde_json::json;
use kino_api::ErrorCode;
use kino_testkit::{request, TestServer};
use media_support::*;

#[test]
fn users_are_forbidden_every_admin_command() {
    let server = server(0);
    let mut admin = root(&server);
    let id = upload_id(&mut admin, "film.mp4", &content(1, 1000), true);
    let (mut user, _) = register_and_login(&server, "mallory");
    let film = content(2, 70_000);
    let md5 = md5_hex(&film);
    assert_eq!(
        code(user.call("movies.check", json!({"md5": md5}))),
        ErrorCode::Forbidden
    );
    assert_eq!(
        code(upload(&mut user, "x.mp4", &film, true)),
        ErrorCode::Forbidden
    );
    assert_eq!(
        code(user.call("movies.delete", json!({"movie_id": id}))),
        ErrorCode::Forbidden
    );
    assert_eq!(
        code(user.call("movies.stats", json!({}))),
        ErrorCode::Forbidden
    );
    assert_eq!(
        code(user.call("notices.publish", json!({"title": "t", "content": "c"}))),
        ErrorCode::Forbidden
    );
    assert_eq!(
        code(user.call("vip.stats", json!({}))),
        ErrorCode::Forbidden
    );
    // The refused upload's bytes were discarded: the connection is still in step.
    assert_eq!(user.call("ping", json!({})).unwrap(), json!("pong"));
    assert_eq!(listed(&mut user, "all"), ["film.mp4"]);
    assert!(files_under(&server.data().join("tmp")).is_empty());

    let mut anon = guarded(server.client());
    for command in [
        "movies.list",
        "movies.records",
        "notices.list",
        "vip.buy",
        "vip.status",
    ] {
        assert_eq!(
            code(anon.call(command, json!({}))),
            ErrorCode::Unauthenticated,
            "{command}"
        );
    }
}

#[test]
fn internal_services_are_not_on_the_wire() {
    let server = server(0);
    let mut admin = root(&server);
    let (mut user, _) = register_and_login(&server, "eve");
    for c in [&mut admin, &mut user] {
        assert_eq!(
            code(c.call("vip.charge", json!({"item": "movie:1", "amount": 0}))),
            ErrorCode::UnknownCommand
        );
        assert_eq!(
            code(c.call("vip.owns", json!({"item": "movie:1"}))),
            ErrorCode::UnknownCommand
        );
        assert_eq!(
            code(c.call("vip.sales", json!({}))),
            ErrorCode::UnknownCommand
        );
    }
    let help = admin.call("help", json!({})).unwrap();
    let names: Vec<&str> = help
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .filter(|n| n.starts_with("movies.") || n.starts_with("vip.") || n.starts_with("notices."))
        .collect();
    assert_eq!(
        names,
        [
            "movies.buy",
            "movies.check",
            "movies.delete",
            "movies.download",
            "movies.get",
            "movies.list",
            "movies.records",
            "movies.stats",
            "movies.upload",
            "movies.upload_status",
            "notices.list",
            "notices.publish",
            "vip.buy",
            "vip.stats",
            "vip.status",
        ]
    );
}

#[test]
fn a_wrong_md5_is_refused_and_leaves_no_file() {
    let server = server(0);
    let mut admin = root(&server);
    let film = content(3, 500_000);
    let claimed = md5_hex(&content(4, 10));
    assert_eq!(
        code(upload_declared(
            &mut admin, "film.mp4", &film, &claimed, true
        )),
        ErrorCode::BadArgs
    );
    assert!(files_under(&server.data().join("tmp")).is_empty());
    assert!(files_under(&server.data().join("blobs")).is_empty());
    assert_no_movie(&mut admin, &film);
    for not_md5 in ["xyz", "../../../../etc/passwd", &"g".repeat(32)] {
        assert_eq!(
            code(upload_declared(
                &mut admin, "film.mp4", &film, not_md5, true
            )),
            ErrorCode::BadArgs
        );
        assert_eq!(
            code(admin.call("movies.check", json!({"md5": not_md5}))),
            ErrorCode::BadArgs
        );
    }
    // Upper-case hex is the same digest.
    let upper = md5_hex(&film).to_uppercase();
    let stored = upload_declared(&mut admin, "film.mp4", &film, &upper, true).unwrap();
    assert_eq!(stored["md5"], json!(md5_hex(&film)));
}

#[test]
fn the_same_content_twice_is_a_conflict() {
    let server = server(0);
    let mut admin = root(&server);
    let film = content(5, 100_000);
    let id = upload_id(&mut admin, "first.mp4", &film, true);
    let again = upload(&mut admin, "second name.mp4", &film, false);
    assert_eq!(code(again), ErrorCode::Conflict);
    // Without a declared MD5 the duplicate is found once the bytes are in; still a conflict,
    // and the stored file is untouched.
    let undeclared = admin.upload(
        "movies.upload",
        json!({"name": "third.mp4", "free": true}),
        &mut &film[..],
        film.len() as u64,
        &mut |_| {},
    );
    assert_eq!(code(undeclared), ErrorCode::Conflict);
    assert_eq!(listed(&mut admin, "all"), ["first.mp4"]);
    assert!(files_under(&server.data().join("tmp")).is_empty());
    assert_eq!(
        files_under(&server.data().join("blobs")),
        [blob_path(&md5_hex(&film)).strip_prefix("blobs").unwrap()]
    );
    let (_, bytes) = download(&mut admin, id, None).unwrap();
    assert!(bytes == film);
}

#[test]
fn deleted_and_unknown_movies_are_not_found() {
    let server = server(0);
    let mut admin = root(&server);
    let free = upload_id(&mut admin, "free.mp4", &content(6, 1000), true);
    let charged = upload_id(&mut admin, "charged.mp4", &content(7, 1000), false);
    let (mut user, _) = register_and_login(&server, "dave");
    download(&mut user, free, None).unwrap();
    admin
        .call("movies.delete", json!({"movie_id": free}))
        .unwrap();
    admin
        .call("movies.delete", json!({"movie_id": charged}))
        .unwrap();

    for id in [free, charged, 999_999] {
        assert_eq!(
            code(download(&mut user, id, None)),
            ErrorCode::NotFound,
            "{id}"
        );
        assert_eq!(
            code(user.call("movies.buy", json!({"movie_id": id}))),
            ErrorCode::NotFound
        );
        assert_eq!(
            code(admin.call("movies.delete", json!({"movie_id": id}))),
            ErrorCode::NotFound
        );
    }
    assert!(listed(&mut user, "all").is_empty());
    // The record of a deleted movie stays readable, with its name.
    let records = records_eventually(&mut user, 1);
    assert_eq!(records[0]["name"], json!("free.mp4"));
    assert_eq!(
        code(user.call("movies.download", json!({"movie_id": -1}))),
        ErrorCode::BadArgs
    );
}

#[test]
fn names_with_dot_dot_stay_inside_the_blob_store() {
    let server = server(0);
    let data = server.data().to_path_buf();
    let outside = [data.join("../x"), data.join("../../x"), data.join("x")];
    let existed: Vec<bool> = outside.iter().map(|p| p.exists()).collect();
    let mut admin = root(&server);
    let film = content(8, 4096);
    let stored = upload(&mut admin, "../../x", &film, true).unwrap();
    assert_eq!(stored["name"], json!("x"));
    let windows = upload(&mut admin, "..\\..\\evil.mp4", &content(9, 10), true).unwrap();
    assert_eq!(windows["name"], json!("evil.mp4"));

    let stored_files: Vec<PathBuf> = files_under(&data)
        .into_iter()
        // The server's own files: the database and the data directory's lock.
        .filter(|p| !p.to_string_lossy().starts_with("kino.db") && p.as_os_str() != "kino.lock")
        .collect();
    let mut expected = vec![
        blob_path(&md5_hex(&film)),
        blob_path(&md5_hex(&content(9, 10))),
    ];
    expected.sort();
    assert_eq!(stored_files, expected);
    let now: Vec<bool> = outside.iter().map(|p| p.exists()).collect();
    assert_eq!(now, existed, "a file appeared outside the blob store");
    let (reply, bytes) = download(&mut admin, stored["id"].as_i64().unwrap(), None).unwrap();
    assert_eq!(reply["name"], json!("x"));
    assert!(bytes == film);
}

#[test]
fn bad_names_are_refused_before_the_bytes_are_stored() {
    let server = server(0);
    let mut admin = root(&server);
    let film = content(10, 2000);
    let long = "n".repeat(256);
    for name in [
        "",
        "dir/",
        "..",
        "a/.",
        "bell\u{7}.mp4",
        "two\nlines.mp4",
        &long,
    ] {
        assert_eq!(
            code(upload(&mut admin, name, &film, true)),
            ErrorCode::BadArgs,
            "{name:?}"
        );
    }
    assert_eq!(
        code(admin.upload(
            "movies.upload",
            json!({"name": "no free flag.mp4", "md5": md5_hex(&film)}),
            &mut &film[..],
            film.len() as u64,
            &mut |_| {},
        )),
        ErrorCode::BadArgs
    );
    assert_eq!(
        code(upload(&mut admin, "empty.mp4", &[], true)),
        ErrorCode::BadArgs
    );
    assert!(listed(&mut admin, "all").is_empty());
    assert!(files_under(&server.data().join("tmp")).is_empty());
    let ok = upload(&mut admin, &"n".repeat(255), &film, true).unwrap();
    assert_eq!(ok["name"].as_str().unwrap().len(), 255);
}

#[test]
fn uploads_over_the_limit_or_the_disk_are_too_large() {
    let server = TestServer::with_admin(plugins(), |mut c| {
        c.limits.max_upload = 1 << 20;
        c
    });
    let mut admin = root(&server);
    let film = content(11, 10);
    admin
        .send(&request(
            "movies.upload",
            json!({"name": "big.mp4", "md5": md5_hex(&film), "free": true, "file_size": 2 << 20}),
        ))
        .unwrap();
    assert_eq!(
        admin.recv().unwrap().error.unwrap().code,
        ErrorCode::TooLarge
    );

    // A size the disk cannot hold: refused before any byte is written.
    let server = TestServer::with_admin(plugins(), |mut c| {
        c.limits.max_upload = u64::MAX;
        c
    });
    let mut admin = root(&server);
    admin
        .send(&request(
            "movies.upload",
            json!({
                "name": "huge.mp4", "md5": md5_hex(&film), "free": true, "file_size": 1u64 << 60
            }),
        ))
        .unwrap();
    let reply = admin.recv().unwrap();
    assert_eq!(reply.error.unwrap().code, ErrorCode::TooLarge);
    assert!(files_under(&server.data().join("tmp")).is_empty());
    assert!(listed(&mut root(&server), "all").is_empty());
}
