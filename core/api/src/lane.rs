//! A lane bounds how many requests of a group of pool commands run at once. Requests past that
//! wait on the event loop, not in the pool's queue: a request that waits its turn inside a
//! worker (argon2 behind its gate) holds that worker, and one queued in the pool sits in
//! front of every other command. Past a second bound they are refused `busy` at once, on the
//! loop, before any handler runs. A waiting request whose client hangs up leaves the lane.
//!
//! The plugin makes the lane, gives it to its commands ([`crate::Command::lane`]) and sets
//! its bounds from its settings ([`Lane::set_limits`]). Core schedules: each server keeps its
//! own counts (two servers in one process may share a plugin instance, as the test clusters
//! do; the bounds are per server) and reports what it does here ([`Lane::record`]), so
//! `stats` may be read from any thread.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

/// A group of pool commands that run at most `running` at once, with at most `waiting` more
/// held on the event loop.
#[derive(Debug)]
pub struct Lane {
    name: &'static str,
    busy: &'static str,
    max_running: AtomicUsize,
    max_waiting: AtomicUsize,
    running: AtomicUsize,
    waiting: AtomicUsize,
    peak_running: AtomicUsize,
    refused: AtomicU64,
}

/// What happened to a request of a lane, for its counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LaneEvent {
    /// Sent to the pool on arrival.
    Started,
    /// Held on the loop.
    Held,
    /// A held request went to the pool.
    Promoted,
    /// A held request was dropped (its client hung up).
    Dropped,
    /// A request on the pool finished.
    Finished,
    /// Refused `busy`.
    Refused,
}

/// A lane's counts, for `server.info`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct LaneStats {
    /// Requests on the pool now.
    pub running: usize,
    /// Requests held on the loop.
    pub waiting: usize,
    /// The most that ever ran at once.
    pub peak_running: usize,
    /// Requests answered `busy`.
    pub refused: u64,
    /// The bound on `running`.
    pub max_running: usize,
    /// The bound on `waiting`.
    pub max_waiting: usize,
}

impl Lane {
    /// A lane named `name` (for logs and `server.info`); `busy` is what a refused request is
    /// told ("the server is checking too many passwords"). Bounds start at one running, none
    /// waiting, until [`Lane::set_limits`].
    pub const fn new(name: &'static str, busy: &'static str) -> Self {
        Lane {
            name,
            busy,
            max_running: AtomicUsize::new(1),
            max_waiting: AtomicUsize::new(0),
            running: AtomicUsize::new(0),
            waiting: AtomicUsize::new(0),
            peak_running: AtomicUsize::new(0),
            refused: AtomicU64::new(0),
        }
    }

    /// Sets the bounds (at least one running).
    pub fn set_limits(&self, running: usize, waiting: usize) {
        self.max_running.store(running.max(1), Relaxed);
        self.max_waiting.store(waiting, Relaxed);
    }

    /// The lane's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The bounds: running, waiting.
    pub fn limits(&self) -> (usize, usize) {
        (
            self.max_running.load(Relaxed),
            self.max_waiting.load(Relaxed),
        )
    }

    /// The message of a refusal, with the server's counts.
    pub fn busy_message(&self, running: usize, waiting: usize) -> String {
        format!(
            "{} ({running} at once, {waiting} waiting); try again shortly",
            self.busy
        )
    }

    /// Core: counts what happened to a request.
    pub fn record(&self, event: LaneEvent) {
        let down = |n: &AtomicUsize| {
            let _ = n.fetch_update(Relaxed, Relaxed, |v| Some(v.saturating_sub(1)));
        };
        match event {
            LaneEvent::Started => self.start(),
            LaneEvent::Held => {
                self.waiting.fetch_add(1, Relaxed);
            }
            LaneEvent::Promoted => {
                down(&self.waiting);
                self.start();
            }
            LaneEvent::Dropped => down(&self.waiting),
            LaneEvent::Finished => down(&self.running),
            LaneEvent::Refused => {
                self.refused.fetch_add(1, Relaxed);
            }
        }
    }

    fn start(&self) {
        let running = self.running.fetch_add(1, Relaxed) + 1;
        self.peak_running.fetch_max(running, Relaxed);
    }

    /// The counts.
    pub fn stats(&self) -> LaneStats {
        LaneStats {
            running: self.running.load(Relaxed),
            waiting: self.waiting.load(Relaxed),
            peak_running: self.peak_running.load(Relaxed),
            refused: self.refused.load(Relaxed),
            max_running: self.max_running.load(Relaxed),
            max_waiting: self.max_waiting.load(Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_keep_the_counts_and_the_peak() {
        let lane = Lane::new("hash", "busy hashing");
        lane.set_limits(0, 2);
        assert_eq!(lane.limits(), (1, 2), "at least one runs");
        for e in [
            LaneEvent::Started,
            LaneEvent::Held,
            LaneEvent::Held,
            LaneEvent::Refused,
            LaneEvent::Finished,
            LaneEvent::Promoted,
            LaneEvent::Dropped,
        ] {
            lane.record(e);
        }
        let s = lane.stats();
        assert_eq!(
            (s.running, s.waiting, s.peak_running, s.refused),
            (1, 0, 1, 1)
        );
        assert!(lane
            .busy_message(1, 2)
            .contains("busy hashing (1 at once, 2 waiting)"));
    }
}
