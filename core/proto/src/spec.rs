//! The serialisable description of a command: what `help` returns, and what clients build
//! completion, hints and usage from.

use serde::{Deserialize, Serialize};

/// Who may call a command. Ordered: an admin may call anything a user may. Whether a command is
/// reachable from the wire at all is [`CommandInfo::internal`], not a role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Anyone, logged in or not.
    Anon,
    /// A logged-in user (or admin).
    User,
    /// A logged-in admin.
    Admin,
}

impl Role {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Anon => "anon",
            Role::User => "user",
            Role::Admin => "admin",
        }
    }
}

/// The JSON type an argument must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArgKind {
    /// A JSON string.
    String,
    /// A JSON integer (negative allowed).
    Int,
    /// A JSON integer >= 0.
    Uint,
    /// A JSON number.
    Number,
    /// A JSON boolean.
    Bool,
    /// Any JSON value.
    Any,
}

impl ArgKind {
    /// The wire name, as `help` shows it (`string`, `uint`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ArgKind::String => "string",
            ArgKind::Int => "int",
            ArgKind::Uint => "uint",
            ArgKind::Number => "number",
            ArgKind::Bool => "bool",
            ArgKind::Any => "any",
        }
    }
}

/// One argument of a command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArgInfo {
    /// The top-level field name.
    pub name: String,
    /// Its JSON type.
    pub kind: ArgKind,
    /// Whether the request must carry it.
    pub required: bool,
    /// One line for hints and help.
    pub doc: String,
    /// For string arguments with a closed set of values (e.g. `all | free | charge`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<String>,
    /// Smallest value of a numeric argument; core refuses less before the handler runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<i64>,
    /// Largest value of a numeric argument; core refuses more before the handler runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<i64>,
    /// Longest string, in characters; core refuses longer before the handler runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_len: Option<u64>,
    /// Never logged, echoed or kept in a client's history (passwords, tokens).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub secret: bool,
    /// The value a missing optional argument takes, for `help` and docs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<serde_json::Value>,
}

impl ArgInfo {
    /// A plain argument: no choices, bounds, secret or default.
    pub fn new(name: &str, kind: ArgKind, required: bool, doc: &str) -> Self {
        ArgInfo {
            name: name.into(),
            kind,
            required,
            doc: doc.into(),
            choices: Vec::new(),
            min: None,
            max: None,
            max_len: None,
            secret: false,
            default: None,
        }
    }

    /// The bounds as `help` words them: `1-5`, `at least 1`, `at most 1000`; `None` when
    /// unbounded.
    pub fn range_text(&self) -> Option<String> {
        match (self.min, self.max) {
            (Some(lo), Some(hi)) => Some(format!("{lo}-{hi}")),
            (Some(lo), None) => Some(format!("at least {lo}")),
            (None, Some(hi)) => Some(format!("at most {hi}")),
            (None, None) => None,
        }
    }
}

/// Whether raw bytes travel with the command, and which way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PayloadKind {
    /// JSON only.
    None,
    /// The request carries `file_size` and is followed by that many bytes.
    Upload,
    /// The reply carries `file_size` and is followed by that many bytes.
    Download,
}

/// A command as `help` describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandInfo {
    /// `plugin.verb`, or a bare built-in name.
    pub name: String,
    /// One line.
    pub summary: String,
    /// Arguments in the order usage shows them.
    pub args: Vec<ArgInfo>,
    /// Who may call it.
    pub role: Role,
    /// Raw bytes with the request or reply.
    pub payload: PayloadKind,
    /// Other names the command answers to, outside the plugin prefix (compatibility with
    /// another protocol's request types; refused at start-up if taken).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// Fields other than the declared arguments are passed through instead of refused.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub open_args: bool,
    /// Answered only in an older protocol, by its alias (the legacy plugin's types): hidden
    /// from `help` and completion, refused when a native client names it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub legacy_only: bool,
    /// Reachable only from other commands (`Ctx::call`) and the owning plugin's listeners:
    /// never from the wire, never in `help`. Who may call it is still its `role`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub internal: bool,
    /// Where the payload's file name lives: for an upload, the argument a client fills with
    /// the local file's name; for a download, the reply field naming the file to save.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    /// The source file that defines the command, for docs/commands.md. Not sent on the wire.
    #[serde(skip)]
    pub source: String,
}
