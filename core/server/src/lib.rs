//! The Kino server: a mio event loop in front of a registry of plugin commands.
//!
//! [`Core::open`] opens the store, applies every plugin's migrations and builds the command
//! table; [`Core::listen`] binds the socket; [`Server::run`] serves until its
//! [`ShutdownHandle`] is used. Core never names a plugin: the binary (`main.rs`) lists them.
//!
//! Layout:
//! - [`event_loop`]: the readiness loop: accept, read, write, timers, shutdown.
//! - [`conn`] — one connection's buffers and state.
//! - [`dispatch`] — request → checks → handler (inline, pool or transfer thread).
//! - `replies` — results → reply bytes, held replies, streamed bodies, completion hooks.
//! - `framed` — requests on a plugin's own listener, in its framing.
//! - [`registry`] — the command table, name rules, per-command counters.
//! - [`host`] — the `Host` implementation handlers reach through `Ctx`; panic catching.
//! - [`workers`] — the worker pool and the channel + waker back to the loop.
//! - [`pipe`] — bounded byte pipes for streaming uploads and downloads.
//! - [`priority`] — CPU-bound threads below the loop's scheduling priority (`--pool-nice`).
//! - [`transfers`] — slots bounding concurrent uploads and downloads, overall and per user.
//! - [`ratelog`] — rate-limited warnings, so repeated refusals cannot flood the log.
//! - [`session`] — sessions in the database, with a per-node cache.
//! - [`store`] — SQLite or PostgreSQL, migrations, the blob store.
//! - [`builtins`] — `ping`, `help`, `whoami`, `server.info`.
//! - [`config`] — flags, TOML file, defaults.
//! - [`docgen`] — `docs/commands.md` from the registry.
//! - [`gateway`] — the entry point other front ends (HTTP) call, with the loop's checks.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]
pub mod builtins;
mod compat;
pub mod config;
pub mod conn;
mod constant;
pub mod direct;
pub mod dispatch;
pub mod docgen;
pub mod event_loop;
mod framed;
pub mod gateway;
pub mod host;
pub mod lanes;
pub mod pipe;
pub mod priority;
pub mod ratelog;
pub mod registry;
mod replies;
mod resolve;
pub mod scripts;
mod sendfile;
pub mod session;
pub mod stats;
pub mod store;
pub mod transfers;
pub mod workers;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use kino_api::{check_args, CmdError, Ctx, Identity, Plugin, Role, Settings};
use mio::{Poll, Waker};
use serde_json::{Map, Value};

pub use config::{Config, Limits};
pub use registry::Registry;

use crate::dispatch::Dispatcher;
use crate::event_loop::{EventLoop, WAKER};
use crate::host::{run_handler, ServerHost};
use crate::registry::RegistryError;
use crate::session::SessionStore;
use crate::stats::ServerStats;
use crate::store::guard::{self, owner_of};
use crate::store::{migrate, AnyDb};
use crate::workers::{LoopChannel, WorkerPool};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Files, sockets (transparent: the OS error is told once, not again as its own source).
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The data directory cannot be used, or another server uses it.
    #[error("{0}")]
    Data(String),
    /// The database could not be opened.
    #[error("opening the database: {0}")]
    Db(#[from] kino_api::DbError),
    /// A migration failed.
    #[error(transparent)]
    Migrate(#[from] migrate::MigrateError),
    /// The database is damaged, lost while blobs remain, or missing tables.
    #[error(transparent)]
    Unfit(#[from] store::preflight::Unfit),
    /// Bad command or setting names.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// A setting is unknown or of the wrong type.
    #[error("{0}")]
    Setting(String),
    /// A plugin's start hook failed.
    #[error("plugin {plugin} failed to start: {error}")]
    Plugin {
        /// Which.
        plugin: String,
        /// Why.
        error: CmdError,
    },
}

/// The operator, for `kino-server user add` and start hooks: an admin that is not an account.
pub fn operator() -> Identity {
    Identity {
        user_id: 0,
        name: "operator".into(),
        role: Role::Admin,
    }
}

/// An opened store and command table, not yet listening.
pub struct Core {
    host: Arc<ServerHost>,
    config: Config,
    db: AnyDb,
    db_url: store::DbUrl,
    flusher: SessionFlusher,
    scripts_poller: scripts::Poller,
}

fn resolve_settings(
    plugins: &[Arc<dyn Plugin>],
    given: &BTreeMap<String, Value>,
) -> Result<Settings, StartError> {
    let declared = Registry::settings(plugins)?;
    let mut values = BTreeMap::new();
    for s in &declared {
        let v = given
            .get(s.name)
            .cloned()
            .unwrap_or_else(|| s.default.clone());
        let same_type = match (&s.default, &v) {
            (Value::Number(d), Value::Number(n)) => d.is_f64() || !n.is_f64(),
            (d, v) => std::mem::discriminant(d) == std::mem::discriminant(v),
        };
        if !same_type {
            return Err(StartError::Setting(format!(
                "setting `{}` must be like {}, got {v}",
                s.name, s.default
            )));
        }
        values.insert(s.name.to_string(), v);
    }
    if let Some(unknown) = given
        .keys()
        .find(|k| !declared.iter().any(|s| s.name == k.as_str()))
    {
        return Err(StartError::Setting(format!("unknown setting `{unknown}`")));
    }
    Ok(Settings::new(values))
}

impl Core {
    /// Opens the data directory, checks the database (see [`store::preflight`]), applies
    /// migrations, builds the registry, runs start hooks.
    pub fn open(config: Config, plugins: Vec<Arc<dyn Plugin>>) -> Result<Core, StartError> {
        config.limits.validate().map_err(StartError::Setting)?;
        std::fs::create_dir_all(&config.data).map_err(|e| {
            StartError::Data(format!(
                "--data {}: {e}; it must be a directory (it is created if missing)",
                config.data.display()
            ))
        })?;
        let settings = resolve_settings(&plugins, &config.settings)?;
        let blobs_at = store::BlobsAt::from_config(&config).map_err(StartError::Data)?;
        let db_url = config.database_url().map_err(StartError::Setting)?;
        if let Some(path) = db_url.sqlite_path() {
            store::sqlite::set_page_cap(path, config.limits.db_max_pages);
        }
        // Before the database is touched, so a server refused for a missing service leaves it
        // as it was.
        let registry = Registry::build(builtins::commands(), plugins.clone())?;
        let mut db = AnyDb::open(&db_url).map_err(|e| {
            store::preflight::Unfit(format!("the database {db_url} cannot be opened: {e}"))
        })?;
        migrate::apply_all(&mut db, &config.data, &plugins).map_err(|e| match e {
            migrate::MigrateError::Unfit(u) => StartError::Unfit(u),
            e => StartError::Migrate(e),
        })?;
        let host = Arc::new(ServerHost {
            registry,
            sessions: SessionStore::open(&db_url, config.limits.session_ttl)?,
            blobs: blobs_at
                .open(config.limits.verified_blobs_max)
                .map_err(|e| StartError::Data(format!("the blob store cannot be used: {e}")))?,
            settings,
            limits: config.limits.clone(),
            stats: ServerStats::default(),
            started: Instant::now(),
            warns: ratelog::RateLog::new(config.limits.warn_rate),
            scripts: scripts::Scripts::new(
                config.limits.script_plugins.clone(),
                config.limits.script_limits(),
            ),
        });
        let flusher = SessionFlusher::start(Arc::downgrade(&host))?;
        for p in host.registry.plugins() {
            let _owner = guard::enter(Some(owner_of(&**p)));
            let mut ctx = Ctx::new(&*host, &mut db, None, None);
            p.on_start(&mut ctx).map_err(|error| StartError::Plugin {
                plugin: p.name().into(),
                error,
            })?;
        }
        // A broken script does not stop the server: it is logged and listed by `plugins.list`.
        host.scripts.reload(&host.registry, &mut db);
        let scripts_poller = scripts::Poller::start(Arc::downgrade(&host), db_url.clone())?;
        Ok(Core {
            host,
            config,
            db,
            db_url,
            flusher,
            scripts_poller,
        })
    }

    /// The script plugins' commands it loaded, sorted by name (for `kino-server commands`).
    pub fn script_commands(&self) -> Vec<kino_api::CommandInfo> {
        let mut infos = self.host.scripts.infos();
        infos.sort_by(|a, b| a.name.cmp(&b.name));
        infos
    }

    /// Runs a registered command as the operator (e.g. `auth.register` for the first admin).
    pub fn operator_call(&mut self, command: &str, args: Value) -> Result<Value, CmdError> {
        let entry = self
            .host
            .lookup(command)
            .ok_or_else(|| CmdError::not_found(format!("no command `{command}` in this build")))?;
        let fields = match args {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        let args = check_args(&entry.command.info, &fields)?;
        let mut ctx = Ctx::new(&*self.host, &mut self.db, Some(operator()), None);
        run_handler(&entry, &mut ctx, &args).map(|o| o.data)
    }

    /// Binds the listening socket (see [`bind_listener`]). Raises the open-file limit first, so every server (the
    /// binary and the testkit's alike) can reach its connection and transfer limits.
    pub fn listen(self) -> Result<Server, StartError> {
        let lock = store::lock::take(&self.config.data).map_err(StartError::Data)?;
        if self.config.database.is_none() {
            // The default database belongs to this data directory, which the lock makes ours
            // alone: a restart ends every session, as when sessions lived in memory. A database
            // named by --database may be shared with other nodes, whose sessions must live on.
            self.host.sessions.clear()?;
        }
        raise_fd_limit();
        pin_malloc_mmap_threshold();
        let addr: SocketAddr = std::net::ToSocketAddrs::to_socket_addrs(&self.config.listen)?
            .next()
            .ok_or_else(|| StartError::Setting(format!("cannot resolve {}", self.config.listen)))?;
        let backlog = self.config.limits.listen_backlog;
        let std_listener = bind_listener(addr, backlog).map_err(|e| {
            let hint = match e.kind() {
                std::io::ErrorKind::AddrInUse => {
                    "; another program listens there: stop it or pick another with --listen"
                }
                std::io::ErrorKind::PermissionDenied => "; ports below 1024 need privileges",
                _ => "",
            };
            StartError::Data(format!("cannot listen on {addr}: {e}{hint}"))
        })?;
        let local = std_listener.local_addr()?;
        let listener = mio::net::TcpListener::from_std(std_listener);
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let (tx, rx) = crossbeam_channel::unbounded();
        let pool = WorkerPool::start(
            self.config.limits.workers,
            (self.config.limits.pool_nice, self.config.limits.pool_sched),
            self.db_url.clone(),
        )?;
        let stop = Arc::new(AtomicBool::new(false));
        let transfers = transfers::TransferSlots::new(Arc::clone(&self.host));
        let gateway = gateway::Gateway::new(
            Arc::clone(&self.host),
            self.db_url.clone(),
            Arc::clone(&transfers),
        );
        let dispatcher = Dispatcher {
            transfers,
            host: self.host,
            pool,
            chan: LoopChannel::new(tx, Arc::clone(&waker)),
            loop_db: self.db,
            db_url: self.db_url,
            draining: false,
            new_timers: Vec::new(),
            lanes: lanes::Lanes::default(),
        };
        let mut extra = Vec::new();
        let mut extra_addrs = Vec::new();
        for plugin in dispatcher.host.registry.plugins() {
            for l in plugin.listeners(&dispatcher.host.settings) {
                let addr = dispatcher.host.settings.get(l.setting);
                let addr = addr
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .trim()
                    .to_string();
                if addr.is_empty() {
                    continue;
                }
                let std_l = std::net::ToSocketAddrs::to_socket_addrs(&addr)
                    .and_then(|mut a| {
                        a.next()
                            .ok_or_else(|| std::io::Error::other("resolves to no address"))
                    })
                    .and_then(|a| bind_listener(a, dispatcher.host.limits.listen_backlog))
                    .map_err(|e| StartError::Setting(format!("--{} {addr}: {e}", l.setting)))?;
                log::info!(
                    "{} listening on {} (--{})",
                    plugin.name(),
                    std_l.local_addr()?,
                    l.setting
                );
                extra_addrs.push((l.setting, std_l.local_addr()?));
                let framed = conn::FramedBy {
                    plugin: plugin.name().to_string(),
                    framing: l.framing,
                };
                extra.push((mio::net::TcpListener::from_std(std_l), framed));
            }
        }
        let event_loop = EventLoop::new(poll, listener, extra, rx, Arc::clone(&stop), dispatcher)?;
        Ok(Server {
            _lock: lock,
            flusher: self.flusher,
            scripts_poller: self.scripts_poller,
            event_loop,
            local,
            extra_addrs,
            gateway,
            shutdown: ShutdownHandle { stop, waker },
        })
    }
}

/// Writes session idle timers and deletes expired sessions every [`session::RECHECK`], off the
/// loop. Dropping it stops the thread after a last flush and waits for it, so no connection of
/// the server outlives it (a test may move the database's files next).
struct SessionFlusher {
    stop: Option<crossbeam_channel::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SessionFlusher {
    fn start(host: std::sync::Weak<ServerHost>) -> Result<Self, StartError> {
        let (stop, rx) = crossbeam_channel::bounded::<()>(0);
        let thread = std::thread::Builder::new()
            .name("kino-sessions".into())
            .spawn(move || loop {
                let stopping = !matches!(
                    rx.recv_timeout(session::RECHECK),
                    Err(crossbeam_channel::RecvTimeoutError::Timeout)
                );
                match host.upgrade() {
                    Some(h) => h.sessions.flush(session::now_ms()),
                    None => return,
                }
                if stopping {
                    return;
                }
            })?;
        Ok(SessionFlusher {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for SessionFlusher {
    fn drop(&mut self) {
        self.stop.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Stops a running server gracefully from any thread (signal handler thread, tests).
#[derive(Clone)]
pub struct ShutdownHandle {
    stop: Arc<AtomicBool>,
    waker: Arc<Waker>,
}

impl ShutdownHandle {
    /// Stop accepting, finish in-flight work, flush replies, close the database.
    pub fn shutdown(&self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Err(e) = self.waker.wake() {
            log::error!("waking the loop for shutdown: {e}");
        }
    }
}

/// A bound server.
pub struct Server {
    /// This process's claim on the data directory, for as long as it serves.
    _lock: store::lock::DataLock,
    flusher: SessionFlusher,
    scripts_poller: scripts::Poller,
    event_loop: EventLoop,
    local: SocketAddr,
    extra_addrs: Vec<(&'static str, SocketAddr)>,
    gateway: gateway::Gateway,
    shutdown: ShutdownHandle,
}

impl Server {
    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Plugin listeners that were turned on: their setting name and bound address.
    pub fn plugin_listener_addrs(&self) -> &[(&'static str, SocketAddr)] {
        &self.extra_addrs
    }

    /// The entry point for another front end (the HTTP gateway) onto this server's commands.
    pub fn gateway(&self) -> gateway::Gateway {
        self.gateway.clone()
    }

    /// A handle that stops this server.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.shutdown.clone()
    }

    /// Serves until shut down; then waits for the workers and closes the database.
    pub fn run(self) -> std::io::Result<()> {
        let dispatcher = self.event_loop.run()?;
        dispatcher.pool.shutdown();
        drop(self.scripts_poller);
        drop(self.flusher);
        dispatcher.host.sessions.close();
        log::info!("stopped");
        Ok(())
    }
}

/// Pins glibc's mmap threshold. glibc raises it each time a large block is freed (up to 32 MiB),
/// after which argon2's 19 MiB blocks, recordings and transfer buffers come from the per-thread
/// arenas and stay there once freed: `kino-bench soak --clients 8 --secs 15 --attackers 0`
/// peaked at 403 MiB that way, 89 MiB with the threshold pinned (docs/BENCHMARKS.md). Pinning it
/// also turns the dynamic adjustment off.
pub fn pin_malloc_mmap_threshold() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[allow(unsafe_code)]
    // SAFETY: `mallopt` only sets one of glibc's allocator parameters; it takes no pointers.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
    }
}

/// Blocks over this come straight from the kernel and go straight back when freed.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: libc::c_int = 128 * 1024;

/// Raises the open-file soft limit to the hard limit, so `--max-connections` is reachable.
pub fn raise_fd_limit() {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        if soft < hard {
            if let Err(e) = setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
                log::warn!("raising the open-file limit: {e}");
            }
        }
    }
}

/// The kernel's cap on any listen backlog (`net.core.somaxconn`); `None` when unreadable.
fn somaxconn() -> Option<u32> {
    std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// A non-blocking listener with an accept queue of `backlog` (at most `somaxconn`). std's
/// `bind` asks for 128: a burst of more connects than that overflows the queue and those
/// clients stall a second for their SYN retransmit.
pub fn bind_listener(addr: SocketAddr, backlog: u32) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    // As std does: a restarted server can bind while old connections sit in TIME_WAIT.
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    let cap = somaxconn().unwrap_or(backlog).max(1);
    let effective = backlog.min(cap);
    if effective < backlog {
        log::info!("listen backlog {backlog} capped to {effective} by net.core.somaxconn");
    }
    socket.listen(i32::try_from(effective).unwrap_or(i32::MAX))?;
    Ok(socket.into())
}
