//! Extra listeners with a framing of their own, for old clients that cannot speak Kino frames
//! (the Melodia phone app). Core owns the socket, the event loop and the limits; the plugin only
//! says how bytes become a request and a result becomes bytes. Each connection carries one
//! request and is closed after its reply, as the old protocols did.

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::CmdError;

/// What the front of a listener connection's input holds.
#[derive(Debug)]
pub enum Decoded {
    /// Not a whole message yet.
    Incomplete,
    /// Not a valid message: the connection is closed without a reply.
    Invalid(String),
    /// One request.
    Request {
        /// Bytes of input it used.
        consumed: usize,
        /// The command to run: one of the owning plugin's commands, internal ones included.
        command: String,
        /// Its arguments.
        args: Map<String, Value>,
        /// Bytes handed to an upload command as its payload.
        payload: Option<Vec<u8>>,
    },
}

/// Turns bytes into a request and a result into bytes.
pub trait Framing: Send + Sync {
    /// The largest message accepted; a longer one closes the connection.
    fn max_message(&self) -> usize;
    /// Looks at the input so far.
    fn decode(&self, input: &[u8]) -> Decoded;
    /// The reply bytes for a result (a successful result's body, if any, follows them). An
    /// empty vector sends nothing; the connection closes after the reply either way.
    fn encode(&self, result: Result<&Value, &CmdError>) -> Vec<u8>;
}

/// A listener a plugin asks for. It is bound only when the setting named `setting` holds a
/// non-empty address, so it is off by default.
#[derive(Clone)]
pub struct Listener {
    /// The setting (a string: `HOST:PORT`) that turns it on.
    pub setting: &'static str,
    /// How its connections speak.
    pub framing: Arc<dyn Framing>,
}
