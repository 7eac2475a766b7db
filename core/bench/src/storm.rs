//! The connection storm: many clients connect at once, as after a restart or a network blip.
//! When the accept queue overflows, the kernel drops SYNs and those clients wait a whole second
//! for the retransmit, which shows as a p99 connect time of about 1 s.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use anyhow::Result;

/// What one storm measured.
pub struct Storm {
    /// From the first connect until every connection had its `ping` answered.
    pub total: Duration,
    /// 99th percentile of `connect()` time.
    pub p99_connect: Duration,
    /// Slowest `connect()`.
    pub max_connect: Duration,
    /// Connects that took over 900 ms (a dropped SYN waits 1 s for its retransmit).
    pub stalled: usize,
}

/// Opens `count` connections from `threads` threads flat out, each answering one `ping`, and
/// keeps them all open until every one has.
pub fn storm(addr: SocketAddr, count: usize, threads: usize) -> Result<Storm> {
    let threads = threads.max(1);
    let started = Instant::now();
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let n = count / threads + usize::from(t < count % threads);
            let barrier = std::sync::Arc::clone(&barrier);
            std::thread::spawn(move || -> Result<(Vec<Duration>, Vec<TcpStream>)> {
                let body = br#"{"type":"ping"}"#;
                let mut frame = (body.len() as u32).to_le_bytes().to_vec();
                frame.extend_from_slice(body);
                let mut times = Vec::with_capacity(n);
                let mut open = Vec::with_capacity(n);
                barrier.wait();
                for _ in 0..n {
                    let t0 = Instant::now();
                    let s = TcpStream::connect(addr)?;
                    times.push(t0.elapsed());
                    open.push(s);
                }
                for s in open.iter_mut() {
                    s.write_all(&frame)?;
                }
                for s in open.iter_mut() {
                    let mut header = [0u8; 4];
                    s.read_exact(&mut header)?;
                    let mut reply = vec![0u8; u32::from_le_bytes(header) as usize];
                    s.read_exact(&mut reply)?;
                    anyhow::ensure!(
                        reply.starts_with(br#"{"ok":true"#),
                        "refused: {}",
                        String::from_utf8_lossy(&reply)
                    );
                }
                Ok((times, open))
            })
        })
        .collect();
    let mut times = Vec::with_capacity(count);
    let mut keep = Vec::with_capacity(count);
    for h in handles {
        let (t, open) = h
            .join()
            .map_err(|_| anyhow::anyhow!("storm thread panicked"))??;
        times.extend(t);
        keep.push(open);
    }
    let total = started.elapsed();
    times.sort();
    let at = |q: f64| {
        times
            .get(((times.len() as f64 * q) as usize).min(times.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    Ok(Storm {
        total,
        p99_connect: at(0.99),
        max_connect: times.last().copied().unwrap_or_default(),
        stalled: times
            .iter()
            .filter(|t| **t > Duration::from_millis(900))
            .count(),
    })
}
