//! `kino -c` and piped standard input against a real server, and a command added by a test
//! plugin working with no client change.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write;
use std::process::Stdio;
use std::sync::Arc;

use common::{add_user, kino, server, server_with};
use kino_api::{CmdError, Command, CommandArgs, Ctx, Output, Plugin, Role};
use serde_json::{json, Value};

#[test]
fn one_command_with_dash_c() {
    let s = server();
    let ran = kino(&s).args(["-c", "ping"]).run();
    ran.expect_code(0);
    assert_eq!(ran.stdout, "pong\n");

    // `--json` may come before or after `-c`.
    let ran = kino(&s).args(["--json", "-c", "ping"]).run();
    assert_eq!(ran.expect_code(0).json_lines(), vec![json!("pong")]);
    let ran = kino(&s).root().args(["-c", "whoami", "--json"]).run();
    let who = &ran.expect_code(0).json_lines()[0];
    assert_eq!(
        (&who["name"], &who["role"]),
        (&json!("root"), &json!("admin"))
    );

    // Objects print as key/value lines.
    let ran = kino(&s).root().args(["-c", "whoami"]).run();
    assert!(
        ran.expect_code(0).stdout.contains("name       root"),
        "{ran:?}"
    );
}

#[test]
fn failures_map_to_exit_codes() {
    let s = server();
    let ran = kino(&s).args(["-c", "nope.cmd"]).run();
    ran.expect_code(1);
    assert!(ran.stderr.contains("error[unknown_command]"), "{ran:?}");
    assert!(
        !ran.stderr.contains('\x1b'),
        "no colour off a terminal: {ran:?}"
    );

    let ran = kino(&s).args(["-c", "movies.list"]).run();
    ran.expect_code(1);
    assert!(ran.stderr.contains("error[unauthenticated]"), "{ran:?}");

    let ran = kino(&s).args(["-c", "movies.list kind=\"free"]).run();
    ran.expect_code(2);
    assert!(ran.stderr.contains("unterminated"), "{ran:?}");

    let ran = kino(&s).args(["--no-such-flag"]).run();
    ran.expect_code(2);

    // A login without a password source is a usage error, never a hang on a prompt.
    let ran = kino(&s).args(["--user", "root", "-c", "whoami"]).run();
    ran.expect_code(2);

    let ran = kino(&s).user("root", "wrong-pw").args(["-c", "ping"]).run();
    ran.expect_code(1);
    assert!(ran.stderr.contains("error[unauthenticated]"), "{ran:?}");
}

#[test]
fn logins_from_the_environment_or_standard_input() {
    let s = server();
    add_user(&s, "alice", "alice-pw-1");
    let ran = kino(&s)
        .user("alice", "alice-pw-1")
        .args(["--json", "-c", "whoami"])
        .run();
    assert_eq!(ran.expect_code(0).json_lines()[0]["name"], "alice");

    let ran = kino(&s)
        .args([
            "--user",
            "alice",
            "--password-stdin",
            "--json",
            "-c",
            "whoami",
        ])
        .stdin("alice-pw-1\n")
        .run();
    assert_eq!(ran.expect_code(0).json_lines()[0]["name"], "alice");

    // A raw auth.login prints the reply without the session token.
    let ran = kino(&s)
        .args(["--json", "-c", "auth.login name=alice password=alice-pw-1"])
        .run();
    let reply = &ran.expect_code(0).json_lines()[0];
    assert_eq!(reply["name"], "alice");
    assert!(reply.get("session").is_none(), "{reply}");
}

#[test]
fn arguments_are_json_when_valid_and_quoted_strings_keep_spaces() {
    let s = server();
    let ran = kino(&s)
        .root()
        .args([
            "-c",
            r#"notices.publish title="Opening night" content='Doors at 8, "Metropolis" at 9'"#,
        ])
        .run();
    ran.expect_code(0);
    let ran = kino(&s)
        .root()
        .args(["--json", "-c", "notices.list limit=5"])
        .run();
    let list = ran.expect_code(0).json_lines().remove(0);
    assert_eq!(list[0]["title"], "Opening night");
    assert_eq!(list[0]["content"], r#"Doors at 8, "Metropolis" at 9"#);
}

#[test]
fn piped_input_runs_one_command_per_line() {
    let s = server();
    let ran = kino(&s).root().stdin("ping\n# a comment\n\nwhoami\n").run();
    ran.expect_code(0);
    assert!(ran.stdout.starts_with("pong\n"), "{ran:?}");
    assert!(ran.stdout.contains("root"), "{ran:?}");
    assert!(
        !ran.stdout.contains("kino "),
        "no prompt for piped input: {ran:?}"
    );

    // Stops at the first failure...
    let ran = kino(&s).stdin("ping\nnope.cmd\nping\n").run();
    ran.expect_code(1);
    assert_eq!(ran.stdout.matches("pong").count(), 1, "{ran:?}");
    assert!(!ran.stderr.contains('\x1b'), "{ran:?}");

    // ...unless told to keep going; the exit code still reports it.
    let ran = kino(&s)
        .args(["--keep-going"])
        .stdin("ping\nnope.cmd\nping\n")
        .run();
    ran.expect_code(1);
    assert_eq!(ran.stdout.matches("pong").count(), 2, "{ran:?}");

    let ran = kino(&s).args(["--json"]).stdin("ping\nquit\nping\n").run();
    assert_eq!(ran.expect_code(0).json_lines(), vec![json!("pong")]);
}

#[test]
fn a_closed_output_pipe_is_a_clean_exit() {
    let s = server();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_kino"))
        .args(["--addr", &s.addr.to_string(), "--json"])
        .env_remove("KINO_USER")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let mut input = child.stdin.take().unwrap();
    let _ = input.write_all("help\n".repeat(200).as_bytes());
    drop(input);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(out.stderr.is_empty(), "{out:?}");
}

/// A plugin the shell has never heard of.
struct Echo;

#[derive(CommandArgs)]
struct Say {
    /// what to say
    text: String,
}

fn say(_: &mut Ctx, args: Say) -> Result<Output, CmdError> {
    Ok(json!({"said": args.text}).into())
}

impl Plugin for Echo {
    fn name(&self) -> &'static str {
        "echo"
    }

    fn commands(&self) -> Vec<Command> {
        vec![Command::new("echo.say", "Say it back", say).role(Role::Anon)]
    }
}

#[test]
fn a_new_plugin_command_appears_in_help_and_runs_without_client_change() {
    let s = server_with(vec![Arc::new(Echo)]);
    let ran = kino(&s).args(["--json", "-c", "help"]).run();
    let help = ran.expect_code(0).json_lines().remove(0);
    let echo = help
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "echo.say")
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(echo["args"][0]["name"], "text", "{help}");

    let ran = kino(&s).args(["-c", "help"]).run();
    assert!(
        ran.expect_code(0).stdout.contains("echo.say text=<string>"),
        "{ran:?}"
    );
    let ran = kino(&s).args(["-c", "help echo.say"]).run();
    assert!(ran.expect_code(0).stdout.contains("Say it back"), "{ran:?}");

    let ran = kino(&s)
        .args(["--json", "-c", "echo.say text=\"hello there\""])
        .run();
    assert_eq!(
        ran.expect_code(0).json_lines(),
        vec![json!({"said": "hello there"})]
    );
    // Plain words fill the declared arguments in order; a string argument stays a string.
    let ran = kino(&s).args(["--json", "-c", "echo.say 42"]).run();
    assert_eq!(ran.expect_code(0).json_lines(), vec![json!({"said": "42"})]);
}
