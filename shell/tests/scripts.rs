//! `kino run`: every shipped script against a real server, script errors, and the sandbox.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use common::{kino, scripts_dir, server, write_file};
use serde_json::Value;

fn script(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// How many rows `COMMAND` lists for the admin, through `kino --json -c`.
fn rows(s: &kino_testkit::TestServer, command: &str) -> usize {
    let ran = kino(s).root().args(["--json", "-c", command]).run();
    ran.expect_code(0).json_lines()[0].as_array().unwrap().len()
}

#[test]
fn bulk_upload_run_twice_uploads_nothing_the_second_time() {
    let s = server();
    let films = tempfile::tempdir().unwrap();
    for (i, name) in ["a.mp4", "b.mp4", "c.mkv", "d.mp4"].iter().enumerate() {
        write_file(&films.path().join(name), 20_000 * (i + 1), i as u8);
    }
    write_file(&films.path().join(".hidden.mp4"), 100, 50);
    std::fs::create_dir(films.path().join("sub")).unwrap();
    let bulk = scripts_dir().join("bulk_upload.rhai");
    let dir = films.path().display().to_string();

    let ran = kino(&s)
        .root()
        .args(["run", &bulk.display().to_string(), &dir])
        .run();
    ran.expect_code(0);
    assert!(
        ran.stdout
            .contains("uploaded 4 (195.3 KiB), skipped 0 (0 B), failed 0"),
        "{ran:?}"
    );
    assert!(!ran.stdout.contains(".hidden"), "{ran:?}");

    let ran = kino(&s)
        .root()
        .args(["run", &bulk.display().to_string(), &dir])
        .run();
    ran.expect_code(0);
    assert!(
        ran.stdout
            .contains("uploaded 0 (0 B), skipped 4 (195.3 KiB), failed 0"),
        "{ran:?}"
    );

    // A GLOB narrows the set; an empty file is refused by the server and fails the run.
    write_file(&films.path().join("e.mkv"), 0, 0);
    let ran = kino(&s)
        .root()
        .args(["run", &bulk.display().to_string(), &dir, "*.mkv"])
        .run();
    ran.expect_code(1);
    assert!(ran.stdout.contains("failed   "), "{ran:?}");
    assert!(ran.stdout.contains("e.mkv: error[bad_args]"), "{ran:?}");
    assert!(
        ran.stdout.contains("2 files in") && ran.stdout.contains("skipped 1 (58.6 KiB), failed 1"),
        "{ran:?}"
    );

    assert_eq!(rows(&s, "movies.list"), 4);

    // Without an admin login the script says so.
    let ran = kino(&s)
        .args(["run", &bulk.display().to_string(), &dir])
        .run();
    ran.expect_code(3);
    assert!(ran.stderr.contains("needs an admin login"), "{ran:?}");
}

#[test]
fn seed_demo_then_admin_report() {
    let s = server();
    // Run from somewhere else: the script finds its demo media through `script_dir`.
    let elsewhere = tempfile::tempdir().unwrap();
    let script = scripts_dir().join("seed_demo.rhai");
    let seed = || {
        kino(&s)
            .root()
            .cwd(elsewhere.path())
            .args(["run".as_ref(), script.as_os_str()])
            .run()
    };
    let ran = seed();
    ran.expect_code(0);
    assert!(ran.stdout.contains("user alice: created"), "{ran:?}");
    assert!(ran.stdout.contains("bob: now VIP"), "{ran:?}");

    let users = kino(&s).root().args(["--json", "-c", "auth.users"]).run();
    let names: Vec<Value> = users.expect_code(0).json_lines()[0]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].clone())
        .collect();
    for n in ["alice", "bob", "carol"] {
        assert!(names.contains(&Value::from(n)), "{names:?}");
    }
    assert_eq!(rows(&s, "movies.list"), 4);
    assert_eq!(rows(&s, "notices.list"), 2);

    // Seeding again changes nothing.
    let ran = seed();
    ran.expect_code(0);
    assert!(ran.stdout.contains("user alice: already there"), "{ran:?}");
    assert!(ran.stdout.contains("bob: already VIP"), "{ran:?}");
    assert_eq!(rows(&s, "notices.list"), 2);

    let ran = kino(&s)
        .root()
        .args([
            "run",
            &scripts_dir()
                .join("admin_report.rhai")
                .display()
                .to_string(),
        ])
        .run();
    ran.expect_code(0);
    assert!(
        ran.stdout.contains("accounts: 4 (1 admins, 3 users)"),
        "{ran:?}"
    );
    assert!(ran.stdout.contains("VIP members"), "{ran:?}");
    assert!(ran.stdout.contains("Metropolis (1927).txt"), "{ran:?}");
    // alice bought one charged movie: one purchase in the totals line.
    let total = ran.stdout.lines().find(|l| l.contains("total")).unwrap();
    let cols: Vec<&str> = total.split_whitespace().collect();
    assert_eq!(cols[cols.len() - 2], "1", "{total}");
}

#[test]
fn a_script_error_prints_path_line_and_column_and_exits_3() {
    let s = server();
    let dir = tempfile::tempdir().unwrap();
    let path = script(
        dir.path(),
        "broken.rhai",
        "let x = 1;\nprint(\"before\");\nlet y = nowhere + x;\nprint(\"after\");\n",
    );
    let ran = kino(&s).args(["run", &path]).run();
    ran.expect_code(3);
    assert_eq!(ran.stdout, "before\n");
    assert!(ran.stderr.contains(&format!("{path}:3:9: ")), "{ran:?}");
    assert!(ran.stderr.contains("nowhere"), "{ran:?}");

    let path = script(dir.path(), "syntax.rhai", "let a = 1;\nlet = 2;\n");
    let ran = kino(&s).args(["run", &path]).run();
    ran.expect_code(3);
    assert!(ran.stderr.contains(&format!("{path}:2:")), "{ran:?}");

    // An uncaught server error carries the server's code, inside a function too.
    let path = script(
        dir.path(),
        "server.rhai",
        "fn get(id) {\n    call(\"movies.list\", #{ kind: id })\n}\nget(\"nope\");\n",
    );
    let ran = kino(&s).root().args(["run", &path]).run();
    ran.expect_code(3);
    assert!(
        ran.stderr
            .contains(&format!("error[bad_args]: {path}:2:10: ")),
        "{ran:?}"
    );
    assert!(ran.stderr.contains("in function `get`"), "{ran:?}");

    let ran = kino(&s).args(["run", "/no/such/script.rhai"]).run();
    ran.expect_code(3);
    assert!(ran.stderr.contains("/no/such/script.rhai"), "{ran:?}");
}

#[test]
fn scripts_get_the_shell_functions() {
    let s = server();
    let dir = tempfile::tempdir().unwrap();
    write_file(&dir.path().join("one.mp4"), 3_000, 1);
    write_file(&dir.path().join("two.mkv"), 4_000, 2);
    let md5 = {
        use md5::{Digest, Md5};
        hex::encode(Md5::digest(
            std::fs::read(dir.path().join("one.mp4")).unwrap(),
        ))
    };
    let path = script(
        dir.path(),
        "fns.rhai",
        r#"
print(`args ${args.len()} ${args[0]} ${args()[1]}`);
print(`env ${env("SCRIPT_TEST_VALUE")} ${type_of(env("SCRIPT_NOT_SET"))}`);
let found = files(args[0], "*.mp4");
print(`files ${found.len()} ${found[0].ends_with("one.mp4")}`);
print(`md5 ${md5(found[0])}`);
let up = upload(found[0], #{ free: false });
print(`upload ${up.status} ${up.free}`);
print(`again ${upload(found[0]).status}`);
try {
    call("movies.buy", #{ movie_id: 999999 });
} catch (e) {
    print(`caught ${e.code}`);
}
let list = call("movies.list", #{ kind: "charge" });
print(`listed ${list.len()} ${list[0].name} ${list[0].size}`);
call("movies.buy", #{ movie_id: up.id });
sleep(1);
let out = download(up.id, args[1]);
print(`downloaded ${out.ends_with("one.mp4")}`);
connect(args[2]);
try { call("movies.list"); } catch (e) { print(`fresh connection ${e.code}`); }
login("root", "root-pass-1");
print(`login ${call("whoami").name}`);
"#,
    );
    let out = tempfile::tempdir().unwrap();
    let ran = kino(&s)
        .root()
        .args([
            "run",
            &path,
            &dir.path().display().to_string(),
            &out.path().display().to_string(),
            &s.addr.to_string(),
        ])
        .env_var("SCRIPT_TEST_VALUE", "42")
        .run();
    ran.expect_code(0);
    let expected = [
        "args 3 ".to_string(),
        "env 42 ()".into(),
        "files 1 true".into(),
        format!("md5 {md5}"),
        "upload uploaded false".into(),
        "again skipped".into(),
        "caught not_found".into(),
        "listed 1 one.mp4 3000".into(),
        "downloaded true".into(),
        "fresh connection unauthenticated".into(),
        "login root".into(),
    ];
    for line in expected {
        assert!(ran.stdout.contains(&line), "missing {line:?}\n{ran:?}");
    }
    assert_eq!(
        std::fs::read(out.path().join("one.mp4")).unwrap(),
        std::fs::read(dir.path().join("one.mp4")).unwrap()
    );
}

#[test]
fn scripts_are_sandboxed() {
    let s = server();
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("import.rhai", "import \"os\" as os;\n", "import"),
        ("eval.rhai", "eval(\"1 + 1\");\n", "eval"),
        (
            "string.rhai",
            "let s = \"0123456789\";\nloop { s += s; }\n",
            "Length of string",
        ),
        (
            "deep.rhai",
            "fn f(n) { f(n + 1) }\nf(0);\n",
            "Stack overflow",
        ),
        (
            "spin.rhai",
            "let n = 0;\nloop { n += 1; }\n",
            "Too many operations",
        ),
    ];
    for (name, text, expect) in cases {
        let path = script(dir.path(), name, text);
        // A small operation budget keeps the runaway loop short in a debug build.
        let ran = kino(&s)
            .env_var("KINO_SCRIPT_MAX_OPERATIONS", "200000")
            .args(["run", &path])
            .run();
        ran.expect_code(3);
        assert!(ran.stderr.contains(expect), "{name}: {ran:?}");
    }
    // A wall-clock limit stops scripts stuck in native calls between operations.
    let path = script(dir.path(), "slow.rhai", "loop { sleep(50); }\n");
    let ran = kino(&s).args(["--timeout", "1", "run", &path]).run();
    ran.expect_code(3);
    assert!(ran.stderr.contains("time limit"), "{ran:?}");

    // `exit(n)` sets the exit code.
    let path = script(
        dir.path(),
        "exit.rhai",
        "print(\"bye\");\nexit(4);\nprint(\"no\");\n",
    );
    let ran = kino(&s).args(["run", &path]).run();
    ran.expect_code(4);
    assert_eq!(ran.stdout, "bye\n");
}

#[test]
fn run_inside_the_shell_uses_its_connection_and_keeps_its_login() {
    let s = server();
    common::add_user(&s, "alice", "alice-pw-1");
    common::add_user(&s, "bob", "bob-pw-123");
    let dir = tempfile::tempdir().unwrap();
    let path = script(
        dir.path(),
        "who.rhai",
        "print(`script sees ${call(\"whoami\").name} ${args[0]}`);\nlogin(\"bob\", \"bob-pw-123\");\nprint(`script now ${call(\"whoami\").name}`);\n",
    );
    let ran = kino(&s)
        .user("alice", "alice-pw-1")
        .args(["--json"])
        .stdin(&format!("run {path} key=value\nwhoami\n"))
        .run();
    ran.expect_code(0);
    let lines: Vec<&str> = ran.stdout.lines().collect();
    assert_eq!(lines[0], "script sees alice key=value", "{ran:?}");
    assert_eq!(lines[1], "script now bob", "{ran:?}");
    let who: Value = serde_json::from_str(lines[2]).unwrap();
    assert_eq!(who["name"], "alice", "the shell keeps its login: {ran:?}");
}
