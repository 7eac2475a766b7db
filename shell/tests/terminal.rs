//! The shell at a terminal (a pseudo-terminal through `rexpect`) and in one-shot runs, for
//! what a person meets: Ctrl-C during the free-download wait, where a page of a list ends,
//! paging, what a lost connection or an expired session means, the prompt's state, `logout`,
//! and colours (`--color`, `NO_COLOR`, `TERM=dumb`).
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::proxy::Proxy;
use common::{add_user, kino, kino_at as kino_at_addr, media_plugins, write_file};
use kino_testkit::TestServer;
use rexpect::session::PtySession;
use serde_json::json;

/// Waits until the line editor reads keys again (see interactive.rs).
fn ready(p: &mut PtySession) {
    p.exp_string("\x1b[?2004h").unwrap();
}

/// `kino --addr ADDR` in a pseudo-terminal, with `TERM` and extra variables.
fn spawn(addr: &str, cwd: &std::path::Path, env: &[(&str, &str)], args: &[&str]) -> PtySession {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kino"));
    cmd.args(["--addr", addr])
        .args(args)
        .current_dir(cwd)
        .env_remove("KINO_USER")
        .env_remove("KINO_PASSWORD")
        .env_remove("NO_COLOR")
        .env_remove("PAGER")
        .env("TERM", "xterm")
        .env("HOME", cwd)
        .env("XDG_DATA_HOME", cwd.join(".data"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    rexpect::session::spawn_command(cmd, Some(15_000)).unwrap()
}

/// Logs in at a prompt that is ready for keys.
fn login(p: &mut PtySession, name: &str, password: &str) {
    p.send_line(&format!("login {name}")).unwrap();
    p.exp_string("password: ").unwrap();
    p.send_line(password).unwrap();
    p.exp_string("user_id").unwrap();
}

fn quit(mut p: PtySession) {
    ready(&mut p);
    p.send_control('d').unwrap();
    p.exp_eof().unwrap();
}

/// A server whose free downloads wait `wait_s` seconds, with one free movie (id 1).
fn server_with_movie(wait_s: u64, dir: &std::path::Path) -> TestServer {
    let s = TestServer::with_admin(media_plugins(), |c| {
        c.setting("free-download-wait", json!(wait_s))
            .setting("free-download-resume-window", json!(0))
    });
    write_file(&dir.join("reel.mp4"), 200_000, 5);
    kino(&s)
        .root()
        .cwd(dir)
        .args(["-c", "upload reel.mp4"])
        .run()
        .expect_code(0);
    s
}

#[test]
fn ctrl_c_stops_the_free_download_wait_at_once_and_a_second_one_keeps_the_shell() {
    let src = tempfile::tempdir().unwrap();
    let s = server_with_movie(30, src.path());
    add_user(&s, "alice", "alice-pw-1");
    let dir = tempfile::tempdir().unwrap();
    let mut p = spawn(&s.addr.to_string(), dir.path(), &[], &[]);
    ready(&mut p);
    login(&mut p, "alice", "alice-pw-1");
    ready(&mut p);
    p.send_line("download 1").unwrap();
    p.exp_string("free download: the server starts it in")
        .unwrap();
    let began = Instant::now();
    p.send_control('c').unwrap();
    p.send_control('c').unwrap();
    p.exp_string("nothing was saved").unwrap();
    assert!(
        began.elapsed() < Duration::from_secs(3),
        "{:?}",
        began.elapsed()
    );
    // The shell is still here; the next command reconnects as alice.
    ready(&mut p);
    p.send_line("whoami").unwrap();
    p.exp_string("alice").unwrap();
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains("reel"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    quit(p);
}

#[test]
fn the_prompt_shows_the_state_an_expired_session_offers_the_password_and_logout_works() {
    let s = TestServer::with_admin(media_plugins(), |c| c);
    add_user(&s, "alice", "alice-pw-1");
    let proxy = Proxy::start(s.addr);
    let addr = proxy.addr.to_string();
    let dir = tempfile::tempdir().unwrap();
    let mut p = spawn(&addr, dir.path(), &[], &[]);
    ready(&mut p);
    p.exp_string(&format!("kino {addr}> ")).unwrap();
    login(&mut p, "alice", "alice-pw-1");
    p.exp_string(&format!("kino alice@{addr}> ")).unwrap();

    // The admin ends alice's sessions, and the connection drops.
    let mut admin = kino_testkit::admin_client(&s, "root");
    admin.call("auth.lock", json!({"name": "alice"})).unwrap();
    admin.call("auth.unlock", json!({"name": "alice"})).unwrap();
    proxy.cut();
    p.send_line("ping").unwrap();
    let said = p
        .exp_string(&format!("kino (disconnected) {addr}> "))
        .unwrap();
    assert!(
        said.contains("the server closed the connection") && !said.contains("os error"),
        "{said:?}"
    );
    // The next command reconnects, finds the session gone and asks for alice's password.
    p.send_line("whoami").unwrap();
    p.exp_string("Password for alice").unwrap();
    p.send_line("alice-pw-1").unwrap();
    p.exp_string("logged in again as alice").unwrap();
    p.exp_string("user_id").unwrap();
    p.exp_string(&format!("kino alice@{addr}> ")).unwrap();

    p.send_line("logout").unwrap();
    p.exp_string("logged out (alice)").unwrap();
    p.exp_string(&format!("kino {addr}> ")).unwrap();
    p.send_line("whoami").unwrap();
    p.exp_string("anon").unwrap();
    quit(p);
}

#[test]
fn long_output_goes_through_the_pager_on_a_terminal_unless_no_pager() {
    let s = TestServer::with_admin(media_plugins(), |c| c);
    let dir = tempfile::tempdir().unwrap();
    let addr = s.addr.to_string();
    let pager = [("PAGER", "sed -e s/^/paged:/")];
    let mut p = spawn(&addr, dir.path(), &pager, &[]);
    ready(&mut p);
    p.send_line("help").unwrap();
    p.exp_string("paged:").unwrap();
    // Short output is printed as it is.
    ready(&mut p);
    p.send_line("ping").unwrap();
    let out = p.exp_string("pong").unwrap();
    assert!(!out.contains("paged:"), "{out:?}");
    quit(p);

    let mut p = spawn(&addr, dir.path(), &pager, &["--no-pager"]);
    ready(&mut p);
    p.send_line("help").unwrap();
    let out = p.exp_string("\x1b[?2004h").unwrap();
    assert!(out.matches('\n').count() > 30, "{out:?}");
    assert!(!out.contains("paged:"), "{out:?}");
    p.send_control('d').unwrap();
    p.exp_eof().unwrap();
}

#[test]
fn a_page_that_is_not_the_whole_list_says_so_and_names_the_next_command() {
    let s = TestServer::with_admin(media_plugins(), |c| c);
    let mut admin = kino_testkit::admin_client(&s, "root");
    for i in 0..3 {
        admin
            .call(
                "notices.publish",
                json!({"title": format!("n{i}"), "content": "c"}),
            )
            .unwrap();
    }
    let ran = kino(&s).root().args(["-c", "notices.list limit=2"]).run();
    ran.expect_code(0);
    assert!(
        ran.stderr
            .contains("showing 1-2 of 3 — next: notices.list limit=2 offset=2"),
        "{ran:?}"
    );
    let ran = kino(&s)
        .root()
        .args(["-c", "notices.list limit=2 offset=2"])
        .run();
    ran.expect_code(0);
    assert!(!ran.stderr.contains("showing"), "{ran:?}");
    // The wire carries the total for programs.
    let (_, page) = admin
        .call_paged("notices.list", json!({"limit": 1}))
        .unwrap();
    let page = page.unwrap();
    assert_eq!((page.offset, page.count, page.total), (0, 1, 3));
}

#[test]
fn connection_errors_say_what_happened_and_what_to_do() {
    let s = TestServer::with_admin(media_plugins(), |c| c);
    // A line over the 1 MiB frame limit: the server's reason, not "Broken pipe".
    let long = format!("ping q={}\nping\n", "x".repeat(2 << 20));
    let ran = kino(&s).args(["--keep-going"]).stdin(&long).run();
    ran.expect_code(1);
    assert!(
        ran.stderr.contains("over the server's frame limit"),
        "{ran:?}"
    );
    assert!(!ran.stderr.contains("os error"), "{ran:?}");
    assert!(
        ran.stdout.contains("pong"),
        "the next command reconnects: {ran:?}"
    );
}

#[test]
fn colours_follow_color_no_color_and_dumb_terminals() {
    let s = TestServer::with_admin(media_plugins(), |c| c);
    let red = "\x1b[31m";
    // One-shot: off a terminal no colour, unless --color=always.
    let ran = kino(&s).args(["-c", "no.such"]).run();
    assert!(!ran.stderr.contains(red), "{ran:?}");
    let ran = kino(&s).args(["--color=always", "-c", "no.such"]).run();
    assert!(ran.stderr.contains(red), "{ran:?}");

    let src = tempfile::tempdir().unwrap();
    let s = server_with_movie(1, src.path());
    add_user(&s, "alice", "alice-pw-1");
    let addr = s.addr.to_string();
    let dir = tempfile::tempdir().unwrap();
    // At a terminal: red errors and a countdown...
    let mut p = spawn(&addr, dir.path(), &[], &[]);
    ready(&mut p);
    p.send_line("no.such").unwrap();
    p.exp_string(&format!("{red}error[unknown_command]"))
        .unwrap();
    login(&mut p, "alice", "alice-pw-1");
    ready(&mut p);
    p.send_line("download 1").unwrap();
    let out = p.exp_string("saved ./reel.mp4").unwrap();
    assert!(out.contains("free download"), "{out:?}");
    quit(p);
    // ... but neither with NO_COLOR, nor with --color=never for colours.
    for (env, args) in [
        (vec![("NO_COLOR", "1")], vec![]),
        (vec![("TERM", "dumb")], vec![]),
        (vec![], vec!["--color=never"]),
    ] {
        let out_dir = tempfile::tempdir().unwrap();
        let mut p = spawn(&addr, out_dir.path(), &env, &args);
        // A dumb terminal gets no line editor, so no bracketed-paste marker to wait for.
        let dumb = env.contains(&("TERM", "dumb"));
        let wait = |p: &mut PtySession| {
            if !dumb {
                ready(p)
            }
        };
        wait(&mut p);
        p.send_line("no.such").unwrap();
        let out = p.exp_string("unknown_command").unwrap();
        assert!(!out.contains(red), "{env:?} {args:?}: {out:?}");
        if args.is_empty() {
            wait(&mut p);
            p.send_line("login alice").unwrap();
            p.exp_string("password: ").unwrap();
            p.send_line("alice-pw-1").unwrap();
            p.exp_string("user_id").unwrap();
            wait(&mut p);
            p.send_line("download 1").unwrap();
            let out = p.exp_string("saved ./reel.mp4").unwrap();
            assert!(!out.contains("free download"), "{env:?}: {out:?}");
        }
        wait(&mut p);
        p.send_control('d').unwrap();
        p.exp_eof().unwrap();
    }
}

#[test]
fn an_interrupted_transfer_says_how_to_resume_and_the_next_run_does() {
    let dir = tempfile::tempdir().unwrap();
    let s = common::server();
    write_file(&dir.path().join("big.mp4"), 2_000_000, 8);
    kino(&s)
        .root()
        .cwd(dir.path())
        .args(["-c", "upload big.mp4"])
        .run()
        .expect_code(0);
    let original = std::fs::read(dir.path().join("big.mp4")).unwrap();
    add_user(&s, "alice", "alice-pw-1");
    let out = tempfile::tempdir().unwrap();
    // The connection breaks after about 500 kB went to the shell.
    let proxy = Proxy::start_limited(s.addr, 500_000);
    let ran = kino_at_addr(&proxy.addr.to_string())
        .user("alice", "alice-pw-1")
        .cwd(out.path())
        .args(["-c", "download 1"])
        .run();
    ran.expect_code(1);
    assert!(
        ran.stderr.contains("transfer interrupted")
            && ran.stderr.contains("`download 1` resumes from"),
        "{ran:?}"
    );
    assert!(
        !ran.stderr.contains("os error") && !ran.stderr.contains("failed to fill"),
        "{ran:?}"
    );
    let kept = std::fs::metadata(out.path().join("big.mp4.part"))
        .unwrap()
        .len();
    assert!(kept > 0 && kept < 2_000_000, "{kept}");
    kino(&s)
        .user("alice", "alice-pw-1")
        .cwd(out.path())
        .args(["-c", "download 1"])
        .run()
        .expect_code(0);
    assert_eq!(std::fs::read(out.path().join("big.mp4")).unwrap(), original);
}

#[test]
fn hum_completes_only_wav_files_and_the_servers_options() {
    let s = TestServer::with_admin(media_plugins(), |c| c);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tune.wav"), b"RIFF").unwrap();
    std::fs::write(dir.path().join("tune.txt"), b"text").unwrap();
    let mut p = spawn(&s.addr.to_string(), dir.path(), &[], &[]);
    ready(&mut p);
    p.send("hum tu\t").unwrap();
    p.flush().unwrap();
    p.exp_string("hum tune.wav").unwrap();
    p.send(" tem\t").unwrap();
    p.flush().unwrap();
    p.exp_string("tempo_bpm=").unwrap();
    p.send_control('c').unwrap();
    quit(p);
}
