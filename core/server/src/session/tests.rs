//! The session store against a real SQLite file.

use super::*;

fn who(id: i64) -> Identity {
    Identity {
        user_id: id,
        name: format!("u{id}"),
        role: Role::User,
    }
}

fn store(dir: &std::path::Path, ttl_s: u64) -> SessionStore {
    let url = DbUrl::default_for(dir);
    let mut db = AnyDb::open(&url).unwrap();
    if let AnyDb::Sqlite(d) = &mut db {
        crate::store::migrate::apply(d, OWNER, MIGRATIONS).unwrap();
    }
    SessionStore::open(&url, Duration::from_secs(ttl_s)).unwrap()
}

#[test]
fn tokens_expire_after_idle_ttl_and_use_refreshes_them() {
    let dir = tempfile::tempdir().unwrap();
    let table = store(dir.path(), 10);
    let t0 = 1_000_000;
    let a = table.begin(who(1), t0);
    assert_eq!(a.len(), 32);
    assert!(table.resolve(&a, t0 + 8_000).is_some());
    table.flush(t0 + 8_000);
    assert!(table.resolve(&a, t0 + 16_000).is_some());
    table.flush(t0 + 16_000);
    assert!(table.resolve(&a, t0 + 27_000).is_none());
    table.flush(t0 + 27_000);
    assert!(table.is_empty());
}

#[test]
fn only_a_hash_of_the_token_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let table = store(dir.path(), 10);
    let a = table.begin(who(1), now_ms());
    let conn = rusqlite::Connection::open(dir.path().join("kino.db")).unwrap();
    let stored: String = conn
        .query_row("SELECT token_hash FROM kino_sessions", [], |r| r.get(0))
        .unwrap();
    assert_ne!(stored, a);
    assert_eq!(stored, hash(&a));
}

#[test]
fn ending_a_user_ends_all_their_sessions_only() {
    let dir = tempfile::tempdir().unwrap();
    let table = store(dir.path(), 10);
    let now = now_ms();
    let a = table.begin(who(1), now);
    let b = table.begin(who(1), now);
    let c = table.begin(who(2), now);
    assert_ne!(a, b);
    assert_eq!(table.end_user(1), 2);
    assert!(table.resolve(&a, now).is_none());
    assert!(table.resolve(&c, now).is_some());
}

#[test]
fn ending_a_user_but_one_keeps_that_one() {
    let dir = tempfile::tempdir().unwrap();
    let table = store(dir.path(), 10);
    let now = now_ms();
    let a = table.begin(who(1), now);
    let b = table.begin(who(1), now);
    let c = table.begin(who(2), now);
    assert_eq!(table.end_user_except(1, &a), 1);
    assert!(table.resolve(&a, now).is_some());
    assert!(table.resolve(&b, now).is_none());
    assert!(table.resolve(&c, now).is_some());
}

#[test]
fn a_session_ended_through_another_store_is_refused_after_the_recheck() {
    let dir = tempfile::tempdir().unwrap();
    let node_a = store(dir.path(), 60);
    let node_b =
        SessionStore::open(&DbUrl::default_for(dir.path()), Duration::from_secs(60)).unwrap();
    let now = now_ms();
    let a = node_a.begin(who(1), now);
    assert!(node_b.resolve(&a, now).is_some());
    node_a.end(&a);
    let later = now + RECHECK.as_millis() as i64;
    assert!(node_b.resolve(&a, later).is_none());
}
