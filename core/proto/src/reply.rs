//! Replies: `{"ok": true, "id": .., "data": ..}` or `{"ok": false, "id": .., "error": {code, message}}`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{ErrorCode, Id};

/// The error object of a failed reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Stable, for programs.
    pub code: ErrorCode,
    /// A sentence, for people.
    pub message: String,
}

/// Where a list reply's rows sit in the whole list: a client can say "showing 1-100 of 125"
/// and ask for the next page with `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    /// Rows skipped (the request's `offset`).
    pub offset: u64,
    /// Rows in this reply.
    pub count: u64,
    /// Rows in the whole list.
    pub total: u64,
}

/// A reply as it travels on the wire; clients deserialise into this too.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    /// Whether the command succeeded.
    pub ok: bool,
    /// The request's `id`, echoed; `null` when the request had none or could not be read.
    #[serde(default)]
    pub id: Id,
    /// The result, on success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
    /// The failure, otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
    /// For a page of a list (`limit`/`offset` commands): its place in the whole list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<Page>,
}

impl Reply {
    /// A success carrying `data`.
    pub fn ok(id: Option<Id>, data: Value) -> Reply {
        Reply {
            ok: true,
            id: id.unwrap_or_default(),
            data: Some(data),
            error: None,
            page: None,
        }
    }

    /// A failure with a code and a sentence.
    pub fn err(id: Option<Id>, code: ErrorCode, message: impl Into<String>) -> Reply {
        Reply {
            ok: false,
            id: id.unwrap_or_default(),
            data: None,
            error: Some(ErrorBody {
                code,
                message: message.into(),
            }),
            page: None,
        }
    }

    /// The number of raw bytes that follow this reply (`data.file_size`), 0 when none.
    pub fn payload_len(&self) -> u64 {
        self.data
            .as_ref()
            .and_then(|d| d.get("file_size"))
            .and_then(Value::as_u64)
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn error_reply_shape() {
        let r = Reply::err(
            Some(Id::from_value(&json!(3))),
            ErrorCode::NotFound,
            "no such movie",
        );
        assert_eq!(
            serde_json::to_value(&r).expect("serialise"),
            json!({"ok": false, "id": 3, "error": {"code": "not_found", "message": "no such movie"}})
        );
    }

    #[test]
    fn payload_len_reads_file_size() {
        let r = Reply::ok(None, json!({"file_size": 12}));
        assert_eq!(r.payload_len(), 12);
        assert_eq!(Reply::ok(None, json!([])).payload_len(), 0);
    }
}
