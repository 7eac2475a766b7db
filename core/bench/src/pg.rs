//! A throwaway PostgreSQL for `--backends`: `initdb` and `pg_ctl` in a temporary folder on a
//! free port of 127.0.0.1, stopped and removed on drop. The same settings as the test cluster
//! (core/testkit/src/pg.rs: no fsync, trust auth), so the figures measure Kino on PostgreSQL and
//! not the disk. As root it runs as `postgres` (or `nobody`) through `runuser`, since PostgreSQL
//! refuses to run as root. kino-testkit is not a dependency of the binary (it links a whole
//! in-process server and panics on failure), hence this small copy.

use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

/// A running cluster.
pub struct Cluster {
    bin: PathBuf,
    user: Option<String>,
    dir: PathBuf,
    port: u16,
    next: usize,
}

/// Where the newest installed PostgreSQL's `initdb` lives, if any.
pub fn bindir() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_string_lossy().parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((v, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).find(|p| p.join("initdb").is_file() && p.join("pg_ctl").is_file())
}

fn run_as() -> Result<Option<String>> {
    if !std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0) {
        return Ok(None);
    }
    for user in ["postgres", "nobody"] {
        let ok = Command::new("id")
            .args(["-u", user])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return Ok(Some(user.into()));
        }
    }
    bail!("running as root and neither `postgres` nor `nobody` exists to run PostgreSQL")
}

impl Cluster {
    /// Starts a cluster; fails when PostgreSQL is not installed.
    pub fn start() -> Result<Self> {
        let bin = bindir().context(
            "PostgreSQL is not installed (no initdb in /usr/lib/postgresql/*/bin or PATH); \
             `apt-get install postgresql`",
        )?;
        let user = run_as()?;
        let dir = tempfile::Builder::new()
            .prefix("kino-bench-pg-")
            .tempdir()?
            .keep();
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let cluster = Cluster {
            bin,
            user,
            dir,
            port,
            next: 0,
        };
        if let Some(u) = &cluster.user {
            check(Command::new("chown").arg(u).arg(&cluster.dir), "chown")?;
        }
        let data = cluster.dir.join("data");
        check(
            cluster.tool("initdb").arg("-D").arg(&data).args([
                "-U",
                "kino",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ]),
            "initdb",
        )?;
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off -c max_connections=400 -c shared_buffers=32MB",
            cluster.port,
            cluster.dir.display()
        );
        check(
            cluster
                .tool("pg_ctl")
                .arg("-D")
                .arg(&data)
                .arg("-l")
                .arg(cluster.dir.join("log"))
                .args(["-w", "-o", &opts, "start"]),
            "pg_ctl start",
        )?;
        Ok(cluster)
    }

    fn tool(&self, name: &str) -> Command {
        match &self.user {
            Some(u) => {
                let mut c = Command::new("runuser");
                c.args(["-u", u, "--"]).arg(self.bin.join(name));
                c
            }
            None => Command::new(self.bin.join(name)),
        }
    }

    /// A new empty database; returns its URL.
    pub fn new_database(&mut self) -> Result<String> {
        self.next += 1;
        let name = format!("bench_{}", self.next);
        check(
            self.tool("createdb")
                .args([
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &self.port.to_string(),
                    "-U",
                    "kino",
                ])
                .arg(&name),
            "createdb",
        )?;
        Ok(format!("postgres://kino@127.0.0.1:{}/{name}", self.port))
    }

    /// The postmaster's process id (its backends are its children).
    pub fn postmaster(&self) -> Result<u32> {
        let pid = std::fs::read_to_string(self.dir.join("data/postmaster.pid"))?;
        pid.lines()
            .next()
            .and_then(|l| l.trim().parse().ok())
            .context("no pid in postmaster.pid")
    }

    /// The data folder, for `perf` or the log.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        let _ = self
            .tool("pg_ctl")
            .arg("-D")
            .arg(&data)
            .args(["-m", "immediate", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn check(c: &mut Command, what: &str) -> Result<()> {
    let out = c
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {what}"))?;
    if !out.status.success() {
        bail!(
            "{what} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}
