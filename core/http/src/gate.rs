//! How many HTTP requests may hold a database connection at once. A connection's thread is
//! cheap while it reads or streams, but a command running on it holds a database connection
//! and may burn a core (an argon2 login) or many megabytes (a transcription); without a bound,
//! `--http-max-connections` clients could run that many at once and open that many database
//! connections. So commands take one of `--http-max-handlers` places, waiting at most
//! `--http-handler-wait` for one (a short queue, fair enough for a page's bursts), and uploads
//! take one of `--max-transfers` places at once or not at all (an upload holds its place while
//! its body streams, so it never waits in line behind, or in front of, short commands).

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use kino_server::stats::ServerStats;

/// A counted set of places.
#[derive(Default)]
pub struct Gate {
    taken: Mutex<usize>,
    freed: Condvar,
}

/// One place; dropping it frees the place.
pub struct Place {
    gate: Arc<Gate>,
}

impl Gate {
    /// Takes a place of `max`, waiting up to `wait` for one to free.
    pub fn take(self: &Arc<Self>, max: usize, wait: Duration) -> Option<Place> {
        let deadline = Instant::now() + wait;
        let mut taken = self.taken.lock().unwrap_or_else(|p| p.into_inner());
        while *taken >= max {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            taken = match self.freed.wait_timeout(taken, left) {
                Ok((t, _)) => t,
                Err(p) => p.into_inner().0,
            };
        }
        *taken += 1;
        Some(Place {
            gate: Arc::clone(self),
        })
    }

    /// Places taken now.
    pub fn taken(&self) -> usize {
        *self.taken.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut taken = self.gate.taken.lock().unwrap_or_else(|p| p.into_inner());
        *taken = taken.saturating_sub(1);
        drop(taken);
        self.gate.freed.notify_one();
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
        let a = gate.take(2, Duration::ZERO);
        let b = gate.take(2, Duration::ZERO);
        assert!(a.is_some() && b.is_some());
        assert!(gate.take(2, Duration::from_millis(20)).is_none());
        let waiter = {
            let gate = Arc::clone(&gate);
            std::thread::spawn(move || gate.take(2, Duration::from_secs(10)).is_some())
        };
        std::thread::sleep(Duration::from_millis(50));
        drop(a);
        assert!(
            waiter.join().unwrap_or(false),
            "a freed place goes to the waiter"
        );
        assert_eq!(gate.taken(), 1);
    }
}
