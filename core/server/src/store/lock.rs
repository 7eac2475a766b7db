//! One serving process per data directory: two servers on the same files would each keep
//! their own sessions, hold their own download waits and race on blobs. `kino-server check`
//! (read-only) and `kino-server user add` (one SQLite transaction) may still run beside it.

use std::fs::{File, OpenOptions};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

/// The file whose advisory lock marks a data directory in use.
pub const LOCK_FILE: &str = "kino.lock";

/// Held while the server runs; the OS releases the lock when the process ends, however it ends.
#[derive(Debug)]
pub struct DataLock {
    _lock: Flock<File>,
}

/// Takes the data directory's lock, or says which directory is in use and what to do.
pub fn take(data: &Path) -> Result<DataLock, String> {
    let path = data.join(LOCK_FILE);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => Ok(DataLock { _lock: lock }),
        Err((_, Errno::EWOULDBLOCK)) => Err(format!(
            "another kino-server is already using the data directory {}; stop it first, or \
             give this one its own with --data DIR",
            data.display()
        )),
        Err((_, e)) => Err(format!("cannot lock {}: {e}", path.display())),
    }
}
