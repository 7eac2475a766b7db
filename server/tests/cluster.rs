//! The cluster of the scale-out issue, for real: two `kino-server` processes on one PostgreSQL
//! database and one S3 bucket (`s3s-fs`), behind HAProxy running `deploy/haproxy.cfg`. Clients
//! go through the balancer (or straight to one node where a test must pick the node); a session
//! made on one node works on the other; a movie uploaded through one node downloads
//! byte-identical through the other; a node killed (SIGKILL) in the middle of a download or an
//! upload leaves the client to resume on the other node from where it stopped.
//!
//! Needs PostgreSQL, HAProxy and `s3s-fs` (`.ci/run` installs them); without them the tests say
//! so loudly and skip, except under `KINO_REQUIRE_ENGINES` (CI), where they fail.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use kino_api::serde_json::{json, Value};
use kino_client::Client;
use kino_testkit::balancer::{client_from, wait_until, Balancer};
use kino_testkit::{engines, pg, request, BinServer};
use kino_testkit::{S3Server, S3_KEY_ID, S3_SECRET};
use md5::{Digest, Md5};

const BIN: &str = env!("CARGO_BIN_EXE_kino-server");

/// Two nodes, what they share, and the balancer in front.
struct Cluster {
    nodes: Vec<BinServer>,
    lb: Balancer,
    _dirs: Vec<tempfile::TempDir>,
    _s3: S3Server,
}

/// One node's config file: the shared database and bucket (credentials in the file, never on
/// a command line), PROXY headers from the balancer, no free-download wait, and a short upload
/// lease, so a killed node's claim on an upload lapses in 2 s rather than 10.
fn config_file(dir: &Path, database: &str, s3: &S3Server) -> PathBuf {
    let path = dir.join("kino.toml");
    std::fs::write(
        &path,
        format!(
            "database = \"{database}\"\nblobs = \"{}\"\naws-access-key-id = \"{S3_KEY_ID}\"\n\
             aws-secret-access-key = \"{S3_SECRET}\"\nproxy-protocol-from = [\"127.0.0.1/32\"]\n\
             free-download-wait = 0\nupload-lease = 2\n",
            s3.url()
        ),
    )
    .unwrap();
    path
}

fn start() -> Option<Cluster> {
    let haproxy = engines::find("haproxy")?;
    let database = pg::cluster()?.new_database();
    let s3 = S3Server::start()?;
    let dirs: Vec<tempfile::TempDir> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let configs: Vec<PathBuf> = dirs
        .iter()
        .map(|d| config_file(d.path(), &database, &s3))
        .collect();
    add_root(dirs[0].path(), &configs[0]);
    let nodes: Vec<BinServer> = dirs
        .iter()
        .zip(&configs)
        .map(|(d, c)| {
            BinServer::start(Path::new(BIN), d.path(), &["--config", c.to_str().unwrap()])
        })
        .collect();
    let lb = Balancer::start(&haproxy, nodes[0].addr, nodes[1].addr);
    wait_until("both nodes in service", || {
        (0..4).all(|i| lb.client_from([127, 0, 20, 1 + i]).is_ok())
    });
    Some(Cluster {
        nodes,
        lb,
        _dirs: dirs,
        _s3: s3,
    })
}

fn add_root(data: &Path, config: &Path) {
    let config = config.to_str().unwrap();
    kino_testkit::bin_add_root(Path::new(BIN), data, &["--config", config]);
}

/// A client straight to node `n` (from an address it takes no PROXY header from).
fn direct(c: &Cluster, n: usize) -> Client {
    client_from(c.nodes[n].addr, [127, 0, 0, 5]).unwrap()
}

fn login(c: &mut Client, name: &str, password: &str) -> String {
    let reply = c
        .call("auth.login", json!({"name": name, "password": password}))
        .unwrap();
    reply["session"].as_str().unwrap().to_owned()
}

fn content(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).max(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

fn md5_hex(bytes: &[u8]) -> String {
    format!("{:x}", Md5::digest(bytes))
}

fn upload(c: &mut Client, name: &str, bytes: &[u8]) -> i64 {
    let reply = c
        .upload(
            "movies.upload",
            json!({"name": name, "md5": md5_hex(bytes), "free": true}),
            &mut &bytes[..],
            bytes.len() as u64,
            &mut |_| {},
        )
        .unwrap();
    reply["id"].as_i64().unwrap()
}

/// Downloads from `offset` with `session`: the reply and the payload.
fn download(c: &mut Client, session: &str, id: i64, offset: u64) -> (Value, Vec<u8>) {
    c.send(&request(
        "movies.download",
        json!({"movie_id": id, "offset": offset, "session": session}),
    ))
    .unwrap();
    c.flush().unwrap();
    let reply = kino_testkit::into_data(c.recv().unwrap()).unwrap();
    let mut bytes = Vec::new();
    c.recv_payload(
        reply["file_size"].as_u64().unwrap(),
        &mut bytes,
        &mut |_| {},
    )
    .unwrap();
    (reply, bytes)
}

fn kill(node: &mut BinServer) {
    node.child.kill().unwrap();
    node.child.wait().unwrap();
}

#[test]
fn sessions_and_files_are_shared_by_the_nodes_behind_the_balancer() {
    let Some(c) = start() else { return };
    let mut through = c.lb.client_from([127, 0, 21, 1]).unwrap();
    let token = login(&mut through, "root", "root-pass-1");
    // The session made through whichever node the balancer chose works on both.
    for n in 0..2 {
        let who = direct(&c, n)
            .call("whoami", json!({"session": token}))
            .unwrap();
        assert_eq!(who["name"], json!("root"), "node {n}");
    }
    let movie = content(3 << 20, 7);
    let mut on_a = direct(&c, 0);
    login(&mut on_a, "root", "root-pass-1");
    let id = upload(&mut on_a, "shared.mp4", &movie);
    let (_, got) = download(&mut direct(&c, 1), &token, id, 0);
    assert!(
        got == movie,
        "uploaded through node 1, downloaded through node 2"
    );
    // A name registered on both nodes at once exists once.
    let tries: Vec<_> = (0..2)
        .map(|n| {
            let mut cl = direct(&c, n);
            std::thread::spawn(move || {
                cl.call(
                    "auth.register",
                    json!({"name": "twin", "password": "pw-of-twin"}),
                )
                .is_ok()
            })
        })
        .collect();
    let ok: Vec<bool> = tries.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(ok.iter().filter(|o| **o).count(), 1, "{ok:?}");
}

#[test]
fn a_download_cut_by_a_killed_node_resumes_on_the_other() {
    let Some(mut c) = start() else { return };
    let movie = content(8 << 20, 11);
    let mut admin = direct(&c, 1);
    let token = login(&mut admin, "root", "root-pass-1");
    let id = upload(&mut admin, "cut.mp4", &movie);

    // Half the movie from node 1, then node 1 dies.
    let mut first = direct(&c, 0);
    first
        .send(&request(
            "movies.download",
            json!({"movie_id": id, "session": token}),
        ))
        .unwrap();
    first.flush().unwrap();
    let reply = kino_testkit::into_data(first.recv().unwrap()).unwrap();
    assert_eq!(reply["file_size"], json!(movie.len()));
    let half = movie.len() / 2;
    let mut got = Vec::with_capacity(movie.len());
    first
        .recv_payload(half as u64, &mut got, &mut |_| {})
        .unwrap();
    kill(&mut c.nodes[0]);

    // The client comes back through the balancer, which now has one node.
    let mut again = c.lb.client_from([127, 0, 22, 1]).unwrap();
    let (rest_reply, rest) = download(&mut again, &token, id, half as u64);
    assert_eq!(rest_reply["offset"], json!(half));
    got.extend_from_slice(&rest);
    assert!(
        got == movie,
        "resumed byte-identical through the other node"
    );
}

#[test]
fn an_upload_cut_by_a_killed_node_resumes_on_the_other() {
    let Some(mut c) = start() else { return };
    let movie = content(12 << 20, 13);
    let md5 = md5_hex(&movie);
    let upload_id = format!("{:032x}", 0x5eed_u128 << 64 | 42);

    let mut first = direct(&c, 0);
    let token = login(&mut first, "root", "root-pass-1");
    first
        .send(&request(
            "movies.upload",
            json!({"name": "moved.mp4", "md5": md5, "free": true,
                   "upload_id": upload_id, "file_size": movie.len()}),
        ))
        .unwrap();
    first.send_raw(&movie[..8 << 20]).unwrap();
    first.flush().unwrap();
    // Wait until node 1 has safely stored part of it, then kill it.
    let mut watcher = direct(&c, 1);
    wait_until("part of the upload stored", || {
        watcher
            .call(
                "movies.upload_status",
                json!({"upload_id": upload_id, "session": token}),
            )
            .is_ok_and(|s| s["stored"].as_u64().unwrap_or(0) > 0)
    });
    kill(&mut c.nodes[0]);

    let mut again = c.lb.client_from([127, 0, 23, 1]).unwrap();
    let status = again
        .call(
            "movies.upload_status",
            json!({"upload_id": upload_id, "session": token}),
        )
        .unwrap();
    let stored = status["stored"].as_u64().unwrap() as usize;
    assert!(stored > 0 && stored < movie.len(), "{status}");
    // The killed node's lease on the upload lapses within `upload-lease`; until then the
    // resume is `busy`, and a client tries again, as the message says.
    let mut done = None;
    wait_until(
        "the resume accepted once the dead node's lease lapsed",
        || {
            let tried = again.upload(
                "movies.upload",
                json!({"name": "moved.mp4", "free": true, "upload_id": upload_id,
                   "offset": stored, "session": token}),
                &mut &movie[stored..],
                (movie.len() - stored) as u64,
                &mut |_| {},
            );
            match tried {
                Ok(movie) => done = Some(movie),
                Err(e) => assert_eq!(e.code(), Some(kino_api::ErrorCode::Busy), "{e}"),
            }
            done.is_some()
        },
    );
    let done = done.unwrap();
    let id = done["id"].as_i64().unwrap();
    let (_, got) = download(&mut again, &token, id, 0);
    assert!(got == movie, "the resumed upload is the whole movie");
}
