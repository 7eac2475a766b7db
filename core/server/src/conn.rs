//! One client connection: capped buffers, what the input currently is (frames, an upload's
//! payload, bytes to discard), and the single request it has in flight (its stage is one value,
//! changed only by the transitions in [`lifecycle`]).
//!
//! Requests on one connection run one at a time, in order: a reply is queued before the next
//! request is parsed, so pipelined replies come back in request order and a later request never
//! overtakes an earlier one (e.g. a login before the registration it depends on).

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use kino_api::OnComplete;
use mio::net::TcpStream;

use crate::pipe::Pipe;

mod lifecycle;
use lifecycle::Lifecycle;

/// Capacity an emptied buffer may keep for the next frame; larger ones are freed.
const KEEP_CAPACITY: usize = 4096;

/// Empties a buffer, returning its memory when it grew for a large frame or payload.
fn release(buf: &mut Vec<u8>) {
    buf.clear();
    if buf.capacity() > KEEP_CAPACITY {
        *buf = Vec::new();
    }
}

/// What the next input bytes are.
pub enum ReadState {
    /// Request frames.
    Frames,
    /// The payload of the request in flight, fed to its handler through `pipe`.
    Upload {
        /// Bytes still to come.
        remaining: u64,
        /// To the handler's thread.
        pipe: Arc<Pipe>,
    },
    /// The payload of the request in flight, read from the socket by the handler's thread
    /// ([`crate::direct`]): the loop reads nothing until the result comes back.
    Direct {
        /// Bytes still to come when the thread took over.
        remaining: u64,
        /// What the thread read, and the abort flag.
        shared: Arc<crate::direct::Shared>,
    },
    /// The payload of a refused request, dropped so the stream stays in sync.
    Discard {
        /// Bytes still to drop.
        remaining: u64,
    },
}

/// A reply body being streamed from a pump thread.
pub struct Sending {
    /// Chunks from the pump thread.
    pub pipe: Arc<Pipe>,
    /// Bytes still owed to the client.
    pub remaining: u64,
    /// Bytes sent so far.
    pub sent: u64,
    /// Runs on a worker once all bytes are out.
    pub on_complete: Option<OnComplete>,
    /// The pump thread writes the socket itself by `sendfile` ([`crate::sendfile`]); the pipe
    /// only says when it may start and when it is done.
    pub by_kernel: bool,
}

/// A connection accepted on a plugin's own listener, speaking that plugin's framing.
#[derive(Clone)]
pub struct FramedBy {
    /// The plugin whose commands this connection may run.
    pub plugin: String,
    /// How its bytes become a request and a result becomes bytes.
    pub framing: std::sync::Arc<dyn kino_api::Framing>,
}

/// A reply held back until a deadline (e.g. the free-download wait).
pub struct Held {
    /// The encoded reply frame.
    pub frame: Vec<u8>,
    /// Its body, if any.
    pub body: Option<kino_api::Body>,
    /// The transfer slot its body will stream under.
    pub slot: Option<crate::transfers::Slot>,
}

/// One connection.
pub struct Conn {
    /// The socket.
    pub stream: TcpStream,
    /// For logs.
    pub peer: SocketAddr,
    inbuf: Vec<u8>,
    in_pos: usize,
    out: Vec<u8>,
    out_pos: usize,
    /// How to treat input.
    pub read: ReadState,
    state: Lifecycle,
    /// The session this connection logged in with.
    pub session: Option<String>,
    /// Last time bytes arrived, for the half-sent-frame timeout.
    pub last_input: Instant,
    /// Close once the out-buffer is flushed (after `too_large`, `busy`).
    pub close_after_flush: bool,
    /// The client shut its side.
    pub peer_closed: bool,
    /// WRITABLE interest is registered.
    pub writable: bool,
    /// READABLE interest is not registered (an upload's thread reads the socket).
    pub unreadable: bool,
    /// Set on connections of a plugin listener.
    pub framed: Option<FramedBy>,
    /// At least one request was parsed; until then silence counts from accept.
    pub spoke: bool,
    /// When the loop started waiting for the rest of the current request frame.
    pub frame_started: Option<Instant>,
    /// Last time reply bytes went out (or were first queued into an empty buffer).
    pub last_output: Instant,
    /// Input is not read while too many reply bytes wait unsent (high/low-water marks).
    pub out_paused: bool,
    /// On the loop's ready list, to be pumped again after others had their turn.
    pub queued: bool,
    /// Buffer capacity last added to the server-wide gauges, (input, output).
    pub accounted: (usize, usize),
    /// Ran a command of an older protocol: its unknown types get that protocol's reply shape.
    pub legacy: bool,
    /// The loop's clock, read once per wake-up and stamped here before the connection is
    /// pumped, so the input/output timestamps cost no clock read per request.
    pub clock: Instant,
    /// The last read ended in `WouldBlock` and no readiness event came since: with
    /// edge-triggered readiness another read now would only cost a syscall to learn the same.
    pub read_blocked: bool,
    /// From a trusted balancer and its PROXY header not read yet: no request is parsed before it.
    pub proxy_pending: bool,
    /// A balancer's own connection (PROXY `LOCAL`: its health check), logged at debug level
    /// only, since it comes every half second.
    pub health_check: bool,
}

impl Conn {
    /// Wraps an accepted socket.
    pub fn new(stream: TcpStream, peer: SocketAddr, now: Instant) -> Self {
        Conn {
            stream,
            peer,
            inbuf: Vec::new(),
            in_pos: 0,
            out: Vec::new(),
            out_pos: 0,
            read: ReadState::Frames,
            state: Lifecycle::Idle,
            session: None,
            last_input: now,
            close_after_flush: false,
            peer_closed: false,
            writable: false,
            unreadable: false,
            framed: None,
            spoke: false,
            frame_started: None,
            last_output: now,
            out_paused: false,
            queued: false,
            accounted: (0, 0),
            legacy: false,
            clock: now,
            read_blocked: false,
            proxy_pending: false,
            health_check: false,
        }
    }

    /// Bytes of memory held by the (input, output) buffers.
    pub fn buffer_capacity(&self) -> (usize, usize) {
        (self.inbuf.capacity(), self.out.capacity())
    }

    /// Updates the pause from the unsent-output level; true when reading may resume now.
    pub fn update_out_pause(&mut self, high: usize, low: usize) -> bool {
        let pending = self.pending_out();
        if self.out_paused && pending <= low {
            self.out_paused = false;
            return true;
        }
        if pending >= high {
            self.out_paused = true;
        }
        false
    }

    /// Unconsumed input.
    pub fn input(&self) -> &[u8] {
        &self.inbuf[self.in_pos..]
    }

    /// Marks `n` input bytes consumed.
    pub fn consume(&mut self, n: usize) {
        self.in_pos += n;
        if self.in_pos >= self.inbuf.len() {
            release(&mut self.inbuf);
            self.in_pos = 0;
        }
    }

    /// Drops all buffered input (after a fatal framing error).
    pub fn clear_input(&mut self) {
        self.inbuf.clear();
        self.in_pos = 0;
    }

    /// Reads until `WouldBlock`, EOF, or `cap` unconsumed bytes; returns bytes read. Reads go
    /// through the loop's one `scratch` buffer, so an idle connection holds no read buffer of its
    /// own (thousands of idle connections cost a few KiB each, not 64).
    pub fn read_socket(&mut self, cap: usize, scratch: &mut [u8]) -> io::Result<usize> {
        if self.in_pos > 0 {
            self.inbuf.drain(..self.in_pos);
            self.in_pos = 0;
        }
        let mut total = 0;
        while self.inbuf.len() < cap {
            let want = (cap - self.inbuf.len()).min(scratch.len());
            match self.stream.read(&mut scratch[..want]) {
                Ok(0) => {
                    self.peer_closed = true;
                    break;
                }
                Ok(n) => {
                    // Grow by what arrived, doubling at most up to the cap: a frame near the
                    // cap must not hold twice its size, and a declared length reserves nothing.
                    let need = self.inbuf.len() + n;
                    if need > self.inbuf.capacity() {
                        let target = need.max(self.inbuf.capacity() * 2).min(cap).max(need);
                        self.inbuf.reserve_exact(target - self.inbuf.len());
                    }
                    self.inbuf.extend_from_slice(&scratch[..n]);
                    total += n;
                }
                Err(e) => match e.kind() {
                    io::ErrorKind::WouldBlock => {
                        self.read_blocked = true;
                        break;
                    }
                    io::ErrorKind::Interrupted => continue,
                    _ => return Err(e),
                },
            }
        }
        if total > 0 {
            self.last_input = self.clock;
        }
        Ok(total)
    }

    /// Appends encoded bytes to the out-buffer.
    pub fn queue(&mut self, bytes: &[u8]) {
        self.before_queue();
        self.out.extend_from_slice(bytes);
    }

    /// Serialises `value` as one frame straight into the out-buffer: no intermediate body or
    /// frame allocation, and the buffer's memory is reused from reply to reply.
    pub fn queue_json<T: serde::Serialize>(&mut self, value: &T) {
        self.before_queue();
        let start = self.out.len();
        self.out.extend_from_slice(&[0; kino_proto::HEADER_LEN]);
        if serde_json::to_writer(&mut self.out, value).is_err() {
            self.out.truncate(start + kino_proto::HEADER_LEN);
            self.out.extend_from_slice(b"{}");
        }
        let len = self.out.len() - start - kino_proto::HEADER_LEN;
        let len = u32::try_from(len).unwrap_or(u32::MAX);
        self.out[start..start + kino_proto::HEADER_LEN].copy_from_slice(&len.to_le_bytes());
    }

    /// Queues a success reply whose `data` is JSON text already, echoing as its `id` the bytes
    /// at `id` in the unconsumed input (the request's own, copied once, into the reply).
    pub fn queue_ok(&mut self, id: Option<std::ops::Range<usize>>, data: &[u8]) {
        self.before_queue();
        let input = &self.inbuf[self.in_pos..];
        let id = id
            .and_then(|r| input.get(r))
            .and_then(|b| std::str::from_utf8(b).ok());
        kino_proto::push_ok_frame(&mut self.out, id, data);
    }

    fn before_queue(&mut self) {
        if self.pending_out() == 0 {
            self.last_output = self.clock;
        }
        // Drop what was sent once it outweighs what is left, so a client that reads just
        // enough to keep the buffer non-empty cannot make it keep every byte ever queued.
        if self.out_pos > 0 && self.out_pos >= self.pending_out() {
            self.out.drain(..self.out_pos);
            self.out_pos = 0;
        }
    }

    /// Bytes queued and not yet written.
    pub fn pending_out(&self) -> usize {
        self.out.len() - self.out_pos
    }

    /// Writes until `WouldBlock` or empty; returns bytes written.
    pub fn write_socket(&mut self) -> io::Result<usize> {
        let mut total = 0;
        while self.out_pos < self.out.len() {
            match self.stream.write(&self.out[self.out_pos..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.out_pos += n;
                    total += n;
                }
                Err(e) => match e.kind() {
                    io::ErrorKind::WouldBlock => break,
                    io::ErrorKind::Interrupted => continue,
                    _ => return Err(e),
                },
            }
        }
        if total > 0 {
            self.last_output = self.clock;
        }
        if self.out_pos == self.out.len() {
            release(&mut self.out);
            self.out_pos = 0;
        }
        Ok(total)
    }

    /// Whether a half-sent frame or payload is waiting for more bytes.
    pub fn mid_frame(&self) -> bool {
        !matches!(self.read, ReadState::Frames) || !self.input().is_empty()
    }

    /// Whether, after parsing, the input ends in a frame or payload that is not all here yet
    /// (unlike [`Conn::mid_frame`], false while a whole frame waits for its turn).
    pub fn awaiting_rest(&self, max_frame: usize) -> bool {
        let input = self.input();
        match &self.read {
            ReadState::Upload { remaining, .. } | ReadState::Discard { remaining } => {
                *remaining > input.len() as u64
            }
            ReadState::Direct { .. } => false,
            ReadState::Frames if input.is_empty() => false,
            // A plugin's framing cannot be decoded here; leftovers after its parse are partial.
            ReadState::Frames if self.framed.is_some() => !self.in_flight(),
            ReadState::Frames => {
                kino_proto::decode_header(input, max_frame) == kino_proto::Header::Incomplete
            }
        }
    }

    /// An upload's thread reads the socket: the loop must not.
    pub fn reads_direct(&self) -> bool {
        matches!(self.read, ReadState::Direct { .. })
    }

    /// Whether it may be closed now that its out-buffer is empty.
    pub fn done_after_flush(&self) -> bool {
        self.quiet() && (self.close_after_flush || self.peer_closed)
    }

    /// Nothing is going on: no request in flight (held, streaming or completing), nothing to
    /// send.
    pub fn quiet(&self) -> bool {
        !self.in_flight() && self.pending_out() == 0
    }

    /// Tells any transfer thread attached to this connection to stop.
    pub fn abort_transfers(&mut self) {
        if let ReadState::Upload { pipe, .. } = &self.read {
            pipe.abort();
        }
        if let ReadState::Direct { shared, .. } = &self.read {
            shared.abort();
            // The thread holds its own handle of the socket: end its `poll` now.
            let _ = self.stream.shutdown(std::net::Shutdown::Both);
        }
        if let Lifecycle::Sending { sending, .. } = &self.state {
            sending.pipe.abort();
            if sending.by_kernel {
                // The thread holds its own handle of the socket: end its writes now.
                let _ = self.stream.shutdown(std::net::Shutdown::Both);
            }
        }
    }
}
