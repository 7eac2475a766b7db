//! Login throttling: failed password checks are counted per (account, client address) and per
//! client address across every account, in the database, before the password is checked.
//!
//! Every check of a password (`auth.login`, the old password of `auth.passwd`) first reserves
//! one failure on both counters in a single write transaction; only then is the argon2 hash
//! compared. A right password gives the reservation back. Because the reservation is one
//! `INSERT ... ON CONFLICT DO UPDATE ... WHERE failures < limit RETURNING` per counter inside
//! `BEGIN IMMEDIATE`, concurrent guesses cannot read the same count and all pass: at most
//! `limit` checks run per window, however many arrive at once. When the reservation cannot be
//! written (disk full, a broken database) the password is not checked at all: the login is
//! refused rather than allowed without a trace.
//!
//! Keying the account counter by address means guesses from one address never lock the owner
//! out from another; the address counter stops one address trying a password against many
//! accounts. Unknown names are counted exactly like real ones, so `rate_limited` reveals
//! nothing about which names exist. IPv6 clients are counted by their /64, as one host
//! normally holds a whole /64.

use std::net::IpAddr;

use kino_api::{
    clock, log, params, CmdError, Ctx, Database, DbError, ErrorCode, Setting, Settings,
};

/// Setting: failed checks allowed per (account, address) in a window.
pub const PER_ACCOUNT_ADDRESS: Setting<u64> = Setting::new(
    "login-failures-per-account-address",
    "Failed logins allowed per account from one address in a window",
    5,
);
/// Setting: failed checks allowed per address over every account in a window.
pub const PER_ADDRESS: Setting<u64> = Setting::new(
    "login-failures-per-address",
    "Failed logins allowed from one address (IPv6: one /64) over all accounts in a window",
    20,
);
/// Setting: seconds over which failures are counted.
pub const WINDOW: Setting<u64> = Setting::new(
    "login-window",
    "Seconds over which failed logins are counted",
    900,
);
/// Setting: seconds a counter that reached its limit refuses checks.
pub const COOLDOWN: Setting<u64> = Setting::new(
    "login-cooldown",
    "Seconds logins are refused once a failed-login limit is reached",
    300,
);

const ADDRESS_SCOPE: &str = "address";

/// The limits, read from the plugin's settings.
#[derive(Debug, Clone, Copy)]
struct Limits {
    per_account_address: i64,
    per_address: i64,
    window: i64,
    cooldown: i64,
}

impl Limits {
    fn from(s: &Settings) -> Limits {
        let get = |key| i64::try_from(s.of(key)).unwrap_or(i64::MAX).max(1);
        Limits {
            per_account_address: get(PER_ACCOUNT_ADDRESS),
            per_address: get(PER_ADDRESS),
            window: get(WINDOW),
            cooldown: get(COOLDOWN),
        }
    }
}

/// A reservation made for one password check; give it back with [`Attempt::succeeded`] when the
/// password was right. Dropping it keeps the failure counted.
#[must_use = "a right password must give the reservation back"]
pub struct Attempt {
    account: Option<String>,
    addr: String,
}

/// The counter key of a client address: the address itself, an IPv6 address's /64, or `local`
/// for calls with no socket (the operator).
pub fn address_key(peer: Option<IpAddr>) -> String {
    match peer.map(|ip| ip.to_canonical()) {
        None => "local".into(),
        Some(IpAddr::V4(v4)) => v4.to_string(),
        Some(IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

/// Reserves one failed check for `account_key` (a folded name; `None` when the name cannot
/// exist) from the caller's address, or refuses with `rate_limited` when a counter is spent.
/// The reservation is committed before this returns; any database failure refuses the check.
pub fn reserve(ctx: &mut Ctx, account_key: Option<&str>) -> Result<Attempt, CmdError> {
    let limits = Limits::from(ctx.settings());
    let addr = address_key(ctx.peer());
    let now = clock::unix_now();
    let account = account_key.map(|k| format!("name:{k}"));
    ctx.db()
        .transaction(|db| {
            db.execute(
                "DELETE FROM login_throttle WHERE reset_at <= ?",
                params![now],
            )?;
            charge(db, ADDRESS_SCOPE, &addr, limits.per_address, limits, now)?;
            if let Some(scope) = &account {
                charge(db, scope, &addr, limits.per_account_address, limits, now)?;
            }
            Ok(())
        })
        .map_err(|e: CmdError| {
            if e.code != ErrorCode::RateLimited {
                log::error!("login refused: its attempt could not be recorded: {e}");
            }
            e
        })?;
    Ok(Attempt { account, addr })
}

/// One counter: adds a failure unless the counter is spent; starts it afresh once its window
/// (or cool-down) is over.
fn charge(
    db: &mut dyn Database,
    scope: &str,
    addr: &str,
    limit: i64,
    l: Limits,
    now: i64,
) -> Result<(), CmdError> {
    let first_reset = now + if limit <= 1 { l.cooldown } else { l.window };
    let rows = db
        .query(
            "INSERT INTO login_throttle (scope, addr, failures, reset_at) VALUES (?, ?, 1, ?)
             ON CONFLICT (scope, addr) DO UPDATE SET
               failures = CASE WHEN login_throttle.reset_at <= ? THEN 1
                               ELSE login_throttle.failures + 1 END,
               reset_at = CASE WHEN login_throttle.reset_at <= ? THEN ?
                               WHEN login_throttle.failures + 1 >= ? THEN ?
                               ELSE login_throttle.reset_at END
             WHERE login_throttle.reset_at <= ? OR login_throttle.failures < ?
             RETURNING failures",
            params![
                scope,
                addr,
                first_reset,
                now,
                now,
                first_reset,
                limit,
                now + l.cooldown,
                now,
                limit
            ],
        )
        .map_err(not_recorded)?;
    if !rows.is_empty() {
        return Ok(());
    }
    let until = db
        .query_one(
            "SELECT reset_at FROM login_throttle WHERE scope = ? AND addr = ?",
            params![scope, addr],
        )
        .map_err(not_recorded)?
        .map_or(Ok(now), |r| r.i64(0))?;
    // Debug only: core already writes one rate-limited warning per refused command, and a
    // guesser must not be able to flood the log through this line.
    log::debug!("login attempt refused for {scope} from {addr}: too many failures");
    Err(CmdError::new(
        ErrorCode::RateLimited,
        format!(
            "too many failed logins; try again in {} s",
            (until - now).max(1)
        ),
    ))
}

/// A write that failed is never a user's fault: a constraint here means a broken table, not a
/// taken name.
fn not_recorded(e: DbError) -> CmdError {
    match e {
        DbError::Unique(m) => CmdError::internal(format!("login_throttle: {m}")),
        other => other.into(),
    }
}

impl Attempt {
    /// The password was right: this account's counter at this address starts again, and the
    /// address gets its reserved failure back.
    pub fn succeeded(self, ctx: &mut Ctx) {
        let result = ctx.db().transaction(|db| {
            if let Some(scope) = &self.account {
                db.execute(
                    "DELETE FROM login_throttle WHERE scope = ? AND addr = ?",
                    params![scope, &self.addr],
                )?;
            }
            db.execute(
                "UPDATE login_throttle SET failures = failures - 1
                 WHERE scope = ? AND addr = ? AND failures > 0",
                params![ADDRESS_SCOPE, &self.addr],
            )?;
            Ok::<_, DbError>(())
        });
        // Failing here only leaves a failure counted that was not one: the safe side.
        if let Err(e) = result {
            log::warn!("giving back a login attempt: {e}");
        }
    }
}

/// Forgets every counter of an account (an admin unlocking it).
pub fn clear_account(db: &mut dyn Database, account_key: &str) -> Result<(), DbError> {
    db.execute(
        "DELETE FROM login_throttle WHERE scope = ?",
        params![format!("name:{account_key}")],
    )
    .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_key_by_host_and_ipv6_by_slash_64() {
        assert_eq!(address_key(None), "local");
        assert_eq!(address_key(Some("127.0.0.2".parse().unwrap())), "127.0.0.2");
        assert_eq!(
            address_key(Some("::ffff:10.1.2.3".parse().unwrap())),
            "10.1.2.3"
        );
        assert_eq!(
            address_key(Some("2001:db8:1:2:aaaa::1".parse().unwrap())),
            address_key(Some("2001:db8:1:2:bbbb::9".parse().unwrap()))
        );
        assert_ne!(
            address_key(Some("2001:db8:1:2::1".parse().unwrap())),
            address_key(Some("2001:db8:1:3::1".parse().unwrap()))
        );
    }
}
