//! A real S3 server for tests: `s3s-fs` (installed by `.ci/run` with
//! `cargo install s3s-fs --features binary`) on a free port, serving a temporary folder.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kino_server::Config;
use tempfile::TempDir;

/// The access key id the test server accepts.
pub const S3_KEY_ID: &str = "kinotest";
/// Its secret.
pub const S3_SECRET: &str = "kinotestsecret";
/// The bucket every test server has.
pub const S3_BUCKET: &str = "kino";

/// One `s3s-fs` process; killed on drop.
pub struct S3Server {
    /// Where it listens.
    pub addr: SocketAddr,
    child: Child,
    /// The folder it serves (each bucket a subfolder).
    pub root: TempDir,
}

/// The `s3s-fs` binary: on `PATH`, else in `~/.cargo/bin`; `None` after a loud skip notice
/// (a failure under `KINO_REQUIRE_ENGINES`, see [`crate::engines`]).
fn binary() -> Option<PathBuf> {
    let cargo = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo/bin/s3s-fs"));
    match cargo.filter(|p| p.is_file()) {
        Some(p) => Some(p),
        None => crate::engines::find("s3s-fs"),
    }
}

impl S3Server {
    /// Starts it with the bucket [`S3_BUCKET`] and waits until it accepts connections; `None`
    /// when `s3s-fs` is not installed (the test then skips, loudly).
    pub fn start() -> Option<Self> {
        let binary = binary()?;
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join(S3_BUCKET)).unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(binary)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", S3_KEY_ID, "--secret-key", S3_SECRET])
            .arg(root.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(addr).is_err() {
            assert!(Instant::now() < deadline, "s3s-fs did not start on {addr}");
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(S3Server { addr, child, root })
    }

    /// The `--blobs` URL of its bucket.
    pub fn url(&self) -> String {
        format!(
            "s3://{S3_BUCKET}?endpoint=http://{}&region=us-east-1",
            self.addr
        )
    }

    /// `config` storing its blobs in this server's bucket.
    pub fn configure(&self, mut config: Config) -> Config {
        config.blobs = Some(self.url());
        config.s3_credentials = (Some(S3_KEY_ID.into()), Some(S3_SECRET.into()));
        config
    }

    /// The folder holding the bucket's objects (`blobs/<md5>` and so on).
    pub fn bucket_dir(&self) -> PathBuf {
        self.root.path().join(S3_BUCKET)
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
