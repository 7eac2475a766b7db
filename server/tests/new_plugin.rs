//! A new plugin is one folder and one line: `kino-server new-plugin NAME` writes `plugins/NAME`
//! and one dependency line in `server/Cargo.toml`, the plugin list is generated from that file,
//! and core names no plugin.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_kino-server");

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn new_plugin(root: &Path, name: &str) -> Output {
    Command::new(BIN)
        .args(["new-plugin", name, "--root"])
        .arg(root)
        .output()
        .unwrap()
}

/// The `../plugins/NAME` dependencies of `server/Cargo.toml`, in order.
fn listed(manifest: &str) -> Vec<String> {
    manifest
        .lines()
        .filter_map(|l| l.split("path = \"../plugins/").nth(1))
        .map(|rest| rest.split('"').next().unwrap().to_string())
        .collect()
}

#[test]
fn new_plugin_writes_its_folder_and_one_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("server")).unwrap();
    std::fs::create_dir_all(dir.path().join("plugins")).unwrap();
    let before = std::fs::read_to_string(root().join("server/Cargo.toml")).unwrap();
    std::fs::write(dir.path().join("server/Cargo.toml"), &before).unwrap();

    let out = new_plugin(dir.path(), "playlists");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let after = std::fs::read_to_string(dir.path().join("server/Cargo.toml")).unwrap();
    let added: Vec<&str> = after.lines().filter(|l| !before.contains(*l)).collect();
    assert_eq!(
        added,
        ["kino-playlists = { path = \"../plugins/playlists\" }"]
    );
    assert_eq!(before.lines().count() + 1, after.lines().count());
    assert_eq!(listed(&after).last().map(String::as_str), Some("playlists"));
    for file in ["Cargo.toml", "src/lib.rs", "tests/playlists.rs"] {
        let path = dir.path().join("plugins/playlists").join(file);
        assert!(path.is_file(), "{}", path.display());
    }
    let lib = std::fs::read_to_string(dir.path().join("plugins/playlists/src/lib.rs")).unwrap();
    assert!(lib.contains("\"playlists.hello\"") && lib.contains("pub fn plugin()"));

    // Nothing is overwritten, and names that cannot be crates or command prefixes are refused.
    let again = new_plugin(dir.path(), "playlists");
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    for bad in ["Ratings", "../escape", "a-b"] {
        assert!(!new_plugin(dir.path(), bad).status.success(), "{bad}");
    }
    let unchanged = std::fs::read_to_string(dir.path().join("server/Cargo.toml")).unwrap();
    assert_eq!(unchanged, after);
    assert!(!dir.path().join("escape").exists());
}

#[test]
fn the_plugin_list_is_the_dependency_lines_in_order() {
    let manifest = std::fs::read_to_string(root().join("server/Cargo.toml")).unwrap();
    let names: Vec<String> = kino_server_bin::plugins()
        .iter()
        .map(|p| p.name().to_string())
        .collect();
    assert_eq!(names, listed(&manifest));
    assert_eq!(names.first().map(String::as_str), Some("auth"));
}

#[test]
fn core_names_no_plugin() {
    let plugins: Vec<String> = std::fs::read_dir(root().join("plugins"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let core = std::fs::read_to_string(root().join("core/server/Cargo.toml")).unwrap();
    for p in &plugins {
        assert!(
            !core.contains(&format!("kino-{p}")),
            "core/server names {p}"
        );
        assert!(
            !core.contains(&format!("plugins/{p}")),
            "core/server names {p}"
        );
    }
}

/// Copies the workspace's files (tracked and new, not ignored: no `target/`) into `to`.
fn copy_workspace(to: &Path) {
    let out = Command::new("git")
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .current_dir(root())
        .output()
        .unwrap();
    assert!(out.status.success());
    for rel in out.stdout.split(|b| *b == 0).filter(|r| !r.is_empty()) {
        let rel = Path::new(std::str::from_utf8(rel).unwrap());
        let from = root().join(rel);
        if !from.is_file() {
            continue; // deleted but not yet staged
        }
        let dest = to.join(rel);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(&from, &dest).unwrap();
    }
}

/// The target directory this test runs from (`target/debug/deps/THIS`): the copy builds into
/// it too, so only the workspace's own crates are compiled again.
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).unwrap().to_path_buf()
}

/// `target/new-plugin` with every third-party artifact of this build hard-linked in (the Kino
/// crates left out, the copy compiles its own): cheap (one file system, no bytes copied), and
/// nothing the copy writes replaces a file this workspace's build uses, since rustc writes each
/// output anew.
fn private_target() -> PathBuf {
    let shared = target_dir();
    let private = shared.join("new-plugin");
    let profile = shared.join("debug");
    for sub in ["deps", "build", ".fingerprint"] {
        link_tree(&profile.join(sub), &private.join("debug").join(sub));
    }
    private
}

fn link_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("kino") || name.starts_with("libkino") {
            continue;
        }
        let (src, dst) = (entry.path(), to.join(&*name));
        if entry.file_type().unwrap().is_dir() {
            link_tree(&src, &dst);
        } else if !dst.exists() {
            // Where links are refused, cargo builds that artifact again instead.
            let _ = std::fs::hard_link(&src, &dst);
        }
    }
}

/// The scaffold in a throwaway copy/// The scaffold in a throwaway copy of the workspace: `new-plugin demo`, then `cargo test -p
/// kino-demo` (the generated end-to-end test on the real server) and `cargo metadata` (the
/// plugin is a workspace member and a dependency of the binary), with no other edit.
///
/// About 20 s: the copy builds in a target directory of its own whose third-party artifacts are
/// hard links to this one's ([`private_target`]), so only the Kino crates it needs compile.
/// Building the copy in this target directory itself would overwrite this workspace's Kino
/// libraries with the copy's (same file names, other crate hashes) while the rest of
/// `cargo test --workspace` still runs, and the doc-tests after it would not find
/// `kino_derive`.
#[test]
fn a_scaffolded_plugin_builds_and_passes_its_test_in_a_copy_of_the_workspace() {
    let dir = tempfile::tempdir().unwrap();
    copy_workspace(dir.path());
    let out = new_plugin(dir.path(), "demo");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let test = Command::new(env!("CARGO"))
        .args(["test", "--offline", "-p", "kino-demo"])
        .env("CARGO_TARGET_DIR", private_target())
        .current_dir(dir.path())
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&test.stdout);
    assert!(
        test.status.success(),
        "{log}\n{}",
        String::from_utf8_lossy(&test.stderr)
    );
    assert!(
        log.contains("test hello_greets_the_logged_in_user ... ok"),
        "{log}"
    );

    let meta = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--offline",
            "--format-version",
            "1",
            "--no-deps",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(meta.status.success());
    let meta: kino_api::serde_json::Value = kino_api::serde_json::from_slice(&meta.stdout).unwrap();
    let packages = meta["packages"].as_array().unwrap();
    assert!(packages.iter().any(|p| p["name"] == "kino-demo"));
    let bin = packages
        .iter()
        .find(|p| p["name"] == "kino-server-bin")
        .unwrap();
    assert!(bin["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["name"] == "kino-demo"));
}
