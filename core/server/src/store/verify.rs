//! Reading a blob while checking it against its key, and the quarantine damaged blobs go to.
//!
//! Blobs are named by their MD5, so any reader can tell an altered file: the MD5 of what it
//! read must be the name. The check costs nothing extra when reading from the start (the hash
//! runs over the bytes as they pass); the bytes of the final read are held back until it
//! passes, so a download of a damaged file always ends short and never looks complete.
//! A file that passed whole is remembered ([`super::verified`]): reads of that same unchanged
//! file are not hashed again.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use md5::{Digest, Md5};

use super::tally::Tally;
use super::verified::{FileKey, Verified};

/// Bytes hashed per read when the whole file has to be hashed again (a resumed read).
const REHASH_CHUNK: usize = 256 * 1024;

/// A blob opened for reading, checked as it is read.
pub struct VerifiedReader {
    file: File,
    /// Progress; not hashed when the read started past byte 0 (then the end hashes it all).
    tally: Tally,
    path: PathBuf,
    quarantine: PathBuf,
    /// Device and inode at open, so quarantine never moves a file put in its place since.
    identity: (u64, u64),
    /// Files already verified whole; this one joins them when its check passes.
    verified: Arc<Verified>,
    /// The file's state at open, and when the check began.
    key: FileKey,
    opened: SystemTime,
    /// The file is the very one verified before: nothing to check.
    trusted: bool,
}

impl VerifiedReader {
    /// Wraps `file` (the blob at `path`, `size` bytes), positioned at `offset`.
    pub fn new(
        mut file: File,
        md5: &str,
        path: PathBuf,
        quarantine: PathBuf,
        offset: u64,
        verified: Arc<Verified>,
    ) -> io::Result<Self> {
        let opened = SystemTime::now();
        let meta = file.metadata()?;
        let key = FileKey::of(&meta);
        let trusted = verified.vouches(md5, &key);
        let size = meta.len();
        let pos = offset.min(size);
        file.seek(SeekFrom::Start(pos))?;
        Ok(VerifiedReader {
            file,
            tally: Tally::new(md5, size, pos, pos == 0 && !trusted),
            path,
            quarantine,
            identity: (meta.dev(), meta.ino()),
            verified,
            key,
            opened,
            trusted,
        })
    }

    /// Whether the file is one verified whole before and unchanged since (it is read unhashed).
    pub fn trusted(&self) -> bool {
        self.trusted
    }

    /// The open file (for sending by the kernel when [`VerifiedReader::trusted`]).
    pub fn file(&self) -> &File {
        &self.file
    }

    /// The size found at open.
    pub fn size(&self) -> u64 {
        self.tally.size()
    }

    fn rehash(&mut self) -> io::Result<Option<String>> {
        self.file.seek(SeekFrom::Start(0))?;
        let mut hasher = Md5::new();
        let mut buf = vec![0u8; REHASH_CHUNK];
        let mut left = self.tally.size();
        while left > 0 {
            let want = REHASH_CHUNK.min(usize::try_from(left).unwrap_or(REHASH_CHUNK));
            let n = self.file.read(&mut buf[..want])?;
            if n == 0 {
                return Ok(None);
            }
            hasher.update(&buf[..n]);
            left -= n as u64;
        }
        Ok(Some(hex::encode(hasher.finalize())))
    }

    fn fail(&mut self, why: &str) -> io::Error {
        self.verified.forget(&self.tally.md5);
        let same_file = fs::metadata(&self.path).is_ok_and(|m| (m.dev(), m.ino()) == self.identity);
        let moved = if same_file {
            match quarantine(&self.path, &self.quarantine, &self.tally.md5) {
                Ok(to) => format!("moved to {}", to.display()),
                Err(e) => format!("could not be moved to quarantine: {e}"),
            }
        } else {
            "already replaced or removed".to_owned()
        };
        self.tally.damaged(why, &moved)
    }
}

impl Read for VerifiedReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = self.tally.room(buf.len())?;
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read(&mut buf[..want])?;
        if n == 0 {
            let why = self.tally.short();
            return Err(self.fail(&why));
        }
        let hashed = self.tally.count(&buf[..n]);
        if self.tally.at_end() && !self.trusted {
            let actual = match hashed {
                Some(a) => Some(a),
                None => self.rehash()?,
            };
            match actual {
                Some(a) if a == self.tally.md5 => {
                    self.verified
                        .remember(&self.tally.md5, self.key, self.opened);
                }
                Some(a) => return Err(self.fail(&format!("its content's MD5 is {a}"))),
                None => return Err(self.fail("it was cut short while read")),
            }
        }
        Ok(n)
    }
}

/// Moves the blob at `path` into `dir` as `<md5>` (`<md5>.1`, `.2`, … when taken); returns
/// where it went.
pub fn quarantine(path: &Path, dir: &Path, md5: &str) -> io::Result<PathBuf> {
    fs::create_dir_all(dir)?;
    let mut to = dir.join(md5);
    let mut n = 0;
    while to.exists() {
        n += 1;
        to = dir.join(format!("{md5}.{n}"));
    }
    fs::rename(path, &to)?;
    Ok(to)
}
