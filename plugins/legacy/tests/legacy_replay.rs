//! The original Python client's exact byte sequences, replayed against a real server: every
//! request type of the admin and user views, the reply shapes they read, and the bytes of
//! downloads. See `legacy_support` for how the bytes are built from the seed's client code.
#![allow(clippy::unwrap_used)]

mod legacy_support;

use std::time::{Duration, Instant};

use kino_api::serde_json::{json, Value};
use legacy_support::{
    assert_ok, assert_refused, fingerprint, id_of, md5_hex, movie_bytes, py_dumps, py_lines,
    server, Legacy, WAIT_S,
};

#[test]
fn frames_are_what_python_writes() {
    // `json.dumps({...})` in Python 3.11 prints exactly this (ensure_ascii, ", " and ": ").
    let body = py_dumps(&[
        ("type", json!("login")),
        ("name", json!("管理员")),
        ("x", json!("a\"b\\c\u{7f}\u{1}😀")),
        ("n", json!(1)),
        ("s", Value::Null),
        ("b", json!(true)),
    ]);
    let python = r#"{"type": "login", "name": "\u7ba1\u7406\u5458", "x": "a\"b\\c\u007f\u0001\ud83d\ude00", "n": 1, "s": null, "b": true}"#;
    assert_eq!(String::from_utf8(body).unwrap(), python);
    // `common.get_file_md5` on the same bytes, computed by Python.
    assert_eq!(
        fingerprint(&movie_bytes(1, 1000)),
        "d16f87492dd662a4d13babe3f53f46a3"
    );
    assert_eq!(
        fingerprint(&movie_bytes(7, 25)),
        "16a2055688c2d1e40b985e4fde9c71af"
    );
    let file = movie_bytes(1, 1000);
    let lines = py_lines(&file);
    assert_eq!(lines.concat(), file);
    assert!(lines.len() > 5 && lines[0].ends_with(b"\n"));
}

#[test]
fn admin_view_replayed() {
    let server = server();
    let mut admin = Legacy::connect(server.addr);
    let pw = md5_hex(b"boss-pw");
    assert_eq!(
        py_dumps(&[
            ("type", json!("register")),
            ("name", json!("boss")),
            ("password", json!(pw)),
            ("user_type", json!("admin")),
        ]),
        format!(
            r#"{{"type": "register", "name": "boss", "password": "{pw}", "user_type": "admin"}}"#
        )
        .into_bytes()
    );
    assert_ok(&admin.register("boss", "boss-pw", "admin"), "注册成功");
    assert_refused(&admin.register("boss", "other", "admin"), "用户已存在");
    assert_refused(&admin.login("boss", "boss-pw", "user"), "用户类型不对");
    assert_refused(&admin.login("boss", "nope", "admin"), "用户名或密码不正确");
    assert_refused(
        &admin.login("nobody", "nope", "admin"),
        "用户名或密码不正确",
    );
    // The refused login (wrong user_type) did not leave the connection logged in.
    assert_refused(&admin.simple("check_notice"), "请先登录");

    let back = admin.login("boss", "boss-pw", "admin");
    assert_ok(&back, "登陆成功");
    assert_eq!(back["is_vip"], json!(0));
    assert!(back["is_vip"].is_u64(), "is_vip must be an integer: {back}");
    let session = back["session"].as_str().unwrap();
    assert!(session.len() == 32 && session.bytes().all(|b| b.is_ascii_hexdigit()));

    let free = movie_bytes(1, 50_000);
    let charged = movie_bytes(2, 30_000);
    assert_ok(&admin.check_movie(&free), "可以上传");
    assert_ok(&admin.update_movie("free.mp4", &free, true), "上传成功");
    assert_refused(&admin.check_movie(&free), "该电影已存在");
    assert_ok(&admin.check_movie(&charged), "可以上传");
    assert_ok(
        &admin.update_movie("charged.mp4", &charged, false),
        "上传成功",
    );

    let all = admin.movie_list("all");
    assert_ok(&all, "查询成功");
    let (free_id, charged_id) = (id_of(&all, "free.mp4"), id_of(&all, "charged.mp4"));
    assert_eq!(
        all["movie_list"],
        json!([
            ["free.mp4", "免费", free_id],
            ["charged.mp4", "收费", charged_id]
        ])
    );
    assert_eq!(
        admin.movie_list("free")["movie_list"],
        json!([["free.mp4", "免费", free_id]])
    );
    assert_eq!(
        admin.movie_list("charge")["movie_list"],
        json!([["charged.mp4", "收费", charged_id]])
    );

    let s = admin.session();
    let back = admin.call(&[
        ("type", json!("release_notice")),
        ("session", s.clone()),
        ("title", json!("开业")),
        ("content", json!("全场免费")),
    ]);
    assert_ok(&back, "发布成功");

    let delete = |admin: &mut Legacy, id: &Value| {
        admin.call(&[
            ("type", json!("delete_movie")),
            ("session", s.clone()),
            ("movie_id", id.clone()),
        ])
    };
    assert_ok(&delete(&mut admin, &charged_id), "删除成功");
    assert_refused(&delete(&mut admin, &charged_id), "该电影不存在");
    assert_eq!(
        admin.movie_list("charge"),
        json!({"flag": false, "msg": "暂无影片"})
    );
    // A deleted movie's content may be uploaded again, and comes back under its old id.
    assert_ok(&admin.check_movie(&charged), "可以上传");
    assert_ok(
        &admin.update_movie("charged.mp4", &charged, false),
        "上传成功",
    );
    assert_eq!(
        id_of(&admin.movie_list("charge"), "charged.mp4"),
        charged_id
    );
    assert_refused(&admin.check_movie(&charged), "该电影已存在");
}

/// The admin part a user session needs: a free and a charged movie and a notice.
fn stock(server: &kino_testkit::TestServer) -> (Vec<u8>, Vec<u8>) {
    let mut admin = Legacy::connect(server.addr);
    assert_ok(&admin.register("boss", "boss-pw", "admin"), "注册成功");
    assert_ok(&admin.login("boss", "boss-pw", "admin"), "登陆成功");
    let free = movie_bytes(3, 700_000);
    let charged = movie_bytes(4, 300_000);
    assert_ok(&admin.update_movie("免费电影.mp4", &free, true), "上传成功");
    assert_ok(
        &admin.update_movie("charged.mkv", &charged, false),
        "上传成功",
    );
    let s = admin.session();
    assert_ok(
        &admin.call(&[
            ("type", json!("release_notice")),
            ("session", s),
            ("title", json!("t1")),
            ("content", json!("c1")),
        ]),
        "发布成功",
    );
    (free, charged)
}

#[test]
fn user_view_replayed() {
    let server = server();
    let (free, charged) = stock(&server);
    let mut user = Legacy::connect(server.addr);
    assert_refused(&user.simple("check_notice"), "请先登录");
    assert_ok(&user.register("alice", "alice-pw", "user"), "注册成功");
    assert_refused(&user.login("alice", "alice-pw", "admin"), "用户类型不对");
    let back = user.login("alice", "alice-pw", "user");
    assert_ok(&back, "登陆成功");
    assert_eq!(back["is_vip"], json!(0));

    let notices = user.simple("check_notice");
    assert_ok(&notices, "查询成功");
    assert_eq!(notices["back_notice_list"], json!([["t1", "c1"]]));
    assert_refused(&user.simple("download_movie_record"), "暂无下载记录");

    let all = user.movie_list("all");
    let free_id = id_of(&user.movie_list("free"), "免费电影.mp4");
    let charged_id = id_of(&user.movie_list("charge"), "charged.mkv");
    assert_eq!(all["movie_list"].as_array().unwrap().len(), 2);

    // A free movie, not VIP: the server holds the reply for the wait and says wait_time 0.
    let started = Instant::now();
    let (back, bytes) = user.download(&free_id);
    let waited = started.elapsed();
    assert_eq!(
        (back["flag"].clone(), back["wait_time"].clone()),
        (json!(true), json!(0))
    );
    assert_eq!(back["file_name"], json!("免费电影.mp4"));
    assert_eq!(back["file_size"], json!(free.len()));
    assert!(bytes == free, "free movie bytes differ");
    assert!(
        waited >= Duration::from_millis(WAIT_S * 1000 - 50),
        "{waited:?}"
    );

    // A charged movie: this download is the purchase; it starts at once.
    let started = Instant::now();
    let (back, bytes) = user.download(&charged_id);
    assert_eq!(back["flag"], json!(true), "{back}");
    assert!(bytes == charged, "charged movie bytes differ");
    assert!(started.elapsed() < Duration::from_millis(WAIT_S * 1000));
    // The purchase is recorded, at the regular price (movies.stats reads the vip orders).
    let charged_sales = || {
        let mut root = kino_testkit::admin_client(&server, "root");
        let stats = root.call("movies.stats", json!({})).unwrap();
        let row = stats
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == json!("charged.mkv"))
            .cloned()
            .unwrap();
        (row["purchases"].clone(), row["revenue"].clone())
    };
    assert_eq!(charged_sales(), (json!(1), json!(10)));
    // Downloading it again costs nothing more and still works.
    let (back, bytes) = user.download(&charged_id);
    assert_eq!(back["flag"], json!(true), "{back}");
    assert!(bytes == charged);
    assert_eq!(charged_sales(), (json!(1), json!(10)));

    let records = user.simple("download_movie_record");
    assert_ok(&records, "查询成功");
    assert_eq!(
        records["back_record_list"],
        json!(["免费电影.mp4", "charged.mkv", "charged.mkv"])
    );

    assert_ok(&user.simple("buy_vip"), "购买成功");
    assert_refused(&user.simple("buy_vip"), "您已经是会员啦");
    let mut again = Legacy::connect(server.addr);
    assert_eq!(again.login("alice", "alice-pw", "user")["is_vip"], json!(1));
    // VIP: free movies start at once.
    let started = Instant::now();
    let (back, bytes) = user.download(&free_id);
    assert_eq!(back["flag"], json!(true), "{back}");
    assert!(bytes == free);
    assert!(started.elapsed() < Duration::from_millis(WAIT_S * 1000));

    let (back, _) = user.download(&json!(9999));
    assert_refused(&back, "暂无影片");
}

#[test]
fn every_type_needs_a_login_and_keeps_the_stream_in_sync() {
    let server = server();
    let mut c = Legacy::connect(server.addr);
    for session in [Value::Null, json!("0123456789abcdef0123456789abcdef")] {
        for kind in [
            "check_movie",
            "get_movie_list",
            "delete_movie",
            "release_notice",
            "buy_vip",
            "download_movie",
            "download_movie_record",
            "check_notice",
        ] {
            let back = c.call(&[
                ("type", json!(kind)),
                ("session", session.clone()),
                ("movie_type", json!("all")),
                ("movie_id", json!(1)),
            ]);
            assert_refused(&back, "请先登录");
        }
        // An upload refused before its bytes were read: they are discarded, and the next frame
        // is read where the client put it.
        c.session = session.as_str().map(str::to_owned);
        let file = movie_bytes(5, 10_000);
        assert_refused(&c.update_movie("x.mp4", &file, true), "请先登录");
    }
    assert_ok(&c.register("late", "pw", "user"), "注册成功");
}

#[test]
fn content_uploaded_natively_is_recognised_after_one_refused_legacy_upload() {
    use legacy_support::{assert_ok, assert_refused, md5_hex, movie_bytes, server, Legacy};
    let server = server();
    let file = movie_bytes(9, 40_000);
    let mut native = kino_testkit::admin_client(&server, "root");
    native
        .upload(
            "movies.upload",
            json!({"name": "native.mp4", "md5": md5_hex(&file), "free": true}),
            &mut &file[..],
            file.len() as u64,
            &mut |_| {},
        )
        .unwrap();
    let mut old = Legacy::connect(server.addr);
    assert_ok(&old.register("oldadmin", "pw", "admin"), "注册成功");
    assert_ok(&old.login("oldadmin", "pw", "admin"), "登陆成功");
    // No legacy upload ever named this content, so the fingerprint is unknown at first...
    assert_ok(&old.check_movie(&file), "可以上传");
    assert_refused(&old.update_movie("again.mp4", &file, true), "该电影已存在");
    // ...and once the refused upload has matched it, the client is told it exists.
    assert_refused(&old.check_movie(&file), "该电影已存在");
}
