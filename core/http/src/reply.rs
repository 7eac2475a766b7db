//! From a command's answer to an HTTP response: the status of each error code, JSON bodies,
//! the session cookie, held replies, and payloads streamed with the completion hook.

use std::io;
use std::time::Instant;

use kino_api::{ErrorCode, SessionChange};
use kino_proto::Reply;
use kino_server::gateway::GatewayAnswer;
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use serde_json::Value;

use crate::api::COOKIE;
use crate::wire::{self, Conn};
use crate::{Client, Shared};

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

/// Sends an error reply with its status (and `Retry-After` when rate limited or busy).
pub fn send_error(
    conn: &mut Conn,
    code: ErrorCode,
    message: &str,
    extra: &[(&str, String)],
    keep: bool,
) -> io::Result<()> {
    let mut headers = extra.to_vec();
    match code {
        ErrorCode::RateLimited => headers.push(("Retry-After", retry_after(message).to_string())),
        ErrorCode::Busy => headers.push(("Retry-After", "1".to_string())),
        _ => {}
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

pub(crate) fn answer_to(
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
    if let Ok(mut lease) = shared.transfer_lease() {
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
