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
use std::time::Instant;

use kino_api::{ErrorCode, PayloadKind, SessionChange};
use kino_proto::Reply;
use kino_server::gateway::{GatewayAnswer, GatewayRequest};
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, CONTROLS};
use serde_json::{Map, Value};

use crate::wire::{self, Conn, Head};
use crate::{Client, Shared};

/// The session cookie's name.
pub const COOKIE: &str = "kino_session";
/// The header a state-changing request needs when it is not authorised by a bearer token.
pub const CSRF_HEADER: &str = "x-kino-csrf";
/// Built-ins that change nothing, which `GET /api/<name>` also runs.
pub const GET_COMMANDS: [&str; 4] = ["help", "ping", "whoami", "server.info"];

/// What header values may not hold raw: controls, `%`, and (by `utf8_percent_encode`) every
/// non-ASCII byte.
const HEADER_UNSAFE: &AsciiSet = &CONTROLS.add(b'%');

/// The HTTP status of an error code.
pub fn status_of(code: ErrorCode) -> u16 {
    match code {
        ErrorCode::BadFrame | ErrorCode::BadRequest | ErrorCode::BadArgs => 400,
        ErrorCode::Unauthenticated => 401,
        ErrorCode::PaymentRequired => 402,
        ErrorCode::Forbidden => 403,
        ErrorCode::NotFound | ErrorCode::UnknownCommand => 404,
        ErrorCode::Conflict => 409,
        ErrorCode::TooLarge => 413,
        ErrorCode::Locked => 423,
        ErrorCode::RateLimited => 429,
        ErrorCode::Internal => 500,
        ErrorCode::Busy | ErrorCode::Unavailable => 503,
    }
}

/// A failed reply's JSON.
pub fn error_json(code: ErrorCode, message: &str) -> Vec<u8> {
    serde_json::to_vec(&Reply::err(None, code, message)).unwrap_or_default()
}

/// Sends a JSON response.
pub fn send_json(
    conn: &mut Conn,
    status: u16,
    extra: &[(&str, String)],
    body: &[u8],
    keep: bool,
) -> io::Result<()> {
    let mut headers = vec![
        ("Content-Type", "application/json".to_string()),
        ("Cache-Control", "no-store".to_string()),
    ];
    headers.extend(extra.iter().cloned());
    wire::respond(conn, status, &headers, body, keep)
}

/// Sends an error reply with its status (and `Retry-After` when rate limited).
pub fn send_error(
    conn: &mut Conn,
    code: ErrorCode,
    message: &str,
    extra: &[(&str, String)],
    keep: bool,
) -> io::Result<()> {
    let mut headers = extra.to_vec();
    if code == ErrorCode::RateLimited {
        headers.push(("Retry-After", retry_after(message).to_string()));
    }
    send_json(
        conn,
        status_of(code),
        &headers,
        &error_json(code, message),
        keep,
    )
}

/// Seconds to wait, from a message saying "… in N s" (the login throttle's); 1 otherwise.
fn retry_after(message: &str) -> u64 {
    message
        .split(" in ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(1)
}

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
        let mut lease = match shared.lease() {
            Ok(l) => l,
            Err(e) => return unavailable(conn, &e),
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
    let failed = |e: String| GatewayAnswer {
        result: Err(kino_api::CmdError::new(
            ErrorCode::Unavailable,
            format!("the server cannot reach its database ({e}); try again"),
        )),
        caller: None,
        session_change: None,
        slot: None,
    };
    let mut lease = match shared.lease() {
        Ok(l) => l,
        Err(e) => return failed(e.to_string()),
    };
    match lease.db() {
        Some(db) => shared.gateway.call(db, req),
        None => failed("no connection".into()),
    }
}

/// Waits until a held reply may go out (the free-download wait); the connection's thread is
/// the only one that waits.
pub fn hold_until(when: Option<Instant>) {
    if let Some(until) = when {
        let left = until.saturating_duration_since(Instant::now());
        if !left.is_zero() {
            std::thread::sleep(left);
        }
    }
}

/// The cookie a login or logout sets.
fn cookie_for(change: Option<&SessionChange>, token: Option<&str>, https: bool) -> Option<String> {
    let secure = if https { "; Secure" } else { "" };
    match change? {
        SessionChange::Bind(t) => Some(format!(
            "{COOKIE}={t}; Path=/; HttpOnly; SameSite=Strict{secure}"
        )),
        SessionChange::Unbind(t) if Some(t.as_str()) == token => Some(format!(
            "{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}"
        )),
        SessionChange::Unbind(_) => None,
    }
}

fn answer_to(
    shared: &Shared,
    conn: &mut Conn,
    client: &Client,
    (answer, token, command): (GatewayAnswer, Option<String>, &str),
    keep: bool,
) -> io::Result<bool> {
    let mut headers = Vec::new();
    if let Some(c) = cookie_for(
        answer.session_change.as_ref(),
        token.as_deref(),
        client.https,
    ) {
        headers.push(("Set-Cookie", c));
    }
    let mut out = match answer.result {
        Err(e) => {
            send_error(conn, e.code, &e.message, &headers, keep)?;
            return Ok(keep);
        }
        Ok(out) => out,
    };
    let reply = Reply {
        page: out.page.take(),
        ..Reply::ok(None, std::mem::take(&mut out.data))
    };
    let Some(mut body) = out.body.take() else {
        let bytes = serde_json::to_vec(&reply).unwrap_or_default();
        send_json(conn, 200, &headers, &bytes, keep)?;
        return Ok(keep);
    };
    hold_until(out.not_before);
    let json = serde_json::to_string(&reply).unwrap_or_default();
    headers.push((
        "X-Kino-Reply",
        utf8_percent_encode(&json, HEADER_UNSAFE).to_string(),
    ));
    headers.push(("Content-Type", "application/octet-stream".into()));
    headers.push(("Cache-Control", "no-store".into()));
    let field = shared.gateway.file_name_arg(command);
    let name = reply
        .data
        .as_ref()
        .and_then(|d| d.get(field.as_deref().unwrap_or("name")))
        .and_then(Value::as_str)
        .unwrap_or("download");
    headers.push(("Content-Disposition", disposition(name)));
    wire::write_head(conn.stream(), 200, &headers, body.len, keep)?;
    let hook = body.on_complete.take();
    let done = (answer.caller, token, hook);
    send_completing(shared, conn, &mut body.source, body.len, done)?;
    drop(answer.slot);
    Ok(keep)
}

/// Streams `len` bytes and runs the completion hook (the download record) just before the
/// last byte goes out: a client that asks for its records the moment its download ended, on
/// any connection, sees it. A client gone before that point leaves no record.
pub fn send_completing(
    shared: &Shared,
    conn: &mut Conn,
    source: &mut dyn std::io::Read,
    len: u64,
    (caller, token, hook): (
        Option<kino_api::Identity>,
        Option<String>,
        Option<kino_api::OnComplete>,
    ),
) -> io::Result<()> {
    let Some(hook) = hook.filter(|_| len > 0) else {
        wire::send_stream(conn, source, len)?;
        return Ok(());
    };
    wire::send_stream(conn, source, len - 1)?;
    let mut last = [0u8; 1];
    source.read_exact(&mut last)?;
    if let Ok(mut lease) = shared.lease() {
        if let Some(db) = lease.db() {
            shared.gateway.complete(db, caller, token, hook, len);
        }
    }
    wire::send_stream(conn, &mut &last[..], 1)?;
    Ok(())
}

/// `attachment` with an ASCII fallback name and the exact one in RFC 5987 form.
pub fn disposition(name: &str) -> String {
    let plain: String = name
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '.' | '-' | '_' => c,
            _ => '_',
        })
        .collect();
    let exact = utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC);
    format!("attachment; filename=\"{plain}\"; filename*=UTF-8''{exact}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_a_status_and_retry_after_reads_the_throttle() {
        for code in ErrorCode::ALL {
            assert!((400..600).contains(&status_of(code)), "{code:?}");
        }
        assert_eq!(retry_after("too many failed logins; try again in 42 s"), 42);
        assert_eq!(retry_after("slow down"), 1);
    }
}
