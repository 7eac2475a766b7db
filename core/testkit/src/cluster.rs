//! `KINO_TEST_CLUSTER=1`: every [`crate::TestServer`] becomes a cluster, so the ordinary
//! end-to-end suites run through one: two servers in this process on one PostgreSQL database
//! (set `KINO_TEST_DATABASE=postgres` too) and one S3 bucket of their own, behind a real HAProxy
//! running `deploy/haproxy.cfg`. The test's clients connect to the balancer; which node serves a
//! connection is HAProxy's choice (`leastconn`), so sessions, files and counters must hold across
//! both. Suites that read the SQLite file directly cannot run this way (`.ci/run` lists the ones
//! that do).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;

use kino_api::Plugin;
use kino_server::{Config, Core, ShutdownHandle};
use tempfile::TempDir;

use crate::balancer::Balancer;
use crate::s3::{S3Server, S3_KEY_ID, S3_SECRET};

/// Whether `KINO_TEST_CLUSTER=1` asks for clusters.
pub fn wanted() -> bool {
    std::env::var("KINO_TEST_CLUSTER").is_ok_and(|v| v == "1")
}

/// The S3 server every cluster of this test binary uses (a bucket each), started on first use.
fn s3() -> &'static S3Server {
    static S3: OnceLock<S3Server> = OnceLock::new();
    S3.get_or_init(|| {
        S3Server::start().unwrap_or_else(|| panic!("KINO_TEST_CLUSTER needs s3s-fs (.ci/run)"))
    })
}

/// The bucket of a data directory, so a restart on it finds its files again.
fn bucket_for(data: &Path) -> String {
    static BUCKETS: Mutex<Vec<std::path::PathBuf>> = Mutex::new(Vec::new());
    let mut known = BUCKETS.lock().unwrap();
    let n = match known.iter().position(|d| d == data) {
        Some(n) => n,
        None => {
            known.push(data.to_path_buf());
            known.len() - 1
        }
    };
    let name = format!("kino-{n}");
    std::fs::create_dir_all(s3().root.path().join(&name)).unwrap();
    format!("s3://{name}?endpoint=http://{}&region=us-east-1", s3().addr)
}

/// The second node and the balancer of a cluster-mode test server.
pub struct Extra {
    /// The balancer clients reach the nodes through.
    pub balancer: Balancer,
    shutdown: ShutdownHandle,
    thread: Option<JoinHandle<()>>,
    _dir: TempDir,
}

impl Extra {
    /// Stops the second node.
    pub fn stop(&mut self) {
        self.shutdown.shutdown();
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

/// Turns the first node's `config` into a cluster node's (shared bucket, PROXY headers from the
/// balancer) and starts the second node beside `first`; returns the balancer's address and the
/// parts to keep.
pub fn start(
    config: &mut Config,
    plugins: &[Arc<dyn Plugin>],
    first: SocketAddr,
) -> (SocketAddr, Extra) {
    let haproxy = crate::engines::find("haproxy")
        .unwrap_or_else(|| panic!("KINO_TEST_CLUSTER needs haproxy (.ci/run)"));
    let dir = tempfile::tempdir().unwrap();
    let mut second = config.clone();
    second.data = dir.path().to_path_buf();
    second.listen = "127.0.0.1:0".into();
    let server = Core::open(second, plugins.to_vec())
        .unwrap()
        .listen()
        .unwrap();
    let addr = server.local_addr();
    let shutdown = server.shutdown_handle();
    let thread = std::thread::spawn(move || server.run().unwrap());
    let balancer = Balancer::start(&haproxy, first, addr);
    let front = balancer.addr;
    (
        front,
        Extra {
            balancer,
            shutdown,
            thread: Some(thread),
            _dir: dir,
        },
    )
}

/// What both nodes share besides the database: the data directory's bucket, and PROXY
/// headers from the local balancer.
pub fn configure(config: &mut Config) {
    config.blobs = Some(bucket_for(&config.data));
    config.s3_credentials = (Some(S3_KEY_ID.into()), Some(S3_SECRET.into()));
    config.limits.proxy_protocol_from = vec!["127.0.0.1/32".parse().unwrap()];
}
