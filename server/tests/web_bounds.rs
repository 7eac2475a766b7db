//! Every bound of the HTTP gateway, pushed past over real sockets: head size, body size,
//! connection count, idle and slow-head time; and keep-alive serving request after request.
#![allow(clippy::unwrap_used)]

mod web_support;

use std::io::{BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::json;
use web_support::{http, read_resp, start};

fn closed_within(mut c: TcpStream, limit: Duration) -> bool {
    c.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match c.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

/// `--http-max-header`: a head over it is answered 431 and the connection closed.
#[test]
fn a_head_over_the_limit_is_431() {
    let s = start(&["--http-max-header", "1024"]);
    let big = "x".repeat(2000);
    let r = http(s.web, "GET", "/api/ping", &[("X-Filler", &big)], b"");
    assert_eq!(r.status, 431);
    let fits = "x".repeat(500);
    assert_eq!(
        http(s.web, "GET", "/api/ping", &[("X-Filler", &fits)], b"").status,
        200
    );
}

/// `--http-max-body`: a command body over it is 413 before it is read.
#[test]
fn a_body_over_the_limit_is_413() {
    let s = start(&["--http-max-body", "100"]);
    let pad = "p".repeat(200);
    let body = json!({"name": "root", "password": pad}).to_string();
    let r = http(
        s.web,
        "POST",
        "/api/auth.login",
        &[("X-Kino-Csrf", "1")],
        body.as_bytes(),
    );
    assert_eq!((r.status, r.code().as_str()), (413, "too_large"));
}

/// `--http-max-connections`: the connection past it gets 503 with Retry-After; once one
/// closes, a new one is served.
#[test]
fn connections_past_the_limit_get_503() {
    let s = start(&["--http-max-connections", "2"]);
    let a = TcpStream::connect(s.web).unwrap();
    let b = TcpStream::connect(s.web).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let r = http(s.web, "GET", "/api/ping", &[], b"");
    assert_eq!((r.status, r.code().as_str()), (503, "busy"));
    assert_eq!(r.header("retry-after"), Some("1"));
    drop((a, b));
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if http(s.web, "GET", "/api/ping", &[], b"").status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "a slot never freed");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `--http-idle-timeout`: a silent connection and one trickling its head are both closed.
#[test]
fn idle_and_slow_heads_are_closed() {
    let s = start(&["--http-idle-timeout", "1"]);
    let silent = TcpStream::connect(s.web).unwrap();
    assert!(
        closed_within(silent, Duration::from_secs(4)),
        "silent connection kept"
    );
    let mut slow = TcpStream::connect(s.web).unwrap();
    let t = Instant::now();
    let mut closed = false;
    for b in b"GET /api/ping HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".iter() {
        if slow.write_all(&[*b]).is_err() {
            closed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        if t.elapsed() > Duration::from_secs(3) {
            break;
        }
    }
    assert!(
        closed || closed_within(slow, Duration::from_secs(2)),
        "a slow head was kept"
    );
}

/// HTTP/1.1 keep-alive: several requests on one connection.
#[test]
fn keep_alive_serves_request_after_request() {
    let s = start(&[]);
    let c = TcpStream::connect(s.web).unwrap();
    let mut w = c.try_clone().unwrap();
    let mut r = BufReader::new(c);
    for _ in 0..3 {
        w.write_all(b"GET /api/ping HTTP/1.1\r\nHost: k\r\n\r\n")
            .unwrap();
        let resp = read_resp(&mut r);
        assert_eq!(resp.status, 200);
        assert_eq!(resp.header("connection"), Some("keep-alive"));
    }
}

/// `--http-listen off` serves no HTTP; the native port still works.
#[test]
fn http_listen_off_serves_none() {
    use std::io::BufRead;
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_kino-server"));
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(bin)
        .args(["--listen", "127.0.0.1:0", "--http-listen", "off", "--data"])
        .arg(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    let native: std::net::SocketAddr = first.trim().parse().unwrap();
    let mut c = kino_client::Client::connect(native).unwrap();
    assert_eq!(c.call("ping", json!({})).unwrap(), json!("pong"));
    drop(c);
    let _ = child.kill();
    let mut rest = String::new();
    let _ = out.read_to_string(&mut rest);
    let _ = child.wait();
    assert!(!rest.contains("web http"), "{rest}");
}

/// The default address taken (by another server on this machine): the server starts without
/// the page and prints no `web` line. An address given with --http-listen must bind.
#[test]
fn a_taken_default_address_leaves_the_page_off() {
    use std::io::BufRead;
    // Held here for the test; if something else holds it already, it is just as taken.
    let _held = std::net::TcpListener::bind("127.0.0.1:8688");
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_kino-server"));
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(bin)
        .args(["--listen", "127.0.0.1:0", "--data"])
        .arg(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    let native: std::net::SocketAddr = first.trim().parse().unwrap();
    let mut c = kino_client::Client::connect(native).unwrap();
    assert_eq!(c.call("ping", json!({})).unwrap(), json!("pong"));
    let _ = child.kill();
    let mut rest = String::new();
    let _ = out.read_to_string(&mut rest);
    let _ = child.wait();
    assert!(!rest.contains("web http"), "{rest}");

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(bin)
        .args(["--listen", "127.0.0.1:0", "--http-listen", &addr, "--data"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--http-listen"), "{err}");
}

/// `--http-max-connections-per-ip`: one address past it gets 503; another address is served.
#[test]
fn connections_past_the_per_address_limit_get_503() {
    let s = start(&["--http-max-connections-per-ip", "1"]);
    let held = TcpStream::connect(s.web).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let r = http(s.web, "GET", "/api/ping", &[], b"");
    assert_eq!((r.status, r.code().as_str()), (503, "busy"));
    assert!(String::from_utf8_lossy(&r.body).contains("--http-max-connections-per-ip"));
    // From 127.0.0.2: its own count.
    let other = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    other
        .bind(
            &"127.0.0.2:0"
                .parse::<std::net::SocketAddr>()
                .unwrap()
                .into(),
        )
        .unwrap();
    other.connect(&s.web.into()).unwrap();
    let mut other: TcpStream = other.into();
    other
        .write_all(b"GET /api/ping HTTP/1.1\r\nHost: k\r\nConnection: close\r\n\r\n")
        .unwrap();
    assert_eq!(read_resp(&mut BufReader::new(other)).status, 200);
    drop(held);
}

/// A script command that keeps its HTTP handler busy until the script clock stops it.
const SLOW_SCRIPT: &str = r#"
plugin("slow", "Holds a handler");
command("slow.spin", "Spins until --script-timeout", #{ role: "anon" }, |ctx, args| { loop { } });
"#;

fn native_info(addr: std::net::SocketAddr) -> serde_json::Value {
    let mut c = kino_client::Client::connect(addr).unwrap();
    c.call(
        "auth.login",
        json!({"name": "root", "password": "root-pass-1"}),
    )
    .unwrap();
    c.call("server.info", json!({})).unwrap()
}

/// `--http-max-handlers` and `--http-handler-wait`: with one handler busy, another command
/// waits its turn, then gets 503 `busy` with `Retry-After` (a fast one like `ping` is served at
/// once); `server.info` never counts more
/// handlers than the bound, and the gateway serves again once the handler is free. The native
/// port is never held up by it.
#[test]
fn commands_past_the_handler_limit_wait_then_get_503() {
    let scripts = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(scripts.path().join("slow")).unwrap();
    std::fs::write(scripts.path().join("slow/plugin.rhai"), SLOW_SCRIPT).unwrap();
    let dir = scripts.path().to_str().unwrap();
    let s = start(&[
        "--http-max-handlers",
        "1",
        "--http-handler-wait",
        "1",
        "--script-plugins",
        dir,
        "--script-timeout",
        "4",
        "--script-max-operations",
        &u64::MAX.to_string(),
    ]);
    let web = s.web;
    let csrf = [("X-Kino-Csrf", "1")];
    let spin = std::thread::spawn(move || http(web, "POST", "/api/slow.spin", &csrf, b"{}"));
    let deadline = Instant::now() + Duration::from_secs(3);
    while native_info(s.native)["http_handlers"] != 1 {
        assert!(
            Instant::now() < deadline,
            "the spinning handler never started: {:?}",
            spin.is_finished()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // A fast command (no database, microseconds) takes no place and is served at once.
    let asked = Instant::now();
    assert_eq!(http(s.web, "POST", "/api/ping", &csrf, b"{}").status, 200);
    assert!(asked.elapsed() < Duration::from_millis(900));
    let asked = Instant::now();
    let r = http(s.web, "POST", "/api/notices.list", &csrf, b"{}");
    let waited = asked.elapsed();
    assert_eq!((r.status, r.code().as_str()), (503, "busy"), "{r:?}");
    assert_eq!(r.header("retry-after"), Some("1"));
    assert!(r.json()["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("--http-max-handlers"));
    assert!(waited >= Duration::from_millis(900), "it waited {waited:?}");
    let info = native_info(s.native);
    assert_eq!(info["http_handlers_peak"], 1, "{info}");
    assert!(info["http_busy"].as_u64().unwrap() >= 1, "{info}");
    assert!(info["http_connections"].as_u64().unwrap() >= 1, "{info}");
    // The spin ends at --script-timeout as `internal`; then the place is free again.
    assert_eq!(spin.join().unwrap().code(), "internal");
    let root = web_support::login(s.web, "root");
    let r = web_support::api(s.web, Some(&root), "notices.list", json!({}));
    assert_eq!(r.status, 200, "{:?}", r.json());
    assert_eq!(native_info(s.native)["http_handlers"], 0);
}

/// `--http-max-handlers-per-ip`: one client address (here forwarded by a trusted proxy) holding
/// its share waits and then gets 503, while another address is served at once.
#[test]
fn one_address_cannot_hold_every_handler() {
    let scripts = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(scripts.path().join("slow")).unwrap();
    std::fs::write(scripts.path().join("slow/plugin.rhai"), SLOW_SCRIPT).unwrap();
    let s = start(&[
        "--http-max-handlers",
        "4",
        "--http-max-handlers-per-ip",
        "1",
        "--http-handler-wait",
        "1",
        "--http-trusted-proxy",
        "127.0.0.1",
        "--script-plugins",
        scripts.path().to_str().unwrap(),
        "--script-timeout",
        "4",
        "--script-max-operations",
        &u64::MAX.to_string(),
    ]);
    let web = s.web;
    let from = |ip: &'static str| [("X-Kino-Csrf", "1"), ("X-Forwarded-For", ip)];
    let spin =
        std::thread::spawn(move || http(web, "POST", "/api/slow.spin", &from("10.0.0.1"), b"{}"));
    let deadline = Instant::now() + Duration::from_secs(3);
    while native_info(s.native)["http_handlers"] != 1 {
        assert!(
            Instant::now() < deadline,
            "the spinning handler never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let asked = Instant::now();
    let other = http(s.web, "POST", "/api/notices.list", &from("10.0.0.2"), b"{}");
    assert_ne!(other.status, 503, "{other:?}");
    assert!(
        asked.elapsed() < Duration::from_millis(900),
        "{:?}",
        asked.elapsed()
    );
    let same = http(s.web, "POST", "/api/notices.list", &from("10.0.0.1"), b"{}");
    assert_eq!(
        (same.status, same.code().as_str()),
        (503, "busy"),
        "{same:?}"
    );
    assert!(same.json()["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("--http-max-handlers-per-ip"));
    assert_eq!(spin.join().unwrap().code(), "internal");
}

/// Uploads hold a database connection while their body streams, so they take one of
/// `--max-transfers` places at once or get 503 `busy` without waiting, and never one of the
/// `--http-max-handlers`: a slow uploader leaves commands served.
#[test]
fn uploads_past_the_transfer_limit_get_503_and_never_block_commands() {
    let s = start(&["--http-max-handlers", "1", "--max-transfers", "1"]);
    let root = web_support::login(s.web, "root");
    let head = |name: &str, len: usize| {
        format!(
            "POST /api/movies.upload HTTP/1.1\r\nHost: k\r\nX-Kino-Csrf: 1\r\nCookie: {root}\r\n\
             X-Kino-Args: {{\"name\":\"{name}\",\"free\":true}}\r\nContent-Length: {len}\r\n\r\n"
        )
    };
    let body = web_support::pattern(1000);
    let mut slow = TcpStream::connect(s.web).unwrap();
    slow.write_all(head("slow.mp4", body.len()).as_bytes())
        .unwrap();
    slow.write_all(&body[..100]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while native_info(s.native)["transfers"] != 1 {
        assert!(Instant::now() < deadline, "the slow upload never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    let asked = Instant::now();
    let mut second = TcpStream::connect(s.web).unwrap();
    second
        .write_all(head("second.mp4", body.len()).as_bytes())
        .unwrap();
    let _ = second.write_all(&body);
    let r = read_resp(&mut BufReader::new(second));
    assert_eq!((r.status, r.code().as_str()), (503, "busy"), "{r:?}");
    assert_eq!(r.header("retry-after"), Some("1"));
    assert!(
        asked.elapsed() < Duration::from_secs(1),
        "{:?}",
        asked.elapsed()
    );
    // The one handler place is free: a command that needs one runs while the upload streams.
    let r = web_support::api(s.web, Some(&root), "notices.list", json!({}));
    assert_eq!(r.status, 200, "{:?}", r.json());
    slow.write_all(&body[100..]).unwrap();
    let done = read_resp(&mut BufReader::new(slow));
    assert_eq!(done.status, 200, "{:?}", done.json());
    assert_eq!(done.json()["data"]["name"], "slow.mp4");
}
