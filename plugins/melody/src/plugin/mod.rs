//! The melody plugin: `melody.transcribe`, `melody.fetch`, `melody.list`, and the Melodia
//! phone-app listener (`--melodia-listen`). The signal processing lives in the crate's other
//! modules; this part only moves bytes, keys and rows.
//!
//! Layout:
//! - [`store`] — the `transcriptions` table and the shared transcribe-or-reuse step.
//! - [`transcribe`] — `melody.transcribe`.
//! - [`fetch`] — `melody.fetch` and `melody.list`.
//! - [`phone`] — the original app's framing and its two internal commands.

pub mod fetch;
pub mod phone;
pub mod store;
pub mod transcribe;

use std::sync::Arc;

use kino_api::serde_json::json;
use kino_api::{Command, Listener, Migration, Plugin, Setting, Settings};

/// The plugin value the server lists.
#[derive(Debug, Default, Clone, Copy)]
pub struct Melody;

const MIGRATIONS: &[Migration] = &[Migration {
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
}];

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
                    SELECT 'melody ' || key || ' score', png_md5, png_size, 0 FROM melody_results",
            mark_damaged: None,
        }]
    }

    fn settings(&self) -> Vec<Setting> {
        vec![
            Setting {
                name: "melody-max-seconds",
                help: "Longest recording melody.transcribe accepts, in seconds",
                default: json!(600),
            },
            Setting {
                name: "melody-max-bytes",
                help: "Largest WAV upload melody.transcribe accepts, in bytes",
                default: json!(256 * 1024 * 1024),
            },
            Setting {
                name: "melodia-listen",
                help: "Address for the original Melodia phone app's listener (off when empty; the original used port 2017)",
                default: json!(""),
            },
            Setting {
                name: "melodia-max-message",
                help: "Largest message on the Melodia listener, in bytes (base64 WAV in JSON)",
                default: json!(64 * 1024 * 1024),
            },
        ]
    }

    fn commands(&self) -> Vec<Command> {
        vec![
            transcribe::command(),
            fetch::fetch_command(),
            fetch::list_command(),
            phone::transcribe_command(),
            phone::fetch_command(),
        ]
    }

    fn listeners(&self, settings: &Settings) -> Vec<Listener> {
        let max = usize::try_from(settings.u64("melodia-max-message")).unwrap_or(usize::MAX);
        vec![Listener {
            setting: "melodia-listen",
            framing: Arc::new(phone::MelodiaFraming::new(max)),
        }]
    }
}
