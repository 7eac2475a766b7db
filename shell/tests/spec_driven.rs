//! A command the shell has never heard of, added only on the server, that takes a secret
//! argument and carries a file each way: the real `kino` binary sends the file (`--file`),
//! names it from the spec, saves the reply's file under the name the spec points at, asks for
//! the left-out secret without echo, and keeps every line with the secret out of its history.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command as Process;
use std::sync::{Arc, Mutex};

use common::{kino, server_with};
use kino_api::{Body, CmdError, Command, CommandArgs, Ctx, Output, Plugin, Role};
use rexpect::process::wait::WaitStatus;
use serde_json::json;

/// The one code that opens the vault; neither it nor the argument's name looks like a password
/// to the shell's old name-based guess, so only the spec can mark it.
const PIN: &str = "81726354";

/// `(label, bytes)` of what was put, per test server (tests run in parallel).
type Stored = Arc<Mutex<Option<(String, Vec<u8>)>>>;

#[derive(CommandArgs)]
struct Put {
    /// what to call it
    label: String,
    /// the vault's code
    #[arg(secret)]
    pin: String,
}

#[derive(CommandArgs)]
struct Get {
    /// the vault's code
    #[arg(secret)]
    pin: String,
}

fn put(ctx: &mut Ctx, a: Put, stored: &Stored) -> Result<Output, CmdError> {
    if a.pin != PIN {
        return Err(CmdError::forbidden("wrong pin"));
    }
    let (reader, _) = ctx
        .take_upload()
        .ok_or_else(|| CmdError::internal("no payload"))?;
    let mut bytes = Vec::new();
    reader.read_to_end(&mut bytes).map_err(CmdError::internal)?;
    let n = bytes.len();
    *stored.lock().unwrap() = Some((a.label.clone(), bytes));
    Ok(json!({"label": a.label, "bytes": n}).into())
}

fn get(_: &mut Ctx, a: Get, stored: &Stored) -> Result<Output, CmdError> {
    if a.pin != PIN {
        return Err(CmdError::forbidden("wrong pin"));
    }
    let Some((label, bytes)) = stored.lock().unwrap().clone() else {
        return Err(CmdError::not_found("empty vault"));
    };
    Ok(Output::from(json!({"label": label})).with_body(Body {
        len: bytes.len() as u64,
        source: Box::new(std::io::Cursor::new(bytes)),
        on_complete: None,
        file: None,
    }))
}

#[derive(Default)]
struct Vault(Stored);

impl Plugin for Vault {
    fn name(&self) -> &'static str {
        "vault"
    }
    fn commands(&self) -> Vec<Command> {
        let (a, b) = (Arc::clone(&self.0), Arc::clone(&self.0));
        vec![
            Command::new("vault.put", "Keep a file", move |ctx, args| {
                put(ctx, args, &a)
            })
            .role(Role::Anon)
            .upload()
            .file_name("label"),
            Command::new("vault.get", "Return the file", move |ctx, args| {
                get(ctx, args, &b)
            })
            .role(Role::Anon)
            .download()
            .file_name("label"),
        ]
    }
}

#[test]
fn a_server_only_upload_and_download_work_from_one_shot_commands() {
    let s = server_with(vec![Arc::new(Vault::default())]);
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("notes.bin");
    common::write_file(&src, 70_000, 3);
    let put = format!("vault.put --file {} pin={PIN}", src.display());
    let ran = kino(&s).args(["--json", "-c", &put]).run();
    let reply = ran.expect_code(0).json_lines().remove(0);
    assert_eq!(reply, json!({"label": "notes.bin", "bytes": 70_000}));

    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let get = format!("vault.get pin={PIN} --out {}/", out.display());
    kino(&s).args(["-c", &get]).run().expect_code(0);
    let saved = std::fs::read(out.join("notes.bin")).unwrap();
    assert_eq!(saved, std::fs::read(&src).unwrap());

    // `help` shows how to give the file and which argument is secret.
    let ran = kino(&s).args(["-c", "help vault.put"]).run();
    ran.expect_code(0);
    assert!(
        ran.stdout
            .contains("vault.put label=<string> pin=<string> --file PATH"),
        "{ran:?}"
    );
    assert!(ran.stdout.contains("the vault's code (secret)"), "{ran:?}");

    // Without `--file` the shell says how to send one, naming no plugin.
    let ran = kino(&s).args(["-c", "vault.put pin=1"]).run();
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(ran.stderr.contains("--file PATH"), "{ran:?}");
}

/// Waits until the line editor reads keys again (see interactive.rs).
fn ready(p: &mut rexpect::session::PtySession) {
    p.exp_string("\x1b[?2004h").unwrap();
}

#[test]
fn secrets_from_the_spec_are_asked_without_echo_and_kept_out_of_history() {
    let s = server_with(vec![Arc::new(Vault::default())]);
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("deed.txt");
    std::fs::write(&src, b"the house is yours").unwrap();
    let home = tempfile::tempdir().unwrap();
    let mut cmd = Process::new(env!("CARGO_BIN_EXE_kino"));
    cmd.args(["--addr", &s.addr.to_string()])
        .current_dir(dir.path())
        .env_remove("KINO_USER")
        .env_remove("KINO_PASSWORD")
        .env("TERM", "xterm")
        .env("HOME", home.path())
        .env("XDG_DATA_HOME", home.path().join("data"));
    let mut p = rexpect::session::spawn_command(cmd, Some(15_000)).unwrap();
    ready(&mut p);

    // Given on the line: it runs, and the line is not kept.
    p.send_line(&format!("vault.put --file deed.txt pin={PIN}"))
        .unwrap();
    p.exp_string("deed.txt").unwrap();
    ready(&mut p);

    // Left out: asked for without echo.
    p.send_line("vault.get --out got.txt").unwrap();
    p.exp_string("pin: ").unwrap();
    p.send_line(PIN).unwrap();
    let shown = p.exp_string("saved").unwrap();
    assert!(!shown.contains(PIN), "the pin was echoed: {shown:?}");
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

    assert_eq!(
        std::fs::read(dir.path().join("got.txt")).unwrap(),
        b"the house is yours"
    );
    let history = std::fs::read_to_string(home.path().join("data/kino/history")).unwrap();
    assert!(history.contains("ping"), "{history:?}");
    assert!(history.contains("vault.get --out got.txt"), "{history:?}");
    assert!(!history.contains(PIN), "{history:?}");
    assert!(!history.contains("vault.put"), "{history:?}");
}
