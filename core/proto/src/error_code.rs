//! Stable error codes. Clients match on these strings, so a variant is never renamed or reused.

use serde::{Deserialize, Serialize};

/// Why a request failed, as a stable snake_case string on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame body is not UTF-8 JSON.
    BadFrame,
    /// The JSON is not a request object with a string `type`.
    BadRequest,
    /// No command has that name.
    UnknownCommand,
    /// An argument is missing, of the wrong type, or out of range.
    BadArgs,
    /// The command needs a logged-in caller, or the credentials were wrong.
    Unauthenticated,
    /// The caller's role does not allow the command.
    Forbidden,
    /// The thing named does not exist (or is not the caller's to see).
    NotFound,
    /// The request contradicts what exists (duplicate name, content already uploaded, ...).
    Conflict,
    /// The account is locked by an admin.
    Locked,
    /// The item must be bought first.
    PaymentRequired,
    /// A frame or payload is over a configured limit, or the disk has no room for it.
    TooLarge,
    /// Too many attempts; try again later.
    RateLimited,
    /// The server is at a capacity limit (connections, database lock); try again.
    Busy,
    /// The server failed; details are in its log, not on the wire.
    Internal,
    /// The server cannot store anything now (its storage is full or failing); reads still work.
    Unavailable,
}

impl ErrorCode {
    /// Every code, for docs and tests.
    pub const ALL: [ErrorCode; 15] = [
        ErrorCode::BadFrame,
        ErrorCode::BadRequest,
        ErrorCode::UnknownCommand,
        ErrorCode::BadArgs,
        ErrorCode::Unauthenticated,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::Conflict,
        ErrorCode::Locked,
        ErrorCode::PaymentRequired,
        ErrorCode::TooLarge,
        ErrorCode::RateLimited,
        ErrorCode::Busy,
        ErrorCode::Internal,
        ErrorCode::Unavailable,
    ];

    /// The wire string, e.g. `"bad_args"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadFrame => "bad_frame",
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::UnknownCommand => "unknown_command",
            ErrorCode::BadArgs => "bad_args",
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Conflict => "conflict",
            ErrorCode::Locked => "locked",
            ErrorCode::PaymentRequired => "payment_required",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Busy => "busy",
            ErrorCode::Internal => "internal",
            ErrorCode::Unavailable => "unavailable",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_name_matches_as_str() {
        for code in ErrorCode::ALL {
            let json = serde_json::to_value(code).expect("serialise");
            assert_eq!(json, serde_json::Value::String(code.as_str().into()));
        }
    }
}
