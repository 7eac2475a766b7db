//! Account names and rows.

use kino_api::{params, CmdError, Ctx, Database, Identity, Role};

/// Longest account name.
pub const MAX_NAME: usize = 32;
/// Longest password accepted (hashing cost grows with length).
pub const MAX_PASSWORD: usize = 1024;

/// Checks a new account name: 1-32 letters, digits, `_`, `-`, `.`.
pub fn check_name(name: &str) -> Result<(), CmdError> {
    let ok_len = !name.is_empty() && name.chars().count() <= MAX_NAME;
    let ok_chars = name
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if ok_len && ok_chars {
        Ok(())
    } else {
        Err(CmdError::bad_args(format!(
            "a name is 1-{MAX_NAME} letters, digits, `_`, `-` or `.`"
        )))
    }
}

/// Checks a password's length.
pub fn check_password(password: &str) -> Result<(), CmdError> {
    if password.is_empty() || password.len() > MAX_PASSWORD {
        return Err(CmdError::bad_args(format!(
            "a password is 1-{MAX_PASSWORD} bytes"
        )));
    }
    Ok(())
}

/// One row of `users`.
pub struct Account {
    /// Row id.
    pub id: i64,
    /// Name as registered.
    pub name: String,
    /// `user` or `admin`.
    pub role: Role,
    /// PHC string.
    pub password_hash: String,
    /// Locked by an admin.
    pub locked: bool,
    /// Failed logins in a row.
    pub failed_logins: i64,
    /// Unix time before which logins are refused.
    pub cooldown_until: i64,
}

impl Account {
    /// Looks an account up by name (case-insensitive, as names are unique that way).
    pub fn find(db: &mut dyn Database, name: &str) -> Result<Option<Account>, CmdError> {
        let Some(r) = db.query_one(
            "SELECT id, name, role, password_hash, locked, failed_logins, cooldown_until
             FROM users WHERE name = ?",
            params![name],
        )?
        else {
            return Ok(None);
        };
        Ok(Some(Account {
            id: r.i64(0)?,
            name: r.string(1)?,
            role: parse_role(r.str(2)?),
            password_hash: r.string(3)?,
            locked: r.bool(4)?,
            failed_logins: r.i64(5)?,
            cooldown_until: r.i64(6)?,
        }))
    }

    /// The session identity of this account.
    pub fn identity(&self) -> Identity {
        Identity {
            user_id: self.id,
            name: self.name.clone(),
            role: self.role,
        }
    }
}

/// `admin` or anything else (`user`).
pub fn parse_role(s: &str) -> Role {
    if s == "admin" {
        Role::Admin
    } else {
        Role::User
    }
}

/// Finds a named account or answers `not_found`.
pub fn require(ctx: &mut Ctx, name: &str) -> Result<Account, CmdError> {
    Account::find(ctx.db(), name)?.ok_or_else(|| CmdError::not_found(format!("no user `{name}`")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_rules() {
        for ok in ["a", "alice", "bob_2", "x-y.z", "中文", &"n".repeat(32)] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "a b",
            "../x",
            "a/b",
            "tab\t",
            &"n".repeat(33),
            "semi;colon",
        ] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
