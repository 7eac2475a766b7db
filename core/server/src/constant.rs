//! Requests for a constant command (`ping`) answered from its pre-encoded reply: the envelope
//! is read borrowed from the input buffer and the reply written straight into the out-buffer,
//! with no `Request`, no argument map, no `Ctx`, no handler call and no clock read. Anything
//! this path is unsure of goes down the full path, which gives every error reply.

use kino_api::{Exec, PayloadKind};
use kino_proto::envelope::leading_type;
use kino_proto::{peek_envelope, HEADER_LEN};

use crate::conn::Conn;
use crate::dispatch::Dispatcher;
use crate::host::authorize;

impl Dispatcher {
    /// Answers the request frame of `len` bytes at the front of the input when it names a
    /// [`kino_api::Command::constant`] without arguments that the caller may run; the frame is
    /// left for the caller to consume. `false` leaves everything untouched for the full path:
    /// arguments, an unusual envelope, a session the cache cannot vouch for, a refusal.
    pub(crate) fn answer_constant(&self, conn: &mut Conn, len: usize) -> bool {
        let body = &conn.input()[HEADER_LEN..][..len];
        // Most requests name another command up front: not read twice.
        if leading_type(body).is_some_and(|name| !self.host.registry.is_constant(name)) {
            return false;
        }
        let Some(env) = peek_envelope(body) else {
            return false;
        };
        if !self.host.registry.is_constant(env.command) {
            return false;
        }
        let Some(entry) = self.host.registry.get(env.command) else {
            return false;
        };
        let Some(data) = entry.command.constant.as_deref() else {
            return false;
        };
        let info = &entry.command.info;
        if info.internal
            || info.legacy_only
            || info.payload != PayloadKind::None
            || entry.command.exec != Exec::Fast
        {
            return false;
        }
        // The same cache lookup as the full path (it also keeps the session alive); a miss is
        // resolved off the loop by the full path.
        let caller = match env.session.or(conn.session.as_deref()) {
            None => None,
            Some(token) => match self.host.sessions.cached(token, crate::session::now_ms()) {
                Some(identity) => Some(identity),
                None => return false,
            },
        };
        if authorize(info.role, caller.as_ref()).is_err() {
            return false;
        }
        log::debug!("{} {}", conn.peer, env.command);
        // The id's place in the input, so its bytes are copied once, into the reply.
        let id = env.id.map(|id| {
            let start = HEADER_LEN + (id.as_ptr() as usize - body.as_ptr() as usize);
            start..start + id.len()
        });
        conn.queue_ok(id, data);
        crate::replies::count_reply(&self.host, true);
        // No handler ran: the call counts, with no time spent in it.
        entry.stats.record(true, 0);
        true
    }
}
