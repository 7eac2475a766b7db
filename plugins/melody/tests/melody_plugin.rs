//! The melody plugin on a real server: transcription of a generated tune, the stored MIDI and
//! score, caching, privacy, refusals, and the Melodia phone-app listener.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use kino_api::serde_json::{json, Value};
use kino_api::{ErrorCode, Plugin};
use kino_client::Client;
use kino_melody::engine::wav::encode_wav_pcm16;
use kino_melody::Melody;
use kino_testkit::{admin_client, user_client, TestServer};

const RATE: u32 = 16_000;

/// A hummed-like tune: each (MIDI pitch, seconds) with a short silence after it, a few
/// harmonics, soft attack and release.
fn tune(notes: &[(u8, f64)]) -> Vec<u8> {
    let mut samples = vec![0.0f32; (0.3 * f64::from(RATE)) as usize];
    for &(pitch, secs) in notes {
        let f = 440.0 * 2f64.powf((f64::from(pitch) - 69.0) / 12.0);
        let n = (secs * f64::from(RATE)) as usize;
        for i in 0..n {
            let t = i as f64 / f64::from(RATE);
            let env = (t / 0.02).min(1.0).min((secs - t) / 0.03).max(0.0);
            let s: f64 = (1..=4)
                .map(|h| (2.0 * std::f64::consts::PI * f * h as f64 * t).sin() / h as f64)
                .sum();
            samples.push((0.3 * env * s) as f32);
        }
        samples.extend(std::iter::repeat_n(0.0, (0.12 * f64::from(RATE)) as usize));
    }
    encode_wav_pcm16(RATE, &samples)
}

fn scale() -> Vec<u8> {
    tune(&[(60, 0.5), (62, 0.5), (64, 0.5), (67, 0.8)])
}

fn server() -> TestServer {
    TestServer::with_admin(
        kino_testkit::with_auth(vec![Arc::new(Melody) as Arc<dyn Plugin>]),
        |c| c,
    )
}

fn transcribe(c: &mut Client, wav: &[u8], args: Value) -> Result<Value, kino_testkit::ClientError> {
    c.upload(
        "melody.transcribe",
        args,
        &mut &wav[..],
        wav.len() as u64,
        &mut |_| {},
    )
}

fn fetch(c: &mut Client, key: &str, format: &str) -> Result<Vec<u8>, kino_testkit::ClientError> {
    c.send(&json!({"type": "melody.fetch", "key": key, "format": format}))?;
    let data = kino_testkit::into_data(c.recv()?)?;
    let mut out = Vec::new();
    c.recv_payload(data["file_size"].as_u64().unwrap(), &mut out, &mut |_| {})?;
    Ok(out)
}

#[test]
fn a_tune_becomes_notes_midi_and_a_score() {
    let server = server();
    let mut alice = user_client(&server, "alice");
    let reply = transcribe(&mut alice, &scale(), json!({"title": "Scale"})).unwrap();
    let pitches: Vec<u64> = reply["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["pitch"].as_u64().unwrap())
        .collect();
    assert_eq!(pitches, vec![60, 62, 64, 67]);
    assert_eq!(reply["notes"][0]["name"], json!("C4"));
    let onset = reply["notes"][1]["onset_s"].as_f64().unwrap();
    assert!(
        (onset - (0.3 + 0.5 + 0.12)).abs() < 0.05,
        "second onset {onset}"
    );
    assert_eq!(reply["cached"], json!(false));
    let key = reply["key"].as_str().unwrap().to_string();

    let midi = fetch(&mut alice, &key, "midi").unwrap();
    assert_eq!(&midi[..4], b"MThd");
    assert_eq!(midi.len() as u64, reply["midi_size"].as_u64().unwrap());
    let png = fetch(&mut alice, &key, "png").unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(png.len() as u64, reply["png_size"].as_u64().unwrap());

    let again = transcribe(&mut alice, &scale(), json!({"title": "Scale"})).unwrap();
    assert_eq!(
        (again["key"].as_str(), again["cached"].clone()),
        (Some(key.as_str()), json!(true))
    );
    let other_params = transcribe(&mut alice, &scale(), json!({"tempo_bpm": 90})).unwrap();
    assert_ne!(other_params["key"].as_str(), Some(key.as_str()));
    assert_eq!(other_params["tempo_bpm"], json!(90.0));

    let list = alice.call("melody.list", json!({})).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(list[1]["key"].as_str(), Some(key.as_str()));
    assert_eq!(list[1]["notes"], json!(4));
}

/// The `<step>`s (with `<alter>` as "#") of a MusicXML score's notes and its bar count, read
/// with quick-xml, which fails on anything malformed.
fn musicxml_steps(xml: &[u8]) -> (Vec<String>, usize) {
    use quick_xml::events::Event;
    let mut r = quick_xml::Reader::from_str(std::str::from_utf8(xml).unwrap());
    let (mut steps, mut bars, mut open) = (Vec::new(), 0, Vec::new());
    loop {
        match r.read_event().unwrap() {
            Event::Eof => break,
            Event::Start(e) => {
                let name = String::from_utf8(e.name().as_ref().to_vec()).unwrap();
                bars += usize::from(name == "measure");
                open.push(name);
            }
            Event::End(_) => {
                open.pop();
            }
            Event::Text(t) => {
                let t = t.decode().unwrap();
                match open.last().map(String::as_str) {
                    Some("step") => steps.push(t.into_owned()),
                    Some("alter") if t == "1" => {
                        if let Some(s) = steps.last_mut() {
                            s.push('#');
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    assert!(open.is_empty(), "unclosed {open:?}");
    (steps, bars)
}

#[test]
fn a_transcription_is_fetched_as_musicxml() {
    let server = server();
    let mut alice = user_client(&server, "alice");
    let wav = tune(&[(60, 0.5), (62, 0.5), (66, 0.5), (67, 0.8)]);
    let reply = transcribe(
        &mut alice,
        &wav,
        json!({"title": "Scale & <co>", "tempo_bpm": 96}),
    )
    .unwrap();
    let key = reply["key"].as_str().unwrap().to_string();
    alice
        .send(&json!({"type": "melody.fetch", "key": key, "format": "musicxml"}))
        .unwrap();
    let data = kino_testkit::into_data(alice.recv().unwrap()).unwrap();
    assert_eq!(data["format"], json!("musicxml"));
    assert_eq!(data["file_name"], json!(format!("{key}.musicxml")));
    let size = data["file_size"].as_u64().unwrap();
    assert_eq!(Some(size), reply["musicxml_size"].as_u64());
    let mut xml = Vec::new();
    alice.recv_payload(size, &mut xml, &mut |_| {}).unwrap();
    let text = String::from_utf8(xml.clone()).unwrap();
    assert!(text.starts_with("<?xml"), "{text}");
    assert!(text.contains("<score-partwise version=\"4.0\">"));
    assert!(text.contains("Scale &amp; &lt;co&gt;"));
    assert!(text.contains("<per-minute>96</per-minute>"));
    let (steps, bars) = musicxml_steps(&xml);
    // Tied pieces repeat a step; the notes in order are C, D, F#, G.
    let mut distinct = steps.clone();
    distinct.dedup();
    assert_eq!(distinct, vec!["C", "D", "F#", "G"], "{steps:?}");
    assert!((1..=3).contains(&bars), "{bars} bars for 2.7 s at 96 bpm");
    // Nobody else's, as for the other formats.
    let mut bob = user_client(&server, "bob");
    let err = fetch(&mut bob, &key, "musicxml").unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::NotFound));
    let err = fetch(&mut alice, &key, "pdf").unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::BadArgs));
}

#[test]
fn results_are_private_to_their_owner_and_admins() {
    let server = server();
    let mut alice = user_client(&server, "alice");
    let key = transcribe(&mut alice, &scale(), json!({})).unwrap()["key"]
        .as_str()
        .unwrap()
        .to_string();
    let mut bob = user_client(&server, "bob");
    let err = fetch(&mut bob, &key, "midi").unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::NotFound));
    assert_eq!(bob.call("melody.list", json!({})).unwrap(), json!([]));
    let mut admin = admin_client(&server, "root");
    assert_eq!(&fetch(&mut admin, &key, "midi").unwrap()[..4], b"MThd");
    let mut anon = server.client();
    let err = transcribe(&mut anon, &scale(), json!({})).unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::Unauthenticated));
}

#[test]
fn bad_audio_is_refused_and_nothing_is_stored() {
    let server = server();
    let mut alice = user_client(&server, "alice");
    let good = scale();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"definitely not audio".to_vec(), "RIFF"),
        (good[..30].to_vec(), "truncated"),
        (encode_wav_pcm16(RATE, &[]), "sample"),
        (Vec::new(), ""),
    ];
    for (bytes, hint) in cases {
        let err = transcribe(&mut alice, &bytes, json!({})).unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::BadArgs), "{hint}: {err}");
        assert!(
            err.to_string()
                .to_lowercase()
                .contains(&hint.to_lowercase()),
            "{err} lacks {hint}"
        );
    }
    let err = transcribe(&mut alice, &good, json!({"tempo_bpm": 0})).unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::BadArgs));
    assert_eq!(alice.call("melody.list", json!({})).unwrap(), json!([]));
    let blobs = server.data().join("blobs");
    let stored = std::fs::read_dir(&blobs).map(|d| d.count()).unwrap_or(0);
    assert_eq!(stored, 0, "no file may be stored for refused audio");
    assert_eq!(alice.call("ping", json!({})).unwrap(), json!("pong"));
}

fn phone(addr: SocketAddr, message: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    // The app wrote in small pieces; so does this.
    for chunk in message.chunks(1480) {
        s.write_all(chunk).unwrap();
    }
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for (i, c) in bytes.chunks(3).enumerate() {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for k in 0..4 {
            out.push(if k <= c.len() {
                A[(n >> (18 - 6 * k)) as usize & 63] as char
            } else {
                '='
            });
        }
        // Android's Base64.DEFAULT breaks lines every 76 characters.
        if (i + 1) % 19 == 0 {
            out.push('\n');
        }
    }
    out
}

#[test]
fn the_melodia_phone_app_protocol_works_on_its_own_listener() {
    let server = TestServer::with_admin(
        kino_testkit::with_auth(vec![Arc::new(Melody) as Arc<dyn Plugin>]),
        |c| c.setting("melodia-listen", json!("127.0.0.1:0")),
    );
    let (_, addr) = server
        .plugin_listeners
        .iter()
        .find(|(s, _)| *s == "melodia-listen")
        .copied()
        .unwrap();
    let wav = scale();
    let request1 = format!(
        "{}endbidou1",
        json!({"request": 1, "data": base64(&wav), "config": {"n": 1, "m": 2, "w": 3}})
    );
    let key = String::from_utf8(phone(addr, request1.as_bytes())).unwrap();
    assert_eq!(key.len(), 32, "answer {key:?}");
    assert!(key.bytes().all(|b| b.is_ascii_hexdigit()));

    let request2 = format!("{}endbidou1", json!({"request": 2, "data": key}));
    let midi = phone(addr, request2.as_bytes());
    assert_eq!(&midi[..4], b"MThd");

    // A phone result is not anyone's: only an admin reaches it through melody.fetch.
    let mut admin = admin_client(&server, "root");
    assert_eq!(fetch(&mut admin, &key, "midi").unwrap(), midi);

    // Python-literal text (the original evaluated it!), unknown keys and junk: closed, no answer.
    for bad in [
        "{'request': 2, 'data': __import__('os').getcwd()}endbidou1".to_string(),
        format!(
            "{}endbidou1",
            json!({"request": 2, "data": "0123456789abcdef0123456789abcdef"})
        ),
        "garbage endbidou1".to_string(),
    ] {
        assert!(phone(addr, bad.as_bytes()).is_empty(), "{bad}");
    }
    assert_eq!(admin.call("ping", json!({})).unwrap(), json!("pong"));
}

#[test]
fn the_melodia_listener_is_off_by_default() {
    let server = server();
    assert!(server.plugin_listeners.is_empty());
}

#[test]
fn a_recording_over_the_byte_limit_is_too_large_and_the_stream_stays_in_step() {
    let server = TestServer::with_admin(
        kino_testkit::with_auth(vec![Arc::new(Melody) as Arc<dyn Plugin>]),
        |c| c.setting("melody-max-bytes", json!(1000)),
    );
    let mut alice = user_client(&server, "alice");
    // Refused before the handler reads the payload: core drops the rest of the bytes.
    let err = transcribe(&mut alice, &scale(), json!({})).unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::TooLarge));
    assert_eq!(alice.call("melody.list", json!({})).unwrap(), json!([]));
    assert_eq!(alice.call("ping", json!({})).unwrap(), json!("pong"));
}
