//! A write to S3: bytes go out as multipart-upload parts while their MD5 is computed, the parts
//! are joined under `uploads/<id>` and only content whose digest checks out is copied to its
//! key `blobs/<md5>`. A part is sent by a thread of the write's own while the next one fills,
//! so receiving and sending overlap (two parts in memory at most).

use std::io::{self, Read, Write};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

use kino_api::{BlobError, BlobInfo, BlobWriter};
use md5::{Digest, Md5};

use super::http::S3;
use super::{blob_key, HashCache};

/// S3 numbers parts 1..=10000.
const MAX_PARTS: usize = 10_000;

/// A full part on its way to the sending thread, with the MD5 state after it (for a resume).
struct Part {
    buf: Vec<u8>,
    written: u64,
    hasher: Option<Md5>,
}

/// The thread sending parts; it returns the ETags of every part, or the first failure.
struct Sending {
    tx: SyncSender<Part>,
    thread: JoinHandle<Result<Vec<String>, BlobError>>,
}

/// One write in progress.
pub struct S3Writer {
    pub s3: Arc<S3>,
    /// The multipart upload's object, `uploads/<id>`.
    pub key: String,
    /// S3's id of the multipart upload.
    pub upload: String,
    /// ETags of the parts stored before this writer started (a resume); the sending thread
    /// takes them over.
    pub etags: Vec<String>,
    /// The part being filled.
    pub buf: Vec<u8>,
    pub part_size: usize,
    /// `None` after a resume on a server that did not see the start: `finish` then reads the
    /// joined object back to hash it.
    pub hasher: Option<Md5>,
    pub written: u64,
    /// A resumable write's id and where its hash state goes at each part; `None`: the upload
    /// is aborted when dropped unfinished.
    pub keep: Option<(String, HashCache)>,
    pub done: bool,
    sending: Option<Sending>,
}

/// Sends parts in order, numbering them after `etags`; for a resumable write it records each
/// part's ETag in the marker object and the MD5 state in the cache once the part is stored.
fn send_parts(
    s3: Arc<S3>,
    key: String,
    upload: String,
    mut etags: Vec<String>,
    keep: Option<(String, HashCache)>,
    rx: std::sync::mpsc::Receiver<Part>,
) -> Result<Vec<String>, BlobError> {
    for part in rx {
        if etags.len() >= MAX_PARTS {
            return Err(BlobError::Io(io::Error::other(
                "the upload needs more than 10000 parts",
            )));
        }
        let number = u16::try_from(etags.len() + 1).unwrap_or(u16::MAX);
        etags.push(s3.upload_part(&key, &upload, number, &part.buf)?);
        if let Some((id, cache)) = &keep {
            // Not every server tells a part's ETag in ListParts: a resume reads them here.
            let marker = std::iter::once(upload.as_str())
                .chain(etags.iter().map(String::as_str))
                .collect::<Vec<_>>()
                .join("\n");
            s3.put(&format!("{key}.upload"), marker.as_bytes())?;
            if let Some(hasher) = part.hasher {
                cache
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(id.clone(), (part.written, hasher));
            }
        }
    }
    Ok(etags)
}

impl S3Writer {
    /// A writer continuing after `etags` parts (`written` bytes).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        s3: Arc<S3>,
        key: String,
        upload: String,
        etags: Vec<String>,
        part_size: usize,
        hasher: Option<Md5>,
        written: u64,
        keep: Option<(String, HashCache)>,
    ) -> Self {
        S3Writer {
            s3,
            key,
            upload,
            etags,
            buf: Vec::with_capacity(part_size),
            part_size,
            hasher,
            written,
            keep,
            done: false,
            sending: None,
        }
    }

    /// Hands the filled part to the sending thread (started on the first part).
    fn send_part(&mut self) -> Result<(), BlobError> {
        let sending = match &mut self.sending {
            Some(s) => s,
            None => {
                let (tx, rx) = sync_channel(0);
                let (s3, key, upload) =
                    (Arc::clone(&self.s3), self.key.clone(), self.upload.clone());
                let etags = std::mem::take(&mut self.etags);
                let keep = self.keep.clone();
                let thread = std::thread::Builder::new()
                    .name("s3-parts".into())
                    .spawn(move || send_parts(s3, key, upload, etags, keep, rx))?;
                self.sending.insert(Sending { tx, thread })
            }
        };
        let part = Part {
            buf: std::mem::replace(&mut self.buf, Vec::with_capacity(self.part_size)),
            written: self.written,
            hasher: self.keep.as_ref().and(self.hasher.clone()),
        };
        if sending.tx.send(part).is_err() {
            // The thread stopped on a failure: its result says which.
            return Err(self
                .stop_sending()
                .err()
                .unwrap_or_else(|| BlobError::Io(io::Error::other("the part sender stopped"))));
        }
        Ok(())
    }

    /// Waits for every handed part to be stored; returns all ETags.
    fn stop_sending(&mut self) -> Result<Vec<String>, BlobError> {
        match self.sending.take() {
            None => Ok(std::mem::take(&mut self.etags)),
            Some(Sending { tx, thread }) => {
                drop(tx);
                thread.join().unwrap_or_else(|_| {
                    Err(BlobError::Io(io::Error::other("the part sender panicked")))
                })
            }
        }
    }

    fn hash_joined(&self) -> Result<String, BlobError> {
        let mut reader = self.s3.get(&self.key, 0)?;
        let mut hasher = Md5::new();
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = reader.read(&mut buf)?;
            if n == 0 {
                return Ok(hex::encode(hasher.finalize()));
            }
            hasher.update(&buf[..n]);
        }
    }
}

impl Write for S3Writer {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = self.part_size - self.buf.len();
        let n = room.min(data.len());
        self.buf.extend_from_slice(&data[..n]);
        if let Some(h) = self.hasher.as_mut() {
            h.update(&data[..n]);
        }
        self.written += n as u64;
        if self.buf.len() == self.part_size {
            self.send_part().map_err(|e| match e {
                BlobError::Io(e) => e,
                other => io::Error::other(other.to_string()),
            })?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl BlobWriter for S3Writer {
    fn finish(
        mut self: Box<Self>,
        expected_len: u64,
        declared_md5: Option<&str>,
    ) -> Result<BlobInfo, BlobError> {
        if self.written != expected_len {
            return Err(BlobError::Incomplete {
                expected: expected_len,
                got: self.written,
            });
        }
        if !self.buf.is_empty() || (self.sending.is_none() && self.etags.is_empty()) {
            self.send_part()?;
        }
        let etags = self.stop_sending()?;
        self.s3.complete(&self.key, &self.upload, &etags)?;
        // The multipart upload is gone now: from here only the joined object is left.
        self.done = true;
        if let Some((id, cache)) = &self.keep {
            cache.lock().unwrap_or_else(|p| p.into_inner()).remove(id);
            self.s3.delete(&format!("{}.upload", self.key))?;
        }
        let result = self.commit(declared_md5);
        if let Err(e) = self.s3.delete(&self.key) {
            log::warn!("S3: leaving {} behind: {e}", self.key);
        }
        result
    }
}

impl S3Writer {
    fn commit(&mut self, declared_md5: Option<&str>) -> Result<BlobInfo, BlobError> {
        let md5 = match self.hasher.take() {
            Some(h) => hex::encode(h.finalize()),
            None => self.hash_joined()?,
        };
        if let Some(declared) = declared_md5 {
            if !declared.eq_ignore_ascii_case(&md5) {
                return Err(BlobError::DigestMismatch {
                    declared: declared.into(),
                    actual: md5,
                });
            }
        }
        self.s3.copy(&self.key, &blob_key(&md5), self.written)?;
        Ok(BlobInfo {
            md5,
            size: self.written,
        })
    }
}

impl Drop for S3Writer {
    fn drop(&mut self) {
        // A part already handed over is finished: for a resumable write it is then stored.
        if let Err(e) = self.stop_sending() {
            log::warn!("S3: a part of {} was not stored: {e}", self.key);
        }
        if self.done || self.keep.is_some() {
            return;
        }
        if let Err(e) = self.s3.abort(&self.key, &self.upload) {
            log::warn!("S3: could not abort the upload to {}: {e}", self.key);
        }
    }
}
