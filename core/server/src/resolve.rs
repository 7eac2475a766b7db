//! Sessions the cache cannot vouch for are read on a pool worker, not on the loop: a database
//! round trip (PostgreSQL on another host, or a table locked by a migration) would otherwise
//! stall every connection. The connection counts as busy meanwhile, so its later requests wait
//! and replies stay in order; the request then goes on from the check, with the caller found.

use std::sync::Arc;

use kino_api::Identity;
use kino_proto::Request;
use mio::Token;

use crate::conn::Conn;
use crate::dispatch::Dispatcher;
use crate::session::now_ms;
use crate::workers::LoopMsg;

/// A request whose caller was looked up off the loop.
pub struct Resolved {
    /// The request, as parsed.
    pub req: Request,
    /// Who sent it; `None` for an unknown, ended or expired session.
    pub caller: Option<Identity>,
}

/// Sends `req`'s session lookup to the pool; the loop goes on with [`resume`].
pub(crate) fn off_loop(
    dispatcher: &mut Dispatcher,
    conn: &mut Conn,
    token: Token,
    req: Request,
    session: String,
) {
    conn.begin(None);
    let host = Arc::clone(&dispatcher.host);
    let chan = dispatcher.chan.clone();
    dispatcher.pool.submit(Box::new(move |db| {
        let caller = host.sessions.resolve_on(db, &session, now_ms());
        chan.send(LoopMsg::Resolved(token, Box::new(Resolved { req, caller })));
    }));
}

/// Goes on with a request once its caller is known.
pub(crate) fn resume(dispatcher: &mut Dispatcher, conn: &mut Conn, token: Token, r: Resolved) {
    conn.finish();
    dispatcher.handle_request(conn, token, Ok(r.req), Some(r.caller));
}
