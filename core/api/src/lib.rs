//! The Kino plugin API. A plugin crate depends on this crate only.
//!
//! A plugin is a value implementing [`Plugin`]: a name (its command prefix), numbered
//! [`Migration`]s for the tables it owns, [`Setting`]s that become server flags and config keys,
//! and a list of [`Command`]s. A command is data (name, summary, arguments, role, where it runs,
//! payload) plus a handler that gets a [`Ctx`] and its arguments as a struct that derives
//! [`CommandArgs`].
//!
//! Layout:
//! - [`plugin`] — the `Plugin` trait, migrations, settings.
//! - [`command`] — `Command` (the spec and its handler), `Exec`.
//! - [`args`] — `#[derive(CommandArgs)]`: a command's arguments as one struct, checked against
//!   its spec by core before the handler runs.
//! - [`ctx`] — what a handler gets: caller, database, blobs, settings, sessions, other commands.
//! - [`service`] — typed calls to other plugins' commands, and what a plugin requires.
//! - [`fast`] — what a fast (event-loop) handler gets: no database, no other commands.
//! - [`db`] — the small database interface (SQLite now, PostgreSQL later).
//! - [`blob`] — the content-addressed blob store interface.
//! - [`output`] — what a handler returns: JSON data, optionally raw bytes, optionally held back.
//! - [`error`] — `CmdError`, the error every handler returns.
//!
//! ```
//! use kino_api::{Command, CommandArgs, CmdError, FastCtx, Output, Plugin, Role};
//! use serde_json::json;
//!
//! /// Says hello to whoever asks.
//! struct Hello;
//!
//! #[derive(CommandArgs)]
//! struct Greet {
//!     /// who to greet
//!     #[arg(default = "world", max_len = 40)]
//!     name: String,
//! }
//!
//! fn greet(ctx: &mut FastCtx, a: Greet) -> Result<Output, CmdError> {
//!     Ok(json!({ "greeting": format!("hello, {}", a.name), "caller": ctx.caller().map(|c| c.name.clone()) }).into())
//! }
//!
//! impl Plugin for Hello {
//!     fn name(&self) -> &'static str { "hello" }
//!     fn commands(&self) -> Vec<Command> {
//!         vec![Command::fast("hello.greet", "Greet someone", greet).role(Role::Anon)]
//!     }
//! }
//! ```
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]
#![warn(missing_docs)]

// The derives name `::kino_api`, which must resolve inside this crate too (`Paging`).
extern crate self as kino_api;

pub mod args;
pub mod blob;
pub mod changes;
pub mod clock;
pub mod command;
pub mod ctx;
pub mod db;
pub mod error;
pub mod fast;
pub mod lane;
pub mod listener;
pub mod output;
pub mod plugin;
pub mod service;

pub use args::{ArgChoice, ArgValue, Args, CommandArgs, Paging};
pub use blob::{valid_key, BlobError, BlobInfo, BlobStore, BlobWriter};
pub use changes::Snapshots;
pub use command::{Command, Exec, Handler, PAGE_DEFAULT, PAGE_MAX};
pub use ctx::{check_args, Ctx, Host, Identity, SessionChange, MAX_CALL_DEPTH};
pub use db::{Database, DbError, Row, SqlValue};
pub use error::CmdError;
pub use fast::FastCtx;
pub use kino_proto::{ArgInfo, ArgKind, CommandInfo, ErrorCode, Page, PayloadKind, Role};
pub use lane::{Lane, LaneEvent, LaneStats};
pub use listener::{Decoded, Framing, Listener};
pub use output::{Body, BodyFile, OnComplete, Output};
pub use plugin::{BlobRefs, Migration, Plugin, Setting, SettingValue, Settings};
pub use service::{Service, ServiceId};

/// Re-exported so plugins log through the same facade as core.
pub use log;
/// Re-exported so plugins build JSON with the same serde_json as core.
pub use serde_json;
