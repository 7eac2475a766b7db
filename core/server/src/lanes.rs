//! Requests held on the event loop by their command's lane ([`kino_api::Lane`]) until one of
//! the lane's running requests finishes. They hold no worker and are not in the pool's queue,
//! so other commands go on; a held request whose client hangs up (or half-closes) is dropped
//! at once with its connection, so it frees its place and its work is never done.

use std::collections::VecDeque;
use std::sync::Arc;

use kino_api::Lane;
use mio::Token;

use crate::workers::{Job, WorkerPool};

/// Requests held for one lane, in arrival order, with their connections.
type Held = VecDeque<(Token, Job)>;

/// The lanes seen so far, each with its held requests.
#[derive(Default)]
pub struct Lanes {
    lanes: Vec<(Arc<Lane>, Held)>,
}

impl Lanes {
    /// The index of `lane`, which a finished job reports back (`LoopMsg::LaneFree`).
    pub fn index(&mut self, lane: &Arc<Lane>) -> usize {
        match self.lanes.iter().position(|(l, _)| Arc::ptr_eq(l, lane)) {
            Some(i) => i,
            None => {
                self.lanes.push((Arc::clone(lane), VecDeque::new()));
                self.lanes.len() - 1
            }
        }
    }

    /// Holds a request the lane told to wait.
    pub fn hold(&mut self, index: usize, token: Token, job: Job) {
        if let Some((_, held)) = self.lanes.get_mut(index) {
            held.push_back((token, job));
        }
    }

    /// A request of lane `index` finished: the next held one, if any, goes to the pool.
    pub fn finished(&mut self, index: usize, pool: &WorkerPool) {
        let Some((lane, held)) = self.lanes.get_mut(index) else {
            return;
        };
        if lane.finish() {
            if let Some((_, job)) = held.pop_front() {
                lane.promote();
                pool.submit(job);
            }
        }
    }

    /// Whether `token`'s connection has a request held.
    pub fn holds(&self, token: Token) -> bool {
        self.lanes
            .iter()
            .any(|(_, held)| held.iter().any(|(t, _)| *t == token))
    }

    /// Drops the requests `token`'s connection had held (it closed).
    pub fn forget(&mut self, token: Token) {
        for (lane, held) in &mut self.lanes {
            held.retain(|(t, _)| {
                let keep = *t != token;
                if !keep {
                    lane.leave_waiting();
                }
                keep
            });
        }
    }
}
