//! The interactive prompt (rustyline), used only when standard input is a terminal: piped
//! input never goes through the line editor. History lives in the user's data directory and
//! never records a line that may carry a password.

use rustyline::config::Configurer;
use rustyline::error::ReadlineError;
use rustyline::history::DefaultHistory;
use rustyline::{ColorMode, CompletionType, Config, Editor};
use std::path::PathBuf;

use crate::cancel;
use crate::complete::KinoHelper;
use crate::failure::Failure;
use crate::line;
use crate::render;
use crate::shell::{Flow, Shell};

/// `kino alice@127.0.0.1:1688> ` while logged in, `kino 127.0.0.1:1688> ` when connected
/// without a login, `kino (disconnected) 127.0.0.1:1688> ` when the connection is gone (the
/// next command reconnects). One line: a prompt with a newline confuses the editor's redraw.
fn prompt(shell: &Shell) -> String {
    let session = shell.session.borrow();
    if !session.is_connected() {
        return format!("kino (disconnected) {}> ", session.addr());
    }
    match session.logged_in_now() {
        Some(u) => format!("kino {}@{}> ", u.name, session.addr()),
        None => format!("kino {}> ", session.addr()),
    }
}

/// `$XDG_DATA_HOME/kino/history` (or the platform's equivalent).
fn history_path() -> Option<PathBuf> {
    let dirs = directories::ProjectDirs::from("", "", "kino")?;
    let dir = dirs.data_dir();
    std::fs::create_dir_all(dir).ok()?;
    Some(dir.join("history"))
}

/// Runs the prompt until `quit` or Ctrl-D. Ctrl-C at the prompt clears the line; while a
/// command runs, the first Ctrl-C asks a script to stop and a second one ends the shell.
pub fn run(shell: &mut Shell) -> Result<(), Failure> {
    let config = Config::builder()
        .auto_add_history(false)
        .history_ignore_space(true)
        .completion_type(CompletionType::List)
        .max_history_size(5_000)
        .map_err(|e| Failure::Local(format!("history settings: {e}")))?
        .color_mode(match shell.style.color {
            true => ColorMode::Enabled,
            false => ColorMode::Disabled,
        })
        .build();
    let mut editor: Editor<KinoHelper, DefaultHistory> = Editor::with_config(config)
        .map_err(|e| Failure::Local(format!("starting the line editor: {e}")))?;
    editor.set_history_ignore_dups(true).ok();
    editor.set_helper(Some(KinoHelper::new(
        shell.session.clone(),
        shell.style.color,
    )));
    let history = history_path();
    if let Some(path) = history.as_ref().filter(|p| p.exists()) {
        // A damaged history file costs the history, not the shell.
        let _ = editor.load_history(path);
    }
    shell.session.borrow_mut().set_interactive(true);
    if let Err(e) = cancel::install() {
        render::note(&format!("Ctrl-C will end the shell during commands: {e}"));
    }
    greet(shell);
    loop {
        let text = match editor.readline(&prompt(shell)) {
            Ok(text) => text,
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(Failure::Local(format!("reading the line: {e}"))),
        };
        let lookup = |name: &str| shell.session.borrow().command(name).cloned();
        if !line::is_sensitive(&text, &lookup) && !text.trim().is_empty() {
            let _ = editor.add_history_entry(text.as_str());
            if let Some(path) = &history {
                let _ = editor.append_history(path);
            }
        }
        cancel::reset();
        let flow = shell.execute(&text);
        cancel::reset();
        match flow {
            Ok(Flow::Quit) => break,
            Ok(Flow::Continue) => {}
            Err(f) => f.report(shell.style),
        }
    }
    Ok(())
}

fn greet(shell: &Shell) {
    let session = shell.session.borrow();
    if session.is_connected() {
        render::note(&format!(
            "connected to {} ({} commands); `help` lists them, Tab completes, Ctrl-D quits",
            session.addr(),
            session.commands().len()
        ));
    }
}
