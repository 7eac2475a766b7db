//! A blocking client for the Kino protocol (docs/protocol.md), shared by the `kino` shell, the
//! test kit and the benchmarks. Plain `std::net::TcpStream`: one request at a time, or many
//! pipelined with [`Client::send`] and [`Client::recv`].

use std::io::{self, BufReader, BufWriter, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use kino_proto::{ErrorBody, ErrorCode, Page, Reply, HEADER_LEN};
use serde_json::{Map, Value};

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The connection failed or closed.
    #[error("connection: {0}")]
    Io(#[from] io::Error),
    /// The server sent something that is not a reply.
    #[error("protocol: {0}")]
    Protocol(String),
    /// The server answered with an error.
    #[error("error[{}]: {}", .0.code, .0.message)]
    Server(ErrorBody),
}

impl ClientError {
    /// The server's error code, if the server answered.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Server(b) => Some(b.code),
            _ => None,
        }
    }

    /// Whether the connection itself is gone (worth a reconnect).
    pub fn is_disconnect(&self) -> bool {
        matches!(self, ClientError::Io(_))
    }
}

/// Largest reply frame the client accepts (help listings and long lists fit easily).
const MAX_REPLY: usize = 64 * 1024 * 1024;

/// How long [`Client::call`] waits for the server's reason after a write failed.
const READ_AFTER_FAILURE: Duration = Duration::from_millis(500);

/// How long a payload send may make no progress before the client looks whether the server
/// closed the connection (it goes on waiting when not: the server may be busy).
pub const STALL_CHECK: Duration = Duration::from_secs(1);

/// One connection.
pub struct Client {
    reader: BufReader<TcpStream>,
    writer: BufWriter<TcpStream>,
}

impl Client {
    /// Connects (TCP_NODELAY on: requests are small and latency matters).
    pub fn connect(addr: impl ToSocketAddrs) -> Result<Self, ClientError> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        Ok(Client {
            reader: BufReader::with_capacity(256 * 1024, stream.try_clone()?),
            writer: BufWriter::with_capacity(256 * 1024, stream),
        })
    }

    /// Connects, giving each address `addr` resolves to at most `timeout` (a host that drops
    /// packets would otherwise hold the caller for minutes).
    pub fn connect_timeout(
        addr: impl ToSocketAddrs,
        timeout: Duration,
    ) -> Result<Self, ClientError> {
        let mut last = io::Error::new(io::ErrorKind::NotFound, "the name resolves to no address");
        for a in addr.to_socket_addrs()? {
            match TcpStream::connect_timeout(&a, timeout) {
                Ok(stream) => return Client::from_stream(stream),
                Err(e) => last = e,
            }
        }
        Err(ClientError::Io(last))
    }

    /// Wraps a stream connected some other way (e.g. bound to a chosen local address first).
    pub fn from_stream(stream: TcpStream) -> Result<Self, ClientError> {
        stream.set_nodelay(true)?;
        Ok(Client {
            reader: BufReader::with_capacity(256 * 1024, stream.try_clone()?),
            writer: BufWriter::with_capacity(256 * 1024, stream),
        })
    }

    /// A second handle on the socket: shutting it down from another thread ends a blocking
    /// read or write at once (the shell's Ctrl-C during a held reply).
    pub fn stream_handle(&self) -> Result<TcpStream, ClientError> {
        Ok(self.writer.get_ref().try_clone()?)
    }

    /// Bounds how long a read may wait (None: forever).
    pub fn set_read_timeout(&self, t: Option<Duration>) -> Result<(), ClientError> {
        self.reader.get_ref().set_read_timeout(t)?;
        Ok(())
    }

    /// Sends one request object without waiting for its reply (pipelining). Buffered: call
    /// [`Client::flush`] (or `recv`, which flushes) before expecting an answer.
    pub fn send(&mut self, request: &Value) -> Result<(), ClientError> {
        let body = serde_json::to_vec(request).map_err(|e| ClientError::Protocol(e.to_string()))?;
        let len = u32::try_from(body.len())
            .map_err(|_| ClientError::Protocol("request too large".into()))?;
        self.writer.write_all(&len.to_le_bytes())?;
        self.writer.write_all(&body)?;
        Ok(())
    }

    /// Sends raw bytes (payloads, or deliberately broken frames in tests).
    pub fn send_raw(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        self.writer.write_all(bytes)?;
        Ok(())
    }

    /// Flushes buffered requests.
    pub fn flush(&mut self) -> Result<(), ClientError> {
        self.writer.flush()?;
        Ok(())
    }

    /// Reads the next reply frame.
    pub fn recv(&mut self) -> Result<Reply, ClientError> {
        self.flush()?;
        self.read_reply()
    }

    fn read_reply(&mut self) -> Result<Reply, ClientError> {
        let mut len = [0u8; HEADER_LEN];
        self.reader.read_exact(&mut len)?;
        let len = u32::from_le_bytes(len) as usize;
        if len > MAX_REPLY {
            return Err(ClientError::Protocol(format!(
                "reply of {len} bytes is too large"
            )));
        }
        let mut body = vec![0u8; len];
        self.reader.read_exact(&mut body)?;
        serde_json::from_slice(&body).map_err(|e| ClientError::Protocol(format!("bad reply: {e}")))
    }

    /// Copies exactly `n` payload bytes that follow a reply into `out`, calling `progress` with
    /// the running total.
    pub fn recv_payload(
        &mut self,
        n: u64,
        out: &mut dyn Write,
        progress: &mut dyn FnMut(u64),
    ) -> Result<(), ClientError> {
        let mut left = n;
        // As large as the reader's own buffer: once that is drained, `BufReader` hands reads
        // this size straight to the socket instead of copying every byte through itself.
        let mut buf = vec![0u8; self.reader.capacity()];
        while left > 0 {
            let want = buf.len().min(left as usize);
            let got = self.reader.read(&mut buf[..want])?;
            if got == 0 {
                return Err(ClientError::Io(io::ErrorKind::UnexpectedEof.into()));
            }
            out.write_all(&buf[..got])?;
            left -= got as u64;
            progress(n - left);
        }
        Ok(())
    }

    /// Sends one request and returns its `data`, or the server's error.
    pub fn call(&mut self, command: &str, args: Value) -> Result<Value, ClientError> {
        self.call_paged(command, args).map(|(data, _)| data)
    }

    /// [`Client::call`], also returning a list page's place in the whole list (the reply's
    /// `page`), when the command sent one.
    pub fn call_paged(
        &mut self,
        command: &str,
        args: Value,
    ) -> Result<(Value, Option<Page>), ClientError> {
        if let Err(e) = self
            .send(&request(command, args))
            .and_then(|()| self.flush())
        {
            return Err(self.refusal_after(e));
        }
        let reply = self.recv()?;
        let page = reply.page;
        Ok((into_data(reply)?, page))
    }

    /// After a failed write: the server refuses an over-long frame with a `too_large` reply
    /// and then closes, so the write fails (`Broken pipe`) while that reply, which says what
    /// happened, may already be waiting. Returns it when it is there, else `e`.
    fn refusal_after(&mut self, e: ClientError) -> ClientError {
        if !matches!(e, ClientError::Io(_))
            || self.set_read_timeout(Some(READ_AFTER_FAILURE)).is_err()
        {
            return e;
        }
        match self.read_reply() {
            Ok(reply) if !reply.ok => match into_data(reply) {
                Err(refusal) => refusal,
                Ok(_) => e,
            },
            _ => e,
        }
    }

    /// Sends a request followed by `len` payload bytes from `source` and returns the reply's
    /// `data`. The payload is streamed; `progress` sees the bytes sent so far. A send that makes
    /// no progress for [`STALL_CHECK`] looks whether the server closed the connection
    /// meanwhile ([`Client::write_payload`]).
    pub fn upload(
        &mut self,
        command: &str,
        args: Value,
        source: &mut dyn Read,
        len: u64,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Value, ClientError> {
        let mut req = request(command, args);
        if let Value::Object(m) = &mut req {
            m.insert("file_size".into(), Value::from(len));
        }
        self.send(&req)?;
        self.flush()?;
        let stream = self.writer.get_ref().try_clone()?;
        let before = stream.write_timeout()?;
        stream.set_write_timeout(Some(STALL_CHECK))?;
        let sent = self.write_payload(&stream, source, len, progress);
        stream.set_write_timeout(before)?;
        sent?;
        into_data(self.recv()?)
    }

    /// The payload straight to the socket (the request is already flushed). A peer that
    /// closes while its receive window is shut sends a FIN but no reset, and a blocked send
    /// would then wait for the kernel's window probes to fail (a minute or more): a test proxy
    /// cut part-way did this to the shell. So the socket has a send timeout, and each time it
    /// expires with nothing sent the connection is checked for the server's end of stream.
    fn write_payload(
        &mut self,
        mut stream: &TcpStream,
        source: &mut dyn Read,
        len: u64,
        progress: &mut dyn FnMut(u64),
    ) -> Result<(), ClientError> {
        let mut sent = 0u64;
        let mut buf = vec![0u8; 256 * 1024];
        while sent < len {
            let want = buf.len().min((len - sent) as usize);
            let got = source.read(&mut buf[..want])?;
            if got == 0 {
                return Err(ClientError::Io(io::ErrorKind::UnexpectedEof.into()));
            }
            let mut chunk = &buf[..got];
            while !chunk.is_empty() {
                match stream.write(chunk) {
                    Ok(0) => return Err(ClientError::Io(io::ErrorKind::WriteZero.into())),
                    Ok(n) => {
                        chunk = &chunk[n..];
                        sent += n as u64;
                        progress(sent);
                    }
                    Err(e)
                        if matches!(
                            e.kind(),
                            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                        ) =>
                    {
                        if self.peer_closed()? {
                            return Err(ClientError::Io(io::Error::new(
                                io::ErrorKind::ConnectionAborted,
                                "the server closed the connection during the upload",
                            )));
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(())
    }

    /// Whether the server's end of stream arrived with no reply before it. A reply waiting
    /// means an early refusal: the server discards the rest, so sending goes on.
    fn peer_closed(&mut self) -> Result<bool, ClientError> {
        if !self.reader.buffer().is_empty() {
            return Ok(false);
        }
        let sock = self.reader.get_ref();
        sock.set_nonblocking(true)?;
        let peeked = sock.peek(&mut [0u8; 1]);
        sock.set_nonblocking(false)?;
        match peeked {
            Ok(0) => Ok(true),
            Ok(_) => Ok(false),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) =>
            {
                Ok(false)
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// Builds a request object from a command name and an argument object.
pub fn request(command: &str, args: Value) -> Value {
    let mut m = match args {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    m.insert("type".into(), Value::String(command.into()));
    Value::Object(m)
}

/// A reply's `data`, or its error.
pub fn into_data(reply: Reply) -> Result<Value, ClientError> {
    if reply.ok {
        Ok(reply.data.unwrap_or(Value::Null))
    } else {
        Err(ClientError::Server(reply.error.unwrap_or(ErrorBody {
            code: ErrorCode::Internal,
            message: "error reply without an error object".into(),
        })))
    }
}
