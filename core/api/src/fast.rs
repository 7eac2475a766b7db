//! What a fast command's handler gets. Fast commands run inline on the event loop, where one
//! slow call stalls every connection, so their context has no database, no blob store and no
//! [`crate::Ctx::call`]: disk work on the loop does not compile.
//!
//! ```compile_fail
//! fn bad(ctx: &mut kino_api::FastCtx, _: &kino_api::Args) -> Result<kino_api::Output, kino_api::CmdError> {
//!     ctx.db(); // no database on the loop
//!     unreachable!()
//! }
//! ```
//!
//! ```compile_fail
//! fn bad(ctx: &mut kino_api::FastCtx, _: &kino_api::Args) -> Result<kino_api::Output, kino_api::CmdError> {
//!     ctx.call("movies.list", kino_api::serde_json::json!({})).map(Into::into) // nor other commands
//! }
//! ```

use std::net::IpAddr;

use serde_json::Value;

use crate::plugin::SettingValue;
use crate::{CmdError, CommandInfo, Host, Identity, Role, Setting, Settings};

/// The context of a fast command: who is calling, settings, the command list and counters.
pub struct FastCtx<'c> {
    host: &'c dyn Host,
    caller: Option<&'c Identity>,
    peer: Option<IpAddr>,
}

impl<'c> FastCtx<'c> {
    pub(crate) fn new(
        host: &'c dyn Host,
        caller: Option<&'c Identity>,
        peer: Option<IpAddr>,
    ) -> Self {
        FastCtx { host, caller, peer }
    }

    /// The logged-in caller, if any.
    pub fn caller(&self) -> Option<&Identity> {
        self.caller
    }

    /// The caller, or `unauthenticated`.
    pub fn user(&self) -> Result<&Identity, CmdError> {
        self.caller
            .ok_or_else(|| CmdError::unauthenticated("log in first"))
    }

    /// Whether the caller is an admin.
    pub fn is_admin(&self) -> bool {
        self.caller.is_some_and(|c| c.role == Role::Admin)
    }

    /// The client's address.
    pub fn peer(&self) -> Option<IpAddr> {
        self.peer
    }

    /// Resolved settings of every plugin.
    pub fn settings(&self) -> &'c Settings {
        self.host.settings()
    }

    /// One setting, read through its typed key.
    pub fn setting<T: SettingValue>(&self, key: Setting<T>) -> T::Read {
        self.host.settings().of(key)
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
