//! Running one line in any mode (prompt, `-c`, piped input): the shell's own commands that need
//! the local side (`login`, `register`, `upload`, `download`, `run`, `help`, `quit`), and every
//! server command by its registry name with `key=value` arguments.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use kino_proto::PayloadKind;
use serde_json::{json, Map, Value};

use crate::failure::Failure;
use crate::line::{self, Line, Word};
use crate::payload;
use crate::receive;
use crate::render::{self, Style};
use crate::script::{self, RunOptions};
use crate::session::Session;
use crate::transfer::{self, Uploaded};
use crate::usage::usage;

/// The shell's own commands: name, usage, summary (for `help`, completion and hints).
pub const LOCAL: &[(&str, &str, &str)] = &[
    (
        "login",
        "login NAME",
        "log in; the password is asked for without echo",
    ),
    (
        "register",
        "register NAME [--admin]",
        "create an account (asks for the password)",
    ),
    (
        "upload",
        "upload PATH... [--paid]",
        "upload files as movies, skipping content the server has",
    ),
    (
        "download",
        "download ID [--out PATH] [--force]",
        "download a movie; run again to resume",
    ),
    (
        "hum",
        "hum PATH.wav [tempo_bpm=N] [min_note_ms=N] [title=T] [time_signature=3/4] [key=Bb] [--out DIR] [--force]",
        "transcribe a hummed tune; saves NAME.mid and NAME.png (`hum --fetch KEY`: a past one)",
    ),
    (
        "save",
        "save COMMAND [ARGS...] --out PATH [--force]",
        "run a command whose reply carries a file and save the file",
    ),
    ("logout", "logout", "end this login (the connection stays)"),
    (
        "run",
        "run SCRIPT [ARGS...]",
        "run a rhai script on this connection",
    ),
    ("help", "help [COMMAND]", "list commands, or describe one"),
    ("quit", "quit", "leave the shell (also Ctrl-D)"),
    ("exit", "exit", "leave the shell, like quit"),
];

/// Every name a line may start with: the server's commands and the shell's own.
fn known_names(session: &Session) -> Vec<&str> {
    let server = session.commands().iter().map(|c| c.name.as_str());
    server.chain(LOCAL.iter().map(|(n, ..)| *n)).collect()
}

/// What the caller should do after a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Read the next line.
    Continue,
    /// Stop (`quit`).
    Quit,
}

/// State shared by every line of one run.
pub struct Shell {
    /// The connection, shared with scripts run from this shell.
    pub session: Rc<RefCell<Session>>,
    /// Output format.
    pub style: Style,
    /// Limits for scripts started with `run`.
    pub script: RunOptions,
}

impl Shell {
    /// Parses and runs one line.
    pub fn execute(&mut self, text: &str) -> Result<Flow, Failure> {
        let Some(line) = line::parse(text).map_err(Failure::Usage)? else {
            return Ok(Flow::Continue);
        };
        match line.command.as_str() {
            "quit" | "exit" => return Ok(Flow::Quit),
            "help" => self.help(&line)?,
            "login" => self.login(&line)?,
            "register" => self.register(&line)?,
            "upload" => self.upload(&line)?,
            "download" => self.download(&line)?,
            "hum" => self.hum(&line)?,
            "save" => self.save(&line)?,
            "logout" => self.logout()?,
            "run" => self.run_script(&line)?,
            _ => self.server_command(&line)?,
        }
        Ok(Flow::Continue)
    }

    pub(crate) fn print(&self, value: &Value) -> Result<(), Failure> {
        render::data(self.style, value).map_err(Failure::from_stdout)
    }

    fn server_command(&mut self, line: &Line) -> Result<(), Failure> {
        let info = self.session.borrow().command(&line.command).cloned();
        // A name without a plugin prefix that the server did not list is a typo: answered here,
        // since a server with the legacy plugin answers such a type in the old protocol's shape.
        if info.is_none() && !line.command.contains('.') {
            let session = self.session.borrow();
            if !session.commands().is_empty() {
                return Err(Failure::Client(kino_client::ClientError::Server(
                    kino_proto::ErrorBody {
                        code: kino_proto::ErrorCode::UnknownCommand,
                        message: format!(
                            "unknown command `{}`{}; `help` lists them",
                            line.command,
                            kino_proto::suggest::hint(&line.command, known_names(&session))
                        ),
                    },
                )));
            }
        }
        if let Some(i) = info.as_ref().filter(|i| i.payload != PayloadKind::None) {
            let flag = match i.payload {
                PayloadKind::Upload => "file",
                _ => "out",
            };
            let given = line
                .words
                .iter()
                .any(|w| matches!(w, Word::Flag(f) if f == flag));
            return match (given, i.payload) {
                (false, p) => Err(Failure::Usage(
                    receive::payload_advice(&line.command, p).unwrap_or_default(),
                )),
                (true, PayloadKind::Upload) => self.send_file(line, i),
                (true, _) => self.receive_file(line, i),
            };
        }
        let mut args = line::server_args(info.as_ref(), &line.words).map_err(Failure::Usage)?;
        payload::ask_secrets(info.as_ref(), &mut args)?;
        let data = self.session.borrow_mut().call(&line.command, args)?;
        let page = self.session.borrow().last_page();
        if line.command == "vip.buy" || data.get("is_vip") == Some(&json!(true)) {
            self.session.borrow_mut().set_vip();
        }
        self.print(&payload::shown(data))?;
        if let Some(page) = page {
            receive::page_note(self.style, line, page);
        }
        Ok(())
    }

    fn login(&mut self, line: &Line) -> Result<(), Failure> {
        let [Word::Plain(name)] = line.words.as_slice() else {
            return Err(Failure::Usage("usage: login NAME".into()));
        };
        let password = ask_password("password: ")?;
        let reply = self.session.borrow_mut().login(name, &password)?;
        self.print(&payload::shown(reply))
    }

    fn register(&mut self, line: &Line) -> Result<(), Failure> {
        let (name, admin) = match line.words.as_slice() {
            [Word::Plain(n)] => (n, false),
            [Word::Plain(n), Word::Flag(f)] | [Word::Flag(f), Word::Plain(n)] if f == "admin" => {
                (n, true)
            }
            _ => return Err(Failure::Usage("usage: register NAME [--admin]".into())),
        };
        let password = ask_password("password: ")?;
        if ask_password("again: ")? != password {
            return Err(Failure::Usage("the passwords differ".into()));
        }
        let role = if admin { "admin" } else { "user" };
        let args = json!({"name": name, "password": password, "role": role});
        let reply = self.session.borrow_mut().call("auth.register", obj(args))?;
        self.print(&reply)
    }

    fn upload(&mut self, line: &Line) -> Result<(), Failure> {
        let mut paths = Vec::new();
        let mut free = true;
        for w in &line.words {
            match w {
                Word::Flag(f) if f == "paid" => free = false,
                Word::Plain(p) => paths.push(PathBuf::from(p)),
                _ => return Err(Failure::Usage("usage: upload PATH... [--paid]".into())),
            }
        }
        if paths.is_empty() {
            return Err(Failure::Usage("usage: upload PATH... [--paid]".into()));
        }
        let mut failed = None;
        for path in &paths {
            let done = transfer::upload(&mut self.session.borrow_mut(), path, free, self.style);
            match done {
                Ok(u) => self.print_upload(path, u)?,
                // One bad file does not stop the others; the command still fails at the end.
                Err(Failure::BrokenPipe) => return Err(Failure::BrokenPipe),
                Err(f) if paths.len() > 1 => {
                    f.report(self.style);
                    failed = Some(f);
                }
                Err(f) => return Err(f),
            }
        }
        match failed {
            Some(Failure::Client(e)) => Err(Failure::Local(format!("some uploads failed ({e})"))),
            Some(_) => Err(Failure::Local("some uploads failed".into())),
            None => Ok(()),
        }
    }

    fn print_upload(&self, path: &Path, done: Uploaded) -> Result<(), Failure> {
        let shown = path.display();
        let value = match (&done, self.style.json) {
            (Uploaded::New(m), true) => {
                json!({"status": "uploaded", "path": shown.to_string(), "movie": m})
            }
            (Uploaded::Skipped(id), true) => {
                json!({"status": "skipped", "path": shown.to_string(), "id": id})
            }
            (Uploaded::New(m), false) => json!(format!(
                "uploaded {shown} (id {}, {} bytes)",
                render::cell(m.get("id").unwrap_or(&Value::Null)),
                render::cell(m.get("size").unwrap_or(&Value::Null))
            )),
            (Uploaded::Skipped(id), false) => {
                json!(format!(
                    "skipped {shown}: already on the server (id {})",
                    render::cell(id)
                ))
            }
        };
        self.print(&value)
    }

    fn run_script(&mut self, line: &Line) -> Result<(), Failure> {
        // Script arguments are passed as typed, `key=value` and `--flag` included.
        let mut words = line.words.iter().map(|w| match w {
            Word::Pair(k, v) => format!("{k}={v}"),
            Word::Flag(f) => format!("--{f}"),
            Word::Plain(p) => p.clone(),
        });
        let Some(path) = words.next() else {
            return Err(Failure::Usage("usage: run SCRIPT [ARGS...]".into()));
        };
        let args: Vec<String> = words.collect();
        script::run(
            Path::new(&path),
            &args,
            self.session.clone(),
            self.style,
            &self.script,
        )
    }

    fn help(&mut self, line: &Line) -> Result<(), Failure> {
        // Reconnects if needed, so the list is the server's current one.
        if !self.session.borrow().is_connected() {
            self.session.borrow_mut().call("ping", Map::new())?;
        }
        let session = self.session.borrow();
        match line.words.as_slice() {
            [] if self.style.json => self.print(&json!(session.commands())),
            [] => {
                // A server command the shell runs itself (`help`) is listed once, as the shell's.
                let mut rows: Vec<Value> = session
                    .commands()
                    .iter()
                    .filter(|c| !LOCAL.iter().any(|(n, ..)| *n == c.name))
                    .map(|c| json!({"command": c.name, "role": c.role.as_str(), "usage": usage(c), "summary": c.summary}))
                    .collect();
                rows.extend(LOCAL.iter().map(
                    |(n, u, s)| json!({"command": n, "role": "shell", "usage": u, "summary": s}),
                ));
                self.print(&Value::Array(rows))
            }
            [Word::Plain(name)] => {
                if let Some(c) = session.command(name) {
                    if self.style.json {
                        return self.print(&json!(c));
                    }
                    let mut text = format!(
                        "{}\n  {}\n  role: {}\n",
                        usage(c),
                        c.summary,
                        c.role.as_str()
                    );
                    for a in &c.args {
                        let need = if a.required { "required" } else { "optional" };
                        text.push_str(&format!(
                            "  {:<10} {need}, {}: {}{}\n",
                            a.name,
                            a.kind.as_str(),
                            a.doc,
                            crate::usage::arg_notes(a)
                        ));
                    }
                    return self.print(&json!(text.trim_end()));
                }
                match LOCAL.iter().find(|(n, ..)| n == name) {
                    Some((_, u, s)) => self.print(&json!(format!("{u}\n  {s}"))),
                    None => Err(Failure::Usage(format!(
                        "no command `{name}`{}; `help` lists them",
                        kino_proto::suggest::hint(name, known_names(&session))
                    ))),
                }
            }
            _ => Err(Failure::Usage("usage: help [COMMAND]".into())),
        }
    }
}

/// Reads a password from the terminal without echo; never from the command line.
pub(crate) fn ask_password(prompt: &str) -> Result<String, Failure> {
    use std::io::IsTerminal;
    // Without a terminal there is no one to ask (`kino -c 'login alice'` from cron or a pipe).
    if !std::io::stdin().is_terminal() {
        return Err(Failure::Usage(
            "no terminal for the password: use KINO_PASSWORD or --password-stdin \
             (with KINO_USER=NAME or --user NAME)"
                .into(),
        ));
    }
    let p = rpassword::prompt_password(prompt)
        .map_err(|e| Failure::Local(format!("reading the password: {e}")))?;
    if p.is_empty() {
        return Err(Failure::Usage("empty password".into()));
    }
    Ok(p)
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}
