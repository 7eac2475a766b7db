//! Accepting connections: every pending connect until `WouldBlock`, refused `busy` past the
//! overall and per-address caps (a trusted balancer's connections are counted against the clients
//! their PROXY headers name, see [`super::proxy`]).

use std::io;

use mio::{Interest, Token};

use crate::conn::Conn;
use crate::stats::ServerStats;

use super::{busy_frame, EventLoop};

impl EventLoop {
    /// Accepts on the main listener (`None`) or a plugin's.
    pub(super) fn accept_all(&mut self, which: Option<Token>) {
        loop {
            let (accepted, framed) = match which.and_then(|t| self.plugin_listeners.get(&t)) {
                Some((l, framed)) => (l.accept(), Some(framed.clone())),
                None => match &self.listener {
                    Some(l) => (l.accept(), None),
                    None => return,
                },
            };
            match accepted {
                Ok((mut stream, peer)) => {
                    let stats = &self.dispatcher.host.stats;
                    let limits = &self.dispatcher.host.limits;
                    let from_ip = self.per_ip.get(&peer.ip()).copied().unwrap_or(0);
                    // A balancer's connections are counted against the clients it names.
                    let proxied = limits
                        .proxy_protocol_from
                        .iter()
                        .any(|net| net.contains(&peer.ip()));
                    let refusal = if self.conns.len() >= limits.max_connections {
                        Some("connection limit reached")
                    } else if from_ip >= limits.max_connections_per_ip && !proxied {
                        Some("per-address connection limit reached")
                    } else {
                        None
                    };
                    if let Some(why) = refusal {
                        ServerStats::add(&stats.connections_rejected, 1);
                        use std::io::Write;
                        if framed.is_none() {
                            let _ = stream.write(&busy_frame());
                        }
                        let key = format!("refused {}", peer.ip());
                        self.dispatcher
                            .host
                            .warns
                            .warn(&key, format_args!("refused {peer}: {why}"));
                        continue;
                    }
                    let _ = stream.set_nodelay(true);
                    let _ = socket2::SockRef::from(&stream).set_tcp_quickack(true);
                    let token = Token(self.next_token);
                    self.next_token += 1;
                    if let Err(e) =
                        self.poll
                            .registry()
                            .register(&mut stream, token, Interest::READABLE)
                    {
                        log::warn!("register {peer}: {e}");
                        continue;
                    }
                    ServerStats::add(&stats.connections, 1);
                    ServerStats::add(&stats.connections_total, 1);
                    *self.per_ip.entry(peer.ip()).or_insert(0) += 1;
                    if proxied {
                        // Logged once the header names the client (health checks: debug).
                        log::debug!("open {peer} (balancer)");
                    } else {
                        log::info!("open {peer}");
                    }
                    let mut conn = Conn::new(stream, peer, self.now);
                    conn.framed = framed;
                    conn.proxy_pending = proxied;
                    self.conns.insert(token, conn);
                    self.pump(token);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // EMFILE and friends: log and try again on the next readiness event.
                    log::error!("accept: {e}");
                    return;
                }
            }
        }
    }
}
