//! Slots for transcriptions: at most `--melody-max-jobs` run at once on the whole server and
//! `--melody-max-jobs-per-user` for one account (the Melodia listener's anonymous requests count
//! as one account). A request that finds no slot is answered `busy` at once instead of
//! queueing, so a burst of recordings never holds more than the slots' worth of analysis
//! buffers and score pixmaps in memory.
//!
//! Recordings are read whole into memory before a slot is taken (a slow upload holds no slot),
//! so the bytes they occupy meanwhile have a server-wide budget of their own,
//! `--melody-max-buffered-bytes`, counted as the buffers grow: an upload that would pass it is
//! `busy`, however many connections send at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use kino_api::{CmdError, ErrorCode};

/// The counters, one per server (each plugin instance's command list gets its own).
#[derive(Debug, Default)]
pub struct Gate {
    running: Mutex<Running>,
}

#[derive(Debug, Default)]
struct Running {
    total: usize,
    by_owner: HashMap<Option<i64>, usize>,
    buffered: u64,
}

/// Bytes of a recording held in memory, counted against the budget until dropped.
#[derive(Debug)]
pub struct Held {
    gate: Arc<Gate>,
    bytes: u64,
}

impl Held {
    /// Counts `more` bytes, or `busy` when the server's recordings would pass `max` bytes.
    pub fn grow(&mut self, more: u64, max: u64) -> Result<(), CmdError> {
        let mut r = self.gate.lock();
        if r.buffered.saturating_add(more) > max {
            return Err(CmdError::new(
                ErrorCode::Busy,
                format!("the server is receiving {max} bytes of recordings; try again shortly"),
            ));
        }
        r.buffered += more;
        self.bytes += more;
        Ok(())
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut r = self.gate.lock();
        r.buffered = r.buffered.saturating_sub(self.bytes);
    }
}

/// A held slot, given back on drop (also when the transcription fails or panics).
#[derive(Debug)]
pub struct Slot {
    gate: Arc<Gate>,
    owner: Option<i64>,
}

impl Gate {
    fn lock(&self) -> std::sync::MutexGuard<'_, Running> {
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// An empty hold on the recordings' byte budget.
    pub fn hold(self: &Arc<Self>) -> Held {
        Held {
            gate: Arc::clone(self),
            bytes: 0,
        }
    }

    /// Takes a slot for `owner` (`None`: the anonymous listener), or `busy` when the server or
    /// the owner is at its limit.
    pub fn enter(
        self: &Arc<Self>,
        owner: Option<i64>,
        max_total: u64,
        max_per_owner: u64,
    ) -> Result<Slot, CmdError> {
        let mut r = self.lock();
        let mine = r.by_owner.get(&owner).copied().unwrap_or(0);
        if mine as u64 >= max_per_owner {
            return Err(CmdError::new(
                ErrorCode::Busy,
                format!(
                    "you already have {mine} transcription(s) running (at most {max_per_owner}); try again when it is done"
                ),
            ));
        }
        if r.total as u64 >= max_total {
            return Err(CmdError::new(
                ErrorCode::Busy,
                format!("the server is running {max_total} transcriptions; try again shortly"),
            ));
        }
        r.total += 1;
        *r.by_owner.entry(owner).or_insert(0) += 1;
        Ok(Slot {
            gate: Arc::clone(self),
            owner,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut r = self.gate.lock();
        r.total = r.total.saturating_sub(1);
        if let Some(n) = r.by_owner.get_mut(&self.owner) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                r.by_owner.remove(&self.owner);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_bounded_per_owner_and_overall_and_come_back() {
        let gate = Arc::new(Gate::default());
        let a = gate.enter(Some(1), 2, 1);
        assert!(a.is_ok());
        assert!(gate.enter(Some(1), 2, 1).is_err(), "per owner");
        let b = gate.enter(None, 2, 1);
        assert!(b.is_ok());
        assert!(gate.enter(Some(2), 2, 1).is_err(), "overall");
        drop(a);
        assert!(gate.enter(Some(2), 2, 1).is_ok());
    }

    #[test]
    fn the_byte_budget_is_shared_and_given_back() {
        let gate = Arc::new(Gate::default());
        let mut a = gate.hold();
        assert!(a.grow(60, 100).is_ok());
        let mut b = gate.hold();
        assert!(b.grow(50, 100).is_err());
        assert!(b.grow(40, 100).is_ok());
        drop(a);
        assert!(b.grow(60, 100).is_ok());
    }
}
