//! The page in a real browser: headless Chromium driven over WebDriver (Debian's `chromium`
//! and `chromium-driver`; `.ci/run` installs them with `ffmpeg`). A user signs up, sees the
//! list, plays a real 3-second test pattern (made here by ffmpeg) after the free-download
//! wait and sees `currentTime` advance, seeks without waiting again, buys a charged movie and
//! plays it; an admin uploads and sees the progress bar reach 100 %, then hums: a picked WAV and
//! a recording from Chromium's fake microphone become notes, a score and a MIDI link. Screenshots of each step
//! go to `<target>/tmp/web-browser/` (and were copied by hand into docs/web/ for docs/web.md).
//! Without the engines it skips loudly, unless `KINO_REQUIRE_ENGINES=1`.
#![allow(clippy::unwrap_used)]

mod web_support;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};
use web_support::{login, start, upload};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

struct Driver {
    child: Child,
    base: String,
    session: String,
    shots: PathBuf,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = ureq::delete(&format!("{}/session/{}", self.base, self.session)).call();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wd(method: &str, url: &str, body: Option<Value>) -> Value {
    let req = ureq::request(method, url).timeout(Duration::from_secs(60));
    let res = match body {
        Some(b) => req
            .set("Content-Type", "application/json")
            .send_string(&b.to_string()),
        None => req.call(),
    };
    match res {
        Ok(r) => serde_json::from_str::<Value>(&r.into_string().unwrap()).unwrap()["value"].clone(),
        Err(ureq::Error::Status(code, r)) => {
            panic!(
                "WebDriver {method} {url}: {code} {}",
                r.into_string().unwrap_or_default()
            )
        }
        Err(e) => panic!("WebDriver {method} {url}: {e}"),
    }
}

impl Driver {
    fn start(chromium: &Path, chromedriver: &Path, shots: PathBuf) -> Driver {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while ureq::get(&format!("{base}/status")).call().is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium.to_string_lossy(),
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=420,900",
                         "--autoplay-policy=no-user-gesture-required", "--disable-dev-shm-usage",
                         "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]
            }
        }}});
        let v = wd("POST", &format!("{base}/session"), Some(caps));
        let session = v["sessionId"].as_str().unwrap().to_string();
        std::fs::create_dir_all(&shots).unwrap();
        Driver {
            child,
            base,
            session,
            shots,
        }
    }

    fn url(&self, tail: &str) -> String {
        format!("{}/session/{}/{tail}", self.base, self.session)
    }

    fn go(&self, to: &str) {
        wd("POST", &self.url("url"), Some(json!({"url": to})));
    }

    fn find(&self, css: &str) -> String {
        let v = wd(
            "POST",
            &self.url("element"),
            Some(json!({"using": "css selector", "value": css})),
        );
        v[ELEMENT].as_str().unwrap().to_string()
    }

    fn click(&self, css: &str) {
        let e = self.find(css);
        wd(
            "POST",
            &self.url(&format!("element/{e}/click")),
            Some(json!({})),
        );
    }

    fn type_in(&self, css: &str, text: &str) {
        let e = self.find(css);
        wd(
            "POST",
            &self.url(&format!("element/{e}/clear")),
            Some(json!({})),
        );
        wd(
            "POST",
            &self.url(&format!("element/{e}/value")),
            Some(json!({"text": text})),
        );
    }

    fn js(&self, script: &str) -> Value {
        wd(
            "POST",
            &self.url("execute/sync"),
            Some(json!({"script": script, "args": []})),
        )
    }

    fn shot(&self, name: &str) {
        let b64 = wd("GET", &self.url("screenshot"), None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap())
            .unwrap();
        std::fs::write(self.shots.join(name), png).unwrap();
    }

    /// Polls `expr` (a JS expression) until it is truthy; on timeout saves a screenshot and
    /// fails with the page's message line.
    fn wait_for(&self, what: &str, expr: &str, secs: u64) -> Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let v = self.js(&format!("return ({expr});"));
            if v.as_bool() != Some(false) && !v.is_null() && v != json!(0) {
                return v;
            }
            if Instant::now() > deadline {
                self.shot(&format!("failed-{}.png", what.replace(' ', "-")));
                let msg = self.js("return document.getElementById('msg').textContent;");
                panic!("timed out waiting for {what}; the page says {msg}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn current_time(&self) -> f64 {
        self.js("return document.getElementById('player').currentTime;")
            .as_f64()
            .unwrap()
    }
}

fn clip(ffmpeg: &Path, dir: &Path, name: &str, source: &str) -> Vec<u8> {
    let out = dir.join(name);
    let ok = Command::new(ffmpeg)
        .args(["-loglevel", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("{source}=duration=3:size=240x180:rate=25"))
        .args([
            "-c:v",
            "libvpx",
            "-b:v",
            "200k",
            "-g",
            "25",
            "-deadline",
            "realtime",
            "-cpu-used",
            "8",
        ])
        .arg(&out)
        .status()
        .unwrap();
    assert!(ok.success(), "ffmpeg failed");
    std::fs::read(out).unwrap()
}

#[test]
fn sign_up_watch_buy_and_upload_in_chromium() {
    let engines: Vec<_> = ["chromium", "chromedriver", "ffmpeg"]
        .iter()
        .map(|p| kino_testkit::engines::find(p))
        .collect();
    let [Some(chromium), Some(chromedriver), Some(ffmpeg)] = &engines[..] else {
        return;
    };
    let s = start(&["--free-download-wait", "2", "--workers", "2"]);
    let media = tempfile::tempdir().unwrap();
    let root = login(s.web, "root");
    let free = upload(
        s.web,
        &root,
        "pattern.webm",
        true,
        &clip(ffmpeg, media.path(), "a.webm", "testsrc"),
    );
    let paid = upload(
        s.web,
        &root,
        "charged.webm",
        false,
        &clip(ffmpeg, media.path(), "b.webm", "testsrc2"),
    );
    clip(ffmpeg, media.path(), "new.webm", "smptebars");
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("web-browser");
    let d = Driver::start(chromium, chromedriver, shots);
    let page = format!("http://{}/", s.web);

    d.go(&page);
    d.wait_for("the sign-in form", "!!document.getElementById('name')", 10);
    d.shot("01-sign-in.png");
    d.type_in("#name", "viewer");
    d.type_in("#password", "pw-of-viewer");
    d.click("#register");
    d.wait_for(
        "the movie list",
        "document.querySelectorAll('#movies li').length",
        10,
    );
    assert_eq!(
        d.js("return document.querySelectorAll('#movies li').length;"),
        json!(2)
    );
    d.shot("02-movies.png");

    // The free movie: the countdown, then the picture moves.
    d.click(&format!("#movies li[data-id='{free}'] button.play"));
    d.wait_for(
        "the countdown",
        "!document.getElementById('wait').classList.contains('hidden')",
        5,
    );
    d.shot("03-waiting.png");
    let t = Instant::now();
    d.wait_for(
        "playback",
        "document.getElementById('player').currentTime > 0.5",
        20,
    );
    assert!(
        t.elapsed() >= Duration::from_millis(1000),
        "the wait was skipped: {:?}",
        t.elapsed()
    );
    let a = d.current_time();
    std::thread::sleep(Duration::from_millis(400));
    assert!(d.current_time() > a, "currentTime did not advance");
    d.shot("04-playing.png");
    // Seek back: the player asks for another range, which must not wait again.
    d.js(
        "const v = document.getElementById('player'); v.currentTime = 0.2; v.play(); return true;",
    );
    let t = Instant::now();
    d.wait_for("the seek", "(() => { const v = document.getElementById('player'); return !v.seeking && v.currentTime > 0.3 && v.currentTime < 2.5; })()", 10);
    assert!(
        t.elapsed() < Duration::from_millis(1800),
        "the seek waited {:?}",
        t.elapsed()
    );

    // The charged movie: refused until bought, then it plays.
    d.click(&format!("#movies li[data-id='{paid}'] button.play"));
    d.wait_for(
        "the refusal",
        "document.getElementById('msg').textContent.includes('payment_required')",
        10,
    );
    d.shot("05-payment-required.png");
    d.click(&format!("#movies li[data-id='{paid}'] button.buy"));
    d.wait_for(
        "the purchase",
        "document.getElementById('msg').textContent.includes('Bought')",
        10,
    );
    d.click(&format!("#movies li[data-id='{paid}'] button.play"));
    d.wait_for(
        "the bought movie playing",
        "document.getElementById('player').currentTime > 0.3",
        20,
    );
    d.shot("06-bought-playing.png");

    // The admin uploads.
    d.click("#logout");
    d.wait_for(
        "the sign-in form again",
        "!document.getElementById('auth').classList.contains('hidden')",
        10,
    );
    d.type_in("#name", "root");
    d.type_in("#password", "root-pass-1");
    d.click("#login");
    d.wait_for(
        "the admin tab",
        "!document.querySelector('nav .admin-only').classList.contains('hidden')",
        10,
    );
    d.click("nav .tab[data-tab='admin']");
    let file = d.find("#upload-file");
    let path = media.path().join("new.webm");
    wd(
        "POST",
        &d.url(&format!("element/{file}/value")),
        Some(json!({"text": path.to_string_lossy()})),
    );
    d.click("#upload-go");
    d.wait_for(
        "the upload",
        "document.getElementById('msg').textContent.includes('Uploaded')",
        20,
    );
    assert_eq!(
        d.js("return document.getElementById('upload-progress').value;"),
        json!(100)
    );
    assert_eq!(
        d.js("return document.getElementById('upload-pct').textContent;"),
        json!("100 %")
    );
    d.shot("07-admin-upload.png");
    let list = web_support::api(s.web, Some(&root), "movies.list", json!({}));
    assert_eq!(list.json()["data"].as_array().unwrap().len(), 3);

    // Melody: a picked WAV, then a recording from the (fake) microphone, each turned into
    // notes, a score image and a MIDI link.
    d.click("nav .tab[data-tab='melody']");
    let wav = media.path().join("tune.wav");
    std::fs::write(&wav, tune()).unwrap();
    let pick = d.find("#wav-file");
    wd(
        "POST",
        &d.url(&format!("element/{pick}/value")),
        Some(json!({"text": wav.to_string_lossy()})),
    );
    d.wait_for(
        "the notes",
        "document.querySelectorAll('#notes li').length >= 3",
        30,
    );
    d.wait_for(
        "the score",
        "document.getElementById('score').naturalWidth > 0",
        10,
    );
    d.wait_for(
        "the MIDI link",
        "document.getElementById('midi').href.startsWith('blob:')",
        10,
    );
    d.shot("08-melody.png");
    d.js("document.getElementById('notes').replaceChildren(); document.getElementById('melody-status').textContent = ''; return true;");
    d.click("#rec");
    std::thread::sleep(Duration::from_millis(2500));
    d.click("#rec");
    d.wait_for(
        "the recording's transcription",
        "document.getElementById('melody-status').textContent.includes('notes') || document.getElementById('msg').textContent.includes(':')",
        30,
    );
    let status = d.js("return document.getElementById('melody-status').textContent;");
    let msg = d.js("return document.getElementById('msg').textContent;");
    assert!(
        status.as_str().unwrap().contains("notes"),
        "the recording was not transcribed: {status} / {msg}"
    );
}

/// Three sung-like tones (A3, C4, E4, half a second each) as a 16 kHz mono WAV.
fn tune() -> Vec<u8> {
    let rate = 16_000u32;
    let mut samples = Vec::new();
    for f in [220.0f64, 261.63, 329.63] {
        for i in 0..rate / 2 {
            let t = f64::from(i) / f64::from(rate);
            samples.push(((t * f * std::f64::consts::TAU).sin() * 12_000.0) as i16);
        }
        samples.extend(std::iter::repeat_n(0i16, rate as usize / 10));
    }
    let data_len = (samples.len() * 2) as u32;
    let mut w = Vec::new();
    w.extend_from_slice(b"RIFF");
    w.extend_from_slice(&(36 + data_len).to_le_bytes());
    w.extend_from_slice(b"WAVEfmt ");
    w.extend_from_slice(&16u32.to_le_bytes());
    w.extend_from_slice(&1u16.to_le_bytes());
    w.extend_from_slice(&1u16.to_le_bytes());
    w.extend_from_slice(&rate.to_le_bytes());
    w.extend_from_slice(&(rate * 2).to_le_bytes());
    w.extend_from_slice(&2u16.to_le_bytes());
    w.extend_from_slice(&16u16.to_le_bytes());
    w.extend_from_slice(b"data");
    w.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        w.extend_from_slice(&s.to_le_bytes());
    }
    w
}
