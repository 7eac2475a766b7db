//! A bounded byte pipe between the event loop and a transfer thread.
//!
//! Uploads: the loop pushes what it reads from the socket, the handler's thread reads. Downloads:
//! the pump thread pushes file chunks, the loop pops them into the socket's out-buffer. The loop
//! side never blocks; when it finds the pipe full (upload) or empty (download) it marks itself
//! waiting, and the thread side wakes it through the loop's channel once there is room or data.

use std::collections::VecDeque;
use std::io::{self, Read};
use std::sync::{Condvar, Mutex, MutexGuard};

use crate::workers::LoopNotifier;

#[derive(Default)]
struct State {
    chunks: VecDeque<Vec<u8>>,
    buffered: usize,
    /// The producer has pushed everything.
    eof: bool,
    /// The other side is gone (client disconnected, or the consumer stopped).
    aborted: bool,
    /// The loop is waiting for room (upload) or data (download).
    loop_waiting: bool,
    /// A body sent by the kernel: the loop flushed the reply frame, the thread may write.
    go: bool,
    /// A body sent by the kernel: bytes the thread put on the socket.
    moved: u64,
}

/// The pipe; shared by `Arc` between the loop and one thread.
pub struct Pipe {
    state: Mutex<State>,
    cond: Condvar,
    cap: usize,
    notify: LoopNotifier,
}

impl Pipe {
    /// A pipe holding at most `cap` bytes; `notify` wakes the loop for this connection.
    pub fn new(cap: usize, notify: LoopNotifier) -> Self {
        Pipe {
            state: Mutex::new(State::default()),
            cond: Condvar::new(),
            cap,
            notify,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Loop side: takes as much of `data` as fits; 0 means full (the loop will be woken).
    pub fn try_push(&self, data: &[u8]) -> usize {
        let mut s = self.lock();
        let room = self.cap.saturating_sub(s.buffered);
        let n = room.min(data.len());
        if n == 0 {
            s.loop_waiting = !data.is_empty();
            return 0;
        }
        s.chunks.push_back(data[..n].to_vec());
        s.buffered += n;
        drop(s);
        self.cond.notify_all();
        n
    }

    /// Thread side: pushes a chunk, waiting while the pipe is full. `false` once aborted.
    pub fn push_blocking(&self, chunk: Vec<u8>) -> bool {
        let mut s = self.lock();
        while s.buffered >= self.cap && !s.aborted {
            s = self.cond.wait(s).unwrap_or_else(|p| p.into_inner());
        }
        if s.aborted {
            return false;
        }
        s.buffered += chunk.len();
        s.chunks.push_back(chunk);
        let wake = std::mem::take(&mut s.loop_waiting);
        drop(s);
        if wake {
            self.notify.notify();
        }
        true
    }

    /// Loop side: takes the next chunk, or marks the loop waiting when there is none.
    pub fn try_pop(&self) -> Option<Vec<u8>> {
        let mut s = self.lock();
        match s.chunks.pop_front() {
            Some(c) => {
                s.buffered -= c.len();
                drop(s);
                self.cond.notify_all();
                Some(c)
            }
            None => {
                s.loop_waiting = !s.eof;
                None
            }
        }
    }

    /// Producer: no more data.
    pub fn finish(&self) {
        let mut s = self.lock();
        s.eof = true;
        let wake = std::mem::take(&mut s.loop_waiting);
        drop(s);
        self.cond.notify_all();
        if wake {
            self.notify.notify();
        }
    }

    /// Either side: the other side must stop.
    pub fn abort(&self) {
        self.lock().aborted = true;
        self.cond.notify_all();
    }

    /// Whether the producer finished and everything was taken.
    pub fn drained(&self) -> bool {
        let s = self.lock();
        s.eof && s.chunks.is_empty()
    }

    /// Whether the pipe was aborted.
    pub fn is_aborted(&self) -> bool {
        self.lock().aborted
    }

    /// Loop side of a body sent by the kernel: everything queued before it is on the socket,
    /// so the thread may start writing.
    pub fn go(&self) {
        let mut s = self.lock();
        if !s.go {
            s.go = true;
            drop(s);
            self.cond.notify_all();
        }
    }

    /// Thread side: waits for [`Pipe::go`]; `false` once aborted.
    pub fn wait_go(&self) -> bool {
        let mut s = self.lock();
        while !s.go && !s.aborted {
            s = self.cond.wait(s).unwrap_or_else(|p| p.into_inner());
        }
        !s.aborted
    }

    /// Thread side: `n` more bytes went out by the kernel.
    pub fn moved(&self, n: u64) {
        self.lock().moved += n;
    }

    /// Bytes the thread sent by the kernel so far.
    pub fn moved_total(&self) -> u64 {
        self.lock().moved
    }
}

/// The handler's view of an upload pipe.
pub struct PipeReader<'a> {
    pipe: &'a Pipe,
    current: Vec<u8>,
    pos: usize,
}

impl<'a> PipeReader<'a> {
    /// Reads from `pipe`.
    pub fn new(pipe: &'a Pipe) -> Self {
        PipeReader {
            pipe,
            current: Vec::new(),
            pos: 0,
        }
    }
}

impl Read for PipeReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.current.len() {
            let mut s = self.pipe.lock();
            loop {
                if let Some(c) = s.chunks.pop_front() {
                    s.buffered -= c.len();
                    let wake = s.loop_waiting && s.buffered <= self.pipe.cap / 2;
                    if wake {
                        s.loop_waiting = false;
                    }
                    drop(s);
                    if wake {
                        self.pipe.notify.notify();
                    }
                    self.current = c;
                    self.pos = 0;
                    break;
                }
                if s.aborted {
                    return Err(io::Error::new(
                        io::ErrorKind::ConnectionAborted,
                        "client disconnected during upload",
                    ));
                }
                if s.eof {
                    return Ok(0);
                }
                s = self.pipe.cond.wait(s).unwrap_or_else(|p| p.into_inner());
            }
        }
        let n = buf.len().min(self.current.len() - self.pos);
        buf[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
