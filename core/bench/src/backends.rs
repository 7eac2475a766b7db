//! `--backends`: the same commands against a server on SQLite and one on PostgreSQL, interleaved
//! round by round in one run, at `--connections` connections with one request in flight each.
//! Besides the rate it reports the CPU each request cost the kino-server process and, on
//! PostgreSQL, the database's processes (`utime + stime` from `/proc/PID/stat` over the counted
//! window, divided by the requests answered), so a multi-node projection can be made on a
//! machine too small to run one.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use kino_client::Client;
use md5::{Digest, Md5};
use serde_json::{json, Value};

use crate::hammer::{frame, hammer, Window};
use crate::pg;
use crate::server::{Spawned, ADMIN};

/// What `--backends` runs.
pub struct Opts {
    /// Connections, one request in flight on each.
    pub connections: usize,
    /// Rounds; medians are reported.
    pub rounds: usize,
    /// Counted seconds per scenario (after a fifth of that to warm up).
    pub span: Duration,
    /// Extra server flags.
    pub extra: Vec<String>,
    /// Charged movies each buyer may buy (the buy scenario, which has no warm-up so as not to
    /// spend them, stops early when they run out).
    pub buy_movies: usize,
}

/// The scenarios, in the order they run on each server.
pub const SCENARIOS: [&str; 5] = [
    "ping",
    "movies.list",
    "notices.list",
    "auth.users",
    "movies.buy",
];

/// Movies and notices in the lists read.
const LISTED: usize = 20;
/// Cheap password hashing: logins and sign-ups are not measured here, only set up.
const FAST_ARGON2: [&str; 4] = ["--argon2-memory-kib", "1024", "--argon2-iterations", "1"];

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Default)]
struct Samples {
    rate: Vec<f64>,
    kino_us: Vec<f64>,
    pg_us: Vec<f64>,
}

/// Runs every scenario on both backends `rounds` times and prints the table.
pub fn run(bin: &Path, opts: &Opts) -> Result<()> {
    let mut cluster = pg::Cluster::start()?;
    let postmaster = cluster.postmaster()?;
    let mut all: BTreeMap<(Backend, &'static str), Samples> = BTreeMap::new();
    for _ in 0..opts.rounds.max(1) {
        for backend in [Backend::Sqlite, Backend::Postgres] {
            let mut args: Vec<String> = FAST_ARGON2.iter().map(|s| s.to_string()).collect();
            if backend == Backend::Postgres {
                args.push("--database".into());
                args.push(cluster.new_database()?);
            }
            args.extend(opts.extra.iter().cloned());
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let server = Spawned::start(bin, &args)?;
            let pid = server.child.id();
            let pg_pid = (backend == Backend::Postgres).then_some(postmaster);
            let cpu = move || (ticks_of(pid), pg_pid.map_or(0, tree_ticks));
            for (name, w) in one_server(&server, opts, &cpu).with_context(|| {
                format!(
                    "{backend:?} (PostgreSQL log in {})",
                    cluster.dir().display()
                )
            })? {
                let s = all.entry((backend, name)).or_default();
                let n = w.ok.max(1) as f64;
                s.rate.push(w.ok as f64 / w.secs);
                s.kino_us.push(w.kino_ticks as f64 * 1e4 / n);
                s.pg_us.push(w.pg_ticks as f64 * 1e4 / n);
            }
        }
    }
    print_table(&mut all, opts)
}

fn one_server(
    s: &Spawned,
    opts: &Opts,
    cpu: &dyn Fn() -> (u64, u64),
) -> Result<Vec<(&'static str, Window)>> {
    let mut admin = Client::connect(s.addr)?;
    let token = session(&mut admin, ADMIN.0, ADMIN.1)?;
    for i in 0..LISTED {
        upload(&mut admin, &format!("listed-{i}.mp4"), true)?;
        admin.call(
            "notices.publish",
            json!({"title": format!("notice {i}"), "content": "x".repeat(200)}),
        )?;
    }
    let c = opts.connections;
    let warm = opts.span / 5;
    let mut out = Vec::new();
    let fixed = |v: Value| {
        let f = frame(&v);
        move |_: usize| Some(f.clone())
    };
    out.push((
        "ping",
        hammer(
            s.addr,
            c,
            warm,
            opts.span,
            cpu,
            fixed(json!({"type": "ping"})),
        )?,
    ));
    let list = json!({"type": "movies.list", "session": token});
    out.push((
        "movies.list",
        hammer(s.addr, c, warm, opts.span, cpu, fixed(list))?,
    ));
    let notices = json!({"type": "notices.list", "session": token});
    out.push((
        "notices.list",
        hammer(s.addr, c, warm, opts.span, cpu, fixed(notices))?,
    ));
    let users = json!({"type": "auth.users", "session": token});
    out.push((
        "auth.users",
        hammer(s.addr, c, warm, opts.span, cpu, fixed(users))?,
    ));
    // Every connection is a different user buying movies it has not bought yet: each request
    // is one write transaction that succeeds.
    let mut charged = Vec::with_capacity(opts.buy_movies);
    for i in 0..opts.buy_movies {
        charged.push(upload(&mut admin, &format!("charged-{i}.mp4"), false)?);
    }
    let mut buyers = Vec::with_capacity(c);
    for i in 0..c {
        let (name, password) = (format!("buyer{i}"), format!("buyer-password-{i}"));
        admin.call(
            "auth.register",
            json!({"name": name, "password": password, "role": "user"}),
        )?;
        let mut u = Client::connect(s.addr)?;
        buyers.push((session(&mut u, &name, &password)?, 0usize));
    }
    let buy = move |conn: usize| {
        let (token, next) = &mut buyers[conn];
        let id = *charged.get(*next)?;
        *next += 1;
        Some(frame(
            &json!({"type": "movies.buy", "session": token, "movie_id": id}),
        ))
    };
    out.push((
        "movies.buy",
        hammer(s.addr, c, Duration::ZERO, opts.span, cpu, buy)?,
    ));
    Ok(out)
}

fn session(c: &mut Client, name: &str, password: &str) -> Result<String> {
    let r = c.call("auth.login", json!({"name": name, "password": password}))?;
    r["session"]
        .as_str()
        .map(str::to_owned)
        .context("auth.login gave no session")
}

/// Uploads a tiny movie whose content is its name; returns its id.
fn upload(admin: &mut Client, name: &str, free: bool) -> Result<u64> {
    let bytes = name.as_bytes();
    let md5 = hex::encode(Md5::digest(bytes));
    let r = admin.upload(
        "movies.upload",
        json!({"name": name, "md5": md5, "free": free}),
        &mut &bytes[..],
        bytes.len() as u64,
        &mut |_| {},
    )?;
    r["id"].as_u64().context("movies.upload gave no id")
}

/// `utime + stime` of a process, in clock ticks (USER_HZ, 100 a second on Linux); 0 if gone.
pub(crate) fn ticks_of(pid: u32) -> u64 {
    stat(pid).map_or(0, |(_, t)| t)
}

/// (parent pid, utime + stime) from `/proc/PID/stat`.
fn stat(pid: u32) -> Option<(u32, u64)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: the fields start after the last `)`.
    let fields: Vec<&str> = s.get(s.rfind(')')? + 2..)?.split(' ').collect();
    let num = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    Some((u32::try_from(num(1)?).ok()?, num(11)? + num(12)?))
}

/// CPU ticks of `root` and its children (the postmaster and its backends and workers).
fn tree_ticks(root: u32) -> u64 {
    let mut total = ticks_of(root);
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        if let Some((ppid, t)) = stat(pid) {
            if ppid == root {
                total += t;
            }
        }
    }
    total
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

fn print_table(all: &mut BTreeMap<(Backend, &'static str), Samples>, opts: &Opts) -> Result<()> {
    let mut med = |b: Backend, n: &'static str| -> Result<(f64, f64, f64)> {
        let s = all.get_mut(&(b, n)).context("missing scenario")?;
        Ok((
            median(&mut s.rate),
            median(&mut s.kino_us),
            median(&mut s.pg_us),
        ))
    };
    println!(
        "{} connections x 1 in flight, {:.1} s counted, medians of {} rounds",
        opts.connections,
        opts.span.as_secs_f64(),
        opts.rounds.max(1)
    );
    println!(
        "| scenario | SQLite /s | PostgreSQL /s | PG / SQLite | SQLite / ping | PG / ping \
         | kino CPU µs/req SQLite | kino CPU µs/req PG | PostgreSQL CPU µs/req |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    let (sq_ping, _, _) = med(Backend::Sqlite, "ping")?;
    let (pg_ping, _, _) = med(Backend::Postgres, "ping")?;
    for name in SCENARIOS {
        let (sq, sq_cpu, _) = med(Backend::Sqlite, name)?;
        let (pg, pg_cpu, db_cpu) = med(Backend::Postgres, name)?;
        println!(
            "| {name} | {sq:.0} | {pg:.0} | {:.2} | {:.2} | {:.2} | {sq_cpu:.1} | {pg_cpu:.1} | {db_cpu:.1} |",
            pg / sq.max(1e-9),
            sq / sq_ping.max(1e-9),
            pg / pg_ping.max(1e-9),
        );
    }
    Ok(())
}
