//! The README's shell examples, run as written against a real server seeded with
//! `scripts/seed_demo.rhai` (an admin named `admin`, as in the Quick start), and compared with
//! what the README shows; timestamps (and the countdown's seconds and spinner frame) are the
//! only things allowed to differ. A change of output
//! format or of the demo data fails here until the README is updated.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use kino_api::Plugin;
use kino_testkit::TestServer;

/// Every plugin the real `kino-server` serves.
fn all_plugins() -> Vec<Arc<dyn Plugin>> {
    let mut p = common::media_plugins();
    p.push(Arc::new(kino_legacy::Legacy));
    p.push(Arc::new(kino_melody::Melody));
    p
}

/// `(command, expected output)` pairs of the first ```text block after `heading`.
fn examples(readme: &str, heading: &str) -> Vec<(String, String)> {
    let section = &readme[readme.find(heading).unwrap()..];
    let start = section.find("```text\n").unwrap() + "```text\n".len();
    let block = &section[start..];
    let block = &block[..block.find("```").unwrap()];
    let mut out: Vec<(String, String)> = Vec::new();
    for line in block.lines() {
        match line.strip_prefix("$ ") {
            Some(cmd) => out.push((cmd.to_string(), String::new())),
            None => {
                let last = out.last_mut().unwrap();
                last.1.push_str(line);
                last.1.push('\n');
            }
        }
    }
    out
}

/// ISO-8601 UTC timestamps (`2026-11-22T23:55:16.380Z`) replaced by a fixed one.
fn without_times(text: &str) -> String {
    let shape = "dddd-dd-ddTdd:dd:dd.dddZ";
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let fits = i + shape.len() <= chars.len()
            && shape.chars().zip(&chars[i..]).all(|(s, c)| match s {
                'd' => c.is_ascii_digit(),
                s => s == *c,
            });
        if fits {
            out.push_str("2000-01-01T00:00:00.000Z");
            i += shape.len();
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out.lines().map(|l| format!("{}\n", l.trim_end())).collect()
}

#[test]
fn readme_shell_examples_print_what_the_readme_shows() {
    let dir = tempfile::tempdir().unwrap();
    kino_testkit::add_user(dir.path(), all_plugins(), "admin", "admin-pass-1", true);
    // The README's server waits the default 30 s before a free download; 2 s here, and only
    // the countdown's digits differ.
    let server = TestServer::in_dir(dir.path(), all_plugins(), |c| {
        c.setting("free-download-wait", serde_json::json!(2))
    });
    let seed = common::kino(&server)
        .user("admin", "admin-pass-1")
        .args(["run"])
        .args([common::scripts_dir().join("seed_demo.rhai")])
        .run();
    seed.expect_code(0);

    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .unwrap();
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_kino")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let home = tempfile::tempdir().unwrap();
    let cases = examples(&readme, "## Using the shell");
    assert!(cases.len() >= 4, "{cases:?}");
    for (cmd, expected) in cases {
        let ran = Command::new("sh")
            .arg("-c")
            .arg(format!("{{ {cmd}; }} 2>&1"))
            .env_remove("KINO_USER")
            .env_remove("KINO_PASSWORD")
            .env("PATH", &path)
            .env("HOME", home.path())
            .env("KINO_ADDR", server.addr.to_string())
            .output()
            .unwrap();
        let got = String::from_utf8_lossy(&ran.stdout);
        assert_eq!(
            without_times(&got),
            without_times(&expected),
            "README example `{cmd}` prints otherwise"
        );
    }

    // The interactive tour: the banner's command count, and the fields `login alice` prints
    // (the reply of `auth.login` without its session token), in order.
    let help = common::kino(&server).args(["--json", "-c", "help"]).run();
    let count = help.expect_code(0).json_lines()[0]
        .as_array()
        .unwrap()
        .len();
    assert!(
        readme.contains(&format!("(127.0.0.1:1688 ({count} commands);"))
            || readme.contains(&format!("to 127.0.0.1:1688 ({count} commands)")),
        "the README's banner should say {count} commands"
    );
    let login = common::kino(&server)
        .args(["-c", "auth.login name=alice password=demo-pass-1"])
        .run();
    let keys: Vec<&str> = login
        .expect_code(0)
        .stdout
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    let tour = &readme[readme.find("> login alice\npassword:\n").unwrap()..];
    let shown: Vec<&str> = tour
        .lines()
        .skip(2)
        .take_while(|l| !l.starts_with("kino "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(shown, keys, "fields of `login alice` in the README");

    // The tour's `download 1`: the countdown line as a terminal shows it, then where it went.
    let after = "> download 1\n";
    let tour = &readme[readme.find(after).unwrap() + after.len()..];
    let mut shown = tour.lines();
    let (countdown, saved) = (shown.next().unwrap(), shown.next().unwrap());
    let cwd = tempfile::tempdir().unwrap();
    let raw = common::pty::run(
        &server.addr.to_string(),
        cwd.path(),
        100,
        ("alice", "demo-pass-1"),
        &["-c", "download 1"],
    );
    let drawn = common::pty::drawn_lines(&raw);
    let counted: Vec<String> = drawn
        .iter()
        .filter(|l| l.contains("free download"))
        .map(|l| timing_free(l.trim_end()))
        .collect();
    assert!(!counted.is_empty(), "no countdown drawn: {drawn:#?}");
    for line in &counted {
        assert_eq!(line, &timing_free(countdown), "the README's countdown line");
    }
    assert!(drawn.iter().any(|l| l == saved), "{saved:?} in {drawn:#?}");
}

/// A countdown line with each run of digits and its spinner frame (both move with time) fixed.
fn timing_free(line: &str) -> String {
    let mut out = String::new();
    for c in line.chars() {
        match c {
            '0'..='9' if out.ends_with('#') => {}
            '0'..='9' => out.push('#'),
            '\u{2800}'..='\u{28ff}' => out.push('⠿'),
            c => out.push(c),
        }
    }
    out
}
