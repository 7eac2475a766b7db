//! The worker pool and the way results get back to the event loop: a channel plus a
//! `mio::Waker`. Several wakes may arrive as one event, so the loop always drains the channel.

use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};
use kino_api::{CmdError, Output, SessionChange};
use kino_proto::Id;
use mio::{Token, Waker};

use crate::store::{AnyDb, DbUrl};

/// A finished command, on its way back to the connection that asked.
pub struct Outcome {
    /// The request's id, echoed.
    pub id: Option<Id>,
    /// What the handler returned.
    pub result: Result<Output, CmdError>,
    /// Login or logout on the connection.
    pub session_change: Option<SessionChange>,
}

/// Messages to the event loop.
pub enum LoopMsg {
    /// A command finished (boxed: results are large next to the other messages).
    Done(Token, Box<Outcome>),
    /// A transfer pipe has room or data again: pump that connection.
    Wake(Token),
    /// A session was looked up off the loop: the request goes on.
    Resolved(Token, Box<crate::resolve::Resolved>),
    /// A reply body's completion hook has run: the connection may take its next request.
    Released(Token),
    /// A request of the lane at this index ([`crate::lanes::Lanes`]) finished.
    LaneFree(usize),
}

/// A cloneable sender to the loop.
#[derive(Clone)]
pub struct LoopChannel {
    tx: Sender<LoopMsg>,
    waker: Arc<Waker>,
}

impl LoopChannel {
    /// Wraps the channel and the loop's waker.
    pub fn new(tx: Sender<LoopMsg>, waker: Arc<Waker>) -> Self {
        LoopChannel { tx, waker }
    }

    /// Sends and wakes the loop. A closed loop (shutting down) drops the message.
    pub fn send(&self, msg: LoopMsg) {
        if self.tx.send(msg).is_ok() {
            if let Err(e) = self.waker.wake() {
                log::error!("waking the event loop failed: {e}");
            }
        }
    }

    /// A notifier bound to one connection.
    pub fn notifier(&self, token: Token) -> LoopNotifier {
        LoopNotifier {
            chan: self.clone(),
            token,
        }
    }
}

/// Wakes the loop for one connection (used by transfer pipes).
#[derive(Clone)]
pub struct LoopNotifier {
    chan: LoopChannel,
    token: Token,
}

impl LoopNotifier {
    /// Asks the loop to pump this connection again.
    pub fn notify(&self) {
        self.chan.send(LoopMsg::Wake(self.token));
    }
}

/// Work for a pool thread; it gets that thread's own database connection.
pub type Job = Box<dyn FnOnce(&mut AnyDb) + Send>;

/// Fixed threads, each with its own database connection (`Connection` is not `Sync`).
pub struct WorkerPool {
    tx: Option<Sender<Job>>,
    handles: Vec<JoinHandle<()>>,
}

impl WorkerPool {
    /// Starts `n` workers on the database at `db`, `nice` levels below the caller's priority
    /// and under `sched` ([`crate::priority`]).
    pub fn start(
        n: usize,
        (nice, sched): (u32, crate::priority::PoolSched),
        db: DbUrl,
    ) -> Result<Self, kino_api::DbError> {
        let (tx, rx): (Sender<Job>, Receiver<Job>) = crossbeam_channel::unbounded();
        let mut handles = Vec::new();
        for i in 0..n.max(1) {
            let rx = rx.clone();
            let mut db = AnyDb::open(&db)?;
            let handle = std::thread::Builder::new()
                .name(format!("kino-worker-{i}"))
                .spawn(move || {
                    crate::priority::lower_this_thread(nice, sched);
                    for job in rx.iter() {
                        job(&mut db);
                        db.reset();
                    }
                })
                .map_err(|e| kino_api::DbError::Backend(e.to_string()))?;
            handles.push(handle);
        }
        Ok(WorkerPool {
            tx: Some(tx),
            handles,
        })
    }

    /// Queues a job.
    pub fn submit(&self, job: Job) {
        if let Some(tx) = &self.tx {
            if tx.send(job).is_err() {
                log::error!("worker pool is gone; job dropped");
            }
        }
    }

    /// Finishes queued jobs and joins the threads.
    pub fn shutdown(mut self) {
        self.tx.take();
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}
