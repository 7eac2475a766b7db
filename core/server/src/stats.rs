//! Server-wide counters for `server.info` (Redis INFO's clients/stats sections).

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters updated by the loop and read by `server.info`.
#[derive(Debug, Default)]
pub struct ServerStats {
    /// Connections open now.
    pub connections: AtomicU64,
    /// Connections accepted since start.
    pub connections_total: AtomicU64,
    /// Connections refused at the limit.
    pub connections_rejected: AtomicU64,
    /// Requests answered.
    pub commands: AtomicU64,
    /// Requests answered with an error.
    pub errors: AtomicU64,
    /// Bytes read from clients.
    pub bytes_in: AtomicU64,
    /// Bytes written to clients.
    pub bytes_out: AtomicU64,
    /// Memory held by connections' input buffers now, bytes.
    pub input_buffered: AtomicU64,
    /// Memory held by connections' reply buffers now, bytes.
    pub output_buffered: AtomicU64,
    /// The largest reply buffer one connection has held, bytes.
    pub output_peak: AtomicU64,
    /// Connections closed for silence, a stalled frame, a slow frame or unread replies.
    pub connections_timed_out: AtomicU64,
    /// Uploads and downloads streaming now.
    pub transfers: AtomicU64,
    /// Transfers refused with `busy` at `--max-transfers` or `--max-transfers-per-user`.
    pub transfers_rejected: AtomicU64,
    /// Times TCP quick-ACK was re-armed because a partial frame was buffered.
    pub quickacks: AtomicU64,
    /// HTTP gateway connections open now.
    pub http_connections: AtomicU64,
    /// HTTP commands running now (at most `--http-max-handlers`).
    pub http_handlers: AtomicU64,
    /// The most HTTP commands that ran at once.
    pub http_handlers_peak: AtomicU64,
    /// HTTP requests refused with 503 `busy`: no handler free within `--http-handler-wait`,
    /// or no upload place under `--max-transfers`.
    pub http_busy: AtomicU64,
    /// Reply bodies sent by the kernel from a verified file (`sendfile`), not through a pipe.
    pub bodies_sendfile: AtomicU64,
    /// Upload payloads read from the socket by their handler's thread, not through the loop.
    pub bodies_read_direct: AtomicU64,
}

impl ServerStats {
    /// Adds to a counter.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Subtracts from a counter.
    pub fn sub(counter: &AtomicU64, n: u64) {
        counter.fetch_sub(n, Ordering::Relaxed);
    }

    /// Moves a gauge from `old` to `new`.
    pub fn adjust(counter: &AtomicU64, old: usize, new: usize) {
        if new >= old {
            Self::add(counter, (new - old) as u64);
        } else {
            Self::sub(counter, (old - new) as u64);
        }
    }

    /// Raises a high-water counter to `n` if it is lower.
    pub fn max(counter: &AtomicU64, n: u64) {
        counter.fetch_max(n, Ordering::Relaxed);
    }

    /// Reads a counter.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}
