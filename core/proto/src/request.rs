//! One request: `{"type": "<command>", "id": <echoed>, "session": <token>, ...arguments}`.
//!
//! Parsed in one pass with a visitor rather than through a `Value`: the `id` is kept as raw text
//! ([`Id`]) and a key that appears twice, at any depth, is refused. serde_json would keep the
//! last of two equal keys, so a proxy or log reading the first could see another request than
//! the server runs.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::map::Entry;
use serde_json::value::RawValue;
use serde_json::{Map, Number, Value};

use crate::{ErrorCode, Id};

/// A parsed request; the arguments are every top-level field other than `type`, `id`, `session`.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The command name, e.g. `auth.login`.
    pub command: String,
    /// Echoed byte for byte in the reply so a pipelining client can match replies.
    pub id: Option<Id>,
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
    pub id: Option<Id>,
}

/// Parses a frame body. Bodies that are not JSON are `bad_frame`; JSON that is not a request
/// object with a string `type`, or that repeats a key, is `bad_request`.
pub fn parse_request(body: &[u8]) -> Result<Request, RequestError> {
    let top = serde_json::from_slice::<Top>(body).map_err(|e| {
        if e.is_data() {
            // Only the visitors below raise data errors: a repeated key inside a value.
            RequestError {
                code: ErrorCode::BadRequest,
                message: e.to_string(),
                id: None,
            }
        } else {
            RequestError {
                code: ErrorCode::BadFrame,
                message: format!("frame body is not UTF-8 JSON: {e}"),
                id: None,
            }
        }
    })?;
    let Top::Object(fields) = top else {
        return Err(bad_request("a request must be a JSON object".into(), None));
    };
    let TopFields {
        id,
        command,
        session,
        args,
        repeated,
    } = fields;
    if let Some(key) = repeated {
        let id = if key == "id" { None } else { id };
        return Err(bad_request(format!("key `{key}` appears twice"), id));
    }
    let command = match command {
        Some(Value::String(s)) if !s.is_empty() => s,
        Some(_) => return Err(bad_request("`type` must be a non-empty string".into(), id)),
        None => return Err(bad_request("missing `type`".into(), id)),
    };
    let session = match session {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(_) => return Err(bad_request("`session` must be a string".into(), id)),
    };
    Ok(Request {
        command,
        id,
        session,
        args,
    })
}

fn bad_request(message: String, id: Option<Id>) -> RequestError {
    RequestError {
        code: ErrorCode::BadRequest,
        message,
        id,
    }
}

/// A frame body: a request object, or any other JSON value (read whole so that broken JSON
/// after it is still `bad_frame`).
// Built once per frame on the stack and taken apart at once: boxing would cost an allocation.
#[allow(clippy::large_enum_variant)]
enum Top {
    Object(TopFields),
    NotObject,
}

#[derive(Default)]
struct TopFields {
    id: Option<Id>,
    command: Option<Value>,
    session: Option<Value>,
    args: Map<String, Value>,
    /// The first top-level key seen twice; reported with the `id` when it can be.
    repeated: Option<String>,
}

impl<'de> serde::Deserialize<'de> for Top {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Top, D::Error> {
        d.deserialize_any(TopVisitor)
    }
}

struct TopVisitor;

impl<'de> Visitor<'de> for TopVisitor {
    type Value = Top;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Top, A::Error> {
        let mut t = TopFields::default();
        while let Some(key) = map.next_key::<Key>()? {
            let seen = match key {
                Key::Id => {
                    let raw: Box<RawValue> = map.next_value()?;
                    t.id.replace(Id::from(raw))
                        .is_some()
                        .then(|| "id".to_string())
                }
                Key::Type => {
                    let v = map.next_value_seed(Strict)?;
                    t.command.replace(v).is_some().then(|| "type".to_string())
                }
                Key::Session => {
                    let v = map.next_value_seed(Strict)?;
                    t.session
                        .replace(v)
                        .is_some()
                        .then(|| "session".to_string())
                }
                Key::Other(k) => {
                    let v = map.next_value_seed(Strict)?;
                    match t.args.entry(k) {
                        Entry::Vacant(slot) => {
                            slot.insert(v);
                            None
                        }
                        Entry::Occupied(slot) => Some(slot.key().clone()),
                    }
                }
            };
            if t.repeated.is_none() {
                t.repeated = seen;
            }
        }
        Ok(Top::Object(t))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Top, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Top::NotObject)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Top, E> {
        Ok(Top::NotObject)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Top, E> {
        Ok(Top::NotObject)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Top, E> {
        Ok(Top::NotObject)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Top, E> {
        Ok(Top::NotObject)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Top, E> {
        Ok(Top::NotObject)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Top, E> {
        Ok(Top::NotObject)
    }
}

/// A top-level key; the reserved ones are recognised without allocating.
enum Key {
    Id,
    Type,
    Session,
    Other(String),
}

impl<'de> serde::Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Key, D::Error> {
        d.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl KeyVisitor {
    fn reserved(s: &str) -> Option<Key> {
        match s {
            "id" => Some(Key::Id),
            "type" => Some(Key::Type),
            "session" => Some(Key::Session),
            _ => None,
        }
    }
}

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Key, E> {
        Ok(Self::reserved(s).unwrap_or_else(|| Key::Other(s.to_owned())))
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Key, E> {
        Ok(Self::reserved(&s).unwrap_or(Key::Other(s)))
    }
}

/// Reads a `Value` like serde_json does, but refuses an object that repeats a key.
#[derive(Clone, Copy)]
struct Strict;

impl<'de> DeserializeSeed<'de> for Strict {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }
    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Value, E> {
        Ok(Value::Number(n.into()))
    }
    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Value, E> {
        Ok(Value::Number(n.into()))
    }
    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Value, E> {
        Ok(Number::from_f64(n).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_owned()))
    }
    fn visit_string<E: de::Error>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(v) = seq.next_element_seed(self)? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let v = map.next_value_seed(self)?;
            match out.entry(key) {
                Entry::Vacant(slot) => {
                    slot.insert(v);
                }
                Entry::Occupied(slot) => {
                    return Err(de::Error::custom(format_args!(
                        "key `{}` appears twice in an object",
                        slot.key()
                    )));
                }
            }
        }
        Ok(Value::Object(out))
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
        assert_eq!(r.id, Some(Id::from_value(&json!(7))));
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
            (ErrorCode::BadRequest, Some(Id::from_value(&json!("q"))))
        );
    }

    #[test]
    fn refuses_a_repeated_key_at_any_depth() {
        let cases: [&[u8]; 6] = [
            br#"{"type":"ping","a":1,"a":2}"#,
            br#"{"type":"ping","type":"auth.login"}"#,
            br#"{"type":"ping","session":"x","session":"y"}"#,
            br#"{"type":"ping","id":1,"id":2}"#,
            br#"{"type":"ping","o":{"k":1,"k":1}}"#,
            br#"{"type":"ping","l":[{"a":{"b":1,"b":2}}]}"#,
        ];
        for body in cases {
            let err = parse_request(body).unwrap_err();
            assert_eq!(
                err.code,
                ErrorCode::BadRequest,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        let err = parse_request(br#"{"id":"q","type":"ping","a":1,"a":1}"#).unwrap_err();
        assert_eq!(err.id, Some(Id::from_value(&json!("q"))));
        assert!(err.message.contains("`a`"), "{}", err.message);
    }

    #[test]
    fn equal_keys_in_different_objects_are_fine() {
        let r = parse_request(br#"{"type":"x","a":{"a":1},"b":[{"a":1},{"a":2}]}"#).unwrap();
        assert_eq!(
            Value::Object(r.args),
            json!({"a": {"a": 1}, "b": [{"a": 1}, {"a": 2}]})
        );
    }

    #[test]
    fn keeps_the_id_byte_exact() {
        for id in [
            "18446744073709551615123",
            "1e400",
            "\"abc\"",
            "-0.50",
            "{\"k\": [1]}",
        ] {
            let body = format!(r#"{{"type":"ping","id":{id}}}"#);
            let r = parse_request(body.as_bytes()).unwrap();
            assert_eq!(r.id.map(|i| i.get().to_string()), Some(id.to_string()));
        }
    }

    #[test]
    fn broken_json_after_a_non_object_is_still_a_bad_frame() {
        assert_eq!(
            parse_request(b"[1,2").unwrap_err().code,
            ErrorCode::BadFrame
        );
        assert_eq!(parse_request(b"5 x").unwrap_err().code, ErrorCode::BadFrame);
        assert_eq!(
            parse_request(b"\"s\"").unwrap_err().code,
            ErrorCode::BadRequest
        );
        assert_eq!(
            parse_request(br#"{"type":"x","n":1e400}"#)
                .unwrap_err()
                .code,
            ErrorCode::BadFrame
        );
    }

    #[test]
    fn parses_like_serde_json_when_keys_are_unique() {
        let body = br#"{"type":"t","n":-3,"u":18446744073709551615,"f":1.5,"s":"\u00e9","z":null,"b":[true,false],"o":{"x":[]}}"#;
        let r = parse_request(body).unwrap();
        let mut want: Value = serde_json::from_slice(body).unwrap();
        want.as_object_mut().unwrap().remove("type");
        assert_eq!(Value::Object(r.args), want);
    }
}
