//! Saving the bytes that follow a reply: `save COMMAND [ARGS...] --out PATH [--force]` for any
//! command whose reply carries a payload (`melody.fetch key=... format=png`), and the files
//! `hum` saves. The partial file is created only when the reply has arrived, so a refusal
//! leaves nothing behind; it is moved into place by [`place::place`].

use std::cell::RefCell;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use serde_json::{Map, Value};

use crate::failure::Failure;
use crate::place::{self, Out};
use crate::session::Session;
use crate::transfer::local;

/// Where a saved payload goes: a fixed path, or a name chosen from the reply in a folder.
pub enum Dest<'a> {
    /// This file (numbered from `from` unless forced, when `numbered`).
    Path {
        /// The file.
        target: &'a Path,
        /// Take `NAME (n).EXT` when the name is taken.
        numbered: bool,
        /// The first number to try.
        from: u32,
    },
    /// `--out` as given to `save`.
    Out(&'a Out),
}

/// Runs `command` and saves its payload; returns the reply and the saved path.
pub fn fetch_to(
    session: &mut Session,
    command: &str,
    args: Map<String, Value>,
    dest: Dest,
    force: bool,
) -> Result<(Value, PathBuf), Failure> {
    let chosen: Rc<RefCell<Option<PathBuf>>> = Rc::new(RefCell::new(None));
    let (numbered, from) = match &dest {
        Dest::Path { numbered, from, .. } => (*numbered, *from),
        Dest::Out(out) => (matches!(out, Out::Dir(_)), 0),
    };
    let pick = Rc::clone(&chosen);
    let field = session.command(command).and_then(|i| i.file_name.clone());
    let mut on_reply = |data: &Value| {
        let target = match &dest {
            Dest::Path { target, from, .. } => place::numbered(target, *from),
            Dest::Out(out) => out.target(&name_from(field.as_deref(), command, data)),
        };
        *pick.borrow_mut() = Some(target);
    };
    let mut sink = Lazy {
        chosen: Rc::clone(&chosen),
        file: None,
    };
    let reply = session.download(command, args, &mut on_reply, &mut sink, &mut |_| {})?;
    sink.open()?;
    let target = chosen
        .borrow()
        .clone()
        .ok_or_else(|| Failure::Local(format!("`{command}` sent no reply")))?;
    let part = place::part_of(&target);
    if let Some(file) = sink.file.take() {
        file.sync_all().map_err(|e| local(&part, e))?;
    }
    let base = match &dest {
        Dest::Path { target, .. } => target.to_path_buf(),
        Dest::Out(_) => target,
    };
    let saved = place::place(&part, &base, force, numbered, from)?;
    Ok((reply, saved))
}

/// A file name for a payload from its reply: the field the command's spec names
/// (`field`), else the command's name.
fn name_from(field: Option<&str>, command: &str, data: &Value) -> String {
    let named = field.and_then(|k| data.get(k)).and_then(Value::as_str);
    crate::transfer::safe_name(named.unwrap_or(&command.replace('.', "-")))
}

/// `TARGET.part`, created at the first byte (or after an empty payload).
struct Lazy {
    chosen: Rc<RefCell<Option<PathBuf>>>,
    file: Option<File>,
}

impl Lazy {
    fn open(&mut self) -> Result<(), Failure> {
        if self.file.is_some() {
            return Ok(());
        }
        let Some(target) = self.chosen.borrow().clone() else {
            return Err(Failure::Local("no file name yet".into()));
        };
        let part = place::part_of(&target);
        if let Some(dir) = part.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(|e| local(dir, e))?;
        }
        self.file = Some(File::create(&part).map_err(|e| local(&part, e))?);
        Ok(())
    }
}

impl Write for Lazy {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if crate::cancel::requested() {
            return Err(crate::cancel::error());
        }
        if let Err(Failure::Local(m)) = self.open() {
            return Err(io::Error::other(m));
        }
        match self.file.as_mut() {
            Some(f) => f.write(buf),
            None => Err(io::Error::other("no partial file")),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.file.as_mut() {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}
