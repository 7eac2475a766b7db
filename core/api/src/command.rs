//! A command is data plus a handler (redis' command table, helix's `TypableCommand`): `help`,
//! argument checks, role checks, completion in the shell and docs all read the same spec.

use std::sync::Arc;

use kino_proto::{CommandInfo, PayloadKind, Role};

use crate::{Args, CmdError, CommandArgs, Ctx, FastCtx, Lane, Output};

/// Rows a list command returns when the request gives no `limit`.
pub const PAGE_DEFAULT: u64 = 100;
/// Largest `limit` a list command accepts.
pub const PAGE_MAX: u64 = 1000;

/// Where a handler runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exec {
    /// Inline on the event loop: only for work that is certain to take microseconds (no disk,
    /// no hashing, no database writes).
    Fast,
    /// On the worker pool, its reply coming back through the loop's waker. The default.
    Blocking,
}

/// The function that does a command's work.
pub type Handler = Arc<dyn Fn(&mut Ctx, &Args) -> Result<Output, CmdError> + Send + Sync>;

/// A pool command's answer from memory, tried on the event loop first: `None` sends the request
/// to the pool as usual (see [`Command::quick`]).
pub type Quick = Arc<dyn Fn(&mut FastCtx, &Args) -> Option<Result<Output, CmdError>> + Send + Sync>;

/// One command: its spec and its handler.
#[derive(Clone)]
pub struct Command {
    /// Name, summary, arguments, role, payload: what `help` shows.
    pub info: CommandInfo,
    /// Inline or on the pool.
    pub exec: Exec,
    /// The work.
    pub handler: Handler,
    /// For a pool command: an answer the loop may give without the pool (a snapshot).
    pub quick: Option<Quick>,
    /// The JSON text of the `data` a [`Command::constant`] always answers.
    pub constant: Option<Arc<[u8]>>,
    /// For a pool command: the lane that bounds how many run at once and wait on the loop.
    pub lane: Option<Arc<Lane>>,
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
    /// A command for logged-in users, run on the pool. Its arguments are `A`'s fields
    /// (`#[derive(CommandArgs)]`, or `()` for none); core checks a request against them and
    /// the handler gets the parsed struct. Records the calling file for docs/commands.md.
    #[track_caller]
    pub fn new<A: CommandArgs + 'static>(
        name: &str,
        summary: &str,
        handler: impl Fn(&mut Ctx, A) -> Result<Output, CmdError> + Send + Sync + 'static,
    ) -> Self {
        Command {
            info: CommandInfo {
                name: name.into(),
                summary: summary.into(),
                args: A::spec(),
                role: Role::User,
                payload: PayloadKind::None,
                aliases: Vec::new(),
                open_args: false,
                legacy_only: false,
                internal: false,
                file_name: None,
                source: std::panic::Location::caller().file().replace('\\', "/"),
            },
            exec: Exec::Blocking,
            handler: Arc::new(move |ctx: &mut Ctx, args: &Args| handler(ctx, A::parse(args)?)),
            quick: None,
            constant: None,
            lane: None,
        }
    }

    /// Lets the event loop answer a pool command from memory when `quick` can (a read-only
    /// reply remembered in a [`crate::Snapshots`]), so a hot read costs no pool round trip and
    /// no database; `quick` returns `None` when it cannot, and the handler runs on the pool.
    /// Like a fast handler it gets a [`FastCtx`]: no database, nothing that may block.
    pub fn quick<A: CommandArgs + 'static>(
        mut self,
        quick: impl Fn(&mut FastCtx, A) -> Option<Result<Output, CmdError>> + Send + Sync + 'static,
    ) -> Self {
        self.quick = Some(Arc::new(
            move |ctx: &mut FastCtx, args: &Args| match A::parse(args) {
                Ok(a) => quick(ctx, a),
                Err(e) => Some(Err(e)),
            },
        ));
        self
    }

    /// Runs this pool command in `lane`: at most its bound at once, the rest held on the event
    /// loop and past that refused `busy` there, so work that waits its turn inside the handler
    /// (argon2 behind its gate) can neither hold the pool's workers nor pile up in the pool's
    /// queue, where every other command waits too. Commands may share a lane.
    pub fn lane(mut self, lane: Arc<Lane>) -> Self {
        self.lane = Some(lane);
        self
    }

    /// Who may call it (default: `User`).
    pub fn role(mut self, role: Role) -> Self {
        self.info.role = role;
        self
    }

    /// A command that runs inline on the event loop. Its handler gets a [`FastCtx`], which has
    /// no database and cannot call other commands, so it cannot stall the loop on the disk.
    #[track_caller]
    pub fn fast<A: CommandArgs + 'static>(
        name: &str,
        summary: &str,
        handler: impl Fn(&mut FastCtx, A) -> Result<Output, CmdError> + Send + Sync + 'static,
    ) -> Self {
        let mut command = Command::new(name, summary, move |ctx: &mut Ctx, args: A| {
            handler(&mut ctx.as_fast(), args)
        });
        command.exec = Exec::Fast;
        command
    }

    /// A fast command without arguments that always answers `data` (`ping`): the loop may
    /// write its reply from the bytes encoded here, parsing no arguments and running no
    /// handler; every other path (a nested call, a plugin listener, the HTTP gateway) runs the
    /// handler, which returns the same `data`.
    #[track_caller]
    pub fn constant(name: &str, summary: &str, data: serde_json::Value) -> Self {
        let encoded = serde_json::to_vec(&data).unwrap_or_else(|_| b"null".to_vec());
        let mut command = Command::fast(name, summary, move |_: &mut FastCtx, _: ()| {
            Ok(data.clone().into())
        });
        command.constant = Some(encoded.into());
        command
    }

    /// Reachable only from other commands through `Ctx::call` (and the owning plugin's
    /// listeners): not on the wire, not in `help`. The role still says who may call it, as the
    /// caller of the outer command.
    pub fn internal(mut self) -> Self {
        self.info.internal = true;
        self
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

    /// Names the payload's file: for an upload, the argument a client fills with the local
    /// file's name; for a download, the reply field naming the file to save. Clients (the
    /// shell) need no per-command code for it.
    pub fn file_name(mut self, field: &str) -> Self {
        self.info.file_name = Some(field.into());
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
}
