//! The ratings plugin: users rate movies from 1 to 5 stars, anyone logged in reads the top
//! rated, admins remove a rating. It is the worked example of docs/plugins.md: one table of its
//! own (`ratings_stars`), one setting, three commands, and one service of another plugin
//! (`movies.lookup`, through `kino-movies-api`) to learn whether a movie exists. It never reads
//! the movies plugin's tables nor names its crate.
//!
//! Layout:
//! - [`rate`] — `ratings.rate`.
//! - [`top`] — `ratings.top`.
//! - [`remove`] — `ratings.remove`.

pub mod rate;
pub mod remove;
pub mod top;

use kino_api::{Command, Migration, Plugin, ServiceId, Setting};

/// The plugin value the server lists.
#[derive(Debug, Default)]
pub struct Ratings;

/// The setting `ratings.top` reads: movies with fewer ratings are left out.
pub const MIN_VOTES: Setting<u64> = Setting::new(
    "ratings-min-votes",
    "Ratings a movie needs before ratings.top lists it",
    1,
);

const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "ratings_stars",
    // One rating per user per movie: the primary key makes a second one replace the first.
    sql: "CREATE TABLE ratings_stars (
            user_id INTEGER NOT NULL,
            user_name TEXT NOT NULL,
            movie_id INTEGER NOT NULL,
            stars INTEGER NOT NULL CHECK (stars BETWEEN 1 AND 5),
            rated_at TEXT NOT NULL,
            PRIMARY KEY (user_id, movie_id)
          );
          CREATE INDEX ratings_stars_by_movie ON ratings_stars (movie_id);",
}];

impl Plugin for Ratings {
    fn name(&self) -> &'static str {
        "ratings"
    }

    fn migrations(&self) -> &'static [Migration] {
        MIGRATIONS
    }

    fn settings(&self) -> Vec<Setting> {
        vec![MIN_VOTES.info()]
    }

    fn requires(&self) -> Vec<ServiceId> {
        vec![kino_movies_api::LOOKUP.id()]
    }

    fn commands(&self) -> Vec<Command> {
        vec![rate::command(), top::command(), remove::command()]
    }
}

/// The plugin as the server lists it: `kino-server`'s build script calls `plugin()` on every
/// plugin crate it depends on, so adding a plugin needs no code outside the plugin.
pub fn plugin() -> std::sync::Arc<dyn kino_api::Plugin> {
    std::sync::Arc::new(Ratings)
}
