//! The score's notation through a real server: the time signature, key and pickup the
//! transcriber chooses for a tune sung in time, the `time_signature`, `key` and `tempo_bpm`
//! arguments that override them, the reply that reports them, and the MusicXML that follows.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use kino_api::serde_json::{json, Value};
use kino_api::{ErrorCode, Plugin};
use kino_client::Client;
use kino_melody::engine::wav::encode_wav_pcm16;
use kino_melody::Melody;
use kino_testkit::{user_client, TestServer};

const RATE: u32 = 16_000;

/// Happy Birthday in F major, 3/4, from its one-beat pickup: (MIDI pitch, beats).
const BIRTHDAY: [(u8, f64); 25] = [
    (60, 0.75),
    (60, 0.25),
    (62, 1.0),
    (60, 1.0),
    (65, 1.0),
    (64, 2.0),
    (60, 0.75),
    (60, 0.25),
    (62, 1.0),
    (60, 1.0),
    (67, 1.0),
    (65, 2.0),
    (60, 0.75),
    (60, 0.25),
    (72, 1.0),
    (69, 1.0),
    (65, 1.0),
    (64, 1.0),
    (62, 1.0),
    (70, 0.75),
    (70, 0.25),
    (69, 1.0),
    (65, 1.0),
    (67, 1.0),
    (65, 3.0),
];

/// Sings `tune` at `bpm`: each note a few harmonics with soft attack and release, held until
/// 70 ms (at most a third of it) before the next.
fn sing(tune: &[(u8, f64)], bpm: f64) -> Vec<u8> {
    let beat = 60.0 / bpm;
    let mut samples = vec![0.0f32; (0.4 * f64::from(RATE)) as usize];
    for &(pitch, beats) in tune {
        let len = beats * beat;
        let sound = len - (0.07f64).min(len / 3.0);
        let f = 440.0 * 2f64.powf((f64::from(pitch) - 69.0) / 12.0);
        let n = (len * f64::from(RATE)) as usize;
        for i in 0..n {
            let t = i as f64 / f64::from(RATE);
            let env = (t / 0.02).min(1.0).min((sound - t) / 0.03).max(0.0);
            let s: f64 = (1..=4)
                .map(|h| (2.0 * std::f64::consts::PI * f * h as f64 * t).sin() / h as f64)
                .sum();
            samples.push((0.3 * env * s) as f32);
        }
    }
    samples.extend(std::iter::repeat_n(0.0, (0.4 * f64::from(RATE)) as usize));
    encode_wav_pcm16(RATE, &samples)
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

fn musicxml(c: &mut Client, key: &str) -> String {
    c.send(&json!({"type": "melody.fetch", "key": key, "format": "musicxml"}))
        .unwrap();
    let data = kino_testkit::into_data(c.recv().unwrap()).unwrap();
    let mut out = Vec::new();
    c.recv_payload(data["file_size"].as_u64().unwrap(), &mut out, &mut |_| {})
        .unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn a_waltz_with_a_pickup_is_written_in_three_four_in_its_key() {
    let server = server();
    let mut alice = user_client(&server, "alice");
    let wav = sing(&BIRTHDAY, 108.0);
    let reply = transcribe(&mut alice, &wav, json!({"title": "Birthday"})).unwrap();
    let text = reply["score_text"].as_str().unwrap();
    assert_eq!(reply["time_signature"], json!("3/4"), "{reply}");
    assert_eq!(reply["key_signature"], json!("F major"), "{reply}");
    assert_eq!(reply["fifths"], json!(-1));
    assert_eq!(reply["pickup_beats"], json!(1.0));
    assert!(
        (reply["tempo_bpm"].as_f64().unwrap() - 108.0).abs() < 2.0,
        "{reply}"
    );
    assert!(
        text.starts_with("C4 8. C4 16 | D4 q C4 q F4 q | E4 h C4 8. C4 16 |"),
        "{text}"
    );
    assert!(text.contains("| E4 q D4 q Bb4 8. Bb4 16 |"), "{text}");
    assert!(text.ends_with("| F4 h. |"), "{text}");
    // The notes are named as the score spells them.
    let names: Vec<&str> = reply["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"Bb4") && !names.contains(&"A#4"),
        "{names:?}"
    );
    let xml = musicxml(&mut alice, reply["key"].as_str().unwrap());
    assert!(xml.contains("<fifths>-1</fifths>"), "{xml}");
    assert!(xml.contains("<beats>3</beats>") && xml.contains("<beat-type>4</beat-type>"));
    assert!(xml.contains(r#"<measure number="0" implicit="yes">"#));
    let compact: String = xml.split_whitespace().collect();
    assert!(compact.contains("<step>B</step><alter>-1</alter>"), "{xml}");
}

#[test]
fn the_callers_time_signature_key_and_tempo_are_kept_and_reported() {
    let server = server();
    let mut alice = user_client(&server, "alice");
    let wav = sing(&BIRTHDAY, 108.0);
    let args = json!({"time_signature": "4/4", "key": "Bb", "tempo_bpm": 108});
    let reply = transcribe(&mut alice, &wav, args.clone()).unwrap();
    assert_eq!(reply["time_signature"], json!("4/4"), "{reply}");
    assert_eq!(reply["key_signature"], json!("Bb major"));
    assert_eq!(reply["fifths"], json!(-2));
    assert_eq!(reply["tempo_bpm"], json!(108.0));
    assert_eq!(reply["cached"], json!(false));
    let xml = musicxml(&mut alice, reply["key"].as_str().unwrap());
    assert!(xml.contains("<fifths>-2</fifths>") && xml.contains("<beats>4</beats>"));
    // Asked again: the same result, with the same notation.
    let again = transcribe(&mut alice, &wav, args).unwrap();
    assert_eq!(again["cached"], json!(true));
    assert_eq!(again["key"], reply["key"]);
    assert_eq!(again["score_text"], reply["score_text"]);
    // Another key is another result.
    let minor = transcribe(
        &mut alice,
        &wav,
        json!({"key": "Dm", "time_signature": "6/8"}),
    )
    .unwrap();
    assert_ne!(minor["key"], reply["key"]);
    assert_eq!(
        (&minor["key_signature"], &minor["time_signature"]),
        (&json!("D minor"), &json!("6/8"))
    );
}

#[test]
fn unknown_time_signatures_and_keys_are_refused() {
    let server = server();
    let mut alice = user_client(&server, "alice");
    let wav = sing(&BIRTHDAY[..6], 108.0);
    for args in [
        json!({"time_signature": "5/4"}),
        json!({"time_signature": 3}),
        json!({"key": "H"}),
        json!({"key": "B#m"}),
        json!({"tempo_bpm": 1000}),
    ] {
        let err = transcribe(&mut alice, &wav, args.clone()).unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::BadArgs), "{args}");
    }
    // The stream stays in step.
    let ok = transcribe(&mut alice, &wav, json!({"key": "F"})).unwrap();
    assert_eq!(ok["key_signature"], json!("F major"));
}

#[test]
fn a_result_from_before_the_notation_is_transcribed_anew_and_gets_one() {
    let wav = sing(&BIRTHDAY, 108.0);
    let mut first = server();
    let mut alice = user_client(&first, "alice");
    let key = transcribe(&mut alice, &wav, json!({})).unwrap()["key"]
        .as_str()
        .unwrap()
        .to_string();
    drop(alice);
    first.stop();
    let dir = first.take_dir().unwrap();
    // As a result stored before migration 4 left it: no notation.
    let db = rusqlite::Connection::open(dir.path().join("kino.db")).unwrap();
    db.execute("UPDATE melody_results SET notation_json = NULL", [])
        .unwrap();
    drop(db);
    let server = TestServer::in_dir(
        dir.path(),
        kino_testkit::with_auth(vec![Arc::new(Melody) as Arc<dyn Plugin>]),
        |c| c,
    );
    let mut c = server.client();
    c.call(
        "auth.login",
        json!({"name": "alice", "password": "pw-of-user"}),
    )
    .unwrap();
    let again = transcribe(&mut c, &wav, json!({})).unwrap();
    assert_eq!(
        (again["key"].as_str(), again["cached"].clone()),
        (Some(key.as_str()), json!(false))
    );
    assert_eq!(again["time_signature"], json!("3/4"), "{again}");
    assert!(again["score_text"]
        .as_str()
        .unwrap()
        .starts_with("C4 8. C4 16 |"));
    let cached = transcribe(&mut c, &wav, json!({})).unwrap();
    assert_eq!(cached["cached"], json!(true));
    assert_eq!(cached["score_text"], again["score_text"]);
}
