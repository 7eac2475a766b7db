//! The error a command returns: a stable code plus a sentence for the caller.

use kino_proto::ErrorCode;

/// A failed command. `internal` errors keep their detail in the server log, not on the wire.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct CmdError {
    /// Stable code for programs.
    pub code: ErrorCode,
    /// Sentence for people.
    pub message: String,
}

impl CmdError {
    /// Any code with a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        CmdError {
            code,
            message: message.into(),
        }
    }

    /// `bad_args`: the request's arguments are wrong.
    pub fn bad_args(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadArgs, message)
    }

    /// `not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }

    /// `conflict`.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Conflict, message)
    }

    /// `forbidden`.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }

    /// `unauthenticated`.
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthenticated, message)
    }

    /// `internal`: logs `detail` and tells the caller only that the server failed.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        log::error!("internal error: {detail}");
        Self::new(ErrorCode::Internal, "internal server error")
    }

    /// `unavailable`: the server's storage is full or failing; logs `detail`. Every plugin's
    /// writes reach it through the `DbError` and `BlobError` conversions below, so none has to
    /// map storage errors itself.
    pub fn unavailable(message: &str, detail: impl std::fmt::Display) -> Self {
        log::error!("storage: {detail}");
        Self::new(ErrorCode::Unavailable, message)
    }
}

/// What a caller reads when the disk is full.
const STORAGE_FULL: &str = "server storage is full; try again later";

/// What a caller reads when a write hits a UNIQUE constraint a handler did not map itself.
pub const DB_CONFLICT: &str = "that already exists";

impl From<crate::DbError> for CmdError {
    /// Fixed messages only: the backend's text (table and column names, SQL) goes to the log.
    fn from(e: crate::DbError) -> Self {
        use crate::DbError;
        match e {
            DbError::Busy => CmdError::new(ErrorCode::Busy, "the database is busy; try again"),
            DbError::Unique(detail) => {
                log::info!("unique constraint: {detail}");
                CmdError::conflict(DB_CONFLICT)
            }
            DbError::Full => CmdError::unavailable(STORAGE_FULL, "database is full"),
            DbError::Io(detail) => {
                CmdError::unavailable("server storage is failing; try again later", detail)
            }
            // A CHECK, NOT NULL or FOREIGN KEY failure, a refused statement, a type mismatch:
            // the plugin's bug, never the caller's, so `internal` with the detail in the log.
            other => CmdError::internal(other),
        }
    }
}

impl From<crate::BlobError> for CmdError {
    fn from(e: crate::BlobError) -> Self {
        match e {
            crate::BlobError::NoSpace { needed, available } => CmdError::new(
                ErrorCode::TooLarge,
                format!("not enough disk space: {needed} bytes needed, {available} available"),
            ),
            crate::BlobError::DigestMismatch { declared, actual } => CmdError::bad_args(format!(
                "content MD5 is {actual}, but the request declared {declared}"
            )),
            crate::BlobError::NotFound(k) => CmdError::not_found(format!("no stored content {k}")),
            crate::BlobError::Incomplete { expected, got } => {
                CmdError::bad_args(format!("payload ended after {got} of {expected} bytes"))
            }
            crate::BlobError::Offset { stored, offset } => CmdError::new(
                ErrorCode::Conflict,
                format!("the upload has {stored} bytes stored: continue from offset {stored}, not {offset}"),
            ),
            crate::BlobError::Damaged { .. } => CmdError::unavailable(
                "this content is damaged on the server; an admin must upload it again",
                e,
            ),
            crate::BlobError::Io(e) if e.kind() == std::io::ErrorKind::StorageFull => {
                CmdError::unavailable(STORAGE_FULL, e)
            }
            // A remote store (S3) that cannot be reached: the client may simply try again.
            crate::BlobError::Io(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionRefused
                        | std::io::ErrorKind::ConnectionReset
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::NotConnected
                ) =>
            {
                CmdError::unavailable("the file store cannot be reached; try again", e)
            }
            other => CmdError::internal(other),
        }
    }
}
