//! The one entry point for front ends that are not the mio loop (the HTTP gateway, `kino-http`):
//! a command name, JSON arguments, the caller's token and an optional payload in; the handler's
//! result out. It runs the loop's checks in the loop's order (lookup, legacy refusal, role,
//! arguments, payload size, transfer slot), the same handler runner (counters, panic catching,
//! the failure log line) and the same reply counters, so a command reached this way follows
//! exactly the rules it follows on the native port. The caller supplies the thread and the
//! database connection: a gateway thread is never the loop's.

use std::io::Read;
use std::net::IpAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use kino_api::{
    check_args, CmdError, Ctx, Identity, OnComplete, Output, PayloadKind, SessionChange,
};
use kino_proto::ErrorCode;
use serde_json::{Map, Value};

use crate::config::Limits;
use crate::host::{authorize, ServerHost};
use crate::registry::EntryRef;
use crate::replies::count_reply;
use crate::store::{AnyDb, DbUrl};
use crate::transfers::{Holder, Slot, TransferSlots};

/// A handle on a serving node for another front end; cheap to clone.
#[derive(Clone)]
pub struct Gateway {
    host: Arc<ServerHost>,
    db_url: DbUrl,
    transfers: Arc<TransferSlots>,
}

/// One request as a front end received it.
pub struct GatewayRequest<'a> {
    /// The command's name (aliases of legacy-only commands are refused, as for native clients).
    pub command: &'a str,
    /// The arguments object, without `file_size` (set from `upload`).
    pub args: Map<String, Value>,
    /// The session token the request carried, if any.
    pub token: Option<String>,
    /// The client's address, for per-address limits and login throttles.
    pub peer: IpAddr,
    /// The payload of an upload command and its exact length.
    pub upload: Option<(&'a mut (dyn Read + Send), u64)>,
}

/// What a request came to.
pub struct GatewayAnswer {
    /// The handler's result, or the check that refused it.
    pub result: Result<Output, CmdError>,
    /// Who the token resolved to.
    pub caller: Option<Identity>,
    /// A login or logout the front end should reflect (a cookie).
    pub session_change: Option<SessionChange>,
    /// The transfer slot a reply body holds while it streams; drop it when done.
    pub slot: Option<Slot>,
}

impl GatewayAnswer {
    fn refused(e: CmdError, caller: Option<Identity>) -> Self {
        GatewayAnswer {
            result: Err(e),
            caller,
            session_change: None,
            slot: None,
        }
    }
}

impl Gateway {
    pub(crate) fn new(host: Arc<ServerHost>, db_url: DbUrl, transfers: Arc<TransferSlots>) -> Self {
        Gateway {
            host,
            db_url,
            transfers,
        }
    }

    /// The node's limits (the front end's own bounds live there too).
    pub fn limits(&self) -> &Limits {
        &self.host.limits
    }

    /// The node's counters, where the front end reports its own gauges.
    pub fn stats(&self) -> &crate::stats::ServerStats {
        &self.host.stats
    }

    /// A database connection of the node's store, for a front-end thread to keep.
    pub fn open_db(&self) -> Result<AnyDb, kino_api::DbError> {
        AnyDb::open(&self.db_url)
    }

    /// The identity behind a token, if the session is live.
    pub fn resolve(&self, token: &str) -> Option<Identity> {
        self.host.resolve(token)
    }

    /// Which way a command's payload goes; `None` for a command the web cannot reach.
    pub fn payload_kind(&self, command: &str) -> Option<PayloadKind> {
        self.host
            .lookup(command)
            .filter(|e| !e.command.info.internal && !e.command.info.legacy_only)
            .map(|e| e.command.info.payload)
    }

    /// Whether the command runs inline on the loop natively ([`kino_api::Exec::Fast`]): its
    /// handler touches no database and takes microseconds, so a front end need not queue it.
    pub fn is_fast(&self, command: &str) -> bool {
        self.host
            .lookup(command)
            .is_some_and(|e| e.command.exec == kino_api::Exec::Fast)
    }

    /// Where the command names its payload's file (an upload's argument, a download's reply
    /// field), if it declares one.
    pub fn file_name_arg(&self, command: &str) -> Option<String> {
        let entry = self.host.lookup(command)?;
        entry.command.info.file_name.as_ref().map(|s| s.to_string())
    }

    /// Checks and runs one request on `db`, on the calling thread. A body in the result comes
    /// with its transfer slot (or the result is `busy`); a held reply (`not_before`) is the
    /// front end's to wait out.
    pub fn call(&self, db: &mut AnyDb, req: GatewayRequest<'_>) -> GatewayAnswer {
        let host = &*self.host;
        let GatewayRequest {
            command,
            mut args,
            token,
            peer,
            upload,
        } = req;
        let caller = token.as_deref().and_then(|t| host.resolve(t));
        let checked = self.check(command, &mut args, caller.as_ref(), peer, upload.as_ref());
        let (entry, args, upload_slot) = match checked {
            Ok(c) => c,
            Err(e) => {
                if e.code != ErrorCode::Unauthenticated {
                    host.warns.warn(
                        &format!("{peer} {command}"),
                        format_args!("{peer} {command} (http): {e}"),
                    );
                }
                count_reply(host, false);
                return GatewayAnswer::refused(e, caller);
            }
        };
        let name = entry.command.info.name.clone();
        let outcome = crate::dispatch::run_command(
            host,
            db,
            &name,
            None,
            caller.clone(),
            token,
            args,
            upload,
            Some(peer),
        );
        drop(upload_slot);
        db.reset();
        let mut slot = None;
        let result = match outcome.result {
            Ok(out) if out.body.as_ref().is_some_and(|b| b.len > 0) => {
                match self.transfers.try_take(Holder::of(caller.as_ref(), peer)) {
                    Ok(s) => {
                        slot = Some(s);
                        Ok(out)
                    }
                    Err(e) => Err(e),
                }
            }
            other => other,
        };
        count_reply(host, result.as_ref().is_ok_and(|o| !o.refused));
        GatewayAnswer {
            result,
            caller,
            session_change: outcome.session_change,
            slot,
        }
    }

    fn check(
        &self,
        command: &str,
        args: &mut Map<String, Value>,
        caller: Option<&Identity>,
        peer: IpAddr,
        upload: Option<&(&mut (dyn Read + Send), u64)>,
    ) -> Result<(EntryRef<'_>, kino_api::Args, Option<Slot>), CmdError> {
        let host = &*self.host;
        let entry = host
            .lookup(command)
            .filter(|e| !e.command.info.internal)
            .ok_or_else(|| {
                CmdError::new(
                    ErrorCode::UnknownCommand,
                    format!(
                        "unknown command `{command}`{}; `help` lists them",
                        host.registry.suggest(command)
                    ),
                )
            })?;
        // As a native request with an `id`: the original client's commands are not web ones.
        if let Some(refusal) = crate::compat::native_refusal(&entry, command, true) {
            return Err(refusal);
        }
        authorize(entry.command.info.role, caller)?;
        if args.contains_key("file_size") {
            return Err(CmdError::bad_args(
                "`file_size` is the payload's length: send the payload as the request body",
            ));
        }
        let mut slot = None;
        match (entry.command.info.payload, upload) {
            (PayloadKind::Upload, Some((_, len))) => {
                if *len > host.limits.max_upload {
                    return Err(CmdError::new(
                        ErrorCode::TooLarge,
                        format!(
                            "payload of {len} bytes is over the {}-byte upload limit",
                            host.limits.max_upload
                        ),
                    ));
                }
                args.insert("file_size".into(), Value::from(*len));
            }
            (PayloadKind::Upload, None) => {
                return Err(CmdError::bad_args(
                    "an upload needs its payload as the request body, with Content-Length",
                ))
            }
            (_, Some(_)) => {
                return Err(CmdError::bad_args(format!(
                    "`{command}` takes no payload: send its arguments as a JSON body"
                )))
            }
            (_, None) => {}
        }
        let checked = check_args(&entry.command.info, args)?;
        if entry.command.info.payload == PayloadKind::Upload {
            // Taken last: a request refused for any other reason holds no slot.
            slot = Some(self.transfers.try_take(Holder::of(caller, peer))?);
        }
        Ok((entry, checked, slot))
    }

    /// Runs a body's completion hook (the download record) once the front end sent it whole.
    pub fn complete(
        &self,
        db: &mut AnyDb,
        caller: Option<Identity>,
        token: Option<String>,
        hook: OnComplete,
        sent: u64,
    ) {
        let mut ctx = Ctx::new(&*self.host, db, caller, token);
        match catch_unwind(AssertUnwindSafe(|| hook(&mut ctx, sent))) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => log::warn!("completion hook failed: {e}"),
            Err(_) => log::error!("completion hook panicked"),
        }
        db.reset();
    }
}
