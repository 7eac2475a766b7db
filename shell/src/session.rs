//! The shell's side of one server: the connection, who is logged in, and the command list from
//! `help`. A dropped connection is reported once; the next command reconnects and carries the
//! session token, so the login survives without asking for the password again.

use std::io::{Read, Write};

use kino_client::{Client, ClientError};
use kino_proto::{CommandInfo, ErrorCode, Page};
use serde_json::{json, Map, Value};

use crate::render;

/// Who the shell is logged in as, from the `auth.login` reply.
#[derive(Debug, Clone)]
pub struct LoggedIn {
    /// Account name (the prompt shows it).
    pub name: String,
    /// VIP users never wait for free downloads.
    pub is_vip: bool,
}

/// A server connection that reconnects on demand.
pub struct Session {
    addr: String,
    client: Option<Client>,
    token: Option<String>,
    user: Option<LoggedIn>,
    commands: Vec<CommandInfo>,
    /// A person at a terminal: an expired session found on reconnect offers the password
    /// prompt.
    interactive: bool,
    /// The last reply's place in its list, if it was a page.
    last_page: Option<Page>,
}

impl Session {
    /// Connects to `addr` and reads the command list.
    pub fn open(addr: &str) -> Result<Session, ClientError> {
        let mut s = Session::offline(addr);
        s.client()?;
        Ok(s)
    }

    /// A session that will connect on its first command (the shell starts even when the
    /// server is not up yet).
    pub fn offline(addr: &str) -> Session {
        Session {
            addr: addr.to_string(),
            client: None,
            token: None,
            user: None,
            commands: Vec::new(),
            interactive: false,
            last_page: None,
        }
    }

    /// Marks the session as used by a person at a terminal.
    pub fn set_interactive(&mut self, on: bool) {
        self.interactive = on;
    }

    /// The server address as given.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// The logged-in account, if any.
    pub fn user(&self) -> Option<&LoggedIn> {
        self.user.as_ref()
    }

    /// Whether a connection is open now.
    pub fn is_connected(&self) -> bool {
        self.client.is_some()
    }

    /// The server's commands as of the last connect.
    pub fn commands(&self) -> &[CommandInfo] {
        &self.commands
    }

    /// One command's spec.
    pub fn command(&self, name: &str) -> Option<&CommandInfo> {
        self.commands.iter().find(|c| c.name == name)
    }

    /// The open connection, connecting (and re-authenticating with the token) first if needed.
    fn client(&mut self) -> Result<&mut Client, ClientError> {
        if self.client.is_none() {
            let reconnect = self.token.is_some();
            let mut c = Client::connect_timeout(self.addr.as_str(), GREETING_TIMEOUT)?;
            greet(&mut c, &self.addr)?;
            // The command list is the shell's only source of names and schemas; an old or odd
            // server without a usable `help` still gets raw commands through.
            self.commands = c
                .call("help", json!({}))
                .ok()
                .and_then(|v| serde_json::from_value(v).ok())
                .unwrap_or_default();
            if reconnect {
                self.reauthenticate(&mut c)?;
            }
            self.client = Some(c);
        }
        match self.client.as_mut() {
            Some(c) => Ok(c),
            None => Err(ClientError::Protocol("not connected".into())),
        }
    }

    /// After a reconnect: checks the token still names a session, else forgets the login (and,
    /// at a terminal, offers the password prompt for the same user).
    fn reauthenticate(&mut self, c: &mut Client) -> Result<(), ClientError> {
        let token = self.token.clone().unwrap_or_default();
        let who = c.call("whoami", json!({ "session": token }))?;
        if who.get("logged_in").and_then(Value::as_bool) == Some(true) {
            let name = who.get("name").and_then(Value::as_str).unwrap_or("?");
            render::note(&format!("reconnected to {} as {name}", self.addr));
            return Ok(());
        }
        let name = self.user.take().map(|u| u.name).unwrap_or_default();
        self.token = None;
        if !self.interactive || name.is_empty() {
            render::note(&format!(
                "reconnected to {}; the session has expired, log in again (`login {name}`)",
                self.addr
            ));
            return Ok(());
        }
        let asked = rpassword::prompt_password(format!(
            "reconnected to {}; the session has expired. Password for {name} (empty: stay logged out): ",
            self.addr
        ));
        match asked {
            Ok(p) if !p.is_empty() => {
                let data = c.call("auth.login", json!({"name": name, "password": p}))?;
                self.remember_login(&data);
                render::note(&format!("logged in again as {name}"));
            }
            _ => render::note("staying logged out; `login NAME` logs in"),
        }
        Ok(())
    }

    /// Whether a connection is open and logged in (the prompt shows `NAME@` only then).
    pub fn logged_in_now(&self) -> Option<&LoggedIn> {
        self.user.as_ref().filter(|_| self.client.is_some())
    }

    /// Ends the login: `auth.logout` on the server when connected, and the shell forgets the
    /// token either way.
    pub fn logout(&mut self) -> Result<(), ClientError> {
        let result = match self.client.is_some() && self.token.is_some() {
            true => self.call("auth.logout", Map::new()).map(|_| ()),
            false => Ok(()),
        };
        self.token = None;
        self.user = None;
        match result {
            // An expired session is as logged out as it gets.
            Err(ClientError::Server(_)) => Ok(()),
            other => other,
        }
    }

    /// Runs `f` on the connection; a failure of the connection itself (or of the local side
    /// mid-transfer, which leaves the stream out of step) drops it so that the next command
    /// reconnects.
    pub fn with_client<T>(
        &mut self,
        f: impl FnOnce(&mut Client, Option<&str>) -> Result<T, ClientError>,
    ) -> Result<T, ClientError> {
        // Connect first: a reconnect may log in again and change the token.
        self.client()?;
        let token = self.token.clone();
        let client = self.client()?;
        let _armed = crate::cancel::arm(client.stream_handle().ok());
        if crate::cancel::requested() {
            return Err(ClientError::Io(crate::cancel::error()));
        }
        let result = f(client, token.as_deref());
        match &result {
            // The failure itself is reported by the caller (which may be a script that
            // catches it); the connection is simply dropped so the next command reconnects.
            // An over-long frame is refused and the server closes the connection.
            Err(ClientError::Server(b)) if b.code == ErrorCode::TooLarge => self.client = None,
            Err(ClientError::Server(_)) | Ok(_) => {}
            Err(_) => self.client = None,
        }
        result
    }

    /// Sends one command and returns its `data`. Logins and logouts typed as raw commands
    /// update the shell's idea of who is logged in.
    pub fn call(&mut self, command: &str, args: Map<String, Value>) -> Result<Value, ClientError> {
        let mut page = None;
        let data = self.with_client(|c, token| {
            let (data, p) = c.call_paged(command, with_token(args, token))?;
            page = p;
            // Any reply with `file_size` is followed by that many bytes (the protocol's rule);
            // skip them so the connection stays in step even for a command called raw.
            let n = data.get("file_size").and_then(Value::as_u64).unwrap_or(0);
            if n > 0 {
                c.recv_payload(n, &mut std::io::sink(), &mut |_| {})?;
            }
            Ok(data)
        })?;
        self.last_page = page;
        match command {
            "auth.login" => self.remember_login(&data),
            "auth.logout" => {
                self.token = None;
                self.user = None;
            }
            _ => {}
        }
        Ok(data)
    }

    /// The last command's place in its list, when its reply was a page.
    pub fn last_page(&self) -> Option<Page> {
        self.last_page
    }

    /// Logs in; the token is kept for reconnects (the password is not kept).
    pub fn login(&mut self, name: &str, password: &str) -> Result<Value, ClientError> {
        let mut args = Map::new();
        args.insert("name".into(), json!(name));
        args.insert("password".into(), json!(password));
        self.call("auth.login", args)
    }

    fn remember_login(&mut self, data: &Value) {
        let text = |k: &str| data.get(k).and_then(Value::as_str).map(str::to_string);
        self.token = text("session");
        self.user = Some(LoggedIn {
            name: text("name").unwrap_or_default(),
            is_vip: data.get("is_vip").and_then(Value::as_bool).unwrap_or(false),
        });
    }

    /// Marks the user VIP after a successful `vip.buy` (free downloads stop waiting).
    pub fn set_vip(&mut self) {
        if let Some(u) = self.user.as_mut() {
            u.is_vip = true;
        }
    }

    /// Sends a command followed by `len` payload bytes from `source`.
    pub fn upload(
        &mut self,
        command: &str,
        args: Map<String, Value>,
        source: &mut dyn Read,
        len: u64,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Value, ClientError> {
        self.with_client(|c, token| {
            c.upload(command, with_token(args, token), source, len, progress)
        })
    }

    /// Sends a command whose reply is followed by `data.file_size` bytes: `on_reply` sees the
    /// reply first (to set up the output and progress), then the bytes go to `out`.
    pub fn download(
        &mut self,
        command: &str,
        args: Map<String, Value>,
        on_reply: &mut dyn FnMut(&Value),
        out: &mut dyn Write,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Value, ClientError> {
        self.with_client(|c, token| {
            let data = c.call(command, with_token(args, token))?;
            on_reply(&data);
            let n = data.get("file_size").and_then(Value::as_u64).unwrap_or(0);
            c.recv_payload(n, out, progress)?;
            Ok(data)
        })
    }
}

/// How long a new connection may take to connect and to answer its first `ping`: something
/// that is not a Kino server (a web server, a silent listener) is told apart within this.
const GREETING_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Checks the other side is a Kino server: a `ping` answered `"pong"` within
/// [`GREETING_TIMEOUT`]. Later replies may take as long as they need (a held download).
fn greet(c: &mut Client, addr: &str) -> Result<(), ClientError> {
    c.set_read_timeout(Some(GREETING_TIMEOUT))?;
    match c.call("ping", json!({})) {
        Ok(v) if v == json!("pong") => {}
        Ok(_) | Err(ClientError::Protocol(_)) => {
            return Err(ClientError::Protocol(format!(
                "not a Kino server at {addr}"
            )))
        }
        Err(ClientError::Io(e))
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            return Err(ClientError::Protocol(format!(
                "not a Kino server at {addr} (no answer to `ping` within {}s)",
                GREETING_TIMEOUT.as_secs()
            )))
        }
        Err(e) => return Err(e),
    }
    c.set_read_timeout(None)
}

/// Adds the session token to a request: after a reconnect the new connection is logged in
/// only through it.
fn with_token(mut args: Map<String, Value>, token: Option<&str>) -> Value {
    if let Some(t) = token {
        args.entry("session").or_insert_with(|| json!(t));
    }
    Value::Object(args)
}
