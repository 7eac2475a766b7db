//! The event loop under abuse, on a real server: unread pipelines, a flooding neighbour, silent
//! and slow sockets, half-sent frames, too many connections from one address, too many
//! transfers at once. Each test pushes one bound past its (small) limit and checks that the
//! server keeps serving everybody else.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kino_api::serde_json::{json, Value};
use kino_api::{Plugin, Settings};
use kino_client::Client;
use kino_testkit::{admin_client, TestServer};

fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = (body.len() as u32).to_le_bytes().to_vec();
    out.extend_from_slice(body);
    out
}

fn raw(addr: std::net::SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(8))).unwrap();
    s
}

fn read_reply(s: &mut TcpStream) -> Value {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).unwrap();
    let mut body = vec![0u8; u32::from_le_bytes(len) as usize];
    s.read_exact(&mut body).unwrap();
    kino_api::serde_json::from_slice(&body).unwrap()
}

/// Whether the server closed the stream (EOF or reset) before the read timeout.
fn closed(s: &mut TcpStream) -> bool {
    let mut b = [0u8; 4096];
    loop {
        match s.read(&mut b) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) => return e.kind() == std::io::ErrorKind::ConnectionReset,
        }
    }
}

fn info(admin: &mut Client) -> Value {
    admin.call("server.info", json!({})).unwrap()
}

fn uint(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("server.info has no `{key}`: {v}"))
}

/// Polls `server.info` until `done` holds, for at most `secs` seconds.
fn wait_info(admin: &mut Client, secs: u64, done: impl Fn(&Value) -> bool) -> Value {
    let until = Instant::now() + Duration::from_secs(secs);
    loop {
        let v = info(admin);
        if done(&v) || Instant::now() > until {
            return v;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A fast command with a 64 KiB reply: a few thousand of them outgrow the kernel's socket
/// buffers, so unread replies can only pile up in the server.
struct Big;

const BIG: usize = 64 * 1024;

fn blob(_: &mut kino_api::FastCtx, _: ()) -> Result<kino_api::Output, kino_api::CmdError> {
    Ok(json!("x".repeat(BIG)).into())
}

impl Plugin for Big {
    fn name(&self) -> &'static str {
        "big"
    }
    fn commands(&self) -> Vec<kino_api::Command> {
        vec![kino_api::Command::fast("big.blob", "64 KiB of x", blob).role(kino_api::Role::Anon)]
    }
}

/// Before: 20,000 pipelined `help` requests whose replies are never read grew the server by
/// ~190 MiB and stalled everyone. Now the hog's reply buffer stays near `--max-output`, others are
/// served, and the hog is closed once its replies have not drained for the idle timeout.
#[test]
fn unread_replies_stay_bounded_and_the_hog_is_closed() {
    let max_output = 64 * 1024;
    let server = TestServer::with_admin(
        kino_testkit::with_auth(vec![Arc::new(Big) as Arc<dyn Plugin>]),
        |mut c| {
            c.limits.max_frame = 64 * 1024;
            c.limits.max_output = max_output;
            c.limits.idle_timeout = Duration::from_secs(2);
            c
        },
    );
    let mut admin = admin_client(&server, "root");
    let mut hog = raw(server.addr);
    hog.set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    // 2,000 x 64 KiB = 125 MiB of replies, far beyond what socket buffers absorb.
    let requests: Vec<u8> = (0..2_000)
        .flat_map(|_| frame(br#"{"type":"big.blob"}"#))
        .collect();
    let mut writer = hog.try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        // Blocks once the server stops reading; ends when the server closes the socket.
        let _ = writer.write_all(&requests);
    });
    std::thread::sleep(Duration::from_millis(1000));
    let asked = Instant::now();
    assert_eq!(admin.call("ping", json!({})).unwrap(), json!("pong"));
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "ping took {:?}",
        asked.elapsed()
    );
    let v = info(&mut admin);
    assert!(
        uint(&v, "output_peak") <= 2 * (max_output + BIG + 1024) as u64,
        "one connection's reply buffer grew to {} bytes",
        uint(&v, "output_peak")
    );
    let v = wait_info(&mut admin, 10, |v| uint(v, "connections") == 1);
    assert_eq!(uint(&v, "connections"), 1, "the hog is still open: {v}");
    assert!(uint(&v, "connections_timed_out") >= 1);
    assert!(uint(&v, "output_buffered") < 64 * 1024, "{v}");
    assert!(closed(&mut hog));
    sender.join().unwrap();
}

/// Before: during a pipelined-ping flood a victim's single ping waited until the flood ended.
/// Now each connection gets `--wake-budget` frames per turn, so the victim's reply comes back
/// while the flooder still has most of its replies to come (measured: after a few hundred; with
/// no budget, after 86-95%).
#[test]
fn a_flooding_connection_does_not_starve_a_victim() {
    const FLOOD: usize = 100_000;
    let server = TestServer::start();
    let flooder = raw(server.addr);
    let mut reader = flooder.try_clone().unwrap();
    let mut writer = flooder;
    let answered = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&answered);
    let read_thread = std::thread::spawn(move || {
        let mut len = [0u8; 4];
        let mut body = Vec::new();
        for _ in 0..FLOOD {
            reader.read_exact(&mut len).unwrap();
            body.resize(u32::from_le_bytes(len) as usize, 0);
            reader.read_exact(&mut body).unwrap();
            counted.fetch_add(1, Ordering::Relaxed);
        }
    });
    let requests: Vec<u8> = (0..FLOOD)
        .flat_map(|_| frame(br#"{"type":"ping"}"#))
        .collect();
    let write_thread = std::thread::spawn(move || writer.write_all(&requests).unwrap());
    while answered.load(Ordering::Relaxed) == 0 {
        std::thread::sleep(Duration::from_millis(1));
    }
    let mut victim = server.client();
    assert_eq!(victim.call("ping", json!({})).unwrap(), json!("pong"));
    let when = answered.load(Ordering::Relaxed);
    write_thread.join().unwrap();
    read_thread.join().unwrap();
    assert!(
        when < FLOOD / 2,
        "the victim was answered only after {when} of {FLOOD} flood replies"
    );
    eprintln!("victim answered after {when} of {FLOOD} flood replies");
}

/// Before: a socket that never sent a byte was never closed (20 of them held every slot).
#[test]
fn a_silent_socket_is_closed_after_the_idle_timeout() {
    let server = TestServer::with(kino_testkit::with_auth(vec![]), |mut c| {
        c.limits.idle_timeout = Duration::from_secs(1);
        c
    });
    let mut silent = raw(server.addr);
    let opened = Instant::now();
    assert!(closed(&mut silent), "a silent socket was kept open");
    assert!(opened.elapsed() < Duration::from_secs(4));
    // A client that spoke and now thinks is not cut.
    let mut talker = server.client();
    talker.call("ping", json!({})).unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(talker.call("ping", json!({})).unwrap(), json!("pong"));
}

/// Before: the idle timeout measured only silence, so a byte every 200 ms kept a frame open
/// for ever (slowloris). Now the whole frame must arrive within `--frame-timeout`.
#[test]
fn a_frame_dribbled_byte_by_byte_is_cut_at_the_frame_timeout() {
    let server = TestServer::with(kino_testkit::with_auth(vec![]), |mut c| {
        c.limits.idle_timeout = Duration::from_secs(5);
        c.limits.frame_timeout = Duration::from_secs(1);
        c
    });
    let mut s = raw(server.addr);
    let body = br#"{"type":"ping","pad":"................................................"}"#;
    let bytes = frame(body);
    let mut writer = s.try_clone().unwrap();
    let started = Instant::now();
    let dribble = std::thread::spawn(move || {
        for b in bytes {
            if writer.write_all(&[b]).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    });
    assert!(closed(&mut s), "a dribbled frame was kept open");
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(4),
        "closed after {took:?}; the whole frame would take 15 s"
    );
    dribble.join().unwrap();
    let mut c = server.client();
    assert_eq!(c.call("ping", json!({})).unwrap(), json!("pong"));
}

/// Before: each half-sent frame was said to pin a buffer of the declared length. Input memory
/// now follows the bytes received: 50 frames declaring 60 KiB with 10 bytes sent hold a few KiB.
#[test]
fn half_sent_frames_hold_only_the_bytes_received() {
    let server = TestServer::with_admin(kino_testkit::with_auth(vec![]), |mut c| {
        c.limits.max_frame = 64 * 1024;
        c
    });
    let mut admin = admin_client(&server, "root");
    let mut held = Vec::new();
    for _ in 0..50 {
        let mut s = raw(server.addr);
        let mut partial = (60 * 1024u32).to_le_bytes().to_vec();
        partial.extend_from_slice(b"{\"type\":\"p");
        s.write_all(&partial).unwrap();
        held.push(s);
    }
    let v = wait_info(&mut admin, 5, |v| uint(v, "connections") == 51);
    assert_eq!(uint(&v, "connections"), 51, "{v}");
    let buffered = uint(&v, "input_buffered");
    assert!(
        buffered <= 50 * 1024,
        "50 half-sent frames hold {buffered} bytes of input buffer"
    );
}

/// A plugin with a listener of its own that accepts and never answers: stands in for the
/// Melodia listener when counting connections per address.
struct Side;

struct Mute;

impl kino_api::Framing for Mute {
    fn max_message(&self) -> usize {
        1024
    }
    fn decode(&self, _: &[u8]) -> kino_api::Decoded {
        kino_api::Decoded::Incomplete
    }
    fn encode(&self, _: Result<&Value, &kino_api::CmdError>) -> Vec<u8> {
        Vec::new()
    }
}

impl Plugin for Side {
    fn name(&self) -> &'static str {
        "side"
    }
    fn commands(&self) -> Vec<kino_api::Command> {
        Vec::new()
    }
    fn settings(&self) -> Vec<kino_api::Setting> {
        vec![kino_api::Setting {
            name: "side-listen",
            help: "address of the side listener",
            default: json!(""),
        }]
    }
    fn listeners(&self, _: &Settings) -> Vec<kino_api::Listener> {
        vec![kino_api::Listener {
            setting: "side-listen",
            framing: Arc::new(Mute),
        }]
    }
}

/// `--max-connections-per-ip` counts the main listener and plugin listeners together: one
/// address cannot take every slot by spreading over listeners.
#[test]
fn the_per_address_cap_counts_every_listener() {
    let server = TestServer::with(
        kino_testkit::with_auth(vec![Arc::new(Side) as Arc<dyn Plugin>]),
        |mut c| {
            c.limits.max_connections_per_ip = 3;
            c.setting("side-listen", json!("127.0.0.1:0"))
        },
    );
    let side = server
        .plugin_listeners
        .iter()
        .find(|(s, _)| *s == "side-listen")
        .map(|(_, a)| *a)
        .unwrap();
    let mut a = server.client();
    let mut b = server.client();
    a.call("ping", json!({})).unwrap();
    b.call("ping", json!({})).unwrap();
    let side_conn = raw(side);
    std::thread::sleep(Duration::from_millis(300));
    let mut fourth = raw(server.addr);
    assert_eq!(read_reply(&mut fourth)["error"]["code"], json!("busy"));
    assert!(closed(&mut fourth));
    let mut side_over = raw(side);
    assert!(closed(&mut side_over), "the side listener ignored the cap");
    drop(side_conn);
    std::thread::sleep(Duration::from_millis(300));
    let mut c = server.client();
    assert_eq!(c.call("ping", json!({})).unwrap(), json!("pong"));
}

/// A plugin whose upload reads its whole payload and whose download streams `len` zero bytes:
/// each holds its transfer slot for as long as the client takes.
struct Slots;

fn put(ctx: &mut kino_api::Ctx, _: ()) -> Result<kino_api::Output, kino_api::CmdError> {
    let (reader, _) = ctx
        .take_upload()
        .ok_or_else(|| kino_api::CmdError::internal("no payload"))?;
    let mut got = Vec::new();
    reader
        .read_to_end(&mut got)
        .map_err(kino_api::CmdError::internal)?;
    Ok(json!({"bytes": got.len()}).into())
}

/// `slot.get`'s arguments.
#[derive(kino_api::CommandArgs)]
struct Get {
    /// bytes
    len: u64,
}

fn get(_: &mut kino_api::Ctx, args: Get) -> Result<kino_api::Output, kino_api::CmdError> {
    let len = args.len;
    let out: kino_api::Output = json!({"file_size": len}).into();
    Ok(out.with_body(kino_api::Body {
        len,
        source: Box::new(std::io::repeat(0).take(len)),
        on_complete: None,
        file: None,
    }))
}

impl Plugin for Slots {
    fn name(&self) -> &'static str {
        "slot"
    }
    fn commands(&self) -> Vec<kino_api::Command> {
        vec![
            kino_api::Command::new("slot.put", "reads its payload", put)
                .role(kino_api::Role::User)
                .upload(),
            kino_api::Command::new("slot.get", "streams zeros", get)
                .role(kino_api::Role::User)
                .download(),
        ]
    }
}

fn slots_server(per_user: usize, total: usize) -> TestServer {
    TestServer::with_admin(
        kino_testkit::with_auth(vec![Arc::new(Slots) as Arc<dyn Plugin>]),
        |mut c| {
            c.limits.max_transfers_per_user = per_user;
            c.limits.max_transfers = total;
            c
        },
    )
}

/// Starts an upload of 10 bytes and sends only 5: the handler holds its slot until the rest.
fn half_upload(c: &mut Client) {
    c.send(&json!({"type": "slot.put", "file_size": 10}))
        .unwrap();
    c.send_raw(b"12345").unwrap();
    c.flush().unwrap();
}

fn upload10(c: &mut Client) -> Result<Value, kino_testkit::ClientError> {
    c.upload(
        "slot.put",
        json!({}),
        &mut &b"0123456789"[..],
        10,
        &mut |_| {},
    )
}

/// Before: every upload took an OS thread with no bound (333 slow uploads exhausted the fd
/// limit). Now a user's third concurrent upload gets `busy` (its payload discarded, the
/// connection in step), another user's upload still runs, and a finished upload frees its slot.
#[test]
fn transfers_per_user_are_bounded_and_refusals_keep_the_stream_in_step() {
    let server = slots_server(2, 64);
    kino_testkit::user_client(&server, "alice")
        .call("ping", json!({}))
        .unwrap();
    let alice = || kino_testkit::login(&server, "alice", "pw-of-user").0;
    let (mut a1, mut a2, mut a3) = (alice(), alice(), alice());
    half_upload(&mut a1);
    half_upload(&mut a2);
    std::thread::sleep(Duration::from_millis(200));
    let err = upload10(&mut a3).unwrap_err();
    assert_eq!(err.code(), Some(kino_api::ErrorCode::Busy), "{err:?}");
    assert_eq!(a3.call("ping", json!({})).unwrap(), json!("pong"));
    let mut bob = kino_testkit::user_client(&server, "bob");
    assert_eq!(upload10(&mut bob).unwrap(), json!({"bytes": 10}));
    a1.send_raw(b"67890").unwrap();
    a1.flush().unwrap();
    assert_eq!(
        kino_testkit::into_data(a1.recv().unwrap()).unwrap(),
        json!({"bytes": 10})
    );
    assert_eq!(upload10(&mut a3).unwrap(), json!({"bytes": 10}));
    // Downloads hold slots too: a body nobody reads keeps its pump thread, and its slot.
    let mut reader = alice();
    reader
        .send(&json!({"type": "slot.get", "len": 8 << 20}))
        .unwrap();
    reader.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let err = a3.call("slot.get", json!({"len": 10})).unwrap_err();
    assert_eq!(err.code(), Some(kino_api::ErrorCode::Busy), "{err:?}");
    assert_eq!(a3.call("ping", json!({})).unwrap(), json!("pong"));
    let mut admin = admin_client(&server, "root");
    let v = info(&mut admin);
    assert_eq!(
        (uint(&v, "transfers"), uint(&v, "transfers_rejected")),
        (2, 2),
        "{v}"
    );
}

/// `--max-transfers` bounds every user together.
#[test]
fn transfers_are_bounded_overall() {
    let server = slots_server(4, 2);
    let mut a = kino_testkit::user_client(&server, "alice");
    let mut b = kino_testkit::user_client(&server, "bob");
    let mut c = kino_testkit::user_client(&server, "carol");
    half_upload(&mut a);
    half_upload(&mut b);
    std::thread::sleep(Duration::from_millis(200));
    let err = upload10(&mut c).unwrap_err();
    assert_eq!(err.code(), Some(kino_api::ErrorCode::Busy), "{err:?}");
    a.send_raw(b"67890").unwrap();
    a.flush().unwrap();
    assert!(a.recv().unwrap().ok);
    assert_eq!(upload10(&mut c).unwrap(), json!({"bytes": 10}));
}

/// Nonsensical limits stop the server at start-up with the flag's name.
#[test]
fn nonsensical_limits_are_refused_at_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = kino_server::Config::new(dir.path());
    config.limits.max_frame = 0;
    let err = kino_server::Core::open(config, Vec::new()).err().unwrap();
    assert!(err.to_string().contains("--max-frame"), "{err}");
}

/// The binary says which flag is wrong and exits non-zero instead of serving.
#[test]
fn the_binary_refuses_a_zero_max_frame_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kino-server"))
        .args(["--listen", "127.0.0.1:0", "--max-frame", "0", "--data"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--max-frame must be at least 1"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "it printed an address: it served");
}
