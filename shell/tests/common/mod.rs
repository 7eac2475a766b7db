//! Shared by the shell's integration tests: a real server with the media plugins (and an
//! admin `root`/`root-pass-1`), and a builder that runs the real `kino` binary against it with a
//! clean environment and a private data directory for history.
#![allow(dead_code, clippy::unwrap_used)]

pub mod proxy;
pub mod pty;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use kino_api::Plugin;
use kino_testkit::TestServer;
use serde_json::{json, Value};
use tempfile::TempDir;

/// The plugins a real `kino-server` serves, minus the legacy protocol.
pub fn media_plugins() -> Vec<Arc<dyn Plugin>> {
    vec![
        kino_auth::plugin(),
        Arc::new(kino_notices::Notices),
        Arc::new(kino_vip::Vip),
        Arc::new(kino_movies::Movies),
    ]
}

/// A server with the media plugins, an admin `root` (password `root-pass-1`) and a one-second
/// free-download wait.
pub fn server() -> TestServer {
    server_with(Vec::new())
}

/// [`server`] plus `extra` plugins.
pub fn server_with(extra: Vec<Arc<dyn Plugin>>) -> TestServer {
    let mut plugins = media_plugins();
    plugins.extend(extra);
    TestServer::with_admin(plugins, |c| c.setting("free-download-wait", json!(1)))
}

/// Registers a plain user through the server.
pub fn add_user(server: &TestServer, name: &str, password: &str) {
    server
        .client()
        .call("auth.register", json!({"name": name, "password": password}))
        .unwrap();
}

/// The repository's `scripts/` folder.
pub fn scripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts")
}

/// One run of `kino`.
pub struct Kino {
    cmd: Command,
    stdin: Vec<u8>,
    /// Holds the private home (history) for the run's life.
    _home: TempDir,
}

/// `kino --addr ADDR` with no inherited `KINO_*` variables and a private home.
pub fn kino(server: &TestServer) -> Kino {
    kino_at(&server.addr.to_string())
}

/// `kino --addr ADDR`.
pub fn kino_at(addr: &str) -> Kino {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kino"));
    for var in ["KINO_USER", "KINO_PASSWORD", "KINO_ADDR"] {
        cmd.env_remove(var);
    }
    cmd.env("HOME", home.path())
        .env("XDG_DATA_HOME", home.path().join("data"))
        .args(["--addr", addr]);
    Kino {
        cmd,
        stdin: Vec::new(),
        _home: home,
    }
}

/// What a run printed and how it ended.
#[derive(Debug)]
pub struct Ran {
    /// Exit code (`-1` when killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Ran {
    /// Standard output parsed as one JSON value per line.
    pub fn json_lines(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}\n{self:?}")))
            .collect()
    }

    /// Asserts the exit code, showing both streams when it differs.
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "unexpected exit code\n{self:#?}");
        self
    }
}

impl Kino {
    /// Logs in through `KINO_USER`/`KINO_PASSWORD`.
    pub fn user(mut self, name: &str, password: &str) -> Self {
        self.cmd
            .env("KINO_USER", name)
            .env("KINO_PASSWORD", password);
        self
    }

    /// Logs in as the admin `root`.
    pub fn root(self) -> Self {
        self.user("root", "root-pass-1")
    }

    /// Adds arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.cmd.args(args);
        self
    }

    /// Sets an environment variable.
    pub fn env_var(mut self, key: &str, value: &str) -> Self {
        self.cmd.env(key, value);
        self
    }

    /// Runs in `dir`.
    pub fn cwd(mut self, dir: &Path) -> Self {
        self.cmd.current_dir(dir);
        self
    }

    /// Feeds `text` on standard input (a pipe, so no line editor).
    pub fn stdin(mut self, text: &str) -> Self {
        self.stdin = text.as_bytes().to_vec();
        self
    }

    /// Runs to completion.
    pub fn run(mut self) -> Ran {
        let mut child = self
            .cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        let bytes = std::mem::take(&mut self.stdin);
        let writer = std::thread::spawn(move || {
            // The shell may exit before reading everything (first error): ignore EPIPE.
            let _ = input.write_all(&bytes);
        });
        let Output {
            status,
            stdout,
            stderr,
        } = child.wait_with_output().unwrap();
        writer.join().unwrap();
        Ran {
            code: status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        }
    }
}

/// Writes `len` bytes of deterministic, `seed`-dependent content (distinct seeds give
/// distinct MD5s).
pub fn write_file(path: &Path, len: usize, seed: u8) {
    let mut state = u32::from(seed).wrapping_mul(2_654_435_761).wrapping_add(1);
    let bytes: Vec<u8> = (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state >> 24) as u8
        })
        .collect();
    std::fs::write(path, bytes).unwrap();
}
