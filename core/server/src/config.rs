//! Configuration: command-line flags over an optional TOML file over defaults. Every setting has
//! a flag `--NAME` and a file key `NAME` (kebab-case); plugin settings join the same scheme.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Arg, ArgAction, ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand};
use kino_api::Setting;
use serde_json::Value;

/// Core limits.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request frame body, bytes.
    pub max_frame: usize,
    /// Largest upload payload, bytes.
    pub max_upload: u64,
    /// Open connections beyond which new ones get `busy`.
    pub max_connections: usize,
    /// A half-sent frame or payload idle this long closes the connection.
    pub idle_timeout: Duration,
    /// Sessions end after this long unused.
    pub session_ttl: Duration,
    /// Worker threads for blocking commands.
    pub workers: usize,
    /// Largest database file, in SQLite pages (4 KiB each); 0: no cap. Writes past it answer
    /// `unavailable` as on a full disk, while reads go on (a quota for the database file).
    pub db_max_pages: u64,
    /// Unsent reply bytes on one connection above which its input is no longer read (resumed
    /// under a quarter of it), so replies a client never reads cannot pile up.
    pub max_output: usize,
    /// Request frames one connection may run per wake-up before the loop serves the others.
    pub wake_budget: usize,
    /// A request frame must arrive whole within this long of its first byte (slowloris).
    pub frame_timeout: Duration,
    /// Open connections from one IP address, on every listener together.
    pub max_connections_per_ip: usize,
    /// Uploads and downloads streaming at once (each holds a thread and files).
    pub max_transfers: usize,
    /// Transfers one user (or, when anonymous, one address) may have at once.
    pub max_transfers_per_user: usize,
    /// Warning lines per second for one peer and kind of refusal; the rest are counted.
    pub warn_rate: u32,
    /// Connections the kernel may hold completed but not yet accepted (capped by
    /// `net.core.somaxconn`); past it, SYNs are dropped and clients wait a second to retry.
    pub listen_backlog: u32,
}

impl Limits {
    /// Refuses settings that would make the server unusable or unbounded, naming the flag.
    pub fn validate(&self) -> Result<(), String> {
        let positive = [
            ("max-frame", self.max_frame as u64),
            ("max-connections", self.max_connections as u64),
            ("workers", self.workers as u64),
            ("max-output", self.max_output as u64),
            ("wake-budget", self.wake_budget as u64),
            ("max-connections-per-ip", self.max_connections_per_ip as u64),
            ("max-transfers", self.max_transfers as u64),
            ("max-transfers-per-user", self.max_transfers_per_user as u64),
            ("warn-rate", u64::from(self.warn_rate)),
            ("listen-backlog", u64::from(self.listen_backlog)),
            ("idle-timeout", u64::from(!self.idle_timeout.is_zero())),
            ("frame-timeout", u64::from(!self.frame_timeout.is_zero())),
            ("session-ttl", u64::from(!self.session_ttl.is_zero())),
        ];
        if let Some((flag, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return Err(format!("--{flag} must be at least 1"));
        }
        if self.max_output < self.max_frame {
            return Err(format!(
                "--max-output ({}) must be at least --max-frame ({})",
                self.max_output, self.max_frame
            ));
        }
        // Durations beyond this overflow `Instant` arithmetic; nobody means more than a year.
        let year = Duration::from_secs(366 * 24 * 3600);
        for (flag, d) in [
            ("idle-timeout", self.idle_timeout),
            ("frame-timeout", self.frame_timeout),
            ("session-ttl", self.session_ttl),
        ] {
            if d > year {
                return Err(format!("--{flag} must be at most a year"));
            }
        }
        if self.max_frame > u32::MAX as usize {
            return Err(format!("--max-frame must be at most {}", u32::MAX));
        }
        Ok(())
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_frame: 1024 * 1024,
            max_upload: 16 * 1024 * 1024 * 1024,
            max_connections: 10_000,
            idle_timeout: Duration::from_secs(30),
            session_ttl: Duration::from_secs(30 * 60),
            workers: 4,
            db_max_pages: 0,
            max_output: 1024 * 1024,
            wake_budget: 64,
            frame_timeout: Duration::from_secs(30),
            max_connections_per_ip: 64,
            max_transfers: 64,
            max_transfers_per_user: 4,
            warn_rate: 10,
            listen_backlog: 1024,
        }
    }
}

/// Everything the server needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on; port 0 picks a free one.
    pub listen: String,
    /// Data directory: `kino.db`, `blobs/`, `tmp/`.
    pub data: PathBuf,
    /// Core limits.
    pub limits: Limits,
    /// Plugin settings given by flag or file; the rest take their defaults.
    pub settings: BTreeMap<String, Value>,
    /// Where blobs live: `file:PATH` or `s3://BUCKET?endpoint=…&region=…` (`None`:
    /// `<data>/blobs`).
    pub blobs: Option<String>,
    /// S3 access key id and secret from the config file; the environment's
    /// `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` win. Never a flag: flags show in `ps`.
    pub s3_credentials: (Option<String>, Option<String>),
}

impl Config {
    /// Defaults: 127.0.0.1:1688, data in `data`.
    pub fn new(data: impl Into<PathBuf>) -> Self {
        Config {
            listen: format!("127.0.0.1:{}", kino_proto::DEFAULT_PORT),
            data: data.into(),
            limits: Limits::default(),
            settings: BTreeMap::new(),
            blobs: None,
            s3_credentials: (None, None),
        }
    }

    /// Sets a plugin setting.
    pub fn setting(mut self, name: &str, value: Value) -> Self {
        self.settings.insert(name.into(), value);
        self
    }
}

/// The command line.
#[derive(Debug, Parser)]
#[command(name = "kino-server", version, about = "The Kino command server")]
pub struct Cli {
    /// Address to listen on (port 0: pick a free port and print it on the first line)
    #[arg(long, global = true)]
    pub listen: Option<String>,
    /// Data directory (database, blobs)
    #[arg(long, global = true)]
    pub data: Option<PathBuf>,
    /// TOML file with the same keys as these flags
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// Blob storage: `file:PATH` or `s3://BUCKET?endpoint=http://HOST:PORT&region=R` (credentials
    /// from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or the config file) [default: file:<data>/blobs]
    #[arg(long, global = true)]
    pub blobs: Option<String>,
    /// Maximum open connections [default: 10000]
    #[arg(long)]
    pub max_connections: Option<usize>,
    /// Seconds a connection may stay silent before its first request, or stall in the middle of
    /// a frame or payload, or leave its replies unread, before it is closed [default: 30]
    #[arg(long)]
    pub idle_timeout: Option<u64>,
    /// Seconds a request frame may take from its first byte to its last [default: 30]
    #[arg(long)]
    pub frame_timeout: Option<u64>,
    /// Unsent reply bytes per connection above which its requests are not read [default: 1048576]
    #[arg(long)]
    pub max_output: Option<usize>,
    /// Request frames one connection runs per wake-up before others are served [default: 64]
    #[arg(long)]
    pub wake_budget: Option<usize>,
    /// Open connections per IP address, all listeners together [default: 64]
    #[arg(long)]
    pub max_connections_per_ip: Option<usize>,
    /// Accept-queue length of each listener, capped by /proc/sys/net/core/somaxconn [default: 1024]
    #[arg(long)]
    pub listen_backlog: Option<u32>,
    /// Uploads and downloads streaming at once [default: 64]
    #[arg(long)]
    pub max_transfers: Option<usize>,
    /// Transfers at once per user (per address when anonymous) [default: 4]
    #[arg(long)]
    pub max_transfers_per_user: Option<usize>,
    /// Warning lines per second per peer and kind of refusal; the rest are counted [default: 10]
    #[arg(long)]
    pub warn_rate: Option<u32>,
    /// Seconds a session lives without use [default: 1800]
    #[arg(long)]
    pub session_ttl: Option<u64>,
    /// Largest request frame in bytes [default: 1048576]
    #[arg(long)]
    pub max_frame: Option<usize>,
    /// Largest upload in bytes [default: 17179869184]
    #[arg(long)]
    pub max_upload: Option<u64>,
    /// Worker threads for blocking commands [default: 4]
    #[arg(long)]
    pub workers: Option<usize>,
    /// Largest database file in 4 KiB pages; writes past it answer `unavailable` (0: no cap) [default: 0]
    #[arg(long)]
    pub db_max_pages: Option<u64>,
    /// Operator commands instead of serving
    #[command(subcommand)]
    pub command: Option<Operator>,
}

/// Operator commands, run against the data directory without serving.
#[derive(Debug, Subcommand)]
pub enum Operator {
    /// Print the command reference (docs/commands.md) of this build, as Markdown
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
}

/// `kino-server user ...`.
#[derive(Debug, Subcommand)]
pub enum UserAction {
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

/// Why the configuration is unusable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML, or a key is unknown or of the wrong type.
    #[error("{0}")]
    Invalid(String),
}

/// Parses the command line (exiting on `--help` or a usage error) and merges the config file.
pub fn from_args(settings: &[Setting]) -> Result<(Cli, Config), ConfigError> {
    let mut cmd = Cli::command();
    for s in settings {
        // Not global: `kino-server user add --help` lists the account flags, not every
        // plugin's serving settings.
        let arg = Arg::new(s.name).long(s.name).help(s.help.to_string());
        cmd = cmd.arg(if s.default.is_boolean() {
            arg.action(ArgAction::SetTrue)
        } else {
            arg.action(ArgAction::Set)
                .value_name("VALUE")
                .help(format!("{} [default: {}]", s.help, s.default))
        });
    }
    let matches = cmd.get_matches();
    let cli = Cli::from_arg_matches(&matches).map_err(|e| ConfigError::Invalid(e.to_string()))?;
    let mut config = Config::new("data");
    if let Some(path) = &cli.config {
        apply_file(&mut config, path, settings)?;
    }
    apply_cli(&mut config, &cli, &matches, settings)?;
    Ok((cli, config))
}

fn apply_cli(
    config: &mut Config,
    cli: &Cli,
    matches: &ArgMatches,
    settings: &[Setting],
) -> Result<(), ConfigError> {
    let l = &mut config.limits;
    if let Some(v) = &cli.listen {
        config.listen = v.clone();
    }
    if let Some(v) = &cli.data {
        config.data = v.clone();
    }
    if let Some(v) = &cli.blobs {
        config.blobs = Some(v.clone());
    }
    if let Some(v) = cli.max_connections {
        l.max_connections = v;
    }
    if let Some(v) = cli.idle_timeout {
        l.idle_timeout = Duration::from_secs(v);
    }
    if let Some(v) = cli.session_ttl {
        l.session_ttl = Duration::from_secs(v);
    }
    if let Some(v) = cli.max_frame {
        l.max_frame = v;
    }
    if let Some(v) = cli.max_upload {
        l.max_upload = v;
    }
    if let Some(v) = cli.workers {
        l.workers = v;
    }
    if let Some(v) = cli.db_max_pages {
        l.db_max_pages = v;
    }
    if let Some(v) = cli.frame_timeout {
        l.frame_timeout = Duration::from_secs(v);
    }
    if let Some(v) = cli.max_output {
        l.max_output = v;
    }
    if let Some(v) = cli.wake_budget {
        l.wake_budget = v;
    }
    if let Some(v) = cli.max_connections_per_ip {
        l.max_connections_per_ip = v;
    }
    if let Some(v) = cli.listen_backlog {
        l.listen_backlog = v;
    }
    if let Some(v) = cli.max_transfers {
        l.max_transfers = v;
    }
    if let Some(v) = cli.max_transfers_per_user {
        l.max_transfers_per_user = v;
    }
    if let Some(v) = cli.warn_rate {
        l.warn_rate = v;
    }
    for s in settings {
        if matches.value_source(s.name) != Some(clap::parser::ValueSource::CommandLine) {
            continue;
        }
        let value = if s.default.is_boolean() {
            Value::Bool(matches.get_flag(s.name))
        } else {
            let raw = matches
                .get_one::<String>(s.name)
                .cloned()
                .unwrap_or_default();
            parse_like(&s.default, &raw).ok_or_else(|| {
                ConfigError::Invalid(format!("--{}: `{raw}` is not valid", s.name))
            })?
        };
        config.settings.insert(s.name.into(), value);
    }
    Ok(())
}

fn parse_like(default: &Value, raw: &str) -> Option<Value> {
    match default {
        Value::String(_) => Some(Value::String(raw.into())),
        Value::Bool(_) => raw.parse::<bool>().ok().map(Value::Bool),
        Value::Number(n) if n.is_u64() => raw.parse::<u64>().ok().map(Value::from),
        Value::Number(n) if n.is_i64() => raw.parse::<i64>().ok().map(Value::from),
        Value::Number(_) => raw.parse::<f64>().ok().map(Value::from),
        _ => serde_json::from_str(raw).ok(),
    }
}

/// Reads a TOML config file into `config`; unknown keys are refused so typos do not pass
/// silently.
pub fn apply_file(
    config: &mut Config,
    path: &Path,
    settings: &[Setting],
) -> Result<(), ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.into(),
        source,
    })?;
    let table: toml::Table = toml::from_str(&text)
        .map_err(|e| ConfigError::Invalid(format!("{}: {e}", path.display())))?;
    let bad =
        |key: &str| ConfigError::Invalid(format!("{}: `{key}` has the wrong type", path.display()));
    for (key, value) in table {
        let key = key.replace('_', "-");
        let l = &mut config.limits;
        let as_u64 = || value.as_integer().and_then(|i| u64::try_from(i).ok());
        match key.as_str() {
            "listen" => config.listen = value.as_str().ok_or_else(|| bad(&key))?.into(),
            "data" => config.data = value.as_str().ok_or_else(|| bad(&key))?.into(),
            "blobs" => config.blobs = Some(value.as_str().ok_or_else(|| bad(&key))?.into()),
            "aws-access-key-id" => {
                config.s3_credentials.0 = Some(value.as_str().ok_or_else(|| bad(&key))?.into())
            }
            "aws-secret-access-key" => {
                config.s3_credentials.1 = Some(value.as_str().ok_or_else(|| bad(&key))?.into())
            }
            "max-connections" => l.max_connections = as_u64().ok_or_else(|| bad(&key))? as usize,
            "idle-timeout" => {
                l.idle_timeout = Duration::from_secs(as_u64().ok_or_else(|| bad(&key))?)
            }
            "session-ttl" => {
                l.session_ttl = Duration::from_secs(as_u64().ok_or_else(|| bad(&key))?)
            }
            "max-frame" => l.max_frame = as_u64().ok_or_else(|| bad(&key))? as usize,
            "max-upload" => l.max_upload = as_u64().ok_or_else(|| bad(&key))?,
            "workers" => l.workers = as_u64().ok_or_else(|| bad(&key))? as usize,
            "db-max-pages" => l.db_max_pages = as_u64().ok_or_else(|| bad(&key))?,
            "frame-timeout" => {
                l.frame_timeout = Duration::from_secs(as_u64().ok_or_else(|| bad(&key))?)
            }
            "max-output" => l.max_output = as_u64().ok_or_else(|| bad(&key))? as usize,
            "wake-budget" => l.wake_budget = as_u64().ok_or_else(|| bad(&key))? as usize,
            "max-connections-per-ip" => {
                l.max_connections_per_ip = as_u64().ok_or_else(|| bad(&key))? as usize
            }
            "max-transfers" => l.max_transfers = as_u64().ok_or_else(|| bad(&key))? as usize,
            "listen-backlog" => {
                l.listen_backlog = as_u64()
                    .and_then(|v| u32::try_from(v).ok())
                    .ok_or_else(|| bad(&key))?
            }
            "max-transfers-per-user" => {
                l.max_transfers_per_user = as_u64().ok_or_else(|| bad(&key))? as usize
            }
            "warn-rate" => {
                l.warn_rate = as_u64()
                    .and_then(|v| u32::try_from(v).ok())
                    .ok_or_else(|| bad(&key))?
            }
            other => {
                if !settings.iter().any(|s| s.name == other) {
                    return Err(ConfigError::Invalid(format!(
                        "{}: unknown key `{other}`",
                        path.display()
                    )));
                }
                let json = serde_json::to_value(&value).map_err(|_| bad(other))?;
                config.settings.insert(other.into(), json);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_keys_override_defaults_and_unknown_keys_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("kino.toml");
        let settings = [Setting {
            name: "free-download-wait",
            help: "",
            default: Value::from(30),
        }];
        std::fs::write(
            &path,
            "listen = \"0.0.0.0:9\"\nmax_connections = 7\nfree-download-wait = 2\n",
        )
        .expect("write");
        let mut c = Config::new("data");
        apply_file(&mut c, &path, &settings).expect("valid");
        assert_eq!(
            (c.listen.as_str(), c.limits.max_connections),
            ("0.0.0.0:9", 7)
        );
        assert_eq!(c.settings.get("free-download-wait"), Some(&Value::from(2)));
        std::fs::write(&path, "lisen = 1\n").expect("write");
        assert!(apply_file(&mut Config::new("d"), &path, &settings).is_err());
        std::fs::write(&path, "max-output = 4096\nwake_budget = 3\n").expect("write");
        let mut c = Config::new("data");
        apply_file(&mut c, &path, &settings).expect("valid");
        assert_eq!((c.limits.max_output, c.limits.wake_budget), (4096, 3));
    }

    #[test]
    fn nonsensical_limits_are_refused_naming_the_flag() {
        assert_eq!(Limits::default().validate(), Ok(()));
        type Spoil = fn(&mut Limits);
        let cases: [(Spoil, &str); 6] = [
            (|l| l.max_frame = 0, "--max-frame"),
            (|l| l.workers = 0, "--workers"),
            (|l| l.max_connections = 0, "--max-connections"),
            (|l| l.max_output = l.max_frame - 1, "--max-output"),
            (|l| l.max_transfers_per_user = 0, "--max-transfers-per-user"),
            (
                |l| l.frame_timeout = Duration::from_secs(u64::MAX),
                "--frame-timeout",
            ),
        ];
        for (spoil, flag) in cases {
            let mut l = Limits::default();
            spoil(&mut l);
            let err = l.validate().expect_err(flag);
            assert!(err.starts_with(flag), "{flag}: {err}");
        }
    }
}
