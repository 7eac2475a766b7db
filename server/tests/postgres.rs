//! The PostgreSQL backend (`--database postgres://...`) on a real PostgreSQL: the testkit starts
//! a throwaway cluster (initdb + pg_ctl in a temporary folder, see `kino_testkit::pg`). The
//! end-to-end flows also run on it: `KINO_TEST_DATABASE=postgres cargo test -p kino-server
//! --test media_flow` (and the other suites `.ci/run` lists). Without PostgreSQL installed these
//! tests say so loudly and skip; under CI they fail.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use kino_api::serde_json::json;
use kino_api::{ErrorCode, Plugin};
use kino_server::{Config, Core};
use kino_testkit::{fast_auth, pg, TestServer};

fn all_plugins() -> Vec<Arc<dyn Plugin>> {
    vec![
        Arc::new(kino_auth::Auth::new()),
        Arc::new(kino_notices::Notices),
        Arc::new(kino_vip::Vip),
        Arc::new(kino_movies::Movies),
        Arc::new(kino_legacy::Legacy),
        Arc::new(kino_melody::Melody),
    ]
}

fn on(database: &str, data: &std::path::Path) -> Config {
    let mut c = fast_auth(Config::new(data));
    c.database = Some(database.to_owned());
    c
}

fn pg_versions(url: &str) -> BTreeMap<String, i64> {
    let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
    c.query("SELECT plugin, version FROM schema_versions", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

fn pg_tables(url: &str) -> Vec<String> {
    let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
    let mut t: Vec<String> = c
        .query(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    t.sort();
    t
}

/// Every plugin's migrations run unchanged on both backends, to the same versions and tables,
/// and a second start finds nothing left to do.
#[test]
fn every_plugins_migrations_run_on_sqlite_and_postgres() {
    let Some(cluster) = pg::cluster() else { return };
    let mut expected: BTreeMap<String, i64> = all_plugins()
        .iter()
        .map(|p| (p.name().to_owned(), p.migrations().len() as i64))
        .filter(|(_, n)| *n > 0)
        .collect();
    // Core's own table (sessions), migrated like a plugin's.
    expected.insert(
        kino_server::session::OWNER.plugin.into(),
        kino_server::session::MIGRATIONS.len() as i64,
    );

    let dir = tempfile::tempdir().unwrap();
    drop(Core::open(fast_auth(Config::new(dir.path())), all_plugins()).unwrap());
    let lite = rusqlite::Connection::open(dir.path().join("kino.db")).unwrap();
    let lite_versions: BTreeMap<String, i64> = lite
        .prepare("SELECT plugin, version FROM schema_versions")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut lite_tables: Vec<String> = lite
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    lite_tables.sort();
    assert_eq!(lite_versions, expected);

    let url = cluster.new_database();
    let pg_dir = tempfile::tempdir().unwrap();
    drop(Core::open(on(&url, pg_dir.path()), all_plugins()).unwrap());
    assert_eq!(pg_versions(&url), expected);
    assert_eq!(pg_tables(&url), lite_tables);
    // Restarting migrates nothing and refuses nothing.
    drop(Core::open(on(&url, pg_dir.path()), all_plugins()).unwrap());
    assert_eq!(pg_versions(&url), expected);
}

/// Two nodes starting at once on one empty database: the advisory lock makes one migrate and
/// the other find the work done (without it, the second `CREATE TABLE` fails its start).
#[test]
fn two_nodes_starting_at_once_migrate_once() {
    let Some(cluster) = pg::cluster() else { return };
    for _ in 0..3 {
        let url = cluster.new_database();
        let barrier = Arc::new(Barrier::new(2));
        let nodes: Vec<_> = (0..2)
            .map(|_| {
                let (url, barrier) = (url.clone(), Arc::clone(&barrier));
                std::thread::spawn(move || {
                    let dir = tempfile::tempdir().unwrap();
                    barrier.wait();
                    Core::open(on(&url, dir.path()), all_plugins()).map(drop)
                })
            })
            .collect();
        for n in nodes {
            n.join().unwrap().expect("both nodes start");
        }
        let movies = kino_movies::Movies.migrations().len() as i64;
        assert_eq!(pg_versions(&url)["movies"], movies);
    }
}

/// The socket form of the URL (`?host=DIR`) serves, and two servers on one database agree: an
/// account made on one logs in on the other, and a name registered on both at once exists once.
#[test]
fn two_servers_on_one_database_share_accounts_over_a_socket_url() {
    let Some(cluster) = pg::cluster() else { return };
    let tcp = cluster.new_database();
    let db = tcp.rsplit('/').next().unwrap().to_owned();
    let socket = cluster.socket_url(&db);
    let a = TestServer::with(kino_testkit::with_auth(Vec::new()), |mut c| {
        c.database = Some(socket.clone());
        c
    });
    let b = TestServer::with(kino_testkit::with_auth(Vec::new()), |mut c| {
        c.database = Some(tcp.clone());
        c
    });
    let mut ca = a.client();
    ca.call(
        "auth.register",
        json!({"name": "ann", "password": "pw-of-ann"}),
    )
    .unwrap();
    let mut cb = b.client();
    let login = cb
        .call(
            "auth.login",
            json!({"name": "ANN", "password": "pw-of-ann"}),
        )
        .unwrap();
    assert_eq!(login["name"], json!("ann"));

    for round in 0..5 {
        let name = format!("race{round}");
        let barrier = Arc::new(Barrier::new(2));
        let racers: Vec<_> = [a.addr, b.addr]
            .into_iter()
            .map(|addr| {
                let (name, barrier) = (name.clone(), Arc::clone(&barrier));
                std::thread::spawn(move || {
                    let mut c = kino_client::Client::connect(addr).unwrap();
                    barrier.wait();
                    c.call(
                        "auth.register",
                        json!({"name": name, "password": "pw-of-race"}),
                    )
                })
            })
            .collect();
        let results: Vec<_> = racers.into_iter().map(|r| r.join().unwrap()).collect();
        let ok = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(ok, 1, "round {round}: {results:?}");
        let refused = results.iter().find_map(|r| r.as_ref().err()).unwrap();
        assert_eq!(refused.code(), Some(ErrorCode::Conflict), "{refused:?}");
    }
}

/// Connections PostgreSQL drops (a restart, an admin's `pg_terminate_backend`) answer
/// `unavailable`, never an internal error, and the server reconnects by itself.
#[test]
fn lost_connections_answer_unavailable_and_reconnect() {
    let Some(cluster) = pg::cluster() else { return };
    let url = cluster.new_database();
    let db = url.rsplit('/').next().unwrap().to_owned();
    let server = TestServer::with(
        kino_testkit::with_auth(vec![Arc::new(kino_notices::Notices)]),
        |mut c| {
            c.database = Some(url.clone());
            c
        },
    );
    let mut c = server.client();
    c.call(
        "auth.register",
        json!({"name": "bob", "password": "pw-of-bob"}),
    )
    .unwrap();
    c.call(
        "auth.login",
        json!({"name": "bob", "password": "pw-of-bob"}),
    )
    .unwrap();

    let mut admin = postgres::Client::connect(&cluster.url("postgres"), postgres::NoTls).unwrap();
    let killed: i64 = admin
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1",
            &[&db],
        )
        .unwrap()
        .get(0);
    assert!(
        killed >= 2,
        "the loop's and the workers' connections: {killed}"
    );

    let deadline = Instant::now() + Duration::from_secs(10);
    let mut in_a_row = 0;
    let mut n = 0;
    while in_a_row < 8 {
        assert!(Instant::now() < deadline, "no recovery");
        n += 1;
        let r = c.call(
            "auth.register",
            json!({"name": format!("after{n}"), "password": "pw-of-after"}),
        );
        match r {
            Ok(_) => in_a_row += 1,
            Err(e) => {
                assert_eq!(e.code(), Some(ErrorCode::Unavailable), "{e:?}");
                in_a_row = 0;
            }
        }
    }
    // A read on a worker none of those writes reached recovers too: at most an `unavailable`
    // while that worker reconnects (its back-off is 1 s), never another error.
    loop {
        match c.call("notices.list", json!({})) {
            Ok(_) => break,
            Err(e) => assert_eq!(e.code(), Some(ErrorCode::Unavailable), "{e:?}"),
        }
        assert!(Instant::now() < deadline, "reads did not recover");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A write transaction that loses a deadlock to another client runs again by itself (the
/// plugin's closure twice) and commits, instead of answering `busy`.
#[test]
fn a_transaction_that_loses_a_deadlock_runs_again() {
    use kino_api::{params, Database, DbError};
    use kino_server::store::pg::PgDb;
    let Some(cluster) = pg::cluster() else { return };
    let url = cluster.new_database();
    let mut other = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    other
        .batch_execute(
            "CREATE TABLE t (id BIGINT PRIMARY KEY, v BIGINT); INSERT INTO t VALUES (1, 0), (2, 0)",
        )
        .unwrap();
    let (row1_held, wait_row1) = std::sync::mpsc::channel::<()>();
    let (row2_held, wait_row2) = std::sync::mpsc::channel::<()>();
    let rival = std::thread::spawn(move || {
        // PostgreSQL rolls back the transaction of the backend whose deadlock check finds the
        // cycle; with the rival's check 10 s away, that is the Kino one (1 s by default).
        other.batch_execute("SET deadlock_timeout = '10s'").unwrap();
        wait_row1.recv().unwrap();
        let mut tx = other.transaction().unwrap();
        tx.execute("UPDATE t SET v = v + 1 WHERE id = 2", &[])
            .unwrap();
        row2_held.send(()).unwrap();
        tx.execute("UPDATE t SET v = v + 1 WHERE id = 1", &[])
            .unwrap();
        tx.commit().unwrap();
    });
    let mut db = PgDb::open(&url).unwrap();
    let db: &mut dyn Database = &mut db;
    let mut runs = 0;
    let result: Result<(), DbError> = db.transaction(|tx| {
        runs += 1;
        tx.execute("UPDATE t SET v = v + 1 WHERE id = ?", params![1])?;
        if runs == 1 {
            row1_held.send(()).unwrap();
            wait_row2.recv().unwrap();
        }
        tx.execute("UPDATE t SET v = v + 1 WHERE id = ?", params![2])?;
        Ok(())
    });
    rival.join().unwrap();
    assert_eq!(result, Ok(()));
    assert!(runs >= 2, "the deadlock victim runs again: {runs}");
    let rows = db.query("SELECT v FROM t ORDER BY id", params![]).unwrap();
    let v: Vec<i64> = rows.iter().map(|r| r.i64(0).unwrap()).collect();
    assert_eq!(v, [2, 2]);
}
