//! `GET /movies/<id>`: a movie for a `<video>` element, with `Range`, under `movies.download`'s
//! own rules because it is `movies.download`: the gateway runs `movies.get` (the size, to read
//! the range; logged in, live movie) and then `movies.download` with `offset` = the range's
//! first byte, and sends the range's bytes of that body.
//!
//! - Charged movies need a purchase (402), deleted or unknown ones are 404, no session 401.
//! - The free-download wait: `movies.download` holds its reply for `--free-download-wait`
//!   seconds for a non-VIP caller, and this connection's thread holds the response as long
//!   (the page shows the countdown `movies.get` gives as `wait_s`); nothing the client sends
//!   shortens it. Once the held response's first bytes are read, the movies plugin grants
//!   that user that movie for `--free-download-resume-window` seconds (see
//!   `kino_movies::served`): the requests a player makes when it seeks, or fetches the index
//!   at the end of the file, start at once. A client that hangs up during the wait earns no
//!   grant. The grant lives on the node that served it.
//! - The download record: written, as for a native download, when a response that reaches
//!   the file's last byte was sent whole (just before its last byte goes out, so a records
//!   query on any connection right after sees it); it names the response's first byte as its
//!   `offset` and the bytes sent. A video watched to its end therefore leaves one record (or
//!   one per time its end was streamed); a view abandoned early leaves none.

use std::io::{self, Read};

use kino_api::ErrorCode;
use serde_json::{json, Value};

use crate::api::{self, call, request, send_error};
use crate::range::{wanted, Wanted};
use crate::wire::{self, Conn, Head};
use crate::{Client, Shared};

/// The media type of a file, from its name's extension.
pub fn content_type(name: &str) -> &'static str {
    let ext = name.rsplit('.').next().unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "mp4" | "m4v" => "video/mp4",
        "webm" => "video/webm",
        "mkv" => "video/x-matroska",
        "mov" => "video/quicktime",
        "ogv" => "video/ogg",
        "avi" => "video/x-msvideo",
        "mp3" => "audio/mpeg",
        "wav" => "audio/wav",
        "ogg" | "oga" => "audio/ogg",
        _ => "application/octet-stream",
    }
}

/// Serves one `GET /movies/<id>`; `Ok(false)` when the connection must close.
pub fn serve(
    shared: &Shared,
    conn: &mut Conn,
    client: &mut Client,
    head: &Head,
    id: &str,
) -> io::Result<bool> {
    let keep = head.keep_alive;
    if head.method != "GET" {
        let body = api::error_json(ErrorCode::BadRequest, "movies are fetched with GET");
        api::send_json(conn, 405, &[("Allow", "GET".into())], &body, false)?;
        return Ok(false);
    }
    let Ok(movie_id) = id.parse::<u64>() else {
        let msg = format!("`{id}` is not a movie id: /movies/<id> with the id movies.list shows");
        send_error(conn, ErrorCode::NotFound, &msg, &[], keep)?;
        return Ok(keep);
    };
    let (token, _) = api::token(head);
    let args = |extra: Value| {
        let mut m = serde_json::Map::new();
        m.insert("movie_id".into(), movie_id.into());
        if let Value::Object(e) = extra {
            m.extend(e);
        }
        m
    };
    let got = call(
        shared,
        request("movies.get", args(json!({})), token.clone(), client),
    );
    let data = match got.result {
        Ok(out) => out.data,
        Err(e) => {
            send_error(conn, e.code, &e.message, &[], keep)?;
            return Ok(keep);
        }
    };
    let size = data.get("size").and_then(Value::as_u64).unwrap_or(0);
    let name = data
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let (status, start, end) = match wanted(head.header("range"), size) {
        Wanted::Whole => (200, 0, size.saturating_sub(1)),
        Wanted::Part { start, end } => (206, start, end),
        Wanted::Unsatisfiable => {
            let body = api::error_json(
                ErrorCode::BadArgs,
                &format!("the range asked for is not within the movie's {size} bytes"),
            );
            let headers = [
                ("Content-Range", format!("bytes */{size}")),
                ("Accept-Ranges", "bytes".into()),
            ];
            api::send_json(conn, 416, &headers, &body, keep)?;
            return Ok(keep);
        }
    };
    let offset = if size == 0 { 0 } else { start };
    let dl = call(
        shared,
        request(
            "movies.download",
            args(json!({"offset": offset})),
            token.clone(),
            client,
        ),
    );
    let mut out = match dl.result {
        Ok(out) => out,
        Err(e) => {
            send_error(conn, e.code, &e.message, &[], keep)?;
            return Ok(keep);
        }
    };
    api::hold_until(out.not_before);
    let len = if size == 0 { 0 } else { end - start + 1 };
    let mut headers = vec![
        ("Content-Type", content_type(&name).to_string()),
        ("Accept-Ranges", "bytes".to_string()),
        ("Cache-Control", "private, no-store".to_string()),
    ];
    if status == 206 {
        headers.push(("Content-Range", format!("bytes {start}-{end}/{size}")));
    }
    wire::write_head(conn.stream(), status, &headers, len, keep)?;
    let Some(mut body) = out.body.take() else {
        return Ok(keep);
    };
    // Only a response that reaches the last byte completes a download (module doc).
    let hook = body.on_complete.take().filter(|_| end + 1 == size);
    let mut source = (&mut body.source).take(len);
    api::send_completing(shared, conn, &mut source, len, (dl.caller, token, hook))?;
    drop(dl.slot);
    Ok(keep)
}
