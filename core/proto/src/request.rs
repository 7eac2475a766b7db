//! One request: `{"type": "<command>", "id": <echoed>, "session": <token>, ...arguments}`.

use serde_json::{Map, Value};

use crate::ErrorCode;

/// A parsed request; the arguments are every top-level field other than `type`, `id`, `session`.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The command name, e.g. `auth.login`.
    pub command: String,
    /// Echoed verbatim in the reply so a pipelining client can match replies.
    pub id: Option<Value>,
    /// A session token, standing in for the connection's own login.
    pub session: Option<String>,
    /// The remaining fields.
    pub args: Map<String, Value>,
}

/// Why a frame body is not a request; carries the `id` when one could be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct RequestError {
    /// `bad_frame` or `bad_request`.
    pub code: ErrorCode,
    /// A human sentence for the reply.
    pub message: String,
    /// The request's `id`, if it was an object with one.
    pub id: Option<Value>,
}

/// Parses a frame body. Bodies that are not JSON are `bad_frame`; JSON that is not a request
/// object with a string `type` is `bad_request`.
pub fn parse_request(body: &[u8]) -> Result<Request, RequestError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| RequestError {
        code: ErrorCode::BadFrame,
        message: format!("frame body is not UTF-8 JSON: {e}"),
        id: None,
    })?;
    let Value::Object(mut args) = value else {
        return Err(RequestError {
            code: ErrorCode::BadRequest,
            message: "a request must be a JSON object".into(),
            id: None,
        });
    };
    let id = args.remove("id");
    let command = match args.remove("type") {
        Some(Value::String(s)) if !s.is_empty() => s,
        Some(_) => return Err(bad_request("`type` must be a non-empty string", id)),
        None => return Err(bad_request("missing `type`", id)),
    };
    let session = match args.remove("session") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(_) => return Err(bad_request("`session` must be a string", id)),
    };
    Ok(Request {
        command,
        id,
        session,
        args,
    })
}

fn bad_request(message: &str, id: Option<Value>) -> RequestError {
    RequestError {
        code: ErrorCode::BadRequest,
        message: message.into(),
        id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    proptest! {
        #[test]
        fn any_bytes_parse_or_get_a_frame_or_request_error(body in proptest::collection::vec(any::<u8>(), 0..512)) {
            if let Err(e) = parse_request(&body) {
                prop_assert!(matches!(e.code, ErrorCode::BadFrame | ErrorCode::BadRequest));
            }
        }

        #[test]
        fn any_json_object_with_a_string_type_is_a_request(
            command in "[a-z]{1,8}(\\.[a-z]{1,8})?",
            field in "[a-z_]{1,10}",
            value in any::<i64>(),
        ) {
            prop_assume!(!matches!(field.as_str(), "type" | "id" | "session"));
            let body = json!({"type": command, field.clone(): value}).to_string();
            match parse_request(body.as_bytes()) {
                Ok(r) => {
                    prop_assert_eq!(r.command, command);
                    prop_assert_eq!(r.args.get(&field), Some(&json!(value)));
                }
                Err(e) => prop_assert!(false, "{body}: {e}"),
            }
        }
    }

    #[test]
    fn splits_reserved_fields_from_arguments() {
        let r = parse_request(br#"{"type":"auth.login","id":7,"session":"ab","name":"x"}"#)
            .expect("valid");
        assert_eq!(r.command, "auth.login");
        assert_eq!(r.id, Some(json!(7)));
        assert_eq!(r.session.as_deref(), Some("ab"));
        assert_eq!(Value::Object(r.args), json!({"name": "x"}));
    }

    #[test]
    fn rejects_non_objects_and_bad_types() {
        assert_eq!(
            parse_request(b"\xff\xfe").unwrap_err().code,
            ErrorCode::BadFrame
        );
        assert_eq!(
            parse_request(b"[1,2]").unwrap_err().code,
            ErrorCode::BadRequest
        );
        assert_eq!(
            parse_request(b"{}").unwrap_err().code,
            ErrorCode::BadRequest
        );
        let err = parse_request(br#"{"type":5,"id":"q"}"#).unwrap_err();
        assert_eq!(
            (err.code, err.id),
            (ErrorCode::BadRequest, Some(json!("q")))
        );
    }
}
