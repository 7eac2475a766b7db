//! A write to S3: bytes go out as multipart-upload parts while their MD5 is computed, the parts
//! are joined under `uploads/<id>` and only content whose digest checks out is copied to its
//! key `blobs/<md5>`.

use std::io::{self, Read, Write};
use std::sync::Arc;

use kino_api::{BlobError, BlobInfo, BlobWriter};
use md5::{Digest, Md5};

use super::http::S3;
use super::{blob_key, HashCache};

/// S3 numbers parts 1..=10000.
const MAX_PARTS: usize = 10_000;

/// One write in progress.
pub struct S3Writer {
    pub s3: Arc<S3>,
    /// The multipart upload's object, `uploads/<id>`.
    pub key: String,
    /// S3's id of the multipart upload.
    pub upload: String,
    /// ETags of the parts sent, part `n` at `n - 1`.
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
}

impl S3Writer {
    fn send_part(&mut self) -> Result<(), BlobError> {
        if self.etags.len() >= MAX_PARTS {
            return Err(BlobError::Io(io::Error::other(
                "the upload needs more than 10000 parts",
            )));
        }
        let number = u16::try_from(self.etags.len() + 1).unwrap_or(u16::MAX);
        let etag = self
            .s3
            .upload_part(&self.key, &self.upload, number, &self.buf)?;
        self.etags.push(etag);
        self.buf.clear();
        if self.keep.is_some() {
            // Not every server tells a part's ETag in ListParts: a resume reads them here.
            let marker = std::iter::once(self.upload.as_str())
                .chain(self.etags.iter().map(String::as_str))
                .collect::<Vec<_>>()
                .join("\n");
            self.s3
                .put(&format!("{}.upload", self.key), marker.as_bytes())?;
        }
        if let (Some((id, cache)), Some(hasher)) = (&self.keep, &self.hasher) {
            cache
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(id.clone(), (self.written, hasher.clone()));
        }
        Ok(())
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
        if !self.buf.is_empty() || self.etags.is_empty() {
            self.send_part()?;
        }
        self.s3.complete(&self.key, &self.upload, &self.etags)?;
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
        if self.done || self.keep.is_some() {
            return;
        }
        if let Err(e) = self.s3.abort(&self.key, &self.upload) {
            log::warn!("S3: could not abort the upload to {}: {e}", self.key);
        }
    }
}
