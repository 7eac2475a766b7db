//! The HTTP gateway's `/api`, over real HTTP to the real binary: error codes become statuses,
//! the session is a cookie with the right attributes, a POST without the CSRF header is
//! refused before it runs, bearer tokens work for scripts, payload commands stream.
#![allow(clippy::unwrap_used)]

mod web_support;

use serde_json::json;
use web_support::{api, encoded, http, login, start, upload};

/// Each error code the issue lists arrives as its status, with the native reply JSON.
#[test]
fn error_codes_become_statuses() {
    let s = start(&["--login-failures-per-account-address", "2"]);
    let anon = api(s.web, None, "movies.list", json!({}));
    assert_eq!(
        (anon.status, anon.code().as_str()),
        (401, "unauthenticated")
    );
    let user = login(s.web, "alice");
    let r = api(s.web, Some(&user), "auth.users", json!({}));
    assert_eq!((r.status, r.code().as_str()), (403, "forbidden"));
    let r = api(s.web, Some(&user), "movies.get", json!({"movie_id": 999}));
    assert_eq!((r.status, r.code().as_str()), (404, "not_found"));
    let r = api(
        s.web,
        None,
        "auth.register",
        json!({"name": "alice", "password": "pw-of-web-user"}),
    );
    assert_eq!((r.status, r.code().as_str()), (409, "conflict"));
    let r = api(s.web, Some(&user), "movies.get", json!({"movie_id": "one"}));
    assert_eq!((r.status, r.code().as_str()), (400, "bad_args"));
    let r = api(s.web, Some(&user), "no.such", json!({}));
    assert_eq!((r.status, r.code().as_str()), (404, "unknown_command"));
    let root = login(s.web, "root");
    let id = upload(s.web, &root, "paid.mp4", false, b"0123456789");
    let r = api(
        s.web,
        Some(&user),
        "movies.download",
        json!({"movie_id": id}),
    );
    assert_eq!((r.status, r.code().as_str()), (402, "payment_required"));
    let r = http(
        s.web,
        "POST",
        "/api/auth.login",
        &[("X-Kino-Csrf", "1")],
        b"[1]",
    );
    assert_eq!((r.status, r.code().as_str()), (400, "bad_request"));
    for _ in 0..2 {
        let r = api(
            s.web,
            None,
            "auth.login",
            json!({"name": "alice", "password": "wrong-one"}),
        );
        assert_eq!((r.status, r.code().as_str()), (401, "unauthenticated"));
    }
    let r = api(
        s.web,
        None,
        "auth.login",
        json!({"name": "alice", "password": "wrong-one"}),
    );
    assert_eq!((r.status, r.code().as_str()), (429, "rate_limited"));
    let retry: u64 = r
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .unwrap();
    assert!(retry >= 1, "{retry}");
}

/// `GET /api/help` is the registry with argument specs; other commands are POST only; the
/// reply JSON is the native one (with `page` for lists).
#[test]
fn help_is_the_registry_and_replies_are_the_native_json() {
    let s = start(&[]);
    let r = http(s.web, "GET", "/api/help", &[], b"");
    assert_eq!(r.status, 200);
    let help = r.json();
    let cmds = help["data"]["commands"]
        .as_array()
        .or(help["data"].as_array())
        .cloned()
        .unwrap();
    let upload = cmds
        .iter()
        .find(|c| c["name"] == "movies.upload")
        .expect("movies.upload in help");
    assert_eq!(upload["payload"], "upload");
    assert!(upload["args"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["name"] == "free" && a["kind"] == "bool"));
    assert_eq!(http(s.web, "GET", "/api/movies.list", &[], b"").status, 405);
    let root = login(s.web, "root");
    let r = api(s.web, Some(&root), "movies.list", json!({"limit": 5}));
    let j = r.json();
    assert_eq!(
        (j["ok"].clone(), j["page"]["total"].clone()),
        (json!(true), json!(0))
    );
    let r = http(s.web, "GET", "/", &[], b"");
    assert_eq!(r.status, 200);
    let csp = r.header("content-security-policy").unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert!(
        !String::from_utf8_lossy(&r.body).contains("<script>"),
        "no inline script"
    );
    for asset in ["/app.js", "/util.js", "/app.css"] {
        assert_eq!(http(s.web, "GET", asset, &[], b"").status, 200, "{asset}");
    }
}

/// Login sets an HttpOnly, SameSite=Strict cookie (Secure only behind a trusted https proxy);
/// a cookie POST without X-Kino-Csrf is refused and changes nothing; Bearer needs no CSRF
/// header; logout clears the cookie and ends the session.
#[test]
fn cookies_csrf_and_bearer_tokens() {
    let s = start(&["--http-trusted-proxy", "127.0.0.1/32"]);
    let r = api(
        s.web,
        None,
        "auth.login",
        json!({"name": "root", "password": "root-pass-1"}),
    );
    let set = r.header("set-cookie").unwrap().to_string();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    assert!(!set.contains("Secure"), "plain http: {set}");
    let cookie = r.cookie();
    let token = r.json()["data"]["session"].as_str().unwrap().to_string();

    let forged = http(
        s.web,
        "POST",
        "/api/notices.publish",
        &[("Cookie", &cookie)],
        json!({"title": "forged", "content": "x"})
            .to_string()
            .as_bytes(),
    );
    assert_eq!((forged.status, forged.code().as_str()), (403, "forbidden"));
    let list = api(s.web, Some(&cookie), "notices.list", json!({}));
    assert_eq!(
        list.json()["data"],
        json!([]),
        "the refused request did not run"
    );

    let bearer = format!("Bearer {token}");
    let r = http(
        s.web,
        "POST",
        "/api/notices.publish",
        &[("Authorization", &bearer)],
        json!({"title": "by script", "content": "x"})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(r.status, 200, "{:?}", r.json());

    let behind_tls = http(
        s.web,
        "POST",
        "/api/auth.login",
        &[
            ("X-Kino-Csrf", "1"),
            ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-For", "203.0.113.9"),
        ],
        json!({"name": "root", "password": "root-pass-1"})
            .to_string()
            .as_bytes(),
    );
    assert!(behind_tls
        .header("set-cookie")
        .unwrap()
        .contains("; Secure"));
    // The proxy's own header line comes last; one the client slipped in before it is not it.
    let forged_tls = http(
        s.web,
        "POST",
        "/api/auth.login",
        &[
            ("X-Kino-Csrf", "1"),
            ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-Proto", "http"),
        ],
        json!({"name": "root", "password": "root-pass-1"})
            .to_string()
            .as_bytes(),
    );
    assert!(!forged_tls.header("set-cookie").unwrap().contains("Secure"));

    let out = api(s.web, Some(&cookie), "auth.logout", json!({}));
    assert!(out.header("set-cookie").unwrap().contains("Max-Age=0"));
    let r = api(s.web, Some(&cookie), "notices.list", json!({}));
    assert_eq!(r.status, 401, "the session ended");
}

/// An untrusted peer's X-Forwarded-Proto earns no Secure cookie.
#[test]
fn forwarded_headers_from_an_untrusted_peer_are_ignored() {
    let s = start(&[]);
    let r = http(
        s.web,
        "POST",
        "/api/auth.login",
        &[("X-Kino-Csrf", "1"), ("X-Forwarded-Proto", "https")],
        json!({"name": "root", "password": "root-pass-1"})
            .to_string()
            .as_bytes(),
    );
    assert!(!r.header("set-cookie").unwrap().contains("Secure"));
}

/// Uploads stream the body (Content-Length required, --max-upload enforced); a download
/// command answers with the payload and the reply in X-Kino-Reply.
#[test]
fn payload_commands_over_http() {
    let s = start(&["--max-upload", "1000", "--free-download-wait", "0"]);
    let root = login(s.web, "root");
    let bytes = web_support::pattern(900);
    let id = upload(s.web, &root, "clip.mp4", true, &bytes);
    let args = encoded(&json!({"name": "big.mp4", "free": true}));
    let r = http(
        s.web,
        "POST",
        "/api/movies.upload",
        &[
            ("X-Kino-Csrf", "1"),
            ("Cookie", &root),
            ("X-Kino-Args", &args),
        ],
        &web_support::pattern(1001),
    );
    assert_eq!((r.status, r.code().as_str()), (413, "too_large"));
    let chunked = {
        use std::io::{BufReader, Write};
        let mut c = std::net::TcpStream::connect(s.web).unwrap();
        let req = format!(
            "POST /api/movies.upload HTTP/1.1\r\nHost: k\r\nX-Kino-Csrf: 1\r\nCookie: {root}\r\n\
             X-Kino-Args: {args}\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
        );
        c.write_all(req.as_bytes()).unwrap();
        web_support::read_resp(&mut BufReader::new(c))
    };
    assert_eq!(chunked.status, 411);
    let r = api(
        s.web,
        Some(&root),
        "movies.download",
        json!({"movie_id": id}),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.body, bytes);
    let reply = r.header("x-kino-reply").unwrap();
    assert!(
        reply.contains("%22name%22") || reply.contains("\"name\""),
        "{reply}"
    );
    assert!(r
        .header("content-disposition")
        .unwrap()
        .contains("clip.mp4"));
}
