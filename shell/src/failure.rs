//! Why a shell command did not succeed, and the exit code each reason maps to: 1 for a failed
//! command, 2 for a usage mistake or a server that cannot be reached, 3 (or the script's own `exit` value) for a script.

use kino_client::ClientError;

use crate::render::{self, Style};

/// A command's failure.
#[derive(Debug)]
pub enum Failure {
    /// The line or the flags are wrong; nothing was sent.
    Usage(String),
    /// The server refused, or the connection failed.
    Client(ClientError),
    /// A local problem: a file that cannot be read, a checksum that does not match.
    Local(String),
    /// The server could not be reached, or is not a Kino server: exit 2, as psql does when it
    /// cannot connect.
    Unreachable(String),
    /// Already reported (a script error, failures under `--keep-going`): the exit code.
    Reported(u8),
    /// Standard output was closed by its reader (`kino ... | head`): stop quietly.
    BrokenPipe,
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Self {
        Failure::Client(e)
    }
}

impl Failure {
    /// The process exit code for this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Usage(_) | Failure::Unreachable(_) => 2,
            Failure::Client(_) | Failure::Local(_) => 1,
            Failure::Reported(code) => *code,
            Failure::BrokenPipe => 0,
        }
    }

    /// Prints the failure on standard error (scripts and broken pipes print nothing here).
    pub fn report(&self, style: Style) {
        self.report_at(style, None)
    }

    /// Like [`Failure::report`], naming where the command came from (`<stdin>:LINE`).
    pub fn report_at(&self, style: Style, at: Option<&str>) {
        match self {
            Failure::Usage(m) => render::error_at(style, at, Some("usage"), m),
            Failure::Client(ClientError::Server(body)) if body.message.starts_with("frame of") => {
                render::error_at(
                    style,
                    at,
                    Some(body.code.as_str()),
                    &format!(
                        "the line is over the server's frame limit ({}); the server closed \
                         the connection, the next command reconnects",
                        body.message
                    ),
                )
            }
            Failure::Client(ClientError::Server(body)) => {
                render::error_at(style, at, Some(body.code.as_str()), &body.message)
            }
            Failure::Client(ClientError::Io(e)) => {
                render::error_at(style, at, None, &connection(e))
            }
            Failure::Client(ClientError::Protocol(m)) => render::error_at(
                style,
                at,
                None,
                &format!(
                    "the server's answer is not a Kino reply ({m}); the next command reconnects"
                ),
            ),
            Failure::Local(m) | Failure::Unreachable(m) => render::error_at(style, at, None, m),
            Failure::Reported(_) | Failure::BrokenPipe => {}
        }
    }

    /// Turns an error writing results to standard output into a failure: a closed pipe is a
    /// clean stop, anything else is reported.
    pub fn from_stdout(e: std::io::Error) -> Failure {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            Failure::BrokenPipe
        } else {
            Failure::Local(format!("writing output: {e}"))
        }
    }
}

/// What a failed connection means for the user, and what to do, instead of the OS's words.
pub fn connection(e: &std::io::Error) -> String {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::UnexpectedEof
        | K::ConnectionReset
        | K::ConnectionAborted
        | K::BrokenPipe
        | K::NotConnected => "the server closed the connection (it may have restarted); \
             the next command reconnects"
            .into(),
        K::ConnectionRefused => "no server answers at this address (connection refused): \
             start kino-server or check --addr; the next command retries"
            .into(),
        K::TimedOut | K::WouldBlock => {
            "the server did not answer in time; the next command reconnects".into()
        }
        _ if e.to_string().contains("Ctrl-C") => {
            "stopped (Ctrl-C); the next command reconnects".into()
        }
        _ => format!("the connection failed ({e}); the next command reconnects"),
    }
}

/// A client error in the user's words (connection failures say what to do).
pub fn client_error(e: &ClientError) -> String {
    match e {
        ClientError::Io(io) => connection(io),
        other => other.to_string(),
    }
}
