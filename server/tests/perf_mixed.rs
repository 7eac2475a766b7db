//! The loop's latency under mixed load, on a real server: the threads that burn CPU run below
//! the loop's scheduling priority (`--pool-nice`), and argon2 hashes pass a gate
//! (`--argon2-max-parallel`, `--argon2-max-queued`) so logins cannot take every core; past
//! its queue a login is refused with `busy`. docs/BENCHMARKS.md "Latency under mixed load".
#![allow(clippy::unwrap_used)]

#[path = "../../plugins/movies/tests/media_support/mod.rs"]
mod media_support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use kino_api::serde_json::{json, Value};
use kino_api::ErrorCode;
use kino_server::priority::this_thread_nice;
use kino_testkit::{request, TestServer};
use media_support::*;

/// Every thread of this process (the test server runs in it): name and nice value, read from
/// `/proc/self/task/TID/stat` (the name is in parentheses; nice is the 19th field).
fn threads() -> Vec<(String, i32)> {
    let mut out = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let Ok(stat) = std::fs::read_to_string(task.unwrap().path().join("stat")) else {
            continue; // the thread ended meanwhile
        };
        let (open, close) = (stat.find('(').unwrap(), stat.rfind(')').unwrap());
        let name = stat[open + 1..close].to_owned();
        let fields: Vec<&str> = stat[close + 2..].split_whitespace().collect();
        // fields[0] is the 3rd field (state), so the 19th (nice) is fields[16].
        out.push((name, fields[16].parse().unwrap()));
    }
    out
}

fn nice_of(prefix: &str) -> Vec<i32> {
    threads()
        .into_iter()
        .filter(|(n, _)| n.starts_with(prefix))
        .map(|(_, nice)| nice)
        .collect()
}

/// The nice values of the threads named `prefix…` once there are `n` of them all at `want`,
/// or as they are after a few seconds. A new thread shows its creator's name and priority for
/// a moment: it names itself, then lowers itself, once it runs.
fn settled(prefix: &str, n: usize, want: i32) -> Vec<i32> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let found = nice_of(prefix);
        if (found.len() >= n && found.iter().all(|&v| v == want)) || Instant::now() > deadline {
            return found;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The pool's workers, an upload's thread and a download's thread each run `--pool-nice`
/// levels below the loop, which keeps its own priority; `--pool-nice 0` leaves them all at it.
/// (Each server is checked while it is the only one running in this test; the other test here
/// starts its own server, whose threads also carry these names, so one test holds a lock.)
#[test]
fn cpu_bound_threads_run_below_the_loop() {
    let _alone = ALONE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let base = this_thread_nice().unwrap();
    let lowered = (base + 7).min(19);
    let server = TestServer::with_admin(plugins(), |mut c| {
        c.limits.pool_nice = 7;
        c.limits.workers = 3;
        c.setting("free-download-wait", json!(0))
    });
    let workers = settled("kino-worker-", 3, lowered);
    assert_eq!(workers, vec![lowered; 3], "the pool's workers");
    // A thread names itself once it runs, so the loop's name may show a moment late.
    assert_eq!(
        settled("kino-loop", 1, base),
        vec![base],
        "the loop keeps its priority"
    );

    // A download nobody reads: its thread waits on the full pipe.
    let movie = content(5, 24 << 20);
    let mut admin = root(&server);
    let id = upload_id(&mut admin, "big.bin", &movie, true);
    let mut reader = root(&server);
    reader
        .send(&request("movies.download", json!({"movie_id": id})))
        .unwrap();
    reader.flush().unwrap();
    // An upload whose bytes stop coming: its thread waits on the empty pipe.
    let mut writer = root(&server);
    let other = content(6, 1 << 20);
    writer
        .send(&request(
            "movies.upload",
            json!({"name": "slow.bin", "md5": md5_hex(&other), "free": true, "file_size": other.len()}),
        ))
        .unwrap();
    writer.send_raw(&other[..4096]).unwrap();
    writer.flush().unwrap();
    // (The first upload's thread may still be on its way out.)
    for (prefix, what) in [("kino-send", "the download"), ("kino-upload", "the upload")] {
        let seen = settled(prefix, 1, lowered);
        assert!(
            !seen.is_empty() && seen.iter().all(|&v| v == lowered),
            "{what}: {seen:?}, not all {lowered}"
        );
    }
    assert_eq!(nice_of("kino-loop"), vec![base], "the loop, still");
    drop((reader, writer, admin, server));

    let same = TestServer::with_admin(plugins(), |mut c| {
        c.limits.pool_nice = 0;
        c.limits.workers = 2;
        c
    });
    assert_eq!(
        settled("kino-worker-", 2, base),
        vec![base; 2],
        "--pool-nice 0"
    );
    drop(same);
}

static ALONE: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn auth_stats(admin: &mut kino_client::Client) -> Value {
    let info = admin.call("server.info", json!({})).unwrap();
    info["plugins"]["auth"].clone()
}

/// Eight clients log in over and over on eight workers (for 1.5 s, and on until the queue bound
/// is pushed past, 30 s at most), with one argon2 hash allowed at a time
/// and two callers allowed to wait: never more than one hash runs (the gate's high-water mark
/// in `server.info`), the excess is refused with `busy` and its message, every other login
/// succeeds, and the refusals cost no throttle failures (each account is refused far more than
/// the five failures its address may have, and is never `rate_limited`). `ping` is answered
/// throughout. With defaults, the gate allows the cores less one, at least one.
#[test]
fn argon2_hashes_pass_a_gate_and_the_excess_is_busy() {
    let _alone = ALONE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    const CLIENTS: usize = 8;
    let server = TestServer::with_admin(plugins(), |mut c| {
        c.limits.workers = CLIENTS;
        c.setting("argon2-memory-kib", json!(4096))
            .setting("argon2-iterations", json!(3))
            .setting("argon2-max-parallel", json!(1))
            .setting("argon2-max-queued", json!(2))
    });
    let mut admin = root(&server);
    for i in 0..CLIENTS {
        admin
            .call(
                "auth.register",
                json!({"name": format!("user{i}"), "password": "pw-of-user"}),
            )
            .unwrap();
    }
    let start = Arc::new(Barrier::new(CLIENTS));
    // Run until the bounds below are pushed past (at least 1.5 s), or give up after 30 s: a
    // fixed window alone is too short on a starved machine.
    let (total_busy, top_busy) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let at_least = Instant::now() + Duration::from_millis(1500);
    let at_most = Instant::now() + Duration::from_secs(30);
    let handles: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let (start, addr) = (Arc::clone(&start), server.addr);
            let (total_busy, top_busy) = (Arc::clone(&total_busy), Arc::clone(&top_busy));
            std::thread::spawn(move || {
                let mut c = guarded(kino_client::Client::connect(addr).unwrap());
                let login = json!({"name": format!("user{i}"), "password": "pw-of-user"});
                let (mut ok, mut busy, mut other) = (0u64, 0u64, Vec::new());
                start.wait();
                let pushed_past = || {
                    total_busy.load(Ordering::Relaxed) > 20 && top_busy.load(Ordering::Relaxed) > 5
                };
                while Instant::now() < at_most && (Instant::now() < at_least || !pushed_past()) {
                    match c.call("auth.login", login.clone()) {
                        Ok(_) => ok += 1,
                        Err(e) if e.code() == Some(ErrorCode::Busy) => {
                            assert!(e.to_string().contains("checking too many passwords"), "{e}");
                            busy += 1;
                            total_busy.fetch_add(1, Ordering::Relaxed);
                            top_busy.fetch_max(busy, Ordering::Relaxed);
                            std::thread::sleep(Duration::from_millis(2));
                        }
                        Err(e) => other.push(e.to_string()),
                    }
                }
                (ok, busy, other)
            })
        })
        .collect();
    let mut pinger = guarded(server.client());
    while handles.iter().any(|h| !h.is_finished()) {
        assert_eq!(pinger.call("ping", json!({})).unwrap(), json!("pong"));
        std::thread::sleep(Duration::from_millis(20));
    }
    let (mut ok, mut busy, mut most_busy) = (0, 0, 0);
    for h in handles {
        let (o, b, other) = h.join().unwrap();
        assert!(other.is_empty(), "neither busy nor a login: {other:?}");
        ok += o;
        busy += b;
        most_busy = most_busy.max(b);
    }
    let stats = auth_stats(&mut admin);
    assert_eq!(stats["hashing_peak"], json!(1), "{stats}");
    assert_eq!(stats["argon2_max_parallel"], json!(1), "{stats}");
    assert_eq!(stats["hash_rejected"], json!(busy), "{stats}");
    assert_eq!(stats["hashing"], json!(0), "{stats}");
    assert!(ok > 0, "no login got through");
    // Past the throttle's limits (5 per account and address, 20 per address), had the
    // refusals been counted as failures.
    assert!(
        busy > 20 && most_busy > 5,
        "only {busy} refusals ({most_busy} for one account): the queue bound was not pushed past"
    );
    drop(admin);
    drop(server);

    let defaults = TestServer::with_admin(plugins(), |c| c);
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let stats = auth_stats(&mut root(&defaults));
    assert_eq!(
        stats["argon2_max_parallel"],
        json!(cores.saturating_sub(1).max(1))
    );
    assert_eq!(stats["argon2_max_queued"], json!(64));
}

/// The scheduling policy (`/proc/self/task/TID/stat` field 41: 0 `SCHED_OTHER`, 5
/// `SCHED_IDLE`) of each thread named `prefix…`, once there are `n` all at `want`, or as they
/// are after a few seconds (a new thread moves itself once it runs).
fn policies(prefix: &str, n: usize, want: u32) -> Vec<u32> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut found = Vec::new();
        for task in std::fs::read_dir("/proc/self/task").unwrap() {
            let Ok(stat) = std::fs::read_to_string(task.unwrap().path().join("stat")) else {
                continue;
            };
            let (open, close) = (stat.find('(').unwrap(), stat.rfind(')').unwrap());
            if stat[open + 1..close].starts_with(prefix) {
                let fields: Vec<&str> = stat[close + 2..].split_whitespace().collect();
                found.push(fields[38].parse().unwrap());
            }
        }
        if (found.len() >= n && found.iter().all(|&p| p == want)) || Instant::now() > deadline {
            return found;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `--pool-sched idle` puts the pool's workers and an upload's thread in `SCHED_IDLE`, so a
/// waking loop preempts them at once, while the loop stays `SCHED_OTHER`; the default,
/// `--pool-sched normal`, leaves the workers `SCHED_OTHER` (nice levels only).
#[test]
fn cpu_bound_threads_run_sched_idle_and_the_loop_does_not() {
    let _alone = ALONE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let (other, idle) = (0, 5);
    let server = TestServer::with_admin(plugins(), |mut c| {
        c.limits.workers = 3;
        c.limits.pool_sched = kino_server::priority::PoolSched::Idle;
        c
    });
    assert_eq!(policies("kino-worker-", 3, idle), vec![idle; 3], "workers");
    assert_eq!(policies("kino-loop", 1, other), vec![other], "the loop");
    let mut writer = root(&server);
    let bytes = content(7, 1 << 20);
    writer
        .send(&request(
            "movies.upload",
            json!({"name": "idle.bin", "md5": md5_hex(&bytes), "free": true, "file_size": bytes.len()}),
        ))
        .unwrap();
    writer.send_raw(&bytes[..4096]).unwrap();
    writer.flush().unwrap();
    let upload = policies("kino-upload", 1, idle);
    assert!(
        !upload.is_empty() && upload.iter().all(|&p| p == idle),
        "the upload: {upload:?}"
    );
    assert_eq!(
        policies("kino-loop", 1, other),
        vec![other],
        "the loop, still"
    );
    drop((writer, server));

    let normal = TestServer::with_admin(plugins(), |mut c| {
        c.limits.workers = 2;
        c
    });
    assert_eq!(
        policies("kino-worker-", 2, other),
        vec![other; 2],
        "--pool-sched normal, the default"
    );
    drop(normal);
}

/// A login flood past the gate's bound is refused on the loop before it takes a pool worker.
/// One hash at a time, two waiting, four workers: twelve clients log in to one account with
/// its right password over and over. Logins waiting on the loop (the gate's lane), in the pool
/// and at the gate never exceed three (`server.info`), only one is ever on a worker, the rest
/// get `busy` at once, and only those three ever hold a reservation
/// of the login throttle, so with three failures allowed per account and address, the flood
/// never turns into `rate_limited` (when the gate was checked inside the worker, after the
/// throttle, a fourth worker's login saw three reservations out and was refused, and the
/// account cooled down). Three workers stay free: another client's pooled command answers
/// throughout, and the right password still logs in afterwards.
#[test]
fn a_login_flood_is_refused_before_the_pool_and_the_throttle() {
    // Its server's threads carry the names the priority tests look for.
    let _alone = ALONE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    const FLOOD: usize = 12;
    let server = TestServer::with_admin(plugins(), |mut c| {
        c.limits.workers = 4;
        c.setting("argon2-memory-kib", json!(8192))
            .setting("argon2-iterations", json!(2))
            .setting("argon2-max-parallel", json!(1))
            .setting("argon2-max-queued", json!(2))
            .setting("login-failures-per-account-address", json!(3))
    });
    let mut admin = root(&server);
    let login = json!({"name": "flood", "password": "pw-of-flood"});
    admin.call("auth.register", login.clone()).unwrap();
    let busy_total = Arc::new(AtomicU64::new(0));
    let at_least = Instant::now() + Duration::from_millis(1500);
    let at_most = Instant::now() + Duration::from_secs(30);
    let handles: Vec<_> = (0..FLOOD)
        .map(|_| {
            let (addr, login, busy_total) = (server.addr, login.clone(), Arc::clone(&busy_total));
            std::thread::spawn(move || {
                let mut c = guarded(kino_client::Client::connect(addr).unwrap());
                let (mut ok, mut slowest_busy, mut other) = (0u64, Duration::ZERO, Vec::new());
                while Instant::now() < at_most
                    && (Instant::now() < at_least || busy_total.load(Ordering::Relaxed) < 30)
                {
                    let asked = Instant::now();
                    match c.call("auth.login", login.clone()) {
                        Ok(_) => ok += 1,
                        Err(e) if e.code() == Some(ErrorCode::Busy) => {
                            slowest_busy = slowest_busy.max(asked.elapsed());
                            busy_total.fetch_add(1, Ordering::Relaxed);
                            std::thread::sleep(Duration::from_millis(2));
                        }
                        Err(e) => other.push(e.to_string()),
                    }
                }
                (ok, slowest_busy, other)
            })
        })
        .collect();
    let (mut answered, mut slowest_other, mut most_in) = (0, Duration::ZERO, 0);
    while handles.iter().any(|h| !h.is_finished()) {
        let asked = Instant::now();
        let users = admin.call("auth.users", json!({})).unwrap();
        slowest_other = slowest_other.max(asked.elapsed());
        assert!(users.to_string().contains("flood"), "{users}");
        answered += 1;
        let s = auth_stats(&mut admin);
        let inside = ["hash_held", "hash_admitted", "hash_waiting", "hashing"]
            .map(|k| s[k].as_u64().unwrap_or(u64::MAX));
        most_in = most_in.max(inside.iter().fold(0u64, |a, &b| a.saturating_add(b)));
        std::thread::sleep(Duration::from_millis(10));
    }
    let (mut ok, mut slowest_busy) = (0, Duration::ZERO);
    for h in handles {
        let (o, b, other) = h.join().unwrap();
        assert!(other.is_empty(), "neither a login nor busy: {other:?}");
        ok += o;
        slowest_busy = slowest_busy.max(b);
    }
    let busy = busy_total.load(Ordering::Relaxed);
    assert!(ok > 0 && busy >= 30, "{ok} logins, {busy} busy");
    assert!(
        most_in <= 3,
        "{most_in} logins on the loop, in the pool and at the gate at once"
    );
    let info = admin.call("server.info", json!({})).unwrap();
    let lane = &info["lanes"]["argon2"];
    assert_eq!(
        (
            &lane["peak_running"],
            &lane["max_running"],
            &lane["max_waiting"]
        ),
        (&json!(1), &json!(1), &json!(2)),
        "{lane}"
    );
    assert!(
        slowest_busy < Duration::from_secs(2),
        "a `busy` took {slowest_busy:?}"
    );
    assert!(
        answered > 5 && slowest_other < Duration::from_secs(2),
        "auth.users answered {answered} times, the slowest in {slowest_other:?}"
    );
    assert_eq!(auth_stats(&mut admin)["hash_rejected"], json!(busy));
    let mut late = guarded(server.client());
    late.call("auth.login", login).unwrap();
}
