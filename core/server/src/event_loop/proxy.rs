//! The PROXY protocol header (v1 text or v2 binary) a TCP balancer such as HAProxy sends before
//! a connection's first byte, naming the client it relays. Behind a balancer every connection
//! comes from the balancer's address, so without it the per-address connection cap and the
//! login throttle would count the whole world as one client. The header is read only from
//! addresses listed in `--proxy-protocol-from`: from anyone else the same bytes are an ordinary
//! (refused) frame, so a client cannot claim another's address. Parsing is the `ppp` crate's.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};

use ppp::{v1, v2, HeaderResult, PartialResult};

use crate::conn::Conn;

/// The longest header read: v1 is at most 107 bytes; v2 is 16 bytes plus 36 of IPv6 addresses
/// plus TLVs, which HAProxy keeps small unless told to send many. A longer one is refused.
pub const MAX_HEADER: usize = 536;

/// What the bytes at the start of a trusted connection say.
#[derive(Debug, PartialEq, Eq)]
pub enum Header {
    /// Not all of it has arrived.
    Incomplete,
    /// A whole header of `len` bytes; `client` is `None` for the balancer's own connections
    /// (v2 `LOCAL`, v1 `UNKNOWN`: health checks), which keep the balancer's address.
    Done {
        len: usize,
        client: Option<SocketAddr>,
    },
    /// Not a PROXY header, or a malformed or oversized one.
    Invalid(String),
}

/// Reads the header at the start of `input`.
pub fn parse(input: &[u8]) -> Header {
    let result = HeaderResult::parse(input);
    if result.is_incomplete() {
        return if input.len() >= MAX_HEADER {
            Header::Invalid(format!("no PROXY header within {MAX_HEADER} bytes"))
        } else {
            Header::Incomplete
        };
    }
    match result {
        HeaderResult::V2(Ok(h)) => {
            let len = h.len();
            if len > MAX_HEADER {
                return Header::Invalid(format!("PROXY v2 header of {len} bytes"));
            }
            let client = match (h.command, h.addresses) {
                (v2::Command::Local, _) => None,
                (_, v2::Addresses::IPv4(a)) => {
                    Some(SocketAddr::new(IpAddr::V4(a.source_address), a.source_port))
                }
                (_, v2::Addresses::IPv6(a)) => {
                    Some(SocketAddr::new(IpAddr::V6(a.source_address), a.source_port))
                }
                (_, other) => {
                    return Header::Invalid(format!("PROXY v2 addresses {other:?} not served"))
                }
            };
            Header::Done { len, client }
        }
        HeaderResult::V1(Ok(h)) => {
            let client = match h.addresses {
                v1::Addresses::Unknown => None,
                v1::Addresses::Tcp4(a) => {
                    Some(SocketAddr::new(IpAddr::V4(a.source_address), a.source_port))
                }
                v1::Addresses::Tcp6(a) => {
                    Some(SocketAddr::new(IpAddr::V6(a.source_address), a.source_port))
                }
            };
            Header::Done {
                len: h.header.len(),
                client,
            }
        }
        HeaderResult::V2(Err(e)) => Header::Invalid(format!("PROXY v2: {e}")),
        HeaderResult::V1(Err(e)) => Header::Invalid(format!("PROXY header: {e}")),
    }
}

/// Consumes the header at the start of a trusted connection's input once it is whole: the
/// connection then speaks as the client it names, counted under that client's address (and
/// refused `busy` past `max_per_ip`, as a direct connection would be). True when it moved on.
pub fn take_header(
    conn: &mut Conn,
    per_ip: &mut HashMap<IpAddr, usize>,
    max_per_ip: usize,
) -> io::Result<bool> {
    let (len, client) = match parse(conn.input()) {
        Header::Incomplete => return Ok(false),
        Header::Invalid(why) => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("from balancer {}: {why}", conn.peer),
            ))
        }
        Header::Done { len, client } => (len, client),
    };
    conn.consume(len);
    conn.proxy_pending = false;
    let Some(client) = client else {
        conn.health_check = true;
        return Ok(true);
    };
    if let Some(n) = per_ip.get_mut(&conn.peer.ip()) {
        *n = n.saturating_sub(1);
        if *n == 0 {
            per_ip.remove(&conn.peer.ip());
        }
    }
    log::info!("open {client} (through {})", conn.peer);
    conn.peer = client;
    let count = per_ip.entry(client.ip()).or_insert(0);
    *count += 1;
    if *count > max_per_ip {
        if conn.framed.is_none() {
            conn.queue(&super::busy_frame());
        }
        conn.clear_input();
        conn.close_after_flush = true;
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v2_header(command: u8, family: u8, addresses: &[u8], tail: &[u8]) -> Vec<u8> {
        let mut h = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
        h.push(0x20 | command);
        h.push(family);
        h.extend_from_slice(&(addresses.len() as u16).to_be_bytes());
        h.extend_from_slice(addresses);
        h.extend_from_slice(tail);
        h
    }

    #[test]
    fn v1_names_the_client_and_its_length() {
        let input = b"PROXY TCP4 203.0.113.7 10.0.0.1 51234 1688\r\n\x0f\0\0\0{}";
        assert_eq!(
            parse(input),
            Header::Done {
                len: 44,
                client: Some("203.0.113.7:51234".parse().unwrap())
            }
        );
        assert_eq!(parse(&input[..20]), Header::Incomplete);
    }

    #[test]
    fn v2_proxy_and_local() {
        let addrs = [198, 51, 100, 9, 10, 0, 0, 1, 0x1f, 0x90, 0x06, 0x98];
        let input = v2_header(1, 0x11, &addrs, b"rest");
        assert_eq!(
            parse(&input),
            Header::Done {
                len: 28,
                client: Some("198.51.100.9:8080".parse().unwrap())
            }
        );
        let local = v2_header(0, 0x00, &[], b"");
        assert_eq!(
            parse(&local),
            Header::Done {
                len: 16,
                client: None
            }
        );
        assert_eq!(parse(&input[..14]), Header::Incomplete);
    }

    #[test]
    fn a_frame_or_garbage_is_refused() {
        assert!(matches!(
            parse(b"\x0f\0\0\0{\"type\":\"ping\"}"),
            Header::Invalid(_)
        ));
        assert!(matches!(parse(&[b'P'; 200]), Header::Invalid(_)));
        let huge = v2_header(1, 0x11, &[0u8; 1000], b"");
        assert!(matches!(parse(&huge), Header::Invalid(_)));
    }
}
