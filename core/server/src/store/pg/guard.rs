//! The per-plugin table guard on PostgreSQL: the rule of [`crate::store::guard`] (a plugin
//! touches only the tables it owns), which SQLite's authorizer enforces, enforced here by
//! parsing each statement a plugin sends.
//!
//! Why a parser and not one PostgreSQL role per plugin (`SET ROLE` around each call): a role
//! set with `SET ROLE` is undone by the SQL it guards (`RESET ROLE`, `SET ROLE NONE`,
//! `set_config('role', ...)`), so statements would have to be parsed and filtered anyway; roles
//! are also cluster-wide (two deployments on one cluster would share them), need `CREATEROLE`
//! for the server's login, grants on every table a migration creates, and one more round trip
//! whenever the plugin changes on a connection. Given a parser, roles add cost and no defence.
//!
//! How:
//! - Each statement is parsed once per connection and plugin (`sqlparser`, PostgreSQL dialect)
//!   and the verdict cached, as SQLite caches prepared statements per owner.
//! - What runs is the parsed statement written out again, never the plugin's text: a string,
//!   comment or quoting rule on which the parser and PostgreSQL disagree cannot hide a table
//!   from the check, since PostgreSQL gets exactly what was checked.
//! - Deny by default. Statements: queries, INSERT/UPDATE/DELETE, and CREATE/ALTER/DROP of
//!   tables, indexes and views; nothing else (COPY, SET, DO, PREPARE/EXECUTE, CALL, LOCK,
//!   TRUNCATE, CREATE FUNCTION/TRIGGER, transactions: core runs those). Every table named
//!   anywhere (FROM, JOIN, subqueries, CTE bodies, DML targets, DDL targets, foreign keys) must
//!   be the plugin's, a CTE in scope, and never `pg_*` or schema-qualified. Functions come from
//!   a short list of ones that read no table and no file ([`FUNCTIONS`]), so `pg_read_file`,
//!   `lo_import`, `dblink`, `query_to_xml`, `nextval`, `set_config` or `pg_advisory_lock` are
//!   refused, wherever they appear.
//! - A refusal is [`DbError::Denied`] with SQLite's text and the log line SQLite's authorizer
//!   writes, so a plugin sees the same on both backends.
//! - Core's own statements (no owner) are neither parsed nor changed.

use std::collections::HashMap;
use std::ops::ControlFlow;

use kino_api::DbError;
use sqlparser::ast::Visit;
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

use super::conflict;
use super::walk::Walk;
use crate::store::guard::Owner;

/// Functions a plugin may call: built-ins that compute from their arguments only, and the two
/// `compat` ones core defines (`hex`, `randomblob`).
pub const FUNCTIONS: &[&str] = &[
    "abs",
    "array_agg",
    "avg",
    "bool_and",
    "bool_or",
    "btrim",
    "ceil",
    "ceiling",
    "char_length",
    "coalesce",
    "concat",
    "count",
    "current_date",
    "current_timestamp",
    "dense_rank",
    "encode",
    "every",
    "floor",
    "generate_series",
    "greatest",
    "hex",
    "least",
    "left",
    "length",
    "lower",
    "ltrim",
    "max",
    "md5",
    "min",
    "now",
    "nullif",
    "octet_length",
    "position",
    "random",
    "randomblob",
    "rank",
    "replace",
    "right",
    "round",
    "row_number",
    "rtrim",
    "string_agg",
    "strpos",
    "substr",
    "substring",
    "sum",
    "trim",
    "unnest",
    "upper",
];

/// SQLite's message for a statement its authorizer refused; the plugin sees this on both.
pub const DENIED: &str = "not authorized";

/// A refusal: the log line SQLite's authorizer would write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(pub String);

impl Refusal {
    pub(super) fn table(owner: Owner, table: &str) -> Self {
        Refusal(format!(
            "plugin {} may not touch table `{table}` (its tables are `{0}` and `{0}_*`)",
            owner.plugin
        ))
    }

    pub(super) fn run(owner: Owner, what: &str) -> Self {
        Refusal(format!("plugin {} may not run {what}", owner.plugin))
    }

    /// Logs the refusal and turns it into what the plugin gets.
    pub fn into_error(self) -> DbError {
        log::error!("{}", self.0);
        DbError::Denied(DENIED.into())
    }
}

/// Verdicts per plugin and statement text, for one connection.
#[derive(Default)]
pub struct Verdicts {
    by_plugin: HashMap<&'static str, HashMap<String, Result<String, Refusal>>>,
    len: usize,
}

/// Verdicts kept per connection; plugins' SQL is static, so this is reached only by SQL built on
/// the fly, and then the cache starts over.
const VERDICTS_CAP: usize = 1024;

impl Verdicts {
    /// The SQL to run for `owner`'s statement(s) `key` (the plugin's own text; `translated`
    /// gives PostgreSQL's), or the refusal, already logged.
    pub fn check(
        &mut self,
        owner: Owner,
        key: &str,
        translated: impl FnOnce() -> String,
    ) -> Result<String, DbError> {
        let cached = self.by_plugin.get(owner.plugin).and_then(|m| m.get(key));
        let verdict = match cached {
            Some(v) => v.clone(),
            None => {
                let v = check(owner, &translated());
                if self.len >= VERDICTS_CAP {
                    self.by_plugin.clear();
                    self.len = 0;
                }
                self.len += 1;
                self.by_plugin
                    .entry(owner.plugin)
                    .or_default()
                    .insert(key.to_owned(), v.clone());
                v
            }
        };
        verdict.map_err(Refusal::into_error)
    }
}

/// Checks `sql` (PostgreSQL's dialect) for `owner`; the statements written out again, or why
/// not.
pub fn check(owner: Owner, sql: &str) -> Result<String, Refusal> {
    let unparsed = |e: sqlparser::parser::ParserError| {
        Refusal::run(owner, &format!("SQL the guard cannot parse ({e})"))
    };
    let (sql, targets) = conflict::lift(sql).map_err(unparsed)?;
    let mut statements = Parser::parse_sql(&PostgreSqlDialect {}, &sql).map_err(unparsed)?;
    if statements.is_empty() {
        return Err(Refusal::run(owner, "an empty statement"));
    }
    let mut walk = Walk::new(owner);
    for s in &statements {
        if let ControlFlow::Break(r) = s.visit(&mut walk) {
            return Err(r);
        }
    }
    let mut exprs = Vec::with_capacity(targets.len());
    for t in &targets {
        let parsed = conflict::parse(t).map_err(unparsed)?;
        if let ControlFlow::Break(r) = parsed.visit(&mut walk) {
            return Err(r);
        }
        exprs.push(parsed);
    }
    if !conflict::restore(&mut statements, &exprs) {
        return Err(Refusal::run(
            owner,
            "ON CONFLICT (expression) outside a plain INSERT",
        ));
    }
    Ok(statements
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(";\n"))
}

#[cfg(test)]
#[path = "guard_tests.rs"]
mod tests;
