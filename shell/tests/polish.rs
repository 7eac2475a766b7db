//! Issue 13's smaller items, each through the real `kino` binary against a real server: legacy
//! types kept away from native users, "did you mean", and the `help` listing.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use common::{kino, server, server_with};

fn with_legacy() -> kino_testkit::TestServer {
    server_with(vec![Arc::new(kino_legacy::Legacy)])
}

#[test]
fn legacy_types_are_hidden_and_refused_with_a_clear_message() {
    let s = with_legacy();
    let ran = kino(&s).args(["--json", "-c", "help"]).run();
    let listed = ran.expect_code(0).json_lines();
    let names: Vec<&str> = listed[0]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert!(names.contains(&"movies.list"), "{names:?}");
    assert!(!names.iter().any(|n| n.starts_with("legacy.")), "{names:?}");

    let ran = kino(&s).args(["-c", "legacy.check_notice"]).run();
    ran.expect_code(1);
    assert!(ran.stderr.contains("original Python client"), "{ran:?}");
    assert!(!ran.stderr.contains("missing field"), "{ran:?}");
    // A bare unknown type is answered by the shell, not in the old protocol's shape.
    let ran = kino(&s).args(["-c", "check_notis"]).run();
    ran.expect_code(1);
    assert!(ran.stderr.contains("error[unknown_command]"), "{ran:?}");
    assert!(!ran.stderr.contains("protocol"), "{ran:?}");
}

#[test]
fn mistyped_commands_and_arguments_get_a_suggestion() {
    let s = server();
    let ran = kino(&s).root().args(["-c", "movies.lst"]).run();
    ran.expect_code(1);
    assert!(
        ran.stderr.contains("did you mean `movies.list`?"),
        "{ran:?}"
    );
    let ran = kino(&s).root().args(["-c", "movies.list kindd=free"]).run();
    ran.expect_code(1);
    assert!(ran.stderr.contains("did you mean `kind`?"), "{ran:?}");
    let ran = kino(&s).root().args(["-c", "movies.list kind=fre"]).run();
    assert!(ran.stderr.contains("did you mean `free`?"), "{ran:?}");
    let ran = kino(&s).args(["-c", "downlaod 1"]).run();
    ran.expect_code(1);
    assert!(ran.stderr.contains("did you mean `download`?"), "{ran:?}");
    let ran = kino(&s).args(["-c", "help whoam"]).run();
    assert!(ran.stderr.contains("did you mean `whoami`?"), "{ran:?}");
}

#[test]
fn help_lists_each_command_once_with_exit() {
    let s = server();
    let ran = kino(&s).args(["-c", "help"]).run();
    ran.expect_code(0);
    let rows_named = |name: &str| {
        ran.stdout
            .lines()
            .filter(|l| l.trim_start_matches(['|', ' ']).split_whitespace().next() == Some(name))
            .count()
    };
    assert_eq!(rows_named("help"), 1, "{}", ran.stdout);
    assert_eq!(rows_named("exit"), 1, "{}", ran.stdout);
    assert_eq!(rows_named("quit"), 1, "{}", ran.stdout);
}

#[test]
fn login_without_a_terminal_says_where_the_password_comes_from() {
    let s = server();
    let ran = kino(&s).args(["-c", "login root"]).run();
    ran.expect_code(2);
    assert!(
        ran.stderr
            .contains("no terminal for the password: use KINO_PASSWORD or --password-stdin"),
        "{ran:?}"
    );
    let ran = kino(&s)
        .args(["--user", "root", "--password-stdin", "-c", "whoami"])
        .stdin("root-pass-1\n")
        .run();
    assert!(ran.expect_code(0).stdout.contains("root"), "{ran:?}");
    let ran = kino(&s)
        .env_var("KINO_PASSWORD", "root-pass-1")
        .args(["-c", "whoami"])
        .run();
    ran.expect_code(2);
    assert!(ran.stderr.contains("KINO_USER is not"), "{ran:?}");
}

/// A listener that accepts and then either never answers or answers like a web server.
fn impostor(http: bool) -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for mut conn in listener.incoming().flatten() {
            if http {
                use std::io::Write;
                let _ = conn.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
            }
            held.push(conn);
        }
    });
    addr
}

#[test]
fn something_that_is_not_kino_is_named_within_seconds() {
    for http in [true, false] {
        let addr = impostor(http).to_string();
        let started = std::time::Instant::now();
        let ran = common::kino_at(&addr).args(["-c", "ping"]).run();
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
        ran.expect_code(2);
        assert!(
            ran.stderr.contains(&format!("not a Kino server at {addr}")),
            "{ran:?}"
        );
    }
}

#[test]
fn an_unreachable_server_exits_2_and_names_resolve() {
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = free.local_addr().unwrap().to_string();
    drop(free);
    let ran = common::kino_at(&addr).args(["-c", "ping"]).run();
    ran.expect_code(2);
    assert!(ran.stderr.contains("cannot reach a server at"), "{ran:?}");
    let s = server();
    let by_name = format!("localhost:{}", s.addr.port());
    let ran = common::kino_at(&by_name).args(["-c", "ping"]).run();
    assert_eq!(ran.expect_code(0).stdout, "pong\n");
}

#[test]
fn formats_for_pipes() {
    let s = server();
    kino_testkit::admin_client(&s, "root")
        .call(
            "notices.publish",
            serde_json::json!({"title": "zoë, the second", "content": "say \"hi\""}),
        )
        .unwrap();
    let csv = kino(&s)
        .root()
        .args(["--format", "csv", "-c", "notices.list"])
        .run();
    let text = &csv.expect_code(0).stdout;
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    assert!(
        header.starts_with("id,") && header.contains("title"),
        "{text}"
    );
    assert!(text.contains("\"say \"\"hi\"\"\""), "{text}");
    assert!(text.contains("\"zoë, the second\""), "quoted: {text}");
    let headless = kino(&s)
        .root()
        .args(["--format", "tsv", "--no-header", "-c", "notices.list"])
        .run();
    let text = &headless.expect_code(0).stdout;
    assert!(!text.contains("title"), "{text}");
    assert!(text.lines().all(|l| l.contains('\t')), "{text}");
    let plain = kino(&s)
        .root()
        .args(["--format", "plain", "-c", "notices.list"])
        .run();
    let text = &plain.expect_code(0).stdout;
    assert!(text.starts_with("id"), "{text}");
    assert!(!text.contains('|') && !text.contains("+-"), "{text}");
    let json = kino(&s).args(["--format", "json", "-c", "ping"]).run();
    assert_eq!(json.expect_code(0).stdout, "\"pong\"\n");
}

#[test]
fn errors_name_their_line_and_come_as_json_under_json() {
    let s = server();
    let ran = kino(&s).stdin("ping\n\nmovies.lst\nping\n").run();
    ran.expect_code(1);
    assert!(
        ran.stderr.contains("<stdin>:3: error[unknown_command]"),
        "{ran:?}"
    );
    assert_eq!(ran.stdout, "pong\n", "stops at the failure");
    let ran = kino(&s).args(["--json", "-c", "movies.lst"]).run();
    ran.expect_code(1);
    let err: serde_json::Value = serde_json::from_str(ran.stderr.trim()).unwrap();
    assert_eq!(err["error"]["code"], "unknown_command", "{ran:?}");
    assert!(err["error"]["message"]
        .as_str()
        .unwrap()
        .contains("movies.list"));
}

#[test]
fn script_messages_say_what_the_script_meant() {
    let s = server();
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    let path = write("imp.rhai", "import \"x\" as x;\n");
    let ran = kino(&s).args(["run", &path]).run();
    ran.expect_code(3);
    assert!(
        ran.stderr
            .contains("import is not available in kino scripts"),
        "{ran:?}"
    );
    assert!(!ran.stderr.contains("Too many modules"), "{ran:?}");
    // The script's own usage message: no PATH:LINE:COL, exit 2.
    let path = write(
        "use.rhai",
        "fn check(a) { if a.len() == 0 { throw \"usage: kino run use.rhai DIR\"; } }\ncheck(args);\n",
    );
    let ran = kino(&s).args(["run", &path]).run();
    ran.expect_code(2);
    assert_eq!(
        ran.stderr.trim(),
        "error[usage]: usage: kino run use.rhai DIR",
        "{ran:?}"
    );
    // `exit(n)` inside a function sets the code, with nothing printed.
    let path = write("ex.rhai", "fn done() { exit(4); }\ndone();\n");
    let ran = kino(&s).args(["run", &path]).run();
    ran.expect_code(4);
    assert_eq!(ran.stderr, "", "{ran:?}");
}

#[test]
fn admin_report_columns_line_up_with_cjk_names() {
    let s = server();
    let mut root = kino_testkit::admin_client(&s, "root");
    for name in ["黑客帝国.txt", "plain.txt"] {
        let bytes = name.as_bytes().repeat(3);
        root.upload(
            "movies.upload",
            serde_json::json!({"name": name, "free": true}),
            &mut bytes.as_slice(),
            bytes.len() as u64,
            &mut |_| {},
        )
        .unwrap();
    }
    let report = common::scripts_dir().join("admin_report.rhai");
    let ran = kino(&s)
        .root()
        .args(["run", &report.display().to_string()])
        .run();
    ran.expect_code(0);
    let cell_of_kind = |name: &str| {
        let line = ran.stdout.lines().find(|l| l.contains(name)).unwrap();
        let at = line.find(" free ").unwrap();
        unicode_width::UnicodeWidthStr::width(&line[..at])
    };
    assert_eq!(
        cell_of_kind("黑客帝国.txt"),
        cell_of_kind("plain.txt"),
        "{}",
        ran.stdout
    );
}
