//! Slots for streamed transfers. Every upload and every download body holds an OS thread and
//! a few file descriptors for its whole length, so their number is bounded overall
//! (`--max-transfers`) and per user (`--max-transfers-per-user`; an anonymous caller counts by
//! address). A request that finds no slot is refused with `busy` before any thread starts.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use kino_api::{CmdError, ErrorCode, Identity};

use crate::host::ServerHost;
use crate::stats::ServerStats;

/// Whose transfers count together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Holder {
    /// A logged-in user.
    User(i64),
    /// An anonymous caller, by address.
    Addr(IpAddr),
}

impl Holder {
    /// The caller if logged in, otherwise the peer's address.
    pub fn of(caller: Option<&Identity>, peer: IpAddr) -> Self {
        caller.map_or(Holder::Addr(peer), |c| Holder::User(c.user_id))
    }
}

#[derive(Default)]
struct Counts {
    total: usize,
    by_holder: HashMap<Holder, usize>,
}

/// The slot table, shared by the loop (which takes slots) and transfer threads (which give
/// them back by dropping their [`Slot`]).
pub struct TransferSlots {
    host: Arc<ServerHost>,
    counts: Mutex<Counts>,
}

/// One taken slot; dropping it frees the slot.
pub struct Slot {
    slots: Arc<TransferSlots>,
    holder: Holder,
}

impl TransferSlots {
    /// Limits come from `host.limits`; the `transfers` gauge lives in `host.stats`.
    pub fn new(host: Arc<ServerHost>) -> Arc<Self> {
        Arc::new(TransferSlots {
            host,
            counts: Mutex::new(Counts::default()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes a slot for `holder`, or says `busy` and why.
    pub fn try_take(self: &Arc<Self>, holder: Holder) -> Result<Slot, CmdError> {
        let limits = &self.host.limits;
        let stats = &self.host.stats;
        let mut c = self.lock();
        let mine = c.by_holder.get(&holder).copied().unwrap_or(0);
        let refusal = if mine >= limits.max_transfers_per_user {
            Some(format!(
                "you already have {mine} transfers running (the limit); try again when one finishes"
            ))
        } else if c.total >= limits.max_transfers {
            Some(format!(
                "the server is running {} transfers (the limit); try again later",
                c.total
            ))
        } else {
            None
        };
        if let Some(why) = refusal {
            ServerStats::add(&stats.transfers_rejected, 1);
            return Err(CmdError::new(ErrorCode::Busy, why));
        }
        c.total += 1;
        *c.by_holder.entry(holder).or_insert(0) += 1;
        ServerStats::add(&stats.transfers, 1);
        Ok(Slot {
            slots: Arc::clone(self),
            holder,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut c = self.slots.lock();
        c.total = c.total.saturating_sub(1);
        if let Some(n) = c.by_holder.get_mut(&self.holder) {
            *n -= 1;
            if *n == 0 {
                c.by_holder.remove(&self.holder);
            }
        }
        ServerStats::sub(&self.slots.host.stats.transfers, 1);
    }
}
