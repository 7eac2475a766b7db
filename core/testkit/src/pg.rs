//! A throwaway PostgreSQL cluster for tests: `initdb` and `pg_ctl` in a temporary folder, on a
//! free port of 127.0.0.1 (and a socket in that folder), started once per test binary and shared
//! by its tests, each of which gets a database of its own.
//!
//! As root (CI), the cluster runs as the `postgres` user (or `nobody`) through `runuser`, as
//! PostgreSQL refuses to run as root. A watchdog process stops the cluster and removes the
//! folder when the test binary exits. When no PostgreSQL is installed, [`cluster`] says so loudly
//! and returns `None` (tests skip), except under CI (`CI` set), where that is a failure.
//!
//! `KINO_TEST_DATABASE=postgres` makes every [`crate::TestServer`] run on this cluster.

use std::collections::HashMap;
use std::io::Write;
use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

/// The running cluster.
pub struct Cluster {
    /// Its folder (data in `data/`, socket in the folder itself).
    pub dir: PathBuf,
    /// TCP port on 127.0.0.1.
    pub port: u16,
    next: AtomicUsize,
}

static CLUSTER: OnceLock<Option<Cluster>> = OnceLock::new();
static BY_DATA: Mutex<Option<HashMap<PathBuf, String>>> = Mutex::new(None);

/// Whether `KINO_TEST_DATABASE=postgres` asks for PostgreSQL.
pub fn wanted() -> bool {
    std::env::var("KINO_TEST_DATABASE").is_ok_and(|v| v == "postgres")
}

/// The shared cluster, started on first use; `None` when PostgreSQL is not installed.
pub fn cluster() -> Option<&'static Cluster> {
    CLUSTER
        .get_or_init(|| match bindir() {
            Some(bin) => Some(start(&bin)),
            None => {
                let msg = "PostgreSQL is not installed (no initdb in /usr/lib/postgresql/*/bin \
                           or PATH): SKIPPING the PostgreSQL tests; `apt-get install postgresql`";
                if std::env::var_os("CI").is_some()
                    || std::env::var_os("KINO_REQUIRE_ENGINES").is_some()
                {
                    panic!("{msg}");
                }
                // Straight to the file descriptor: the test harness captures `eprintln!`, and a
                // skip must be seen.
                let _ = writeln!(std::io::stderr(), "\n!!!!!!!! {msg} !!!!!!!!\n");
                None
            }
        })
        .as_ref()
}

fn bindir() -> Option<PathBuf> {
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

fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// The user the cluster runs as when we are root.
fn run_as() -> String {
    for user in ["postgres", "nobody"] {
        let ok = Command::new("id")
            .arg("-u")
            .arg(user)
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return user.into();
        }
    }
    panic!("running as root and neither `postgres` nor `nobody` exists to run PostgreSQL");
}

fn command(bin: &Path, tool: &str, user: Option<&str>) -> Command {
    match user {
        Some(u) => {
            let mut c = Command::new("runuser");
            c.args(["-u", u, "--"]).arg(bin.join(tool));
            c
        }
        None => Command::new(bin.join(tool)),
    }
}

fn run(mut c: Command, what: &str) {
    let out = c.stdin(Stdio::null()).output().unwrap();
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn start(bin: &Path) -> Cluster {
    let user = is_root().then(run_as);
    let dir = tempfile::Builder::new()
        .prefix("kino-pg-")
        .tempdir()
        .unwrap()
        .keep();
    if let Some(u) = &user {
        run(
            {
                let mut c = Command::new("chown");
                c.arg(u).arg(&dir);
                c
            },
            "chown",
        );
    }
    let data = dir.join("data");
    let mut init = command(bin, "initdb", user.as_deref());
    init.arg("-D").arg(&data).args([
        "-U",
        "kino",
        "-A",
        "trust",
        "-E",
        "UTF8",
        "--locale=C",
        "--no-sync",
    ]);
    run(init, "initdb");
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let opts = format!(
        "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
         -c full_page_writes=off -c max_connections=400 -c shared_buffers=32MB",
        dir.display()
    );
    let mut ctl = command(bin, "pg_ctl", user.as_deref());
    ctl.arg("-D")
        .arg(&data)
        .arg("-l")
        .arg(dir.join("log"))
        .args(["-w", "-o", &opts, "start"]);
    run(ctl, "pg_ctl start");
    // Stops the cluster (SIGQUIT: immediate) and removes it once this test binary is gone; run
    // in the background of a shell that exits at once, so nothing is left to reap.
    let watchdog = format!(
        "(while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
         kill -QUIT $(head -1 '{d}/data/postmaster.pid') 2>/dev/null; sleep 1; rm -rf '{d}') &",
        pid = std::process::id(),
        d = dir.display()
    );
    Command::new("sh")
        .args(["-c", &watchdog])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    Cluster {
        dir,
        port,
        next: AtomicUsize::new(0),
    }
}

impl Cluster {
    /// A new empty database; returns its URL (TCP).
    pub fn new_database(&self) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let name = format!("kino_{}_{n}", std::process::id());
        let mut admin = postgres::Client::connect(&self.url("postgres"), postgres::NoTls).unwrap();
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
        self.url(&name)
    }

    /// The TCP URL of database `db`.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://kino@127.0.0.1:{}/{db}", self.port)
    }

    /// The socket URL (`?host=DIR`) of database `db`.
    pub fn socket_url(&self, db: &str) -> String {
        format!(
            "postgres://kino@/{db}?host={}&port={}",
            self.dir.display(),
            self.port
        )
    }
}

/// The database for the data directory `data` under `KINO_TEST_DATABASE=postgres` (the same one
/// again for a restart on that directory); `None` otherwise.
pub fn database_for(data: &Path) -> Option<String> {
    if !wanted() {
        return None;
    }
    let cluster = cluster()?;
    let mut map = BY_DATA.lock().unwrap();
    let map = map.get_or_insert_with(HashMap::new);
    Some(
        map.entry(data.to_path_buf())
            .or_insert_with(|| cluster.new_database())
            .clone(),
    )
}
