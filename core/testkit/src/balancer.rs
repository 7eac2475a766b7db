//! A real HAProxy running the shipped `deploy/haproxy.cfg` in front of two addresses, for the
//! balancer and cluster tests. Killed on drop.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kino_client::Client;
use serde_json::json;

/// HAProxy on a free port of 127.0.0.1.
pub struct Balancer {
    /// Where clients connect.
    pub addr: SocketAddr,
    child: Child,
}

/// The shipped configuration.
pub fn config_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/haproxy.cfg")
}

impl Balancer {
    /// Starts `haproxy` (see [`crate::engines::find`]) with nodes `node1` and `node2` (they may
    /// be the same address) and waits until it accepts connections.
    pub fn start(haproxy: &Path, node1: SocketAddr, node2: SocketAddr) -> Self {
        let addr = free_addr();
        let child = Command::new(haproxy)
            .args(["-db", "-f"])
            .arg(config_path())
            .env("KINO_FRONTEND", addr.to_string())
            .env("KINO_NODE1", node1.to_string())
            .env("KINO_NODE2", node2.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let b = Balancer { addr, child };
        wait_until("HAProxy listening", || TcpStream::connect(addr).is_ok());
        b
    }

    /// A client through the balancer from `source`, a loopback address of its own (so each
    /// test client has an address, as real clients do), that answered a `ping`.
    pub fn client_from(&self, source: [u8; 4]) -> Result<Client, String> {
        let mut c = client_from(self.addr, source).map_err(|e| e.to_string())?;
        c.call("ping", json!({})).map_err(|e| e.to_string())?;
        Ok(c)
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client to `to` from the loopback address `source` (127.0.0.0/8 is all ours on Linux).
pub fn client_from(to: SocketAddr, source: [u8; 4]) -> std::io::Result<Client> {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    socket.bind(&SocketAddr::from((source, 0)).into())?;
    socket.connect(&to.into())?;
    let c = Client::from_stream(socket.into()).map_err(std::io::Error::other)?;
    c.set_read_timeout(Some(Duration::from_secs(20)))
        .map_err(std::io::Error::other)?;
    Ok(c)
}

/// A free port of 127.0.0.1 (bound, then released: another process could take it meanwhile,
/// which on a test machine does not happen in practice).
pub fn free_addr() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

/// Polls `ok` every 50 ms for up to 15 s.
pub fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
