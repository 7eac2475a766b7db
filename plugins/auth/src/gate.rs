//! The hashing gate: at most `--argon2-max-parallel` argon2 computations run at once, however
//! many logins, registrations and password changes arrive. Each hash takes tens of
//! milliseconds and ~19 MiB; with one per pool worker they take every core, and the event loop
//! and everything else wait for the scheduler. By default one core is left free (the number of
//! cores less one, at least one).
//!
//! The commands that hash run in the gate's [`Lane`]: as many at once as may hash, the rest
//! held on the event loop, first come first served, at most `--argon2-max-queued` of them; the
//! next is refused at once with `busy` ("the server is checking too many passwords; try again
//! shortly") instead of piling up. A held request takes no pool worker and is not in the pool's
//! queue, so a login flood neither holds the workers nor delays other commands, and a refused
//! one never reaches a worker nor the login throttle. Callers that come another way (a nested
//! call, the HTTP gateway) wait at the gate itself, under the same two bounds. The counts are
//! in `server.info` under `plugins.auth` (and the lane's under `lanes.argon2`).

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use kino_api::serde_json::{json, Value};
use kino_api::{CmdError, ErrorCode, Lane, Setting};

/// Setting: argon2 computations at once.
pub const MAX_PARALLEL: Setting<u64> = Setting::new(
    "argon2-max-parallel",
    "argon2 password hashes computed at once; the rest wait their turn (0: the cores less one, at least 1)",
    0,
);
/// Setting: callers waiting for a turn.
pub const MAX_QUEUED: Setting<u64> = Setting::new(
    "argon2-max-queued",
    "Logins, registrations and password changes waiting to hash; past it `busy`",
    64,
);

/// The gate, one per server.
#[derive(Debug)]
pub struct Gate {
    state: Mutex<State>,
    turn_free: Condvar,
    lane: Arc<Lane>,
}

#[derive(Debug)]
struct State {
    parallel: usize,
    max_queued: usize,
    hashing: usize,
    /// With a place, not yet waiting for a turn (in the handler before it: the throttle).
    admitted: usize,
    waiting: usize,
    /// The most that ever hashed at once.
    peak: usize,
    rejected: u64,
    /// Tickets, so turns go in arrival order.
    next_ticket: u64,
    serving: u64,
}

/// A place in the gate's queue, taken before anything is recorded; given back when dropped
/// unused (the request ended before hashing).
#[derive(Debug)]
pub struct Permit {
    gate: Option<Arc<Gate>>,
}

/// One turn to hash; the next caller goes when it is dropped.
#[derive(Debug)]
pub struct Turn<'a> {
    gate: &'a Gate,
}

impl Default for Gate {
    fn default() -> Self {
        Gate {
            state: Mutex::new(State {
                parallel: default_parallel(),
                max_queued: 64,
                hashing: 0,
                admitted: 0,
                waiting: 0,
                peak: 0,
                rejected: 0,
                next_ticket: 0,
                serving: 0,
            }),
            turn_free: Condvar::new(),
            lane: Arc::new(Lane::new(
                "argon2",
                "the server is checking too many passwords",
            )),
        }
    }
}

/// The cores less one, at least one.
fn default_parallel() -> usize {
    std::thread::available_parallelism()
        .map_or(1, usize::from)
        .saturating_sub(1)
        .max(1)
}

impl Gate {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sets the bounds from the settings (0 parallel: the default).
    pub fn configure(&self, parallel: u64, max_queued: u64) {
        let mut s = self.lock();
        s.parallel = match usize::try_from(parallel) {
            Ok(0) => default_parallel(),
            Ok(n) => n,
            Err(_) => usize::MAX,
        };
        s.max_queued = usize::try_from(max_queued).unwrap_or(usize::MAX);
        self.lane.set_limits(s.parallel, s.max_queued);
    }

    /// The lane the commands that hash run in: its bounds are the gate's.
    pub fn lane(&self) -> Arc<Lane> {
        Arc::clone(&self.lane)
    }

    /// Takes a place in the queue, or `busy` when `--argon2-max-queued` callers already wait
    /// behind the `--argon2-max-parallel` hashing.
    pub fn admit(self: &Arc<Self>) -> Result<Permit, CmdError> {
        self.take_place()?;
        Ok(Permit {
            gate: Some(Arc::clone(self)),
        })
    }

    /// Waits for a turn, or `busy` as [`Gate::admit`].
    pub fn enter(&self) -> Result<Turn<'_>, CmdError> {
        self.take_place()?;
        Ok(self.wait_turn())
    }

    /// Waits for the turn `permit` holds a place for; never refused.
    pub fn enter_admitted(&self, mut permit: Permit) -> Turn<'_> {
        // The place moves from the permit to the wait below.
        permit.gate = None;
        self.wait_turn()
    }

    fn take_place(&self) -> Result<(), CmdError> {
        let mut s = self.lock();
        let queued = s.admitted + s.waiting;
        if queued + s.hashing >= s.parallel.saturating_add(s.max_queued) {
            s.rejected += 1;
            return Err(CmdError::new(
                ErrorCode::Busy,
                format!(
                    "the server is checking too many passwords ({} at once, {queued} waiting); \
                     try again shortly",
                    s.hashing
                ),
            ));
        }
        s.admitted += 1;
        Ok(())
    }

    fn wait_turn(&self) -> Turn<'_> {
        let mut s = self.lock();
        s.admitted = s.admitted.saturating_sub(1);
        if s.hashing >= s.parallel || s.waiting > 0 {
            let ticket = s.next_ticket;
            s.next_ticket += 1;
            s.waiting += 1;
            while s.hashing >= s.parallel || s.serving != ticket {
                s = self
                    .turn_free
                    .wait(s)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            s.serving += 1;
            s.waiting -= 1;
            // The next ticket may also fit (several turns freed at once).
            self.turn_free.notify_all();
        }
        s.hashing += 1;
        s.peak = s.peak.max(s.hashing);
        Turn { gate: self }
    }

    /// The counts for `server.info`: `hash_held` wait on the loop, `hash_admitted` hold a
    /// place before their turn, `hash_waiting` wait for it at the gate.
    pub fn stats(&self) -> Value {
        let s = self.lock();
        let lane = self.lane.stats();
        json!({
            "hashing": s.hashing,
            "hashing_peak": s.peak,
            "hash_held": lane.waiting,
            "hash_waiting": s.waiting,
            "hash_admitted": s.admitted,
            "hash_rejected": s.rejected + lane.refused,
            "argon2_max_parallel": s.parallel,
            "argon2_max_queued": s.max_queued,
        })
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Some(gate) = self.gate.take() {
            let mut s = gate.lock();
            s.admitted = s.admitted.saturating_sub(1);
        }
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        let mut s = self.gate.lock();
        s.hashing = s.hashing.saturating_sub(1);
        drop(s);
        self.gate.turn_free.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn one_at_a_time_then_a_bounded_queue_then_busy() {
        let gate = Arc::new(Gate::default());
        gate.configure(1, 1);
        let first = gate.enter().expect("a free turn");
        let waiter = {
            let gate = Arc::clone(&gate);
            std::thread::spawn(move || gate.enter().map(drop).is_ok())
        };
        while gate.stats()["hash_waiting"] != 1 {
            std::thread::sleep(Duration::from_millis(1));
        }
        let refused = gate.enter().expect_err("the queue is full");
        assert_eq!(refused.code, ErrorCode::Busy);
        drop(first);
        assert!(waiter.join().expect("thread"), "the waiter got its turn");
        let s = gate.stats();
        assert_eq!(
            (s["hashing_peak"].as_u64(), s["hash_rejected"].as_u64()),
            (Some(1), Some(1))
        );
    }
}
