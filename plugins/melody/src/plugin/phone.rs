//! The original Melodia phone app's protocol, on its own listener (`--melodia-listen`, off by
//! default; the original used port 2017).
//!
//! A message is a JSON object followed by the marker `endbidou1`; each connection carries one
//! message and is closed after the answer, as the original server did:
//!
//! - `{"request": 1, "data": "<base64 WAV>", "config": {"n": .., "m": .., "w": ..}}` is answered
//!   with the transcription's key as raw ASCII (32 hex digits).
//! - `{"request": 2, "data": "<key>"}` is answered with the raw bytes of the MIDI file.
//!
//! The original evaluated the message text as Python; here it is parsed with serde_json only,
//! and anything that is not such an object closes the connection without an answer (the
//! original's behaviour on errors), as does a message over `--melodia-max-message` bytes.
//! `n`, `m` and `w` were options of the original's external transcriber; they are checked to be
//! numbers when present and otherwise ignored, because Kino's transcriber measures tempo, tuning
//! and note lengths itself. Phone requests have no account: their results have no owner, are not
//! listed by `melody.list`, and are fetched by key, as in the original.

use kino_api::serde_json::{json, Map, Value};
use kino_api::{ArgKind, Args, CmdError, Command, Ctx, Decoded, Framing, Output, Role};

use super::fetch::file_output;
use super::store::{find, transcribe_or_reuse};
use super::transcribe::read_payload;
use crate::Params;

/// The end-of-message marker of the original protocol.
pub const MARKER: &[u8] = b"endbidou1";

/// The framing.
#[derive(Debug)]
pub struct MelodiaFraming {
    max_message: usize,
}

impl MelodiaFraming {
    /// Accepts messages of at most `max_message` bytes.
    pub fn new(max_message: usize) -> Self {
        MelodiaFraming { max_message }
    }
}

fn invalid(why: impl Into<String>) -> Decoded {
    Decoded::Invalid(why.into())
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

impl Framing for MelodiaFraming {
    fn max_message(&self) -> usize {
        self.max_message
    }

    fn decode(&self, input: &[u8]) -> Decoded {
        // The phone sends nothing after the marker until it has its answer, so a complete
        // message is one that ends with it (the original's own test).
        let Some(body) = input.strip_suffix(MARKER) else {
            return Decoded::Incomplete;
        };
        let Ok(Value::Object(msg)) = kino_api::serde_json::from_slice::<Value>(body) else {
            return invalid("not a JSON object before the marker");
        };
        let request = msg.get("request").and_then(number);
        let data = msg.get("data").and_then(Value::as_str);
        match (request, data) {
            (Some(1.0), Some(b64)) => {
                let cleaned: Vec<u8> = b64.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
                let Ok(wav) = base64_decode(&cleaned) else {
                    return invalid("`data` is not base64");
                };
                let mut args = Map::new();
                if let Some(Value::Object(config)) = msg.get("config") {
                    for key in ["n", "m", "w"] {
                        match config.get(key) {
                            None => {}
                            Some(v) => match number(v) {
                                Some(x) => {
                                    args.insert(key.into(), json!(x));
                                }
                                None => return invalid(format!("config.{key} is not a number")),
                            },
                        }
                    }
                }
                Decoded::Request {
                    consumed: input.len(),
                    command: "melody.phone_transcribe".into(),
                    args,
                    payload: Some(wav),
                }
            }
            (Some(2.0), Some(key)) => {
                let mut args = Map::new();
                args.insert("key".into(), json!(key));
                Decoded::Request {
                    consumed: input.len(),
                    command: "melody.phone_fetch".into(),
                    args,
                    payload: None,
                }
            }
            _ => invalid("`request` must be 1 or 2 with a string `data`"),
        }
    }

    fn encode(&self, result: Result<&Value, &CmdError>) -> Vec<u8> {
        match result {
            Ok(data) => data
                .get("reply")
                .and_then(Value::as_str)
                .unwrap_or("")
                .as_bytes()
                .to_vec(),
            // The original answered nothing on failure and closed; so does this.
            Err(_) => Vec::new(),
        }
    }
}

fn base64_decode(text: &[u8]) -> Result<Vec<u8>, base64::DecodeError> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(text)
}

/// `melody.phone_transcribe` (internal; the Melodia listener's request 1).
pub fn transcribe_command() -> Command {
    Command::new(
        "melody.phone_transcribe",
        "Melodia app: transcribe",
        phone_transcribe,
    )
    .role(Role::Internal)
    .upload()
    .arg(
        "n",
        ArgKind::Number,
        false,
        "original transcriber option (ignored)",
    )
    .arg(
        "m",
        ArgKind::Number,
        false,
        "original transcriber option (ignored)",
    )
    .arg(
        "w",
        ArgKind::Number,
        false,
        "original transcriber option (ignored)",
    )
}

/// `melody.phone_fetch` (internal; the Melodia listener's request 2).
pub fn fetch_command() -> Command {
    Command::new(
        "melody.phone_fetch",
        "Melodia app: fetch MIDI by key",
        phone_fetch,
    )
    .role(Role::Internal)
    .download()
    .req_str("key", "the key request 1 answered")
}

fn phone_transcribe(ctx: &mut Ctx, _: &Args) -> Result<Output, CmdError> {
    let max = ctx.settings().u64("melody-max-bytes");
    let wav = read_payload(ctx, max)?;
    let (stored, _) = transcribe_or_reuse(ctx, &wav, &Params::default(), None, "Melodia")?;
    Ok(json!({"reply": stored.key}).into())
}

fn phone_fetch(ctx: &mut Ctx, args: &Args) -> Result<Output, CmdError> {
    let key = args.str("key")?;
    let stored = find(ctx.db(), key)?
        .ok_or_else(|| CmdError::not_found(format!("no transcription {key}")))?;
    file_output(ctx, &stored.midi, json!({"reply": ""}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framing() -> MelodiaFraming {
        MelodiaFraming::new(1 << 20)
    }

    #[test]
    fn decodes_both_requests_and_refuses_the_rest() {
        let f = framing();
        assert!(matches!(f.decode(b"{\"request\": 1"), Decoded::Incomplete));
        let one = b"{\"request\": 1, \"data\": \"UklG\\nRg==\", \"config\": {\"n\": 2, \"m\": \"3\"}}endbidou1";
        match f.decode(one) {
            Decoded::Request {
                command,
                payload,
                args,
                consumed,
            } => {
                assert_eq!(command, "melody.phone_transcribe");
                assert_eq!(payload.as_deref(), Some(&b"RIFF"[..]));
                assert_eq!(args.get("m"), Some(&json!(3.0)));
                assert_eq!(consumed, one.len());
            }
            other => panic!("{other:?}"),
        }
        match f.decode(b"{\"request\": \"2\", \"data\": \"abc\"}endbidou1") {
            Decoded::Request { command, args, .. } => {
                assert_eq!(command, "melody.phone_fetch");
                assert_eq!(args.get("key"), Some(&json!("abc")));
            }
            other => panic!("{other:?}"),
        }
        for bad in [
            &b"__import__('os').system('x')endbidou1"[..],
            b"[1]endbidou1",
            b"{\"request\": 3, \"data\": \"x\"}endbidou1",
            b"{\"request\": 1, \"data\": \"***\"}endbidou1",
            b"{\"request\": 1, \"data\": \"UklGRg==\", \"config\": {\"n\": []}}endbidou1",
        ] {
            assert!(
                matches!(f.decode(bad), Decoded::Invalid(_)),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn answers_are_raw_and_errors_are_silent() {
        let f = framing();
        assert_eq!(f.encode(Ok(&json!({"reply": "abc"}))), b"abc".to_vec());
        assert!(f.encode(Err(&CmdError::not_found("x"))).is_empty());
    }
}
