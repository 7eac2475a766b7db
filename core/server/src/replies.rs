//! From a command's result to bytes on the socket: reply frames (or a plugin listener's own
//! encoding), held replies, bodies streamed from a pump thread through a bounded pipe, and the
//! completion hook that runs once a body went out whole.

use std::io::{self, Read};
use std::os::fd::AsFd;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Instant;

use kino_api::{Body, CmdError, Ctx, Output, SessionChange};
use kino_proto::{frame::frame_json, Reply};
use mio::Token;

use crate::conn::{Conn, Held, ReadState, Sending};
use crate::dispatch::{Dispatcher, CHUNK, OUT_LOW_WATER, PIPE_CAP};
use crate::host::ServerHost;
use crate::pipe::Pipe;
use crate::sendfile::{self, KernelBody};
use crate::stats::ServerStats;
use crate::transfers::{Holder, Slot};
use crate::workers::{LoopMsg, Outcome};

impl Dispatcher {
    /// Queues a reply for a request answered without running a handler (or failed).
    pub(crate) fn reply_now(&self, conn: &mut Conn, reply: Reply) {
        count_reply(&self.host, reply.ok);
        match (&conn.framed, &reply.error) {
            (Some(f), Some(e)) => {
                let err = CmdError::new(e.code, e.message.clone());
                let bytes = f.framing.encode(Err(&err));
                conn.queue(&bytes);
            }
            _ => conn.queue_json(&reply),
        }
    }

    /// Applies a finished command to its connection; a held reply gets a timer.
    pub fn finish(&mut self, conn: &mut Conn, token: Token, outcome: Outcome) {
        crate::direct::take_back(conn);
        if let ReadState::Upload { remaining, pipe } = &conn.read {
            // The handler returned before reading the whole payload: drop the rest.
            pipe.abort();
            conn.read = ReadState::Discard {
                remaining: *remaining,
            };
        }
        match outcome.session_change {
            Some(SessionChange::Bind(t)) => conn.session = Some(t),
            Some(SessionChange::Unbind(t)) if conn.session.as_ref() == Some(&t) => {
                conn.session = None;
            }
            Some(SessionChange::Unbind(_)) => {}
            None => {}
        }
        let id = outcome.id;
        match outcome.result {
            Err(e) => {
                self.reply_now(conn, Reply::err(id, e.code, e.message));
                conn.finish();
            }
            Ok(mut out) => {
                // A body streams on a thread of its own: it needs a slot, or the reply is `busy`.
                let slot = match &out.body {
                    Some(b) if b.len > 0 => {
                        let holder = Holder::of(conn.caller(), conn.peer.ip());
                        match self.transfers.try_take(holder) {
                            Ok(s) => Some(s),
                            Err(e) => {
                                out.body = None;
                                self.reply_now(conn, Reply::err(id, e.code, e.message));
                                conn.finish();
                                return;
                            }
                        }
                    }
                    _ => None,
                };
                if out.refused {
                    ServerStats::add(&self.host.stats.errors, 1);
                }
                match out.not_before {
                    Some(until) if until > Instant::now() => {
                        let frame = match &conn.framed {
                            Some(f) => f.framing.encode(Ok(&out.data)),
                            None if out.raw => frame_json(&out.data),
                            None if out.encoded.is_some() => encoded_frame(id, &mut out),
                            None => frame_json(&Reply {
                                page: out.page.take(),
                                ..Reply::ok(id, out.data)
                            }),
                        };
                        conn.hold(Held {
                            frame,
                            body: out.body,
                            slot,
                        });
                        self.new_timers.push((until, token));
                    }
                    _ => {
                        count_reply(&self.host, true);
                        match &conn.framed {
                            Some(f) => {
                                let bytes = f.framing.encode(Ok(&out.data));
                                conn.queue(&bytes);
                            }
                            None if out.raw => conn.queue_json(&out.data),
                            None if out.encoded.is_some() => {
                                conn.queue(&encoded_frame(id, &mut out));
                            }
                            None => conn.queue_json(&Reply {
                                page: out.page.take(),
                                ..Reply::ok(id, out.data)
                            }),
                        }
                        self.start_body(conn, token, out.body, slot);
                    }
                }
            }
        }
    }

    /// Queues a reply frame and starts streaming its body, if any.
    pub fn emit(
        &mut self,
        conn: &mut Conn,
        token: Token,
        frame: Vec<u8>,
        body: Option<Body>,
        slot: Option<Slot>,
    ) {
        count_reply(&self.host, true);
        conn.queue(&frame);
        self.start_body(conn, token, body, slot);
    }

    /// Starts streaming a reply body whose frame was just queued, or ends the request.
    fn start_body(
        &mut self,
        conn: &mut Conn,
        token: Token,
        body: Option<Body>,
        slot: Option<Slot>,
    ) {
        let Some(body) = body else {
            conn.finish();
            return;
        };
        let Body {
            len,
            source,
            on_complete,
            file,
        } = body;
        if len == 0 {
            self.complete(conn, token, on_complete, 0);
            return;
        }
        let pipe = Arc::new(Pipe::new(PIPE_CAP, self.chan.notifier(token)));
        let sock = file.map(|f| (conn.stream.as_fd().try_clone_to_owned(), f));
        let (spawned, by_kernel) = match sock {
            Some((Ok(sock), f)) => {
                let body = KernelBody {
                    sock,
                    file: f.file,
                    offset: f.offset,
                    len,
                    source,
                };
                let host = Arc::clone(&self.host);
                (sendfile::spawn(body, Arc::clone(&pipe), host, slot), true)
            }
            _ => {
                let nice = (self.host.limits.pool_nice, self.host.limits.pool_sched);
                (
                    spawn_reader(source, len, Arc::clone(&pipe), slot, nice),
                    false,
                )
            }
        };
        if let Err(e) = spawned {
            log::error!("spawning a send thread: {e}");
            conn.close_after_flush = true;
            conn.finish();
            return;
        }
        conn.start_sending(Sending {
            pipe,
            remaining: len,
            sent: 0,
            on_complete,
            by_kernel,
        });
    }

    /// A body sent by the kernel: lets its thread start once the reply frame is out, and ends
    /// the request when the thread is done (see [`crate::sendfile`]).
    fn fill_kernel_body(&mut self, conn: &mut Conn, token: Token) -> io::Result<bool> {
        let flushed = conn.pending_out() == 0;
        let Some(s) = conn.sending_mut() else {
            return Ok(false);
        };
        if !flushed {
            return Ok(false);
        }
        s.pipe.go();
        // Nothing comes through the pipe; this marks the loop waiting for the thread's end.
        let _ = s.pipe.try_pop();
        if !s.pipe.drained() {
            return Ok(false);
        }
        let moved = s.pipe.moved_total();
        if moved < s.remaining {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "reply body ended early",
            ));
        }
        if let Some(s) = conn.take_sending() {
            s.pipe.abort();
            self.complete(conn, token, s.on_complete, moved);
        }
        Ok(true)
    }

    /// Pulls body chunks into the out-buffer; returns whether the body finished.
    pub fn fill_body(&mut self, conn: &mut Conn, token: Token) -> io::Result<bool> {
        if conn.sending_mut().is_some_and(|s| s.by_kernel) {
            return self.fill_kernel_body(conn, token);
        }
        while conn.pending_out() < OUT_LOW_WATER {
            let Some(s) = conn.sending_mut() else {
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
            if conn.sending_mut().is_some_and(|s| s.remaining == 0) {
                if let Some(s) = conn.take_sending() {
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
            conn.finish();
            return;
        };
        let host = Arc::clone(&self.host);
        let chan = self.chan.clone();
        let caller = conn.caller().cloned();
        conn.completing();
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

pub(crate) fn count_reply(host: &ServerHost, ok: bool) {
    ServerStats::add(&host.stats.commands, 1);
    if !ok {
        ServerStats::add(&host.stats.errors, 1);
    }
}

/// The native success frame of an output whose `data` was serialised before (a snapshot):
/// the same bytes `Reply::ok` would give, with those bytes as `data`.
fn encoded_frame(id: Option<kino_proto::Id>, out: &mut Output) -> Vec<u8> {
    let data = out
        .encoded
        .take()
        .unwrap_or_else(|| b"null".as_slice().into());
    let mut body = Vec::with_capacity(data.len() + 96);
    body.extend_from_slice(b"{\"ok\":true,\"id\":");
    let _ = serde_json::to_writer(&mut body, &id.unwrap_or_default());
    body.extend_from_slice(b",\"data\":");
    body.extend_from_slice(&data);
    if let Some(page) = out.page.take() {
        body.extend_from_slice(b",\"page\":");
        let _ = serde_json::to_writer(&mut body, &page);
    }
    body.push(b'}');
    let mut frame = Vec::with_capacity(kino_proto::HEADER_LEN + body.len());
    frame.extend_from_slice(&(body.len() as u32).to_le_bytes());
    frame.extend_from_slice(&body);
    frame
}

/// Reads a body on a thread of its own into `pipe`, for the loop to write out.
fn spawn_reader(
    mut source: Box<dyn Read + Send>,
    len: u64,
    producer: Arc<Pipe>,
    slot: Option<Slot>,
    (nice, sched): (u32, crate::priority::PoolSched),
) -> io::Result<()> {
    std::thread::Builder::new()
        .name("kino-send".into())
        .spawn(move || {
            crate::priority::lower_this_thread(nice, sched);
            let _slot = slot;
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
        })
        .map(drop)
}
