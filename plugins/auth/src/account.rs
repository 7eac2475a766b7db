//! The account row, and the password policy.

use kino_api::{params, CmdError, Ctx, Database, Identity, Role, Row, Setting};

use crate::names::fold;

/// Longest password accepted (hashing cost grows with length).
pub const MAX_PASSWORD: usize = 1024;

/// Setting: the fewest characters a new password may have.
pub const PASSWORD_MIN_LENGTH: Setting<u64> = Setting::new(
    "password-min-length",
    "Fewest characters in a new password",
    8,
);

/// Checks a new password: at least `min_chars` characters (the `password-min-length`
/// setting), at most [`MAX_PASSWORD`] bytes, and not the account's own name in any case or
/// width (the first thing a guesser tries).
pub fn check_password(password: &str, min_chars: u64, name_key: &str) -> Result<(), CmdError> {
    let chars = password.chars().count() as u64;
    if chars < min_chars.max(1) || password.len() > MAX_PASSWORD {
        return Err(CmdError::bad_args(format!(
            "a password is at least {} characters and at most {MAX_PASSWORD} bytes",
            min_chars.max(1)
        )));
    }
    if fold(password) == name_key {
        return Err(CmdError::bad_args(
            "a password must not be the account's name",
        ));
    }
    Ok(())
}

/// One row of `users`.
pub struct Account {
    /// Row id.
    pub id: i64,
    /// Name as registered (NFKC).
    pub name: String,
    /// The folded name it is unique under.
    pub name_key: String,
    /// `user` or `admin`.
    pub role: Role,
    /// PHC string.
    pub password_hash: String,
    /// Locked by an admin.
    pub locked: bool,
}

const COLUMNS: &str = "SELECT id, name, name_key, role, password_hash, locked FROM users";

impl Account {
    /// Looks an account up by name, folded (any case, any width).
    pub fn find(db: &mut dyn Database, name: &str) -> Result<Option<Account>, CmdError> {
        let sql = format!("{COLUMNS} WHERE name_key = ?");
        db.query_one(&sql, params![fold(name)])?
            .map(|r| Account::from_row(&r))
            .transpose()
    }

    /// Looks an account up by id (the session's user).
    pub fn by_id(db: &mut dyn Database, id: i64) -> Result<Option<Account>, CmdError> {
        let sql = format!("{COLUMNS} WHERE id = ?");
        db.query_one(&sql, params![id])?
            .map(|r| Account::from_row(&r))
            .transpose()
    }

    fn from_row(r: &Row) -> Result<Account, CmdError> {
        Ok(Account {
            id: r.i64(0)?,
            name: r.string(1)?,
            name_key: r.string(2)?,
            role: parse_role(r.str(3)?),
            password_hash: r.string(4)?,
            locked: r.bool(5)?,
        })
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
    fn password_policy() {
        assert!(check_password("long enough", 8, "alice").is_ok());
        assert!(check_password("short", 8, "alice").is_err());
        assert!(check_password("", 0, "alice").is_err());
        assert!(check_password(&"x".repeat(MAX_PASSWORD + 1), 8, "alice").is_err());
        assert!(check_password("ALICEBOB", 8, "alicebob").is_err());
        assert!(check_password("ａｌｉｃｅｂｏｂ", 8, "alicebob").is_err());
        // Characters, not bytes: eight CJK characters are eight.
        assert!(check_password("密码密码密码密码", 8, "alice").is_ok());
    }
}
