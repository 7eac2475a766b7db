//! Script plugins on the real server with this build's plugins: commands added, changed and
//! removed on a running server by `plugins.reload`; a broken script keeping the previous version
//! and naming its line; installed scripts reaching a second node; the shipped `polls` and
//! `wishlist` plugins; the command reference's section. Hostile scripts: `script_sandbox.rs`.
//! Also run on PostgreSQL by .ci/run.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kino_api::serde_json::{json, Value};
use kino_api::ErrorCode;
use kino_client::Client;
use kino_testkit::{admin_client, user_client, TestServer};

fn shipped() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/plugins")
}

/// A server on the shipped scripts, with its admin; every shipped script loads.
fn shipped_server() -> (TestServer, Client) {
    let s = server(&shipped(), |_| {});
    let mut admin = admin_client(&s, "root");
    let list = admin.call("plugins.list", json!({})).unwrap();
    assert_eq!(list["errors"], json!([]), "{list}");
    (s, admin)
}

fn server(dir: &Path, tweak: impl FnOnce(&mut kino_server::Config)) -> TestServer {
    let dir = dir.to_path_buf();
    TestServer::with_admin(kino_server_bin::plugins(), move |mut c| {
        c.limits.script_plugins = Some(dir);
        tweak(&mut c);
        c
    })
}

/// Creates the admin `root` (password `root-pass-1`) in the database at `url`, as an operator
/// would before starting nodes on it.
fn add_root(data: &Path, url: &str) {
    let plugins = kino_server_bin::plugins();
    let mut config = kino_testkit::test_config(data, &plugins);
    config.database = Some(url.to_owned());
    kino_server::Core::open(config, plugins)
        .unwrap()
        .operator_call(
            "auth.register",
            json!({"name": "root", "password": "root-pass-1", "role": "admin"}),
        )
        .unwrap();
}

fn write(dir: &Path, name: &str, source: &str) {
    std::fs::create_dir_all(dir.join(name)).unwrap();
    std::fs::write(dir.join(name).join("plugin.rhai"), source).unwrap();
}

fn code(r: Result<Value, kino_client::ClientError>) -> Option<ErrorCode> {
    r.err().and_then(|e| e.code())
}

fn upload(admin: &mut Client, name: &str, bytes: &[u8]) -> Value {
    admin
        .upload(
            "movies.upload",
            json!({"name": name, "free": true}),
            &mut &bytes[..],
            bytes.len() as u64,
            &mut |_| {},
        )
        .unwrap()
}

const HELLO_V1: &str = r#"
plugin("hello", "Greetings");
command("hello.greet", "Greet someone", #{ role: "anon", args: [
    #{ name: "who", kind: "string", doc: "whom", max_len: 20, "default": "world" } ] },
    |ctx, args| #{ greeting: `hello, ${args.who}` });
"#;

const HELLO_V2: &str = r#"
plugin("hello", "Greetings");
command("hello.greet", "Greet someone", #{ role: "anon", args: [
    #{ name: "who", kind: "string", doc: "whom", max_len: 20, "default": "world" } ] },
    |ctx, args| #{ greeting: `good evening, ${args.who}` });
command("hello.count", "Count to n", #{ role: "user", args: [
    #{ name: "n", kind: "uint", doc: "how far", max: 100 } ] },
    |ctx, args| { let s = 0; for i in 0..args.n { s += i; } #{ sum: s } });
"#;

#[test]
fn a_command_is_added_changed_and_removed_on_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "hello", HELLO_V1);
    let s = server(dir.path(), |_| {});
    let mut admin = admin_client(&s, "root");
    let mut anon = s.client();
    assert_eq!(
        anon.call("hello.greet", json!({})).unwrap(),
        json!({"greeting": "hello, world"}),
        "the spec's default reaches the handler"
    );
    // Checked by core against the script's spec, like a native command's arguments.
    assert_eq!(
        code(anon.call("hello.greet", json!({"who": "x".repeat(21)}))),
        Some(ErrorCode::BadArgs)
    );
    let help = anon
        .call("help", json!({"command": "hello.greet"}))
        .unwrap();
    assert_eq!(help["args"][0]["max_len"], json!(20));

    write(dir.path(), "hello", HELLO_V2);
    let report = admin.call("plugins.reload", json!({})).unwrap();
    assert_eq!(report["errors"], json!([]), "{report}");
    assert_eq!(
        anon.call("hello.greet", json!({"who": "Ann"})).unwrap()["greeting"],
        "good evening, Ann"
    );
    assert_eq!(
        code(anon.call("hello.count", json!({"n": 4}))),
        Some(ErrorCode::Unauthenticated),
        "the script's role applies"
    );
    let mut user = user_client(&s, "ann");
    assert_eq!(user.call("hello.count", json!({"n": 4})).unwrap()["sum"], 6);
    let info = admin.call("server.info", json!({})).unwrap();
    assert_eq!(info["commandstats"]["hello.count"]["calls"], 1, "{info}");
    let list = admin.call("plugins.list", json!({})).unwrap();
    let hello = list["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "hello")
        .unwrap()
        .clone();
    assert_eq!(hello["kind"], "script");
    assert_eq!(hello["version"], kino_script::version_of(HELLO_V2));

    std::fs::remove_dir_all(dir.path().join("hello")).unwrap();
    let report = admin.call("plugins.reload", json!({})).unwrap();
    assert_eq!(report["removed"], json!(["hello"]), "{report}");
    assert_eq!(
        code(anon.call("hello.greet", json!({}))),
        Some(ErrorCode::UnknownCommand)
    );
    let help = anon.call("help", json!({})).unwrap();
    assert!(!help.to_string().contains("hello."), "{help}");
}

#[test]
fn a_broken_script_keeps_the_previous_version_and_names_its_line() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "hello", HELLO_V1);
    let s = server(dir.path(), |_| {});
    let mut admin = admin_client(&s, "root");
    write(
        dir.path(),
        "hello",
        "plugin(\"hello\", \"Greetings\");\n\ncommand(\"hello.greet\", \"x\", #{}, |ctx, args| { let = 1; });\n",
    );
    let report = admin.call("plugins.reload", json!({})).unwrap();
    let errors = report["errors"].to_string();
    assert!(errors.contains("hello/plugin.rhai:3:"), "{report}");
    assert_eq!(
        s.client().call("hello.greet", json!({})).unwrap()["greeting"],
        "hello, world",
        "the old version still serves"
    );
    // A script declaring a command outside its prefix is refused the same way.
    write(
        dir.path(),
        "hello",
        "plugin(\"hello\", \"x\");\ncommand(\"movies.list\", \"mine now\", #{}, |c, a| 1);\n",
    );
    let report = admin.call("plugins.reload", json!({})).unwrap();
    assert!(
        report["errors"].to_string().contains("plugin.rhai:2:"),
        "{report}"
    );
    let listed = admin.call("plugins.list", json!({})).unwrap();
    assert!(
        listed["errors"].to_string().contains("hello.<verb>"),
        "{listed}"
    );
    assert_eq!(
        s.client().call("hello.greet", json!({})).unwrap()["greeting"],
        "hello, world"
    );
}

#[test]
fn polls_count_votes_and_show_results_to_everyone() {
    let (s, mut admin) = shipped_server();
    let a = upload(&mut admin, "Alien.mp4", b"alien bytes")["id"].clone();
    let b = upload(&mut admin, "Brazil.mp4", b"brazil bytes")["id"].clone();
    let mut ann = user_client(&s, "ann");
    let mut bob = user_client(&s, "bob");
    assert_eq!(
        ann.call("polls.vote", json!({"movie_id": a})).unwrap()["votes"],
        1
    );
    assert_eq!(
        bob.call("polls.vote", json!({"movie_id": a})).unwrap()["votes"],
        2
    );
    // Voting again moves the vote.
    let moved = bob.call("polls.vote", json!({"movie_id": b})).unwrap();
    assert_eq!(
        moved,
        json!({"movie_id": b, "name": "Brazil.mp4", "votes": 1})
    );
    assert_eq!(
        code(ann.call("polls.vote", json!({"movie_id": 999}))),
        Some(ErrorCode::NotFound)
    );
    assert_eq!(
        code(ann.call("polls.vote", json!({"movie_id": 0}))),
        Some(ErrorCode::BadArgs)
    );
    let results = s.client().call("polls.results", json!({})).unwrap();
    assert_eq!(results["total"], 2, "{results}");
    assert_eq!(results["results"][0]["name"], "Alien.mp4", "{results}");
    assert_eq!(
        code(ann.call("polls.reset", json!({}))),
        Some(ErrorCode::Forbidden)
    );
    assert_eq!(admin.call("polls.reset", json!({})).unwrap()["cleared"], 2);
}

#[test]
fn a_wished_movie_brings_a_notice_when_uploaded() {
    let (s, mut admin) = shipped_server();
    let mut ann = user_client(&s, "ann");
    let mut bob = user_client(&s, "bob");
    assert_eq!(
        ann.call("wishlist.add", json!({"title": " Alien "}))
            .unwrap()["added"],
        true
    );
    bob.call("wishlist.add", json!({"title": "Brazil"}))
        .unwrap();
    let movie = upload(&mut admin, "alien.mp4", b"alien bytes");
    let list = ann.call("wishlist.list", json!({"clear": true})).unwrap();
    assert_eq!(list["wishes"], json!([]), "the wish is fulfilled: {list}");
    assert_eq!(list["notices"][0]["movie_id"], movie["id"], "{list}");
    assert_eq!(list["notices"][0]["name"], "alien.mp4");
    assert_eq!(
        ann.call("wishlist.list", json!({})).unwrap()["notices"],
        json!([])
    );
    let bobs = bob.call("wishlist.list", json!({})).unwrap();
    assert_eq!(bobs["notices"], json!([]), "{bobs}");
    assert_eq!(bobs["wishes"][0]["title"], "brazil");
    assert_eq!(
        code(bob.call("wishlist.remove", json!({"title": "Zardoz"}))),
        Some(ErrorCode::NotFound)
    );
}

/// Two nodes starting at once on one database (SQLite, or PostgreSQL under
/// `KINO_TEST_DATABASE=postgres`), both loading the shipped scripts with their migrations: each
/// applies what the other has not, and neither reports "already exists".
#[test]
fn two_nodes_loading_the_same_migrations_at_once_both_load_them() {
    use std::sync::{Arc, Barrier};
    for _ in 0..4 {
        let shared = tempfile::tempdir().unwrap();
        let url = match kino_testkit::pg::wanted() {
            true => kino_testkit::pg::cluster().unwrap().new_database(),
            false => format!("sqlite:{}", shared.path().join("kino.db").display()),
        };
        add_root(shared.path(), &url);
        let barrier = Arc::new(Barrier::new(2));
        let nodes: Vec<_> = (0..2)
            .map(|_| {
                let (url, barrier) = (url.clone(), Arc::clone(&barrier));
                std::thread::spawn(move || {
                    TestServer::with(kino_server_bin::plugins(), move |mut c| {
                        c.database = Some(url);
                        c.limits.script_plugins = Some(shipped());
                        barrier.wait();
                        c
                    })
                })
            })
            .collect();
        for node in nodes {
            let node = node.join().unwrap();
            let list = admin_client(&node, "root")
                .call("plugins.list", json!({}))
                .unwrap();
            assert_eq!(list["errors"], json!([]), "{list}");
        }
    }
}

#[test]
fn an_installed_script_reaches_a_second_node() {
    let shared = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", shared.path().join("kino.db").display());
    add_root(shared.path(), &url);
    let node = |url: String| {
        TestServer::with(kino_server_bin::plugins(), move |mut c| {
            c.database = Some(url);
            c
        })
    };
    let (a, b) = (node(url.clone()), node(url));
    let mut admin = admin_client(&a, "root");
    let report = admin
        .call(
            "plugins.install",
            json!({"name": "hello", "source": HELLO_V1}),
        )
        .unwrap();
    assert_eq!(report["errors"], json!([]), "{report}");
    assert_eq!(
        a.client().call("hello.greet", json!({})).unwrap()["greeting"],
        "hello, world"
    );
    let mut other = b.client();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match other.call("hello.greet", json!({})) {
            Ok(v) => {
                assert_eq!(v["greeting"], "hello, world");
                break;
            }
            Err(e) if Instant::now() < deadline => {
                assert_eq!(e.code(), Some(ErrorCode::UnknownCommand));
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => panic!("the second node never loaded it: {e}"),
        }
    }
    // A broken script is refused before it reaches any node.
    assert_eq!(
        code(admin.call(
            "plugins.install",
            json!({"name": "hello", "source": "plugin(\"hello\""})
        )),
        Some(ErrorCode::BadArgs)
    );
    admin
        .call("plugins.remove", json!({"name": "hello"}))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while other.call("hello.greet", json!({})).is_ok() {
        assert!(Instant::now() < deadline, "the second node kept it");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_command_reference_has_a_section_for_loaded_scripts() {
    let data = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kino-server"))
        .arg("--script-plugins")
        .arg(shipped())
        .arg("--data")
        .arg(data.path())
        .arg("commands")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let section = text.split("\n# Script plugins\n").nth(1).unwrap();
    for name in [
        "## polls.vote",
        "## wishlist.add",
        "`movie_id` | uint | yes",
    ] {
        assert!(section.contains(name), "{name}: {section}");
    }
    // Without the flags: the build's commands only, as docs/commands.md holds them.
    let plain = std::process::Command::new(env!("CARGO_BIN_EXE_kino-server"))
        .arg("commands")
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&plain.stdout).contains("# Script plugins"));
}

#[test]
fn script_calls_reuse_executor_threads() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "hello", HELLO_V1);
    let s = server(dir.path(), |c| c.limits.workers = 2);
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let addr = s.addr;
            std::thread::spawn(move || {
                let mut c = Client::connect(addr).unwrap();
                for _ in 0..100 {
                    c.call("hello.greet", json!({})).unwrap();
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    // One per worker running a script at a time; not one per call.
    let info = admin_client(&s, "root")
        .call("server.info", json!({}))
        .unwrap();
    let n = info["script_executors"].as_u64().unwrap();
    assert!((1..=2).contains(&n), "{n} executor threads after 400 calls");
}
