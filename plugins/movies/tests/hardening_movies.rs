//! The movies plugin's smaller refusals (issue 9, item 16), on the real server: the search
//! text's length and characters, downloads of no byte, bidirectional controls in titles, and the
//! free-download wait's bound.
#![allow(clippy::unwrap_used)]

mod media_support;

use kino_api::serde_json::json;
use kino_api::ErrorCode;
use kino_server::{Config, Core};
use kino_testkit::TestServer;
use media_support::*;

#[test]
fn search_text_is_capped_and_control_characters_are_refused() {
    let server = TestServer::with_admin(plugins(), |c| {
        c.setting("free-download-wait", json!(0))
            .setting("movie-search-max-chars", json!(20))
    });
    let mut admin = root(&server);
    upload_id(&mut admin, "alpha.mp4", &content(1, 100), true);
    upload_id(&mut admin, "beta.mp4", &content(2, 100), true);
    let list = |c: &mut kino_client::Client, q: &str| c.call("movies.list", json!({"q": q}));
    assert_eq!(
        list(&mut admin, "alpha").unwrap().as_array().unwrap().len(),
        1
    );
    assert_eq!(
        list(&mut admin, &"a".repeat(20)).unwrap(),
        json!([]),
        "at the bound"
    );
    assert_eq!(code(list(&mut admin, &"a".repeat(21))), ErrorCode::BadArgs);
    // Over SQLite's LIKE limit: this was `internal`.
    assert_eq!(
        code(list(&mut admin, &"a".repeat(50_001))),
        ErrorCode::BadArgs
    );
    // A NUL cut the pattern short and matched every movie.
    for q in ["\u{0}", "zz\u{0}", "a\nb", "\u{7f}"] {
        assert_eq!(code(list(&mut admin, q)), ErrorCode::BadArgs, "{q:?}");
    }
}

#[test]
fn the_default_search_bound_is_200_characters() {
    let server = server(0);
    let mut admin = root(&server);
    let ok = admin.call("movies.list", json!({"q": "é".repeat(200)}));
    assert_eq!(ok.unwrap(), json!([]));
    assert_eq!(
        code(admin.call("movies.list", json!({"q": "é".repeat(201)}))),
        ErrorCode::BadArgs
    );
}

#[test]
fn a_download_that_sends_no_byte_is_not_recorded() {
    let server = server(0);
    let mut admin = root(&server);
    let film = content(3, 5000);
    let id = upload_id(&mut admin, "film.mp4", &film, true);
    let (mut user, _) = register_and_login(&server, "ann");
    let (data, bytes) = download(&mut user, id, Some(5000)).unwrap();
    assert_eq!((data["file_size"].as_u64(), bytes.len()), (Some(0), 0));
    let (_, bytes) = download(&mut user, id, None).unwrap();
    assert_eq!(bytes, film);
    // Only the download that sent bytes: a record for the empty one lands before it.
    let records = records_eventually(&mut user, 1);
    assert_eq!(records[0]["bytes"], json!(5000));
}

#[test]
fn titles_with_bidirectional_controls_are_refused() {
    let server = server(0);
    let mut admin = root(&server);
    for name in [
        "evil\u{202e}4pm.exe",
        "a\u{200f}b.mp4",
        "a\u{2067}b.mp4",
        "a\u{061c}b.mp4",
        "a\u{200e}.mp4",
    ] {
        let film = content(4, 100);
        assert_eq!(
            code(upload(&mut admin, name, &film, true)),
            ErrorCode::BadArgs,
            "{name:?}"
        );
        assert_no_movie(&mut admin, &film);
    }
}

#[test]
fn a_free_download_wait_past_one_day_is_refused_at_start_up() {
    let dir = tempfile::tempdir().unwrap();
    for wait in [u64::MAX, 86_401] {
        let config = Config::new(dir.path()).setting("free-download-wait", json!(wait));
        let err = Core::open(config, plugins()).err().expect("refused");
        assert!(err.to_string().contains("--free-download-wait"), "{err}");
    }
    let config = Config::new(dir.path()).setting("free-download-wait", json!(86_400));
    assert!(Core::open(config, plugins()).is_ok());
}
