//! Kino behind a real HAProxy running the shipped deploy/haproxy.cfg: the health check speaks
//! our framing, the PROXY header carries each client's own address to the node (so the
//! per-address cap counts clients, not the balancer), nobody else can claim an address that
//! way, and a draining node (SIGTERM) finishes its in-flight work while new clients go to the
//! other.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use kino_api::serde_json::json;
use kino_client::Client;
use kino_testkit::balancer::{client_from, wait_until, Balancer};
use kino_testkit::{engines, BinServer};
use md5::Digest;

const BIN: &str = env!("CARGO_BIN_EXE_kino-server");

fn node(dir: &tempfile::TempDir, cap: &str) -> BinServer {
    BinServer::start(
        Path::new(BIN),
        dir.path(),
        &[
            "--proxy-protocol-from",
            "127.0.0.1/32",
            "--max-connections-per-ip",
            cap,
        ],
    )
}

/// A client straight to one node, from an address the node takes no PROXY header from.
fn direct(addr: SocketAddr) -> Client {
    client_from(addr, [127, 0, 0, 5]).unwrap()
}

/// Registers `name` on one node directly.
fn register(addr: SocketAddr, name: &str) {
    let mut c = direct(addr);
    c.call(
        "auth.register",
        json!({"name": name, "password": "pw-of-user"}),
    )
    .unwrap();
}

/// Whether the node this client reached knows `name` (each node here has its own database).
fn reached_node_with(c: &mut Client, name: &str) -> bool {
    c.call(
        "auth.login",
        json!({"name": name, "password": "pw-of-user"}),
    )
    .is_ok()
}

#[test]
fn the_cap_counts_the_clients_behind_the_balancer_not_the_balancer() {
    let Some(haproxy) = engines::find("haproxy") else {
        return;
    };
    let d1 = tempfile::tempdir().unwrap();
    // Both of the file's server lines name the one node, so where clients land is certain.
    let a = node(&d1, "2");
    let lb = Balancer::start(&haproxy, a.addr, a.addr);
    wait_until("the node up", || lb.client_from([127, 0, 9, 1]).is_ok());
    // Six clients from six addresses: far more than 2 per address reach the nodes through one
    // balancer address, so the balancer itself is not capped.
    let many: Vec<Client> = (0..6)
        .map(|i| lb.client_from([127, 0, 10, 1 + i]).unwrap())
        .collect();
    // One address: past the cap of 2, refused.
    let mut same = Vec::new();
    let mut refused = 0;
    for _ in 0..3 {
        match lb.client_from([127, 0, 11, 1]) {
            Ok(c) => same.push(c),
            Err(e) => {
                assert!(e.contains("too many connections"), "{e}");
                refused += 1;
            }
        }
    }
    assert_eq!((same.len(), refused), (2, 1));
    drop(many);
}

#[test]
fn a_proxy_header_from_anyone_else_is_an_ordinary_bad_frame() {
    let dir = tempfile::tempdir().unwrap();
    let server = BinServer::start(
        Path::new(BIN),
        dir.path(),
        &["--proxy-protocol-from", "127.0.0.99/32"],
    );
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"PROXY TCP4 203.0.113.7 127.0.0.1 5000 1688\r\n")
        .unwrap();
    let mut reply = Vec::new();
    let _ = s.read_to_end(&mut reply);
    let text = String::from_utf8_lossy(&reply);
    assert!(
        text.contains("too_large") || text.contains("bad_request"),
        "{text}"
    );
    // And from a trusted address, a malformed header closes that connection only.
    let dir2 = tempfile::tempdir().unwrap();
    let trusted = BinServer::start(
        Path::new(BIN),
        dir2.path(),
        &["--proxy-protocol-from", "127.0.0.1/32"],
    );
    let mut bad = TcpStream::connect(trusted.addr).unwrap();
    bad.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    bad.write_all(b"\x0f\0\0\0{\"type\":\"ping\"}").unwrap();
    let mut got = Vec::new();
    assert_eq!(
        bad.read_to_end(&mut got).unwrap(),
        0,
        "closed without a reply"
    );
    let mut fine = TcpStream::connect(trusted.addr).unwrap();
    fine.write_all(b"PROXY TCP4 198.51.100.4 127.0.0.1 4000 1688\r\n\x0f\0\0\0{\"type\":\"ping\"}")
        .unwrap();
    let mut c = Client::from_stream(fine).unwrap();
    let pong = c.recv().unwrap();
    assert_eq!(pong.data, Some(json!("pong")));
}

/// Creates the admin `root` offline, as an operator would.
fn add_root(data: &Path) {
    kino_testkit::bin_add_root(Path::new(BIN), data, &[]);
}

#[test]
fn a_draining_node_finishes_its_work_and_gets_no_new_clients() {
    let Some(haproxy) = engines::find("haproxy") else {
        return;
    };
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    add_root(d1.path());
    let mut a = BinServer::start(
        Path::new(BIN),
        d1.path(),
        &[
            "--proxy-protocol-from",
            "127.0.0.1/32",
            "--free-download-wait",
            "10",
            "--drain-timeout",
            "30",
        ],
    );
    let b = node(&d2, "64");
    register(b.addr, "onlyonb");
    let lb = Balancer::start(&haproxy, a.addr, b.addr);
    wait_until("both nodes in service", || {
        let hits: Vec<bool> = (0..6)
            .filter_map(|i| lb.client_from([127, 0, 12, 1 + i]).ok())
            .map(|mut c| reached_node_with(&mut c, "onlyonb"))
            .collect();
        hits.len() == 6 && hits.contains(&true) && hits.contains(&false)
    });

    // In flight on node1: a free download held for the 10 s wait of a non-VIP viewer (long enough
    // for the eight clients below to log in through the balancer on a loaded machine).
    let movie: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let mut admin = direct(a.addr);
    admin
        .call(
            "auth.login",
            json!({"name": "root", "password": "root-pass-1"}),
        )
        .unwrap();
    let md5 = format!("{:x}", md5::Md5::digest(&movie));
    let up = admin
        .upload(
            "movies.upload",
            json!({"name": "held.mp4", "md5": md5, "free": true}),
            &mut &movie[..],
            movie.len() as u64,
            &mut |_| {},
        )
        .unwrap();
    register(a.addr, "viewer");
    let mut viewer = direct(a.addr);
    viewer
        .call(
            "auth.login",
            json!({"name": "viewer", "password": "pw-of-user"}),
        )
        .unwrap();
    viewer
        .send(&kino_testkit::request(
            "movies.download",
            json!({"movie_id": up["id"]}),
        ))
        .unwrap();
    viewer.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));

    let kill = Command::new("kill")
        .args(["-TERM", &a.child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    for i in 0..8 {
        let mut c = lb.client_from([127, 0, 14, 1 + i]).unwrap();
        assert!(
            reached_node_with(&mut c, "onlyonb"),
            "client {i} reached the draining node"
        );
    }
    assert!(
        a.child.try_wait().unwrap().is_none(),
        "node1 still draining while new clients went to node2"
    );
    let reply = kino_testkit::into_data(viewer.recv().unwrap()).unwrap();
    let mut got = Vec::new();
    viewer
        .recv_payload(reply["file_size"].as_u64().unwrap(), &mut got, &mut |_| {})
        .unwrap();
    assert!(got == movie, "the held download finished whole");
    wait_until("node1 stopped after its work", || {
        a.child.try_wait().unwrap().is_some()
    });
}
