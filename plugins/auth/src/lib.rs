//! The auth plugin: accounts, logins, sessions, roles and locking. It is also the worked example
//! in docs/plugins.md: one file per command group, its table as numbered migrations, its
//! settings as data.
//!
//! Layout:
//! - [`register`] — `auth.register`.
//! - [`login`] — `auth.login`, `auth.logout`, the failed-login cool-down.
//! - [`passwd`] — `auth.passwd`.
//! - [`admin`] — `auth.users`, `auth.lock`, `auth.unlock`.
//! - [`password`] — argon2id hashing with configurable cost.
//! - [`account`] — name rules and the account row.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]
pub mod account;
pub mod admin;
pub mod login;
pub mod passwd;
pub mod password;
pub mod register;

use std::sync::Arc;

use kino_api::serde_json::json;
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

const MIGRATIONS: &[Migration] = &[Migration {
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
}];

impl Plugin for Auth {
    fn name(&self) -> &'static str {
        "auth"
    }

    fn migrations(&self) -> &'static [Migration] {
        MIGRATIONS
    }

    fn settings(&self) -> Vec<Setting> {
        vec![
            Setting {
                name: "login-cooldown",
                help: "Seconds an account is refused after 5 failed logins in a row",
                default: json!(300),
            },
            Setting {
                name: "allow-admin-signup",
                help: "Let anyone register an admin over the wire (the legacy client needs it)",
                default: json!(false),
            },
            Setting {
                name: "argon2-memory-kib",
                help: "argon2id memory cost in KiB",
                default: json!(19_456),
            },
            Setting {
                name: "argon2-iterations",
                help: "argon2id time cost (passes)",
                default: json!(2),
            },
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

    fn on_start(&self, ctx: &mut Ctx) -> Result<(), CmdError> {
        let s = ctx.settings();
        self.hasher
            .configure(s.u64("argon2-memory-kib"), s.u64("argon2-iterations"))
    }
}
