//! What a checked blob read keeps whichever store the bytes come from: how far it got, the
//! running MD5 and the latch once damage was found. The local reader ([`super::verify`]) and
//! the S3 one ([`super::s3::reader`]) differ only in where the bytes come from and where a
//! damaged blob goes.

use std::io;

use md5::{Digest, Md5};

/// Progress of one read of the blob named `md5`.
pub struct Tally {
    /// The blob's key: the MD5 its content must have.
    pub md5: String,
    size: u64,
    pos: u64,
    /// Running hash; `None` when the read started past byte 0 or needs no check.
    hasher: Option<Md5>,
    failed: bool,
}

impl Tally {
    /// A read of the `size`-byte blob `md5` from `pos`, hashed as it goes when `hashed`.
    pub fn new(md5: &str, size: u64, pos: u64, hashed: bool) -> Self {
        Tally {
            md5: md5.to_owned(),
            size,
            pos,
            hasher: hashed.then(Md5::new),
            failed: false,
        }
    }

    /// How many bytes the next read into a `len`-byte buffer may take (0: at the end, or an
    /// empty buffer); an error once the blob was found damaged.
    pub fn room(&self, len: usize) -> io::Result<usize> {
        if self.failed {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("stored content {} is damaged", self.md5),
            ));
        }
        if self.pos >= self.size {
            return Ok(0);
        }
        Ok(usize::try_from(self.size - self.pos).map_or(len, |left| left.min(len)))
    }

    /// Why a source that ran dry now is short.
    pub fn short(&self) -> String {
        format!("it ends after {} of {} bytes", self.pos, self.size)
    }

    /// Whether the bytes so far were hashed from byte 0.
    pub fn hashing(&self) -> bool {
        self.hasher.is_some()
    }

    /// Counts `bytes` just read. When they were the last, returns the content's MD5 if it was
    /// hashed all along.
    pub fn count(&mut self, bytes: &[u8]) -> Option<String> {
        if let Some(h) = self.hasher.as_mut() {
            h.update(bytes);
        }
        self.pos += bytes.len() as u64;
        if self.at_end() {
            self.hasher.take().map(|h| hex::encode(h.finalize()))
        } else {
            None
        }
    }

    /// The blob's size as found at open.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Whether every byte was read.
    pub fn at_end(&self) -> bool {
        self.pos == self.size
    }

    /// Latches the blob as damaged, logs it with where it went (`moved`) and returns the error
    /// every later read repeats.
    pub fn damaged(&mut self, why: &str, moved: &str) -> io::Error {
        self.failed = true;
        log::error!("blob {} is damaged: {why}; {moved}", self.md5);
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("stored content {} is damaged: {why}", self.md5),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_to_the_end_and_latches_damage() {
        let mut t = Tally::new("x", 5, 0, true);
        assert_eq!(t.room(10).unwrap(), 5);
        assert_eq!(t.count(b"ab"), None);
        assert_eq!(t.room(10).unwrap(), 3);
        assert_eq!(t.short(), "it ends after 2 of 5 bytes");
        let md5 = t.count(b"cde");
        assert_eq!(md5.as_deref(), Some("ab56b4d92b40713acc5af89985d4b786"));
        assert_eq!(t.room(10).unwrap(), 0);
        let e = t.damaged("test", "kept");
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert!(t.room(10).is_err());
        let mut from_offset = Tally::new("x", 5, 3, false);
        assert!(!from_offset.hashing());
        assert_eq!(from_offset.count(b"de"), None);
        assert!(from_offset.at_end());
    }
}
