//! SQLite-flavoured SQL, as plugins write it, into PostgreSQL's dialect.
//!
//! Plugins write one SQL for both backends (`kino_api::db`), so the few differences are
//! translated here, by tokens (string literals, quoted names and comments are copied as they
//! are):
//! - `?` placeholders become `$1`, `$2`, ...
//! - `INTEGER PRIMARY KEY` (SQLite's rowid alias) becomes a 64-bit identity column, other
//!   `INTEGER`s `BIGINT` (SQLite integers are 64-bit), `REAL` `DOUBLE PRECISION`, `BLOB` `BYTEA`;
//! - `COLLATE NOCASE` is dropped: names are compared through their folded `name_key` column;
//! - `ifnull(` becomes `coalesce(`;
//! - `INSERT OR IGNORE INTO ...` becomes `INSERT INTO ... ON CONFLICT DO NOTHING`;
//! - index names get a suffix `_ix` (in `CREATE INDEX` and `DROP INDEX`): PostgreSQL names
//!   the index behind a `UNIQUE` column `<table>_<column>_key`, which a plugin's own index may
//!   already be called;
//! - `LIKE` becomes `ILIKE`, as SQLite's `LIKE` ignores ASCII case (`ESCAPE '\'` means the same
//!   in both).
//!
//! `hex()` and `randomblob()` exist as functions in the database (`compat::FUNCTIONS`).

#[derive(Debug, Clone, PartialEq)]
enum Tok<'a> {
    Word(&'a str),
    /// Whitespace, literals, quoted names, comments, punctuation: copied unchanged.
    Raw(&'a str),
    Param,
}

fn tokenize(sql: &str) -> Vec<Tok<'_>> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let start = i;
        let c = b[i];
        if c.is_ascii_alphabetic() || c == b'_' {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            out.push(Tok::Word(&sql[start..i]));
            continue;
        }
        if c == b'?' {
            out.push(Tok::Param);
            i += 1;
            continue;
        }
        if c == b'\'' || c == b'"' {
            i += 1;
            while i < b.len() {
                if b[i] == c {
                    // A doubled quote is an escaped one, inside the same literal.
                    if i + 1 < b.len() && b[i + 1] == c {
                        i += 2;
                        continue;
                    }
                    break;
                }
                i += 1;
            }
            i = (i + 1).min(b.len());
        } else if c == b'-' && b.get(i + 1) == Some(&b'-') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if c.is_ascii_digit() {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.') {
                i += 1;
            }
        } else {
            // One character (UTF-8 aware: non-ASCII text outside literals is copied whole).
            i += sql[i..].chars().next().map_or(1, char::len_utf8);
        }
        out.push(Tok::Raw(&sql[start..i]));
    }
    out
}

fn is_word(t: Option<&Tok<'_>>, w: &str) -> bool {
    matches!(t, Some(Tok::Word(x)) if x.eq_ignore_ascii_case(w))
}

/// The next non-space token at or after `i`.
fn next_word(toks: &[Tok<'_>], mut i: usize) -> Option<usize> {
    while i < toks.len() {
        match &toks[i] {
            Tok::Raw(r) if r.trim().is_empty() => i += 1,
            _ => return Some(i),
        }
    }
    None
}

/// Translates one statement (or a `;`-separated script) to PostgreSQL.
pub fn translate(sql: &str) -> String {
    let toks = tokenize(sql);
    let mut out = String::with_capacity(sql.len() + 16);
    let mut param = 0;
    // `INSERT OR IGNORE` seen in the current statement: `ON CONFLICT DO NOTHING` goes at its end.
    let mut ignore_pending = false;
    // After `CREATE [UNIQUE] INDEX` / `DROP INDEX`: the next name (past `IF [NOT] EXISTS`).
    let mut index_name_next = false;
    let mut prev_word = "";
    let mut i = 0;
    while i < toks.len() {
        match &toks[i] {
            Tok::Param => {
                param += 1;
                out.push('$');
                out.push_str(&param.to_string());
            }
            Tok::Raw(";") => {
                if ignore_pending {
                    out.push_str(" ON CONFLICT DO NOTHING");
                    ignore_pending = false;
                }
                out.push(';');
            }
            Tok::Raw(r) => out.push_str(r),
            Tok::Word(w) if index_name_next => {
                out.push_str(w);
                if !["if", "not", "exists"]
                    .iter()
                    .any(|k| w.eq_ignore_ascii_case(k))
                {
                    out.push_str("_ix");
                    index_name_next = false;
                }
            }
            Tok::Word(w) => {
                let prev = std::mem::replace(&mut prev_word, w);
                if w.eq_ignore_ascii_case("index")
                    && ["create", "unique", "drop"]
                        .iter()
                        .any(|k| prev.eq_ignore_ascii_case(k))
                {
                    index_name_next = true;
                }
                let after = next_word(&toks, i + 1);
                let at = |k: Option<usize>, word: &str| is_word(k.map(|k| &toks[k]), word);
                if w.eq_ignore_ascii_case("integer") {
                    let key = after.and_then(|k| next_word(&toks, k + 1));
                    if at(after, "primary") && at(key, "key") {
                        out.push_str("BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY");
                        i = key.unwrap_or(i) + 1;
                        continue;
                    }
                    out.push_str("BIGINT");
                } else if w.eq_ignore_ascii_case("real") {
                    out.push_str("DOUBLE PRECISION");
                } else if w.eq_ignore_ascii_case("blob") {
                    out.push_str("BYTEA");
                } else if w.eq_ignore_ascii_case("collate") && at(after, "nocase") {
                    i = after.unwrap_or(i) + 1;
                    continue;
                } else if w.eq_ignore_ascii_case("ifnull") {
                    out.push_str("coalesce");
                } else if w.eq_ignore_ascii_case("like") {
                    out.push_str("ILIKE");
                } else if w.eq_ignore_ascii_case("insert") && at(after, "or") {
                    let what = after.and_then(|k| next_word(&toks, k + 1));
                    if at(what, "ignore") {
                        out.push_str("INSERT");
                        ignore_pending = true;
                        i = what.unwrap_or(i) + 1;
                        continue;
                    }
                    out.push_str(w);
                } else if w.eq_ignore_ascii_case("returning") && ignore_pending {
                    out.push_str("ON CONFLICT DO NOTHING RETURNING");
                    ignore_pending = false;
                } else {
                    out.push_str(w);
                }
            }
        }
        i += 1;
    }
    if ignore_pending {
        out.push_str(" ON CONFLICT DO NOTHING");
    }
    out
}

/// The table an `INSERT` writes to (lower-cased), for finding its id column.
pub fn insert_table(sql: &str) -> Option<String> {
    let toks = tokenize(sql);
    let mut k = next_word(&toks, 0)?;
    if !is_word(toks.get(k), "insert") {
        return None;
    }
    k = next_word(&toks, k + 1)?;
    if is_word(toks.get(k), "or") {
        k = next_word(&toks, next_word(&toks, k + 1)? + 1)?;
    }
    if !is_word(toks.get(k), "into") {
        return None;
    }
    match toks.get(next_word(&toks, k + 1)?)? {
        Tok::Word(t) => Some(t.to_ascii_lowercase()),
        Tok::Raw(q) if q.starts_with('"') => Some(q.trim_matches('"').to_owned()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_skip_literals_and_comments() {
        assert_eq!(
            translate("SELECT '?', \"a?\" FROM t WHERE a = ? AND b LIKE ? ESCAPE '\\' -- ?\n"),
            "SELECT '?', \"a?\" FROM t WHERE a = $1 AND b ILIKE $2 ESCAPE '\\' -- ?\n"
        );
        assert_eq!(translate("SELECT 'it''s ?' , ?"), "SELECT 'it''s ?' , $1");
    }

    #[test]
    fn ddl_types_and_ids() {
        assert_eq!(
            translate("CREATE TABLE t (id INTEGER PRIMARY KEY, n TEXT UNIQUE COLLATE NOCASE, x integer, r REAL, b BLOB)"),
            "CREATE TABLE t (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, n TEXT UNIQUE , x BIGINT, r DOUBLE PRECISION, b BYTEA)"
        );
        assert_eq!(
            translate("CREATE UNIQUE INDEX k ON o(ifnull(owner_id, -1), key)"),
            "CREATE UNIQUE INDEX k_ix ON o(coalesce(owner_id, -1), key)"
        );
        assert_eq!(
            translate(
                "create index if not exists a on t (x); DROP INDEX IF EXISTS a; DROP INDEX b"
            ),
            "create index if not exists a_ix on t (x); DROP INDEX IF EXISTS a_ix; DROP INDEX b_ix"
        );
    }

    #[test]
    fn insert_or_ignore_becomes_on_conflict() {
        assert_eq!(
            translate("INSERT OR IGNORE INTO t (a) VALUES (?); INSERT OR IGNORE INTO u VALUES (1)"),
            "INSERT INTO t (a) VALUES ($1) ON CONFLICT DO NOTHING; INSERT INTO u VALUES (1) ON CONFLICT DO NOTHING"
        );
        assert_eq!(
            translate("insert or ignore into t (a) values (?) returning id"),
            "INSERT into t (a) values ($1) ON CONFLICT DO NOTHING RETURNING id"
        );
        assert_eq!(
            insert_table("INSERT OR IGNORE INTO Movies (a) VALUES (1)").as_deref(),
            Some("movies")
        );
        assert_eq!(
            insert_table(" insert into t(a) values (1)").as_deref(),
            Some("t")
        );
        assert_eq!(insert_table("UPDATE t SET a = 1"), None);
    }
}
