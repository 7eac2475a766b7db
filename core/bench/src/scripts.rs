//! `kino-bench --scripts`: what a script plugin costs against the same command in Rust, at
//! `--connections` connections with one request in flight each. Two pairs, each answering the
//! same bytes:
//! - `whoami` (native, inline on the loop) against `bench.whoami` (a script returning the
//!   same map): the whole fixed cost of a script command (worker pool, executor hand-off, rhai
//!   call, JSON to rhai values and back);
//! - `notices.list` (native, one query on the pool) against `bench.notes` (a script running
//!   the same query on a table of the same shape, rows turned into maps in rhai): a command
//!   that does some work, with its database round trips through the executor bridge.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use kino_client::Client;
use serde_json::json;

use crate::hammer::{frame, hammer};
use crate::server::{Spawned, ADMIN};

/// The benchmark's script plugin.
const PLUGIN: &str = r#"
plugin("bench", "kino-bench's script commands");
migration(1, "CREATE TABLE bench_notes (id INTEGER PRIMARY KEY, title TEXT NOT NULL, content TEXT NOT NULL)");
command("bench.whoami", "whoami, written in rhai", #{ role: "anon" }, |ctx, args| {
    if ctx.user == () { #{ logged_in: false, name: (), role: "anon" } }
    else { #{ logged_in: true, user_id: ctx.user.id, name: ctx.user.name, role: ctx.user.role } }
});
command("bench.seed", "Adds n notes", #{ role: "admin", args: [ #{ name: "n", kind: "uint", doc: "how many" } ] },
    |ctx, args| {
        let content = "x";
        content.pad(200, 'x');
        for i in 0..args.n {
            ctx.db_insert("INSERT INTO bench_notes (title, content) VALUES (?, ?)", [`notice ${i}`, content]);
        }
        args.n
    });
command("bench.notes", "notices.list, written in rhai", #{ role: "user", args: [
    #{ name: "limit", kind: "uint", doc: "rows", max: 1000, "default": 100 } ] },
    |ctx, args| {
        let out = [];
        for r in ctx.db_query("SELECT id, title, content FROM bench_notes ORDER BY id DESC LIMIT ?", [args.limit]) {
            out.push(#{ id: r[0], title: r[1], content: r[2] });
        }
        out
    });
"#;

/// The commands measured, native and script in turn.
const PAIRS: [(&str, &str); 2] = [("whoami", "bench.whoami"), ("notices.list", "bench.notes")];
/// Rows both lists return.
const ROWS: usize = 20;

/// Runs every command `rounds` times (interleaved) and prints rates and per-request CPU.
pub fn run(
    bin: &Path,
    connections: usize,
    rounds: usize,
    span: Duration,
    extra: &[String],
) -> Result<()> {
    let dir = tempfile::tempdir()?;
    std::fs::create_dir_all(dir.path().join("bench"))?;
    std::fs::write(dir.path().join("bench/plugin.rhai"), PLUGIN)?;
    let mut args = vec![
        "--script-plugins".to_string(),
        dir.path().display().to_string(),
    ];
    args.extend(extra.iter().cloned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let names: Vec<&str> = PAIRS.iter().flat_map(|(a, b)| [*a, *b]).collect();
    let mut by_name: Vec<Vec<(f64, f64)>> = vec![Vec::new(); names.len()];
    for _ in 0..rounds.max(1) {
        let server = Spawned::start(bin, &args)?;
        let mut admin = Client::connect(server.addr)?;
        let login = admin.call("auth.login", json!({"name": ADMIN.0, "password": ADMIN.1}))?;
        let token = login["session"].as_str().context("no session")?.to_owned();
        for i in 0..ROWS {
            admin.call(
                "notices.publish",
                json!({"title": format!("notice {i}"), "content": "x".repeat(200)}),
            )?;
        }
        admin
            .call("bench.seed", json!({"n": ROWS}))
            .context("the bench script did not load")?;
        let pid = server.child.id();
        let cpu = move || (crate::backends::ticks_of(pid), 0);
        for (i, name) in names.iter().enumerate() {
            // Logged in, as `notices.list` needs: each request resolves its session.
            let req = match name.ends_with("whoami") {
                true => frame(&json!({ "type": name, "session": token })),
                false => frame(&json!({"type": name, "limit": ROWS, "session": token})),
            };
            let w = hammer(server.addr, connections, span / 5, span, &cpu, |_| {
                Some(req.clone())
            })
            .with_context(|| name.to_string())?;
            let n = w.ok.max(1) as f64;
            by_name[i].push((w.ok as f64 / w.secs, w.kino_ticks as f64 * 1e4 / n));
        }
    }
    println!("| command | kind | requests/s | server CPU µs/request | vs native |");
    println!("| --- | --- | --- | --- | --- |");
    let mut native_rate = 0.0;
    for (i, name) in names.iter().enumerate() {
        let mut rates: Vec<f64> = by_name[i].iter().map(|s| s.0).collect();
        let mut cpus: Vec<f64> = by_name[i].iter().map(|s| s.1).collect();
        let (rate, cpu) = (median(&mut rates), median(&mut cpus));
        let script = name.starts_with("bench.");
        if !script {
            native_rate = rate;
        }
        println!(
            "| `{name}` | {} | {rate:.0} | {cpu:.0} | {} |",
            if script { "script" } else { "native" },
            if script {
                format!("{:.2}", rate / native_rate.max(1e-9))
            } else {
                "1".into()
            }
        );
    }
    Ok(())
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}
