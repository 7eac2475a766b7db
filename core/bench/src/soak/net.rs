//! Where each soak client connects from. Honest clients and attackers each get loopback
//! addresses of their own (all of 127.0.0.0/8 is local on Linux), so the server's per-address
//! limits (connections, failed logins) apply to the soak as they would on a network: an attacker
//! spends its own address's budget, never the honest clients'.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

/// The address of honest client `i`: one of its own, in 127.1.0.0/16.
pub fn honest_ip(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(127, 1, (i / 250) as u8, (i % 250 + 1) as u8)
}

/// The address of attacker `k` of kind `kind`: 127.2.KIND.K+1.
pub fn attacker_ip(kind: u8, k: usize) -> Ipv4Addr {
    Ipv4Addr::new(127, 2, kind, (k % 250 + 1) as u8)
}

/// Connects to `addr` from `local` (port chosen by the kernel).
pub fn connect_from(local: Ipv4Addr, addr: SocketAddr) -> io::Result<TcpStream> {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))?;
    socket.bind(&SockAddr::from(SocketAddr::from((local, 0))))?;
    socket.connect(&SockAddr::from(addr))?;
    Ok(socket.into())
}
