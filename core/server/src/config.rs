//! Configuration: command-line flags over an optional TOML file over defaults. Every setting has
//! a flag `--NAME` and a file key `NAME` (kebab-case); plugin settings join the same scheme.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Arg, ArgAction, ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use kino_api::Setting;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Core limits: each is one field here, which is at once its `--NAME` flag (help from the doc,
/// default from `#[arg]`), its TOML key `NAME` (kebab-case; `_` also accepted) and its value.
/// Durations are whole seconds on the command line and in the file.
#[derive(Debug, Clone, PartialEq, clap::Args, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct Limits {
    /// Largest request frame in bytes
    #[arg(long, default_value_t = 1024 * 1024)]
    pub max_frame: usize,
    /// Largest upload in bytes
    #[arg(long, default_value_t = 16 * 1024 * 1024 * 1024)]
    pub max_upload: u64,
    /// Maximum open connections; past it new ones get `busy`
    #[arg(long, default_value_t = 10_000)]
    pub max_connections: usize,
    /// Seconds a connection may stay silent before its first request, or stall in the middle of
    /// a frame or payload, or leave its replies unread, before it is closed
    #[arg(long, value_name = "SECS", default_value = "30", value_parser = secs::parse)]
    #[serde(with = "secs")]
    pub idle_timeout: Duration,
    /// Seconds a session lives without use
    #[arg(long, value_name = "SECS", default_value = "1800", value_parser = secs::parse)]
    #[serde(with = "secs")]
    pub session_ttl: Duration,
    /// Worker threads for blocking commands
    #[arg(long, default_value_t = 4)]
    pub workers: usize,
    /// Nice levels the CPU-bound threads (workers, upload, download and transcription threads,
    /// script executors) run below the event loop, so the loop gets a core as soon as it has
    /// work (0: the same priority; at most 19)
    #[arg(long, default_value_t = 10)]
    pub pool_nice: u32,
    /// Scheduling policy of the same threads: `normal` (nice levels only) or `idle` (Linux
    /// `SCHED_IDLE`: they run only when no normal thread wants the core, and a waking loop
    /// preempts them at once; they may starve on a host whose cores are full)
    #[arg(long, value_enum, default_value_t = crate::priority::PoolSched::Normal)]
    pub pool_sched: crate::priority::PoolSched,
    /// Largest database file in 4 KiB pages; writes past it answer `unavailable` as on a full
    /// disk while reads go on (0: no cap)
    #[arg(long, default_value_t = 0)]
    pub db_max_pages: u64,
    /// Unsent reply bytes per connection above which its requests are not read (resumed under
    /// a quarter of it), so replies a client never reads cannot pile up
    #[arg(long, default_value_t = 1024 * 1024)]
    pub max_output: usize,
    /// Request frames one connection runs per wake-up before others are served
    #[arg(long, default_value_t = 64)]
    pub wake_budget: usize,
    /// Seconds a request frame may take from its first byte to its last (slowloris)
    #[arg(long, value_name = "SECS", default_value = "30", value_parser = secs::parse)]
    #[serde(with = "secs")]
    pub frame_timeout: Duration,
    /// Open connections per IP address, all listeners together
    #[arg(long, default_value_t = 64)]
    pub max_connections_per_ip: usize,
    /// Uploads and downloads streaming at once (each holds a thread and files)
    #[arg(long, default_value_t = 64)]
    pub max_transfers: usize,
    /// Transfers at once per user (per address when anonymous)
    #[arg(long, default_value_t = 4)]
    pub max_transfers_per_user: usize,
    /// Blobs remembered as verified whole (about 100 bytes each): a download of one of them,
    /// unchanged on disk since, is neither hashed again nor copied through user space (0: hash
    /// every read); the oldest are forgotten first
    #[arg(long, default_value_t = 10_000)]
    pub verified_blobs_max: usize,
    /// Warning lines per second per peer and kind of refusal; the rest are counted
    #[arg(long, default_value_t = 10)]
    pub warn_rate: u32,
    /// Accept-queue length of each listener, capped by /proc/sys/net/core/somaxconn; past it
    /// SYNs are dropped and clients wait a second to retry
    #[arg(long, default_value_t = 1024)]
    pub listen_backlog: u32,
    /// Address or CIDR of a balancer whose connections start with a PROXY protocol header (v1
    /// or v2, HAProxy's `send-proxy-v2`) naming the real client; per-address limits and login
    /// throttles then count that client. Repeat or comma-separate; none by default, and from
    /// anyone else the header is an ordinary bad frame
    #[arg(long, value_name = "ADDR|CIDR", value_delimiter = ',', value_parser = nets::parse)]
    #[serde(deserialize_with = "nets::deserialize")]
    pub proxy_protocol_from: Vec<ipnet::IpNet>,
    /// Seconds a graceful stop (SIGTERM) waits for in-flight requests and transfers
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = secs::parse)]
    #[serde(with = "secs")]
    pub drain_timeout: Duration,
    /// Folder of script plugins, one `NAME/plugin.rhai` each, loaded at start and by
    /// `plugins.reload`; none by default (`scripts/plugins` holds the shipped ones)
    #[arg(long, value_name = "DIR")]
    pub script_plugins: Option<PathBuf>,
    /// Seconds one script call may run (its own running time, not its database waits)
    #[arg(long, value_name = "SECS", default_value = "1", value_parser = secs::parse)]
    #[serde(with = "secs")]
    pub script_timeout: Duration,
    /// rhai operations one script call may run
    #[arg(long, default_value_t = 10_000_000)]
    pub script_max_operations: u64,
    /// Nested function calls inside one script call (recursion)
    #[arg(long, default_value_t = 32)]
    pub script_max_call_levels: usize,
    /// Longest string a script may build, in bytes
    #[arg(long, default_value_t = 1024 * 1024)]
    pub script_max_string: usize,
    /// Most elements of an array a script may build (nested arrays counted together)
    #[arg(long, default_value_t = 100_000)]
    pub script_max_array: usize,
    /// Most entries of an object map a script may build (nested maps counted together)
    #[arg(long, default_value_t = 10_000)]
    pub script_max_map: usize,
    /// Address of the HTTP gateway and web page (kino-http), `off` to serve none. When the
    /// default address is taken the server starts without the page and logs why; an address
    /// given here must bind
    #[arg(long, value_name = "ADDR|off", default_value = "127.0.0.1:8688")]
    pub http_listen: String,
    /// Open HTTP connections; past it new ones get 503 and are closed
    #[arg(long, default_value_t = 256)]
    pub http_max_connections: usize,
    /// Open HTTP connections from one address (a trusted proxy's count only toward
    /// --http-max-connections); past it 503 and closed
    #[arg(long, default_value_t = 32)]
    pub http_max_connections_per_ip: usize,
    /// HTTP commands running at once (each on its connection's thread with a database
    /// connection); the rest wait up to --http-handler-wait, then get 503 `busy`. Uploads
    /// streaming their body count toward --max-transfers instead
    #[arg(long, default_value_t = 4)]
    pub http_max_handlers: usize,
    /// Of --http-max-handlers, how many one client address may hold (behind a trusted proxy,
    /// the forwarded address), so one client cannot keep every other waiting
    #[arg(long, default_value_t = 2)]
    pub http_max_handlers_per_ip: usize,
    /// Seconds an HTTP command waits for one of the --http-max-handlers before 503 `busy`
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = secs::parse)]
    #[serde(with = "secs")]
    pub http_handler_wait: Duration,
    /// Largest HTTP request head (request line and headers) in bytes; past it 431
    #[arg(long, default_value_t = 16 * 1024)]
    pub http_max_header: usize,
    /// Largest HTTP request body of a command that takes no payload, in bytes; past it 413
    /// (upload payloads are bounded by --max-upload)
    #[arg(long, default_value_t = 1024 * 1024)]
    pub http_max_body: usize,
    /// Seconds an HTTP connection may stay silent between requests, or stall in one, before
    /// it is closed
    #[arg(long, value_name = "SECS", default_value = "30", value_parser = secs::parse)]
    #[serde(with = "secs")]
    pub http_idle_timeout: Duration,
    /// Address or CIDR of a reverse proxy (TLS terminator) in front of the HTTP gateway whose
    /// `X-Forwarded-For` and `X-Forwarded-Proto` are believed: the client's address for
    /// throttles, `Secure` cookies under https. Repeat or comma-separate; none by default
    #[arg(long, value_name = "ADDR|CIDR", value_delimiter = ',', value_parser = nets::parse)]
    #[serde(deserialize_with = "nets::deserialize")]
    pub http_trusted_proxy: Vec<ipnet::IpNet>,
}

/// Whole seconds, for durations on the command line and in the file.
mod secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn parse(raw: &str) -> Result<Duration, std::num::ParseIntError> {
        raw.parse().map(Duration::from_secs)
    }

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_secs)
    }
}

/// Networks given as `ADDR/PREFIX` or as one address (`10.0.0.5` is `10.0.0.5/32`), as the
/// flags' help promises; `ipnet` alone accepts only the first.
mod nets {
    use ipnet::IpNet;
    use serde::{Deserialize, Deserializer};

    pub fn parse(raw: &str) -> Result<IpNet, String> {
        let raw = raw.trim();
        raw.parse::<IpNet>()
            .or_else(|_| raw.parse::<std::net::IpAddr>().map(IpNet::from))
            .map_err(|_| format!("`{raw}` is neither an address nor a CIDR network"))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<IpNet>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|raw| parse(raw).map_err(serde::de::Error::custom))
            .collect()
    }
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
            ("script-timeout", u64::from(!self.script_timeout.is_zero())),
            ("script-max-operations", self.script_max_operations),
            ("script-max-call-levels", self.script_max_call_levels as u64),
            ("script-max-string", self.script_max_string as u64),
            ("script-max-array", self.script_max_array as u64),
            ("script-max-map", self.script_max_map as u64),
            ("http-max-connections", self.http_max_connections as u64),
            (
                "http-max-connections-per-ip",
                self.http_max_connections_per_ip as u64,
            ),
            ("http-max-handlers", self.http_max_handlers as u64),
            (
                "http-max-handlers-per-ip",
                self.http_max_handlers_per_ip as u64,
            ),
            ("http-max-header", self.http_max_header as u64),
            ("http-max-body", self.http_max_body as u64),
            (
                "http-idle-timeout",
                u64::from(!self.http_idle_timeout.is_zero()),
            ),
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
            ("script-timeout", self.script_timeout),
            ("http-idle-timeout", self.http_idle_timeout),
            ("http-handler-wait", self.http_handler_wait),
        ] {
            if d > year {
                return Err(format!("--{flag} must be at most a year"));
            }
        }
        if self.pool_nice > crate::priority::MAX_NICE {
            return Err(format!(
                "--pool-nice must be at most {}",
                crate::priority::MAX_NICE
            ));
        }
        if self.max_frame > u32::MAX as usize {
            return Err(format!("--max-frame must be at most {}", u32::MAX));
        }
        Ok(())
    }
}

impl Limits {
    /// What one script call may use.
    pub fn script_limits(&self) -> kino_script::ScriptLimits {
        kino_script::ScriptLimits {
            max_operations: self.script_max_operations,
            max_call_levels: self.script_max_call_levels,
            max_string: self.script_max_string,
            max_array: self.script_max_array,
            max_map: self.script_max_map,
            timeout: self.script_timeout,
        }
    }
}

impl Default for Limits {
    /// The `#[arg]` defaults: the one place a default is written.
    fn default() -> Self {
        #[derive(Parser)]
        struct Defaults {
            #[command(flatten)]
            limits: Limits,
        }
        match Defaults::try_parse_from(["kino-server"]) {
            Ok(d) => d.limits,
            // Only a default that does not parse as its own type gets here: a bug, caught by
            // every test that starts a server.
            Err(e) => panic!("a core limit's default is invalid: {e}"),
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
    /// `--database`: `sqlite:PATH` or `postgres://...`; `None`: `sqlite:<data>/kino.db`.
    pub database: Option<String>,
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
    /// The database `--database` names, or the default file in the data directory.
    pub fn database_url(&self) -> Result<crate::store::DbUrl, String> {
        match &self.database {
            Some(url) => crate::store::DbUrl::parse(url),
            None => Ok(crate::store::DbUrl::default_for(&self.data)),
        }
    }

    /// Defaults: 127.0.0.1:1688, data in `data`.
    pub fn new(data: impl Into<PathBuf>) -> Self {
        Config {
            listen: format!("127.0.0.1:{}", kino_proto::DEFAULT_PORT),
            data: data.into(),
            database: None,
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

/// The command line; `C` is the binary's operator subcommands (core names none of them).
#[derive(Debug, Parser)]
#[command(name = "kino-server", version, about = "The Kino command server")]
pub struct Cli<C: Subcommand> {
    /// Address to listen on (port 0: pick a free port and print it on the first line)
    #[arg(long, global = true)]
    pub listen: Option<String>,
    /// Data directory (database, blobs)
    #[arg(long, global = true)]
    pub data: Option<PathBuf>,
    /// Database: sqlite:PATH or postgres://USER:PASS@HOST:PORT/DB (`?host=/run/postgresql` for a
    /// socket) [default: sqlite:<data>/kino.db]
    #[arg(long, global = true)]
    pub database: Option<String>,
    /// Blob storage: file:PATH or s3://BUCKET?endpoint=http://HOST:PORT&region=R (credentials
    /// from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or the config file) [default: file:<data>/blobs]
    #[arg(long, global = true)]
    pub blobs: Option<String>,
    /// TOML file with the same keys as these flags
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// Core limits, one flag each
    #[command(flatten)]
    pub limits: Limits,
    /// Operator commands instead of serving
    #[command(subcommand)]
    pub command: Option<C>,
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
pub fn from_args<C: Subcommand>(settings: &[Setting]) -> Result<(Cli<C>, Config), ConfigError> {
    let matches = command::<C>(settings).get_matches();
    merge(&matches, settings)
}

/// The whole command line: core flags, `C`, and one flag per plugin setting.
pub fn command<C: Subcommand>(settings: &[Setting]) -> clap::Command {
    let mut cmd = Cli::<C>::command();
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
    cmd
}

/// Defaults, then the `--config` file, then what the command line gave.
pub fn merge<C: Subcommand>(
    matches: &ArgMatches,
    settings: &[Setting],
) -> Result<(Cli<C>, Config), ConfigError> {
    let cli = Cli::from_arg_matches(matches).map_err(|e| ConfigError::Invalid(e.to_string()))?;
    let mut config = Config::new("data");
    if let Some(path) = &cli.config {
        apply_file(&mut config, path, settings)?;
    }
    apply_cli(&mut config, &cli, matches, settings)?;
    Ok((cli, config))
}

fn apply_cli<C: Subcommand>(
    config: &mut Config,
    cli: &Cli<C>,
    matches: &ArgMatches,
    settings: &[Setting],
) -> Result<(), ConfigError> {
    if let Some(v) = &cli.listen {
        config.listen = v.clone();
    }
    if let Some(v) = &cli.data {
        config.data = v.clone();
    }
    if let Some(v) = &cli.database {
        config.database = Some(v.clone());
    }
    if let Some(v) = &cli.blobs {
        config.blobs = Some(v.clone());
    }
    // Only the limits typed on the command line override the file's; the rest keep it.
    let typed = Limits::augment_args(clap::Command::new("limits"));
    let given: Vec<String> = typed
        .get_arguments()
        .map(|a| a.get_id().as_str())
        .filter(|id| matches.value_source(id) == Some(clap::parser::ValueSource::CommandLine))
        .map(|id| id.replace('_', "-"))
        .collect();
    if !given.is_empty() {
        let internal = |e: serde_json::Error| ConfigError::Invalid(format!("limits: {e}"));
        let from_cli = serde_json::to_value(&cli.limits).map_err(internal)?;
        let mut merged = serde_json::to_value(&config.limits).map_err(internal)?;
        for key in &given {
            merged[key.as_str()] = from_cli[key.as_str()].clone();
        }
        config.limits = serde_json::from_value(merged).map_err(internal)?;
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
    let invalid =
        |e: &dyn std::fmt::Display| ConfigError::Invalid(format!("{}: {e}", path.display()));
    // The limits the file sets, over the ones `config` has; the other keys are paths and
    // plugin settings.
    let mut limits = toml::Table::try_from(&config.limits).map_err(|e| invalid(&e))?;
    for (key, value) in table {
        let key = key.replace('_', "-");
        match key.as_str() {
            "listen" => config.listen = value.as_str().ok_or_else(|| bad(&key))?.into(),
            "data" => config.data = value.as_str().ok_or_else(|| bad(&key))?.into(),
            "database" => config.database = Some(value.as_str().ok_or_else(|| bad(&key))?.into()),
            "blobs" => config.blobs = Some(value.as_str().ok_or_else(|| bad(&key))?.into()),
            "aws-access-key-id" => {
                config.s3_credentials.0 = Some(value.as_str().ok_or_else(|| bad(&key))?.into())
            }
            "aws-secret-access-key" => {
                config.s3_credentials.1 = Some(value.as_str().ok_or_else(|| bad(&key))?.into())
            }
            other if settings.iter().any(|s| s.name == other) => {
                let json = serde_json::to_value(&value).map_err(|_| bad(other))?;
                config.settings.insert(other.into(), json);
            }
            _ => {
                limits.insert(key, value);
            }
        }
    }
    config.limits = Limits::deserialize(toml::Value::Table(limits)).map_err(|e| invalid(&e))?;
    Ok(())
}

#[cfg(test)]
mod tests;
