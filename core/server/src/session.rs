//! Server-side sessions: a random token maps to an identity. Identity comes only from here.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use kino_api::Identity;

/// One session.
#[derive(Debug, Clone)]
struct Session {
    identity: Identity,
    last_used: Instant,
}

/// Every live session, shared by the loop and the workers behind a mutex (lookups are a hash
/// probe; nothing slow happens under the lock).
#[derive(Debug)]
pub struct SessionTable {
    // aHash: keyed per process like SipHash (tokens come from clients), several times faster.
    by_token: HashMap<String, Session, ahash::RandomState>,
    ttl: Duration,
}

impl SessionTable {
    /// Sessions end after `ttl` without use.
    pub fn new(ttl: Duration) -> Self {
        SessionTable {
            by_token: HashMap::default(),
            ttl,
        }
    }

    /// Creates a session with a fresh 128-bit token from the OS RNG.
    pub fn begin(&mut self, identity: Identity, now: Instant) -> String {
        let mut raw = [0u8; 16];
        if let Err(e) = getrandom::fill(&mut raw) {
            // Without the OS RNG no token is safe to hand out; refuse to go on.
            panic!("OS random number generator failed: {e}");
        }
        let token = hex::encode(raw);
        self.by_token.insert(
            token.clone(),
            Session {
                identity,
                last_used: now,
            },
        );
        token
    }

    /// The identity behind a token, refreshing its idle timer; expired tokens are removed.
    pub fn resolve(&mut self, token: &str, now: Instant) -> Option<Identity> {
        let ttl = self.ttl;
        let session = self.by_token.get_mut(token)?;
        if now.duration_since(session.last_used) > ttl {
            self.by_token.remove(token);
            return None;
        }
        session.last_used = now;
        Some(session.identity.clone())
    }

    /// Ends one session.
    pub fn end(&mut self, token: &str) {
        self.by_token.remove(token);
    }

    /// Ends every session of a user; returns how many.
    pub fn end_user(&mut self, user_id: i64) -> usize {
        let before = self.by_token.len();
        self.by_token.retain(|_, s| s.identity.user_id != user_id);
        before - self.by_token.len()
    }

    /// Ends every session of a user except `keep`; returns how many.
    pub fn end_user_except(&mut self, user_id: i64, keep: &str) -> usize {
        let before = self.by_token.len();
        self.by_token
            .retain(|t, s| s.identity.user_id != user_id || t == keep);
        before - self.by_token.len()
    }

    /// Drops expired sessions (called from the loop's timer).
    pub fn sweep(&mut self, now: Instant) {
        let ttl = self.ttl;
        self.by_token
            .retain(|_, s| now.duration_since(s.last_used) <= ttl);
    }

    /// Live sessions, for `server.info`.
    pub fn len(&self) -> usize {
        self.by_token.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.by_token.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kino_api::Role;

    fn who(id: i64) -> Identity {
        Identity {
            user_id: id,
            name: format!("u{id}"),
            role: Role::User,
        }
    }

    #[test]
    fn tokens_expire_after_idle_ttl_and_use_refreshes_them() {
        let t0 = Instant::now();
        let mut table = SessionTable::new(Duration::from_secs(10));
        let a = table.begin(who(1), t0);
        assert_eq!(a.len(), 32);
        assert!(table.resolve(&a, t0 + Duration::from_secs(8)).is_some());
        assert!(table.resolve(&a, t0 + Duration::from_secs(16)).is_some());
        assert!(table.resolve(&a, t0 + Duration::from_secs(27)).is_none());
        assert!(table.is_empty());
    }

    #[test]
    fn ending_a_user_ends_all_their_sessions_only() {
        let now = Instant::now();
        let mut table = SessionTable::new(Duration::from_secs(10));
        let a = table.begin(who(1), now);
        let b = table.begin(who(1), now);
        let c = table.begin(who(2), now);
        assert_ne!(a, b);
        assert_eq!(table.end_user(1), 2);
        assert!(table.resolve(&a, now).is_none());
        assert!(table.resolve(&c, now).is_some());
    }

    #[test]
    fn ending_a_user_but_one_keeps_that_one() {
        let now = Instant::now();
        let mut table = SessionTable::new(Duration::from_secs(10));
        let a = table.begin(who(1), now);
        let b = table.begin(who(1), now);
        let c = table.begin(who(2), now);
        assert_eq!(table.end_user_except(1, &a), 1);
        assert!(table.resolve(&a, now).is_some());
        assert!(table.resolve(&b, now).is_none());
        assert!(table.resolve(&c, now).is_some());
    }
}
