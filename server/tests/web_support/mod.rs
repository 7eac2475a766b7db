//! Shared by the web tests: the real `kino-server` binary with its HTTP gateway on a free port,
//! and a minimal HTTP/1.1 client over a plain socket (so every byte the tests send and every
//! header they check is exactly what travels).
#![allow(dead_code, clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

/// The binary serving native and HTTP ports.
pub struct WebServer {
    /// The native port.
    pub native: SocketAddr,
    /// The HTTP gateway.
    pub web: SocketAddr,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for WebServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the binary with an admin `root` (password `root-pass-1`) and `extra` flags.
pub fn start(extra: &[&str]) -> WebServer {
    let bin = Path::new(env!("CARGO_BIN_EXE_kino-server"));
    let dir = tempfile::tempdir().unwrap();
    kino_testkit::bin_add_root(bin, dir.path(), &[]);
    let mut child = Command::new(bin)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--http-listen",
            "127.0.0.1:0",
            "--data",
        ])
        .arg(dir.path())
        .args(["--argon2-memory-kib", "64", "--argon2-iterations", "1"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(match std::env::var_os("KINO_TEST_SERVER_LOG") {
            Some(_) => Stdio::inherit(),
            None => Stdio::null(),
        })
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut native = None;
    let mut web = None;
    for _ in 0..10 {
        let mut line = String::new();
        if out.read_line(&mut line).unwrap() == 0 {
            break;
        }
        let line = line.trim();
        if let Some(url) = line.strip_prefix("web http://") {
            web = Some(url.trim_end_matches('/').parse().unwrap());
            break;
        }
        if native.is_none() {
            native = line.parse().ok();
        }
    }
    WebServer {
        native: native.expect("the native address on the first line"),
        web: web.expect("a `web http://…` line"),
        child,
        _dir: dir,
    }
}

/// One response.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }

    /// The error code of a failed reply.
    pub fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    /// `kino_session=…` from Set-Cookie, as a Cookie header value.
    pub fn cookie(&self) -> String {
        let set = self.header("set-cookie").expect("a Set-Cookie");
        set.split(';').next().unwrap().to_string()
    }
}

/// Reads one response from a stream (the body by Content-Length).
pub fn read_resp(s: &mut impl BufRead) -> Resp {
    let mut status_line = String::new();
    s.read_line(&mut status_line).unwrap();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .unwrap_or_else(|| panic!("no status in {status_line:?}"))
        .parse()
        .unwrap();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        s.read_line(&mut line).unwrap();
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (n, v) = line.split_once(':').unwrap();
        headers.push((n.trim().to_string(), v.trim().to_string()));
    }
    let len: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.parse().unwrap())
        .unwrap_or(0);
    let mut body = vec![0; len];
    s.read_exact(&mut body).unwrap();
    Resp {
        status,
        headers,
        body,
    }
}

/// Writes a request with `Connection: close` and reads its response.
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Resp {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: kino\r\nConnection: close\r\n");
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    read_resp(&mut BufReader::new(s))
}

/// `POST /api/<command>` as the page sends it (CSRF header), with a cookie when given.
pub fn api(addr: SocketAddr, cookie: Option<&str>, command: &str, args: Value) -> Resp {
    let mut h = vec![("X-Kino-Csrf", "1"), ("Content-Type", "application/json")];
    if let Some(c) = cookie {
        h.push(("Cookie", c));
    }
    http(
        addr,
        "POST",
        &format!("/api/{command}"),
        &h,
        args.to_string().as_bytes(),
    )
}

/// Registers (unless it is `root`) and logs in; returns the cookie.
pub fn login(addr: SocketAddr, name: &str) -> String {
    let password = if name == "root" {
        "root-pass-1"
    } else {
        "pw-of-web-user"
    };
    if name != "root" {
        let r = api(
            addr,
            None,
            "auth.register",
            serde_json::json!({"name": name, "password": password}),
        );
        assert_eq!(r.status, 200, "{:?}", r.json());
    }
    let r = api(
        addr,
        None,
        "auth.login",
        serde_json::json!({"name": name, "password": password}),
    );
    assert_eq!(r.status, 200, "{:?}", r.json());
    r.cookie()
}

/// URI-encodes a JSON value for `X-Kino-Args`.
pub fn encoded(v: &Value) -> String {
    let mut out = String::new();
    for b in v.to_string().bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Uploads `bytes` as movie `name` through the gateway; returns its id.
pub fn upload(addr: SocketAddr, cookie: &str, name: &str, free: bool, bytes: &[u8]) -> u64 {
    let args = encoded(&serde_json::json!({"name": name, "free": free}));
    let r = http(
        addr,
        "POST",
        "/api/movies.upload",
        &[
            ("X-Kino-Csrf", "1"),
            ("Cookie", cookie),
            ("X-Kino-Args", &args),
        ],
        bytes,
    );
    assert_eq!(r.status, 200, "{:?}", String::from_utf8_lossy(&r.body));
    r.json()["data"]["id"].as_u64().unwrap()
}

/// Distinct bytes, so a slice in the wrong place shows.
pub fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 % 251) as u8).collect()
}
