//! Time rules, checked off the poll timeout: held replies whose deadline passed, and
//! connections that hold a slot without moving (silent since accept, stalled or slow frames,
//! replies left unread).

use std::time::{Duration, Instant};

use mio::Token;

use crate::conn::{Conn, Held, ReadState};
use crate::stats::ServerStats;

use super::EventLoop;

impl EventLoop {
    /// Releases held replies whose time came, and every half-second closes connections that
    /// broke a time rule (see [`stalled_why`]).
    pub(super) fn fire_timers(&mut self) {
        let now = Instant::now();
        while let Some(&(when, token)) = self.timers.first() {
            if when > now {
                break;
            }
            self.timers.pop_first();
            let Some(conn) = self.conns.get_mut(&token) else {
                continue;
            };
            // A client that hung up during the wait gets nothing: the body would stream to no
            // one, and a served wait (the movies plugin's resume grant) must mean a download
            // that really started.
            if conn.peer_closed && conn.is_held() {
                self.close(token, "the client left while its reply was held");
                continue;
            }
            if let Some(Held { frame, body, slot }) = conn.take_held() {
                self.dispatcher.emit(conn, token, frame, body, slot);
                self.pump(token);
            }
        }
        if now.duration_since(self.last_sweep) >= Duration::from_millis(500) {
            self.last_sweep = now;
            self.host().sessions().sweep(crate::session::now_ms());
            self.host().warns.report(now);
            let limits = &self.host().limits;
            let (idle, frame_timeout) = (limits.idle_timeout, limits.frame_timeout);
            let stalled: Vec<(Token, &str)> = self
                .conns
                .iter()
                .filter_map(|(t, c)| stalled_why(c, now, idle, frame_timeout).map(|w| (*t, w)))
                .collect();
            for (t, why) in stalled {
                ServerStats::add(&self.dispatcher.host.stats.connections_timed_out, 1);
                self.close(t, why);
            }
        }
    }
}

/// Why a connection must be closed at `now`, if it must.
fn stalled_why(
    c: &Conn,
    now: Instant,
    idle: Duration,
    frame_timeout: Duration,
) -> Option<&'static str> {
    // A request in flight with pipelined input behind it is waiting on us, not on the client.
    // An upload's thread reading the socket keeps its own --idle-timeout ([`crate::direct`]).
    let waiting_on_us =
        c.in_flight() && matches!(c.read, ReadState::Frames | ReadState::Direct { .. });
    let silent = now.duration_since(c.last_input) > idle;
    if c.pending_out() > 0 && now.duration_since(c.last_output) > idle {
        Some("replies not read")
    } else if !c.spoke && silent && !waiting_on_us {
        Some("silent since accept")
    } else if c.mid_frame() && silent && !waiting_on_us {
        Some("idle in the middle of a frame")
    } else if c
        .frame_started
        .is_some_and(|s| now.duration_since(s) > frame_timeout)
        && !c.in_flight()
        && matches!(c.read, ReadState::Frames)
    {
        Some("frame not finished within the frame timeout")
    } else {
        None
    }
}
