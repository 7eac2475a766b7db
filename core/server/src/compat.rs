//! Where the native protocol and an older one (served by a plugin's `legacy_only` commands,
//! answered by their aliases) meet: a native client naming such a command is refused, and a
//! client that speaks the older protocol gets its unknown types answered in that protocol's
//! shape, which is all it can read.

use kino_api::CmdError;
use kino_proto::ErrorCode;
use serde_json::json;

use crate::registry::Entry;

/// The original service's answer to a request type it did not know.
const UNKNOWN_TYPE: &str = "类型不合法";

/// Why a native request may not run a legacy-only command, if it may not: it named the command
/// by its full name, or carried the native `id`. The old client sends neither. Counted as a
/// failed call.
pub(crate) fn native_refusal(entry: &Entry, command: &str, id: bool) -> Option<CmdError> {
    let info = &entry.command.info;
    if !info.legacy_only || (command != info.name && !id) {
        return None;
    }
    entry.stats.record(false, 0);
    let alias = info.aliases.first().map_or(command, String::as_str);
    Some(CmdError::new(
        ErrorCode::UnknownCommand,
        format!(
            "`{command}` serves only the original Python client (its request type `{alias}`, \
             docs/legacy.md); native clients use the commands `help` lists"
        ),
    ))
}

/// The older protocol's reply to an unknown request type: `{"flag": false, "msg": ...}`.
pub(crate) fn unknown_type_frame() -> Vec<u8> {
    kino_proto::frame::frame_json(&json!({"flag": false, "msg": UNKNOWN_TYPE}))
}
