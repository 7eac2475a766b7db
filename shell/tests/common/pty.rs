//! `kino` in a pseudo-terminal of a chosen width, and what it drew, line by line.

use std::path::Path;
use std::process::Command;

/// Runs `kino --addr ADDR ARGS` logged in as `user` in a pseudo-terminal `cols` columns wide
/// (`stty` sets the window size before the shell starts) and returns all it wrote, once it
/// exited.
pub fn run(addr: &str, cwd: &Path, cols: u16, user: (&str, &str), args: &[&str]) -> String {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("stty cols {cols} rows 24 && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_kino"))
        .args(["--addr", addr])
        .args(args)
        .current_dir(cwd)
        .env_remove("NO_COLOR")
        .env_remove("PAGER")
        .env("TERM", "xterm")
        .env("HOME", cwd)
        .env("XDG_DATA_HOME", cwd.join(".data"))
        .env("KINO_USER", user.0)
        .env("KINO_PASSWORD", user.1);
    let mut p = rexpect::session::spawn_command(cmd, Some(20_000)).unwrap();
    // rexpect hands back one char per byte; the bytes are UTF-8.
    let bytes: Vec<u8> = p.exp_eof().unwrap().chars().map(|c| c as u8).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Every piece of text drawn between carriage returns and newlines, without escape sequences:
/// what one redraw of a progress bar put on one terminal row (or, if too long, wrapped).
pub fn drawn_lines(raw: &str) -> Vec<String> {
    let mut plain = String::new();
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            // CSI: ESC [ parameters, then one final byte in @..~.
            if chars.peek() == Some(&'[') {
                chars.next();
                for f in chars.by_ref() {
                    if ('@'..='~').contains(&f) {
                        break;
                    }
                }
            } else {
                chars.next();
            }
            continue;
        }
        plain.push(c);
    }
    plain
        .split(['\r', '\n'])
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}
