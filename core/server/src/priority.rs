//! Scheduling priority of the threads that burn CPU (pool workers hashing passwords, upload
//! threads hashing files and transcribing, download threads), so the event loop wins the core
//! whenever it has something to do. The loop does microseconds per request; on a machine whose
//! cores are full of equal-priority work it would otherwise wait tens of milliseconds for its
//! turn, and every connection with it (`--pool-nice`, docs/BENCHMARKS.md "Latency under mixed
//! load").
//!
//! Linux keeps a nice value per thread, and a thread starts with its creator's. Only threads
//! spawned by the loop or at start-up call [`lower_this_thread`]; the threads those spawn (S3
//! part writers, script executors started by a worker) inherit the lowered value. An
//! unprivileged process can lower a thread's priority but never raise it back, so nothing here
//! ever tries to.

/// Lowest priority Linux has (highest nice value).
pub const MAX_NICE: u32 = 19;

/// Makes the calling thread `steps` nice levels lower in priority than it is now (capped at
/// [`MAX_NICE`]); 0 leaves it alone. A refusal (a sandbox forbidding `setpriority`) is logged
/// once per thread and the thread runs on at its old priority.
pub fn lower_this_thread(steps: u32) {
    if steps == 0 {
        return;
    }
    let tid = rustix::thread::gettid();
    let result = rustix::process::getpriority_process(Some(tid)).and_then(|now| {
        let target = now
            .saturating_add(steps.min(MAX_NICE) as i32)
            .min(MAX_NICE as i32);
        if target > now {
            rustix::process::setpriority_process(Some(tid), target)?;
        }
        Ok(())
    });
    if let Err(e) = result {
        log::warn!("could not lower this thread's priority (--pool-nice): {e}");
    }
}

/// The calling thread's nice value, for tests and logs.
pub fn this_thread_nice() -> Option<i32> {
    rustix::process::getpriority_process(Some(rustix::thread::gettid())).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowering_moves_only_the_calling_thread_and_stops_at_19() {
        let before = this_thread_nice().expect("getpriority");
        let seen = std::thread::spawn(move || {
            lower_this_thread(3);
            let once = this_thread_nice();
            lower_this_thread(40);
            (once, this_thread_nice())
        })
        .join()
        .expect("thread");
        assert_eq!(seen.0, Some((before + 3).min(19)));
        assert_eq!(seen.1, Some(19));
        assert_eq!(
            this_thread_nice(),
            Some(before),
            "the spawning thread is untouched"
        );
    }
}
