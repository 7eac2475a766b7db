//! The legacy types belong to the original client only: a native client does not see them in
//! `help`, is refused when it names one (and the refusal counts as a failure), and a client
//! that speaks the original protocol gets its unknown types in the original reply shape.
#![allow(clippy::unwrap_used)]

mod legacy_support;

use kino_api::serde_json::{json, Value};
use kino_proto::ErrorCode;
use legacy_support::{assert_ok, py_dumps, server, Legacy};

fn stats_of(server: &kino_testkit::TestServer, name: &str) -> Value {
    let mut root = kino_testkit::admin_client(server, "root");
    root.call("server.info", json!({})).unwrap()["commandstats"][name].clone()
}

#[test]
fn help_hides_legacy_types_but_describes_them_by_name() {
    let server = server();
    let mut c = server.client();
    let listed = c.call("help", json!({})).unwrap();
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"movies.list"), "{names:?}");
    assert!(!names.iter().any(|n| n.starts_with("legacy.")), "{names:?}");
    let one = c.call("help", json!({"command": "legacy.login"})).unwrap();
    assert_eq!(one["legacy_only"], json!(true));
}

#[test]
fn a_native_call_of_a_legacy_type_is_refused_and_counted_as_failed() {
    let server = server();
    let mut c = server.client();
    let err = c.call("legacy.check_notice", json!({})).unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::UnknownCommand));
    assert!(err.to_string().contains("original Python client"), "{err}");
    // By its alias with a native `id`: refused too.
    c.send(&json!({"type": "check_notice", "id": 3})).unwrap();
    let reply = c.recv().unwrap();
    assert!(!reply.ok);
    assert_eq!(reply.id, json!(3));
    let stats = stats_of(&server, "legacy.check_notice");
    assert_eq!(stats["calls"], json!(2), "{stats}");
    assert_eq!(stats["failed"], json!(2), "{stats}");
}

#[test]
fn a_legacy_refusal_counts_as_failed() {
    let server = server();
    let mut old = Legacy::connect(server.addr);
    let back = old.call(&[("type", json!("check_notice")), ("session", Value::Null)]);
    assert_eq!(back["flag"], json!(false));
    assert_ok(&old.register("ann", "pw", "user"), "注册成功");
    let stats = stats_of(&server, "legacy.check_notice");
    assert_eq!(stats["failed"], json!(1), "{stats}");
    let stats = stats_of(&server, "legacy.register");
    assert_eq!(stats["failed"], json!(0), "{stats}");
}

#[test]
fn unknown_types_get_the_original_shape_from_an_old_client() {
    let server = server();
    // No `id`, no plugin prefix: the original client's look, even as the first request.
    let mut old = Legacy::connect(server.addr);
    let back = old.call(&[("type", json!("hack")), ("session", Value::Null)]);
    assert_eq!(back, json!({"flag": false, "msg": "类型不合法"}));
    // Once it spoke the legacy protocol, even a dotted unknown type gets that shape.
    assert_ok(&old.register("bo", "pw", "user"), "注册成功");
    let back = old.call(&[("type", json!("no.such"))]);
    assert_eq!(back, json!({"flag": false, "msg": "类型不合法"}));
    // A native client keeps the native error, with a suggestion.
    let mut c = server.client();
    let err = c.call("movies.lst", json!({})).unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::UnknownCommand));
    assert!(
        err.to_string().contains("did you mean `movies.list`?"),
        "{err}"
    );
    c.send_raw(&{
        let body = py_dumps(&[("type", json!("hack")), ("id", json!(1))]);
        let mut f = (body.len() as u32).to_le_bytes().to_vec();
        f.extend(body);
        f
    })
    .unwrap();
    assert_eq!(
        c.recv().unwrap().error.unwrap().code,
        ErrorCode::UnknownCommand
    );
}
