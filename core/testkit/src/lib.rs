//! Test helpers (mini-redis `start_server`): a real server library on `127.0.0.1:0` with a
//! temporary data directory and cheap argon2, plus clients that log in.
//!
//! Layout: [`TestServer`] (in-process; on PostgreSQL under `KINO_TEST_DATABASE=postgres`, see
//! [`pg`]), [`BinServer`] (the real `kino-server` binary, for signals and kill tests),
//! [`S3Server`] (a real S3 server, `s3s-fs`), [`balancer::Balancer`] (a real HAProxy),
//! [`admin_client`] and [`user_client`].
//!
//! The testkit names no plugin: every server runs exactly the plugin set its test passes (a
//! plugin's tests pass it and the plugins it needs; `kino_server_bin::plugins()` is the whole
//! build). The `auth` feature adds [`TestServer::start`] and [`with_auth`] for the common case.
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::thread::JoinHandle;

use kino_api::Plugin;
use kino_client::Client;
use kino_server::{Config, Core, ShutdownHandle};
use serde_json::{json, Value};
use tempfile::TempDir;

pub use kino_client::{into_data, request, ClientError};

pub mod balancer;
pub mod cluster;
pub mod engines;
pub mod pg;
pub mod s3;
pub use s3::{S3Server, S3_BUCKET, S3_KEY_ID, S3_SECRET};

/// The config every test server starts from: cheap argon2 when auth is in `plugins` and, under
/// `KINO_TEST_DATABASE=postgres`, a PostgreSQL database of its own for `data` ([`pg`]).
pub fn test_config(data: &Path, plugins: &[Arc<dyn Plugin>]) -> Config {
    let mut config = fast_auth_for(Config::new(data), plugins);
    config.database = pg::database_for(data);
    config
}

/// Settings that make argon2 cheap; tests must not spend seconds hashing. (Auth's settings:
/// the server refuses them when auth is not in the set, see [`fast_auth_for`].)
pub fn fast_auth(config: Config) -> Config {
    config
        .setting("argon2-memory-kib", json!(64))
        .setting("argon2-iterations", json!(1))
}

/// [`fast_auth`] when a plugin of `plugins` declares the argon2 settings, else `config` as is.
pub fn fast_auth_for(config: Config, plugins: &[Arc<dyn Plugin>]) -> Config {
    let declared = plugins
        .iter()
        .any(|p| p.settings().iter().any(|s| s.name == "argon2-memory-kib"));
    if declared {
        fast_auth(config)
    } else {
        config
    }
}

/// A server running in this process.
pub struct TestServer {
    /// Where clients connect.
    pub addr: SocketAddr,
    /// Plugin listeners that were turned on, by setting name.
    pub plugin_listeners: Vec<(&'static str, SocketAddr)>,
    dir: Option<TempDir>,
    data: PathBuf,
    shutdown: ShutdownHandle,
    thread: Option<JoinHandle<()>>,
    /// Under `KINO_TEST_CLUSTER=1`: the second node and the balancer `addr` points at.
    cluster: Option<cluster::Extra>,
}

impl TestServer {
    /// Auth only.
    #[cfg(feature = "auth")]
    pub fn start() -> Self {
        Self::with(with_auth(Vec::new()), |c| c)
    }

    /// Exactly `plugins`, with `tweak` applied to the config (limits, settings).
    pub fn with(plugins: Vec<Arc<dyn Plugin>>, tweak: impl FnOnce(Config) -> Config) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().to_path_buf();
        let mut s = Self::in_dir(&data, plugins, tweak);
        s.dir = Some(dir);
        s
    }

    /// Like [`TestServer::with`], on an existing data directory (restart tests).
    pub fn in_dir(
        data: &Path,
        plugins: Vec<Arc<dyn Plugin>>,
        tweak: impl FnOnce(Config) -> Config,
    ) -> Self {
        let mut config = tweak(test_config(data, &plugins));
        config.listen = "127.0.0.1:0".into();
        if cluster::wanted() {
            cluster::configure(&mut config);
        }
        let second = cluster::wanted().then(|| (config.clone(), plugins.clone()));
        let server = Core::open(config, plugins).unwrap().listen().unwrap();
        let mut addr = server.local_addr();
        let plugin_listeners = server.plugin_listener_addrs().to_vec();
        let shutdown = server.shutdown_handle();
        // Named so tests can tell the loop from the pool's threads (`--pool-nice`).
        let thread = std::thread::Builder::new()
            .name("kino-loop".into())
            .spawn(move || server.run().unwrap())
            .unwrap();
        let cluster = second.map(|(mut config, plugins)| {
            let (front, extra) = cluster::start(&mut config, &plugins, addr);
            addr = front;
            extra
        });
        TestServer {
            cluster,
            addr,
            plugin_listeners,
            dir: None,
            data: data.to_path_buf(),
            shutdown,
            thread: Some(thread),
        }
    }

    /// The data directory.
    pub fn data(&self) -> &Path {
        &self.data
    }

    /// A new connection.
    pub fn client(&self) -> Client {
        Client::connect(self.addr).unwrap()
    }

    /// Stops the server and waits for it (the data directory stays until drop).
    pub fn stop(&mut self) {
        if let Some(c) = &mut self.cluster {
            c.stop();
        }
        self.shutdown.shutdown();
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }

    /// Keeps the data directory alive past this server (for a restart on it).
    pub fn take_dir(&mut self) -> Option<TempDir> {
        self.dir.take()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The auth plugin followed by `plugins`: the set most tests need.
#[cfg(feature = "auth")]
pub fn with_auth(plugins: Vec<Arc<dyn Plugin>>) -> Vec<Arc<dyn Plugin>> {
    let mut all = vec![kino_auth::plugin()];
    all.extend(plugins);
    all
}

/// Offline operator command, as `kino-server user add NAME --admin` does it (`plugins` must
/// include auth).
pub fn add_user(
    data: &Path,
    plugins: Vec<Arc<dyn Plugin>>,
    name: &str,
    password: &str,
    admin: bool,
) {
    let mut core = Core::open(test_config(data, &plugins), plugins).unwrap();
    core.operator_call(
        "auth.register",
        json!({"name": name, "password": password, "role": if admin { "admin" } else { "user" }}),
    )
    .unwrap();
}

/// Registers (through an admin session when `admin`) and logs in; returns the client and the
/// login reply.
pub fn login(server: &TestServer, name: &str, password: &str) -> (Client, Value) {
    let mut c = server.client();
    let reply = c
        .call("auth.login", json!({"name": name, "password": password}))
        .unwrap();
    (c, reply)
}

/// A logged-in user client (registering the name first).
pub fn user_client(server: &TestServer, name: &str) -> Client {
    let mut c = server.client();
    c.call(
        "auth.register",
        json!({"name": name, "password": "pw-of-user"}),
    )
    .unwrap();
    c.call(
        "auth.login",
        json!({"name": name, "password": "pw-of-user"}),
    )
    .unwrap();
    c
}

/// A logged-in admin client: the first admin is made with an admin's own session, so this goes
/// through the server's `operator`-created admin `root`.
pub fn admin_client(server: &TestServer, name: &str) -> Client {
    let mut root = server.client();
    if root
        .call(
            "auth.login",
            json!({"name": "root", "password": "root-pass-1"}),
        )
        .is_err()
    {
        panic!("admin_client needs the `root` admin: start with TestServer::with_admin");
    }
    if name != "root" {
        root.call(
            "auth.register",
            json!({"name": name, "password": "pw-of-admin", "role": "admin"}),
        )
        .unwrap();
        let mut c = server.client();
        c.call(
            "auth.login",
            json!({"name": name, "password": "pw-of-admin"}),
        )
        .unwrap();
        return c;
    }
    root
}

impl TestServer {
    /// Like [`TestServer::with`], with an admin account `root` (password `root-pass-1`) made
    /// offline by the operator path before the server starts.
    pub fn with_admin(plugins: Vec<Arc<dyn Plugin>>, tweak: impl FnOnce(Config) -> Config) -> Self {
        let dir = tempfile::tempdir().unwrap();
        add_user(dir.path(), plugins.clone(), "root", "root-pass-1", true);
        let mut s = Self::in_dir(dir.path(), plugins, tweak);
        s.dir = Some(dir);
        s
    }
}

/// Creates the admin `root` (password `root-pass-1`) offline with the real binary, as an
/// operator would: `kino-server --data DATA [EXTRA] user add root --admin --password-stdin`.
pub fn bin_add_root(bin: &Path, data: &Path, extra: &[&str]) {
    let mut child = Command::new(bin)
        .arg("--data")
        .arg(data)
        .args(["--argon2-memory-kib", "64", "--argon2-iterations", "1"])
        .args(extra)
        .args(["user", "add", "root", "--admin", "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    std::io::Write::write_all(&mut stdin, b"root-pass-1\n").unwrap();
    drop(stdin);
    assert!(child.wait().unwrap().success());
}

/// The real `kino-server` binary, started as a child process.
pub struct BinServer {
    /// Where clients connect.
    pub addr: SocketAddr,
    /// The process.
    pub child: Child,
}

impl BinServer {
    /// Starts `bin` with `--listen 127.0.0.1:0 --data DATA` plus `extra`, with cheap argon2, and
    /// reads the bound address from the first line of its standard output. Its log is shown
    /// when `KINO_TEST_SERVER_LOG` is set. The web page is off unless `extra` (or a `--config`
    /// file) asks for it, so parallel tests do not race for its default port.
    pub fn start(bin: &Path, data: &Path, extra: &[&str]) -> Self {
        let web_chosen = extra
            .iter()
            .any(|a| a.starts_with("--http-listen") || a.starts_with("--config"));
        let web_off: &[&str] = if web_chosen {
            &[]
        } else {
            &["--http-listen", "off"]
        };
        let mut child = Command::new(bin)
            .args(["--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .args(["--argon2-memory-kib", "64", "--argon2-iterations", "1"])
            .args(web_off)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(match std::env::var_os("KINO_TEST_SERVER_LOG") {
                Some(_) => Stdio::inherit(),
                None => Stdio::null(),
            })
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("bad first line {line:?}"));
        BinServer { addr, child }
    }

    /// A new connection.
    pub fn client(&self) -> Client {
        Client::connect(self.addr).unwrap()
    }
}

impl Drop for BinServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
