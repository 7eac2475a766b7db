//! A plugin's `requires` is checked at start-up: movies without vip does not start, and says
//! which plugin needs which service; with vip it starts and `movies.lookup` answers other
//! plugins but not the wire.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use kino_api::{ErrorCode, Plugin};
use kino_server::{Config, Core};
use kino_testkit::TestServer;
use serde_json::json;

#[test]
fn a_server_with_movies_but_not_vip_refuses_to_start_naming_both() {
    let dir = tempfile::tempdir().unwrap();
    let plugins: Vec<Arc<dyn Plugin>> = vec![
        Arc::new(kino_auth::Auth::new()),
        Arc::new(kino_movies::Movies),
    ];
    let config = kino_testkit::fast_auth(Config::new(dir.path()));
    let Err(err) = Core::open(config, plugins) else {
        panic!("a server without the vip plugin started");
    };
    let message = err.to_string();
    assert!(message.contains("plugin `movies`"), "{message}");
    assert!(message.contains("`vip.status`"), "{message}");
    // Refused before any migration: the movies tables were not created.
    let db = rusqlite::Connection::open(dir.path().join("kino.db")).unwrap();
    let tables: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE name = 'movies'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(tables, 0, "movies migrations ran on a refused start");
}

#[test]
fn with_vip_it_starts_and_lookup_is_internal() {
    let server = TestServer::with(
        vec![
            kino_auth::plugin(),
            Arc::new(kino_vip::Vip),
            Arc::new(kino_movies::Movies),
        ],
        |c| c,
    );
    let mut c = kino_testkit::user_client(&server, "ann");
    let err = c.call("movies.lookup", json!({"movie_id": 1})).unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::UnknownCommand), "{err}");
    assert_eq!(c.call("ping", json!({})).unwrap(), json!("pong"));
}
