//! Content-addressed files on the local disk: `<data>/blobs/ab/cdef…` keyed by the full MD5,
//! written through `<data>/tmp/` and renamed into place only when complete and verified; read
//! back through [`VerifiedReader`], which moves a file that no longer matches its key to
//! `<data>/quarantine/`. A resumable write lives in `<data>/tmp/partial-<id>` until it finishes
//! or is abandoned; start-up removes the other temporary files only.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use kino_api::{valid_key, BlobError, BlobInfo, BlobStore, BlobWriter};
use md5::{Digest, Md5};

use super::flusher::Flusher;
use super::hasher::HashThread;
use super::verified::Verified;
use super::verify::{quarantine, VerifiedReader};

/// Blobs remembered as verified when no `--verified-blobs-max` is given (about 100 bytes each).
pub const VERIFIED_DEFAULT: usize = 10_000;

/// Bytes kept free on the disk beyond an upload's own size, so the database can still grow.
const HEADROOM: u64 = 64 * 1024 * 1024;

/// Name prefix of resumable writes in `tmp/`.
const PARTIAL: &str = "partial-";

/// MD5 state of resumable writes cut off on this server, with the bytes it covers, so a resume
/// here continues the hash instead of reading the stored prefix again.
pub type HashCache = Arc<Mutex<HashMap<String, (u64, Md5)>>>;

/// The local-disk blob store.
pub struct FsBlobStore {
    blobs: PathBuf,
    tmp: PathBuf,
    quarantine: PathBuf,
    hashes: HashCache,
    verified: Arc<Verified>,
}

impl FsBlobStore {
    /// Opens the store under `data`, creating its folders and removing leftovers of uploads that
    /// a crash interrupted (their rows were never committed, so nothing points at them).
    pub fn open(data: &Path) -> io::Result<Self> {
        Self::open_at(&data.join("blobs"), data)
    }

    /// Opens the store whose content is in `blobs` and whose `tmp/` and `quarantine/` are in
    /// `root` (the same file system).
    pub fn open_at(blobs: &Path, root: &Path) -> io::Result<Self> {
        let blobs = blobs.to_path_buf();
        let tmp = root.join("tmp");
        fs::create_dir_all(&blobs)?;
        fs::create_dir_all(&tmp)?;
        let mut removed = 0;
        for entry in fs::read_dir(&tmp)? {
            let path = entry?.path();
            let partial = path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(PARTIAL));
            if path.is_file() && !partial && fs::remove_file(&path).is_ok() {
                removed += 1;
            }
        }
        if removed > 0 {
            log::info!(
                "removed {removed} interrupted upload(s) from {}",
                tmp.display()
            );
        }
        Ok(FsBlobStore {
            blobs,
            tmp,
            quarantine: root.join("quarantine"),
            hashes: HashCache::default(),
            verified: Arc::new(Verified::new(VERIFIED_DEFAULT)),
        })
    }

    /// Remembers at most `max` blobs as verified (`--verified-blobs-max`; 0: hash every read).
    pub fn with_verified_max(mut self, max: usize) -> Self {
        self.verified = Arc::new(Verified::new(max));
        self
    }

    /// The blobs remembered as verified (for tests of the bound).
    pub fn verified(&self) -> &Verified {
        &self.verified
    }

    fn open_reader(&self, md5: &str, offset: u64) -> Result<VerifiedReader, BlobError> {
        let path = self.path_of(md5)?;
        let file = File::open(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => BlobError::NotFound(md5.into()),
            _ => BlobError::Io(e),
        })?;
        let verified = Arc::clone(&self.verified);
        let reader =
            VerifiedReader::new(file, md5, path, self.quarantine.clone(), offset, verified)?;
        Ok(reader)
    }

    /// The store under `data` as it is, creating and cleaning nothing (for `kino-server check`,
    /// which may run beside a server whose uploads are in `tmp/`).
    pub fn inspect(blobs: &Path, root: &Path) -> Self {
        FsBlobStore {
            blobs: blobs.to_path_buf(),
            tmp: root.join("tmp"),
            quarantine: root.join("quarantine"),
            hashes: HashCache::default(),
            verified: Arc::new(Verified::new(0)),
        }
    }

    /// Where damaged content goes.
    pub fn quarantine_dir(&self) -> &Path {
        &self.quarantine
    }

    /// The folder of stored content.
    pub fn blobs_dir(&self) -> &Path {
        &self.blobs
    }

    /// Where content with this key lives, or `BadKey`.
    pub fn path_of(&self, md5: &str) -> Result<PathBuf, BlobError> {
        if !valid_key(md5) {
            return Err(BlobError::BadKey);
        }
        Ok(self.blobs.join(&md5[..2]).join(&md5[2..]))
    }

    fn partial_of(&self, id: &str) -> Result<PathBuf, BlobError> {
        if !valid_key(id) {
            return Err(BlobError::BadKey);
        }
        Ok(self.tmp.join(format!("{PARTIAL}{id}")))
    }

    /// The MD5 state after the first `len` bytes of the partial file: from the cache when this
    /// server was the one cut off, else read again from the disk.
    fn hash_prefix(&self, id: &str, file: &mut File, len: u64) -> io::Result<Md5> {
        let cached = self
            .hashes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
        if let Some((at, hasher)) = cached {
            if at == len {
                return Ok(hasher);
            }
        }
        let mut hasher = Md5::new();
        let copied = io::copy(&mut file.take(len), &mut HashSink(&mut hasher))?;
        if copied != len {
            return Err(io::Error::other("the partial upload shrank while read"));
        }
        Ok(hasher)
    }

    fn available(&self) -> u64 {
        nix::sys::statvfs::statvfs(&self.tmp)
            .map(|s| s.blocks_available().saturating_mul(s.fragment_size()))
            .unwrap_or(u64::MAX)
    }
}

impl BlobStore for FsBlobStore {
    fn create(&self, expected_len: u64) -> Result<Box<dyn BlobWriter>, BlobError> {
        let available = self.available();
        let needed = expected_len.saturating_add(HEADROOM);
        if needed > available {
            return Err(BlobError::NoSpace {
                needed: expected_len,
                available: available.saturating_sub(HEADROOM),
            });
        }
        let mut name = [0u8; 16];
        getrandom::fill(&mut name).map_err(|e| BlobError::Io(io::Error::other(e.to_string())))?;
        let path = self.tmp.join(format!("upload-{}", hex::encode(name)));
        let file = File::create_new(&path)?;
        Ok(Box::new(FsBlobWriter {
            flusher: Flusher::start(&file),
            file: Some(file),
            path,
            blobs: self.blobs.clone(),
            hasher: Some(HashThread::start(Md5::new())),
            written: 0,
            keep: None,
        }))
    }

    fn resume(
        &self,
        id: &str,
        total_len: u64,
        offset: u64,
    ) -> Result<Box<dyn BlobWriter>, BlobError> {
        let path = self.partial_of(id)?;
        let stored = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        if offset != stored {
            return Err(BlobError::Offset { stored, offset });
        }
        let available = self.available();
        let needed = (total_len - offset.min(total_len)).saturating_add(HEADROOM);
        if needed > available {
            return Err(BlobError::NoSpace {
                needed: total_len - offset.min(total_len),
                available: available.saturating_sub(HEADROOM),
            });
        }
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)?;
        let hasher = self.hash_prefix(id, &mut file, offset)?;
        Ok(Box::new(FsBlobWriter {
            flusher: Flusher::start(&file),
            file: Some(file),
            path,
            blobs: self.blobs.clone(),
            hasher: Some(HashThread::start(hasher)),
            written: offset,
            keep: Some((id.to_owned(), Arc::clone(&self.hashes))),
        }))
    }

    fn upload_stored(&self, id: &str) -> Result<Option<u64>, BlobError> {
        match fs::metadata(self.partial_of(id)?) {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn abandon(&self, id: &str) -> Result<(), BlobError> {
        self.hashes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
        match fs::remove_file(self.partial_of(id)?) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }

    fn open(&self, md5: &str, offset: u64) -> Result<(Box<dyn Read + Send>, u64), BlobError> {
        let reader = self.open_reader(md5, offset)?;
        let size = reader.size();
        Ok((Box::new(reader), size))
    }

    fn open_for_send(
        &self,
        md5: &str,
        offset: u64,
    ) -> Result<(Box<dyn Read + Send>, u64, Option<File>), BlobError> {
        let reader = self.open_reader(md5, offset)?;
        let size = reader.size();
        let file = match reader.trusted() {
            true => Some(reader.file().try_clone()?),
            false => None,
        };
        Ok((Box::new(reader), size, file))
    }

    fn exists(&self, md5: &str) -> bool {
        self.path_of(md5).is_ok_and(|p| p.is_file())
    }

    fn size(&self, md5: &str) -> Option<u64> {
        let meta = fs::metadata(self.path_of(md5).ok()?).ok()?;
        meta.is_file().then_some(meta.len())
    }

    fn quarantine(&self, md5: &str) -> Result<(), BlobError> {
        let path = self.path_of(md5)?;
        self.verified.forget(md5);
        match quarantine(&path, &self.quarantine, md5) {
            Ok(to) => {
                log::warn!("moved damaged blob {md5} to {}", to.display());
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    fn remove(&self, md5: &str) -> Result<(), BlobError> {
        self.verified.forget(md5);
        match fs::remove_file(self.path_of(md5)?) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }
}

/// Feeds what is copied into it to an MD5.
struct HashSink<'a>(&'a mut Md5);

impl Write for HashSink<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

struct FsBlobWriter {
    file: Option<File>,
    /// Writes the file back while it grows, so the final fsync is short.
    flusher: Option<Flusher>,
    path: PathBuf,
    blobs: PathBuf,
    /// Taken by `finish` (or by `drop` of a cut-off resumable write).
    hasher: Option<HashThread>,
    written: u64,
    /// A resumable write's id and the cache its hash state goes to when it is cut off.
    keep: Option<(String, HashCache)>,
}

impl Write for FsBlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| io::Error::other("writer finished"))?;
        let n = file.write(buf)?;
        if let Some(h) = self.hasher.as_mut() {
            h.update(&buf[..n]);
        }
        self.written += n as u64;
        if let Some(f) = self.flusher.as_mut() {
            f.wrote(n as u64);
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.as_mut().map_or(Ok(()), Write::flush)
    }
}

impl BlobWriter for FsBlobWriter {
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
        let state = self
            .hasher
            .take()
            .and_then(HashThread::finish)
            .ok_or_else(|| io::Error::other("the upload's hash thread failed"))?;
        let md5 = hex::encode(state.finalize());
        if let Some(declared) = declared_md5 {
            if !declared.eq_ignore_ascii_case(&md5) {
                return Err(BlobError::DigestMismatch {
                    declared: declared.into(),
                    actual: md5,
                });
            }
        }
        let file = self
            .file
            .take()
            .ok_or_else(|| io::Error::other("writer finished"))?;
        if let Some(f) = self.flusher.take() {
            f.stop();
        }
        file.sync_all()?;
        drop(file);
        let dir = self.blobs.join(&md5[..2]);
        fs::create_dir_all(&dir)?;
        fs::rename(&self.path, dir.join(&md5[2..]))?;
        // The rename is only durable once the directory entry is.
        File::open(&dir)?.sync_all()?;
        self.keep = None;
        Ok(BlobInfo {
            md5,
            size: self.written,
        })
    }
}

impl Drop for FsBlobWriter {
    fn drop(&mut self) {
        if let Some((id, cache)) = self.keep.take() {
            // Cut off: what reached the disk stays for the resume, durably.
            if let Some(file) = self.file.take() {
                let hasher = self.hasher.take().and_then(HashThread::finish);
                if let (true, Some(hasher)) = (file.sync_all().is_ok(), hasher) {
                    cache
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(id, (self.written, hasher));
                }
            }
            return;
        }
        if self.path.exists() {
            let _ = fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
#[path = "blobs_tests.rs"]
mod tests;
