//! `kino-server`: parses flags, composes core with the plugins of this build, and serves until
//! SIGINT or SIGTERM. `kino-server user add NAME [--admin]` creates accounts offline;
//! `kino-server check [--repair]` checks the data directory.

mod plugins;

use std::io::{BufRead, Write};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use kino_server::config::{self, Operator, UserAction};
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
    let plugins = plugins::all();
    let settings = Registry::settings(&plugins)?;
    let (cli, config) = config::from_args(&settings)?;
    if let Some(Operator::Commands) = cli.command {
        let registry = Registry::build(kino_server::builtins::commands(), plugins)?;
        print!("{}", kino_server::docgen::commands_markdown(&registry));
        return Ok(());
    }
    if let Some(Operator::Check { repair }) = cli.command {
        // Repairs move files: never under a running server. A plain check only reads.
        let _lock = match repair {
            true => Some(kino_server::store::lock::take(&config.data).map_err(anyhow::Error::msg)?),
            false => None,
        };
        let blobs =
            kino_server::store::BlobsAt::from_config(&config).map_err(anyhow::Error::msg)?;
        let report = kino_server::store::check::run(&config.data, &blobs, &plugins, repair)
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
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", server.local_addr())?;
    for (setting, addr) in server.plugin_listener_addrs() {
        writeln!(out, "{setting} {addr}")?;
    }
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
