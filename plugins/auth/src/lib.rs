//! The auth plugin: accounts, logins, sessions, roles and locking. It is also the worked example
//! in docs/plugins.md: one file per command group, its table as numbered migrations, its
//! settings as data.
//!
//! Layout:
//! - [`register`] — `auth.register`.
//! - [`login`] — `auth.login`, `auth.logout`.
//! - [`throttle`] — failed-login counters per (account, address) and per address.
//! - [`passwd`] — `auth.passwd`.
//! - [`admin`] — `auth.users`, `auth.lock`, `auth.unlock`.
//! - [`password`] — argon2id hashing with configurable cost.
//! - [`gate`] — how many hashes run at once, and how many callers wait.
//! - [`names`] — folding names (NFKC, case) and the one-script rule.
//! - [`account`] — the account row and the password policy.
//! - [`migrate`] — folded keys for accounts made before names were folded.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]
pub mod account;
pub mod admin;
pub mod gate;
pub mod login;
pub mod migrate;
pub mod names;
pub mod passwd;
pub mod password;
pub mod register;
pub mod throttle;

use std::sync::Arc;

use kino_api::{CmdError, Command, Ctx, Migration, Plugin, Setting};

use crate::password::Hasher;

/// The plugin value the server lists.
#[derive(Default)]
pub struct Auth {
    hasher: Arc<Hasher>,
}

impl Auth {
    /// A fresh plugin.
    pub fn new() -> Self {
        Self::default()
    }
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "users",
        sql: "CREATE TABLE users (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE COLLATE NOCASE,
            role TEXT NOT NULL CHECK (role IN ('user', 'admin')),
            password_hash TEXT NOT NULL,
            locked INTEGER NOT NULL DEFAULT 0,
            failed_logins INTEGER NOT NULL DEFAULT 0,
            cooldown_until INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL
          );",
    },
    Migration {
        version: 2,
        name: "folded names and login throttle",
        // `name_key` is filled for older rows by `migrate::fold_existing` at start-up (folding
        // needs Unicode tables SQL does not have). `failed_logins` and `cooldown_until` are no
        // longer used: counters live in `login_throttle`, keyed by client address.
        sql: "ALTER TABLE users ADD COLUMN name_key TEXT;
          CREATE UNIQUE INDEX users_name_key ON users (name_key);
          CREATE TABLE login_throttle (
            scope TEXT NOT NULL,
            addr TEXT NOT NULL,
            failures INTEGER NOT NULL,
            reset_at INTEGER NOT NULL,
            PRIMARY KEY (scope, addr)
          );
          CREATE INDEX login_throttle_reset ON login_throttle (reset_at);",
    },
];

impl Plugin for Auth {
    fn name(&self) -> &'static str {
        "auth"
    }

    fn migrations(&self) -> &'static [Migration] {
        MIGRATIONS
    }

    /// Shipped before tables took the plugin's prefix.
    fn tables(&self) -> &'static [&'static str] {
        &["users", "login_throttle"]
    }

    fn settings(&self) -> Vec<Setting> {
        vec![
            throttle::PER_ACCOUNT_ADDRESS.info(),
            throttle::PER_ADDRESS.info(),
            throttle::WINDOW.info(),
            throttle::COOLDOWN.info(),
            account::PASSWORD_MIN_LENGTH.info(),
            register::ALLOW_ADMIN_SIGNUP.info(),
            password::ARGON2_MEMORY_KIB.info(),
            password::ARGON2_ITERATIONS.info(),
            gate::MAX_PARALLEL.info(),
            gate::MAX_QUEUED.info(),
        ]
    }

    fn commands(&self) -> Vec<Command> {
        let h = &self.hasher;
        vec![
            register::command(Arc::clone(h)),
            login::login_command(Arc::clone(h)),
            login::logout_command(),
            passwd::command(Arc::clone(h)),
            admin::users_command(),
            admin::lock_command(),
            admin::unlock_command(),
        ]
    }

    fn stats(&self) -> Option<kino_api::serde_json::Value> {
        Some(self.hasher.gate.stats())
    }

    fn on_start(&self, ctx: &mut Ctx) -> Result<(), CmdError> {
        let s = ctx.settings();
        self.hasher.configure(
            s.of(password::ARGON2_MEMORY_KIB),
            s.of(password::ARGON2_ITERATIONS),
        )?;
        self.hasher
            .gate
            .configure(s.of(gate::MAX_PARALLEL), s.of(gate::MAX_QUEUED));
        migrate::fold_existing(ctx.db())
    }
}

/// The plugin as the server lists it: `kino-server`'s build script calls `plugin()` on every
/// plugin crate it depends on, so adding a plugin needs no code outside the plugin.
pub fn plugin() -> std::sync::Arc<dyn kino_api::Plugin> {
    std::sync::Arc::new(Auth::new())
}
