//! The cheap path for the commonest request shape: an envelope with no arguments
//! (`{"type":"ping","id":7}`), read borrowed from the frame, and its success reply written
//! straight into an output buffer.
//!
//! [`peek_envelope`] allocates nothing and builds no `Value`; it answers only when
//! [`crate::parse_request`] would accept the same body with the same `type`, `id` and
//! `session` and no arguments. Anything else (arguments, a repeated key, an escaped string,
//! bad JSON) is `None`, and the caller takes the full parse, which owns every error reply.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::HEADER_LEN;

/// The reserved fields of a request that has no arguments, borrowed from its frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Envelope<'a> {
    /// The command name, non-empty.
    pub command: &'a str,
    /// The `id` exactly as sent (JSON text).
    pub id: Option<&'a str>,
    /// The `session` token (`null` reads as none, as in the full parse).
    pub session: Option<&'a str>,
}

/// The envelope of `body` when it is a request without arguments and without escapes in its
/// keys, `type` or `session`; `None` means "parse it in full".
pub fn peek_envelope(body: &[u8]) -> Option<Envelope<'_>> {
    exact(body).or_else(|| serde_json::from_slice::<Peek>(body).ok()?.0)
}

/// The raw text of `type` when `body` opens with `{"type":"` (what clients write), found
/// without parsing: a caller skips [`peek_envelope`] for a command it would not answer from
/// it, so a request with arguments is not read twice. `None` for any other opening.
pub fn leading_type(body: &[u8]) -> Option<&str> {
    let rest = body.strip_prefix(br#"{"type":""#)?;
    let end = rest.iter().position(|&b| b == b'"')?;
    std::str::from_utf8(&rest[..end]).ok()
}

/// `{"type":"NAME"}` or `{"type":"NAME","id":N}` byte for byte, NAME of lower-case ASCII
/// letters, digits, `.` and `_`, N a non-negative integer without leading zeros: what clients
/// write, matched without a JSON parser.
fn exact(body: &[u8]) -> Option<Envelope<'_>> {
    let rest = body.strip_prefix(br#"{"type":""#)?;
    let end = rest.iter().position(|&b| b == b'"')?;
    let (name, rest) = (&rest[..end], &rest[end + 1..]);
    let name_byte =
        |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_');
    if name.is_empty() || !name.iter().all(name_byte) {
        return None;
    }
    let id = match rest {
        b"}" => None,
        _ => {
            let n = rest.strip_prefix(br#","id":"#)?.strip_suffix(b"}")?;
            let leading_zero = n.len() > 1 && n[0] == b'0';
            if n.is_empty() || n.len() > 19 || leading_zero || !n.iter().all(u8::is_ascii_digit) {
                return None;
            }
            Some(std::str::from_utf8(n).ok()?)
        }
    };
    Some(Envelope {
        command: std::str::from_utf8(name).ok()?,
        id,
        session: None,
    })
}

struct Peek<'a>(Option<Envelope<'a>>);

impl<'de> serde::Deserialize<'de> for Peek<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(PeekVisitor)
    }
}

struct PeekVisitor;

impl<'de> Visitor<'de> for PeekVisitor {
    type Value = Peek<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a request object without arguments")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Peek<'de>, A::Error> {
        let (mut command, mut id, mut session) = (None, None, None);
        // Errors here only end the peek; the full parse says what was wrong.
        let again = || de::Error::custom("not the simple shape");
        while let Some(key) = map.next_key::<&'de str>()? {
            match key {
                "type" if command.is_none() => command = Some(map.next_value::<&'de str>()?),
                "id" if id.is_none() => id = Some(map.next_value::<&'de RawValue>()?.get()),
                "session" if session.is_none() => {
                    session = Some(map.next_value::<Option<&'de str>>()?)
                }
                _ => return Err(again()),
            }
        }
        Ok(Peek(command.filter(|c| !c.is_empty()).map(|command| {
            Envelope {
                command,
                id,
                session: session.flatten(),
            }
        })))
    }
}

/// Appends the frame of a success reply, `{"ok":true,"id":ID,"data":DATA}` (the bytes
/// `frame_json(&Reply::ok(id, data))` gives), where `id` and `data` are JSON text already.
pub fn push_ok_frame(out: &mut Vec<u8>, id: Option<&str>, data: &[u8]) {
    const HEAD: &[u8] = br#"{"ok":true,"id":"#;
    const MID: &[u8] = br#","data":"#;
    let id = id.unwrap_or("null").as_bytes();
    let len = HEAD.len() + id.len() + MID.len() + data.len() + 1;
    out.reserve(HEADER_LEN + len);
    out.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(HEAD);
    out.extend_from_slice(id);
    out.extend_from_slice(MID);
    out.extend_from_slice(data);
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_leading_type_is_read_only_from_the_usual_opening() {
        assert_eq!(
            leading_type(br#"{"type":"movies.list","limit":5}"#),
            Some("movies.list")
        );
        assert_eq!(leading_type(br#"{"id":1,"type":"ping"}"#), None);
        assert_eq!(leading_type(br#"{"type":"pi\u006eg"}"#), Some("pi\\u006eg"));
        assert_eq!(leading_type(br#"{"type":"ping"#), None);
    }
    use crate::{frame::frame_json, parse_request, Id, Reply};
    use proptest::prelude::*;
    use serde_json::json;

    /// Whenever the peek answers, the full parse accepts the body and agrees with it.
    fn agrees(body: &[u8]) {
        let Some(env) = peek_envelope(body) else {
            return;
        };
        let full = parse_request(body).expect("the peek accepted what the parse refuses");
        assert_eq!(full.command, env.command);
        assert_eq!(full.id.as_ref().map(Id::get), env.id);
        assert_eq!(full.session.as_deref(), env.session);
        assert!(full.args.is_empty());
    }

    #[test]
    fn reads_envelopes_without_arguments() {
        let env = peek_envelope(br#"{"type":"ping"}"#).unwrap();
        assert_eq!((env.command, env.id, env.session), ("ping", None, None));
        let env =
            peek_envelope(br#" { "id" : [1, {"a":2}] , "type":"ping","session":"ab"} "#).unwrap();
        assert_eq!(env.id, Some(r#"[1, {"a":2}]"#));
        assert_eq!(env.session, Some("ab"));
        assert_eq!(
            peek_envelope(br#"{"type":"ping","session":null}"#)
                .unwrap()
                .session,
            None
        );
    }

    #[test]
    fn matches_the_common_shapes_without_the_parser() {
        for (body, command, id) in [
            (&br#"{"type":"ping"}"#[..], "ping", None),
            (
                br#"{"type":"movies.list","id":0}"#,
                "movies.list",
                Some("0"),
            ),
            (
                br#"{"type":"a_1","id":1234567890123456789}"#,
                "a_1",
                Some("1234567890123456789"),
            ),
        ] {
            assert_eq!(
                exact(body),
                Some(Envelope {
                    command,
                    id,
                    session: None
                })
            );
            agrees(body);
        }
        for body in [
            &br#"{"type":"ping","id":01}"#[..],
            br#"{"type":"ping","id":-1}"#,
            br#"{"type":"ping","id":}"#,
            br#"{"type":"Ping"}"#,
            br#"{"type":""}"#,
            br#"{"type":"ping"} "#,
            br#"{"type":"ping","id":1,"x":2}"#,
        ] {
            assert_eq!(exact(body), None, "{}", String::from_utf8_lossy(body));
            agrees(body);
        }
    }

    #[test]
    fn leaves_everything_else_to_the_full_parse() {
        let cases: [&[u8]; 12] = [
            br#"{"type":"ping","a":1}"#,
            br#"{"type":"ping","type":"ping"}"#,
            br#"{"type":"ping","id":1,"id":1}"#,
            br#"{"type":"ping","session":"a","session":"a"}"#,
            br#"{"type":"p\u0069ng"}"#,
            br#"{"t\u0079pe":"ping"}"#,
            br#"{"type":""}"#,
            br#"{"type":5}"#,
            br#"{"id":1}"#,
            br#"{"type":"ping"} x"#,
            br#"["ping"]"#,
            b"\xff",
        ];
        for body in cases {
            assert_eq!(
                peek_envelope(body),
                None,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn the_written_reply_is_the_serialised_one() {
        for (id, data) in [
            (None, json!("pong")),
            (Some("7"), json!("pong")),
            (Some(r#""a\"b""#), json!({"x": [1, null]})),
            (Some("18446744073709551615123"), json!(null)),
        ] {
            let want = frame_json(&Reply::ok(
                id.map(|t| Id::from(RawValue::from_string(t.to_string()).unwrap())),
                data.clone(),
            ));
            let mut got = b"before".to_vec();
            push_ok_frame(&mut got, id, &serde_json::to_vec(&data).unwrap());
            assert_eq!(&got[6..], &want[..]);
        }
    }

    proptest! {
        #[test]
        fn any_bytes_peek_only_what_parses(body in proptest::collection::vec(any::<u8>(), 0..64)) {
            agrees(&body);
        }

        #[test]
        fn envelope_shapes_peek_only_what_parses(
            keys in proptest::collection::vec(
                proptest::sample::select(vec!["type", "id", "session", "x", r"t\u0079pe"]), 0..4),
            values in proptest::collection::vec(
                proptest::sample::select(
                    vec![r#""ping""#, r#""""#, "null", "1", "01", "[1]", r#"{"a":1}"#, r#""p\u0069""#],
                ),
                4),
        ) {
            let fields: Vec<String> = keys
                .iter()
                .zip(&values)
                .map(|(k, v)| format!("\"{k}\":{v}"))
                .collect();
            let body = format!("{{{}}}", fields.join(","));
            agrees(body.as_bytes());
            if keys.len() == 1 && keys[0] == "type" && values[0] == "\"ping\"" {
                prop_assert!(peek_envelope(body.as_bytes()).is_some());
            }
        }
    }
}
