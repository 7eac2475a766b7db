//! The catalogue's rules: listing filters and pages, a deleted movie brought back by its
//! content, what may be bought and when, download offsets, notice rules.
#![allow(clippy::unwrap_used)]

mod media_support;

use kino_api::serde_json::{json, Value};
use kino_api::ErrorCode;
use media_support::*;

fn names(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect()
}

#[test]
fn listing_filters_by_kind_and_name_and_pages() {
    let server = server(0);
    let mut admin = root(&server);
    for (i, (name, free)) in [
        ("The Matrix.mkv", false),
        ("matrix reloaded.mkv", true),
        ("50% off_sale.mp4", true),
        ("500 days.mp4", false),
    ]
    .into_iter()
    .enumerate()
    {
        upload(&mut admin, name, &content(100 + i as u32, 100), free).unwrap();
    }
    let (mut user, _) = register_and_login(&server, "frank");
    let q = |user: &mut kino_client::Client, args: Value| user.call("movies.list", args).unwrap();

    assert_eq!(
        names(&q(&mut user, json!({"q": "MATRIX"}))),
        ["matrix reloaded.mkv", "The Matrix.mkv"]
    );
    assert_eq!(
        names(&q(&mut user, json!({"q": "matrix", "kind": "charge"}))),
        ["The Matrix.mkv"]
    );
    // `%` and `_` are literal, not wildcards.
    assert_eq!(
        names(&q(&mut user, json!({"q": "50%"}))),
        ["50% off_sale.mp4"]
    );
    assert_eq!(
        names(&q(&mut user, json!({"q": "f_s"}))),
        ["50% off_sale.mp4"]
    );
    assert!(names(&q(&mut user, json!({"q": "0_d"}))).is_empty());
    assert_eq!(
        names(&q(&mut user, json!({"limit": 2}))),
        ["500 days.mp4", "50% off_sale.mp4"]
    );
    assert_eq!(
        names(&q(&mut user, json!({"limit": 2, "offset": 2}))),
        ["matrix reloaded.mkv", "The Matrix.mkv"]
    );
    assert!(names(&q(&mut user, json!({"offset": 4}))).is_empty());

    let item = &q(&mut user, json!({"limit": 1}))[0];
    let mut keys: Vec<&String> = item.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["free", "id", "md5", "name", "size", "uploaded_at"]);
    assert_eq!(item["free"], json!(false));

    for bad in [
        json!({"kind": "cheap"}),
        json!({"limit": 1001}),
        json!({"limit": -1}),
        json!({"free": true}),
    ] {
        assert_eq!(
            code(user.call("movies.list", bad.clone())),
            ErrorCode::BadArgs,
            "{bad}"
        );
    }
}

#[test]
fn uploading_a_deleted_movie_again_brings_it_back() {
    let server = server(0);
    let mut admin = root(&server);
    let film = content(20, 3000);
    let id = upload_id(&mut admin, "old name.mp4", &film, true);
    upload_id(&mut admin, "other.mp4", &content(21, 10), true);
    admin
        .call("movies.delete", json!({"movie_id": id}))
        .unwrap();
    assert_eq!(
        admin
            .call("movies.check", json!({"md5": md5_hex(&film)}))
            .unwrap(),
        json!({"exists": false, "id": null})
    );
    let back = upload(&mut admin, "new name.mp4", &film, false).unwrap();
    assert_eq!(back["id"], json!(id));
    assert_eq!(back["restored"], json!(true));
    assert_eq!(back["name"], json!("new name.mp4"));
    assert_eq!(back["free"], json!(false));
    // It counts as newly uploaded: first in the list.
    assert_eq!(listed(&mut admin, "all"), ["new name.mp4", "other.mp4"]);
    assert_eq!(listed(&mut admin, "charge"), ["new name.mp4"]);
    assert!(files_under(&server.data().join("tmp")).is_empty());
}

#[test]
fn what_can_be_bought_and_downloaded() {
    let server = server(0);
    let mut admin = root(&server);
    let free = upload_id(&mut admin, "free.mp4", &content(30, 1000), true);
    let film = content(31, 1000);
    let charged = upload_id(&mut admin, "charged.mp4", &film, false);
    let (mut user, _) = register_and_login(&server, "grace");

    assert_eq!(
        code(user.call("movies.buy", json!({"movie_id": free}))),
        ErrorCode::Conflict
    );
    assert_eq!(
        code(download(&mut user, charged, Some(10))),
        ErrorCode::PaymentRequired
    );
    user.call("movies.buy", json!({"movie_id": charged}))
        .unwrap();
    assert_eq!(
        code(user.call("movies.buy", json!({"movie_id": charged}))),
        ErrorCode::Conflict
    );
    // Buying VIP later does not make the movie cheaper again, nor buyable twice.
    user.call("vip.buy", json!({})).unwrap();
    assert_eq!(code(user.call("vip.buy", json!({}))), ErrorCode::Conflict);
    assert_eq!(
        code(user.call("movies.buy", json!({"movie_id": charged}))),
        ErrorCode::Conflict
    );
    // A purchase is per user.
    let (mut other, _) = register_and_login(&server, "heidi");
    assert_eq!(
        code(download(&mut other, charged, None)),
        ErrorCode::PaymentRequired
    );

    // Offsets: up to the size (nothing follows), never past it.
    assert_eq!(
        code(download(&mut user, charged, Some(1001))),
        ErrorCode::BadArgs
    );
    let (reply, bytes) = download(&mut user, charged, Some(1000)).unwrap();
    assert_eq!((reply["file_size"].clone(), bytes.len()), (json!(0), 0));
    let (_, tail) = download(&mut user, charged, Some(999)).unwrap();
    assert_eq!(tail, film[999..]);

    let stats = admin.call("movies.stats", json!({})).unwrap();
    let total = stats.as_array().unwrap().last().unwrap().clone();
    assert_eq!(total["purchases"], json!(1));
    assert_eq!(total["revenue"], json!(10));
}

#[test]
fn notices_need_a_title_and_content() {
    let server = server(0);
    let mut admin = root(&server);
    for (title, content) in [
        ("", "text"),
        ("   ", "text"),
        ("title", ""),
        ("two\nlines", "text"),
        (&"t".repeat(201) as &str, "text"),
        ("title", "bell\u{7}"),
    ] {
        assert_eq!(
            code(admin.call(
                "notices.publish",
                json!({"title": title, "content": content})
            )),
            ErrorCode::BadArgs,
            "{title:?} / {content:?}"
        );
    }
    let n = admin
        .call(
            "notices.publish",
            json!({"title": "  Closed Monday  ", "content": "Line one.\nLine two."}),
        )
        .unwrap();
    assert_eq!(n["title"], json!("Closed Monday"));
    assert_eq!(n["content"], json!("Line one.\nLine two."));
    let (mut user, login) = register_and_login(&server, "ivan");
    assert_eq!(login["notice"], n);
    assert_eq!(user.call("notices.list", json!({})).unwrap(), json!([n]));
    assert_eq!(
        code(user.call("notices.list", json!({"limit": 5000}))),
        ErrorCode::BadArgs
    );
}

#[test]
fn get_describes_one_live_movie() {
    let server = server(7);
    let mut admin = root(&server);
    let bytes = content(41, 1000);
    let id = upload_id(&mut admin, "dir/one.mp4", &bytes, true);
    let (mut user, _) = register_and_login(&server, "getter");
    let movie = user.call("movies.get", json!({"movie_id": id})).unwrap();
    assert_eq!(movie["name"], json!("one.mp4"));
    assert_eq!(movie["size"], json!(1000));
    assert_eq!(movie["md5"], json!(md5_hex(&bytes)));
    admin
        .call("movies.delete", json!({"movie_id": id}))
        .unwrap();
    assert_eq!(
        code(user.call("movies.get", json!({"movie_id": id}))),
        ErrorCode::NotFound
    );
    assert_eq!(
        code(user.call("movies.get", json!({"movie_id": 9999}))),
        ErrorCode::NotFound
    );
}

#[test]
fn vip_stats_counts_members_and_sales_for_admins_only() {
    let server = server(0);
    let mut admin = root(&server);
    let charged = upload_id(&mut admin, "paid.mp4", &content(42, 500), false);
    let (mut a, _) = register_and_login(&server, "stat_a");
    let (mut b, _) = register_and_login(&server, "stat_b");
    a.call("vip.buy", json!({})).unwrap();
    a.call("movies.buy", json!({"movie_id": charged})).unwrap();
    b.call("movies.buy", json!({"movie_id": charged})).unwrap();
    assert_eq!(code(b.call("vip.stats", json!({}))), ErrorCode::Forbidden);
    let stats = admin.call("vip.stats", json!({})).unwrap();
    assert_eq!(stats["vips"], json!(1));
    assert_eq!(stats["orders"], json!(3));
    let vip_price = stats["vip_revenue"].as_i64().unwrap();
    // The VIP member paid the VIP movie price (5), the other the regular one (10).
    assert_eq!(stats["revenue"], json!(vip_price + 5 + 10));
}
