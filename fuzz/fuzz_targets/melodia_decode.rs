//! The Melodia phone protocol's decoder (`<json>endbidou1`) on arbitrary bytes, as the
//! listener calls it on every read: it must say incomplete, invalid or a request, never panic.
#![no_main]

use kino_api::serde_json::json;
use kino_api::{Decoded, Framing};
use kino_melody::phone::{MelodiaFraming, MARKER};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let framing = MelodiaFraming::new(64 * 1024);
    for input in [data.to_vec(), [data, MARKER].concat()] {
        match framing.decode(&input) {
            Decoded::Request { consumed, .. } => assert!(consumed <= input.len()),
            Decoded::Incomplete | Decoded::Invalid(_) => {}
        }
    }
    let _ = framing.encode(Ok(&json!({"reply": String::from_utf8_lossy(data)})));
});
