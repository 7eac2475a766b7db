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
//! listed by `melody.list`, and are fetched by key, as in the original. The listener serves only
//! results it made itself (a logged-in user's transcription is not reachable here by its key).

use kino_api::serde_json::{json, Map, Value};
use kino_api::{CmdError, Command, CommandArgs, Ctx, Decoded, Framing, Output, Role};

use std::sync::Arc;

use crate::fetch::file_output;
use crate::gate::Gate;
use crate::store::{find, made_by_listener, transcribe_or_reuse};
use crate::transcribe::read_payload;
use kino_melody_engine::{Params, ScoreParams};

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
                let Ok(wav) = base64_decode(b64) else {
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

/// Decodes base64 with ASCII whitespace skipped, a few KiB at a time, so that no second
/// whitespace-free copy of a message as large as `--melodia-max-message` is made.
fn base64_decode(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    use base64::Engine;
    let engine = &base64::engine::general_purpose::STANDARD;
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let mut chunk = [0u8; 4096];
    let mut n = 0;
    let mut padded = false;
    for b in text.bytes().filter(|b| !b.is_ascii_whitespace()) {
        // Padding may only end the whole text, not a chunk that more data follows.
        if padded {
            return Err(base64::DecodeError::InvalidPadding);
        }
        chunk[n] = b;
        n += 1;
        if n == chunk.len() {
            engine.decode_vec(&chunk[..], &mut out)?;
            padded = b == b'=';
            n = 0;
        }
    }
    engine.decode_vec(&chunk[..n], &mut out)?;
    Ok(out)
}

/// `melody.phone_transcribe` (internal; the Melodia listener's request 1). Its transcriptions
/// take their slots from `gate`, all as one anonymous owner.
pub fn transcribe_command(gate: Arc<Gate>) -> Command {
    Command::new(
        "melody.phone_transcribe",
        "Melodia app: transcribe",
        move |ctx, args| phone_transcribe(ctx, args, &gate),
    )
    .role(Role::Anon)
    .internal()
    .upload()
}

/// The Melodia app's transcriber options, accepted and ignored.
#[derive(CommandArgs)]
pub struct PhoneTranscribe {
    /// original transcriber option (ignored)
    pub n: Option<f64>,
    /// original transcriber option (ignored)
    pub m: Option<f64>,
    /// original transcriber option (ignored)
    pub w: Option<f64>,
}

/// `melody.phone_fetch`'s arguments.
#[derive(CommandArgs)]
pub struct PhoneFetch {
    /// the key request 1 answered
    key: String,
}

/// `melody.phone_fetch` (internal; the Melodia listener's request 2).
pub fn fetch_command() -> Command {
    Command::new(
        "melody.phone_fetch",
        "Melodia app: fetch MIDI by key",
        phone_fetch,
    )
    .role(Role::Anon)
    .internal()
    .download()
}

fn phone_transcribe(
    ctx: &mut Ctx,
    _: PhoneTranscribe,
    gate: &Arc<Gate>,
) -> Result<Output, CmdError> {
    let max = ctx.setting(super::MAX_BYTES);
    let wav = read_payload(ctx, max, gate)?;
    let (stored, _) = transcribe_or_reuse(
        ctx,
        gate,
        wav,
        (&Params::default(), &ScoreParams::default()),
        None,
        "Melodia",
    )?;
    Ok(json!({"reply": stored.key}).into())
}

/// Only results the listener made itself: a user's private transcription is `not_found` here
/// like an unknown key, even to someone who knows its key.
fn phone_fetch(ctx: &mut Ctx, args: PhoneFetch) -> Result<Output, CmdError> {
    let key = args.key.as_str();
    let not_found = || CmdError::not_found(format!("no transcription {key}"));
    if !made_by_listener(ctx.db(), key)? {
        return Err(not_found());
    }
    let stored = find(ctx.db(), key)?.ok_or_else(not_found)?;
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
    fn base64_is_decoded_across_chunks_with_whitespace() {
        use base64::Engine;
        let bytes: Vec<u8> = (0..20_000u32).map(|i| (i * 31 % 251) as u8).collect();
        let text = base64::engine::general_purpose::STANDARD.encode(&bytes);
        let wrapped: String = text
            .as_bytes()
            .chunks(76)
            .map(|c| format!("{}\r\n", String::from_utf8_lossy(c)))
            .collect();
        assert_eq!(base64_decode(&wrapped).ok(), Some(bytes));
        let mut padded_early = "QQ==".repeat(1024);
        padded_early.push_str("QUFB");
        assert!(base64_decode(&padded_early).is_err());
    }

    #[test]
    fn answers_are_raw_and_errors_are_silent() {
        let f = framing();
        assert_eq!(f.encode(Ok(&json!({"reply": "abc"}))), b"abc".to_vec());
        assert!(f.encode(Err(&CmdError::not_found("x"))).is_empty());
    }
}
