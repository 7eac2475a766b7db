//! The hashing gate: at most `--argon2-max-parallel` argon2 computations run at once, however
//! many logins, registrations and password changes arrive. Each hash takes tens of
//! milliseconds and ~19 MiB; with one per pool worker they take every core, and the event loop
//! and everything else wait for the scheduler. By default one core is left free (the number of
//! cores less one, at least one).
//!
//! Callers past the running ones wait their turn, first come first served; at most
//! `--argon2-max-queued` wait, and the next is refused at once with `busy` ("the server is
//! checking too many passwords; try again shortly") instead of piling up. The place is taken
//! on the event loop when the request is queued for the pool ([`Gate::admit`], through
//! `Command::admit`), not when a worker picks it up: a waiter holds a pool worker, so waiters
//! counted only at the gate were bounded by the pool's size while the rest of a login flood
//! sat in the pool's queue, in front of every other command. A refused request never reaches
//! a worker, nor the login throttle. The counts are in `server.info` under `plugins.auth`.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use kino_api::serde_json::{json, Value};
use kino_api::{CmdError, ErrorCode, Setting};

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
}

#[derive(Debug)]
struct State {
    parallel: usize,
    max_queued: usize,
    hashing: usize,
    /// Admitted on the loop and not yet at the gate (queued for a pool worker, or in the
    /// handler before its turn).
    admitted: usize,
    waiting: usize,
    /// The most that ever hashed at once.
    peak: usize,
    rejected: u64,
    /// Tickets, so turns go in arrival order.
    next_ticket: u64,
    serving: u64,
}

/// A place in the gate's queue, taken before the request reaches a worker; given back when
/// dropped unused (the request ended before hashing).
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
    }

    /// Takes a place in the queue, or `busy` when `--argon2-max-queued` callers already wait
    /// (in the pool's queue or at the gate) behind the `--argon2-max-parallel` hashing. Never
    /// blocks: it runs on the event loop.
    pub fn admit(self: &Arc<Self>) -> Result<Permit, CmdError> {
        self.take_place()?;
        Ok(Permit {
            gate: Some(Arc::clone(self)),
        })
    }

    /// Waits for a turn, or `busy` as [`Gate::admit`] (for callers that were not admitted on
    /// the loop).
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

    /// The counts for `server.info`.
    pub fn stats(&self) -> Value {
        let s = self.lock();
        json!({
            "hashing": s.hashing,
            "hashing_peak": s.peak,
            "hash_waiting": s.waiting,
            "hash_admitted": s.admitted,
            "hash_rejected": s.rejected,
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
