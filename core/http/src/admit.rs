//! Who may open an HTTP connection: at most `--http-max-connections` in all and
//! `--http-max-connections-per-ip` from one address (a trusted proxy's connections carry many
//! clients, so they count only toward the total). A refused connection gets 503 and is closed.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct Counts {
    total: usize,
    by_ip: HashMap<IpAddr, usize>,
}

/// The table of open connections.
#[derive(Default)]
pub struct Admission {
    counts: Mutex<Counts>,
}

/// One admitted connection; dropping it frees its place.
pub struct Ticket {
    table: Arc<Admission>,
    ip: Option<IpAddr>,
}

impl Admission {
    /// Admits a connection from `ip` (`None`: a trusted proxy), or says which limit it met.
    pub fn admit(
        self: &Arc<Self>,
        ip: Option<IpAddr>,
        (max, per_ip): (usize, usize),
    ) -> Result<Ticket, String> {
        let mut c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if c.total >= max {
            return Err(format!(
                "the server has {max} web connections open (--http-max-connections); try again"
            ));
        }
        if let Some(ip) = ip {
            let mine = c.by_ip.entry(ip).or_insert(0);
            if *mine >= per_ip {
                return Err(format!(
                    "{ip} has {per_ip} web connections open (--http-max-connections-per-ip); \
                     close one and try again"
                ));
            }
            *mine += 1;
        }
        c.total += 1;
        Ok(Ticket {
            table: Arc::clone(self),
            ip,
        })
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut c = self.table.counts.lock().unwrap_or_else(|p| p.into_inner());
        c.total = c.total.saturating_sub(1);
        if let Some(ip) = self.ip {
            if let Some(n) = c.by_ip.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    c.by_ip.remove(&ip);
                }
            }
        }
    }
}
