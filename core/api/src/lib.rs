//! The Kino plugin API. A plugin crate depends on this crate only.
//!
//! A plugin is a value implementing [`Plugin`]: a name (its command prefix), numbered
//! [`Migration`]s for the tables it owns, [`Setting`]s that become server flags and config keys,
//! and a list of [`Command`]s. A command is data (name, summary, arguments, role, where it runs,
//! payload) plus a handler that gets a [`Ctx`] and the checked [`Args`].
//!
//! Layout:
//! - [`plugin`] — the `Plugin` trait, migrations, settings.
//! - [`command`] — `Command` (the spec and its handler), `Exec`.
//! - [`args`] — typed access to request fields, checked against the spec before the handler runs.
//! - [`ctx`] — what a handler gets: caller, database, blobs, settings, sessions, other commands.
//! - [`db`] — the small database interface (SQLite now, PostgreSQL later).
//! - [`blob`] — the content-addressed blob store interface.
//! - [`output`] — what a handler returns: JSON data, optionally raw bytes, optionally held back.
//! - [`error`] — `CmdError`, the error every handler returns.
//!
//! ```
//! use kino_api::{Args, Command, CmdError, Ctx, Output, Plugin, Role};
//! use serde_json::json;
//!
//! /// Says hello to whoever asks.
//! struct Hello;
//!
//! fn greet(ctx: &mut Ctx, args: &Args) -> Result<Output, CmdError> {
//!     let name = args.str_or("name", "world")?;
//!     Ok(json!({ "greeting": format!("hello, {name}"), "caller": ctx.caller().map(|c| c.name.clone()) }).into())
//! }
//!
//! impl Plugin for Hello {
//!     fn name(&self) -> &'static str { "hello" }
//!     fn commands(&self) -> Vec<Command> {
//!         vec![Command::new("hello.greet", "Greet someone", greet)
//!             .role(Role::Anon)
//!             .fast()
//!             .opt_str("name", "who to greet")]
//!     }
//! }
//! ```
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]
#![warn(missing_docs)]

pub mod args;
pub mod blob;
pub mod clock;
pub mod command;
pub mod ctx;
pub mod db;
pub mod error;
pub mod listener;
pub mod output;
pub mod plugin;

pub use args::Args;
pub use blob::{valid_key, BlobError, BlobInfo, BlobStore, BlobWriter};
pub use command::{Command, Exec, Handler, PAGE_DEFAULT, PAGE_MAX};
pub use ctx::{check_args, Ctx, Host, Identity, SessionChange, MAX_CALL_DEPTH};
pub use db::{Database, DbError, Row, SqlValue};
pub use error::CmdError;
pub use kino_proto::{ArgInfo, ArgKind, CommandInfo, ErrorCode, Page, PayloadKind, Role};
pub use listener::{Decoded, Framing, Listener};
pub use output::{Body, OnComplete, Output};
pub use plugin::{BlobRefs, Migration, Plugin, Setting, Settings};

/// Re-exported so plugins log through the same facade as core.
pub use log;
/// Re-exported so plugins build JSON with the same serde_json as core.
pub use serde_json;
