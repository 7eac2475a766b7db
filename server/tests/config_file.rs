//! The real binary reads a core limit from `--config` (either spelling of the key) and lets the
//! same flag on the command line override it.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use kino_api::serde_json::json;
use kino_testkit::BinServer;

const BIN: &str = env!("CARGO_BIN_EXE_kino-server");

/// How many connections from this address are served `ping` before one is refused.
fn served(server: &BinServer) -> usize {
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut c = server.client();
        if c.call("ping", json!({})).is_err() {
            break;
        }
        held.push(c);
    }
    held.len()
}

#[test]
fn a_limit_comes_from_the_file_and_the_flag_overrides_it() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("kino.toml");
    std::fs::write(&cfg, "max_connections_per_ip = 1\nidle-timeout = 5\n").unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let cfg = cfg.to_str().unwrap();

    let from_file = BinServer::start(Path::new(BIN), &data, &["--config", cfg]);
    assert_eq!(served(&from_file), 1);
    drop(from_file);

    let overridden = BinServer::start(
        Path::new(BIN),
        &data,
        &["--config", cfg, "--max-connections-per-ip", "3"],
    );
    assert_eq!(served(&overridden), 3);
}
