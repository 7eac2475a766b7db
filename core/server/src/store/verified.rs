//! Blobs whose whole content was checked against their MD5, remembered by what the file system
//! says about the file, so a later read of the same unchanged file needs neither a hash nor a
//! pass through user space (it can go out by `sendfile`).
//!
//! A file is "the same and unchanged" when its device, inode, size, mtime and ctime are all
//! what they were when the check began. Any write changes mtime and ctime, a replacement changes
//! the inode, and ctime cannot be set back by anyone but the kernel, so an altered file is
//! hashed again (and caught). What this trusts: the file system's metadata. A change under it
//! (bit rot on the device, a raw write to the block device) is not seen by reads any more
//! once a file is remembered; `kino-server check` still hashes every blob.
//!
//! Timestamps are coarse (a clock tick, or a whole second on some file systems), so a write in
//! the same tick as the one before the check could leave them equal. A file is therefore only
//! remembered when its ctime is older than the start of the check that passed by more than the
//! timestamps' grain: [`RACY_FINE`] when the ctime has a sub-second part (the kernel's coarse
//! clock ticks at 100 Hz or more), [`RACY`] when it is a whole second (a file system storing
//! seconds only). A younger file is simply hashed again next time.
//!
//! Bounded by `--verified-blobs-max` entries; the oldest go first. A restart forgets them all.

use std::collections::{HashMap, VecDeque};
use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How much older than the check's start a whole-second ctime must be for it to be remembered.
pub const RACY: Duration = Duration::from_secs(2);
/// The same for a ctime with nanoseconds: several ticks of a 100 Hz clock.
pub const RACY_FINE: Duration = Duration::from_millis(50);

/// What identifies one state of one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileKey {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl FileKey {
    /// The key of the file `meta` describes.
    pub fn of(meta: &Metadata) -> Self {
        FileKey {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.len(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }

    /// Whether this state is old enough, relative to `checked_from`, to be told apart from any
    /// write made after it (see [`RACY`]).
    fn settled(&self, checked_from: SystemTime) -> bool {
        let Ok(from) = checked_from.duration_since(UNIX_EPOCH) else {
            return false;
        };
        let (secs, nanos) = self.ctime;
        let grain = if nanos == 0 { RACY } else { RACY_FINE };
        let Some(limit) = from.checked_sub(grain) else {
            return false;
        };
        let Ok(secs) = u64::try_from(secs) else {
            return true; // before 1970: old enough
        };
        let ctime = Duration::new(secs, u32::try_from(nanos).unwrap_or(0));
        ctime < limit
    }
}

#[derive(Default)]
struct Inner {
    /// md5 → (the verified file's key, its insertion number).
    keys: HashMap<String, (FileKey, u64)>,
    /// Insertion order, oldest first; entries whose number no longer matches are stale.
    order: VecDeque<(String, u64)>,
    next: u64,
}

/// The remembered set of one blob store.
pub struct Verified {
    inner: Mutex<Inner>,
    max: usize,
}

impl Verified {
    /// Remembers at most `max` files (0: none, every read hashes).
    pub fn new(max: usize) -> Self {
        Verified {
            inner: Mutex::new(Inner::default()),
            max,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the content `md5` was verified whole in exactly the file state `key`.
    pub fn vouches(&self, md5: &str, key: &FileKey) -> bool {
        self.lock().keys.get(md5).is_some_and(|(k, _)| k == key)
    }

    /// The whole file, in state `key` when the check started at `checked_from`, matched `md5`.
    pub fn remember(&self, md5: &str, key: FileKey, checked_from: SystemTime) {
        if self.max == 0 || !key.settled(checked_from) {
            return;
        }
        let mut g = self.lock();
        let n = g.next;
        g.next += 1;
        g.keys.insert(md5.to_owned(), (key, n));
        g.order.push_back((md5.to_owned(), n));
        while g.keys.len() > self.max {
            let Some((old, at)) = g.order.pop_front() else {
                break;
            };
            if g.keys.get(&old).is_some_and(|(_, m)| *m == at) {
                g.keys.remove(&old);
            }
        }
        // Stale order entries (re-inserted keys) are bounded by the live ones.
        if g.order.len() > self.max.saturating_mul(2).max(16) {
            let live: Vec<(String, u64)> = g
                .order
                .iter()
                .filter(|(k, at)| g.keys.get(k).is_some_and(|(_, m)| m == at))
                .cloned()
                .collect();
            g.order = live.into();
        }
    }

    /// The content `md5` failed a check or left the store: forget it.
    pub fn forget(&self, md5: &str) {
        self.lock().keys.remove(md5);
    }

    /// Files remembered now.
    pub fn len(&self) -> usize {
        self.lock().keys.len()
    }

    /// Whether none is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(ino: u64, ctime: i64) -> FileKey {
        FileKey {
            dev: 1,
            ino,
            size: 10,
            mtime: (ctime, 0),
            ctime: (ctime, 0),
        }
    }

    #[test]
    fn bounded_oldest_first_and_young_files_are_not_remembered() {
        let now = SystemTime::now();
        let old = now
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64)
            - 10;
        let v = Verified::new(2);
        for (i, md5) in ["a", "b", "c"].iter().enumerate() {
            v.remember(md5, key(i as u64, old), now);
        }
        assert_eq!(v.len(), 2);
        assert!(!v.vouches("a", &key(0, old)), "the oldest went first");
        assert!(v.vouches("c", &key(2, old)));
        assert!(
            !v.vouches("c", &key(3, old)),
            "another inode is another file"
        );
        for _ in 0..100 {
            v.remember("b", key(1, old), now);
        }
        assert!(v.lock().order.len() <= 16);
        v.remember("d", key(4, old + 10), now);
        assert!(
            !v.vouches("d", &key(4, old + 10)),
            "changed within RACY of the check"
        );
        v.forget("c");
        assert!(!v.vouches("c", &key(2, old)));
        let fine = Verified::new(2);
        let second_ago = FileKey {
            ctime: (old + 9, 5),
            ..key(5, old + 9)
        };
        fine.remember("e", second_ago, now);
        assert!(
            fine.vouches("e", &second_ago),
            "a fine ctime 1 s old is settled"
        );
        let whole = key(6, old + 9);
        fine.remember("f", whole, now);
        assert!(
            !fine.vouches("f", &whole),
            "a whole-second ctime 1 s old is not"
        );
        let none = Verified::new(0);
        none.remember("a", key(0, old), now);
        assert!(none.is_empty());
    }
}
