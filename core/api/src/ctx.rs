//! What a handler gets: who is calling, the database, the blob store, settings, sessions, and
//! the other commands.

use std::io::Read;
use std::net::IpAddr;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::{
    Args, BlobStore, CmdError, CommandInfo, Database, ErrorCode, Output, Role, Service, Settings,
};

/// A logged-in caller, as the server-side session knows it. Never built from request fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The account's row id in the auth plugin's table.
    pub user_id: i64,
    /// The account name.
    pub name: String,
    /// `User` or `Admin`.
    pub role: Role,
}

/// The server side of the API; implemented by core, reached only through [`Ctx`].
pub trait Host: Send + Sync {
    /// Settings of every plugin.
    fn settings(&self) -> &Settings;
    /// The blob store.
    fn blobs(&self) -> &dyn BlobStore;
    /// Creates a session for `who`; returns its token.
    fn session_begin(&self, who: &Identity) -> String;
    /// Ends one session.
    fn session_end(&self, token: &str);
    /// Ends every session of a user (e.g. when an admin locks the account).
    fn sessions_end_user(&self, user_id: i64) -> usize;
    /// Ends every session of a user but `keep` (a password change keeps the caller's own).
    fn sessions_end_user_except(&self, user_id: i64, keep: &str) -> usize;
    /// Runs every plugin's `on_login` hook and merges their fields.
    fn login_extras(&self, ctx: &mut Ctx) -> Map<String, Value>;
    /// Runs another registered command with this context's caller.
    fn call(
        &self,
        ctx: &mut Ctx,
        command: &str,
        args: Map<String, Value>,
    ) -> Result<Output, CmdError>;
    /// Every command a caller with `role` may see, for `help`.
    fn commands(&self) -> Vec<CommandInfo>;
    /// Counters for `server.info`.
    fn stats(&self) -> Value;
    /// Runs whatever listens to `event` (script plugins' `on(EVENT, ...)`) with this context's
    /// caller and database. A listener's failure is logged, never the emitter's.
    fn emit(&self, ctx: &mut Ctx, event: &str, data: &Value) {
        let _ = (ctx, event, data);
    }
    /// The server itself, for core's own built-in commands (`plugins.reload`); plugins cannot
    /// name its type.
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        None
    }
}

/// What a session-changing command asks the loop to do with the connection it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionChange {
    /// Bind the connection to this token (login).
    Bind(String),
    /// Forget the connection's token if it is this one (logout). A request that logged out
    /// another token it carried leaves the connection's own login alone.
    Unbind(String),
}

/// Nested [`Ctx::call`]s allowed under one request; the next one is `internal`. A command that
/// calls itself would otherwise overflow the worker's stack and abort the whole server.
pub const MAX_CALL_DEPTH: u32 = 16;

/// The context of one command call.
///
/// A nested call ([`Ctx::call`]) runs in a child context with the same caller and database, one
/// level deeper, that cannot take the caller's payload (only [`Ctx::call_with_upload`] hands it
/// over) nor change the caller's session:
/// - a nested [`Ctx::begin_session`] creates the session (its token is in the nested command's
///   reply, for the calling handler to pass on) but never binds the connection;
/// - a nested [`Ctx::end_session`] may end only a session begun during the same request; asked
///   to end the caller's own session it leaves it alive and the nested call fails `internal`.
pub struct Ctx<'a> {
    host: &'a dyn Host,
    db: &'a mut dyn Database,
    caller: Option<Identity>,
    token: Option<String>,
    upload: Option<(&'a mut (dyn Read + Send), u64)>,
    session_change: Option<SessionChange>,
    peer: Option<IpAddr>,
    depth: u32,
    /// A session begun during this request (at any depth), which `end_session` may end.
    begun: Option<String>,
    /// A nested call tried to end the caller's own session.
    refused_end: bool,
}

impl<'a> Ctx<'a> {
    /// Built by core for each call.
    pub fn new(
        host: &'a dyn Host,
        db: &'a mut dyn Database,
        caller: Option<Identity>,
        token: Option<String>,
    ) -> Self {
        Ctx {
            host,
            db,
            caller,
            token,
            upload: None,
            session_change: None,
            peer: None,
            depth: 0,
            begun: None,
            refused_end: false,
        }
    }

    /// Sets the client's address (core does this for requests from a socket), so that limits
    /// such as login throttling can be kept per address.
    pub fn with_peer(mut self, peer: Option<IpAddr>) -> Self {
        self.peer = peer;
        self
    }

    /// The address of the client the request came from; `None` for the operator and start-up
    /// hooks. Nested [`Ctx::call`]s see the same address.
    pub fn peer(&self) -> Option<IpAddr> {
        self.peer
    }

    /// How many [`Ctx::call`]s this context is nested under (0 for a request's own handler).
    pub fn depth(&self) -> u32 {
        self.depth
    }

    /// Attaches the request's payload (core does this for upload commands).
    pub fn with_upload(mut self, reader: &'a mut (dyn Read + Send), len: u64) -> Self {
        self.upload = Some((reader, len));
        self
    }

    /// The logged-in caller, if any. Commands with role `User` or `Admin` always have one.
    pub fn caller(&self) -> Option<&Identity> {
        self.caller.as_ref()
    }

    /// The caller, or `unauthenticated` (for code that can be reached by anonymous commands).
    pub fn user(&self) -> Result<&Identity, CmdError> {
        self.caller
            .as_ref()
            .ok_or_else(|| CmdError::unauthenticated("log in first"))
    }

    /// Whether the caller is an admin.
    pub fn is_admin(&self) -> bool {
        self.caller.as_ref().is_some_and(|c| c.role == Role::Admin)
    }

    /// This worker's database connection.
    pub fn db(&mut self) -> &mut (dyn Database + 'a) {
        &mut *self.db
    }

    /// The content-addressed blob store.
    pub fn blobs(&self) -> &'a dyn BlobStore {
        self.host.blobs()
    }

    /// Resolved settings of every plugin.
    pub fn settings(&self) -> &'a Settings {
        self.host.settings()
    }

    /// One setting, read through its typed key (see [`crate::Setting`]).
    pub fn setting<T: crate::plugin::SettingValue>(&self, key: crate::Setting<T>) -> T::Read {
        self.host.settings().of(key)
    }

    /// The request's raw bytes and their declared length (upload commands only). Taking it twice
    /// gives `None`.
    pub fn take_upload(&mut self) -> Option<(&'a mut (dyn Read + Send), u64)> {
        self.upload.take()
    }

    /// Logs `who` in on this connection: creates a session, binds the connection to it, and
    /// returns the token with every plugin's login extras (e.g. the newest notice).
    /// In a nested call the session is created but the connection is not bound to it.
    pub fn begin_session(&mut self, who: Identity) -> (String, Map<String, Value>) {
        let token = self.host.session_begin(&who);
        self.caller = Some(who);
        self.token = Some(token.clone());
        self.begun = Some(token.clone());
        if self.depth == 0 {
            self.session_change = Some(SessionChange::Bind(token.clone()));
        }
        let extras = self.host.login_extras(self);
        (token, extras)
    }

    /// Ends the session begun during this request if there is one (a login wrapper undoing its
    /// own login), otherwise the caller's current session, and unbinds the connection. In a
    /// nested call only a session begun during this request can end: the caller's own session
    /// stays, and the nested call fails.
    pub fn end_session(&mut self) {
        let token = match self.begun.take() {
            Some(begun) => Some(begun),
            None if self.depth > 0 => {
                self.refused_end = true;
                return;
            }
            None => self.token.take(),
        };
        if let Some(token) = token {
            if self.token.as_deref() == Some(&token) {
                self.token = None;
                self.caller = None;
            }
            self.host.session_end(&token);
            if self.depth == 0 {
                self.session_change = Some(SessionChange::Unbind(token));
            }
        }
        if self.depth == 0 {
            self.caller = None;
        }
    }

    /// Ends every session a user has, on every connection.
    pub fn end_sessions_of(&self, user_id: i64) -> usize {
        self.host.sessions_end_user(user_id)
    }

    /// Ends every session of the caller's account except the one this request runs under (a
    /// password change logs out whoever else holds a token). Without a caller, ends nothing.
    pub fn end_other_sessions(&self) -> usize {
        match (&self.caller, &self.token) {
            (Some(c), Some(t)) => self.host.sessions_end_user_except(c.user_id, t),
            (Some(c), None) => self.host.sessions_end_user(c.user_id),
            _ => 0,
        }
    }

    /// What this call did to the connection's session; read by core after the handler.
    pub fn session_change(&self) -> Option<&SessionChange> {
        self.session_change.as_ref()
    }

    /// Runs another plugin's command through its contract: `ctx.call(LOOKUP, req)` with the
    /// [`Service`] constant from the provider's `-api` crate. It runs as the same caller, with
    /// its arguments and role checked as for a request; internal commands are reachable only
    /// this way. A reply the contract does not describe is `internal`.
    pub fn call<Req: Serialize, Reply: DeserializeOwned>(
        &mut self,
        service: Service<Req, Reply>,
        req: Req,
    ) -> Result<Reply, CmdError> {
        let args = service.encode(&req)?;
        let out = self.call_by_name(service.name(), args)?;
        service.decode(out.data)
    }

    /// Like [`Ctx::call`], but also returns the whole [`Output`]: its body, its hold
    /// (`not_before`) and its raw flag. For a command that re-shapes another command's
    /// download (the legacy plugin answers `movies.download`'s bytes, held for the
    /// server-enforced wait, under the original reply shape).
    pub fn call_output<Req: Serialize, Reply: DeserializeOwned>(
        &mut self,
        service: Service<Req, Reply>,
        req: Req,
    ) -> Result<(Reply, Output), CmdError> {
        let args = service.encode(&req)?;
        let out = self.call_by_name(service.name(), args)?;
        Ok((service.decode(out.data.clone())?, out))
    }

    /// Like [`Ctx::call`], handing this request's payload to the called command (an upload
    /// command that stores through another plugin's upload). The payload moves: this handler
    /// cannot read it afterwards. Without a payload the called command gets none.
    pub fn call_with_upload<Req: Serialize, Reply: DeserializeOwned>(
        &mut self,
        service: Service<Req, Reply>,
        req: Req,
    ) -> Result<Reply, CmdError> {
        let args = service.encode(&req)?;
        let upload = self.upload.take();
        let out = self.nested(service.name(), args, upload)?;
        service.decode(out.data)
    }

    /// Runs a command named at run time, untyped, without this request's payload. For code
    /// that forwards commands it does not know at compile time (tests, a generic pager);
    /// plugins use [`Ctx::call`].
    pub fn call_by_name(
        &mut self,
        command: &str,
        args: Map<String, Value>,
    ) -> Result<Output, CmdError> {
        self.nested(command, args, None)
    }

    /// The child context of a nested call: same caller, database and peer, one level deeper,
    /// its own session bookkeeping, and only the payload the caller handed over.
    fn nested(
        &mut self,
        command: &str,
        args: Map<String, Value>,
        upload: Option<(&'a mut (dyn Read + Send), u64)>,
    ) -> Result<Output, CmdError> {
        let host = self.host;
        let mut child = Ctx {
            host,
            db: &mut *self.db,
            caller: self.caller.clone(),
            token: self.token.clone(),
            upload: upload.map(|(reader, len)| (reader as &mut (dyn Read + Send), len)),
            session_change: None,
            peer: self.peer,
            depth: self.depth + 1,
            begun: self.begun.clone(),
            refused_end: false,
        };
        let result = host.call(&mut child, command, args);
        let (begun, refused_end) = (child.begun, child.refused_end);
        self.begun = begun;
        if refused_end {
            return Err(CmdError::internal(format!(
                "{command}: a nested call cannot end the caller's session"
            )));
        }
        result
    }

    /// The restricted view a fast command's handler gets.
    pub fn as_fast(&self) -> crate::FastCtx<'_> {
        crate::FastCtx::new(self.host, self.caller.as_ref(), self.peer)
    }

    /// Announces that something happened (`movies.uploaded`, after the upload committed) to
    /// whatever listens: script plugins' `on(EVENT, ...)` hooks run now, with this caller and
    /// database, each as its own plugin. A failing listener is logged and does not fail the
    /// emitter. Emit after the change commits, never inside its transaction.
    pub fn emit(&mut self, event: &str, data: Value) {
        let host = self.host;
        host.emit(self, event, &data);
    }

    /// The server behind the API, for core's own built-ins (see [`Host::as_any`]).
    pub fn host_any(&self) -> Option<&'a dyn std::any::Any> {
        self.host.as_any()
    }

    /// Every command, for `help`.
    pub fn command_infos(&self) -> Vec<CommandInfo> {
        self.host.commands()
    }

    /// Server counters, for `server.info`.
    pub fn server_stats(&self) -> Value {
        self.host.stats()
    }
}

/// Checks a request's fields against a command's declared arguments: unknown fields, missing
/// required ones, wrong JSON types, values outside `choices`, numbers outside the range and
/// strings over the length are all `bad_args`.
pub fn check_args(info: &CommandInfo, fields: &Map<String, Value>) -> Result<Args, CmdError> {
    use crate::ArgKind;
    for (key, value) in fields {
        let Some(spec) = info.args.iter().find(|a| &a.name == key) else {
            if info.open_args || key == "file_size" && info.payload == crate::PayloadKind::Upload {
                continue;
            }
            return Err(CmdError::bad_args(format!(
                "`{}` takes no argument `{key}`{}",
                info.name,
                kino_proto::suggest::hint(key, info.args.iter().map(|a| a.name.as_str()))
            )));
        };
        if value.is_null() {
            continue;
        }
        let ok = match spec.kind {
            ArgKind::String => value.is_string(),
            ArgKind::Int => value.is_i64() || value.is_u64(),
            ArgKind::Uint => value.is_u64(),
            ArgKind::Number => value.is_number(),
            ArgKind::Bool => value.is_boolean(),
            ArgKind::Any => true,
        };
        if !ok {
            return Err(CmdError::bad_args(format!(
                "argument `{key}` must be {}",
                kind_name(spec.kind)
            )));
        }
        check_bounds(spec, value)?;
        if !spec.choices.is_empty() {
            let s = value.as_str().unwrap_or_default();
            if !spec.choices.iter().any(|c| c == s) {
                return Err(CmdError::bad_args(format!(
                    "argument `{key}` must be one of {}{}",
                    spec.choices.join(", "),
                    kino_proto::suggest::hint(s, spec.choices.iter().map(String::as_str))
                )));
            }
        }
    }
    for spec in info.args.iter().filter(|a| a.required) {
        if fields.get(&spec.name).is_none_or(Value::is_null) {
            return Err(CmdError::new(
                ErrorCode::BadArgs,
                format!("`{}` needs argument `{}`", info.name, spec.name),
            ));
        }
    }
    Ok(Args::new(fields.clone()))
}

/// Ranges and lengths from the spec: `stars must be 1-5`, `title is at most 200 characters`.
fn check_bounds(spec: &crate::ArgInfo, value: &Value) -> Result<(), CmdError> {
    if spec.min.is_some() || spec.max.is_some() {
        // Compared as i128 so that u64 values above i64::MAX still count as too big.
        let n = value
            .as_i64()
            .map(i128::from)
            .or_else(|| value.as_u64().map(i128::from));
        let x = value.as_f64();
        let below = |lo: i64| match n {
            Some(n) => n < i128::from(lo),
            None => x.is_some_and(|x| x < lo as f64),
        };
        let above = |hi: i64| match n {
            Some(n) => n > i128::from(hi),
            None => x.is_some_and(|x| x > hi as f64),
        };
        if spec.min.is_some_and(below) || spec.max.is_some_and(above) {
            let range = spec.range_text().unwrap_or_default();
            return Err(CmdError::bad_args(format!("{} must be {range}", spec.name)));
        }
    }
    if let (Some(max), Some(s)) = (spec.max_len, value.as_str()) {
        if s.chars().count() as u64 > max {
            return Err(CmdError::bad_args(format!(
                "{} is at most {max} characters",
                spec.name
            )));
        }
    }
    Ok(())
}

fn kind_name(kind: crate::ArgKind) -> &'static str {
    use crate::ArgKind;
    match kind {
        ArgKind::String => "a string",
        ArgKind::Int => "an integer",
        ArgKind::Uint => "a non-negative integer",
        ArgKind::Number => "a number",
        ArgKind::Bool => "true or false",
        ArgKind::Any => "any JSON value",
    }
}
