//! A GET body read as a blob: from byte 0 it is checked against its key like a local blob (the
//! read that would return the last bytes fails when the content is short or its MD5 differs,
//! and the object goes to quarantine); from an offset it is passed through.

use std::io::{self, Read};
use std::sync::Arc;

use super::super::tally::Tally;
use super::http::S3;

/// A blob's GET body.
pub struct S3Reader {
    body: Box<dyn Read + Send>,
    s3: Arc<S3>,
    tally: Tally,
}

impl S3Reader {
    /// `body` starts at `offset` of the `size`-byte object `blobs/<md5>`.
    pub fn new(body: Box<dyn Read + Send>, s3: Arc<S3>, md5: &str, size: u64, offset: u64) -> Self {
        S3Reader {
            body,
            s3,
            tally: Tally::new(md5, size, offset, offset == 0),
        }
    }

    fn fail(&mut self, why: &str) -> io::Error {
        let moved = match super::quarantine(&self.s3, &self.tally.md5) {
            Ok(()) => "moved to quarantine".to_owned(),
            Err(e) => format!("could not be moved to quarantine: {e}"),
        };
        self.tally.damaged(why, &moved)
    }
}

impl Read for S3Reader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = self.tally.room(buf.len())?;
        if want == 0 {
            return Ok(0);
        }
        let n = self.body.read(&mut buf[..want])?;
        if n == 0 {
            let why = self.tally.short();
            return Err(if self.tally.hashing() {
                self.fail(&why)
            } else {
                io::Error::new(io::ErrorKind::UnexpectedEof, why)
            });
        }
        match self.tally.count(&buf[..n]) {
            Some(actual) if actual != self.tally.md5 => {
                Err(self.fail(&format!("its content's MD5 is {actual}")))
            }
            _ => Ok(n),
        }
    }
}
