//! What the original server got wrong stays fixed under the legacy request types: a `user_id`
//! in a request gives no power, admin-only types need an admin, admin sign-up over the wire
//! needs `--allow-admin-signup`, and a client's file name never becomes a path.
#![allow(clippy::unwrap_used)]

mod legacy_support;

use std::path::Path;

use kino_api::serde_json::{json, Value};
use legacy_support::{
    assert_ok, assert_refused, id_of, md5_hex, movie_bytes, server, server_with, Legacy,
};

fn user_id_of(server: &kino_testkit::TestServer, name: &str) -> Value {
    let mut root = kino_testkit::admin_client(server, "root");
    let users = root.call("auth.users", json!({})).unwrap();
    users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == json!(name))
        .unwrap()["user_id"]
        .clone()
}

fn logged_in(server: &kino_testkit::TestServer, name: &str, user_type: &str) -> Legacy {
    let mut c = Legacy::connect(server.addr);
    assert_ok(&c.register(name, "pw", user_type), "注册成功");
    assert_ok(&c.login(name, "pw", user_type), "登陆成功");
    c
}

#[test]
fn user_id_in_a_request_gives_no_power() {
    let server = server();
    let mut admin = logged_in(&server, "boss", "admin");
    let free = movie_bytes(1, 5_000);
    assert_ok(&admin.update_movie("f.mp4", &free, true), "上传成功");
    let mut alice = logged_in(&server, "alice", "user");
    let mut bob = logged_in(&server, "bob", "user");
    let alice_id = user_id_of(&server, "alice");
    let free_id = id_of(&alice.movie_list("all"), "f.mp4");
    let (back, _) = alice.download(&free_id);
    assert_eq!(back["flag"], json!(true));

    // Bob names Alice: he still reads his own (empty) records.
    let s = bob.session();
    let back = bob.call(&[
        ("type", json!("download_movie_record")),
        ("session", s.clone()),
        ("user_id", alice_id.clone()),
    ]);
    assert_refused(&back, "暂无下载记录");
    // Bob buys VIP "for Alice": Bob becomes VIP, Alice does not.
    let back = bob.call(&[
        ("type", json!("buy_vip")),
        ("session", s),
        ("user_id", alice_id),
    ]);
    assert_ok(&back, "购买成功");
    let mut again = Legacy::connect(server.addr);
    assert_eq!(again.login("alice", "pw", "user")["is_vip"], json!(0));
    assert_eq!(again.login("bob", "pw", "user")["is_vip"], json!(1));
    // A `user_id` without a session is not a login.
    let mut anon = Legacy::connect(server.addr);
    let back = anon.call(&[("type", json!("check_notice")), ("user_id", json!(1))]);
    assert_refused(&back, "请先登录");
}

#[test]
fn admin_types_need_an_admin() {
    let server = server();
    let mut admin = logged_in(&server, "boss", "admin");
    let file = movie_bytes(2, 8_000);
    assert_ok(&admin.update_movie("keep.mp4", &file, true), "上传成功");
    let boss_id = user_id_of(&server, "boss");
    let mut user = logged_in(&server, "mallory", "user");
    let id = id_of(&user.movie_list("all"), "keep.mp4");
    let s = user.session();

    assert_refused(&user.check_movie(&file), "需要管理员权限");
    let other = movie_bytes(3, 9_000);
    assert_refused(
        &user.update_movie("evil.mp4", &other, true),
        "需要管理员权限",
    );
    for (kind, extra) in [
        ("delete_movie", ("movie_id", id.clone())),
        ("release_notice", ("title", json!("pwned"))),
    ] {
        let back = user.call(&[
            ("type", json!(kind)),
            ("session", s.clone()),
            extra,
            ("content", json!("x")),
            ("user_id", boss_id.clone()),
        ]);
        assert_refused(&back, "需要管理员权限");
    }
    // Nothing changed, and the refused upload's bytes did not desynchronise the stream.
    assert_eq!(
        user.movie_list("all")["movie_list"],
        json!([["keep.mp4", "免费", id]])
    );
    assert_refused(&user.simple("check_notice"), "暂无公告");
}

#[test]
fn admin_sign_up_needs_the_server_flag() {
    let server = server_with(false);
    let mut c = Legacy::connect(server.addr);
    let back = c.register("boss", "pw", "admin");
    assert_eq!(back["flag"], json!(false), "{back}");
    assert!(back["msg"]
        .as_str()
        .unwrap()
        .contains("--allow-admin-signup"));
    assert_ok(&c.register("boss", "pw", "user"), "注册成功");
    assert_refused(&c.login("boss", "pw", "admin"), "用户类型不对");
    // The password the client hashed is the password: a native login with the same hex works.
    let mut native = server.client();
    let me = native
        .call(
            "auth.login",
            json!({"name": "boss", "password": md5_hex(b"pw")}),
        )
        .unwrap();
    assert_eq!(me["role"], json!("user"));
    // The stored hash is argon2id, not the client's MD5.
    let md5 = md5_hex(b"pw");
    for file in ["kino.db", "kino.db-wal"] {
        let db = std::fs::read(server.data().join(file)).unwrap_or_default();
        assert!(
            !db.windows(md5.len()).any(|w| w == md5.as_bytes()),
            "{file}"
        );
    }
}

fn files_named(dir: &Path, needle: &str, found: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files_named(&path, needle, found);
        } else if path.to_string_lossy().contains(needle) {
            found.push(path.to_string_lossy().into_owned());
        }
    }
}

#[test]
fn names_never_become_paths() {
    let server = server();
    let mut admin = logged_in(&server, "boss", "admin");
    let file = movie_bytes(6, 4_000);
    assert_ok(
        &admin.update_movie("../../escape_legacy.mp4", &file, true),
        "上传成功",
    );
    let other = movie_bytes(7, 4_000);
    assert_ok(
        &admin.update_movie("C:\\films\\win_legacy.mp4", &other, false),
        "上传成功",
    );
    let list = admin.movie_list("all");
    let id = id_of(&list, "escape_legacy.mp4");
    id_of(&list, "win_legacy.mp4");
    let mut found = Vec::new();
    files_named(server.data(), "legacy.mp4", &mut found);
    assert!(found.is_empty(), "a client name became a path: {found:?}");
    let outside = server.data().join("../../escape_legacy.mp4");
    assert!(!outside.exists());
    let (back, bytes) = admin.download(&id);
    assert_eq!(back["file_name"], json!("escape_legacy.mp4"));
    assert!(bytes == file);
    // A name with a control character is refused in the original shape.
    let bad = movie_bytes(8, 4_000);
    let back = admin.update_movie("a\nb.mp4", &bad, true);
    assert_eq!(back["flag"], json!(false), "{back}");
}
