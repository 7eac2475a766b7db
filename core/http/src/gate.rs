//! How many HTTP requests may hold a database connection at once. A connection's thread is
//! cheap while it reads or streams, but a command running on it holds a database connection
//! and may burn a core (an argon2 login) or many megabytes (a transcription); without a bound,
//! `--http-max-connections` clients could run that many at once and open that many database
//! connections. So commands take one of `--http-max-handlers` places, waiting at most
//! `--http-handler-wait` for one (a short queue, fair enough for a page's bursts), and uploads
//! take one of `--max-transfers` places at once or not at all (an upload holds its place while
//! its body streams, so it never waits in line behind, or in front of, short commands).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use kino_server::stats::ServerStats;

#[derive(Default)]
struct Taken {
    total: usize,
    /// Only addresses holding a place: at most `max` entries.
    by_ip: HashMap<IpAddr, usize>,
}

/// A counted set of places, with a share per client address.
#[derive(Default)]
pub struct Gate {
    taken: Mutex<Taken>,
    freed: Condvar,
}

/// One place; dropping it frees the place.
pub struct Place {
    gate: Arc<Gate>,
    ip: IpAddr,
}

/// How many places there are: in all, and for one address.
#[derive(Debug, Clone, Copy)]
pub struct Bound {
    /// Places in all.
    pub max: usize,
    /// Places one address may hold.
    pub per_ip: usize,
}

impl Gate {
    fn lock(&self) -> MutexGuard<'_, Taken> {
        self.taken.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes a place for `ip`, waiting up to `wait` for one to free.
    pub fn take(self: &Arc<Self>, ip: IpAddr, bound: Bound, wait: Duration) -> Option<Place> {
        let deadline = Instant::now() + wait;
        let mut taken = self.lock();
        loop {
            let mine = taken.by_ip.get(&ip).copied().unwrap_or(0);
            if taken.total < bound.max && mine < bound.per_ip {
                break;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            taken = match self.freed.wait_timeout(taken, left) {
                Ok((t, _)) => t,
                Err(p) => p.into_inner().0,
            };
        }
        taken.total += 1;
        *taken.by_ip.entry(ip).or_insert(0) += 1;
        Some(Place {
            gate: Arc::clone(self),
            ip,
        })
    }

    /// Places taken now.
    pub fn taken(&self) -> usize {
        self.lock().total
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut taken = self.gate.lock();
        taken.total = taken.total.saturating_sub(1);
        if let Some(n) = taken.by_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                taken.by_ip.remove(&self.ip);
            }
        }
        drop(taken);
        // Waiters wait on different addresses: wake them all to look again.
        self.gate.freed.notify_all();
    }
}

/// A running command's place, also reported in `server.info` (`http_handlers`).
pub struct Handler<'a> {
    _place: Place,
    stats: &'a ServerStats,
}

impl<'a> Handler<'a> {
    /// Counts `place` as a running handler.
    pub fn new(place: Place, stats: &'a ServerStats) -> Self {
        ServerStats::add(&stats.http_handlers, 1);
        let running = place.gate.taken() as u64;
        ServerStats::max(&stats.http_handlers_peak, running);
        Handler {
            _place: place,
            stats,
        }
    }
}

impl Drop for Handler<'_> {
    fn drop(&mut self) {
        ServerStats::sub(&self.stats.http_handlers, 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_past_the_bound_wait_then_fail() {
        let gate = Arc::new(Gate::default());
        let ip: IpAddr = [10, 0, 0, 1].into();
        let bound = Bound { max: 2, per_ip: 2 };
        let a = gate.take(ip, bound, Duration::ZERO);
        let b = gate.take(ip, bound, Duration::ZERO);
        assert!(a.is_some() && b.is_some());
        assert!(gate.take(ip, bound, Duration::from_millis(20)).is_none());
        let waiter = {
            let gate = Arc::clone(&gate);
            std::thread::spawn(move || gate.take(ip, bound, Duration::from_secs(10)).is_some())
        };
        std::thread::sleep(Duration::from_millis(50));
        drop(a);
        assert!(
            waiter.join().unwrap_or(false),
            "a freed place goes to the waiter"
        );
        assert_eq!(gate.taken(), 1);
    }

    #[test]
    fn one_address_holds_at_most_its_share() {
        let gate = Arc::new(Gate::default());
        let (one, two): (IpAddr, IpAddr) = ([10, 0, 0, 1].into(), [10, 0, 0, 2].into());
        let bound = Bound { max: 4, per_ip: 2 };
        let held: Vec<_> = (0..2)
            .filter_map(|_| gate.take(one, bound, Duration::ZERO))
            .collect();
        assert_eq!(held.len(), 2);
        assert!(gate.take(one, bound, Duration::ZERO).is_none());
        assert!(gate.take(two, bound, Duration::ZERO).is_some());
        drop(held);
        assert!(gate.take(one, bound, Duration::ZERO).is_some());
        assert_eq!(gate.lock().by_ip.len(), 0, "no entry outlives its places");
    }
}
