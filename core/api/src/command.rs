//! A command is data plus a handler (redis' command table, helix's `TypableCommand`): `help`,
//! argument checks, role checks, completion in the shell and docs all read the same spec.

use std::sync::Arc;

use kino_proto::{ArgInfo, ArgKind, CommandInfo, PayloadKind, Role};

use crate::{Args, CmdError, Ctx, FastCtx, Output};

/// Rows a list command returns when the request gives no `limit`.
pub const PAGE_DEFAULT: u64 = 100;
/// Largest `limit` a list command accepts.
pub const PAGE_MAX: u64 = 1000;

/// Where a handler runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exec {
    /// Inline on the event loop: only for work that is certain to take microseconds. Made by
    /// [`Command::fast`], whose handler gets a [`FastCtx`] (no database, no nested calls).
    Fast,
    /// On the worker pool, its reply coming back through the loop's waker. The default.
    Blocking,
}

/// The function that does a command's work.
pub type Handler = Arc<dyn Fn(&mut Ctx, &Args) -> Result<Output, CmdError> + Send + Sync>;

/// One command: its spec and its handler.
#[derive(Clone)]
pub struct Command {
    /// Name, summary, arguments, role, payload: what `help` shows.
    pub info: CommandInfo,
    /// Inline or on the pool.
    pub exec: Exec,
    /// The work.
    pub handler: Handler,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Command")
            .field("info", &self.info)
            .field("exec", &self.exec)
            .finish()
    }
}

impl Command {
    /// A command for logged-in users, run on the pool, with no arguments yet.
    pub fn new(
        name: &str,
        summary: &str,
        handler: impl Fn(&mut Ctx, &Args) -> Result<Output, CmdError> + Send + Sync + 'static,
    ) -> Self {
        Command {
            info: CommandInfo {
                name: name.into(),
                summary: summary.into(),
                args: Vec::new(),
                role: Role::User,
                payload: PayloadKind::None,
                aliases: Vec::new(),
                open_args: false,
                legacy_only: false,
                internal: false,
            },
            exec: Exec::Blocking,
            handler: Arc::new(handler),
        }
    }

    /// Who may call it (default: `User`).
    pub fn role(mut self, role: Role) -> Self {
        self.info.role = role;
        self
    }

    /// Reachable only from other commands through `Ctx::call` (and the owning plugin's
    /// listeners): not on the wire, not in `help`. The role still says who may call it, as the
    /// caller of the outer command.
    pub fn internal(mut self) -> Self {
        self.info.internal = true;
        self
    }

    /// A command that runs inline on the event loop. Its handler gets a [`FastCtx`], which has
    /// no database and cannot call other commands, so it cannot stall the loop on the disk.
    pub fn fast(
        name: &str,
        summary: &str,
        handler: impl Fn(&mut FastCtx, &Args) -> Result<Output, CmdError> + Send + Sync + 'static,
    ) -> Self {
        let mut command = Command::new(name, summary, move |ctx: &mut Ctx, args: &Args| {
            handler(&mut ctx.as_fast(), args)
        });
        command.exec = Exec::Fast;
        command
    }

    /// The request carries `file_size` and that many raw bytes, read through [`Ctx::upload`].
    /// Such handlers run on a thread of their own for the length of the transfer.
    pub fn upload(mut self) -> Self {
        self.info.payload = PayloadKind::Upload;
        self.exec = Exec::Blocking;
        self
    }

    /// The reply carries raw bytes (see [`crate::Body`]).
    pub fn download(mut self) -> Self {
        self.info.payload = PayloadKind::Download;
        self
    }

    /// Also answers to `name`, a bare request type outside the plugin prefix. Meant for
    /// compatibility with an older protocol (the legacy plugin); the registry refuses an alias
    /// that collides with any name or alias.
    pub fn alias(mut self, name: &str) -> Self {
        self.info.aliases.push(name.into());
        self
    }

    /// Passes undeclared fields through to the handler instead of refusing them (an old client
    /// may send fields the command ignores, such as the legacy `user_id`).
    pub fn open_args(mut self) -> Self {
        self.info.open_args = true;
        self
    }

    /// Serves an older protocol only, by its alias: hidden from `help`, and a request naming
    /// it by its full name (or carrying a native `id`) is refused. Needs an [`Command::alias`].
    pub fn legacy_only(mut self) -> Self {
        self.info.legacy_only = true;
        self
    }

    /// Declares an argument.
    pub fn arg(mut self, name: &str, kind: ArgKind, required: bool, doc: &str) -> Self {
        self.info.args.push(ArgInfo {
            name: name.into(),
            kind,
            required,
            doc: doc.into(),
            choices: Vec::new(),
        });
        self
    }

    /// A required string argument.
    pub fn req_str(self, name: &str, doc: &str) -> Self {
        self.arg(name, ArgKind::String, true, doc)
    }

    /// An optional string argument.
    pub fn opt_str(self, name: &str, doc: &str) -> Self {
        self.arg(name, ArgKind::String, false, doc)
    }

    /// A required non-negative integer.
    pub fn req_uint(self, name: &str, doc: &str) -> Self {
        self.arg(name, ArgKind::Uint, true, doc)
    }

    /// An optional non-negative integer.
    pub fn opt_uint(self, name: &str, doc: &str) -> Self {
        self.arg(name, ArgKind::Uint, false, doc)
    }

    /// The `limit` and `offset` of a list command, read back with [`Args::page`]. One rule
    /// for every list: at most [`PAGE_MAX`] rows, [`PAGE_DEFAULT`] when not asked.
    pub fn paged(self) -> Self {
        self.opt_uint("limit", "at most this many (default 100, max 1000)")
            .opt_uint("offset", "skip this many of the newest")
    }

    /// An optional boolean.
    pub fn opt_bool(self, name: &str, doc: &str) -> Self {
        self.arg(name, ArgKind::Bool, false, doc)
    }

    /// An optional string restricted to `choices`; the registry refuses anything else.
    pub fn choice(mut self, name: &str, choices: &[&str], doc: &str) -> Self {
        self.info.args.push(ArgInfo {
            name: name.into(),
            kind: ArgKind::String,
            required: false,
            doc: doc.into(),
            choices: choices.iter().map(|c| c.to_string()).collect(),
        });
        self
    }
}
