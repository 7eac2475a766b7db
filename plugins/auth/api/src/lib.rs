//! The auth plugin's contract for plugins that put another protocol's accounts on top of it
//! (the legacy plugin). Password hashes and the accounts table never leave the auth plugin:
//! these are its user-facing commands, run as the caller with their usual checks.

use kino_api::Service;
use serde::{Deserialize, Serialize};

/// Creates an account; `conflict` when the name is taken, `forbidden` for an admin account the
/// server does not allow.
pub const REGISTER: Service<Register, Registered> = Service::new("auth.register");

/// Logs in: begins a session (in a nested call the connection is not bound to it; the token is
/// in the reply for the caller to pass on). `unauthenticated` for a wrong name or password.
pub const LOGIN: Service<Login, LoggedIn> = Service::new("auth.login");

/// Request of [`REGISTER`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Register {
    /// Account name.
    pub name: String,
    /// Password.
    pub password: String,
    /// `user` (default) or `admin`.
    pub role: Option<String>,
}

/// Reply of [`REGISTER`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registered {
    /// The account's id.
    pub user_id: i64,
    /// Its name.
    pub name: String,
    /// `user` or `admin`.
    pub role: String,
}

/// Request of [`LOGIN`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Login {
    /// Account name.
    pub name: String,
    /// Password.
    pub password: String,
}

/// Reply of [`LOGIN`]; other plugins' login hooks add fields, of which only `is_vip` is part
/// of this contract.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedIn {
    /// The session token.
    pub session: String,
    /// The account's id.
    pub user_id: i64,
    /// Its name.
    pub name: String,
    /// `user` or `admin`.
    pub role: String,
    /// Set by the vip plugin's login hook; false without it.
    #[serde(default)]
    pub is_vip: bool,
}
