//! Requests held on the event loop by their command's lane ([`kino_api::Lane`]) until one of
//! the lane's running requests finishes. They hold no worker and are not in the pool's queue,
//! so other commands go on; a held request whose client hangs up (or half-closes) is dropped
//! at once with its connection, so it frees its place and its work is never done.
//!
//! The counts that decide are this server's own, kept here on the loop: two servers in one
//! process may share a plugin instance and so its `Lane` (the test clusters do), and a server
//! only hears when its own requests finish. The `Lane` gets each event for its statistics.

use std::collections::VecDeque;
use std::sync::Arc;

use kino_api::{Lane, LaneEvent};
use mio::Token;

use crate::workers::Job;

/// What to do with a request for a lane's command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    /// Send it to the pool now.
    Run,
    /// Hold it ([`Lanes::hold`]) until a running one finishes.
    Wait,
    /// Answer `busy` with this message's counts.
    Refuse { running: usize, waiting: usize },
}

/// One lane as this server runs it.
struct OneLane {
    lane: Arc<Lane>,
    running: usize,
    /// In arrival order, with their connections.
    held: VecDeque<(Token, Job)>,
}

/// The lanes seen so far.
#[derive(Default)]
pub struct Lanes {
    lanes: Vec<OneLane>,
}

impl Lanes {
    /// The index of `lane`, which a finished job reports back (`LoopMsg::LaneFree`).
    pub fn index(&mut self, lane: &Arc<Lane>) -> usize {
        match self.lanes.iter().position(|l| Arc::ptr_eq(&l.lane, lane)) {
            Some(i) => i,
            None => {
                self.lanes.push(OneLane {
                    lane: Arc::clone(lane),
                    running: 0,
                    held: VecDeque::new(),
                });
                self.lanes.len() - 1
            }
        }
    }

    /// A request for lane `index` arrives: run it, hold it, or refuse it. Nobody jumps the
    /// queue: while some are held, a newcomer waits behind them.
    pub fn enter(&mut self, index: usize) -> Entry {
        let Some(l) = self.lanes.get_mut(index) else {
            return Entry::Run;
        };
        let (max_running, max_waiting) = l.lane.limits();
        if l.running < max_running && l.held.is_empty() {
            l.running += 1;
            l.lane.record(LaneEvent::Started);
            Entry::Run
        } else if l.held.len() < max_waiting {
            Entry::Wait
        } else {
            l.lane.record(LaneEvent::Refused);
            Entry::Refuse {
                running: l.running,
                waiting: l.held.len(),
            }
        }
    }

    /// Holds a request [`Lanes::enter`] told to wait.
    pub fn hold(&mut self, index: usize, token: Token, job: Job) {
        if let Some(l) = self.lanes.get_mut(index) {
            l.held.push_back((token, job));
            l.lane.record(LaneEvent::Held);
        }
    }

    /// A request of lane `index` finished: the next held one, if its turn has come, to send
    /// to the pool.
    pub fn finished(&mut self, index: usize) -> Option<Job> {
        let l = self.lanes.get_mut(index)?;
        l.running = l.running.saturating_sub(1);
        l.lane.record(LaneEvent::Finished);
        if l.running >= l.lane.limits().0 {
            return None;
        }
        let (_, job) = l.held.pop_front()?;
        l.running += 1;
        l.lane.record(LaneEvent::Promoted);
        Some(job)
    }

    /// Whether `token`'s connection has a request held.
    pub fn holds(&self, token: Token) -> bool {
        self.lanes
            .iter()
            .any(|l| l.held.iter().any(|(t, _)| *t == token))
    }

    /// Drops the requests `token`'s connection had held (it closed).
    pub fn forget(&mut self, token: Token) {
        for l in &mut self.lanes {
            let before = l.held.len();
            l.held.retain(|(t, _)| *t != token);
            for _ in l.held.len()..before {
                l.lane.record(LaneEvent::Dropped);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> Job {
        Box::new(|_| {})
    }

    /// Two servers sharing one `Lane` (one plugin instance) each run up to its bound: one's
    /// running request does not hold the other's back, and each promotes its own.
    #[test]
    fn each_server_counts_its_own_and_promotes_in_order() {
        let lane = Arc::new(Lane::new("hash", "busy"));
        lane.set_limits(1, 1);
        let (mut a, mut b) = (Lanes::default(), Lanes::default());
        let (ia, ib) = (a.index(&lane), b.index(&lane));
        assert_eq!(a.enter(ia), Entry::Run);
        assert_eq!(b.enter(ib), Entry::Run, "the other server's pool is free");
        assert_eq!(a.enter(ia), Entry::Wait);
        a.hold(ia, Token(7), job());
        assert_eq!(
            a.enter(ia),
            Entry::Refuse {
                running: 1,
                waiting: 1
            }
        );
        assert!(a.holds(Token(7)) && !b.holds(Token(7)));
        assert!(b.finished(ib).is_none(), "nothing held on b");
        assert!(a.finished(ia).is_some(), "a's held request goes");
        assert!(!a.holds(Token(7)));
        let s = lane.stats();
        assert_eq!(
            (s.running, s.waiting, s.peak_running, s.refused),
            (1, 0, 2, 1)
        );
    }

    #[test]
    fn a_forgotten_request_frees_its_place() {
        let lane = Arc::new(Lane::new("hash", "busy"));
        lane.set_limits(1, 1);
        let mut a = Lanes::default();
        let i = a.index(&lane);
        assert_eq!(a.enter(i), Entry::Run);
        assert_eq!(a.enter(i), Entry::Wait);
        a.hold(i, Token(3), job());
        a.forget(Token(3));
        assert_eq!(a.enter(i), Entry::Wait, "the place is free again");
        assert_eq!(lane.stats().waiting, 0);
    }
}
