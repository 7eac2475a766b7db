//! Writes a growing upload back to the disk while the rest of it arrives, so the fsync that
//! makes it durable at the end waits only for the last few MiB instead of the whole file (a
//! 1 GiB upload used to wait seconds in its final `fsync` after the last byte came in).
//!
//! `std` has no `sync_file_range`, and unsafe code is denied here; an `fdatasync` on a second
//! handle of the same file, on a thread of its own, starts the same write-back without ever
//! blocking the writer. It changes nothing about durability: the writer still `fsync`s before
//! the file is renamed into place and before any row points at it.

use std::fs::File;
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::thread::JoinHandle;

/// Bytes written between two write-back nudges.
pub const EVERY: u64 = 16 * 1024 * 1024;

/// The write-back thread of one file.
pub struct Flusher {
    tx: Option<SyncSender<()>>,
    thread: Option<JoinHandle<()>>,
    since: u64,
}

impl Flusher {
    /// Starts one for `file`; `None` when the handle cannot be cloned or no thread started
    /// (the final fsync then does all the work, as before).
    pub fn start(file: &File) -> Option<Self> {
        let second = file.try_clone().ok()?;
        let (tx, rx) = sync_channel::<()>(1);
        let thread = std::thread::Builder::new()
            .name("kino-flush".into())
            .spawn(move || {
                while rx.recv().is_ok() {
                    if let Err(e) = second.sync_data() {
                        log::warn!("writing an upload back early: {e}");
                        return;
                    }
                }
            })
            .ok()?;
        Some(Flusher {
            tx: Some(tx),
            thread: Some(thread),
            since: 0,
        })
    }

    /// `n` more bytes were written; every [`EVERY`] bytes, asks for a write-back (skipped when
    /// one is still running: the next one covers these bytes too).
    pub fn wrote(&mut self, n: u64) {
        self.since += n;
        if self.since < EVERY {
            return;
        }
        self.since = 0;
        if let Some(tx) = &self.tx {
            match tx.try_send(()) {
                Ok(()) | Err(TrySendError::Full(())) => {}
                Err(TrySendError::Disconnected(())) => self.tx = None,
            }
        }
    }

    /// Waits for a write-back in progress, so the caller's own fsync follows it.
    pub fn stop(mut self) {
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        // Dropping the sender ends the thread after its current sync; nobody waits for it.
        self.tx = None;
    }
}
