//! A GET body read as a blob: from byte 0 it is checked against its key like a local blob (the
//! read that would return the last bytes fails when the content is short or its MD5 differs,
//! and the object goes to quarantine); from an offset it is passed through.

use std::io::{self, Read};
use std::sync::Arc;

use md5::{Digest, Md5};

use super::http::S3;

/// A blob's GET body.
pub struct S3Reader {
    body: Box<dyn Read + Send>,
    s3: Arc<S3>,
    md5: String,
    size: u64,
    pos: u64,
    hasher: Option<Md5>,
    failed: bool,
}

impl S3Reader {
    /// `body` starts at `offset` of the `size`-byte object `blobs/<md5>`.
    pub fn new(body: Box<dyn Read + Send>, s3: Arc<S3>, md5: &str, size: u64, offset: u64) -> Self {
        S3Reader {
            body,
            s3,
            md5: md5.to_owned(),
            size,
            pos: offset,
            hasher: (offset == 0).then(Md5::new),
            failed: false,
        }
    }

    fn fail(&mut self, why: String) -> io::Error {
        self.failed = true;
        let moved = match super::quarantine(&self.s3, &self.md5) {
            Ok(()) => "moved to quarantine".to_owned(),
            Err(e) => format!("could not be moved to quarantine: {e}"),
        };
        log::error!("blob {} is damaged: {why}; {moved}", self.md5);
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("stored content {} is damaged: {why}", self.md5),
        )
    }
}

impl Read for S3Reader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.failed {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("stored content {} is damaged", self.md5),
            ));
        }
        if self.pos >= self.size || buf.is_empty() {
            return Ok(0);
        }
        let want = usize::try_from(self.size - self.pos).map_or(buf.len(), |l| l.min(buf.len()));
        let n = self.body.read(&mut buf[..want])?;
        if n == 0 {
            let why = format!("it ends after {} of {} bytes", self.pos, self.size);
            return Err(if self.hasher.is_some() {
                self.fail(why)
            } else {
                io::Error::new(io::ErrorKind::UnexpectedEof, why)
            });
        }
        if let Some(h) = self.hasher.as_mut() {
            h.update(&buf[..n]);
        }
        self.pos += n as u64;
        if self.pos == self.size {
            if let Some(h) = self.hasher.take() {
                let actual = hex::encode(h.finalize());
                if actual != self.md5 {
                    return Err(self.fail(format!("its content's MD5 is {actual}")));
                }
            }
        }
        Ok(n)
    }
}
