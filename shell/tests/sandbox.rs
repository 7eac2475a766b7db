//! The script sandbox through the real binary against a real server: files only under the
//! allowed folders (no way out by `..` or a symbolic link), no `KINO_*` variables, `connect`
//! only to the shell's server, downloads that never replace a file, a `sleep` that the time
//! limit interrupts, and size and memory limits that hold when a map or array grows.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{kino, server, write_file};

fn script(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// Script lines that print `ok NAME` or `refused NAME CODE: MESSAGE` for each case.
fn try_each(cases: &[(&str, &str)]) -> String {
    cases
        .iter()
        .map(|(name, expr)| {
            format!(
                "try {{ {expr}; print(\"ok {name}\"); }} catch (e) {{ print(`refused {name} ${{e.code}}: ${{e.message}}`); }}\n"
            )
        })
        .collect()
}

#[test]
fn files_outside_the_allowed_folders_are_refused() {
    let s = server();
    let top = tempfile::tempdir().unwrap();
    let t = top.path();
    for d in ["scripts", "secret", "work", "data"] {
        std::fs::create_dir(t.join(d)).unwrap();
    }
    std::fs::write(t.join("secret/passwd"), "root:x:0:0").unwrap();
    std::fs::write(t.join("scripts/beside.txt"), "beside").unwrap();
    std::fs::write(t.join("work/here.txt"), "here").unwrap();
    std::fs::write(t.join("data/given.txt"), "given").unwrap();
    std::os::unix::fs::symlink(t.join("secret/passwd"), t.join("scripts/link")).unwrap();
    std::os::unix::fs::symlink(t.join("secret"), t.join("work/secret-dir")).unwrap();
    std::os::unix::fs::symlink(t.join("secret/nothing"), t.join("work/dangling")).unwrap();
    let secret = t.join("secret").display().to_string();
    let passwd = format!("{secret}/passwd");
    let new_dir = format!("{secret}/new");
    let text = try_each(&[
        ("absolute", r#"md5("/etc/passwd")"#),
        ("dotdot", r#"md5("../secret/passwd")"#),
        ("script-dotdot", r#"md5(`${script_dir}/../secret/passwd`)"#),
        ("symlink", r#"md5(`${script_dir}/link`)"#),
        ("symlinked-dir", r#"files("secret-dir", "*")"#),
        ("files", &format!("files({secret:?}, \"*\")")),
        ("upload", &format!("upload({passwd:?})")),
        ("download", &format!("download(1, {new_dir:?})")),
        ("link-then-new", r#"download(1, "secret-dir/new")"#),
        ("dangling", r#"download(1, "dangling")"#),
        ("beside", r#"md5(`${script_dir}/beside.txt`)"#),
        ("cwd", r#"md5("here.txt")"#),
        ("argument", "md5(args[0])"),
    ]) + format!("md5({passwd:?});\n").as_str();
    let path = script(&t.join("scripts"), "escape.rhai", &text);
    let given = t.join("data/given.txt").display().to_string();
    let run = |extra: &[&str]| {
        kino(&s)
            .root()
            .cwd(&t.join("work"))
            .args(extra)
            .args(["run", &path, &given])
            .run()
    };
    let ran = run(&[]);
    ran.expect_code(3);
    for name in [
        "absolute",
        "dotdot",
        "script-dotdot",
        "symlink",
        "symlinked-dir",
        "files",
        "upload",
        "download",
        "link-then-new",
        "dangling",
    ] {
        assert!(
            ran.stdout.contains(&format!("refused {name} sandbox: ")),
            "{name}: {ran:?}"
        );
    }
    for name in ["beside", "cwd", "argument"] {
        assert!(
            ran.stdout.contains(&format!("ok {name}\n")),
            "{name}: {ran:?}"
        );
    }
    assert!(!t.join("secret/new").exists(), "no folder made outside");
    assert!(
        !t.join("secret/nothing").exists(),
        "nothing made through the link"
    );
    // Uncaught, the refusal names the rule and the flag.
    assert!(ran.stderr.contains("error[sandbox]: "), "{ran:?}");
    assert!(ran.stderr.contains("--allow-path DIR"), "{ran:?}");
    assert!(ran.stderr.contains("script's folder"), "{ran:?}");

    // `--allow-path` opens the folder (and through it, the link into it).
    let ran = run(&["--allow-path", &secret]);
    ran.expect_code(0);
    for name in ["symlink", "symlinked-dir", "files", "dotdot"] {
        assert!(
            ran.stdout.contains(&format!("ok {name}\n")),
            "{name}: {ran:?}"
        );
    }
    assert!(ran.stdout.contains("refused absolute sandbox"), "{ran:?}");
}

#[test]
fn env_hides_kino_variables() {
    let s = server();
    let dir = tempfile::tempdir().unwrap();
    let path = script(
        dir.path(),
        "env.rhai",
        r#"
print(`password ${type_of(env("KINO_PASSWORD"))} ${env("KINO_PASSWORD")}`);
print(`user ${type_of(env("KINO_USER"))}`);
print(`lower ${type_of(env("kino_password"))}`);
print(`other ${env("DEMO_VALUE")}`);
"#,
    );
    let ran = kino(&s)
        .root()
        .env_var("kino_password", "lower-secret")
        .env_var("DEMO_VALUE", "visible")
        .args(["run", &path])
        .run();
    ran.expect_code(0);
    assert!(!ran.stdout.contains("root-pass-1"), "{ran:?}");
    assert!(!ran.stdout.contains("lower-secret"), "{ran:?}");
    for line in ["password () ", "user ()", "lower ()", "other visible"] {
        assert!(ran.stdout.contains(line), "{line}: {ran:?}");
    }
}

#[test]
fn connect_reaches_only_the_shells_server() {
    let s = server();
    let other = server();
    // A listener that must never see a connection from the script.
    let spy = TcpListener::bind("127.0.0.1:0").unwrap();
    spy.set_nonblocking(true).unwrap();
    let spy_addr = spy.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let path = script(
        dir.path(),
        "connect.rhai",
        &(try_each(&[
            ("spy", "connect(args[0])"),
            ("other", "connect(args[1])"),
            ("own", "connect(args[2])"),
            (
                "own-by-name",
                r#"connect(`localhost:${args[2].split(":")[1]}`)"#,
            ),
        ]) + "print(`ping ${call(\"ping\")}`);\n"),
    );
    let own = s.addr.to_string();
    let other_addr = other.addr.to_string();
    let ran = kino(&s)
        .args(["run", &path, &spy_addr, &other_addr, &own])
        .run();
    ran.expect_code(0);
    assert!(ran.stdout.contains("refused spy sandbox: "), "{ran:?}");
    assert!(ran.stdout.contains("--allow-connect HOST:PORT"), "{ran:?}");
    assert!(ran.stdout.contains("refused other sandbox: "), "{ran:?}");
    assert!(ran.stdout.contains("ok own\n"), "{ran:?}");
    assert!(ran.stdout.contains("ok own-by-name\n"), "{ran:?}");
    assert!(
        matches!(spy.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the refused address was never contacted"
    );

    let ran = kino(&s)
        .args(["--allow-connect", &other_addr])
        .args(["run", &path, &spy_addr, &other_addr, &own])
        .run();
    ran.expect_code(0);
    assert!(ran.stdout.contains("ok other\n"), "{ran:?}");
    assert!(ran.stdout.contains("refused spy sandbox: "), "{ran:?}");
}

#[test]
fn downloads_never_replace_a_file() {
    let s = server();
    let src = tempfile::tempdir().unwrap();
    write_file(&src.path().join("one.mp4"), 40_000, 3);
    let movie = std::fs::read(src.path().join("one.mp4")).unwrap();
    kino(&s)
        .root()
        .cwd(src.path())
        .args(["-c", "upload one.mp4 --paid"])
        .run()
        .expect_code(0);
    let out = tempfile::tempdir().unwrap();
    let o = out.path();
    let path = script(
        src.path(),
        "twice.rhai",
        r#"
let id = call("movies.list")[0].id;
print(`id ${id}`);
call("movies.buy", #{ movie_id: id });
let first = download(id, args[0]);
print(`first ${first}`);
let second = download(id, args[0]);
print(`second ${second}`);
"#,
    );
    // Someone's own file by the movie's name: it must survive.
    std::fs::write(o.join("one.mp4"), "mine").unwrap();
    let ran = kino(&s)
        .root()
        .args(["run", &path, &o.display().to_string()])
        .run();
    ran.expect_code(0);
    assert!(ran.stdout.contains("one (1).mp4\nsecond "), "{ran:?}");
    assert!(ran.stdout.contains("one (2).mp4\n"), "{ran:?}");
    assert_eq!(std::fs::read(o.join("one.mp4")).unwrap(), b"mine");
    assert_eq!(std::fs::read(o.join("one (1).mp4")).unwrap(), movie);
    assert_eq!(std::fs::read(o.join("one (2).mp4")).unwrap(), movie);
    let id = ran
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("id "))
        .unwrap()
        .to_string();

    // The shell's own `download` too; and a partial file still resumes, into a free name.
    std::fs::write(o.join("one.mp4.part"), &movie[..15_000]).unwrap();
    let ran = kino(&s)
        .root()
        .cwd(o)
        .args(["-c", &format!("download {id}")])
        .run();
    ran.expect_code(0);
    assert!(
        ran.stdout.contains("saved ./one (3).mp4 (40000 bytes)"),
        "{ran:?}"
    );
    assert_eq!(std::fs::read(o.join("one (3).mp4")).unwrap(), movie);
    assert!(!o.join("one.mp4.part").exists());
    assert_eq!(std::fs::read(o.join("one.mp4")).unwrap(), b"mine");
    let ran = kino(&s)
        .root()
        .args(["--json", "-c", "movies.records limit=1"])
        .run();
    let records = ran.expect_code(0).json_lines().remove(0);
    assert_eq!(records[0]["offset"], 15_000, "resumed: {records}");
}

#[test]
fn the_time_limit_interrupts_sleep() {
    let s = server();
    let dir = tempfile::tempdir().unwrap();
    let path = script(
        dir.path(),
        "sleepy.rhai",
        "print(\"start\");\nsleep(8000);\nprint(\"no\");\n",
    );
    let started = Instant::now();
    let ran = kino(&s).args(["--timeout", "2", "run", &path]).run();
    let took = started.elapsed();
    ran.expect_code(3);
    assert_eq!(ran.stdout, "start\n");
    assert!(
        ran.stderr.contains("time limit reached (--timeout)"),
        "{ran:?}"
    );
    assert!(took >= Duration::from_millis(1900), "{took:?}");
    assert!(
        took < Duration::from_secs(5),
        "stopped well before 8 s: {took:?}"
    );
}

#[test]
fn growing_maps_and_arrays_stop_at_their_limits() {
    let s = server();
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &str, &[&str], &str); 4] = [
        // rhai alone checks neither `m[key] = v` nor map keys.
        (
            "map.rhai",
            "let m = #{};\nlet i = 0;\nloop { m[`k${i}`] = i; i += 1; }\n",
            &["--script-max-map", "500"],
            "Size of object map",
        ),
        (
            "array.rhai",
            "let a = [];\nloop { a += [1, 2, 3]; }\n",
            &["--script-max-array", "600"],
            "Size of array",
        ),
        (
            "keys.rhai",
            "let m = #{};\nlet k = \"x\";\nwhile k.len() < 60000 { k += k; }\nlet i = 0;\nloop { m[k + i] = (); i += 1; }\n",
            &["--script-max-memory", "16"],
            "memory limit reached",
        ),
        (
            "files.rhai",
            "files(script_dir, \"*\");\n",
            &["--script-max-array", "3"],
            "more than 3 matching files",
        ),
    ];
    for i in 0..5 {
        write_file(&dir.path().join(format!("f{i}.bin")), 10, i);
    }
    for (name, text, flags, expect) in cases {
        let path = script(dir.path(), name, text);
        let started = Instant::now();
        let ran = kino(&s).args(flags).args(["run", &path]).run();
        ran.expect_code(3);
        assert!(ran.stderr.contains(expect), "{name}: {ran:?}");
        assert!(started.elapsed() < Duration::from_secs(10), "{name}");
    }
}
