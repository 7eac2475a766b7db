//! The melody plugin: `melody.transcribe`, `melody.fetch`, `melody.list`, and the Melodia
//! phone-app listener (`--melodia-listen`). The signal processing lives in the pure engine crate
//! `kino-melody-engine` (`plugins/melody/engine`); this crate only moves bytes, keys and rows.
//!
//! Layout:
//! - [`store`] — the `transcriptions` table, keys, and the shared transcribe-or-reuse step.
//! - [`gate`] — the slots that bound concurrent transcriptions, overall and per user.
//! - [`transcribe`] — `melody.transcribe`.
//! - [`fetch`] — `melody.fetch` and `melody.list`.
//! - [`phone`] — the original app's framing and its two internal commands.

pub mod fetch;
pub mod gate;
pub mod notation;
pub mod phone;
pub mod store;
pub mod transcribe;

/// The engine, for callers that hold this crate only (the WAV encoder tests use).
pub use kino_melody_engine as engine;

use std::sync::Arc;

use kino_api::{Command, Listener, Migration, Plugin, Setting, Settings};

/// Default `--melodia-max-message`: 12 MiB of base64 carries a 9 MiB WAV (100 s of 16-bit mono
/// at 44.1 kHz, nearly five minutes at 16 kHz), far more than a hummed phrase; a connection
/// may buffer this much before its marker, and the old 64 MiB let eight idle connections pin
/// half a GiB.
pub const DEFAULT_MELODIA_MAX_MESSAGE: u64 = 12 * 1024 * 1024;

/// Setting: the longest recording, in seconds.
pub const MAX_SECONDS: Setting<u64> = Setting::new(
    "melody-max-seconds",
    "Longest recording melody.transcribe accepts, in seconds",
    600,
);
/// Setting: the largest WAV upload.
pub const MAX_BYTES: Setting<u64> = Setting::new(
    "melody-max-bytes",
    "Largest WAV upload melody.transcribe accepts, in bytes",
    256 * 1024 * 1024,
);
/// Setting: bytes of recordings held in memory at once.
pub const MAX_BUFFERED_BYTES: Setting<u64> = Setting::new(
    "melody-max-buffered-bytes",
    "Bytes of recordings the server holds in memory at once while receiving and decoding them; an upload past it is `busy`",
    512 * 1024 * 1024,
);
/// Setting: notes kept from one recording.
pub const MAX_NOTES: Setting<u64> = Setting::new(
    "melody-max-notes",
    "Most notes kept from one recording (the rest are cut; the reply says `truncated`)",
    kino_melody_engine::DEFAULT_MAX_NOTES as u64,
);
/// Setting: the tallest score page.
pub const MAX_SCORE_PX: Setting<u64> = Setting::new(
    "melody-max-score-px",
    "Tallest score page in pixels (1240 wide, held whole in memory while drawn); systems past it are left out",
    kino_melody_engine::score::DEFAULT_MAX_HEIGHT as u64,
);
/// Setting: the most score pages of one transcription.
pub const MAX_SCORE_PAGES: Setting<u64> = Setting::new(
    "melody-max-score-pages",
    "Most score pages drawn and kept for one transcription (each at most --melody-max-score-px tall); bars past them are left out",
    kino_melody_engine::score::DEFAULT_MAX_PAGES as u64,
);
/// Setting: transcriptions running at once.
pub const MAX_JOBS: Setting<u64> = Setting::new(
    "melody-max-jobs",
    "Transcriptions running at once on the server; more are answered `busy`",
    2,
);
/// Setting: transcriptions running at once for one user.
pub const MAX_JOBS_PER_USER: Setting<u64> = Setting::new(
    "melody-max-jobs-per-user",
    "Transcriptions running at once for one user (the Melodia listener counts as one); more are answered `busy`",
    1,
);
/// Setting: the Melodia listener's address.
pub const MELODIA_LISTEN: Setting<&str> = Setting::new(
    "melodia-listen",
    "Address for the original Melodia phone app's listener (off when empty; the original used port 2017)",
    "",
);
/// Setting: the largest Melodia message.
pub const MELODIA_MAX_MESSAGE: Setting<u64> = Setting::new(
    "melodia-max-message",
    "Largest message on the Melodia listener, in bytes (base64 WAV in JSON); each connection may buffer this much",
    DEFAULT_MELODIA_MAX_MESSAGE,
);

/// The plugin value the server lists.
#[derive(Debug, Default, Clone, Copy)]
pub struct Melody;

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "transcriptions",
        sql: "CREATE TABLE melody_results (
            key TEXT PRIMARY KEY,
            audio_md5 TEXT NOT NULL,
            duration_s REAL NOT NULL,
            tempo_bpm REAL NOT NULL,
            notes_json TEXT NOT NULL,
            midi_md5 TEXT NOT NULL,
            midi_size INTEGER NOT NULL,
            png_md5 TEXT NOT NULL,
            png_size INTEGER NOT NULL,
            created_at TEXT NOT NULL
          );
          CREATE TABLE melody_owners (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL REFERENCES melody_results(key),
            owner_id INTEGER,
            owner_name TEXT,
            title TEXT NOT NULL,
            created_at TEXT NOT NULL
          );
          CREATE UNIQUE INDEX melody_owner_key ON melody_owners(owner_id, key);
          CREATE INDEX melody_owner_recent ON melody_owners(owner_id, created_at);",
    },
    // Keys become an HMAC under a per-data-directory secret. SQLite's randomblob() draws from its
    // ChaCha20 generator seeded from the OS (/dev/urandom), so the secret is made once, here,
    // with the database it lives in. NULL owners (the Melodia listener) were not unique under
    // the old index: keep one row per key and index the owner with NULL as -1.
    Migration {
        version: 2,
        name: "secret keys, one owner row per key, note counts",
        sql: "CREATE TABLE melody_secret (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            secret TEXT NOT NULL
          );
          INSERT INTO melody_secret (id, secret) VALUES (1, lower(hex(randomblob(32))));
          ALTER TABLE melody_results ADD COLUMN notes_found INTEGER;
          DELETE FROM melody_owners WHERE owner_id IS NULL AND id NOT IN
            (SELECT min(id) FROM melody_owners WHERE owner_id IS NULL GROUP BY key);
          DROP INDEX melody_owner_key;
          CREATE UNIQUE INDEX melody_owner_key ON melody_owners(ifnull(owner_id, -1), key);",
    },
    // A result's further files, one row each: its MusicXML score (`musicxml`, page 1) and the
    // score's PNG pages after the first (`png`, page 2 on; page 1 stays in melody_results).
    // Results from before have none and are transcribed anew when asked for again.
    Migration {
        version: 3,
        name: "MusicXML and score pages",
        sql: "CREATE TABLE melody_files (
            key TEXT NOT NULL REFERENCES melody_results(key),
            format TEXT NOT NULL,
            page INTEGER NOT NULL,
            md5 TEXT NOT NULL,
            size INTEGER NOT NULL,
            PRIMARY KEY (key, format, page)
          );",
    },
    // How the score is written (time signature, key, pickup, the score as text). Results from
    // before have none and are transcribed anew when asked for again.
    Migration {
        version: 4,
        name: "score notation",
        sql: "ALTER TABLE melody_results ADD COLUMN notation_json TEXT;",
    },
];

impl Plugin for Melody {
    fn name(&self) -> &'static str {
        "melody"
    }

    fn migrations(&self) -> &'static [Migration] {
        MIGRATIONS
    }

    fn blob_refs(&self) -> &'static [kino_api::BlobRefs] {
        &[kino_api::BlobRefs {
            query: "SELECT 'melody ' || key || ' midi', midi_md5, midi_size, 0 FROM melody_results
                    UNION ALL
                    SELECT 'melody ' || key || ' score', png_md5, png_size, 0 FROM melody_results
                    UNION ALL
                    SELECT 'melody ' || key || ' ' || format || ' ' || page, md5, size, 0
                      FROM melody_files",
            mark_damaged: None,
        }]
    }

    fn settings(&self) -> Vec<Setting> {
        vec![
            MAX_SECONDS.info(),
            MAX_BYTES.info(),
            MAX_BUFFERED_BYTES.info(),
            MAX_NOTES.info(),
            MAX_SCORE_PX.info(),
            MAX_SCORE_PAGES.info(),
            MAX_JOBS.info(),
            MAX_JOBS_PER_USER.info(),
            MELODIA_LISTEN.info(),
            MELODIA_MAX_MESSAGE.info(),
        ]
    }

    fn commands(&self) -> Vec<Command> {
        // Called once per server: each server gets its own slots.
        let gate = Arc::new(gate::Gate::default());
        vec![
            transcribe::command(Arc::clone(&gate)),
            fetch::fetch_command(),
            fetch::list_command(),
            phone::transcribe_command(gate),
            phone::fetch_command(),
        ]
    }

    fn listeners(&self, settings: &Settings) -> Vec<Listener> {
        let max = usize::try_from(settings.of(MELODIA_MAX_MESSAGE)).unwrap_or(usize::MAX);
        vec![Listener {
            setting: MELODIA_LISTEN.name,
            framing: Arc::new(phone::MelodiaFraming::new(max)),
        }]
    }
}

/// The plugin as the server lists it: `kino-server`'s build script calls `plugin()` on every
/// plugin crate it depends on, so adding a plugin needs no code outside the plugin.
pub fn plugin() -> std::sync::Arc<dyn kino_api::Plugin> {
    std::sync::Arc::new(Melody)
}
