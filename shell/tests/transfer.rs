//! `upload` and `download` through the real binary: the MD5 check first, resuming from a
//! partial file, the server-enforced wait, and refusals.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::{add_user, kino, server, write_file};
use serde_json::{json, Value};

fn ids_by_name(s: &kino_testkit::TestServer) -> Vec<(String, u64)> {
    let ran = kino(s).root().args(["--json", "-c", "movies.list"]).run();
    let list = ran.expect_code(0).json_lines().remove(0);
    list.as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap().to_string(),
                m["id"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn id_of(s: &kino_testkit::TestServer, name: &str) -> u64 {
    ids_by_name(s)
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, id)| id)
        .unwrap_or_else(|| panic!("no movie {name}"))
}

#[test]
fn upload_checks_the_md5_first_and_skips_known_content() {
    let s = server();
    let dir = tempfile::tempdir().unwrap();
    write_file(&dir.path().join("a.mp4"), 300_000, 1);
    write_file(&dir.path().join("b.mkv"), 1_000, 2);

    let ran = kino(&s)
        .root()
        .cwd(dir.path())
        .args(["-c", "upload a.mp4 b.mkv"])
        .run();
    ran.expect_code(0);
    assert!(ran.stdout.contains("uploaded a.mp4"), "{ran:?}");
    assert!(ran.stdout.contains("uploaded b.mkv"), "{ran:?}");
    assert!(
        ran.stderr.is_empty(),
        "no progress bars off a terminal: {ran:?}"
    );

    let ran = kino(&s)
        .root()
        .cwd(dir.path())
        .args(["--json", "-c", "upload a.mp4 --paid"])
        .run();
    let out = ran.expect_code(0).json_lines().remove(0);
    assert_eq!(out["status"], "skipped", "{out}");
    assert_eq!(out["id"], json!(id_of(&s, "a.mp4")));

    // One missing file fails the command but not the others.
    write_file(&dir.path().join("c.avi"), 500, 3);
    let ran = kino(&s)
        .root()
        .cwd(dir.path())
        .args(["--json", "-c", "upload missing.mp4 c.avi --paid"])
        .run();
    ran.expect_code(1);
    let out = ran.json_lines().remove(0);
    assert_eq!(
        (&out["status"], &out["movie"]["free"]),
        (&json!("uploaded"), &json!(false))
    );
    assert!(ran.stderr.contains("missing.mp4"), "{ran:?}");

    // Uploading needs an admin.
    add_user(&s, "alice", "alice-pw-1");
    write_file(&dir.path().join("d.avi"), 500, 4);
    let ran = kino(&s)
        .user("alice", "alice-pw-1")
        .cwd(dir.path())
        .args(["-c", "upload d.avi"])
        .run();
    ran.expect_code(1);
    assert!(ran.stderr.contains("error[forbidden]"), "{ran:?}");
}

#[test]
fn download_waits_for_free_movies_and_resumes_from_a_partial_file() {
    let s = server();
    let src = tempfile::tempdir().unwrap();
    // Over a few of the server's 256 KiB chunks.
    write_file(&src.path().join("big.mp4"), 700_000, 7);
    kino(&s)
        .root()
        .cwd(src.path())
        .args(["-c", "upload big.mp4"])
        .run()
        .expect_code(0);
    let id = id_of(&s, "big.mp4");
    let original = std::fs::read(src.path().join("big.mp4")).unwrap();
    add_user(&s, "alice", "alice-pw-1");

    // A whole download: the non-VIP wait (1 s in these tests) comes first. `--out` names a
    // folder that does not exist yet.
    let top = tempfile::tempdir().unwrap();
    let out = top.path().join("new").join("folder");
    let started = Instant::now();
    let ran = kino(&s)
        .user("alice", "alice-pw-1")
        .args([
            "--json",
            "-c",
            &format!("download {id} --out {}", out.display()),
        ])
        .run();
    let reply = ran.expect_code(0).json_lines().remove(0);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "the server's wait"
    );
    assert_eq!(reply["size"], json!(700_000));
    assert_eq!(std::fs::read(out.join("big.mp4")).unwrap(), original);

    // An interrupted download left NAME.part: the next run asks only for the rest.
    let again = tempfile::tempdir().unwrap();
    std::fs::write(again.path().join("big.mp4.part"), &original[..300_000]).unwrap();
    let ran = kino(&s)
        .user("alice", "alice-pw-1")
        .cwd(again.path())
        .args(["-c", &format!("download {id}")])
        .run();
    ran.expect_code(0);
    assert!(
        ran.stdout.contains("saved ./big.mp4 (700000 bytes)"),
        "{ran:?}"
    );
    assert_eq!(
        std::fs::read(again.path().join("big.mp4")).unwrap(),
        original
    );
    assert!(!again.path().join("big.mp4.part").exists());
    let ran = kino(&s)
        .user("alice", "alice-pw-1")
        .args(["--json", "-c", "movies.records limit=1"])
        .run();
    let records = ran.expect_code(0).json_lines().remove(0);
    assert_eq!(
        (&records[0]["offset"], &records[0]["bytes"]),
        (&json!(300_000), &json!(400_000)),
        "{records}"
    );

    // A partial file with the wrong bytes is caught by the MD5 check and removed.
    let bad = tempfile::tempdir().unwrap();
    std::fs::write(bad.path().join("big.mp4.part"), vec![0u8; 1000]).unwrap();
    let ran = kino(&s)
        .user("alice", "alice-pw-1")
        .cwd(bad.path())
        .args(["-c", &format!("download {id}")])
        .run();
    ran.expect_code(1);
    assert!(ran.stderr.contains("MD5"), "{ran:?}");
    assert!(!bad.path().join("big.mp4.part").exists());
    assert!(!bad.path().join("big.mp4").exists());
}

#[test]
fn charged_movies_need_a_purchase_and_vips_do_not_wait() {
    let s = server();
    let src = tempfile::tempdir().unwrap();
    write_file(&src.path().join("paid.mp4"), 5_000, 9);
    write_file(&src.path().join("free.mp4"), 5_000, 10);
    kino(&s)
        .root()
        .cwd(src.path())
        .args(["-c", "upload paid.mp4 --paid"])
        .run()
        .expect_code(0);
    kino(&s)
        .root()
        .cwd(src.path())
        .args(["-c", "upload free.mp4"])
        .run()
        .expect_code(0);
    let (paid, free) = (id_of(&s, "paid.mp4"), id_of(&s, "free.mp4"));
    add_user(&s, "bob", "bob-pw-123");
    let out = tempfile::tempdir().unwrap();
    let bob = || kino(&s).user("bob", "bob-pw-123").cwd(out.path());

    let ran = bob().args(["-c", &format!("download {paid}")]).run();
    ran.expect_code(1);
    assert!(ran.stderr.contains("error[payment_required]"), "{ran:?}");
    assert!(!out.path().join("paid.mp4").exists());

    // Several commands on one connection: buy, then download; VIP skips the wait.
    let script = format!("movies.buy {paid}\ndownload {paid}\nvip.buy\ndownload {free}\n");
    let started = Instant::now();
    let ran = bob().args(["--json"]).stdin(&script).run();
    let lines = ran.expect_code(0).json_lines();
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "VIPs do not wait"
    );
    assert_eq!(lines[2]["is_vip"], Value::Bool(true), "{lines:?}");
    assert_eq!(
        std::fs::read(out.path().join("paid.mp4")).unwrap(),
        std::fs::read(src.path().join("paid.mp4")).unwrap()
    );
    assert!(out.path().join("free.mp4").exists());

    let ran = bob().args(["-c", "download 999"]).run();
    ran.expect_code(1);
    assert!(ran.stderr.contains("error[not_found]"), "{ran:?}");

    // Raw payload commands are pointed at the shell commands that handle the bytes.
    let ran = bob().args(["-c", &format!("movies.download {free}")]).run();
    ran.expect_code(2);
    assert!(ran.stderr.contains("download ID"), "{ran:?}");
}

#[test]
fn refused_downloads_leave_no_file_and_existing_files_are_kept_unless_forced() {
    let s = server();
    let src = tempfile::tempdir().unwrap();
    write_file(&src.path().join("reel.mp4"), 5_000, 21);
    kino(&s)
        .root()
        .cwd(src.path())
        .args(["-c", "upload reel.mp4 --paid"])
        .run()
        .expect_code(0);
    let id = id_of(&s, "reel.mp4");
    let original = std::fs::read(src.path().join("reel.mp4")).unwrap();
    add_user(&s, "alice", "alice-pw-1");
    let out = tempfile::tempdir().unwrap();
    let empty = |why: &str| {
        let left: Vec<_> = std::fs::read_dir(out.path()).unwrap().collect();
        assert!(left.is_empty(), "{why}: {left:?}");
    };

    // Unknown id, not logged in, not bought: refused, and no `.part` left behind.
    let alice = || kino(&s).user("alice", "alice-pw-1").cwd(out.path());
    alice().args(["-c", "download 999"]).run().expect_code(1);
    empty("unknown id");
    let ran = kino(&s)
        .cwd(out.path())
        .args(["-c", &format!("download {id}")])
        .run();
    ran.expect_code(1);
    assert!(ran.stderr.contains("unauthenticated"), "{ran:?}");
    empty("not logged in");
    alice()
        .args(["-c", &format!("download {id}")])
        .run()
        .expect_code(1);
    empty("not bought");

    // Into a folder: an existing file is kept, the download takes `NAME (1).EXT`; `--force`
    // replaces it.
    std::fs::write(out.path().join("reel.mp4"), b"mine").unwrap();
    alice()
        .args(["-c", &format!("movies.buy {id}")])
        .run()
        .expect_code(0);
    let admin = alice;
    let ran = admin().args(["-c", &format!("download {id}")]).run();
    ran.expect_code(0);
    assert!(ran.stdout.contains("saved ./reel (1).mp4"), "{ran:?}");
    assert_eq!(std::fs::read(out.path().join("reel.mp4")).unwrap(), b"mine");
    admin()
        .args(["-c", &format!("download {id} --force")])
        .run()
        .expect_code(0);
    assert_eq!(
        std::fs::read(out.path().join("reel.mp4")).unwrap(),
        original
    );
    assert!(!out.path().join("reel (2).mp4").exists());

    // `--out` as a file path: refused when it exists, replaced with `--force`.
    let ran = admin()
        .args(["-c", &format!("download {id} --out keep/film.mp4")])
        .run();
    ran.expect_code(0);
    assert!(ran.stdout.contains("saved keep/film.mp4"), "{ran:?}");
    std::fs::write(out.path().join("keep/film.mp4"), b"edited").unwrap();
    let ran = admin()
        .args(["-c", &format!("download {id} --out keep/film.mp4")])
        .run();
    ran.expect_code(1);
    assert!(ran.stderr.contains("exists; add --force"), "{ran:?}");
    assert_eq!(
        std::fs::read(out.path().join("keep/film.mp4")).unwrap(),
        b"edited"
    );
    admin()
        .args(["-c", &format!("download {id} --out keep/film.mp4 --force")])
        .run()
        .expect_code(0);
    assert_eq!(
        std::fs::read(out.path().join("keep/film.mp4")).unwrap(),
        original
    );
}
