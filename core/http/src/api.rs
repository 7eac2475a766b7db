//! `/api/<command>`: a registry command over HTTP.
//!
//! - `POST /api/<command>` with a JSON object body runs the command; the reply is the native
//!   reply JSON (`{ok, id, data, page}` or `{ok: false, error: {code, message}}`) with the
//!   status of [`status_of`] (`Retry-After` on 429). `GET` reaches only the read-only
//!   built-ins ([`GET_COMMANDS`]).
//! - Upload commands take the payload as the body (`Content-Length` required) and their
//!   arguments as the `X-Kino-Args` header (URI-encoded JSON); download commands answer with the
//!   payload as the body and the reply, URI-encoded, in `X-Kino-Reply`.
//! - The caller is `Authorization: Bearer TOKEN`, else the `kino_session` cookie that
//!   `auth.login` sets (`HttpOnly; SameSite=Strict`, `Secure` behind a trusted https proxy) and
//!   `auth.logout` clears. Every `POST` without a bearer token must carry `X-Kino-Csrf`: a page
//!   of another site cannot send a custom header without a CORS preflight, which is never
//!   granted, so it cannot ride on the cookie (SameSite=Strict already keeps it off; this
//!   holds for browsers without SameSite too).

use std::io;

use kino_api::{ErrorCode, PayloadKind};
use kino_server::gateway::{GatewayAnswer, GatewayRequest};
use percent_encoding::percent_decode_str;
use serde_json::{Map, Value};

use crate::reply::answer_to;
pub use crate::reply::{error_json, hold_until, send_completing, send_error, send_json, status_of};
use crate::wire::{self, Conn, Head};
use crate::{Client, LeaseError, Shared};

/// The session cookie's name.
pub const COOKIE: &str = "kino_session";
/// The header a state-changing request needs when it is not authorised by a bearer token.
pub const CSRF_HEADER: &str = "x-kino-csrf";
/// Built-ins that change nothing, which `GET /api/<name>` also runs.
pub const GET_COMMANDS: [&str; 4] = ["help", "ping", "whoami", "server.info"];

/// The request's token and whether it came as a bearer token.
pub fn token(head: &Head) -> (Option<String>, bool) {
    if let Some(t) = head
        .header("authorization")
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        return (Some(t.trim().to_string()), true);
    }
    let cookie = head
        .headers
        .iter()
        .filter(|(n, _)| n == "cookie")
        .find_map(|(_, v)| {
            v.split(';').find_map(|kv| {
                let (k, val) = kv.trim().split_once('=')?;
                (k == COOKIE && !val.is_empty()).then(|| val.to_string())
            })
        });
    (cookie, false)
}

/// Answers one request; `Ok(false)` when the connection must close after it.
pub fn route(
    shared: &Shared,
    conn: &mut Conn,
    client: &mut Client,
    head: &Head,
) -> io::Result<bool> {
    let path = head.path.split('?').next().unwrap_or("/").to_string();
    let keep = head.keep_alive;
    if let Some(command) = path.strip_prefix("/api/") {
        let command = percent_decode_str(command).decode_utf8_lossy().into_owned();
        return api(shared, conn, client, head, &command);
    }
    if let Some(id) = path.strip_prefix("/movies/") {
        return crate::movies::serve(shared, conn, client, head, id);
    }
    if head.method == "GET" || head.method == "HEAD" {
        if let Some((kind, bytes)) = crate::page::asset(&path) {
            let headers = [
                ("Content-Type", kind.to_string()),
                ("Cache-Control", "no-cache".to_string()),
            ];
            if head.method == "HEAD" {
                wire::write_head(conn.stream(), 200, &headers, bytes.len() as u64, keep)?;
            } else {
                wire::respond(conn, 200, &headers, bytes, keep)?;
            }
            return Ok(keep);
        }
    }
    let drained = skip_body(conn, head, shared)?;
    send_error(
        conn,
        ErrorCode::NotFound,
        &format!("no page {path}: the page is at /, commands at /api/<command>"),
        &[],
        keep && drained,
    )?;
    Ok(keep && drained)
}

/// Reads and drops a small unused request body so the connection stays usable; `false` when
/// it is too large or unreadable and the connection must close.
fn skip_body(conn: &mut Conn, head: &Head, shared: &Shared) -> io::Result<bool> {
    match head.content_length() {
        Ok(None) | Ok(Some(0)) => Ok(true),
        Ok(Some(n)) if n <= shared.gateway.limits().http_max_body as u64 => {
            io::copy(&mut conn.body(n), &mut io::sink())?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

fn api(
    shared: &Shared,
    conn: &mut Conn,
    client: &mut Client,
    head: &Head,
    command: &str,
) -> io::Result<bool> {
    let keep = head.keep_alive;
    let (token, bearer) = token(head);
    if head.method == "GET" {
        if !GET_COMMANDS.contains(&command) {
            let msg = format!("`{command}` is run with POST /api/{command} and a JSON body");
            let body = error_json(ErrorCode::BadRequest, &msg);
            send_json(conn, 405, &[("Allow", "POST".into())], &body, keep)?;
            return Ok(keep);
        }
        let req = request(command, Map::new(), token.clone(), client);
        let answer = call(shared, req);
        return answer_to(shared, conn, client, (answer, token, command), keep);
    }
    if head.method != "POST" {
        let drained = skip_body(conn, head, shared)?;
        let body = error_json(
            ErrorCode::BadRequest,
            "commands take POST (or GET for help)",
        );
        send_json(
            conn,
            405,
            &[("Allow", "GET, POST".into())],
            &body,
            keep && drained,
        )?;
        return Ok(keep && drained);
    }
    if !bearer && head.header(CSRF_HEADER).is_none() {
        let drained = skip_body(conn, head, shared)?;
        send_error(
            conn,
            ErrorCode::Forbidden,
            "a POST needs the X-Kino-Csrf header (the page sends it), or Authorization: Bearer \
             TOKEN for scripts",
            &[],
            keep && drained,
        )?;
        return Ok(keep && drained);
    }
    let Ok(len) = head.content_length() else {
        let body = error_json(
            ErrorCode::BadRequest,
            "send a Content-Length body, not chunked",
        );
        send_json(conn, 411, &[], &body, false)?;
        return Ok(false);
    };
    if shared.gateway.payload_kind(command) == Some(PayloadKind::Upload) {
        return upload(shared, conn, client, head, command, (token, len));
    }
    let max = shared.gateway.limits().http_max_body;
    let len = len.unwrap_or(0);
    if len > max as u64 {
        let msg = format!("a body of {len} bytes is over the {max}-byte limit (--http-max-body)");
        send_error(conn, ErrorCode::TooLarge, &msg, &[], false)?;
        return Ok(false);
    }
    let body = conn.read_body(len as usize)?;
    let args = match parse_args(&body) {
        Ok(a) => a,
        Err(msg) => {
            send_error(conn, ErrorCode::BadRequest, &msg, &[], keep)?;
            return Ok(keep);
        }
    };
    let answer = call(shared, request(command, args, token.clone(), client));
    answer_to(shared, conn, client, (answer, token, command), keep)
}

fn upload(
    shared: &Shared,
    conn: &mut Conn,
    client: &mut Client,
    head: &Head,
    command: &str,
    (token, len): (Option<String>, Option<u64>),
) -> io::Result<bool> {
    let keep = head.keep_alive;
    let Some(len) = len else {
        let body = error_json(
            ErrorCode::BadRequest,
            "an upload needs Content-Length: the payload's exact size",
        );
        send_json(conn, 411, &[], &body, false)?;
        return Ok(false);
    };
    let raw = head.header("x-kino-args").unwrap_or("");
    let decoded = percent_decode_str(raw).decode_utf8_lossy().into_owned();
    let args = match parse_args(decoded.as_bytes()) {
        Ok(a) => a,
        Err(msg) => {
            send_error(
                conn,
                ErrorCode::BadRequest,
                &format!("X-Kino-Args: {msg}"),
                &[],
                false,
            )?;
            return Ok(false);
        }
    };
    let (answer, left) = {
        let mut body = conn.body(len);
        let mut lease = match shared.upload_lease(client.peer) {
            Ok(l) => l,
            Err(LeaseError::Busy(why)) => {
                send_error(conn, ErrorCode::Busy, &why, &[], false)?;
                return Ok(false);
            }
            Err(LeaseError::Db(e)) => return unavailable(conn, &e),
        };
        let answer = match lease.db() {
            Some(db) => shared.gateway.call(
                db,
                GatewayRequest {
                    command,
                    args,
                    token: token.clone(),
                    peer: client.peer,
                    upload: Some((&mut body, len)),
                },
            ),
            None => return unavailable(conn, &"no database connection"),
        };
        (answer, body.left())
    };
    // A handler that stopped reading (a refusal, a duplicate) leaves the rest unread: the
    // connection cannot find the next request, so it closes after the reply.
    answer_to(
        shared,
        conn,
        client,
        (answer, token, command),
        keep && left == 0,
    )
}

fn unavailable(conn: &mut Conn, e: &dyn std::fmt::Display) -> io::Result<bool> {
    log::error!("http: no database connection: {e}");
    send_error(
        conn,
        ErrorCode::Unavailable,
        "the server cannot reach its database; try again",
        &[],
        false,
    )?;
    Ok(false)
}

fn parse_args(body: &[u8]) -> Result<Map<String, Value>, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err("the arguments must be a JSON object".into()),
        Err(e) => Err(format!("the arguments are not JSON: {e}")),
    }
}

/// A request from this client.
pub fn request<'a>(
    command: &'a str,
    args: Map<String, Value>,
    token: Option<String>,
    client: &Client,
) -> GatewayRequest<'a> {
    GatewayRequest {
        command,
        args,
        token,
        peer: client.peer,
        upload: None,
    }
}

/// Runs a request without a payload on a leased database connection.
pub fn call(shared: &Shared, req: GatewayRequest<'_>) -> GatewayAnswer {
    let failed = |code, message| GatewayAnswer {
        result: Err(kino_api::CmdError::new(code, message)),
        caller: None,
        session_change: None,
        slot: None,
    };
    let no_database = |e: &dyn std::fmt::Display| {
        let msg = format!("the server cannot reach its database ({e}); try again");
        failed(ErrorCode::Unavailable, msg)
    };
    if shared.gateway.is_fast(req.command) {
        return shared
            .with_fast_db(|db| shared.gateway.call(db, req))
            .unwrap_or_else(|e| no_database(&e));
    }
    let mut lease = match shared.lease(req.peer) {
        Ok(l) => l,
        Err(LeaseError::Busy(why)) => return failed(ErrorCode::Busy, why),
        Err(LeaseError::Db(e)) => return no_database(&e),
    };
    match lease.db() {
        Some(db) => shared.gateway.call(db, req),
        None => no_database(&"no connection"),
    }
}
