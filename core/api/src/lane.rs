//! A lane bounds how many requests of a group of pool commands run at once. Requests past that
//! wait on the event loop, not in the pool's queue: a request that waits its turn inside a
//! worker (argon2 behind its gate) holds that worker, and one queued in the pool sits in
//! front of every other command. Past a second bound they are refused `busy` at once, on the
//! loop, before any handler runs. A waiting request whose client hangs up leaves the lane.
//!
//! The plugin makes the lane, gives it to its commands ([`crate::Command::lane`]) and sets
//! its bounds from its settings ([`Lane::set_limits`]); core counts and schedules. The counts
//! are atomics so `stats` may read them from any thread; only the loop changes them.

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

/// What core does with a request for a lane's command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    /// Send it to the pool now.
    Run,
    /// Hold it on the loop until a running one finishes.
    Wait,
    /// Answer `busy`.
    Refuse,
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

    /// The message of a refusal, with the counts.
    pub fn busy_message(&self) -> String {
        format!(
            "{} ({} at once, {} waiting); try again shortly",
            self.busy,
            self.running.load(Relaxed),
            self.waiting.load(Relaxed)
        )
    }

    /// Core: a request arrives. Counts it as running or waiting, or as refused.
    pub fn enter(&self) -> Entry {
        let running = self.running.load(Relaxed);
        if running < self.max_running.load(Relaxed) && self.waiting.load(Relaxed) == 0 {
            self.running.store(running + 1, Relaxed);
            self.peak_running.fetch_max(running + 1, Relaxed);
            Entry::Run
        } else if self.waiting.load(Relaxed) < self.max_waiting.load(Relaxed) {
            self.waiting.fetch_add(1, Relaxed);
            Entry::Wait
        } else {
            self.refused.fetch_add(1, Relaxed);
            Entry::Refuse
        }
    }

    /// Core: a waiting request starts running.
    pub fn promote(&self) {
        self.leave_waiting();
        let running = self.running.fetch_add(1, Relaxed) + 1;
        self.peak_running.fetch_max(running, Relaxed);
    }

    /// Core: a waiting request is dropped (its client hung up).
    pub fn leave_waiting(&self) {
        let _ = self
            .waiting
            .fetch_update(Relaxed, Relaxed, |n| Some(n.saturating_sub(1)));
    }

    /// Core: a running request finished. Whether one may be promoted now.
    pub fn finish(&self) -> bool {
        let _ = self
            .running
            .fetch_update(Relaxed, Relaxed, |n| Some(n.saturating_sub(1)));
        self.running.load(Relaxed) < self.max_running.load(Relaxed)
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
    fn past_running_requests_wait_and_past_waiting_they_are_refused_in_order() {
        let lane = Lane::new("hash", "busy hashing");
        lane.set_limits(1, 2);
        assert_eq!(lane.enter(), Entry::Run);
        assert_eq!(lane.enter(), Entry::Wait);
        assert_eq!(lane.enter(), Entry::Wait);
        assert_eq!(lane.enter(), Entry::Refuse);
        assert!(lane
            .busy_message()
            .contains("busy hashing (1 at once, 2 waiting)"));
        assert!(lane.finish(), "a place is free");
        lane.promote();
        // One still waits, so a newcomer queues behind it rather than jumping ahead.
        assert_eq!(lane.enter(), Entry::Wait);
        assert!(lane.finish());
        let s = lane.stats();
        assert_eq!(
            (s.running, s.waiting, s.peak_running, s.refused),
            (0, 2, 1, 1)
        );
    }
}
