//! `ON CONFLICT (expression, ...)` for the guard: `sqlparser` reads only column names there,
//! but plugins infer expression indexes (melody's `ON CONFLICT(ifnull(owner_id, -1), key)`).
//!
//! Such a target is lifted out before the statement is parsed, with a placeholder column in
//! its place; the lifted text is parsed on its own as expressions and checked like any others
//! (functions from the list, no table), and what is written back into the statement is those
//! parsed expressions written out again, never the plugin's text.

use sqlparser::ast::{ConflictTarget, Expr, Ident, OnInsert, Statement};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Location, Token, Tokenizer};

/// The placeholder column for lifted target `i`.
fn placeholder(i: usize) -> String {
    format!("kino_conflict_target_{i}")
}

/// `sql` with every expression conflict target replaced by a placeholder, and the targets
/// (`sql` as it is when there is none).
pub fn lift(sql: &str) -> Result<(String, Vec<String>), ParserError> {
    let tokens = Tokenizer::new(&PostgreSqlDialect {}, sql)
        .tokenize_with_location()
        .map_err(|e| ParserError::TokenizerError(e.to_string()))?;
    let word = |k: usize, w: &str| matches!(&tokens[k].token, Token::Word(x) if x.value.eq_ignore_ascii_case(w));
    let next = |from: usize| {
        (from..tokens.len()).find(|&k| !matches!(tokens[k].token, Token::Whitespace(_)))
    };
    let mut out = String::with_capacity(sql.len());
    let mut copied = 0;
    // Tokens before this one are inside a lifted target.
    let mut copied_token = 0;
    let mut lifted = Vec::new();
    for i in 0..tokens.len() {
        if i < copied_token {
            continue;
        }
        let open = next(i + 1)
            .filter(|&k| word(i, "on") && word(k, "conflict"))
            .and_then(|k| next(k + 1))
            .filter(|&k| tokens[k].token == Token::LParen);
        let Some(open) = open else { continue };
        let mut depth = 0usize;
        let mut nested = false;
        let mut close = None;
        for (k, t) in tokens.iter().enumerate().skip(open) {
            match t.token {
                Token::LParen => {
                    depth += 1;
                    nested |= depth > 1;
                }
                Token::RParen => {
                    depth -= 1;
                    if depth == 0 {
                        close = Some(k);
                        break;
                    }
                }
                _ => {}
            }
        }
        let Some(close) = close.filter(|_| nested) else {
            continue;
        };
        let (Some(from), Some(to)) = (
            byte_at(sql, tokens[open].span.end),
            byte_at(sql, tokens[close].span.start),
        ) else {
            continue;
        };
        out.push_str(&sql[copied..from]);
        out.push_str(&placeholder(lifted.len()));
        lifted.push(sql[from..to].to_owned());
        copied = to;
        copied_token = close;
    }
    out.push_str(&sql[copied..]);
    Ok((out, lifted))
}

/// The byte offset of a tokenizer location (1-based line and column, in characters).
fn byte_at(sql: &str, at: Location) -> Option<usize> {
    let (mut line, mut column) = (1, 1);
    for (i, c) in sql.char_indices() {
        if line == at.line && column == at.column {
            return Some(i);
        }
        if c == '\n' {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
    }
    (line == at.line && column == at.column).then_some(sql.len())
}

/// Parses one lifted target as expressions.
pub fn parse(target: &str) -> Result<Vec<Expr>, ParserError> {
    Parser::new(&PostgreSqlDialect {})
        .try_with_sql(target)?
        .parse_comma_separated(Parser::parse_expr)
}

/// Puts the (checked) expressions of each target back in place of its placeholder; `false`
/// when a placeholder is not where a conflict target of a top-level INSERT is.
pub fn restore(statements: &mut [Statement], targets: &[Vec<Expr>]) -> bool {
    let mut restored = 0;
    for s in statements {
        let Statement::Insert(insert) = s else {
            continue;
        };
        let Some(OnInsert::OnConflict(on)) = &mut insert.on else {
            continue;
        };
        let Some(ConflictTarget::Columns { columns, .. }) = &mut on.conflict_target else {
            continue;
        };
        for col in columns.iter_mut() {
            if let Some(exprs) = (0..targets.len())
                .find(|&i| col.quote_style.is_none() && col.value == placeholder(i))
                .map(|i| &targets[i])
            {
                let text: Vec<String> = exprs.iter().map(ToString::to_string).collect();
                // Written out as is: the text is sqlparser's own rendering of checked expressions.
                *col = Ident::new(text.join(", "));
                restored += 1;
            }
        }
    }
    restored == targets.len()
}
