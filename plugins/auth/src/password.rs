//! argon2id password hashes (PHC strings with a random salt), at a cost set by the operator.
//!
//! Hashing takes tens of milliseconds by design, so every command that hashes runs on the worker
//! pool, and only in a [`Turn`] of the hashing gate ([`crate::gate`]). Unknown names are checked
//! against a dummy hash so they cost the same time as real ones.

use std::sync::{Arc, OnceLock};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use kino_api::{CmdError, Lane, Setting};

use crate::gate::{Gate, Permit, Turn};

/// Setting: argon2id memory cost.
pub const ARGON2_MEMORY_KIB: Setting<u64> =
    Setting::new("argon2-memory-kib", "argon2id memory cost in KiB", 19_456);
/// Setting: argon2id time cost.
pub const ARGON2_ITERATIONS: Setting<u64> =
    Setting::new("argon2-iterations", "argon2id time cost (passes)", 2);

/// The configured hasher, a dummy hash for unknown accounts, and the gate its callers pass.
#[derive(Default)]
pub struct Hasher {
    params: OnceLock<Params>,
    dummy: OnceLock<String>,
    /// Bounds the hashes running at once and the callers waiting.
    pub gate: Arc<Gate>,
}

impl Hasher {
    /// Sets the cost once at start-up.
    pub fn configure(&self, memory_kib: u64, iterations: u64) -> Result<(), CmdError> {
        let params = Params::new(
            u32::try_from(memory_kib).unwrap_or(u32::MAX),
            u32::try_from(iterations).unwrap_or(u32::MAX),
            1,
            None,
        )
        .map_err(|e| CmdError::bad_args(format!("argon2 settings: {e}")))?;
        let _ = self.params.set(params);
        let dummy = self.hash_now("not a password of anyone")?;
        let _ = self.dummy.set(dummy);
        Ok(())
    }

    fn argon2(&self) -> Argon2<'static> {
        let params = self.params.get().cloned().unwrap_or_default();
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
    }

    /// Waits for a turn to hash (or `busy`, see [`crate::gate`]).
    pub fn turn(&self) -> Result<Turn<'_>, CmdError> {
        self.gate.enter()
    }

    /// The lane every command that hashes runs in ([`crate::gate`]).
    pub fn lane(&self) -> Arc<Lane> {
        self.gate.lane()
    }

    /// A place in the gate's queue, or `busy` past its bound. Taken before anything is
    /// recorded (the login throttle), so `busy` changes nothing.
    pub fn place(&self) -> Result<Permit, CmdError> {
        self.gate.admit()
    }

    /// Waits for the turn `place` holds a place for.
    pub fn turn_for(&self, place: Permit) -> Turn<'_> {
        self.gate.enter_admitted(place)
    }

    /// A PHC string for `password`, in a turn.
    pub fn hash(&self, _turn: &Turn<'_>, password: &str) -> Result<String, CmdError> {
        self.hash_now(password)
    }

    fn hash_now(&self, password: &str) -> Result<String, CmdError> {
        let salt = SaltString::generate(&mut OsRng);
        self.argon2()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(CmdError::internal)
    }

    /// Whether `password` matches `phc` (the parameters stored in the hash are used, so old
    /// hashes keep working after the cost changes), in a turn.
    pub fn verify(&self, _turn: &Turn<'_>, password: &str, phc: &str) -> bool {
        match PasswordHash::new(phc) {
            Ok(parsed) => self
                .argon2()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok(),
            Err(_) => false,
        }
    }

    /// Spends the time of a real verification, for names that do not exist.
    pub fn verify_dummy(&self, turn: &Turn<'_>, password: &str) {
        if let Some(d) = self.dummy.get() {
            let _ = self.verify(turn, password, d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_are_salted() {
        let h = Hasher::default();
        h.configure(64, 1).expect("params");
        let t = h.turn().expect("a free turn");
        let a = h.hash(&t, "secret").expect("hash");
        let b = h.hash(&t, "secret").expect("hash");
        assert!(a.starts_with("$argon2id$"));
        assert_ne!(a, b);
        assert!(h.verify(&t, "secret", &a));
        assert!(!h.verify(&t, "Secret", &a));
        assert!(!h.verify(&t, "secret", "not a hash"));
    }
}
