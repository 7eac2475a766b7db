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
