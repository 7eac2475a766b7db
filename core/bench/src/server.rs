//! The server under test: the real binary as a child process, with its own data directory.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result};
use tempfile::TempDir;

/// A running `kino-server`, killed on drop.
pub struct Spawned {
    /// Where to connect.
    pub addr: SocketAddr,
    /// The HTTP gateway, when `extra` asked for one with `--http-listen`.
    pub web: Option<SocketAddr>,
    /// The process, for its resident memory.
    pub child: Child,
    _dir: TempDir,
}

/// An admin account every scenario may use.
pub const ADMIN: (&str, &str) = ("bench", "bench-password");

impl Spawned {
    /// Creates the admin account offline, then starts the server on a free port; `extra` goes to
    /// both, so `--database URL` puts the account where the server will look.
    pub fn start(bin: &Path, extra: &[&str]) -> Result<Self> {
        // Every bench client comes from 127.0.0.1.
        Self::start_per_ip(bin, "20000", extra)
    }

    /// Like [`Spawned::start`] with a chosen `--max-connections-per-ip`, for scenarios whose
    /// clients come from several loopback addresses (the soak keeps the server's default).
    pub fn start_per_ip(bin: &Path, per_ip: &str, extra: &[&str]) -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let mut add = Command::new(bin)
            .arg("--data")
            .arg(dir.path())
            .args(extra)
            .args(["user", "add", ADMIN.0, "--admin", "--password-stdin"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting kino-server user add")?;
        writeln!(add.stdin.take().context("stdin")?, "{}", ADMIN.1)?;
        anyhow::ensure!(add.wait()?.success(), "user add failed");
        let mut child = Command::new(bin)
            .args([
                "--listen",
                "127.0.0.1:0",
                "--max-connections",
                "20000",
                "--max-connections-per-ip",
                per_ip,
                "--data",
            ])
            .arg(dir.path())
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("starting kino-server")?;
        let mut line = String::new();
        let mut out = BufReader::new(child.stdout.take().context("stdout")?);
        out.read_line(&mut line)?;
        let addr = line
            .trim()
            .parse()
            .with_context(|| format!("first line {line:?}"))?;
        let mut web = None;
        if extra.iter().any(|a| a.starts_with("--http-listen")) {
            // The page's line follows the plugin listeners' lines.
            for _ in 0..10 {
                line.clear();
                if out.read_line(&mut line)? == 0 {
                    break;
                }
                if let Some(url) = line.trim().strip_prefix("web http://") {
                    web = url.trim_end_matches('/').parse().ok();
                    break;
                }
            }
        }
        Ok(Spawned {
            addr,
            web,
            child,
            _dir: dir,
        })
    }

    /// Resident set size of the server process, KiB.
    pub fn rss_kib(&self) -> Result<u64> {
        self.status_kib("VmRSS:")
    }

    /// Peak resident set size of the server process so far (`VmHWM`), KiB.
    pub fn hwm_kib(&self) -> Result<u64> {
        self.status_kib("VmHWM:")
    }

    fn status_kib(&self, field: &str) -> Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .with_context(|| format!("no {field}"))
    }

    /// The server's data directory (its database is `kino.db` there).
    pub fn data(&self) -> &Path {
        self._dir.path()
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
