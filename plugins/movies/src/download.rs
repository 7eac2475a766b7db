//! `movies.download`: streams a movie, after the free-download wait where it applies.
//!
//! Wire form: `{"type":"movies.download","movie_id":3,"offset":0}` →
//! `{id, name, free, size, md5, offset, wait_s, file_size}` followed by `file_size` bytes, where
//! `size` is the whole file and `file_size = size - offset` is what follows (resume with the
//! byte count already saved as `offset`).
//!
//! Rules, as in the original service:
//! - a charged movie needs a purchase first (`movies.buy`), VIP or not;
//! - a free movie downloaded by a non-VIP caller starts only after `--free-download-wait`
//!   seconds; VIP callers and charged movies start at once, and so does a resume of a free
//!   movie whose waited download this user started within `--free-download-resume-window`
//!   seconds (see [`crate::served`]). The server enforces the wait by
//!   holding the reply on the event loop's timer (`Output::not_before`): no thread sleeps, only
//!   this connection waits, and the client cannot skip it. `wait_s` in the reply says how long
//!   it was held, for clients that show a countdown while they wait for it.
//!
//! Core streams the bytes in chunks from the blob store on a thread of its own, with
//! backpressure from the socket; a blob the store verified whole before and finds unchanged
//! goes out by `sendfile` instead, unhashed. The store checks the file against its MD5 as it goes: an
//! altered file ends the download before its last bytes (the connection closes, the client
//! never holds a complete-looking wrong file) and goes to quarantine, and the movie is marked
//! damaged the next time it is looked up. When the last byte has gone out a record is written (user,
//! movie, time, offset, bytes); an interrupted download writes none, and neither does one that
//! sends no byte (`offset` equal to the size).
//!
//! Errors: `not_found` (unknown or deleted movie), `payment_required` (charged movie not
//! bought), `bad_args` (`offset` beyond the end of the file), `unavailable` (the movie is
//! damaged).

use std::sync::Arc;
use std::time::{Duration, Instant};

use kino_api::serde_json::json;
use kino_api::Setting;
use kino_api::{
    log, BlobError, Body, BodyFile, CmdError, Command, CommandArgs, Ctx, ErrorCode, OnComplete,
    Output,
};

use crate::buy::price;
use crate::movie::{damaged, find_servable, mark_damaged, Movie};
use crate::served::{MarkOnStart, Served, Shared, Window};
use crate::{records, services};

/// The longest `--free-download-wait`: one day. Larger values are refused at start-up (a wait
/// near `u64::MAX` seconds overflows the timer's `Instant`).
pub const MAX_WAIT_S: u64 = 24 * 60 * 60;

/// Setting: seconds a non-VIP user waits before a free movie's download starts.
pub const FREE_WAIT: Setting<u64> = Setting::new(
    "free-download-wait",
    "Seconds a non-VIP user waits before a free movie's download starts (at most 86400)",
    30,
);
/// Setting: seconds after a waited download started during which a resume does not wait.
pub const RESUME_WINDOW: Setting<u64> = Setting::new(
    "free-download-resume-window",
    "Seconds after a waited free download started during which the same user resumes that movie without waiting again (0: always wait; at most 86400)",
    600,
);
/// Setting: resume grants kept in memory.
pub const RESUME_MAX: Setting<u64> = Setting::new(
    "free-download-resume-max",
    "Most (user, movie) resume grants kept in memory; the oldest go first",
    10_000,
);

/// How long a download is held: `--free-download-wait` for a free movie and a caller who is
/// not VIP, else nothing.
pub fn wait_s(ctx: &Ctx, free: bool, is_vip: bool) -> u64 {
    if free && !is_vip {
        ctx.setting(FREE_WAIT).min(MAX_WAIT_S)
    } else {
        0
    }
}

/// `--free-download-resume-window` and `--free-download-resume-max`.
pub fn window(ctx: &Ctx) -> Window {
    Window {
        window: Duration::from_secs(ctx.setting(RESUME_WINDOW).min(MAX_WAIT_S)),
        max: usize::try_from(ctx.setting(RESUME_MAX)).unwrap_or(usize::MAX),
    }
}

/// [`wait_s`], except 0 when the caller started a waited download of this movie within the
/// resume window (see [`crate::served`]).
pub fn wait_for(ctx: &Ctx, served: &Served, movie: &Movie, is_vip: bool) -> u64 {
    let wait = wait_s(ctx, movie.free, is_vip);
    let fresh = ctx
        .caller()
        .is_some_and(|who| served.is_fresh(who.user_id, movie.id, window(ctx).window));
    if fresh {
        0
    } else {
        wait
    }
}

/// The spec; waits served are recorded in and read from `served`.
pub fn command(served: Shared) -> Command {
    Command::new(
        "movies.download",
        "Download a movie (free ones: after a wait unless you are VIP)",
        move |ctx, args| download(ctx, args, &served),
    )
    .download()
    .file_name("name")
}

/// `movies.download`'s arguments.
#[derive(CommandArgs)]
pub struct Download {
    /// the movie's id (`id` in movies.list)
    movie_id: u64,
    /// resume from this byte
    #[arg(default = 0u64)]
    offset: u64,
}

fn download(ctx: &mut Ctx, args: Download, served: &Shared) -> Result<Output, CmdError> {
    let movie = find_servable(ctx, args.movie_id)?;
    let offset = args.offset;
    if offset > movie.size {
        return Err(CmdError::bad_args(format!(
            "offset {offset} is beyond the end of the file ({} bytes)",
            movie.size
        )));
    }
    let is_vip = services::is_vip(ctx)?;
    if !movie.free && !services::owns(ctx, movie.id)? {
        return Err(CmdError::new(
            ErrorCode::PaymentRequired,
            format!(
                "movie {} costs {}: buy it first (movies.buy)",
                movie.id,
                price(ctx, is_vip)
            ),
        ));
    }
    let wait_s = wait_for(ctx, served, &movie, is_vip);
    let (source, stored_size, file) = match ctx.blobs().open_for_send(&movie.md5, offset) {
        Ok(opened) => opened,
        Err(BlobError::NotFound(_)) => {
            mark_damaged(ctx.db(), &movie, "its file is missing")?;
            return Err(damaged(&movie));
        }
        Err(e) => return Err(e.into()),
    };
    if stored_size != movie.size {
        drop(source);
        if let Err(e) = ctx.blobs().quarantine(&movie.md5) {
            log::error!("quarantining blob {}: {e}", movie.md5);
        }
        let why = format!("its file is {stored_size} bytes, not {}", movie.size);
        mark_damaged(ctx.db(), &movie, &why)?;
        return Err(damaged(&movie));
    }
    let who = ctx.user()?.clone();
    let movie_id = movie.id;
    let source: Box<dyn std::io::Read + Send> = if wait_s > 0 {
        let (served, grant) = (Arc::clone(served), window(ctx));
        let user_id = who.user_id;
        Box::new(MarkOnStart {
            inner: source,
            mark: Some(Box::new(move || {
                served.record(user_id, movie_id, grant.window, grant.max)
            })),
        })
    } else {
        source
    };
    let on_complete: OnComplete = Box::new(move |ctx: &mut Ctx, sent: u64| {
        if sent == 0 {
            return Ok(());
        }
        records::record(ctx.db(), &who, movie_id, offset, sent)
    });
    let data = json!({
        "id": movie.id,
        "name": movie.name,
        "free": movie.free,
        "size": movie.size,
        "md5": movie.md5,
        "offset": offset,
        "wait_s": wait_s,
    });
    let out = Output::from(data).with_body(Body {
        len: movie.size - offset,
        source,
        on_complete: Some(on_complete),
        file: file.map(|file| BodyFile { file, offset }),
    });
    let until = Instant::now().checked_add(Duration::from_secs(wait_s));
    Ok(match until {
        Some(until) if wait_s > 0 => out.not_before(until),
        _ => out,
    })
}
