//! Kino's wire format, shared by the server, the shell, the benchmarks and the fuzz targets.
//!
//! Nothing here does I/O: the codec works on byte slices so that every caller (a mio loop, a
//! blocking client, a fuzzer) drives it the same way.
//!
//! Layout:
//! - [`frame`] — the 4-byte little-endian length prefix, `decode_header` and `encode`.
//! - [`error_code`]: the stable error codes every reply uses.
//! - [`envelope`] — a request without arguments read borrowed, and its reply written direct.
//! - [`id`] — a request's `id` as raw JSON text, echoed byte for byte.
//! - [`request`] — turning one frame body into a [`Request`].
//! - [`reply`] — the `ok`/`error` reply objects.
//! - [`spec`] — the serialisable description of a command that `help` returns.
//! - [`suggest`] — "did you mean" for a mistyped name.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]
#![warn(missing_docs)]

pub mod envelope;
pub mod error_code;
pub mod frame;
pub mod id;
pub mod reply;
pub mod request;
pub mod spec;
pub mod suggest;

pub use envelope::{peek_envelope, push_ok_frame, Envelope};
pub use error_code::ErrorCode;
pub use frame::{decode_header, encode_frame, Header, HEADER_LEN};
pub use id::Id;
pub use reply::{ErrorBody, Page, Reply};
pub use request::{parse_request, Request, RequestError};
pub use spec::{ArgInfo, ArgKind, CommandInfo, PayloadKind, Role};

/// The default TCP port, as in the original service's client.
pub const DEFAULT_PORT: u16 = 1688;
