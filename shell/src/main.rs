//! `kino`: the Kino shell. Three ways in: an interactive prompt when standard input is a
//! terminal, one command with `-c` or one per line of piped input, and rhai scripts with
//! `kino run SCRIPT [ARGS...]`. Exit codes: 0 ok, 1 a command failed, 2 usage or no server to
//! talk to (unreachable, or not a Kino server), 3 a script
//! stopped on an error (or the script's own `exit(n)`). A closed output pipe is a clean exit.
//!
//! Layout:
//! - `shell`: one line in any mode; the shell's own commands.
//! - `line`: splitting `cmd key=value ...` and building arguments from the `help` schema.
//! - `session`: connection, login, reconnect with the session token.
//! - `repl` and `complete`: the rustyline prompt, history, completion and hints.
//! - `render`: tables, key/value lines, `--json`, errors.
//! - `transfer`: uploads with an MD5 check first, resumable downloads, progress bars.
//! - `script`: the rhai engine and its functions.
//! - `limits`: the engine's limits and the script memory bound (a counting allocator).
//! - `sandbox`: the files, servers and environment variables a script may reach.
//! - `files`: listing a folder with a glob, for scripts.
//! - `cancel`: Ctrl-C during a command in the interactive shell.
//! - `receive`, `save`, `place`, `hum`: `download`, `save`, `hum`, `logout`; where received
//!   files go (never over an existing file without `--force`).
//! - `opts`: `--flag VALUE` options of the shell's own commands.
//! - `term` and `pager`: colours and animations (`--color`, `NO_COLOR`, `TERM=dumb`), paging.
//! - `failure`: why a command failed and the exit code for it.

mod bars;
mod cancel;
mod complete;
mod failure;
mod files;
mod formats;
mod hum;
mod limits;
use kino_shell::line;
mod opts;
mod pager;
mod payload;
mod place;
mod receive;
mod render;
mod repl;
mod sandbox;
mod save;
mod script;
mod send;
mod session;
mod shell;
mod term;
mod transfer;
mod usage;

use std::cell::RefCell;
use std::io::{self, BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::Duration;

use clap::{Parser, Subcommand};

use kino_client::ClientError;

use crate::failure::Failure;
use crate::limits::ScriptLimits;
use crate::render::Style;
use crate::script::RunOptions;
use crate::session::Session;
use crate::shell::{Flow, Shell};
use crate::term::ColorChoice;

const EXAMPLES: &str = "\
Examples:
  kino                                   interactive prompt on 127.0.0.1:1688
  kino -c 'movies.list kind=free'        one command, then exit
  KINO_USER=alice KINO_PASSWORD=... kino --json -c whoami
  printf 'ping\\nwhoami\\n' | kino         one command per line
  kino run scripts/bulk_upload.rhai ./films '*.mp4'";

/// The command line. Passwords never come from here: a hidden prompt, `KINO_PASSWORD`, or the
/// first line of standard input with `--password-stdin`.
#[derive(Debug, Parser)]
#[command(name = "kino", version, about = "The Kino shell", after_help = EXAMPLES)]
struct Cli {
    /// Server address, HOST[:PORT] (port 1688 when left out; names resolve)
    #[arg(
        long,
        env = "KINO_ADDR",
        default_value = "127.0.0.1:1688",
        global = true
    )]
    addr: String,
    /// Run one command and exit
    #[arg(short = 'c', value_name = "COMMAND")]
    command: Option<String>,
    /// Print each result's raw `data` as one line of JSON, errors as JSON on standard error
    /// (same as --format json)
    #[arg(long, global = true)]
    json: bool,
    /// Output format: table (default), json, csv, tsv or plain (aligned, no borders)
    #[arg(long, value_name = "FORMAT", global = true)]
    format: Option<formats::Format>,
    /// Leave out the header row of tables, CSV and TSV
    #[arg(long, global = true)]
    no_header: bool,
    /// Go on after a failed command (piped input); the exit code still reports the failure
    #[arg(long, global = true)]
    keep_going: bool,
    /// Log in as NAME first (password from KINO_PASSWORD, --password-stdin or a prompt)
    #[arg(long, env = "KINO_USER", value_name = "NAME", global = true)]
    user: Option<String>,
    /// Read the password from the first line of standard input
    #[arg(long, global = true)]
    password_stdin: bool,
    /// Stop scripts after SECS seconds
    #[arg(long, value_name = "SECS", global = true)]
    timeout: Option<u64>,
    /// Let scripts use files under DIR too (repeatable); by default only the script's
    /// folder, the current directory and paths given as script arguments
    #[arg(long, value_name = "DIR", global = true)]
    allow_path: Vec<PathBuf>,
    /// Let scripts `connect` to HOST:PORT too (repeatable); by default only this shell's server
    #[arg(long, value_name = "HOST:PORT", global = true)]
    allow_connect: Vec<String>,
    /// Stop scripts after N rhai operations
    #[arg(long, value_name = "N", env = "KINO_SCRIPT_MAX_OPERATIONS", default_value_t = ScriptLimits::default().operations, global = true)]
    script_max_operations: u64,
    /// Most entries of one script array (and of a `files()` result)
    #[arg(long, value_name = "N", default_value_t = ScriptLimits::default().array, global = true)]
    script_max_array: usize,
    /// Most entries of one script object map
    #[arg(long, value_name = "N", default_value_t = ScriptLimits::default().map, global = true)]
    script_max_map: usize,
    /// Most bytes of one script string
    #[arg(long, value_name = "BYTES", default_value_t = ScriptLimits::default().string, global = true)]
    script_max_string: usize,
    /// Most memory a script may add to the shell's, in MiB
    #[arg(long, value_name = "MIB", default_value_t = ScriptLimits::default().memory >> 20, global = true)]
    script_max_memory: usize,
    /// Colours: auto (a terminal without NO_COLOR or TERM=dumb), always or never
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ColorChoice::Auto, global = true)]
    color: ColorChoice,
    /// Never page long output (by default it goes through $PAGER, `less -FRX`, on a terminal)
    #[arg(long, global = true)]
    no_pager: bool,
    #[command(subcommand)]
    run: Option<Run>,
}

#[derive(Debug, Subcommand)]
enum Run {
    /// Run a rhai script (see scripts/)
    Run {
        /// The script file
        script: PathBuf,
        /// Arguments, available to the script as `args`
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.json || cli.format == Some(formats::Format::Json);
    let mut style = Style::detect(json);
    style.format = cli.format.unwrap_or(style.format);
    style.header = !cli.no_header;
    style.color = term::colors(cli.color, style.tty_err);
    // `tty_err` decides progress bars: none on a dumb terminal or with NO_COLOR.
    style.tty_err = term::animations(style.tty_err);
    pager::configure(!cli.no_pager);
    let interactive = cli.command.is_none() && cli.run.is_none() && io::stdin().is_terminal();
    if cli.command.is_none()
        && cli.run.is_none()
        && !interactive
        && cli.color != ColorChoice::Always
    {
        // Piped input: plain output for programs, no colours.
        style.color = false;
    }
    match run(cli, style, interactive) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            f.report(style);
            ExitCode::from(f.exit_code())
        }
    }
}

fn run(mut cli: Cli, style: Style, interactive: bool) -> Result<(), Failure> {
    cli.addr = with_default_port(&cli.addr);
    let mut stdin = io::stdin().lock();
    let credentials = credentials(&cli, &mut stdin)?;
    let session = match Session::open(&cli.addr) {
        Ok(s) => s,
        Err(e) if interactive => {
            render::error(
                style,
                None,
                &format!("{}: {}", cli.addr, failure::client_error(&e)),
            );
            Session::offline(&cli.addr)
        }
        // A script may not need the server at once; it connects on its first call.
        Err(_) if cli.run.is_some() && credentials.is_none() => Session::offline(&cli.addr),
        Err(ClientError::Protocol(m)) => return Err(Failure::Unreachable(m)),
        Err(e) => {
            return Err(Failure::Unreachable(format!(
            "cannot reach a server at {}: {e}; is kino-server running there? (--addr HOST:PORT)",
            cli.addr
        )))
        }
    };
    let mut shell = Shell {
        session: Rc::new(RefCell::new(session)),
        style,
        script: RunOptions {
            timeout: cli.timeout.map(Duration::from_secs),
            allow_paths: cli.allow_path.clone(),
            allow_connect: cli.allow_connect.clone(),
            limits: ScriptLimits {
                operations: cli.script_max_operations,
                array: cli.script_max_array,
                map: cli.script_max_map,
                string: cli.script_max_string,
                memory: cli.script_max_memory.saturating_mul(1 << 20),
            },
        },
    };
    if let Some((name, password)) = credentials {
        shell.session.borrow_mut().login(&name, &password)?;
    }
    if let Some(Run::Run { script, args }) = &cli.run {
        return script::run(script, args, shell.session.clone(), style, &shell.script);
    }
    if let Some(command) = &cli.command {
        return shell.execute(command).map(|_| ());
    }
    if interactive {
        drop(stdin);
        return repl::run(&mut shell);
    }
    batch(&mut shell, &mut stdin, cli.keep_going)
}

/// `HOST` → `HOST:1688`; `HOST:PORT`, `[V6]:PORT` and a bare IPv6 address are kept or
/// completed the same way.
fn with_default_port(addr: &str) -> String {
    let port = kino_proto::DEFAULT_PORT;
    if addr.parse::<std::net::SocketAddr>().is_ok() {
        return addr.to_string();
    }
    if addr.parse::<std::net::Ipv6Addr>().is_ok() {
        return format!("[{addr}]:{port}");
    }
    match addr.rsplit_once(':') {
        Some((_, p)) if !addr.ends_with(']') && p.parse::<u16>().is_ok() => addr.to_string(),
        _ => format!("{addr}:{port}"),
    }
}

/// One command per line of piped input, without the line editor.
fn batch(shell: &mut Shell, input: &mut dyn BufRead, keep_going: bool) -> Result<(), Failure> {
    let mut failed = None;
    let mut text = String::new();
    for number in 1.. {
        text.clear();
        if input
            .read_line(&mut text)
            .map_err(|e| Failure::Local(format!("reading standard input: {e}")))?
            == 0
        {
            break;
        }
        match shell.execute(&text) {
            Ok(Flow::Continue) => {}
            Ok(Flow::Quit) => break,
            Err(Failure::BrokenPipe) => return Err(Failure::BrokenPipe),
            Err(f) => {
                f.report_at(shell.style, Some(&format!("<stdin>:{number}")));
                if !keep_going {
                    return Err(Failure::Reported(f.exit_code()));
                }
                failed = Some(f.exit_code());
            }
        }
    }
    match failed {
        Some(code) => Err(Failure::Reported(code)),
        None => Ok(()),
    }
}

/// The login to do before anything else, if any: `--user`/`KINO_USER` with a password from
/// `--password-stdin`, `KINO_PASSWORD`, or a hidden prompt on a terminal.
fn credentials(cli: &Cli, stdin: &mut dyn BufRead) -> Result<Option<(String, String)>, Failure> {
    let Some(user) = cli.user.clone() else {
        if std::env::var_os("KINO_PASSWORD").is_some() {
            return Err(Failure::Usage(
                "KINO_PASSWORD is set but KINO_USER is not: set KINO_USER=NAME (or --user NAME)"
                    .into(),
            ));
        }
        if cli.password_stdin {
            return Err(Failure::Usage("--password-stdin needs --user NAME".into()));
        }
        return Ok(None);
    };
    let password = if cli.password_stdin {
        let mut line = String::new();
        stdin
            .read_line(&mut line)
            .map_err(|e| Failure::Local(format!("reading the password: {e}")))?;
        line.trim_end_matches(['\n', '\r']).to_string()
    } else if let Ok(p) = std::env::var("KINO_PASSWORD") {
        p
    } else if io::stdin().is_terminal() {
        rpassword::prompt_password(format!("password for {user}: "))
            .map_err(|e| Failure::Local(format!("reading the password: {e}")))?
    } else {
        return Err(Failure::Usage(
            "--user needs a password: --password-stdin or KINO_PASSWORD".into(),
        ));
    };
    if password.is_empty() {
        return Err(Failure::Usage("empty password".into()));
    }
    Ok(Some((user, password)))
}

#[cfg(test)]
mod tests {
    use super::with_default_port;

    #[test]
    fn a_host_alone_means_port_1688() {
        assert_eq!(with_default_port("localhost"), "localhost:1688");
        assert_eq!(with_default_port("kino.example:99"), "kino.example:99");
        assert_eq!(with_default_port("10.0.0.1"), "10.0.0.1:1688");
        assert_eq!(with_default_port("::1"), "[::1]:1688");
        assert_eq!(with_default_port("[::1]:7"), "[::1]:7");
        assert_eq!(with_default_port("[::1]"), "[::1]:1688");
    }
}
