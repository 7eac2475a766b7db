//! Arguments declared once, as a struct (`#[derive(CommandArgs)]`), on the real server: core
//! refuses out-of-range numbers and over-long strings before the handler runs, with the
//! argument's name and bounds in the message; `help` carries ranges, lengths, defaults, choices
//! and secret markers, and leaves each of them out when a command does not set it (so older
//! clients read the reply as before).
#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use kino_api::serde_json::{json, Value};
use kino_api::{
    ArgChoice, CmdError, Command, CommandArgs, Ctx, ErrorCode, Output, Paging, Plugin, Role,
};
use kino_client::{Client, ClientError};
use kino_testkit::TestServer;

/// Handler runs, to show that refused requests never reach it.
static RAN: AtomicUsize = AtomicUsize::new(0);

/// `rate.add`'s arguments: one of every kind of declaration.
#[derive(CommandArgs)]
struct Rate {
    /// the movie's id
    movie_id: u64,
    /// 1 (poor) to 5 (great)
    #[arg(range = 1..=5)]
    stars: u8,
    /// a few words
    #[arg(max_len = 10)]
    note: Option<String>,
    /// a code only the rater knows
    #[arg(secret, rename = "pin")]
    code: Option<String>,
    /// listing order
    #[arg(default = Order::Newest)]
    order: Order,
    #[arg(flatten)]
    page: Paging,
}

#[derive(ArgChoice, Clone, Copy)]
enum Order {
    Newest,
    Oldest,
}

fn add(_: &mut Ctx, a: Rate) -> Result<Output, CmdError> {
    RAN.fetch_add(1, Ordering::SeqCst);
    Ok(json!({
        "movie_id": a.movie_id,
        "stars": a.stars,
        "note": a.note,
        "has_pin": a.code.is_some(),
        "order": a.order.as_str(),
        "limit": a.page.limit,
        "offset": a.page.offset,
    })
    .into())
}

struct Ratings;

impl Plugin for Ratings {
    fn name(&self) -> &'static str {
        "rate"
    }
    fn commands(&self) -> Vec<Command> {
        vec![Command::new("rate.add", "Rate a movie", add).role(Role::Anon)]
    }
}

fn server() -> TestServer {
    TestServer::with(vec![Arc::new(Ratings)], |c| c)
}

fn refusal(c: &mut Client, args: Value) -> String {
    match c.call("rate.add", args) {
        Err(ClientError::Server(e)) => {
            assert_eq!(e.code, ErrorCode::BadArgs, "{}", e.message);
            e.message
        }
        other => panic!("expected bad_args, got {other:?}"),
    }
}

#[test]
fn ranges_and_lengths_are_checked_by_core_before_the_handler() {
    let s = server();
    let mut c = s.client();
    let before = RAN.load(Ordering::SeqCst);
    for stars in [json!(0), json!(6), json!(9), json!(u64::MAX)] {
        let m = refusal(&mut c, json!({"movie_id": 1, "stars": stars}));
        assert_eq!(m, "stars must be 1-5");
    }
    let m = refusal(
        &mut c,
        json!({"movie_id": 1, "stars": 3, "note": "x".repeat(11)}),
    );
    assert_eq!(m, "note is at most 10 characters");
    let m = refusal(&mut c, json!({"movie_id": 1, "stars": 3, "limit": 1001}));
    assert_eq!(m, "limit must be at most 1000");
    let m = refusal(&mut c, json!({"movie_id": 1, "stars": 3, "order": "best"}));
    assert!(m.contains("one of newest, oldest"), "{m}");
    let m = refusal(&mut c, json!({"movie_id": 1, "stars": 3, "code": "1"}));
    assert!(m.contains("takes no argument `code`"), "{m}");
    assert_eq!(RAN.load(Ordering::SeqCst), before, "a refused request ran");

    // Multi-byte characters count as one each.
    let ok = c
        .call(
            "rate.add",
            json!({"movie_id": 7, "stars": 5, "note": "éééééééééé", "pin": "1"}),
        )
        .unwrap();
    assert_eq!(
        ok,
        json!({"movie_id": 7, "stars": 5, "note": "éééééééééé", "has_pin": true,
               "order": "newest", "limit": 100, "offset": 0})
    );
    let ok = c
        .call(
            "rate.add",
            json!({"movie_id": 7, "stars": 1, "order": "oldest", "limit": 1000, "offset": 3}),
        )
        .unwrap();
    assert_eq!(
        (&ok["order"], &ok["limit"], &ok["offset"], &ok["note"]),
        (&json!("oldest"), &json!(1000), &json!(3), &Value::Null)
    );
}

#[test]
fn help_shows_the_declared_spec_and_omits_what_is_unset() {
    let s = server();
    let mut c = s.client();
    let info = c.call("help", json!({"command": "rate.add"})).unwrap();
    assert!(
        info.get("source").is_none(),
        "source paths stay off the wire"
    );
    let args = info["args"].as_array().unwrap();
    let names: Vec<&str> = args.iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["movie_id", "stars", "note", "pin", "order", "limit", "offset"]
    );
    assert_eq!(
        args[0],
        json!({"name": "movie_id", "kind": "uint", "required": true, "doc": "the movie's id"})
    );
    assert_eq!((&args[1]["min"], &args[1]["max"]), (&json!(1), &json!(5)));
    assert_eq!(args[2]["max_len"], json!(10));
    assert_eq!(args[2]["required"], json!(false));
    assert_eq!(args[3]["secret"], json!(true));
    assert_eq!(args[4]["choices"], json!(["newest", "oldest"]));
    assert_eq!(args[4]["default"], json!("newest"));
    assert_eq!(
        (&args[5]["max"], &args[5]["default"]),
        (&json!(1000), &json!(100))
    );
}

#[test]
fn the_real_plugins_declare_their_secrets() {
    let s = TestServer::start();
    let mut c = s.client();
    let secret = |c: &mut Client, command: &str, arg: &str| {
        let info = c.call("help", json!({"command": command})).unwrap();
        let a = info["args"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == json!(arg))
            .cloned()
            .unwrap();
        a["secret"] == json!(true)
    };
    assert!(secret(&mut c, "auth.login", "password"));
    assert!(secret(&mut c, "auth.register", "password"));
    assert!(secret(&mut c, "auth.passwd", "old"));
    assert!(secret(&mut c, "auth.passwd", "new"));
    assert!(!secret(&mut c, "auth.login", "name"));
}
