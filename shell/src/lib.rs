//! The part of the `kino` shell that other crates use: only the line tokenizer, so that the fuzz
//! targets (`fuzz/`) can drive it. Everything else lives in the `kino` binary (`main.rs`).
//!
//! Layout:
//! - [`line`] — one shell line split into words and turned into request arguments.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod line;
