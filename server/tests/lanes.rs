//! Lanes on a real server (`kino_api::Lane`, `Command::lane`): a command whose handler waits
//! for something runs at most its lane's bound at once; the rest wait on the event loop, not
//! in the pool, so other commands are served meanwhile; past the second bound they get `busy`
//! at once; a waiting request whose client hangs up leaves the lane and never runs. The test
//! plugin's handler waits for a permit the test hands out, so nothing here depends on timing.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use kino_api::serde_json::{json, Value};
use kino_api::{Command, CommandArgs, ErrorCode, Lane, Plugin, Role};
use kino_client::Client;
use kino_testkit::{admin_client, TestServer};

/// Permits the test hands out, and the arrival numbers of the requests that ran.
#[derive(Default)]
struct Held {
    state: Mutex<(u32, Vec<u64>)>,
    changed: Condvar,
}

/// Hands out permits enough for every request when a test ends, failed or not, so the server's
/// workers finish and it can stop.
struct ReleaseAll(Arc<Held>);

impl Drop for ReleaseAll {
    fn drop(&mut self) {
        self.0.release(1000);
    }
}

impl Held {
    fn release(&self, n: u32) {
        self.state.lock().unwrap().0 += n;
        self.changed.notify_all();
    }

    fn ran(&self) -> Vec<u64> {
        self.state.lock().unwrap().1.clone()
    }
}

/// `gated.hold`'s arguments.
#[derive(CommandArgs)]
struct Hold {
    /// the request's arrival number
    n: u64,
}

struct Gated {
    held: Arc<Held>,
    lane: Arc<Lane>,
}

impl Plugin for Gated {
    fn name(&self) -> &'static str {
        "gated"
    }
    fn commands(&self) -> Vec<Command> {
        let held = Arc::clone(&self.held);
        vec![
            Command::new("gated.hold", "wait for a permit", move |_, Hold { n }| {
                let mut s = held.state.lock().unwrap();
                s.1.push(n);
                while s.0 == 0 {
                    s = held.changed.wait(s).unwrap();
                }
                s.0 -= 1;
                Ok(json!(n).into())
            })
            .role(Role::Anon)
            .lane(Arc::clone(&self.lane)),
            Command::new("gated.plain", "answer at once", |_, (): ()| {
                Ok(json!("plain").into())
            })
            .role(Role::Anon),
        ]
    }
}

/// A server with two workers and the `gated` lane: one running, two waiting. The guard comes
/// last so it is dropped before the server.
fn server() -> (TestServer, Arc<Held>, ReleaseAll) {
    let held = Arc::new(Held::default());
    let lane = Arc::new(Lane::new("gated", "the server is holding too much"));
    lane.set_limits(1, 2);
    let plugin = Gated {
        held: Arc::clone(&held),
        lane: Arc::clone(&lane),
    };
    let server = TestServer::with_admin(
        kino_testkit::with_auth(vec![Arc::new(plugin) as Arc<dyn Plugin>]),
        |mut c| {
            c.limits.workers = 2;
            c
        },
    );
    let guard = ReleaseAll(Arc::clone(&held));
    (server, held, guard)
}

fn hold(server: &TestServer, n: u64) -> Client {
    let mut c = server.client();
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    c.send(&json!({"type": "gated.hold", "n": n})).unwrap();
    c.flush().unwrap();
    c
}

/// `server.info`'s counts of the lane, once `done` holds of them (or as they are after 10 s).
fn lane_when(admin: &mut Client, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let lane = admin.call("server.info", json!({})).unwrap()["lanes"]["gated"].clone();
        if done(&lane) || Instant::now() > deadline {
            return lane;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The lane full: request 1 running, 2 and 3 waiting; with an admin client.
struct Full {
    server: TestServer,
    held: Arc<Held>,
    admin: Client,
    first: Client,
    waiting: [Client; 2],
    _release: ReleaseAll,
}

fn full() -> Full {
    let (server, held, release) = server();
    let mut admin = admin_client(&server, "root");
    let first = hold(&server, 1);
    lane_when(&mut admin, |l| l["running"] == 1);
    let waiting = [hold(&server, 2), hold(&server, 3)];
    let lane = lane_when(&mut admin, |l| l["waiting"] == 2);
    assert_eq!(
        (&lane["running"], &lane["waiting"]),
        (&json!(1), &json!(2)),
        "{lane}"
    );
    Full {
        server,
        held,
        admin,
        first,
        waiting,
        _release: release,
    }
}

fn answer(c: &mut Client) -> Value {
    let r = c.recv().unwrap();
    assert!(r.ok, "{r:?}");
    r.data.unwrap()
}

/// One request runs and holds a worker; two more wait on the loop, holding none, so the
/// second worker answers another command at once; the fourth is refused `busy` with the
/// lane's message; the waiting ones run in arrival order as permits are handed out.
#[test]
fn past_a_lanes_bound_requests_wait_on_the_loop_and_other_commands_go_first() {
    let Full {
        server,
        held,
        mut admin,
        mut first,
        mut waiting,
        _release,
    } = full();
    let mut other = server.client();
    assert_eq!(
        other.call("gated.plain", json!({})).unwrap(),
        json!("plain")
    );
    let refused = other
        .call("gated.hold", json!({"n": 4}))
        .expect_err("past the lane's bound");
    assert_eq!(refused.code(), Some(ErrorCode::Busy));
    assert!(
        refused
            .to_string()
            .contains("holding too much (1 at once, 2 waiting)"),
        "{refused}"
    );
    assert_eq!(held.ran(), vec![1], "only the first reached a worker");

    held.release(1);
    assert_eq!(answer(&mut first), json!(1));
    held.release(2);
    for (c, n) in waiting.iter_mut().zip([2, 3]) {
        assert_eq!(answer(c), json!(n));
    }
    assert_eq!(held.ran(), vec![1, 2, 3], "in arrival order");
    let lane = lane_when(&mut admin, |l| l["running"] == 0);
    assert_eq!(
        (&lane["waiting"], &lane["peak_running"], &lane["refused"]),
        (&json!(0), &json!(1), &json!(1)),
        "{lane}"
    );
}

/// Two requests wait behind a running one and their clients hang up: their places are free at
/// once (two new requests wait rather than being refused), and they never run. (Half-closing
/// counts as hanging up here: the request has not started.)
#[test]
fn a_waiting_request_whose_client_hangs_up_leaves_the_lane_and_never_runs() {
    let Full {
        server,
        held,
        mut admin,
        mut first,
        waiting: gone,
        _release,
    } = full();
    drop(gone);
    let lane = lane_when(&mut admin, |l| l["waiting"] == 0);
    assert_eq!(lane["waiting"], json!(0), "{lane}");

    let mut later = [hold(&server, 4), hold(&server, 5)];
    let lane = lane_when(&mut admin, |l| l["waiting"] == 2);
    assert_eq!(
        (&lane["waiting"], &lane["refused"]),
        (&json!(2), &json!(0)),
        "{lane}"
    );
    held.release(3);
    assert_eq!(answer(&mut first), json!(1));
    for (c, n) in later.iter_mut().zip([4, 5]) {
        assert_eq!(answer(c), json!(n));
    }
    assert_eq!(held.ran(), vec![1, 4, 5], "the hung-up requests never ran");
}
