//! Rate-limited warnings. Every refusal logs a line, so a client repeating a bad request could
//! otherwise fill the disk and drown real problems. Lines are counted per key (a peer and a
//! kind of refusal): at most `--warn-rate` a second each; the rest are counted and reported as
//! one "suppressed K" line when their window closes.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Keys tracked at once; beyond this, new keys share one window, so spraying keys (addresses,
/// command names) cannot grow the table or escape the limit.
const MAX_KEYS: usize = 4096;
/// The key shared once the table is full.
const OVERFLOW: &str = "*";
/// Longest key kept; keys carry client-chosen text (command names).
const MAX_KEY_LEN: usize = 96;
const WINDOW: Duration = Duration::from_secs(1);

struct Window {
    start: Instant,
    lines: u32,
    suppressed: u64,
}

/// The limiter; shared by the loop and the workers.
pub struct RateLog {
    per_sec: u32,
    windows: Mutex<HashMap<String, Window>>,
}

fn clip(key: &str) -> &str {
    let mut end = key.len().min(MAX_KEY_LEN);
    while !key.is_char_boundary(end) {
        end -= 1;
    }
    &key[..end]
}

impl RateLog {
    /// At most `per_sec` lines per key and second.
    pub fn new(per_sec: u32) -> Self {
        RateLog {
            per_sec: per_sec.max(1),
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Whether a line for `key` may be written at `now`: `Some(k)` says yes, `k` lines of the
    /// key's previous window having been suppressed; `None` means suppress it (it is counted).
    pub fn check(&self, key: &str, now: Instant) -> Option<u64> {
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let key = clip(key);
        let key = if windows.contains_key(key) || windows.len() < MAX_KEYS {
            key
        } else {
            OVERFLOW
        };
        let w = windows.entry(key.to_string()).or_insert(Window {
            start: now,
            lines: 0,
            suppressed: 0,
        });
        let mut reported = 0;
        if now.duration_since(w.start) >= WINDOW {
            reported = std::mem::take(&mut w.suppressed);
            w.start = now;
            w.lines = 0;
        }
        if w.lines < self.per_sec {
            w.lines += 1;
            Some(reported)
        } else {
            w.suppressed += 1;
            None
        }
    }

    /// Closes the windows older than a second; returns each closed key that suppressed lines,
    /// with how many. Run periodically so counts are reported even when the flood stops.
    pub fn flush(&self, now: Instant) -> Vec<(String, u64)> {
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = Vec::new();
        windows.retain(|key, w| {
            if now.duration_since(w.start) < WINDOW {
                return true;
            }
            if w.suppressed > 0 {
                out.push((key.clone(), w.suppressed));
            }
            false
        });
        out
    }

    /// Logs `msg` at warn level unless `key` is over its rate.
    pub fn warn(&self, key: &str, msg: fmt::Arguments<'_>) {
        match self.check(key, Instant::now()) {
            Some(0) => log::warn!("{msg}"),
            Some(k) => log::warn!("{msg} ({k} similar warnings suppressed)"),
            None => {}
        }
    }

    /// Reports what `flush` closed.
    pub fn report(&self, now: Instant) {
        for (key, k) in self.flush(now) {
            log::warn!("{k} warnings suppressed for `{key}` in the last second");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_warning_collapses_and_its_count_is_reported() {
        let log = RateLog::new(3);
        let t0 = Instant::now();
        let allowed: Vec<_> = (0..10).map(|_| log.check("1.2.3.4 ping", t0)).collect();
        assert_eq!(allowed[..3], [Some(0), Some(0), Some(0)]);
        assert!(allowed[3..].iter().all(Option::is_none));
        // Another key has its own budget.
        assert_eq!(log.check("5.6.7.8 ping", t0), Some(0));
        // The next window's first line carries the count of the previous one.
        let t1 = t0 + Duration::from_millis(1100);
        assert_eq!(log.check("1.2.3.4 ping", t1), Some(7));
        assert_eq!(log.check("1.2.3.4 ping", t1), Some(0));
    }

    #[test]
    fn flush_reports_windows_that_went_quiet_and_forgets_them() {
        let log = RateLog::new(1);
        let t0 = Instant::now();
        for _ in 0..5 {
            log.check("k", t0);
        }
        log.check("quiet", t0);
        assert!(log.flush(t0).is_empty());
        let closed = log.flush(t0 + WINDOW);
        assert_eq!(closed, vec![("k".to_string(), 4)]);
        assert_eq!(log.check("k", t0 + WINDOW), Some(0));
    }

    #[test]
    fn spraying_keys_cannot_grow_the_table_or_escape_the_limit() {
        let log = RateLog::new(2);
        let t0 = Instant::now();
        let logged = (0..MAX_KEYS + 1000)
            .filter(|i| log.check(&format!("10.0.0.1 cmd{i}"), t0).is_some())
            .count();
        assert_eq!(logged, MAX_KEYS + 2);
        let windows = log.windows.lock().unwrap();
        assert_eq!(windows.len(), MAX_KEYS + 1);
        assert!(windows.keys().all(|k| k.len() <= MAX_KEY_LEN));
    }

    #[test]
    fn long_keys_are_clipped_on_a_char_boundary() {
        let key = "é".repeat(MAX_KEY_LEN);
        assert!(clip(&key).len() <= MAX_KEY_LEN);
        assert!(clip(&key).chars().all(|c| c == 'é'));
    }
}
