//! Content-addressed file storage: bytes live under their MD5, never under a client's name.
//!
//! The embedded backend keeps them in `<data>/blobs/ab/cdef…`; an S3-compatible object store can
//! implement the same trait when several servers share storage.

use std::io::{Read, Write};

/// What a finished write stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobInfo {
    /// Lower-case hex MD5 of the content; the key to open it again.
    pub md5: String,
    /// Bytes stored.
    pub size: u64,
}

/// Why a blob operation failed.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// The disk has no room for the declared size.
    #[error("not enough space: {needed} bytes needed, {available} available")]
    NoSpace {
        /// Bytes the write would need.
        needed: u64,
        /// Bytes free.
        available: u64,
    },
    /// The content's MD5 differs from what the client declared.
    #[error("digest mismatch: declared {declared}, actual {actual}")]
    DigestMismatch {
        /// From the request.
        declared: String,
        /// Computed while receiving.
        actual: String,
    },
    /// Fewer bytes arrived than declared.
    #[error("incomplete: {got} of {expected} bytes")]
    Incomplete {
        /// Declared.
        expected: u64,
        /// Received.
        got: u64,
    },
    /// No blob with that key.
    #[error("no blob {0}")]
    NotFound(String),
    /// The key is not 32 lower-case hex characters.
    #[error("invalid blob key")]
    BadKey,
    /// The stored content no longer matches its key (altered, cut short or grown); it has been
    /// moved to quarantine.
    #[error("stored content {key} is damaged: {why}")]
    Damaged {
        /// The key.
        key: String,
        /// What was found.
        why: String,
    },
    /// A resumable write was continued from another offset than the bytes it has stored.
    #[error("the upload has {stored} bytes stored, not {offset}")]
    Offset {
        /// Bytes safely stored.
        stored: u64,
        /// Where the caller wanted to continue.
        offset: u64,
    },
    /// An I/O failure.
    #[error("blob I/O: {0}")]
    Io(#[from] std::io::Error),
}

/// A write in progress: bytes go to a temporary file while the MD5 is computed. Dropping it
/// without [`BlobWriter::finish`] removes the temporary file.
pub trait BlobWriter: Write + Send {
    /// Checks the length and (when given) the declared MD5, fsyncs, and moves the file into
    /// place under its digest. Only after this returns may a database row point at it.
    fn finish(
        self: Box<Self>,
        expected_len: u64,
        declared_md5: Option<&str>,
    ) -> Result<BlobInfo, BlobError>;
}

/// The store.
pub trait BlobStore: Send + Sync {
    /// Starts a write of `expected_len` bytes; refuses with `NoSpace` before any byte is written
    /// when the disk cannot hold it.
    fn create(&self, expected_len: u64) -> Result<Box<dyn BlobWriter>, BlobError>;
    /// Opens stored content at `offset`; returns the reader and the whole size (the caller
    /// compares it with the size it recorded). The reader checks the content against its key
    /// as it goes: when the content ends early or its MD5 differs, the read that would have
    /// returned the last bytes fails instead (so a reader never gets a complete-looking wrong
    /// file), the failure is logged and the content is moved to quarantine. Reaching the end
    /// from an `offset` past 0 hashes the whole content once more.
    fn open(&self, md5: &str, offset: u64) -> Result<(Box<dyn Read + Send>, u64), BlobError>;
    /// Like [`BlobStore::open`], plus the content as a local file when the store vouches for it
    /// without reading (a local store that verified this very file whole before and finds it
    /// unchanged): the server may then send it by the kernel, unhashed and uncopied.
    #[allow(clippy::type_complexity)]
    fn open_for_send(
        &self,
        md5: &str,
        offset: u64,
    ) -> Result<(Box<dyn Read + Send>, u64, Option<std::fs::File>), BlobError> {
        let (reader, size) = self.open(md5, offset)?;
        Ok((reader, size, None))
    }
    /// Whether content with this MD5 is stored.
    fn exists(&self, md5: &str) -> bool;
    /// The stored size of content with this MD5 (`None`: not stored), without reading it.
    fn size(&self, md5: &str) -> Option<u64>;
    /// Like [`BlobStore::size`], but a store that can fail to answer (a remote one) says so
    /// instead of calling the content missing: callers that mark content damaged use this.
    fn stat(&self, md5: &str) -> Result<Option<u64>, BlobError> {
        Ok(self.size(md5))
    }
    /// Moves content found damaged out of the store into its quarantine, kept for inspection
    /// but never served again under its key (a missing key is not an error).
    fn quarantine(&self, md5: &str) -> Result<(), BlobError>;
    /// Removes stored content (a missing key is not an error).
    fn remove(&self, md5: &str) -> Result<(), BlobError>;
    /// Starts (`offset` 0) or continues the resumable write `id` (32 lower-case hex digits,
    /// chosen by the caller) of `total_len` bytes. Unlike [`BlobStore::create`]'s, its writer
    /// keeps what it stored when dropped unfinished, so a cut-off upload continues from
    /// [`BlobStore::upload_stored`] on any server sharing the store; `offset` must equal it
    /// (`Offset` otherwise).
    fn resume(
        &self,
        id: &str,
        total_len: u64,
        offset: u64,
    ) -> Result<Box<dyn BlobWriter>, BlobError>;
    /// Bytes of the resumable write `id` safely stored (`None`: no such write).
    fn upload_stored(&self, id: &str) -> Result<Option<u64>, BlobError>;
    /// Drops the resumable write `id` and what it stored (a missing one is not an error).
    fn abandon(&self, id: &str) -> Result<(), BlobError>;
}

/// Whether `key` is 32 lower-case hex digits: the form of blob keys and resumable-write ids,
/// so neither can name a path or an object outside the store.
pub fn valid_key(key: &str) -> bool {
    key.len() == 32 && key.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}
