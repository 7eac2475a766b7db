//! Requests on a plugin's own listener (e.g. the Melodia phone app): the plugin's framing turns
//! bytes into one request, which runs anonymously and may reach only that plugin's commands
//! (its internal ones included); the connection closes after the reply.

use std::sync::Arc;

use kino_api::{check_args, CmdError, Decoded, PayloadKind};
use kino_proto::{ErrorCode, Reply};
use mio::Token;

use crate::conn::{Conn, FramedBy};
use crate::dispatch::{run_command, Dispatcher};
use crate::host::authorize;
use crate::pipe::Pipe;
use crate::transfers::Holder;
use crate::workers::LoopMsg;

impl Dispatcher {
    /// One request on a plugin listener's connection, decoded by its framing. Only that
    /// plugin's commands may run (its internal ones included), always anonymously; the
    /// connection closes after the reply.
    pub(crate) fn process_framed(
        &mut self,
        conn: &mut Conn,
        token: Token,
        framed: &FramedBy,
    ) -> bool {
        let max = framed.framing.max_message();
        let (consumed, command, args, payload) = match framed.framing.decode(conn.input()) {
            Decoded::Incomplete if conn.input().len() < max => return false,
            Decoded::Incomplete => {
                self.host.warns.warn(
                    &format!("{} framed", conn.peer.ip()),
                    format_args!("{}: message over {max} bytes; closing", conn.peer),
                );
                return self.drop_framed(conn);
            }
            Decoded::Invalid(why) => {
                self.host.warns.warn(
                    &format!("{} framed", conn.peer.ip()),
                    format_args!("{}: invalid message: {why}; closing", conn.peer),
                );
                return self.drop_framed(conn);
            }
            Decoded::Request {
                consumed,
                command,
                args,
                payload,
            } => (consumed, command, args, payload),
        };
        conn.consume(consumed);
        conn.close_after_flush = true;
        let host = Arc::clone(&self.host);
        let checked = host
            .registry
            .get(&command)
            .filter(|e| e.command.info.name.split('.').next() == Some(framed.plugin.as_str()))
            .ok_or_else(|| {
                CmdError::new(
                    ErrorCode::UnknownCommand,
                    format!("unknown command `{command}`"),
                )
            })
            .and_then(|entry| {
                authorize(entry.command.info.role, None)?;
                Ok((entry, check_args(&entry.command.info, &args)?))
            });
        let (entry, args) = match checked {
            Ok(c) => c,
            Err(e) => {
                self.reply_now(conn, Reply::err(None, e.code, e.message));
                return true;
            }
        };
        conn.begin(None);
        let peer = Some(conn.peer.ip());
        let name = entry.command.info.name.clone();
        if entry.command.info.payload == PayloadKind::Upload {
            let slot = match self.transfers.try_take(Holder::Addr(conn.peer.ip())) {
                Ok(s) => s,
                Err(e) => {
                    conn.finish();
                    self.reply_now(conn, Reply::err(None, e.code, e.message));
                    return true;
                }
            };
            let bytes = payload.unwrap_or_default();
            let len = bytes.len() as u64;
            let pipe = Arc::new(Pipe::new(bytes.len().max(1), self.chan.notifier(token)));
            pipe.try_push(&bytes);
            pipe.finish();
            self.spawn_upload(
                token,
                name,
                None,
                None,
                None,
                args,
                (crate::dispatch::Payload::Piped(pipe), Some(slot)),
                len,
                peer,
            );
        } else {
            let chan = self.chan.clone();
            self.pool.submit(Box::new(move |db| {
                let outcome = run_command(&host, db, &name, None, None, None, args, None, peer);
                chan.send(LoopMsg::Done(token, Box::new(outcome)));
            }));
        }
        true
    }

    fn drop_framed(&self, conn: &mut Conn) -> bool {
        conn.clear_input();
        conn.close_after_flush = true;
        true
    }
}
