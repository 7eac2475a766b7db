//! `kino-server`: parses flags, composes core with the plugins of this build, and serves until
//! SIGINT or SIGTERM. `kino-server user add NAME [--admin]` creates accounts offline;
//! `kino-server check [--repair]` checks the data directory; `kino-server new-plugin NAME`
//! scaffolds a plugin.

mod scaffold;

use std::io::{BufRead, Write};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use kino_server::config;
use kino_server::{Core, Registry};
use serde_json::json;

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kino-server: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let plugins = kino_server_bin::plugins();
    let settings = Registry::settings(&plugins)?;
    let (cli, config) = config::from_args::<Operator>(&settings)?;
    if let Some(Operator::NewPlugin { name, root }) = &cli.command {
        let root = root.clone().unwrap_or_else(scaffold::default_root);
        for path in scaffold::new_plugin(&root, name)? {
            println!("wrote {}", path.display());
        }
        println!(
            "next: `cargo test -p kino-{name}`, then \
             `cargo run --bin kino-server -- commands > docs/commands.md`"
        );
        return Ok(());
    }
    if let Some(Operator::Commands) = cli.command {
        let registry = Registry::build(kino_server::builtins::commands(), plugins.clone())?;
        print!("{}", kino_server::docgen::commands_markdown(&registry));
        // Only when asked: opening the store would create ./data for a plain `commands`.
        if cli.data.is_some() || config.limits.script_plugins.is_some() {
            let core = kino_server::Core::open(config, plugins)?;
            let scripts = core.script_commands();
            if !scripts.is_empty() {
                print!("{}", kino_server::docgen::scripts_markdown(&scripts));
            }
        }
        return Ok(());
    }
    if let Some(Operator::Check { repair }) = cli.command {
        let url = config.database_url().map_err(anyhow::Error::msg)?;
        // Repairs move files: never under a running server. A plain check only reads.
        let _lock = match repair {
            true => Some(kino_server::store::lock::take(&config.data).map_err(anyhow::Error::msg)?),
            false => None,
        };
        let blobs =
            kino_server::store::BlobsAt::from_config(&config).map_err(anyhow::Error::msg)?;
        let report = kino_server::store::check::run(&url, &blobs, &plugins, repair)
            .with_context(|| format!("checking {}", config.data.display()))?;
        for line in &report.lines {
            println!("{line}");
        }
        if report.problems > 0 {
            bail!(
                "{} problem(s) in {}",
                report.problems,
                config.data.display()
            );
        }
        return Ok(());
    }
    let mut core = Core::open(config, plugins).context("starting the server")?;
    if let Some(Operator::User { action }) = cli.command {
        let UserAction::Add {
            name,
            admin,
            password_stdin,
        } = action;
        let password = read_password(password_stdin)?;
        let role = if admin { "admin" } else { "user" };
        let reply = core
            .operator_call(
                "auth.register",
                json!({"name": name, "password": password, "role": role}),
            )
            .map_err(|e| anyhow::anyhow!("{}: {}", e.code, e.message))?;
        println!(
            "created {} {}",
            role,
            reply["name"].as_str().unwrap_or(&name)
        );
        return Ok(());
    }
    let server = core.listen()?;
    let web = kino_http::start(server.gateway())?;
    // One write: a reader that takes the first line and closes the pipe must not make a later
    // line's write fail (EPIPE), which would stop the server.
    let mut lines = format!("{}\n", server.local_addr());
    for (setting, addr) in server.plugin_listener_addrs() {
        lines.push_str(&format!("{setting} {addr}\n"));
    }
    if let Some(web) = &web {
        lines.push_str(&format!("web {}\n", web.url()));
    }
    let mut out = std::io::stdout().lock();
    out.write_all(lines.as_bytes())?;
    out.flush()?;
    drop(out);
    let handle = server.shutdown_handle();
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
    ])?;
    std::thread::spawn(move || {
        if signals.forever().next().is_some() {
            handle.shutdown();
        }
    });
    server.run()?;
    Ok(())
}

/// Operator commands, run against the data directory without serving.
#[derive(Debug, Subcommand)]
enum Operator {
    /// Print the command reference (docs/commands.md) of this build, as Markdown; with
    /// --script-plugins DIR or --data DIR, a section for the script plugins that load there
    Commands,
    /// Check the data directory: database integrity, every referenced blob's size and MD5,
    /// orphan blobs. Exits non-zero when it finds a problem.
    Check {
        /// Move damaged and orphan blobs to `<data>/quarantine/` and mark their rows damaged
        /// (run with the server stopped)
        #[arg(long)]
        repair: bool,
    },
    /// Manage accounts
    User {
        /// What to do
        #[command(subcommand)]
        action: UserAction,
    },
    /// Write a new plugin, `plugins/NAME` with one command and one end-to-end test, and list it
    /// in `server/Cargo.toml`
    NewPlugin {
        /// The plugin's name (a-z, 0-9, _): crate `kino-NAME`, commands `NAME.*`
        name: String,
        /// The workspace to write into [default: the one this binary was built from]
        #[arg(long)]
        root: Option<std::path::PathBuf>,
    },
}

/// `kino-server user ...`.
#[derive(Debug, Subcommand)]
enum UserAction {
    /// Create an account (the first admin is made this way)
    Add {
        /// Account name
        name: String,
        /// Make it an admin
        #[arg(long)]
        admin: bool,
        /// Read the password from standard input (one trailing newline stripped)
        #[arg(long)]
        password_stdin: bool,
    },
}

fn read_password(from_stdin: bool) -> Result<String> {
    let password = if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        let trimmed = line.strip_suffix('\n').unwrap_or(&line);
        trimmed.strip_suffix('\r').unwrap_or(trimmed).to_string()
    } else {
        let first = rpassword::prompt_password("password: ")?;
        let again = rpassword::prompt_password("again: ")?;
        if first != again {
            bail!("the passwords differ");
        }
        first
    };
    if password.is_empty() {
        bail!("empty password");
    }
    Ok(password)
}
