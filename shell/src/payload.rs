//! Server commands typed by their registry name whose spec says they carry a file or a secret:
//! the shell needs no code for any one of them, so a new plugin's upload and download commands
//! and its password-like arguments work with no client change.
//!
//! - An upload command takes `--file PATH`; the file's name fills the argument the spec names
//!   (`file_name`) unless the line gives it.
//! - A download command takes `--out PATH` (a folder or a file, as `download` reads it); in a
//!   folder the file is named by the reply field the spec names.
//! - A secret argument the line leaves out is asked for without echo at a terminal.

use std::fs::{self, File};
use std::io::IsTerminal;
use std::path::Path;

use kino_proto::CommandInfo;
use serde_json::{Map, Value};

use crate::bars::bytes_bar;
use crate::cancel;
use crate::failure::Failure;
use crate::line::{self, Line};
use crate::opts::Opts;
use crate::place::Out;
use crate::save::{fetch_to, Dest};
use crate::shell::Shell;
use crate::transfer::local;

/// Asks for every required secret argument the line left out, without echo; without a terminal
/// nothing is asked and the server names the missing argument.
pub fn ask_secrets(
    info: Option<&CommandInfo>,
    args: &mut Map<String, Value>,
) -> Result<(), Failure> {
    let Some(info) = info else {
        return Ok(());
    };
    if !std::io::stdin().is_terminal() {
        return Ok(());
    }
    for a in info.args.iter().filter(|a| a.secret && a.required) {
        if !args.contains_key(&a.name) {
            let value = crate::shell::ask_password(&format!("{}: ", a.name))?;
            args.insert(a.name.clone(), Value::String(value));
        }
    }
    Ok(())
}

/// A reply as shown: a `session` token stays in the shell (printing it would put it in logs and
/// scrollback).
pub fn shown(data: Value) -> Value {
    match data {
        Value::Object(mut m) => {
            m.remove("session");
            Value::Object(m)
        }
        d => d,
    }
}

impl Shell {
    /// `COMMAND --file PATH [key=value...]` for a command whose request carries a file.
    pub(crate) fn send_file(&mut self, line: &Line, info: &CommandInfo) -> Result<(), Failure> {
        let usage = format!("{} --file PATH [ARGS...]", info.name);
        let opts = Opts::parse(&line.words, &["file"], &[], &usage)?;
        let Some(path) = opts.value("file").map(Path::new) else {
            return Err(Failure::Usage(format!("usage: {usage}")));
        };
        let mut args = line::server_args(Some(info), &opts.rest).map_err(Failure::Usage)?;
        let meta = fs::metadata(path).map_err(|e| local(path, e))?;
        if !meta.is_file() {
            return Err(Failure::Local(format!(
                "{}: not a regular file",
                path.display()
            )));
        }
        if let Some(field) = &info.file_name {
            if !args.contains_key(field) {
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .ok_or_else(|| Failure::Local(format!("{}: no file name", path.display())))?;
                args.insert(field.clone(), Value::String(name));
            }
        }
        ask_secrets(Some(info), &mut args)?;
        let len = meta.len();
        let mut file = cancel::Reader(File::open(path).map_err(|e| local(path, e))?);
        let bar = bytes_bar(self.style, len, &path.display().to_string());
        let sent = self
            .session
            .borrow_mut()
            .upload(&info.name, args, &mut file, len, &mut |n| {
                bar.set_position(n)
            });
        bar.finish_and_clear();
        self.print(&shown(sent?))
    }

    /// `COMMAND [ARGS...] --out PATH [--force]` for a command whose reply carries a file.
    pub(crate) fn receive_file(&mut self, line: &Line, info: &CommandInfo) -> Result<(), Failure> {
        let usage = format!("{} [ARGS...] --out PATH [--force]", info.name);
        let opts = Opts::parse(&line.words, &["out"], &["force"], &usage)?;
        let mut args = line::server_args(Some(info), &opts.rest).map_err(Failure::Usage)?;
        ask_secrets(Some(info), &mut args)?;
        let out = Out::parse(opts.value("out"));
        let force = opts.has("force");
        out.check(force)?;
        let (_, path) = fetch_to(
            &mut self.session.borrow_mut(),
            &info.name,
            args,
            Dest::Out(&out),
            force,
        )?;
        self.print_saved(&path)
    }
}
