//! argon2id password hashes (PHC strings with a random salt), at a cost set by the operator.
//!
//! Hashing takes tens of milliseconds by design, so every command that hashes runs on the worker
//! pool. Unknown names are checked against a dummy hash so they cost the same time as real ones.

use std::sync::OnceLock;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use kino_api::{CmdError, Setting};

/// Setting: argon2id memory cost.
pub const ARGON2_MEMORY_KIB: Setting<u64> =
    Setting::new("argon2-memory-kib", "argon2id memory cost in KiB", 19_456);
/// Setting: argon2id time cost.
pub const ARGON2_ITERATIONS: Setting<u64> =
    Setting::new("argon2-iterations", "argon2id time cost (passes)", 2);

/// The configured hasher and a dummy hash for unknown accounts.
#[derive(Default)]
pub struct Hasher {
    params: OnceLock<Params>,
    dummy: OnceLock<String>,
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
        let dummy = self.hash("not a password of anyone")?;
        let _ = self.dummy.set(dummy);
        Ok(())
    }

    fn argon2(&self) -> Argon2<'static> {
        let params = self.params.get().cloned().unwrap_or_default();
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
    }

    /// A PHC string for `password`.
    pub fn hash(&self, password: &str) -> Result<String, CmdError> {
        let salt = SaltString::generate(&mut OsRng);
        self.argon2()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(CmdError::internal)
    }

    /// Whether `password` matches `phc` (the parameters stored in the hash are used, so old
    /// hashes keep working after the cost changes).
    pub fn verify(&self, password: &str, phc: &str) -> bool {
        match PasswordHash::new(phc) {
            Ok(parsed) => self
                .argon2()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok(),
            Err(_) => false,
        }
    }

    /// Spends the time of a real verification, for names that do not exist.
    pub fn verify_dummy(&self, password: &str) {
        if let Some(d) = self.dummy.get() {
            let _ = self.verify(password, d);
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
        let a = h.hash("secret").expect("hash");
        let b = h.hash("secret").expect("hash");
        assert!(a.starts_with("$argon2id$"));
        assert_ne!(a, b);
        assert!(h.verify("secret", &a));
        assert!(!h.verify("Secret", &a));
        assert!(!h.verify("secret", "not a hash"));
    }
}
