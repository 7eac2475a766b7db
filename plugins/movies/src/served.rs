//! Free-download waits already served, so that resuming an interrupted download does not wait
//! again. A wait counts as served for (user, movie) only once the download's first bytes were
//! read for sending, that is after the server held the reply for the whole wait and the client
//! was still there: asking for a movie and hanging up during the wait earns nothing. The grant
//! is for that one movie and lasts `--free-download-resume-window` seconds from the start, so
//! it never shortens the wait for another movie. Kept in memory (a restart forgets it), at most
//! `--free-download-resume-max` entries, oldest dropped first.

use std::collections::HashMap;
use std::io::{self, Read};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// (user id, movie id) → when a download that had waited started.
#[derive(Debug, Default)]
pub struct Served {
    started: Mutex<HashMap<(i64, i64), Instant>>,
}

impl Served {
    /// Whether `user` started a waited download of `movie` less than `window` ago.
    pub fn is_fresh(&self, user: i64, movie: i64, window: Duration) -> bool {
        let map = self.started.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&(user, movie))
            .is_some_and(|t| t.elapsed() < window)
    }

    /// Records that `user`'s waited download of `movie` started now; drops entries older than
    /// `window`, then the oldest while over `max`.
    pub fn record(&self, user: i64, movie: i64, window: Duration, max: usize) {
        let mut map = self.started.lock().unwrap_or_else(|p| p.into_inner());
        map.insert((user, movie), Instant::now());
        if map.len() > max {
            map.retain(|_, t| t.elapsed() < window);
        }
        while map.len() > max {
            let oldest = map.iter().min_by_key(|(_, t)| **t).map(|(k, _)| *k);
            match oldest {
                Some(k) => map.remove(&k),
                None => break,
            };
        }
    }

    /// Entries held (for tests of the bound).
    pub fn len(&self) -> usize {
        self.started.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A download's source that records the served wait at its first read (the send thread reads
/// only once the held reply went out).
pub struct MarkOnStart<R> {
    /// The movie's bytes.
    pub inner: R,
    /// Runs once, at the first read.
    pub mark: Option<Box<dyn FnOnce() + Send>>,
}

impl<R: Read> Read for MarkOnStart<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(mark) = self.mark.take() {
            mark();
        }
        self.inner.read(buf)
    }
}

/// The grant rule's settings, read per request.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// How long a served wait counts for the same movie.
    pub window: Duration,
    /// Most entries kept.
    pub max: usize,
}

/// Shared by `movies.get` and `movies.download`.
pub type Shared = Arc<Served>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_are_per_movie_expire_and_are_bounded() {
        let s = Served::default();
        let w = Duration::from_secs(60);
        s.record(1, 10, w, 2);
        assert!(s.is_fresh(1, 10, w));
        assert!(!s.is_fresh(1, 11, w));
        assert!(!s.is_fresh(2, 10, w));
        assert!(!s.is_fresh(1, 10, Duration::ZERO));
        s.record(1, 11, w, 2);
        s.record(1, 12, w, 2);
        assert_eq!(s.len(), 2);
        assert!(!s.is_fresh(1, 10, w), "the oldest went first");
    }
}
