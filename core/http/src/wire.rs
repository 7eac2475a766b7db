//! HTTP/1.1 framing on one blocking socket: a request head parsed by `httparse` out of a buffer
//! that never grows past `--http-max-header`, bodies read to their `Content-Length` (chunked
//! requests are refused), responses always sent with a `Content-Length` so keep-alive holds.
//! Every read and write has a deadline: `--http-idle-timeout` bounds the silence before a
//! request, the whole time its head takes, and any stall in a body.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Headers one request may carry; more is answered 431 like an oversized head.
const MAX_HEADERS: usize = 64;

/// A parsed request head.
#[derive(Debug)]
pub struct Head {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// Header names lower-cased, values as sent (lossy UTF-8).
    pub headers: Vec<(String, String)>,
    /// HTTP/1.1 without `Connection: close`.
    pub keep_alive: bool,
}

impl Head {
    /// The first value of header `name` (lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.trim())
    }

    /// The declared body length; `Err` for a chunked or unparsable body.
    pub fn content_length(&self) -> Result<Option<u64>, Unframed> {
        if self.header("transfer-encoding").is_some() {
            return Err(Unframed);
        }
        match self.header("content-length") {
            None => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| Unframed),
        }
    }
}

/// A body whose length is not a plain `Content-Length` (chunked, or not a number).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the body has no usable Content-Length")]
pub struct Unframed;

/// What waiting for the next request head came to.
pub enum NextHead {
    /// A request.
    Head(Head),
    /// The client closed between requests, or went silent past the idle timeout.
    Gone,
    /// The head is over `--http-max-header` or has too many headers.
    TooLarge,
    /// Not HTTP.
    Bad,
}

/// One client connection.
pub struct Conn {
    stream: TcpStream,
    /// Bytes read past the last head or body: the start of what comes next.
    buf: Vec<u8>,
    max_header: usize,
    idle: Duration,
}

impl Conn {
    /// Wraps an accepted socket; every read and write on it stalls at most `idle`.
    pub fn new(stream: TcpStream, max_header: usize, idle: Duration) -> Self {
        if let Err(e) = stream
            .set_read_timeout(Some(idle))
            .and_then(|()| stream.set_write_timeout(Some(idle)))
        {
            log::debug!("http socket timeouts: {e}");
        }
        Conn {
            stream,
            buf: Vec::new(),
            max_header,
            idle,
        }
    }

    /// The socket, for writing responses.
    pub fn stream(&mut self) -> &mut TcpStream {
        &mut self.stream
    }

    /// Waits for and parses the next request head.
    pub fn next_head(&mut self) -> NextHead {
        let deadline = Instant::now() + self.idle;
        loop {
            if !self.buf.is_empty() {
                let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
                let mut req = httparse::Request::new(&mut headers);
                match req.parse(&self.buf) {
                    Ok(httparse::Status::Complete(n)) => {
                        let head = Head {
                            method: req.method.unwrap_or("").to_string(),
                            path: req.path.unwrap_or("/").to_string(),
                            headers: req
                                .headers
                                .iter()
                                .map(|h| {
                                    (
                                        h.name.to_ascii_lowercase(),
                                        String::from_utf8_lossy(h.value).into_owned(),
                                    )
                                })
                                .collect(),
                            keep_alive: false,
                        };
                        let version = req.version.unwrap_or(0);
                        self.buf.drain(..n);
                        let close = head
                            .header("connection")
                            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
                        return NextHead::Head(Head {
                            keep_alive: version == 1 && !close,
                            ..head
                        });
                    }
                    Ok(httparse::Status::Partial) => {}
                    Err(httparse::Error::TooManyHeaders) => return NextHead::TooLarge,
                    Err(_) => return NextHead::Bad,
                }
            }
            if self.buf.len() >= self.max_header {
                return NextHead::TooLarge;
            }
            let room = self.max_header - self.buf.len();
            match self.read_some(room, deadline) {
                Ok(0) | Err(_) => return NextHead::Gone,
                Ok(_) => {}
            }
        }
    }

    /// Reads at most `room` bytes onto the buffer before `deadline`. The socket's timeouts are
    /// the idle timeout, set once; only a head that is near its deadline (a slow one) gets a
    /// shorter read timeout, restored afterwards, so a fast request costs no extra syscall.
    fn read_some(&mut self, room: usize, deadline: Instant) -> io::Result<usize> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        let short = left < self.idle / 2;
        if short {
            self.stream.set_read_timeout(Some(left))?;
        }
        let at = self.buf.len();
        self.buf.resize(at + room.min(16 * 1024), 0);
        let read = self.stream.read(&mut self.buf[at..]);
        self.buf.truncate(at + *read.as_ref().unwrap_or(&0));
        if short {
            self.stream.set_read_timeout(Some(self.idle))?;
        }
        read
    }

    /// Closes after a response that left request bytes unread: ends our side first and
    /// reads a little of what the client still sends, so the kernel does not answer that with a
    /// reset that could destroy the response before the client reads it. Bounded: at most
    /// 64 KiB and a quarter second.
    pub fn close_gracefully(&mut self) {
        let _ = self.stream.shutdown(std::net::Shutdown::Write);
        let deadline = Instant::now() + Duration::from_millis(250);
        let mut drained = 0usize;
        let mut chunk = [0u8; 8192];
        while drained < 64 * 1024 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || self.stream.set_read_timeout(Some(left)).is_err() {
                return;
            }
            match self.stream.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => drained += n,
            }
        }
    }

    /// Reads a whole body of `len` bytes (the caller bounded `len`).
    pub fn read_body(&mut self, len: usize) -> io::Result<Vec<u8>> {
        let mut body = Vec::with_capacity(len);
        self.body(len as u64).read_to_end(&mut body)?;
        if body.len() < len {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        Ok(body)
    }

    /// The next `len` body bytes as a reader; each read may stall at most the idle timeout.
    pub fn body(&mut self, len: u64) -> BodyReader<'_> {
        BodyReader {
            conn: self,
            left: len,
        }
    }
}

/// A request body being streamed from the socket.
pub struct BodyReader<'a> {
    conn: &'a mut Conn,
    left: u64,
}

impl BodyReader<'_> {
    /// Bytes of the body not read yet.
    pub fn left(&self) -> u64 {
        self.left
    }
}

impl Read for BodyReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 || out.is_empty() {
            return Ok(0);
        }
        let want = out
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = if !self.conn.buf.is_empty() {
            let n = want.min(self.conn.buf.len());
            out[..n].copy_from_slice(&self.conn.buf[..n]);
            self.conn.buf.drain(..n);
            n
        } else {
            let n = self.conn.stream.read(&mut out[..want])?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            n
        };
        self.left -= n as u64;
        Ok(n)
    }
}

/// The reason phrase of the statuses the gateway sends.
pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        206 => "Partial Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Content Too Large",
        416 => "Range Not Satisfiable",
        423 => "Locked",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "",
    }
}

/// The Content-Security-Policy of every response: scripts and styles only from the gateway's
/// own files (no inline code), media and images also from `blob:` URLs the page makes.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' blob: data:; media-src 'self' blob:; connect-src 'self'; \
     form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

/// Writes a response head; `len` is the body length that must follow.
pub fn write_head(
    w: &mut impl Write,
    status: u16,
    headers: &[(&str, String)],
    len: u64,
    keep_alive: bool,
) -> io::Result<()> {
    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {len}\r\nConnection: {}\r\nContent-Security-Policy: {CSP}\r\n\
         X-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\n\
         X-Frame-Options: DENY\r\n\r\n",
        if keep_alive { "keep-alive" } else { "close" }
    ));
    w.write_all(head.as_bytes())
}

/// A whole response with an in-memory body.
pub fn respond(
    conn: &mut Conn,
    status: u16,
    headers: &[(&str, String)],
    body: &[u8],
    keep_alive: bool,
) -> io::Result<()> {
    let s = conn.stream();
    let mut out = Vec::with_capacity(512 + body.len());
    write_head(&mut out, status, headers, body.len() as u64, keep_alive)?;
    out.extend_from_slice(body);
    s.write_all(&out)?;
    s.flush()
}

/// Copies exactly `len` bytes of `source` to the client after a head; returns the bytes sent.
pub fn send_stream(conn: &mut Conn, source: &mut dyn Read, len: u64) -> io::Result<u64> {
    let s = conn.stream();
    let mut chunk = vec![0u8; 64 * 1024];
    let mut sent = 0u64;
    while sent < len {
        let want = chunk
            .len()
            .min(usize::try_from(len - sent).unwrap_or(usize::MAX));
        let n = match source.read(&mut chunk[..want]) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        s.write_all(&chunk[..n])?;
        sent += n as u64;
    }
    s.flush()?;
    Ok(sent)
}
