//! The ratings plugin end to end, on the real server with the plugins it needs (movies, and
//! vip which movies requires): rating, re-rating, the top list, an admin's removal, and every
//! refusal.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use kino_api::ErrorCode;
use kino_testkit::{admin_client, user_client, ClientError, TestServer};
use serde_json::{json, Value};

fn server() -> TestServer {
    TestServer::with_admin(
        kino_testkit::with_auth(vec![
            Arc::new(kino_vip::Vip),
            Arc::new(kino_movies::Movies),
            Arc::new(kino_ratings::Ratings),
        ]),
        |c| c,
    )
}

/// Uploads a small free movie as the admin; returns its id.
fn movie(admin: &mut kino_client::Client, name: &str) -> u64 {
    let bytes = format!("the film called {name}");
    let stored = admin
        .upload(
            "movies.upload",
            json!({"name": name, "free": true}),
            &mut bytes.as_bytes(),
            bytes.len() as u64,
            &mut |_| (),
        )
        .unwrap();
    stored["id"].as_u64().unwrap()
}

fn code(r: Result<Value, ClientError>) -> ErrorCode {
    r.unwrap_err().code().unwrap()
}

fn rate(c: &mut kino_client::Client, movie_id: u64, stars: u64) -> Result<Value, ClientError> {
    c.call(
        "ratings.rate",
        json!({"movie_id": movie_id, "stars": stars}),
    )
}

#[test]
fn ratings_average_per_movie_and_a_second_rating_replaces_the_first() {
    let server = server();
    let mut admin = admin_client(&server, "root");
    let (metropolis, sunrise) = (
        movie(&mut admin, "Metropolis"),
        movie(&mut admin, "Sunrise"),
    );
    let mut ann = user_client(&server, "ann");
    let mut bob = user_client(&server, "bob");

    let first = rate(&mut ann, metropolis, 2).unwrap();
    assert_eq!(
        first,
        json!({"movie_id": metropolis, "name": "Metropolis", "stars": 2, "replaced": false})
    );
    let again = rate(&mut ann, metropolis, 5).unwrap();
    assert_eq!(again["replaced"], json!(true));
    rate(&mut bob, metropolis, 4).unwrap();
    rate(&mut bob, sunrise, 3).unwrap();

    let top = ann.call("ratings.top", json!({})).unwrap();
    assert_eq!(
        top,
        json!([
            {"movie_id": metropolis, "name": "Metropolis", "average": 4.5, "votes": 2},
            {"movie_id": sunrise, "name": "Sunrise", "average": 3.0, "votes": 1},
        ])
    );
    let second = ann
        .call("ratings.top", json!({"limit": 1, "offset": 1}))
        .unwrap();
    assert_eq!(second[0]["movie_id"], json!(sunrise));
    assert_eq!(second.as_array().unwrap().len(), 1);
}

#[test]
fn stars_outside_one_to_five_unknown_and_deleted_movies_are_refused() {
    let server = server();
    let mut admin = admin_client(&server, "root");
    let id = movie(&mut admin, "Nosferatu");
    let mut ann = user_client(&server, "ann");
    for stars in [0, 6, 1_000_000] {
        let err = rate(&mut ann, id, stars).unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::BadArgs), "{stars}: {err}");
        assert!(err.to_string().contains("stars must be 1-5"), "{err}");
    }
    assert_eq!(code(rate(&mut ann, 9999, 3)), ErrorCode::NotFound);
    assert_eq!(code(rate(&mut ann, u64::MAX, 3)), ErrorCode::NotFound);
    rate(&mut ann, id, 4).unwrap();
    admin
        .call("movies.delete", json!({"movie_id": id}))
        .unwrap();
    assert_eq!(code(rate(&mut ann, id, 3)), ErrorCode::NotFound);
    // The deleted movie's rating is kept but no longer listed.
    assert_eq!(ann.call("ratings.top", json!({})).unwrap(), json!([]));
    assert_eq!(
        code(ann.call("ratings.top", json!({"limit": 1001}))),
        ErrorCode::BadArgs
    );
    let mut anon = server.client();
    assert_eq!(code(rate(&mut anon, id, 3)), ErrorCode::Unauthenticated);
    assert_eq!(
        code(anon.call("ratings.top", json!({}))),
        ErrorCode::Unauthenticated
    );
}

#[test]
fn only_admins_remove_a_rating() {
    let server = server();
    let mut admin = admin_client(&server, "root");
    let id = movie(&mut admin, "Faust");
    let mut ann = user_client(&server, "ann");
    let mut bob = user_client(&server, "bob");
    rate(&mut ann, id, 1).unwrap();
    rate(&mut bob, id, 5).unwrap();
    let remove = json!({"movie_id": id, "user": "ann"});
    assert_eq!(
        code(bob.call("ratings.remove", remove.clone())),
        ErrorCode::Forbidden
    );
    let removed = admin.call("ratings.remove", remove.clone()).unwrap();
    assert_eq!(
        removed,
        json!({"movie_id": id, "user": "ann", "removed": true})
    );
    assert_eq!(
        code(admin.call("ratings.remove", remove)),
        ErrorCode::NotFound
    );
    let top = bob.call("ratings.top", json!({})).unwrap();
    assert_eq!(top[0]["average"], json!(5.0));
    assert_eq!(top[0]["votes"], json!(1));
}

#[test]
fn movies_without_enough_votes_are_left_out_of_the_top() {
    let server = TestServer::with_admin(
        kino_testkit::with_auth(vec![
            Arc::new(kino_vip::Vip),
            Arc::new(kino_movies::Movies),
            Arc::new(kino_ratings::Ratings),
        ]),
        |c| c.setting("ratings-min-votes", json!(2)),
    );
    let mut admin = admin_client(&server, "root");
    let (a, b) = (movie(&mut admin, "Greed"), movie(&mut admin, "Sunrise"));
    let mut ann = user_client(&server, "ann");
    let mut bob = user_client(&server, "bob");
    rate(&mut ann, a, 5).unwrap();
    rate(&mut ann, b, 3).unwrap();
    rate(&mut bob, b, 4).unwrap();
    let top = ann.call("ratings.top", json!({})).unwrap();
    assert_eq!(
        top,
        json!([{"movie_id": b, "name": "Sunrise", "average": 3.5, "votes": 2}])
    );
}

#[test]
fn ratings_without_movies_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let plugins: Vec<Arc<dyn kino_api::Plugin>> = vec![
        Arc::new(kino_auth::Auth::new()),
        Arc::new(kino_ratings::Ratings),
    ];
    let config = kino_testkit::fast_auth(kino_server::Config::new(dir.path()));
    let Err(err) = kino_server::Core::open(config, plugins) else {
        panic!("ratings started without movies");
    };
    let message = err.to_string();
    assert!(message.contains("plugin `ratings`"), "{message}");
    assert!(message.contains("`movies.lookup`"), "{message}");
}
