//! PostgreSQL errors by SQLSTATE: what the plugin sees, and what the backend retries.

use kino_api::DbError;
use postgres::error::SqlState;

/// Maps a PostgreSQL error the way `sqlite::map_err` maps SQLite's, by SQLSTATE.
pub fn map_err(e: &postgres::Error) -> DbError {
    let Some(code) = e.code() else {
        // No SQLSTATE: the socket failed or the server went away.
        return DbError::Io(format!("PostgreSQL connection lost: {e}"));
    };
    let msg = e
        .as_db_error()
        .map_or_else(|| e.to_string(), |d| d.message().to_owned());
    let class = &code.code()[..2];
    match class {
        _ if *code == SqlState::UNIQUE_VIOLATION => DbError::Unique(msg),
        _ if *code == SqlState::FOREIGN_KEY_VIOLATION => DbError::ForeignKey(msg),
        _ if *code == SqlState::INSUFFICIENT_PRIVILEGE => DbError::Denied(msg),
        "23" => DbError::Check(msg),
        "40" => DbError::Busy,
        "08" | "57" => DbError::Io(format!("PostgreSQL unavailable: {msg}")),
        "58" => DbError::Io(msg),
        _ if *code == SqlState::DISK_FULL => DbError::Full,
        _ if *code == SqlState::LOCK_NOT_AVAILABLE => DbError::Busy,
        "53" => DbError::Io(format!("PostgreSQL out of resources: {msg}")),
        _ => DbError::Backend(format!("{msg} ({})", code.code())),
    }
}

pub(super) fn retryable(e: &postgres::Error) -> bool {
    matches!(
        e.code(),
        Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED
    )
}

/// A cached statement that no longer matches the schema (a migration on another node changed a
/// table) or that the server no longer has.
pub(super) fn stale(e: &postgres::Error) -> bool {
    match e.code() {
        Some(c) if *c == SqlState::INVALID_SQL_STATEMENT_NAME => true,
        Some(c) if *c == SqlState::FEATURE_NOT_SUPPORTED => e
            .as_db_error()
            .is_some_and(|d| d.message().contains("cached plan")),
        _ => false,
    }
}

pub(super) fn lost(e: &postgres::Error) -> bool {
    e.code().is_none()
        || e.code()
            .is_some_and(|c| c.code().starts_with("08") || c.code().starts_with("57P"))
}
