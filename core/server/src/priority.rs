//! Scheduling priority of the threads that burn CPU (pool workers hashing passwords, upload
//! threads hashing files and transcribing, download threads), so the event loop wins the core
//! whenever it has something to do. The loop does microseconds per request; on a machine whose
//! cores are full of equal-priority work it would otherwise wait tens of milliseconds for its
//! turn, and every connection with it (`--pool-nice`, `--pool-sched`, docs/BENCHMARKS.md
//! "Latency under mixed load").
//!
//! Linux keeps a nice value and a scheduling policy per thread, and a thread starts with its
//! creator's. Only threads spawned by the loop or at start-up call [`lower_this_thread`]; the
//! threads those spawn (S3 part writers, script executors started by a worker) inherit both. An
//! unprivileged process can lower a thread's priority but never raise it back, so nothing here
//! ever tries to.
//!
//! Nice levels only weigh a thread's share: a nice +10 thread that holds the core keeps it
//! until the scheduler's next decision, so a loop woken by a request may wait most of a time
//! slice. Under `SCHED_IDLE` the waking loop preempts it at once.

use thread_priority::{NormalThreadSchedulePolicy, ThreadPriority, ThreadSchedulePolicy};

/// Lowest priority Linux has (highest nice value).
pub const MAX_NICE: u32 = 19;

/// The scheduling policy of the CPU-bound threads (`--pool-sched`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum PoolSched {
    /// `SCHED_IDLE`: run only when no normal thread wants the core. Not the default: in the
    /// same-hour A/B its `ping` tails under mixed load were worse (p99.9 10-16 ms against 7-8,
    /// max 29-31 ms against 9-15: a thread holding a lock the loop wants waits for an idle core),
    /// and on a host whose other processes fill the cores such threads would not run at all.
    Idle,
    /// `SCHED_OTHER` at `--pool-nice` levels below the loop.
    #[default]
    Normal,
}

/// Makes the calling thread `steps` nice levels lower in priority than it is now (capped at
/// [`MAX_NICE`]; 0 leaves it alone), and with [`PoolSched::Idle`] moves it to `SCHED_IDLE`.
/// A refusal (a sandbox forbidding `setpriority` or `sched_setscheduler`) is logged once per
/// thread and the thread runs on at its old priority.
pub fn lower_this_thread(steps: u32, sched: PoolSched) {
    if sched == PoolSched::Idle {
        idle_this_thread();
    }
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

/// Moves the calling thread to `SCHED_IDLE`, keeping its nice value (which `SCHED_IDLE`
/// ignores, but a thread moved back to `SCHED_OTHER` would use).
fn idle_this_thread() {
    let idle = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
    let nice = this_thread_nice();
    // Sets the policy, then the calling thread's nice value to 0 (the crate maps every normal
    // policy's priority to a nice value, and `SCHED_IDLE` has only 0); put the old one back.
    let set = thread_priority::set_thread_priority_and_policy(
        thread_priority::thread_native_id(),
        ThreadPriority::Min,
        idle,
    );
    if let (Some(before), Some(now)) = (nice, this_thread_nice()) {
        if before != now {
            let tid = rustix::thread::gettid();
            if let Err(e) = rustix::process::setpriority_process(Some(tid), before) {
                log::warn!("could not restore this thread's nice value {before}: {e}");
            }
        }
    }
    if this_thread_sched() != Some(PoolSched::Idle) {
        log::warn!(
            "could not move this thread to SCHED_IDLE (--pool-sched idle), nice levels only: {:?}",
            set.err()
        );
    }
}

/// The calling thread's nice value, for tests and logs.
pub fn this_thread_nice() -> Option<i32> {
    rustix::process::getpriority_process(Some(rustix::thread::gettid())).ok()
}

/// The calling thread's policy: `Idle` for `SCHED_IDLE`, `Normal` for `SCHED_OTHER` and
/// `SCHED_BATCH`, `None` for a real-time one (or when it cannot be read).
pub fn this_thread_sched() -> Option<PoolSched> {
    match thread_priority::thread_schedule_policy().ok()? {
        ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle) => Some(PoolSched::Idle),
        ThreadSchedulePolicy::Normal(_) => Some(PoolSched::Normal),
        ThreadSchedulePolicy::Realtime(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowering_moves_only_the_calling_thread_and_stops_at_19() {
        let before = this_thread_nice().expect("getpriority");
        let seen = std::thread::spawn(move || {
            lower_this_thread(3, PoolSched::Normal);
            let once = this_thread_nice();
            lower_this_thread(40, PoolSched::Normal);
            (once, this_thread_nice(), this_thread_sched())
        })
        .join()
        .expect("thread");
        assert_eq!(seen.0, Some((before + 3).min(19)));
        assert_eq!(seen.1, Some(19));
        assert_eq!(
            seen.2,
            Some(PoolSched::Normal),
            "`normal` keeps SCHED_OTHER"
        );
        assert_eq!(
            this_thread_nice(),
            Some(before),
            "the spawning thread is untouched"
        );
    }

    #[test]
    fn idle_moves_only_the_calling_thread_to_sched_idle_and_keeps_its_nice() {
        let before = (
            this_thread_sched(),
            this_thread_nice().expect("getpriority"),
        );
        assert_eq!(
            before.0,
            Some(PoolSched::Normal),
            "test threads start normal"
        );
        let (sched, nice, child) = std::thread::spawn(move || {
            lower_this_thread(2, PoolSched::Idle);
            let child = std::thread::spawn(this_thread_sched)
                .join()
                .expect("thread");
            (this_thread_sched(), this_thread_nice(), child)
        })
        .join()
        .expect("thread");
        assert_eq!(sched, Some(PoolSched::Idle));
        assert_eq!(
            nice,
            Some((before.1 + 2).min(19)),
            "nice lowered, not reset"
        );
        assert_eq!(child, Some(PoolSched::Idle), "threads it spawns inherit it");
        assert_eq!(
            (this_thread_sched(), this_thread_nice()),
            (before.0, Some(before.1)),
            "the spawning thread is untouched"
        );
    }
}
