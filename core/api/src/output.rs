//! What a handler returns: JSON `data`, optionally raw bytes after it, optionally held back.

use std::io::Read;
use std::time::Instant;

use kino_proto::Page;
use serde_json::Value;

use crate::{CmdError, Ctx};

/// Runs on a worker after the last byte of a [`Body`] was handed to the socket (e.g. to write a
/// download record). The argument is the number of bytes sent.
pub type OnComplete = Box<dyn FnOnce(&mut Ctx, u64) -> Result<(), CmdError> + Send>;

/// Raw bytes that follow a reply. The server streams them in chunks from `source` on a thread of
/// its own, so a large file is never held in memory and a slow reader only slows itself.
pub struct Body {
    /// Exactly how many bytes `source` yields; the reply's `file_size` is set to this.
    pub len: u64,
    /// Where the bytes come from.
    pub source: Box<dyn Read + Send>,
    /// Called once all `len` bytes went out; not called if the client disconnects first.
    pub on_complete: Option<OnComplete>,
    /// The same bytes as a file range the server may hand to the kernel (`sendfile`) instead
    /// of reading `source`, so they never pass through user space. Set it only for content
    /// that needs no check while it is sent (a blob verified whole and unchanged since, see
    /// [`crate::BlobStore::open_for_send`]). A server sending from it first reads `source` once
    /// with an empty buffer, so a start hook wrapped around `source` still runs.
    pub file: Option<BodyFile>,
}

/// A file and the offset its body starts at (it runs for [`Body::len`] bytes).
#[derive(Debug)]
pub struct BodyFile {
    /// Open for reading; its own position is never used.
    pub file: std::fs::File,
    /// Where the body starts in it.
    pub offset: u64,
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Body").field("len", &self.len).finish()
    }
}

/// A successful result.
#[derive(Debug)]
pub struct Output {
    /// The reply's `data`.
    pub data: Value,
    /// Bytes to send after the reply frame.
    pub body: Option<Body>,
    /// Hold the reply (and its body) until then. The event loop keeps the timer: no thread
    /// sleeps, and only this connection waits.
    pub not_before: Option<Instant>,
    /// Send `data` itself as the reply frame, without the `{ok, id, data}` envelope (for a
    /// plugin that speaks an older protocol's reply shapes).
    pub raw: bool,
    /// A reply that answers the request but says no (an older protocol's `{"flag": false}`):
    /// counted as a failed call, though it is sent like a success.
    pub refused: bool,
    /// A list page's place in the whole list (the reply's `page`).
    pub page: Option<Page>,
    /// `data` already serialised (a [`crate::Snapshots`] page, shared by every reply that
    /// sends it): the native reply carries these bytes as its `data`, and `data` is `null`.
    pub encoded: Option<std::sync::Arc<[u8]>>,
}

impl Output {
    /// One page of a list command declared with [`crate::Command::paged`]: the rows, and
    /// `total`, the rows the whole list holds, so clients can say what they are not showing.
    pub fn page(rows: Vec<Value>, offset: u64, total: u64) -> Self {
        let count = rows.len() as u64;
        let mut out = Output::from(Value::Array(rows));
        out.page = Some(Page {
            offset,
            count,
            total,
        });
        out
    }

    /// Attaches bytes to send after the reply; sets `data.file_size`.
    pub fn with_body(mut self, body: Body) -> Self {
        if let Value::Object(map) = &mut self.data {
            map.insert("file_size".into(), Value::from(body.len));
        }
        self.body = Some(body);
        self
    }

    /// Sends `data` as the whole reply frame, without the envelope.
    pub fn raw(mut self) -> Self {
        self.raw = true;
        self
    }

    /// Marks the reply as a refusal for the server's counters.
    pub fn refused(mut self) -> Self {
        self.refused = true;
        self
    }

    /// Holds the reply until `when`.
    pub fn not_before(mut self, when: Instant) -> Self {
        self.not_before = Some(when);
        self
    }
}

impl From<Value> for Output {
    fn from(data: Value) -> Self {
        Output {
            data,
            body: None,
            not_before: None,
            raw: false,
            refused: false,
            page: None,
            encoded: None,
        }
    }
}
