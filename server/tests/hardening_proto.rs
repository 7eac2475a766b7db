//! Request parsing and nested calls against a real server: repeated JSON keys are refused, every
//! `id` is echoed byte for byte, a command that calls itself is stopped at
//! [`kino_api::MAX_CALL_DEPTH`] without taking the server down (an internal one too), nested calls
//! cannot change the caller's session nor take its payload, and internal commands are neither on
//! the wire nor in `help`.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use kino_api::serde_json::{json, Value};
use kino_api::{CmdError, Command, CommandArgs, Ctx, ErrorCode, Output, Plugin, Role, Service};
use kino_testkit::TestServer;

/// Commands that nest calls on purpose.
struct Nest;

/// The test plugin's own services, untyped replies: what matters here is the nesting.
const SELF: Service<(), Value> = Service::new("nest.self");
const HIDDEN_SELF: Service<(), Value> = Service::new("nest.hidden");
const COUNTDOWN: Service<Value, Value> = Service::new("nest.countdown");
const LOGIN: Service<Value, Value> = Service::new("auth.login");
const LOGOUT: Service<(), Value> = Service::new("auth.logout");
const TAKE: Service<(), Value> = Service::new("nest.take");

fn recurse(ctx: &mut Ctx, _: ()) -> Result<Output, CmdError> {
    let depth = ctx.depth();
    ctx.call(SELF, ()).map(|_| json!({"depth": depth}).into())
}

fn hidden_recurse(ctx: &mut Ctx, _: ()) -> Result<Output, CmdError> {
    ctx.call(HIDDEN_SELF, ()).map(Output::from)
}

/// Reports whether a payload reached it, and how many bytes.
fn take(ctx: &mut Ctx, _: ()) -> Result<Output, CmdError> {
    let got = ctx.take_upload().map(|(r, _)| drain(r));
    Ok(json!({"payload": got}).into())
}

fn drain(reader: &mut (dyn Read + Send)) -> u64 {
    std::io::copy(reader, &mut std::io::sink()).unwrap_or(0)
}

/// Calls `nest.take` without handing its payload over, then reads the payload itself.
fn keep(ctx: &mut Ctx, _: ()) -> Result<Output, CmdError> {
    let child = ctx.call(TAKE, ())?;
    let own = ctx.take_upload().map(|(r, _)| drain(r));
    Ok(json!({"child": child["payload"], "own": own}).into())
}

/// Hands its payload to `nest.take`; it has none left afterwards.
fn give(ctx: &mut Ctx, _: ()) -> Result<Output, CmdError> {
    let child = ctx.call_with_upload(TAKE, ())?;
    let own = ctx.take_upload().map(|(r, _)| drain(r));
    Ok(json!({"child": child["payload"], "own": own}).into())
}

/// Calls itself `left` more times, to show that 16 levels still work.
#[derive(CommandArgs)]
struct Countdown {
    /// calls still to make
    left: u64,
}

fn countdown(ctx: &mut Ctx, args: Countdown) -> Result<Output, CmdError> {
    let left = args.left;
    if left == 0 {
        return Ok(json!({"depth": ctx.depth()}).into());
    }
    ctx.call(COUNTDOWN, json!({"left": left - 1}))
        .map(Output::from)
}

#[derive(CommandArgs)]
struct LoginInside {
    /// account
    name: String,
    /// its password
    #[arg(secret)]
    password: String,
}

fn login_inside(ctx: &mut Ctx, args: LoginInside) -> Result<Output, CmdError> {
    let asked = json!({"name": args.name, "password": args.password});
    ctx.call(LOGIN, asked).map(Output::from)
}

fn logout_inside(ctx: &mut Ctx, _: ()) -> Result<Output, CmdError> {
    ctx.call(LOGOUT, ()).map(Output::from)
}

impl Plugin for Nest {
    fn name(&self) -> &'static str {
        "nest"
    }
    fn commands(&self) -> Vec<Command> {
        vec![
            Command::new("nest.self", "calls itself", recurse).role(Role::Anon),
            Command::new("nest.countdown", "calls itself `left` times", countdown).role(Role::Anon),
            Command::new("nest.login", "auth.login, nested", login_inside).role(Role::Anon),
            Command::new("nest.logout", "auth.logout, nested", logout_inside).role(Role::User),
            Command::new("nest.hidden", "calls itself, unseen", hidden_recurse)
                .role(Role::Anon)
                .internal(),
            Command::new(
                "nest.hiddenentry",
                "calls nest.hidden",
                |ctx: &mut Ctx, _: ()| ctx.call(HIDDEN_SELF, ()).map(Output::from),
            )
            .role(Role::Anon),
            Command::new("nest.take", "takes a payload if it got one", take)
                .role(Role::Anon)
                .internal(),
            Command::new("nest.keep", "calls nest.take, keeps its payload", keep)
                .role(Role::Anon)
                .upload(),
            Command::new("nest.give", "hands its payload to nest.take", give)
                .role(Role::Anon)
                .upload(),
        ]
    }
}

fn server() -> TestServer {
    TestServer::with(kino_testkit::with_auth(vec![Arc::new(Nest)]), |c| c)
}

fn raw(server: &TestServer) -> TcpStream {
    let s = TcpStream::connect(server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Sends one frame and returns the reply body as text, untouched.
fn exchange(s: &mut TcpStream, body: &str) -> String {
    let mut out = (body.len() as u32).to_le_bytes().to_vec();
    out.extend_from_slice(body.as_bytes());
    s.write_all(&out).unwrap();
    let mut len = [0u8; 4];
    s.read_exact(&mut len).unwrap();
    let mut reply = vec![0u8; u32::from_le_bytes(len) as usize];
    s.read_exact(&mut reply).unwrap();
    String::from_utf8(reply).unwrap()
}

fn code(reply: &str) -> String {
    let v: Value = serde_json::from_str(reply).unwrap_or(Value::Null);
    v["error"]["code"].as_str().unwrap_or("<none>").to_string()
}

#[test]
fn a_repeated_key_is_a_bad_request_and_the_connection_goes_on() {
    let server = server();
    let mut s = raw(&server);
    let cases = [
        r#"{"type":"nest.login","id":1,"name":"a","name":"b","password":"pw"}"#,
        r#"{"type":"whoami","type":"auth.logout","id":2}"#,
        r#"{"type":"ping","id":3,"session":"a","session":"b"}"#,
        r#"{"type":"nest.countdown","id":4,"left":1,"extra":{"k":1,"k":2}}"#,
    ];
    for body in cases {
        let reply = exchange(&mut s, body);
        assert_eq!(code(&reply), "bad_request", "{body} -> {reply}");
    }
    // The `id` of a top-level repeat is still echoed, so a pipelining client can match it.
    let reply = exchange(&mut s, r#"{"type":"ping","id":"x7","a":1,"a":1}"#);
    assert!(reply.contains(r#""id":"x7""#), "{reply}");
    assert_eq!(
        exchange(&mut s, r#"{"type":"ping","id":5}"#),
        r#"{"ok":true,"id":5,"data":"pong"}"#
    );
}

#[test]
fn every_id_comes_back_byte_for_byte() {
    let server = server();
    let mut s = raw(&server);
    for id in [
        "18446744073709551615123",
        "-18446744073709551615123",
        "1e400",
        "1.50",
        r#""a string id""#,
        r#""\u00e9""#,
        r#"{"n": [1, 2.0]}"#,
    ] {
        // A success on the loop, a refusal, and a command run on a worker.
        let ok = exchange(&mut s, &format!(r#"{{"type":"ping","id":{id}}}"#));
        assert_eq!(ok, format!(r#"{{"ok":true,"id":{id},"data":"pong"}}"#));
        let refused = exchange(&mut s, &format!(r#"{{"type":"no.such","id":{id}}}"#));
        assert!(
            refused.starts_with(&format!(r#"{{"ok":false,"id":{id},"#)),
            "{refused}"
        );
        let pooled = exchange(
            &mut s,
            &format!(r#"{{"type":"nest.countdown","id":{id},"left":0}}"#),
        );
        assert!(
            pooled.starts_with(&format!(r#"{{"ok":true,"id":{id},"#)),
            "{pooled}"
        );
    }
}

/// A fast command (on the event loop) can no longer call itself, or anything: its `FastCtx`
/// has no `call` (the compile_fail examples in core/api/src/fast.rs).
#[test]
fn a_command_that_calls_itself_is_internal_and_the_server_lives() {
    let server = server();
    let mut c = server.client();
    let err = c.call("nest.self", json!({})).unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::Internal), "nest.self: {err}");
    assert_eq!(c.call("ping", json!({})).unwrap(), json!("pong"));
    // Sixteen nested calls are allowed; the seventeenth is not.
    let got = c.call("nest.countdown", json!({"left": 16})).unwrap();
    assert_eq!(got, json!({"depth": 16}));
    let err = c.call("nest.countdown", json!({"left": 17})).unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::Internal));
    assert_eq!(
        server.client().call("ping", json!({})).unwrap(),
        json!("pong")
    );
}

#[test]
fn a_nested_login_does_not_bind_the_connection() {
    let server = server();
    let mut c = server.client();
    c.call(
        "auth.register",
        json!({"name": "ann", "password": "ann-secret-1"}),
    )
    .unwrap();
    let data = c
        .call(
            "nest.login",
            json!({"name": "ann", "password": "ann-secret-1"}),
        )
        .unwrap();
    let token = data["session"].as_str().unwrap().to_string();
    assert_eq!(
        c.call("whoami", json!({})).unwrap()["logged_in"],
        json!(false)
    );
    // The session exists: the handler that asked for it may hand its token on.
    let mut other = server.client();
    other
        .send(&json!({"type": "whoami", "session": token}))
        .unwrap();
    let who = kino_testkit::into_data(other.recv().unwrap()).unwrap();
    assert_eq!(who["name"], json!("ann"));
}

#[test]
fn a_nested_logout_cannot_end_the_callers_session() {
    let server = server();
    let mut c = kino_testkit::user_client(&server, "bob");
    let err = c.call("nest.logout", json!({})).unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::Internal), "{err}");
    let who = c.call("whoami", json!({})).unwrap();
    assert_eq!(who["name"], json!("bob"), "{who}");
    // A real logout still works.
    c.call("auth.logout", json!({})).unwrap();
    assert_eq!(
        c.call("whoami", json!({})).unwrap()["logged_in"],
        json!(false)
    );
}

#[test]
fn an_internal_command_that_calls_itself_is_internal_and_hidden() {
    let server = server();
    let mut c = server.client();
    let err = c.call("nest.hiddenentry", json!({})).unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::Internal), "{err}");
    assert_eq!(c.call("ping", json!({})).unwrap(), json!("pong"));
    // Not on the wire, not in `help`, not suggested.
    for command in ["nest.hidden", "nest.take"] {
        let err = c.call(command, json!({})).unwrap_err();
        assert_eq!(
            err.code(),
            Some(ErrorCode::UnknownCommand),
            "{command}: {err}"
        );
    }
    let help = c.call("help", json!({})).unwrap();
    let names: Vec<&str> = help
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"nest.hiddenentry"), "{names:?}");
    assert!(!names.contains(&"nest.hidden"), "{names:?}");
    assert!(!names.contains(&"nest.take"), "{names:?}");
    let one = c
        .call("help", json!({"command": "nest.hidden"}))
        .unwrap_err();
    assert_eq!(one.code(), Some(ErrorCode::NotFound), "{one}");
    assert_eq!(c.call("ping", json!({})).unwrap(), json!("pong"));
}

#[test]
fn a_nested_call_cannot_take_the_callers_payload_unless_handed_it() {
    let server = server();
    let mut c = server.client();
    let kept = c
        .upload("nest.keep", json!({}), &mut &b"seven b"[..], 7, &mut |_| ())
        .unwrap();
    assert_eq!(kept, json!({"child": null, "own": 7}));
    let given = c
        .upload("nest.give", json!({}), &mut &b"seven b"[..], 7, &mut |_| ())
        .unwrap();
    assert_eq!(given, json!({"child": 7, "own": null}));
    assert_eq!(c.call("ping", json!({})).unwrap(), json!("pong"));
}
