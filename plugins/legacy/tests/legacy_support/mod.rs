//! The original Python client, as bytes on the wire, for the legacy tests.
//!
//! The original client (the seed's `lib/common.py`, `core/admin.py`, `core/user.py`) builds a
//! dict literal, serialises it with `json.dumps` (keys in the literal's order, `", "` and `": "`
//! as separators, every non-ASCII character escaped as `\uXXXX`), then calls `send` twice: the
//! 4-byte length from `struct.pack('i', n)` (native little-endian), then the body. An upload's
//! file follows line by line (`for line in f: client.send(line)`), one `send` per line. It reads
//! a reply with `recv(4)` then `recv(n)`, and a download's bytes after it. Its socket has
//! Nagle's algorithm on, as Python's default socket does. This module does exactly that.
#![allow(dead_code, clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use kino_api::serde_json::{self, json, Value};
use kino_api::Plugin;
use kino_testkit::TestServer;
use md5::{Digest, Md5};

/// The seconds of the free-download wait in these tests.
pub const WAIT_S: u64 = 1;

/// A server with every plugin the legacy client needs, admin sign-up allowed, a short wait.
pub fn server() -> TestServer {
    server_with(true)
}

/// Like [`server`], choosing whether admins may sign up over the wire.
pub fn server_with(allow_admin_signup: bool) -> TestServer {
    let plugins: Vec<Arc<dyn Plugin>> = vec![
        kino_auth::plugin(),
        Arc::new(kino_notices::Notices),
        Arc::new(kino_vip::Vip),
        Arc::new(kino_movies::Movies),
        Arc::new(kino_legacy::Legacy),
    ];
    TestServer::with_admin(plugins, |c| {
        c.setting("allow-admin-signup", json!(allow_admin_signup))
            .setting("free-download-wait", json!(WAIT_S))
    })
}

/// `json.dumps(d)` of a dict literal with these keys, in this order.
pub fn py_dumps(fields: &[(&str, Value)]) -> Vec<u8> {
    let mut out = String::from("{");
    for (i, (k, v)) in fields.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        py_string(&mut out, k);
        out.push_str(": ");
        py_value(&mut out, v);
    }
    out.push('}');
    out.into_bytes()
}

fn py_value(out: &mut String, v: &Value) {
    match v {
        Value::String(s) => py_string(out, s),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                py_value(out, x);
            }
            out.push(']');
        }
        // Numbers, true/false and null print as Python prints int, True/False and None.
        other => out.push_str(&other.to_string()),
    }
}

/// Python's `ensure_ascii` string escaping.
fn py_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if !(0x20..=0x7e).contains(&(c as u32)) => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{u:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `common.get_md5(password)`: the hex MD5 the client sends instead of the password.
pub fn md5_hex(data: &[u8]) -> String {
    hex::encode(Md5::digest(data))
}

/// `common.get_file_md5(path)`: MD5 of 10 bytes at 0, size/3, 2·size/3 and size-10.
pub fn fingerprint(file: &[u8]) -> String {
    let size = file.len();
    let mut md = Md5::new();
    for at in [0, size / 3, size / 3 * 2, size - 10] {
        md.update(&file[at..(at + 10).min(size)]);
    }
    hex::encode(md.finalize())
}

/// A file the way `for line in f` reads it: chunks ending in `\n`, and the rest.
pub fn py_lines(file: &[u8]) -> Vec<&[u8]> {
    file.split_inclusive(|b| *b == b'\n').collect()
}

/// A test movie of `len` bytes with line breaks in it, different for each `seed`.
pub fn movie_bytes(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| {
            if i % 97 == 96 {
                b'\n'
            } else {
                (i as u8).wrapping_mul(31).wrapping_add(seed)
            }
        })
        .collect()
}

/// One connection of the original client.
pub struct Legacy {
    /// The socket (Nagle on).
    pub stream: TcpStream,
    /// `user_info["session"]` once logged in.
    pub session: Option<String>,
}

impl Legacy {
    /// `tcpclient.get_client()`.
    pub fn connect(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_nodelay(false).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        Legacy {
            stream,
            session: None,
        }
    }

    /// The two sends of `send_back`: the length, then the body.
    pub fn send_frame(&mut self, body: &[u8]) {
        let len = i32::try_from(body.len()).unwrap();
        self.stream.write_all(&len.to_le_bytes()).unwrap();
        self.stream.write_all(body).unwrap();
    }

    /// `recv(4)`, then the reply body, parsed.
    pub fn recv(&mut self) -> Value {
        let mut len = [0u8; 4];
        self.stream.read_exact(&mut len).unwrap();
        let len = i32::from_le_bytes(len);
        let mut body = vec![0u8; usize::try_from(len).unwrap()];
        self.stream.read_exact(&mut body).unwrap();
        serde_json::from_slice(&body).unwrap()
    }

    /// The raw bytes after a download reply.
    pub fn recv_bytes(&mut self, n: u64) -> Vec<u8> {
        let mut out = vec![0u8; usize::try_from(n).unwrap()];
        self.stream.read_exact(&mut out).unwrap();
        out
    }

    /// `send_back(send_dic, client)`: one request with fields in this order, one reply.
    pub fn call(&mut self, fields: &[(&str, Value)]) -> Value {
        self.send_frame(&py_dumps(fields));
        self.recv()
    }

    /// `send_back(send_dic, client, file)`: the request, the file line by line, one reply.
    pub fn call_upload(&mut self, fields: &[(&str, Value)], file: &[u8]) -> Value {
        self.send_frame(&py_dumps(fields));
        for line in py_lines(file) {
            self.stream.write_all(line).unwrap();
        }
        self.recv()
    }

    /// The session as the client sends it: a string, or `None` (JSON null) before login.
    pub fn session(&self) -> Value {
        self.session.clone().map_or(Value::Null, Value::String)
    }

    /// `register` from the admin or user view.
    pub fn register(&mut self, name: &str, password: &str, user_type: &str) -> Value {
        self.call(&[
            ("type", json!("register")),
            ("name", json!(name)),
            ("password", json!(md5_hex(password.as_bytes()))),
            ("user_type", json!(user_type)),
        ])
    }

    /// `login` from the admin or user view; keeps the session on success.
    pub fn login(&mut self, name: &str, password: &str, user_type: &str) -> Value {
        let back = self.call(&[
            ("type", json!("login")),
            ("name", json!(name)),
            ("password", json!(md5_hex(password.as_bytes()))),
            ("user_type", json!(user_type)),
        ]);
        if back["flag"] == json!(true) {
            self.session = back["session"].as_str().map(str::to_owned);
        }
        back
    }

    /// `admin.update_movie`'s two requests: `check_movie`, then (if allowed) `update_movie`.
    pub fn check_movie(&mut self, file: &[u8]) -> Value {
        let s = self.session();
        self.call(&[
            ("type", json!("check_movie")),
            ("session", s),
            ("file_md5", json!(fingerprint(file))),
        ])
    }

    /// `update_movie` with the bytes.
    pub fn update_movie(&mut self, name: &str, file: &[u8], is_free: bool) -> Value {
        let s = self.session();
        self.call_upload(
            &[
                ("type", json!("update_movie")),
                ("session", s),
                ("is_free", json!(if is_free { 1 } else { 0 })),
                ("file_name", json!(name)),
                ("file_md5", json!(fingerprint(file))),
                ("file_size", json!(file.len())),
            ],
            file,
        )
    }

    /// `get_movie_list` with `movie_type`.
    pub fn movie_list(&mut self, movie_type: &str) -> Value {
        let s = self.session();
        self.call(&[
            ("type", json!("get_movie_list")),
            ("session", s),
            ("movie_type", json!(movie_type)),
        ])
    }

    /// `download_movie` as both user views send it (`movie_type` is always "free"); returns the
    /// reply and the bytes that followed it.
    pub fn download(&mut self, movie_id: &Value) -> (Value, Vec<u8>) {
        let s = self.session();
        let back = self.call(&[
            ("type", json!("download_movie")),
            ("session", s),
            ("movie_id", movie_id.clone()),
            ("movie_type", json!("free")),
        ]);
        let bytes = if back["flag"] == json!(true) {
            let n = back["file_size"].as_u64().unwrap();
            self.recv_bytes(n)
        } else {
            Vec::new()
        };
        (back, bytes)
    }

    /// A request with only `type` and `session` (`buy_vip`, `download_movie_record`,
    /// `check_notice`).
    pub fn simple(&mut self, kind: &str) -> Value {
        let s = self.session();
        self.call(&[("type", json!(kind)), ("session", s)])
    }
}

/// Asserts the original failure shape and message.
pub fn assert_refused(back: &Value, msg: &str) {
    assert_eq!(back["flag"], json!(false), "{back}");
    assert_eq!(back["msg"], json!(msg), "{back}");
}

/// Asserts the original success shape and message.
pub fn assert_ok(back: &Value, msg: &str) {
    assert_eq!(back["flag"], json!(true), "{back}");
    assert_eq!(back["msg"], json!(msg), "{back}");
}

/// The id of the movie named `name` in a `movie_list`.
pub fn id_of(list: &Value, name: &str) -> Value {
    list["movie_list"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m[0] == json!(name))
        .unwrap_or_else(|| panic!("no {name} in {list}"))[2]
        .clone()
}
