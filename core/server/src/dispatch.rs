//! From a request frame to a queued reply: parse, look up, resolve the caller from the session,
//! check role and arguments once, in core (redis `processCommand`), then run the handler inline,
//! on the pool, or on a transfer thread, and turn its result into reply bytes.

use std::io::Read;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use kino_api::{check_args, CmdError, Ctx, Exec, Identity, PayloadKind};
use kino_proto::{parse_request, ErrorCode, Header, Id, Reply, Request, RequestError};
use mio::Token;
use serde_json::Value;

use crate::conn::{Conn, ReadState};
use crate::host::{authorize, run_handler, ServerHost};
use crate::lanes::Entry;
use crate::pipe::{Pipe, PipeReader};
use crate::registry::EntryRef;
use crate::store::{AnyDb, DbUrl};
use crate::transfers::{Holder, Slot, TransferSlots};
use crate::workers::{Job, LoopChannel, LoopMsg, Outcome, WorkerPool};

/// Bytes buffered between the socket and a transfer thread, per direction.
pub(crate) const PIPE_CAP: usize = 1024 * 1024;
/// Chunk size of a body pump.
pub(crate) const CHUNK: usize = 64 * 1024;
/// Out-buffer level under which more body chunks are pulled in.
pub(crate) const OUT_LOW_WATER: usize = 256 * 1024;

/// The parts of the server the loop hands requests to.
pub struct Dispatcher {
    /// Shared state.
    pub host: Arc<ServerHost>,
    /// The pool for blocking commands and completion hooks.
    pub pool: WorkerPool,
    /// Results back to the loop.
    pub chan: LoopChannel,
    /// The loop's own connection, for `Fast` commands.
    pub loop_db: AnyDb,
    /// Where transfer threads open their connections.
    pub db_url: DbUrl,
    /// Shutting down: start no new requests.
    pub draining: bool,
    /// Held replies the loop must set timers for.
    pub new_timers: Vec<(Instant, Token)>,
    /// Bounds the threads uploads and downloads hold.
    pub transfers: Arc<TransferSlots>,
    /// Requests held on the loop by their command's lane.
    pub lanes: crate::lanes::Lanes,
}

/// A request that passed every check.
struct Checked<'a> {
    entry: EntryRef<'a>,
    caller: Option<Identity>,
    token: Option<String>,
    args: kino_api::Args,
    slot: Option<Slot>,
}

impl Dispatcher {
    /// Handles complete input, at most `frames_left` request frames (decremented), and none
    /// while the connection's unsent replies are over `--max-output`; returns whether anything
    /// changed.
    pub fn process_input(
        &mut self,
        conn: &mut Conn,
        token: Token,
        frames_left: &mut usize,
    ) -> bool {
        let mut progress = false;
        loop {
            match &mut conn.read {
                ReadState::Frames => {
                    if conn.in_flight() || conn.close_after_flush || self.draining {
                        return progress;
                    }
                    if *frames_left == 0 || conn.pending_out() >= self.host.limits.max_output {
                        conn.out_paused |= conn.pending_out() >= self.host.limits.max_output;
                        return progress;
                    }
                    if let Some(framed) = conn.framed.clone() {
                        let done = self.process_framed(conn, token, &framed);
                        if done {
                            *frames_left -= 1;
                            conn.spoke = true;
                            conn.frame_started = None;
                        } else if !conn.input().is_empty() {
                            conn.frame_started.get_or_insert_with(Instant::now);
                        }
                        return done || progress;
                    }
                    match kino_proto::decode_header(conn.input(), self.host.limits.max_frame) {
                        Header::Incomplete => {
                            // The frame clock starts when the loop first waits for a frame's
                            // rest, not while an earlier request of the connection runs.
                            conn.frame_started = match conn.input().is_empty() {
                                true => None,
                                false => Some(conn.frame_started.unwrap_or_else(Instant::now)),
                            };
                            return progress;
                        }
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
                            // Parsed in place: the request owns what it keeps, so the frame
                            // is never copied out of the input buffer.
                            let parsed = (!self.answer_constant(conn, len)).then(|| {
                                parse_request(&conn.input()[kino_proto::HEADER_LEN..][..len])
                            });
                            conn.consume(kino_proto::HEADER_LEN + len);
                            conn.spoke = true;
                            conn.frame_started = None;
                            *frames_left -= 1;
                            if let Some(parsed) = parsed {
                                self.handle_request(conn, token, parsed, None);
                            }
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
                    conn.last_input = conn.clock;
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
                ReadState::Direct { .. } => return progress,
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

    fn check<'h>(
        host: &'h ServerHost,
        command: &str,
        (id, token, caller): (bool, Option<String>, Option<Identity>),
        fields: &serde_json::Map<String, Value>,
    ) -> Result<Checked<'h>, CmdError> {
        let entry = host
            .lookup(command)
            .filter(|e| !e.command.info.internal)
            .ok_or_else(|| {
                CmdError::new(
                    ErrorCode::UnknownCommand,
                    format!(
                        "unknown command `{command}`{}; `help` lists them",
                        Some(host.registry.suggest(command))
                            .filter(|h| !h.is_empty())
                            .unwrap_or_else(|| host.scripts.suggest(command))
                    ),
                )
            })?;
        if let Some(refusal) = crate::compat::native_refusal(&entry, command, id) {
            return Err(refusal);
        }
        authorize(entry.command.info.role, caller.as_ref())?;
        let args = check_args(&entry.command.info, fields)?;
        Ok(Checked {
            entry,
            caller,
            token,
            args,
            slot: None,
        })
    }

    /// `resolved`: the caller, when a pool worker already looked the session up.
    pub(crate) fn handle_request(
        &mut self,
        conn: &mut Conn,
        token: Token,
        parsed: Result<Request, RequestError>,
        resolved: Option<Option<Identity>>,
    ) {
        let req = match parsed {
            Ok(r) => r,
            Err(e) => return self.reply_now(conn, Reply::err(e.id, e.code, e.message)),
        };
        let session = req.session.clone().or_else(|| conn.session.clone());
        let caller = match (resolved, &session) {
            (Some(caller), _) => caller,
            (None, None) => None,
            (None, Some(t)) => match self.host.sessions.cached(t, crate::session::now_ms()) {
                Some(identity) => Some(identity),
                None => return crate::resolve::off_loop(self, conn, token, req, t.clone()),
            },
        };
        log::debug!("{} {}", conn.peer, req.command);
        let declared_payload = req.args.get("file_size").and_then(Value::as_u64);
        let host = Arc::clone(&self.host);
        let transfers = Arc::clone(&self.transfers);
        let checked = Self::check(
            &host,
            &req.command,
            (req.id.is_some(), session, caller),
            &req.args,
        )
        .and_then(|mut c| {
            match c.entry.command.info.payload {
                PayloadKind::Upload => match declared_payload {
                    Some(n) if n > host.limits.max_upload => Err(CmdError::new(
                        ErrorCode::TooLarge,
                        format!(
                            "payload of {n} bytes is over the {}-byte upload limit",
                            host.limits.max_upload
                        ),
                    )),
                    Some(_) => {
                        // Taken last: a request refused for any other reason holds no slot.
                        let holder = Holder::of(c.caller.as_ref(), conn.peer.ip());
                        c.slot = Some(transfers.try_take(holder)?);
                        Ok(c)
                    }
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
                    host.warns.warn(
                        &format!("{} {}", conn.peer.ip(), req.command),
                        format_args!("{} {}: {}", conn.peer, req.command, e),
                    );
                }
                if let Some(n) = declared_payload {
                    if n > host.limits.max_upload {
                        conn.close_after_flush = true;
                    } else if n > 0 {
                        conn.read = ReadState::Discard { remaining: n };
                    }
                }
                let old_protocol =
                    conn.legacy || host.registry.legacy_looking(&req.command, req.id.is_some());
                if e.code == ErrorCode::UnknownCommand && conn.framed.is_none() && old_protocol {
                    crate::replies::count_reply(&host, false);
                    return conn.queue(&crate::compat::unknown_type_frame());
                }
                return self.reply_now(conn, Reply::err(req.id, e.code, e.message));
            }
        };
        conn.begin(checked.caller.clone());
        conn.legacy |= checked.entry.command.info.legacy_only;
        let peer = Some(conn.peer.ip());
        let id = req.id;
        let Checked {
            entry,
            caller,
            token: session,
            args,
            slot,
        } = checked;
        let info = &entry.command.info;
        if entry.command.quick.is_some() && info.payload != PayloadKind::Upload {
            let mut ctx = Ctx::new(&*host, &mut self.loop_db, caller.clone(), session.clone())
                .with_peer(peer);
            if let Some(result) = crate::host::run_quick(&entry, &mut ctx, &args) {
                let outcome = Outcome {
                    id,
                    result,
                    session_change: None,
                };
                return self.finish(conn, token, outcome);
            }
        }
        if info.payload == PayloadKind::Upload {
            let len = declared_payload.unwrap_or(0);
            let payload = match crate::direct::hand_over(conn, len, &host) {
                Some(reader) => Payload::Direct(reader),
                None => {
                    let pipe = Arc::new(Pipe::new(PIPE_CAP, self.chan.notifier(token)));
                    if len == 0 {
                        pipe.finish();
                    } else {
                        conn.read = ReadState::Upload {
                            remaining: len,
                            pipe: Arc::clone(&pipe),
                        };
                    }
                    Payload::Piped(pipe)
                }
            };
            self.spawn_upload(
                token,
                info.name.clone(),
                id,
                caller,
                session,
                args,
                (payload, slot),
                len,
                peer,
            );
        } else if entry.command.exec == Exec::Fast {
            let mut ctx = Ctx::new(&*host, &mut self.loop_db, caller, session).with_peer(peer);
            let result = run_handler(&entry, &mut ctx, &args);
            let outcome = Outcome {
                id,
                result,
                session_change: ctx.session_change().cloned(),
            };
            self.loop_db.reset();
            self.finish(conn, token, outcome);
        } else {
            // A lane's bound is checked before the request takes a place in the pool's queue.
            let lane = entry.command.lane.clone();
            let lane_index = lane.as_ref().map(|l| self.lanes.index(l));
            let entered = lane_index.map(|i| self.lanes.enter(i));
            if let (Some(Entry::Refuse { running, waiting }), Some(lane)) = (entered, &lane) {
                let outcome = Outcome {
                    id,
                    result: Err(CmdError::new(
                        ErrorCode::Busy,
                        lane.busy_message(running, waiting),
                    )),
                    session_change: None,
                };
                return self.finish(conn, token, outcome);
            }
            let chan = self.chan.clone();
            let name = info.name.clone();
            let job: Job = Box::new(move |db| {
                let outcome = run_command(&host, db, &name, id, caller, session, args, None, peer);
                chan.send(LoopMsg::Done(token, Box::new(outcome)));
                if let Some(i) = lane_index {
                    chan.send(LoopMsg::LaneFree(i));
                }
            });
            match (entered, lane_index) {
                (Some(Entry::Wait), Some(i)) => self.lanes.hold(i, token, job),
                _ => self.pool.submit(job),
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn spawn_upload(
        &self,
        token: Token,
        name: String,
        id: Option<Id>,
        caller: Option<Identity>,
        session: Option<String>,
        args: kino_api::Args,
        (payload, slot): (Payload, Option<Slot>),
        len: u64,
        peer: Option<IpAddr>,
    ) {
        let host = Arc::clone(&self.host);
        let chan = self.chan.clone();
        let db_url = self.db_url.clone();
        let spawned = std::thread::Builder::new()
            .name("kino-upload".into())
            .spawn(move || {
                crate::priority::lower_this_thread(host.limits.pool_nice, host.limits.pool_sched);
                let outcome = match AnyDb::open(&db_url) {
                    Ok(mut db) => {
                        let run = |reader: &mut (dyn Read + Send)| {
                            let upload = Some((reader, len));
                            run_command(
                                &host, &mut db, &name, id, caller, session, args, upload, peer,
                            )
                        };
                        match payload {
                            Payload::Piped(pipe) => {
                                let outcome = run(&mut PipeReader::new(&pipe));
                                pipe.abort();
                                outcome
                            }
                            // Dropped (its socket handle closed) before the loop takes over.
                            Payload::Direct(mut reader) => run(&mut reader),
                        }
                    }
                    Err(e) => {
                        if let Payload::Piped(pipe) = &payload {
                            pipe.abort();
                        }
                        Outcome {
                            id,
                            result: Err(e.into()),
                            session_change: None,
                        }
                    }
                };
                // Freed before the reply goes out, so a client that starts its next upload on
                // seeing the reply finds the slot free.
                drop(slot);
                chan.send(LoopMsg::Done(token, Box::new(outcome)));
            });
        if let Err(e) = spawned {
            log::error!("spawning an upload thread: {e}");
            self.chan.send(LoopMsg::Done(
                token,
                Box::new(Outcome {
                    id: None,
                    result: Err(CmdError::internal(e)),
                    session_change: None,
                }),
            ));
        }
    }
}

/// Where an upload's thread gets the payload from.
pub(crate) enum Payload {
    /// Pushed by the loop through a pipe (a plugin listener's payload, already whole in
    /// memory; or no spare descriptor for a second handle of the socket).
    Piped(Arc<Pipe>),
    /// Read from the socket by the thread itself.
    Direct(crate::direct::DirectReader),
}

/// Runs one command on the calling thread's database connection.
#[allow(clippy::too_many_arguments)]
pub fn run_command(
    host: &ServerHost,
    db: &mut AnyDb,
    name: &str,
    id: Option<Id>,
    caller: Option<Identity>,
    session: Option<String>,
    args: kino_api::Args,
    upload: Option<(&mut (dyn Read + Send), u64)>,
    peer: Option<IpAddr>,
) -> Outcome {
    let Some(entry) = host.lookup(name) else {
        return Outcome {
            id,
            result: Err(CmdError::internal("command vanished")),
            session_change: None,
        };
    };
    let mut ctx = Ctx::new(host, db, caller, session).with_peer(peer);
    if let Some((reader, len)) = upload {
        ctx = ctx.with_upload(reader, len);
    }
    let result = run_handler(&entry, &mut ctx, &args);
    match &result {
        // One line per failed command; the detail of an internal error was logged where it
        // happened.
        Err(e) => {
            let who = ctx.caller().map_or("anonymous", |c| c.name.as_str());
            host.warns.warn(
                &format!("{who} {name}"),
                format_args!("{name} failed for {who}: {e}"),
            )
        }
        Ok(_) => log::debug!("{name} done"),
    }
    let session_change = ctx.session_change().cloned();
    Outcome {
        id,
        result,
        session_change,
    }
}
