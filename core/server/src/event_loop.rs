//! The readiness loop (mio's `tcp_server` example, grown up): one `Poll` owns the listener and
//! every connection; command results and transfer progress come back through a channel and a
//! `Waker`; held replies and idle checks run off the poll timeout. Nothing here blocks.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::io;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token};

use crate::conn::{Conn, FramedBy, ReadState};
use crate::dispatch::Dispatcher;
use crate::host::ServerHost;
use crate::stats::ServerStats;
use crate::workers::LoopMsg;

mod accept;
mod proxy;
mod timeouts;

/// The listener's token.
pub const LISTENER: Token = Token(0);
/// The waker's token.
pub const WAKER: Token = Token(1);
const FIRST_LISTENER: usize = 2;
/// Bytes read from one connection per wake-up before the others get their turn. Small enough
/// that a `ping` waits behind at most this much of each streaming upload (docs/BENCHMARKS.md
/// "Latency under mixed load"), and that the read buffer and the pipe chunk made from it stay
/// under the pinned mmap threshold (`pin_malloc_mmap_threshold`, 128 KiB): larger ones were a
/// fresh `mmap`, page faults on every page and a `munmap` per wake-up.
const WAKE_BYTES: usize = 64 * 1024;

/// The loop's state.
pub struct EventLoop {
    poll: Poll,
    /// `None` once draining: closed, so connects are refused at once and a balancer's health
    /// check fails fast instead of timing out on a backlog nobody accepts from.
    listener: Option<TcpListener>,
    plugin_listeners: HashMap<Token, (TcpListener, FramedBy)>,
    rx: Receiver<LoopMsg>,
    conns: HashMap<Token, Conn, ahash::RandomState>,
    next_token: usize,
    timers: BTreeSet<(Instant, Token)>,
    stop: Arc<AtomicBool>,
    dispatcher: Dispatcher,
    last_sweep: Instant,
    scratch: Vec<u8>,
    /// Connections that used their wake-up budget with work left: readiness is edge-triggered,
    /// so no new event would come for what they already have.
    ready: VecDeque<Token>,
    /// Open connections per address, over every listener.
    per_ip: HashMap<IpAddr, usize>,
    /// The clock, read once per wake-up.
    now: Instant,
}

fn busy_frame() -> Vec<u8> {
    let reply = kino_proto::Reply::err(
        None,
        kino_proto::ErrorCode::Busy,
        "too many connections; try again later",
    );
    kino_proto::frame::frame_json(&reply)
}

impl EventLoop {
    /// Wires the parts; `run` starts serving.
    pub fn new(
        poll: Poll,
        mut listener: TcpListener,
        extra: Vec<(TcpListener, FramedBy)>,
        rx: Receiver<LoopMsg>,
        stop: Arc<AtomicBool>,
        dispatcher: Dispatcher,
    ) -> io::Result<Self> {
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        let mut plugin_listeners = HashMap::new();
        for (i, (mut l, framed)) in extra.into_iter().enumerate() {
            let token = Token(FIRST_LISTENER + i);
            poll.registry()
                .register(&mut l, token, Interest::READABLE)?;
            plugin_listeners.insert(token, (l, framed));
        }
        let first_conn = FIRST_LISTENER + plugin_listeners.len();
        Ok(EventLoop {
            poll,
            listener: Some(listener),
            plugin_listeners,
            rx,
            conns: HashMap::default(),
            next_token: first_conn,
            timers: BTreeSet::new(),
            stop,
            dispatcher,
            last_sweep: Instant::now(),
            scratch: vec![0u8; 64 * 1024],
            ready: VecDeque::new(),
            per_ip: HashMap::new(),
            now: Instant::now(),
        })
    }

    fn host(&self) -> &ServerHost {
        &self.dispatcher.host
    }

    /// Serves until the stop flag is set, then drains and returns.
    pub fn run(mut self) -> io::Result<Dispatcher> {
        let mut events = Events::with_capacity(1024);
        let mut drain_deadline: Option<Instant> = None;
        loop {
            let timeout = self.next_timeout();
            if let Err(e) = self.poll.poll(&mut events, Some(timeout)) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            self.now = Instant::now();
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept_all(None),
                    WAKER => {}
                    token if self.plugin_listeners.contains_key(&token) => {
                        self.accept_all(Some(token))
                    }
                    token => {
                        if let Some(conn) = self.conns.get_mut(&token) {
                            conn.read_blocked = false;
                        }
                        self.pump(token)
                    }
                }
            }
            while let Ok(msg) = self.rx.try_recv() {
                match msg {
                    LoopMsg::Done(token, outcome) => {
                        if let Some(conn) = self.conns.get_mut(&token) {
                            self.dispatcher.finish(conn, token, *outcome);
                            self.pump(token);
                        }
                    }
                    LoopMsg::Wake(token) => self.pump(token),
                    LoopMsg::Resolved(token, resolved) => {
                        if let Some(conn) = self.conns.get_mut(&token) {
                            crate::resolve::resume(&mut self.dispatcher, conn, token, *resolved);
                            self.pump(token);
                        }
                    }
                    LoopMsg::Released(token) => {
                        if let Some(conn) = self.conns.get_mut(&token) {
                            conn.finish();
                            self.pump(token);
                        }
                    }
                    LoopMsg::LaneFree(lane) => {
                        if let Some(job) = self.dispatcher.lanes.finished(lane) {
                            self.dispatcher.pool.submit(job);
                        }
                    }
                }
            }
            self.fire_timers();
            self.run_ready();
            if self.stop.load(Ordering::Relaxed) && drain_deadline.is_none() {
                log::info!("shutting down: no new connections, finishing in-flight work");
                if let Some(mut l) = self.listener.take() {
                    let _ = self.poll.registry().deregister(&mut l);
                }
                for (_, (mut l, _)) in self.plugin_listeners.drain() {
                    let _ = self.poll.registry().deregister(&mut l);
                }
                self.dispatcher.draining = true;
                drain_deadline = Some(Instant::now() + self.dispatcher.host.limits.drain_timeout);
                let quiet: Vec<Token> = self
                    .conns
                    .iter()
                    .filter(|(_, c)| c.quiet())
                    .map(|(t, _)| *t)
                    .collect();
                for t in quiet {
                    self.close(t, "server shutting down");
                }
            }
            if let Some(deadline) = drain_deadline {
                if self.conns.values().all(Conn::quiet) || Instant::now() >= deadline {
                    let all: Vec<Token> = self.conns.keys().copied().collect();
                    for t in all {
                        self.close(t, "server shut down");
                    }
                    return Ok(self.dispatcher);
                }
            }
        }
    }

    /// One more turn for each connection that was cut short by its budget.
    fn run_ready(&mut self) {
        for _ in 0..self.ready.len() {
            let Some(token) = self.ready.pop_front() else {
                break;
            };
            if let Some(conn) = self.conns.get_mut(&token) {
                conn.queued = false;
                self.pump(token);
            }
        }
    }

    fn next_timeout(&self) -> Duration {
        if !self.ready.is_empty() {
            return Duration::ZERO;
        }
        let tick = Duration::from_millis(500);
        match self.timers.first() {
            Some((when, _)) => when.saturating_duration_since(Instant::now()).min(tick),
            None => tick,
        }
    }

    /// Moves a connection forward as far as it can go without blocking.
    fn pump(&mut self, token: Token) {
        self.pump_conn(token);
        self.timers.extend(self.dispatcher.new_timers.drain(..));
    }

    fn pump_conn(&mut self, token: Token) {
        let limits = &self.dispatcher.host.limits;
        let (high, low) = (limits.max_output, limits.max_output / 4);
        let mut frames_left = limits.wake_budget;
        let mut bytes_left = WAKE_BYTES;
        let mut requeue = false;
        let mut read_any = false;
        let max_frame = limits.max_frame;
        let Some(conn) = self.conns.get_mut(&token) else {
            return; // a stale event or a result for a closed connection
        };
        conn.clock = self.now;
        let in_cap = match &conn.framed {
            Some(f) => f.framing.max_message(),
            None => self.dispatcher.host.limits.max_frame + kino_proto::HEADER_LEN,
        };
        let result = (|| -> io::Result<()> {
            loop {
                let mut progress = false;
                if conn.proxy_pending {
                    let cap = self.dispatcher.host.limits.max_connections_per_ip;
                    progress |= proxy::take_header(conn, &mut self.per_ip, cap)?;
                }
                if !conn.out_paused && !conn.proxy_pending {
                    progress |= self.dispatcher.process_input(conn, token, &mut frames_left);
                }
                if !conn.out_paused
                    && !conn.reads_direct()
                    && !conn.read_blocked
                    && !conn.peer_closed
                    && !conn.close_after_flush
                    && conn.input().len() < in_cap
                {
                    let n = conn.read_socket(
                        in_cap.min(conn.input().len() + bytes_left),
                        &mut self.scratch,
                    )?;
                    ServerStats::add(&self.dispatcher.host.stats.bytes_in, n as u64);
                    bytes_left -= n;
                    if n > 0 {
                        progress = true;
                        read_any = true;
                    }
                }
                progress |= self.dispatcher.fill_body(conn, token)?;
                let n = conn.write_socket()?;
                ServerStats::add(&self.dispatcher.host.stats.bytes_out, n as u64);
                // Bytes went out while a body is streaming: the out-buffer may now be under the
                // low-water mark with chunks already waiting in the pipe. Go round again to pull
                // them; the producer may have finished, so no wake-up would come for them, and
                // with nothing left to write no WRITABLE event either.
                if n > 0 && conn.is_sending() {
                    progress = true;
                }
                // Replies drained under the low-water mark: read again now, since the socket's
                // readiness edge was consumed long ago.
                if conn.update_out_pause(high, low) {
                    progress = true;
                }
                if progress && (frames_left == 0 || bytes_left == 0) {
                    requeue = true;
                    return Ok(());
                }
                if !progress {
                    return Ok(());
                }
            }
        })();
        if let Err(e) = result {
            self.close(token, &format!("I/O error: {e}"));
            return;
        }
        // Decided after parsing: only a partial frame (or payload) means the client may be
        // waiting for our ACK before it sends the rest (Nagle on its side), so acknowledge at
        // once, not after 40 ms. Whole requests get their ACK on the reply; re-arming for them
        // cost a syscall and a pure ACK segment per request.
        if read_any && conn.awaiting_rest(max_frame) {
            let _ = socket2::SockRef::from(&conn.stream).set_tcp_quickack(true);
            ServerStats::add(&self.dispatcher.host.stats.quickacks, 1);
        }
        self.account(token);
        let Some(conn) = self.conns.get_mut(&token) else {
            return;
        };
        if requeue && !conn.queued {
            conn.queued = true;
            self.ready.push_back(token);
        }
        if conn.done_after_flush() {
            self.close(token, "closed");
            return;
        }
        if conn.peer_closed && matches!(conn.read, ReadState::Upload { .. }) {
            self.close(token, "client left during upload");
            return;
        }
        // A request waiting in a lane has not started: a client that hung up (or half-closed)
        // gives its place back rather than having the work done for no one.
        if conn.peer_closed && self.dispatcher.lanes.holds(token) {
            self.close(token, "client left while its request waited in a lane");
            return;
        }
        // While an upload's thread reads the socket, READABLE is off: every arriving segment
        // would wake the loop for bytes it must not read. WRITABLE stays (mio needs one
        // interest), so earlier replies still flush and errors still wake the loop; the
        // thread sees a hang-up itself, and the result brings READABLE back.
        let direct = conn.reads_direct();
        let want_write = conn.pending_out() > 0 || direct;
        if want_write != conn.writable || direct != conn.unreadable {
            let interest = match (direct, want_write) {
                (true, _) => Interest::WRITABLE,
                (false, true) => Interest::READABLE | Interest::WRITABLE,
                (false, false) => Interest::READABLE,
            };
            match self
                .poll
                .registry()
                .reregister(&mut conn.stream, token, interest)
            {
                Ok(()) => (conn.writable, conn.unreadable) = (want_write, direct),
                Err(e) => self.close(token, &format!("reregister: {e}")),
            }
        }
    }

    /// Brings the server-wide buffer gauges up to date with one connection.
    fn account(&mut self, token: Token) {
        let Some(conn) = self.conns.get_mut(&token) else {
            return;
        };
        let stats = &self.dispatcher.host.stats;
        let (old_in, old_out) = conn.accounted;
        let (new_in, new_out) = conn.buffer_capacity();
        ServerStats::adjust(&stats.input_buffered, old_in, new_in);
        ServerStats::adjust(&stats.output_buffered, old_out, new_out);
        ServerStats::max(&stats.output_peak, new_out as u64);
        conn.accounted = (new_in, new_out);
    }

    pub(crate) fn close(&mut self, token: Token, why: &str) {
        if let Some(mut conn) = self.conns.remove(&token) {
            conn.abort_transfers();
            self.dispatcher.lanes.forget(token);
            let _ = self.poll.registry().deregister(&mut conn.stream);
            let stats = &self.dispatcher.host.stats;
            ServerStats::sub(&stats.connections, 1);
            ServerStats::adjust(&stats.input_buffered, conn.accounted.0, 0);
            ServerStats::adjust(&stats.output_buffered, conn.accounted.1, 0);
            if let Some(n) = self.per_ip.get_mut(&conn.peer.ip()) {
                *n -= 1;
                if *n == 0 {
                    self.per_ip.remove(&conn.peer.ip());
                }
            }
            if conn.health_check {
                log::debug!("close {} (health check): {why}", conn.peer);
            } else {
                log::info!("close {}: {why}", conn.peer);
            }
        }
    }
}
