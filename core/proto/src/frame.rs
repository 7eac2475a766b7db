//! Length-prefixed frames: a 4-byte little-endian unsigned length N, then N bytes of UTF-8 JSON.
//!
//! The original Python client packs the length with a native `struct 'i'`, which is little-endian
//! on every machine it ran on, so this framing is byte-compatible with it.

/// Bytes in the length prefix.
pub const HEADER_LEN: usize = 4;

/// What the front of a receive buffer holds, decided without allocating (mini-redis `check`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Header {
    /// Fewer than [`HEADER_LEN`] bytes, or a header whose body has not fully arrived.
    Incomplete,
    /// A whole frame: its body is `buf[HEADER_LEN..HEADER_LEN + len]`.
    Frame(usize),
    /// The declared length is over the limit; the connection cannot be resynchronised.
    TooLarge(u64),
}

/// Looks at the start of `buf` and says whether a whole frame of at most `max_len` bytes is there.
pub fn decode_header(buf: &[u8], max_len: usize) -> Header {
    let Some(prefix) = buf.get(..HEADER_LEN) else {
        return Header::Incomplete;
    };
    let len = u32::from_le_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]) as u64;
    if len > max_len as u64 {
        return Header::TooLarge(len);
    }
    let len = len as usize;
    if buf.len() - HEADER_LEN >= len {
        Header::Frame(len)
    } else {
        Header::Incomplete
    }
}

/// Appends one frame holding `body` to `out`; one buffer so a reply goes out in one write.
pub fn encode_frame(body: &[u8], out: &mut Vec<u8>) {
    let len = u32::try_from(body.len()).unwrap_or(u32::MAX);
    out.reserve(HEADER_LEN + body.len());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(body);
}

/// Serialises `value` as a frame; used by clients and by the server's reply path.
pub fn frame_json<T: serde::Serialize>(value: &T) -> Vec<u8> {
    let body = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    encode_frame(&body, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn short_buffer_is_incomplete() {
        assert_eq!(decode_header(&[1, 0], 100), Header::Incomplete);
        assert_eq!(decode_header(&[5, 0, 0, 0, b'a'], 100), Header::Incomplete);
    }

    #[test]
    fn oversized_length_is_refused_before_the_body_arrives() {
        assert_eq!(
            decode_header(&[0, 0, 0, 1], 1024),
            Header::TooLarge(1 << 24)
        );
    }

    #[test]
    fn length_is_little_endian() {
        let mut out = Vec::new();
        encode_frame(b"{}", &mut out);
        assert_eq!(out, vec![2, 0, 0, 0, b'{', b'}']);
    }

    proptest! {
        #[test]
        fn encode_then_decode_round_trips(body in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let mut out = Vec::new();
            encode_frame(&body, &mut out);
            prop_assert_eq!(decode_header(&out, 4096), Header::Frame(body.len()));
            prop_assert_eq!(&out[HEADER_LEN..], &body[..]);
        }

        #[test]
        fn decode_never_panics(buf in proptest::collection::vec(any::<u8>(), 0..16), max in 0usize..100) {
            let _ = decode_header(&buf, max);
        }
    }
}
