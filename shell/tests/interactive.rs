//! The interactive prompt in a pseudo-terminal: login with a hidden password, a command,
//! Tab completion of a command name, Ctrl-C cancelling a line, history without secrets, and
//! Ctrl-D leaving.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;

use common::{add_user, server};
use rexpect::process::wait::WaitStatus;

/// Waits until the line editor reads keys again: keys sent while a command runs are read by
/// the next prompt, but the editor drops whatever it read past a Ctrl-C or an Enter, so a test
/// that types faster than a person must wait for each prompt (bracketed paste is switched on
/// once per prompt, after raw mode).
fn ready(p: &mut rexpect::session::PtySession) {
    p.exp_string("\x1b[?2004h").unwrap();
}

#[test]
fn login_command_completion_and_ctrl_d_in_a_terminal() {
    let s = server();
    add_user(&s, "alice", "alice-secret-pw");
    let addr = s.addr.to_string();
    let home = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kino"));
    cmd.args(["--addr", &addr])
        .env_remove("KINO_USER")
        .env_remove("KINO_PASSWORD")
        .env("TERM", "xterm")
        .env("HOME", home.path())
        .env("XDG_DATA_HOME", home.path().join("data"));
    let mut p = rexpect::session::spawn_command(cmd, Some(15_000)).unwrap();

    let anonymous = format!("kino {addr}> ");
    let logged_in = format!("kino alice@{addr}> ");
    ready(&mut p);
    p.exp_string(&anonymous).unwrap();

    // The password is read without echo and never shown.
    p.send_line("login alice").unwrap();
    p.exp_string("password: ").unwrap();
    p.send_line("alice-secret-pw").unwrap();
    let shown = p.exp_string("\x1b[?2004h").unwrap();
    p.exp_string(&logged_in).unwrap();
    assert!(shown.contains("alice"), "{shown:?}");
    assert!(
        !shown.contains("alice-secret-pw"),
        "password echoed: {shown:?}"
    );

    // Tab completes the command name, and Enter runs `whoami`, not an unknown `whoa`.
    p.send("whoa\t").unwrap();
    p.flush().unwrap();
    p.exp_string("whoami ").unwrap();
    p.send("\r").unwrap();
    p.flush().unwrap();
    // The editor redraws the prompt at every key, so wait for the output itself.
    p.exp_string("logged_in").unwrap();
    // Fields print in the order the server wrote them; `role` comes last.
    let out = p.exp_string("role").unwrap();
    assert!(out.contains("alice"), "{out:?}");

    // One server command with arguments (no movies yet).
    ready(&mut p);
    p.send_line("movies.list kind=free").unwrap();
    p.exp_string("(none)").unwrap();

    // Ctrl-C drops the line being typed; the shell stays.
    ready(&mut p);
    p.send("notices.li").unwrap();
    p.flush().unwrap();
    p.send_control('c').unwrap();
    ready(&mut p);
    p.send_line("ping").unwrap();
    let out = p.exp_string("pong").unwrap();
    assert!(!out.contains("notices"), "the cancelled line ran: {out:?}");

    // A raw command carrying a password runs but stays out of the history.
    ready(&mut p);
    p.send_line("auth.passwd old=alice-secret-pw new=alice-other-pw")
        .unwrap();
    ready(&mut p);
    p.send_line("ping").unwrap();
    p.exp_string("pong").unwrap();
    ready(&mut p);

    p.send_control('d').unwrap();
    p.exp_eof().unwrap();
    match p.process_mut().wait().unwrap() {
        WaitStatus::Exited(_, code) => assert_eq!(code, 0),
        other => panic!("kino ended with {other:?}"),
    }

    let history = std::fs::read_to_string(home.path().join("data/kino/history")).unwrap();
    assert!(history.contains("login alice"), "{history:?}");
    assert!(history.contains("whoami"), "{history:?}");
    assert!(!history.contains("secret"), "{history:?}");
    assert!(!history.contains("auth.passwd"), "{history:?}");
}
