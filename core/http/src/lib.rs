//! `kino-http`: the web face of a Kino server. Every command of the registry is reachable as
//! `POST /api/<command>` (the same request and reply JSON as on the native port), movies stream
//! from `GET /movies/<id>` with `Range`, and `/` serves the page (embedded HTML, CSS and JS).
//!
//! Why a small HTTP/1.1 server of its own, on threads of its own, rather than the mio loop or
//! a framework: the loop's strength is many tiny framed requests on few threads, while a browser
//! holds few connections that mostly stream (video ranges, uploads) and wait (the free-download
//! wait); blocking threads make those simple, and they can never stall the native port. Parsing
//! is `httparse` (the zero-copy parser under hyper), which needs no async runtime; the rest of
//! HTTP/1.1 the gateway needs is small and every part of it is bounded by a flag:
//! - connections: `--http-max-connections` threads at most, `--http-max-connections-per-ip`
//!   from one address (the one past either gets 503 and is closed), each with one head buffer of at most `--http-max-header` bytes (431 past it);
//! - bodies: a command's JSON at most `--http-max-body` (413), uploads at most `--max-upload`
//!   and streamed to the handler, never buffered; chunked requests get 411;
//! - time: `--http-idle-timeout` for the silence before a request, a whole request head, and
//!   any stall in a body or a response;
//! - work: at most `--http-max-handlers` commands run at once (waiting `--http-handler-wait`
//!   for a place, then 503) and uploads take one of `--max-transfers` places ([`gate`]), so
//!   the cores and database connections web clients can hold do not grow with the connections;
//! - keep-alive: every response has a `Content-Length`, so a connection serves request after
//!   request (a body a handler left unread closes it instead).
//!
//! A request runs through [`kino_server::gateway::Gateway::call`], the same checks, handler
//! runner, counters and log lines as the native loop, on the connection's thread with a
//! database connection from a small pool, once it has a place at the [`gate`]. The rules of sessions (cookies, CSRF, bearer
//! tokens), error statuses and movie streaming are in [`api`] and [`movies`]; docs/web.md has
//! the whole picture.
//!
//! Layout: [`wire`] (HTTP framing), [`range`] (`Range`), [`api`] (`/api`), `reply` (answers to
//! responses), [`movies`] (`/movies/<id>`), [`page`] (the embedded page).

mod admit;
pub mod api;
pub mod gate;
pub mod movies;
pub mod page;
pub mod range;
mod reply;
pub mod wire;

use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use kino_server::gateway::Gateway;
use kino_server::stats::ServerStats;
use kino_server::store::AnyDb;

use crate::wire::{Conn, NextHead};

/// Idle database connections kept for the next HTTP connection; more are closed.
const IDLE_DBS: usize = 8;

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// `--http-listen` cannot be bound.
    #[error("--http-listen {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
}

/// What every connection thread shares.
pub struct Shared {
    /// The server's entry point.
    pub gateway: Gateway,
    admission: Arc<admit::Admission>,
    dbs: Mutex<Vec<AnyDb>>,
    handlers: Arc<gate::Gate>,
    uploads: Arc<gate::Gate>,
    /// The connection fast commands are given (they cannot use it: their context has no
    /// database), so `ping` and `help` neither queue for a handler place nor take a lease.
    fast_db: Mutex<Option<AnyDb>>,
}

impl Shared {
    fn take_db(&self) -> Result<AnyDb, kino_api::DbError> {
        let idle = self.dbs.lock().unwrap_or_else(|p| p.into_inner()).pop();
        match idle {
            Some(db) => Ok(db),
            None => self.gateway.open_db(),
        }
    }

    fn give_db(&self, db: AnyDb) {
        let mut dbs = self.dbs.lock().unwrap_or_else(|p| p.into_inner());
        if dbs.len() < IDLE_DBS {
            dbs.push(db);
        }
    }
}

/// A running gateway.
pub struct HttpServer {
    addr: SocketAddr,
}

impl HttpServer {
    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The page's address, for people.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }
}

/// Binds `--http-listen` and serves on threads of its own; `None` when it is `off`.
pub fn start(gateway: Gateway) -> Result<Option<HttpServer>, HttpError> {
    let addr = gateway.limits().http_listen.trim().to_string();
    if addr.eq_ignore_ascii_case("off") || addr.is_empty() {
        return Ok(None);
    }
    let bind_err = |source| HttpError::Bind {
        addr: addr.clone(),
        source,
    };
    let listener = match TcpListener::bind(&addr) {
        Ok(l) => l,
        // Several servers on one machine (tests, a cluster on loopback) would all want the
        // default port: the first gets it, the rest serve without a page and say so. An
        // address the operator chose must bind, or the server does not start.
        Err(e) if addr == kino_server::Limits::default().http_listen => {
            log::warn!("web page off: the default --http-listen {addr} is taken ({e}); pass --http-listen ADDR");
            return Ok(None);
        }
        Err(e) => return Err(bind_err(e)),
    };
    let local = listener.local_addr().map_err(bind_err)?;
    let shared = Arc::new(Shared {
        gateway,
        admission: Arc::default(),
        dbs: Mutex::new(Vec::new()),
        handlers: Arc::default(),
        uploads: Arc::default(),
        fast_db: Mutex::new(None),
    });
    std::thread::Builder::new()
        .name("kino-http-accept".into())
        .spawn(move || accept_loop(listener, shared))
        .map_err(bind_err)?;
    log::info!("web page and HTTP gateway on http://{local}/");
    Ok(Some(HttpServer { addr: local }))
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for stream in listener.incoming() {
        let stream = match stream {
            Ok(s) => s,
            Err(e) => {
                log::warn!("http accept: {e}");
                // Out of file descriptors, most likely: let some close.
                std::thread::sleep(std::time::Duration::from_millis(50));
                continue;
            }
        };
        let limits = shared.gateway.limits();
        let ip = stream.peer_addr().ok().map(|a| a.ip());
        let trusted =
            ip.is_some_and(|ip| limits.http_trusted_proxy.iter().any(|n| n.contains(&ip)));
        let caps = (
            limits.http_max_connections,
            limits.http_max_connections_per_ip,
        );
        let ticket = match shared.admission.admit(ip.filter(|_| !trusted), caps) {
            Ok(t) => t,
            Err(why) => {
                refuse_busy(stream, &why);
                continue;
            }
        };
        let one = Arc::clone(&shared);
        let spawned = std::thread::Builder::new()
            .name("kino-http".into())
            .spawn(move || {
                let _ticket = ticket;
                let stats = one.gateway.stats();
                ServerStats::add(&stats.http_connections, 1);
                serve(stream, &one);
                ServerStats::sub(&stats.http_connections, 1);
            });
        if let Err(e) = spawned {
            log::error!("spawning an http thread: {e}");
        }
    }
}

fn refuse_busy(stream: TcpStream, why: &str) {
    let limits_idle = std::time::Duration::from_secs(1);
    let body = api::error_json(kino_proto::ErrorCode::Busy, why);
    let mut conn = Conn::new(stream, 1, limits_idle);
    let headers = [
        ("Content-Type", "application/json".to_string()),
        ("Retry-After", "1".to_string()),
    ];
    let _ = wire::respond(&mut conn, 503, &headers, &body, false);
}

/// Per-connection state a request handler sees.
pub struct Client {
    /// The client's address (the proxy's client when the peer is a trusted proxy).
    pub peer: IpAddr,
    /// The request came over TLS to a trusted proxy.
    pub https: bool,
}

/// A database connection lent for one command; back to the pool when dropped, so a
/// connection that streams or waits holds none.
pub struct DbLease<'a> {
    shared: &'a Shared,
    db: Option<AnyDb>,
    /// A command's place, freed after the connection is back in the pool (fields drop
    /// after `Drop::drop`).
    _handler: Option<gate::Handler<'a>>,
    /// An upload's place, likewise.
    _upload: Option<gate::Place>,
}

/// Why no database connection was lent.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    /// Every place is taken: answer 503 `busy` with `Retry-After`.
    #[error("{0}")]
    Busy(String),
    /// The database cannot be reached.
    #[error(transparent)]
    Db(#[from] kino_api::DbError),
}

impl DbLease<'_> {
    /// The connection.
    pub fn db(&mut self) -> Option<&mut AnyDb> {
        self.db.as_mut()
    }
}

impl Drop for DbLease<'_> {
    fn drop(&mut self) {
        if let Some(db) = self.db.take() {
            self.shared.give_db(db);
        }
    }
}

impl Shared {
    /// Lends a database connection for one command, once one of `--http-max-handlers` places
    /// is free (waiting up to `--http-handler-wait`).
    pub fn lease(&self, ip: IpAddr) -> Result<DbLease<'_>, LeaseError> {
        let limits = self.gateway.limits();
        let stats = self.gateway.stats();
        let bound = gate::Bound {
            max: limits.http_max_handlers,
            per_ip: limits.http_max_handlers_per_ip,
        };
        let Some(place) = self.handlers.take(ip, bound, limits.http_handler_wait) else {
            ServerStats::add(&stats.http_busy, 1);
            return Err(LeaseError::Busy(format!(
                "the web gateway is running {} commands, at most {} for one address \
                 (--http-max-handlers, --http-max-handlers-per-ip); try again",
                bound.max, bound.per_ip
            )));
        };
        let handler = gate::Handler::new(place, stats);
        Ok(DbLease {
            shared: self,
            db: Some(self.take_db()?),
            _handler: Some(handler),
            _upload: None,
        })
    }

    /// Lends a database connection without a place, for the download record written when a
    /// body has been sent whole: only a body holding one of `--max-transfers` slots asks, so
    /// these are bounded by that, and a busy gateway never loses a record.
    pub fn transfer_lease(&self) -> Result<DbLease<'_>, LeaseError> {
        Ok(DbLease {
            shared: self,
            db: Some(self.take_db()?),
            _handler: None,
            _upload: None,
        })
    }

    /// Runs `f` with the connection kept for fast commands (opened on first use).
    pub fn with_fast_db<T>(&self, f: impl FnOnce(&mut AnyDb) -> T) -> Result<T, kino_api::DbError> {
        let mut kept = self.fast_db.lock().unwrap_or_else(|p| p.into_inner());
        let db = match kept.as_mut() {
            Some(db) => db,
            None => kept.insert(self.gateway.open_db()?),
        };
        Ok(f(db))
    }

    /// Lends a database connection for an upload, which holds it while its body streams: one
    /// of `--max-transfers` places at once, or `busy` (uploads never queue behind commands).
    pub fn upload_lease(&self, ip: IpAddr) -> Result<DbLease<'_>, LeaseError> {
        let max = self.gateway.limits().max_transfers;
        // Per user, the gateway's --max-transfers-per-user applies once the caller is known.
        let bound = gate::Bound { max, per_ip: max };
        let Some(place) = self.uploads.take(ip, bound, std::time::Duration::ZERO) else {
            ServerStats::add(&self.gateway.stats().http_busy, 1);
            return Err(LeaseError::Busy(format!(
                "the server is running {max} uploads (--max-transfers); try again later"
            )));
        };
        Ok(DbLease {
            shared: self,
            db: Some(self.take_db()?),
            _handler: None,
            _upload: Some(place),
        })
    }
}

fn serve(stream: TcpStream, shared: &Shared) {
    let limits = shared.gateway.limits();
    let Ok(peer) = stream.peer_addr() else {
        return;
    };
    let _ = stream.set_nodelay(true);
    let mut conn = Conn::new(stream, limits.http_max_header, limits.http_idle_timeout);
    let trusted = limits
        .http_trusted_proxy
        .iter()
        .any(|net| net.contains(&peer.ip()));
    let mut client = Client {
        peer: peer.ip(),
        https: false,
    };
    loop {
        let head = match conn.next_head() {
            NextHead::Head(h) => h,
            NextHead::Gone => break,
            NextHead::TooLarge => {
                let max = limits.http_max_header;
                let body = api::error_json(
                    kino_proto::ErrorCode::TooLarge,
                    &format!("the request head is over {max} bytes (--http-max-header)"),
                );
                let _ = api::send_json(&mut conn, 431, &[], &body, false);
                break;
            }
            NextHead::Bad => {
                let body = api::error_json(kino_proto::ErrorCode::BadRequest, "not HTTP/1.1");
                let _ = api::send_json(&mut conn, 400, &[], &body, false);
                break;
            }
        };
        if trusted {
            // A proxy adds its own header line after any the client sent (HAProxy's
            // `option forwardfor`) or appends to the last one (nginx): the last entry of the
            // last line is the address the proxy saw.
            let last = |name: &str| {
                head.headers
                    .iter()
                    .rev()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.as_str())
            };
            client.https = last("x-forwarded-proto")
                .and_then(|p| p.rsplit(',').next())
                .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"));
            client.peer = last("x-forwarded-for")
                .and_then(|v| v.rsplit(',').next())
                .and_then(|a| a.trim().parse().ok())
                .unwrap_or(peer.ip());
        }
        let keep = head.keep_alive;
        match api::route(shared, &mut conn, &mut client, &head) {
            Ok(true) if keep => {}
            Ok(_) => break,
            Err(e) => {
                log::debug!("http {peer}: {e}");
                break;
            }
        }
    }
    conn.close_gracefully();
}
