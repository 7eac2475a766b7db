//! The MD5 of an upload, computed on a thread of its own beside the thread that writes the
//! file, so the hash (the one-core bound of an upload) never waits on `write` and the write
//! never waits on the hash.
//!
//! Bytes go to it in batches of [`BATCH`] through a channel of [`DEPTH`] batches; when the hash
//! falls behind, the writer blocks on the channel. Hashed batches come back (at most
//! [`SPARE`] waiting) to be filled again, so an upload allocates them once instead of mapping
//! and faulting in fresh pages for every batch. An upload holds at most
//! `(DEPTH + SPARE + 2) * BATCH` bytes here (queued, spare, the one being hashed, the one being
//! filled): 3 MiB.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;

use md5::{Digest, Md5};

/// Bytes per batch sent to the hash thread.
pub const BATCH: usize = 256 * 1024;
/// Batches queued at most.
pub const DEPTH: usize = 8;
/// Hashed batches kept for reuse at most.
pub const SPARE: usize = 2;

/// A running MD5, fed from the writer.
pub struct HashThread {
    /// The hash thread and its input; `None` when no thread could start (hashed inline then).
    thread: Option<(SyncSender<Vec<u8>>, JoinHandle<Md5>)>,
    /// Hashed batches, emptied, to be reused.
    spent: Option<Receiver<Vec<u8>>>,
    inline: Option<Md5>,
    batch: Vec<u8>,
    /// The hash thread is gone (it panicked): the hash is lost.
    dead: bool,
}

impl HashThread {
    /// Continues `state` (a fresh `Md5`, or a resumed upload's prefix) on a new thread.
    pub fn start(state: Md5) -> Self {
        let (tx, rx) = sync_channel::<Vec<u8>>(DEPTH);
        let (back, spent) = sync_channel::<Vec<u8>>(SPARE);
        let fallback = state.clone();
        let spawned = std::thread::Builder::new()
            .name("kino-md5".into())
            .spawn(move || {
                let mut state = state;
                while let Ok(mut batch) = rx.recv() {
                    state.update(&batch);
                    batch.clear();
                    let _ = back.try_send(batch);
                }
                state
            });
        match spawned {
            Ok(handle) => HashThread {
                thread: Some((tx, handle)),
                spent: Some(spent),
                inline: None,
                batch: Vec::with_capacity(BATCH),
                dead: false,
            },
            Err(e) => {
                log::warn!("no hash thread for an upload ({e}); hashing inline");
                HashThread {
                    thread: None,
                    spent: None,
                    inline: Some(fallback),
                    batch: Vec::new(),
                    dead: false,
                }
            }
        }
    }

    /// Adds `data` to the hash.
    pub fn update(&mut self, mut data: &[u8]) {
        if let Some(h) = self.inline.as_mut() {
            h.update(data);
            return;
        }
        while !data.is_empty() {
            let n = (BATCH - self.batch.len()).min(data.len());
            self.batch.extend_from_slice(&data[..n]);
            data = &data[n..];
            if self.batch.len() == BATCH {
                self.send();
            }
        }
    }

    fn send(&mut self) {
        let reused = self.spent.as_ref().and_then(|r| r.try_recv().ok());
        let next = reused.unwrap_or_else(|| Vec::with_capacity(BATCH));
        let full = std::mem::replace(&mut self.batch, next);
        if self.dead {
            return;
        }
        if let Some((tx, _)) = &self.thread {
            // The thread can only end early by panicking; `finish` reports it.
            self.dead = tx.send(full).is_err();
        }
    }

    /// Waits for the hash of everything added; `None` if the hash thread died.
    pub fn finish(mut self) -> Option<Md5> {
        if let Some(h) = self.inline.take() {
            return Some(h);
        }
        if !self.batch.is_empty() {
            self.send();
        }
        let (tx, handle) = self.thread.take()?;
        drop(tx);
        let state = handle.join().ok()?;
        (!self.dead).then_some(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_digest_as_one_md5_over_odd_sized_writes() {
        let data: Vec<u8> = (0..3 * BATCH + 12_345)
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        let mut h = HashThread::start(Md5::new());
        for piece in data.chunks(65_521) {
            h.update(piece);
        }
        let threaded = h.finish().map(|m| hex::encode(m.finalize()));
        assert_eq!(threaded, Some(hex::encode(Md5::digest(&data))));
        let mut prefix = Md5::new();
        prefix.update(&data[..1000]);
        let mut h = HashThread::start(prefix);
        h.update(&data[1000..]);
        let resumed = h.finish().map(|m| hex::encode(m.finalize()));
        assert_eq!(resumed, Some(hex::encode(Md5::digest(&data))));
    }
}
