//! From a request frame to a queued reply: parse, look up, resolve the caller from the session,
//! check role and arguments once, in core (redis `processCommand`), then run the handler inline,
//! on the pool, or on a transfer thread, and turn its result into reply bytes.

use std::io::{self, Read};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use kino_api::{
    check_args, Body, CmdError, Ctx, Decoded, Exec, Identity, PayloadKind, SessionChange,
};
use kino_proto::{frame::frame_json, parse_request, ErrorCode, Header, Reply};
use mio::Token;
use serde_json::Value;

use crate::conn::{Conn, FramedBy, Held, ReadState, Sending};
use crate::host::{authorize, run_handler, ServerHost};
use crate::pipe::{Pipe, PipeReader};
use crate::registry::Entry;
use crate::stats::ServerStats;
use crate::store::SqliteDb;
use crate::workers::{LoopChannel, LoopMsg, Outcome, WorkerPool};

/// Bytes buffered between the socket and a transfer thread, per direction.
const PIPE_CAP: usize = 1024 * 1024;
/// Chunk size of a body pump.
const CHUNK: usize = 64 * 1024;
/// Out-buffer level under which more body chunks are pulled in.
const OUT_LOW_WATER: usize = 256 * 1024;

/// The parts of the server the loop hands requests to.
pub struct Dispatcher {
    /// Shared state.
    pub host: Arc<ServerHost>,
    /// The pool for blocking commands and completion hooks.
    pub pool: WorkerPool,
    /// Results back to the loop.
    pub chan: LoopChannel,
    /// The loop's own connection, for `Fast` commands.
    pub loop_db: SqliteDb,
    /// Where transfer threads open their connections.
    pub db_path: PathBuf,
    /// Shutting down: start no new requests.
    pub draining: bool,
    /// Held replies the loop must set timers for.
    pub new_timers: Vec<(Instant, Token)>,
}

/// A request that passed every check.
struct Checked<'a> {
    entry: &'a Entry,
    caller: Option<Identity>,
    token: Option<String>,
    args: kino_api::Args,
}

impl Dispatcher {
    /// Handles complete input; returns whether anything changed.
    pub fn process_input(&mut self, conn: &mut Conn, token: Token) -> bool {
        let mut progress = false;
        loop {
            match &mut conn.read {
                ReadState::Frames => {
                    if conn.in_flight || conn.close_after_flush || self.draining {
                        return progress;
                    }
                    if let Some(framed) = conn.framed.clone() {
                        return self.process_framed(conn, token, &framed) || progress;
                    }
                    match kino_proto::decode_header(conn.input(), self.host.limits.max_frame) {
                        Header::Incomplete => return progress,
                        Header::TooLarge(n) => {
                            let max = self.host.limits.max_frame;
                            self.reply_now(
                                conn,
                                Reply::err(
                                    None,
                                    ErrorCode::TooLarge,
                                    format!("frame of {n} bytes is over the {max}-byte limit"),
                                ),
                            );
                            conn.clear_input();
                            conn.close_after_flush = true;
                            return true;
                        }
                        Header::Frame(len) => {
                            let body = conn.input()[kino_proto::HEADER_LEN..][..len].to_vec();
                            conn.consume(kino_proto::HEADER_LEN + len);
                            self.handle_request(conn, token, &body);
                            progress = true;
                        }
                    }
                }
                ReadState::Upload { remaining, pipe } => {
                    let (remaining, pipe) = (*remaining, Arc::clone(pipe));
                    let n = remaining.min(conn.input().len() as u64) as usize;
                    let pushed = if n == 0 {
                        0
                    } else {
                        pipe.try_push(&conn.input()[..n])
                    };
                    if pushed == 0 {
                        return progress;
                    }
                    conn.consume(pushed);
                    conn.last_input = Instant::now();
                    let left = remaining - pushed as u64;
                    if left == 0 {
                        pipe.finish();
                        conn.read = ReadState::Frames;
                    } else {
                        conn.read = ReadState::Upload {
                            remaining: left,
                            pipe,
                        };
                    }
                    progress = true;
                }
                ReadState::Discard { remaining } => {
                    let remaining = *remaining;
                    let n = remaining.min(conn.input().len() as u64) as usize;
                    if n == 0 {
                        return progress;
                    }
                    conn.consume(n);
                    conn.read = match remaining - n as u64 {
                        0 => ReadState::Frames,
                        left => ReadState::Discard { remaining: left },
                    };
                    progress = true;
                }
            }
        }
    }

    fn reply_now(&self, conn: &mut Conn, reply: Reply) {
        count_reply(&self.host, reply.ok);
        match (&conn.framed, &reply.error) {
            (Some(f), Some(e)) => {
                let err = CmdError::new(e.code, e.message.clone());
                let bytes = f.framing.encode(Err(&err));
                conn.queue(&bytes);
            }
            _ => conn.queue(&frame_json(&reply)),
        }
    }

    /// One request on a plugin listener's connection, decoded by its framing. Only that
    /// plugin's commands may run (its `Internal` ones included), always anonymously; the
    /// connection closes after the reply.
    fn process_framed(&mut self, conn: &mut Conn, token: Token, framed: &FramedBy) -> bool {
        let max = framed.framing.max_message();
        let (consumed, command, args, payload) = match framed.framing.decode(conn.input()) {
            Decoded::Incomplete if conn.input().len() < max => return false,
            Decoded::Incomplete => {
                log::warn!("{}: message over {max} bytes; closing", conn.peer);
                return self.drop_framed(conn);
            }
            Decoded::Invalid(why) => {
                log::warn!("{}: invalid message: {why}; closing", conn.peer);
                return self.drop_framed(conn);
            }
            Decoded::Request {
                consumed,
                command,
                args,
                payload,
            } => (consumed, command, args, payload),
        };
        conn.consume(consumed);
        conn.close_after_flush = true;
        let host = Arc::clone(&self.host);
        let checked = host
            .registry
            .get(&command)
            .filter(|e| e.command.info.name.split('.').next() == Some(framed.plugin.as_str()))
            .ok_or_else(|| {
                CmdError::new(
                    ErrorCode::UnknownCommand,
                    format!("unknown command `{command}`"),
                )
            })
            .and_then(|entry| {
                authorize(entry.command.info.role, None, true)?;
                Ok((entry, check_args(&entry.command.info, &args)?))
            });
        let (entry, args) = match checked {
            Ok(c) => c,
            Err(e) => {
                self.reply_now(conn, Reply::err(None, e.code, e.message));
                return true;
            }
        };
        conn.in_flight = true;
        conn.caller = None;
        let name = entry.command.info.name.clone();
        if entry.command.info.payload == PayloadKind::Upload {
            let bytes = payload.unwrap_or_default();
            let len = bytes.len() as u64;
            let pipe = Arc::new(Pipe::new(bytes.len().max(1), self.chan.notifier(token)));
            pipe.try_push(&bytes);
            pipe.finish();
            self.spawn_upload(token, name, None, None, None, args, pipe, len);
        } else {
            let chan = self.chan.clone();
            self.pool.submit(Box::new(move |db| {
                let outcome = run_command(&host, db, &name, None, None, None, args, None);
                chan.send(LoopMsg::Done(token, outcome));
            }));
        }
        true
    }

    fn drop_framed(&self, conn: &mut Conn) -> bool {
        conn.clear_input();
        conn.close_after_flush = true;
        true
    }

    fn check<'h>(
        host: &'h ServerHost,
        conn: &Conn,
        command: &str,
        session: Option<String>,
        fields: &serde_json::Map<String, Value>,
    ) -> Result<Checked<'h>, CmdError> {
        let entry = host
            .registry
            .get(command)
            .filter(|e| e.command.info.role != kino_api::Role::Internal)
            .ok_or_else(|| {
                CmdError::new(
                    ErrorCode::UnknownCommand,
                    format!("unknown command `{command}`; `help` lists them"),
                )
            })?;
        let token = session.or_else(|| conn.session.clone());
        let caller = token.as_deref().and_then(|t| host.resolve(t));
        authorize(entry.command.info.role, caller.as_ref(), false)?;
        let args = check_args(&entry.command.info, fields)?;
        Ok(Checked {
            entry,
            caller,
            token,
            args,
        })
    }

    fn handle_request(&mut self, conn: &mut Conn, token: Token, body: &[u8]) {
        let req = match parse_request(body) {
            Ok(r) => r,
            Err(e) => return self.reply_now(conn, Reply::err(e.id, e.code, e.message)),
        };
        log::debug!("{} {}", conn.peer, req.command);
        let declared_payload = req.args.get("file_size").and_then(Value::as_u64);
        let host = Arc::clone(&self.host);
        let checked =
            Self::check(&host, conn, &req.command, req.session, &req.args).and_then(|c| {
                match c.entry.command.info.payload {
                    PayloadKind::Upload => match declared_payload {
                        Some(n) if n > host.limits.max_upload => Err(CmdError::new(
                            ErrorCode::TooLarge,
                            format!(
                                "payload of {n} bytes is over the {}-byte upload limit",
                                host.limits.max_upload
                            ),
                        )),
                        Some(_) => Ok(c),
                        None => Err(CmdError::bad_args(
                            "an upload needs `file_size`, the payload length in bytes",
                        )),
                    },
                    _ if declared_payload.is_some() => Err(CmdError::bad_args(format!(
                        "`{}` takes no payload; its {} bytes were discarded",
                        req.command,
                        declared_payload.unwrap_or(0)
                    ))),
                    _ => Ok(c),
                }
            });
        let checked = match checked {
            Ok(c) => c,
            Err(e) => {
                if e.code != ErrorCode::Unauthenticated {
                    log::warn!("{} {}: {}", conn.peer, req.command, e);
                }
                if let Some(n) = declared_payload {
                    if n > host.limits.max_upload {
                        conn.close_after_flush = true;
                    } else if n > 0 {
                        conn.read = ReadState::Discard { remaining: n };
                    }
                }
                return self.reply_now(conn, Reply::err(req.id, e.code, e.message));
            }
        };
        conn.in_flight = true;
        conn.caller = checked.caller.clone();
        let id = req.id;
        let Checked {
            entry,
            caller,
            token: session,
            args,
        } = checked;
        let info = &entry.command.info;
        if info.payload == PayloadKind::Upload {
            let len = declared_payload.unwrap_or(0);
            let pipe = Arc::new(Pipe::new(PIPE_CAP, self.chan.notifier(token)));
            if len == 0 {
                pipe.finish();
            } else {
                conn.read = ReadState::Upload {
                    remaining: len,
                    pipe: Arc::clone(&pipe),
                };
            }
            self.spawn_upload(
                token,
                info.name.clone(),
                id,
                caller,
                session,
                args,
                pipe,
                len,
            );
        } else if entry.command.exec == Exec::Fast {
            let mut ctx = Ctx::new(&*host, &mut self.loop_db, caller, session);
            let result = run_handler(entry, &mut ctx, &args);
            let outcome = Outcome {
                id,
                result,
                session_change: ctx.session_change().cloned(),
            };
            self.loop_db.reset();
            self.finish(conn, token, outcome);
        } else {
            let chan = self.chan.clone();
            let name = info.name.clone();
            self.pool.submit(Box::new(move |db| {
                let outcome = run_command(&host, db, &name, id, caller, session, args, None);
                chan.send(LoopMsg::Done(token, outcome));
            }));
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn spawn_upload(
        &self,
        token: Token,
        name: String,
        id: Option<Value>,
        caller: Option<Identity>,
        session: Option<String>,
        args: kino_api::Args,
        pipe: Arc<Pipe>,
        len: u64,
    ) {
        let host = Arc::clone(&self.host);
        let chan = self.chan.clone();
        let db_path = self.db_path.clone();
        let spawned = std::thread::Builder::new()
            .name("kino-upload".into())
            .spawn(move || {
                let outcome = match SqliteDb::open(&db_path) {
                    Ok(mut db) => {
                        let mut reader = PipeReader::new(&pipe);
                        let upload: (&mut (dyn Read + Send), u64) = (&mut reader, len);
                        run_command(
                            &host,
                            &mut db,
                            &name,
                            id,
                            caller,
                            session,
                            args,
                            Some(upload),
                        )
                    }
                    Err(e) => Outcome {
                        id,
                        result: Err(e.into()),
                        session_change: None,
                    },
                };
                pipe.abort();
                chan.send(LoopMsg::Done(token, outcome));
            });
        if let Err(e) = spawned {
            log::error!("spawning an upload thread: {e}");
            self.chan.send(LoopMsg::Done(
                token,
                Outcome {
                    id: None,
                    result: Err(CmdError::internal(e)),
                    session_change: None,
                },
            ));
        }
    }

    /// Applies a finished command to its connection; a held reply gets a timer.
    pub fn finish(&mut self, conn: &mut Conn, token: Token, outcome: Outcome) {
        if let ReadState::Upload { remaining, pipe } = &conn.read {
            // The handler returned before reading the whole payload: drop the rest.
            pipe.abort();
            conn.read = ReadState::Discard {
                remaining: *remaining,
            };
        }
        match outcome.session_change {
            Some(SessionChange::Bind(t)) => conn.session = Some(t),
            Some(SessionChange::Unbind) => conn.session = None,
            None => {}
        }
        let id = outcome.id;
        match outcome.result {
            Err(e) => {
                self.reply_now(conn, Reply::err(id, e.code, e.message));
                conn.in_flight = false;
            }
            Ok(out) => {
                let frame = match &conn.framed {
                    Some(f) => f.framing.encode(Ok(&out.data)),
                    None if out.raw => frame_json(&out.data),
                    None => frame_json(&Reply::ok(id, out.data)),
                };
                match out.not_before {
                    Some(until) if until > Instant::now() => {
                        conn.held = Some(Held {
                            frame,
                            body: out.body,
                        });
                        self.new_timers.push((until, token));
                    }
                    _ => self.emit(conn, token, frame, out.body),
                }
            }
        }
    }

    /// Queues a reply frame and starts streaming its body, if any.
    pub fn emit(&mut self, conn: &mut Conn, token: Token, frame: Vec<u8>, body: Option<Body>) {
        count_reply(&self.host, true);
        conn.queue(&frame);
        let Some(body) = body else {
            conn.in_flight = false;
            return;
        };
        let Body {
            len,
            mut source,
            on_complete,
        } = body;
        if len == 0 {
            self.complete(conn, token, on_complete, 0);
            return;
        }
        let pipe = Arc::new(Pipe::new(PIPE_CAP, self.chan.notifier(token)));
        let producer = Arc::clone(&pipe);
        let spawned = std::thread::Builder::new()
            .name("kino-send".into())
            .spawn(move || {
                let mut left = len;
                while left > 0 {
                    let mut chunk = vec![0u8; CHUNK.min(left as usize)];
                    match source.read(&mut chunk) {
                        Ok(0) => break,
                        Ok(n) => {
                            chunk.truncate(n);
                            left -= n as u64;
                            if !producer.push_blocking(chunk) {
                                return;
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => {
                            log::error!("reading a reply body: {e}");
                            break;
                        }
                    }
                }
                producer.finish();
            });
        if let Err(e) = spawned {
            log::error!("spawning a send thread: {e}");
            conn.close_after_flush = true;
            conn.in_flight = false;
            return;
        }
        conn.sending = Some(Sending {
            pipe,
            remaining: len,
            sent: 0,
            on_complete,
        });
    }

    /// Pulls body chunks into the out-buffer; returns whether the body finished.
    pub fn fill_body(&mut self, conn: &mut Conn, token: Token) -> io::Result<bool> {
        while conn.pending_out() < OUT_LOW_WATER {
            let Some(s) = conn.sending.as_mut() else {
                return Ok(false);
            };
            match s.pipe.try_pop() {
                Some(mut chunk) => {
                    chunk.truncate(s.remaining.min(chunk.len() as u64) as usize);
                    s.remaining -= chunk.len() as u64;
                    s.sent += chunk.len() as u64;
                    conn.queue(&chunk);
                }
                None if s.pipe.drained() && s.remaining > 0 => {
                    // The source ended early: the client was promised more bytes than exist, so
                    // the stream cannot be kept in sync.
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "reply body ended early",
                    ));
                }
                None => return Ok(false),
            }
            if conn.sending.as_ref().is_some_and(|s| s.remaining == 0) {
                if let Some(s) = conn.sending.take() {
                    s.pipe.abort();
                    self.complete(conn, token, s.on_complete, s.sent);
                }
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// A body went out whole. Its hook (e.g. the download record) runs on a worker, and the
    /// connection takes no next request until it has: a client that asks for its records right
    /// after a download sees that download.
    fn complete(
        &mut self,
        conn: &mut Conn,
        token: Token,
        hook: Option<kino_api::OnComplete>,
        sent: u64,
    ) {
        let Some(hook) = hook else {
            conn.in_flight = false;
            return;
        };
        let host = Arc::clone(&self.host);
        let chan = self.chan.clone();
        let caller = conn.caller.clone();
        let session = conn.session.clone();
        self.pool.submit(Box::new(move |db| {
            let mut ctx = Ctx::new(&*host, db, caller, session);
            let outcome = catch_unwind(AssertUnwindSafe(|| hook(&mut ctx, sent)));
            match outcome {
                Ok(Ok(())) => {}
                Ok(Err(e)) => log::warn!("completion hook failed: {e}"),
                Err(_) => log::error!("completion hook panicked"),
            }
            chan.send(LoopMsg::Released(token));
        }));
    }
}

fn count_reply(host: &ServerHost, ok: bool) {
    ServerStats::add(&host.stats.commands, 1);
    if !ok {
        ServerStats::add(&host.stats.errors, 1);
    }
}

/// Runs one command on the calling thread's database connection.
#[allow(clippy::too_many_arguments)]
pub fn run_command(
    host: &ServerHost,
    db: &mut SqliteDb,
    name: &str,
    id: Option<Value>,
    caller: Option<Identity>,
    session: Option<String>,
    args: kino_api::Args,
    upload: Option<(&mut (dyn Read + Send), u64)>,
) -> Outcome {
    let Some(entry) = host.registry.get(name) else {
        return Outcome {
            id,
            result: Err(CmdError::internal("command vanished")),
            session_change: None,
        };
    };
    let mut ctx = Ctx::new(host, db, caller, session);
    if let Some((reader, len)) = upload {
        ctx = ctx.with_upload(reader, len);
    }
    let result = run_handler(entry, &mut ctx, &args);
    if let Err(e) = &result {
        if e.code == ErrorCode::Internal {
            log::warn!("{name} failed: {}", e.message);
        }
    }
    let session_change = ctx.session_change().cloned();
    Outcome {
        id,
        result,
        session_change,
    }
}
