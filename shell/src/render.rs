//! Showing replies: arrays of objects as aligned tables, objects as `key: value` lines, scalars
//! as themselves; `--json` prints the raw `data`. Errors read `error[code]: message`, in red
//! only when standard error is a terminal.

use std::io::{self, IsTerminal, Write};

use comfy_table::{presets, ContentArrangement, Table};
use serde_json::{json, Value};

use crate::formats::{self, Format};

/// How output looks in this run.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    /// Print `data` as JSON, one value per line, for programs.
    pub json: bool,
    /// Standard output is a terminal (tables fit its width, UTF-8 borders).
    pub tty_out: bool,
    /// Standard error is a terminal (progress bars shown).
    pub tty_err: bool,
    /// Errors in red: on a terminal, and never for piped input.
    pub color: bool,
    /// `--format`; `json` above is true exactly when this is `Json`.
    pub format: Format,
    /// Print the header row of tables, CSV and TSV (`--no-header` turns it off).
    pub header: bool,
}

impl Style {
    /// Decides from the flags and the actual streams.
    pub fn detect(json: bool) -> Style {
        let tty_err = io::stderr().is_terminal();
        Style {
            json,
            tty_out: io::stdout().is_terminal(),
            tty_err,
            color: tty_err,
            format: if json { Format::Json } else { Format::Table },
            header: true,
        }
    }
}

/// Writes one command's result to standard output.
pub fn data(style: Style, value: &Value) -> io::Result<()> {
    let text = match style.format {
        Format::Json => format!("{value}\n"),
        Format::Csv => formats::delimited(value, b',', style.header, LEADING),
        Format::Tsv => formats::delimited(value, b'\t', style.header, LEADING),
        Format::Plain => formats::plain(value, style.header, LEADING),
        Format::Table if !style.header => formats::plain(value, false, LEADING),
        Format::Table => return crate::pager::write(&human(value, style.tty_out)),
    };
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// The human form of a value, ending with a newline (or empty for `null`).
pub fn human(value: &Value, tty: bool) -> String {
    match value {
        Value::Null => String::new(),
        Value::Array(items) if items.is_empty() => "(none)\n".into(),
        Value::Array(items) if items.iter().all(Value::is_object) => table(items, tty),
        Value::Array(items) => items.iter().map(|v| format!("{}\n", cell(v))).collect(),
        Value::Object(map) => {
            let width = map.keys().map(|k| k.chars().count()).max().unwrap_or(0);
            map.iter()
                .map(|(k, v)| format!("{k:<width$}  {}\n", cell(v)))
                .collect()
        }
        other => format!("{}\n", cell(other)),
    }
}

/// Columns that identify a row come first when present; the rest keep the reply's order.
pub(crate) const LEADING: &[&str] = &["id", "name", "command", "role", "usage"];

/// A table whose columns are the union of the objects' keys.
fn table(items: &[Value], tty: bool) -> String {
    let mut columns: Vec<&str> = Vec::new();
    for item in items {
        if let Value::Object(m) = item {
            for k in m.keys() {
                if !columns.contains(&k.as_str()) {
                    columns.push(k);
                }
            }
        }
    }
    columns.sort_by_key(|c| LEADING.iter().position(|l| l == c).unwrap_or(LEADING.len()));
    let mut t = Table::new();
    if tty {
        t.load_style(presets::UTF8_FULL_CONDENSED);
        t.set_content_arrangement(ContentArrangement::Dynamic);
    } else {
        // Off a terminal: plain ASCII, no wrapping, so `grep` and `cut` see whole rows.
        t.load_style(presets::ASCII_BORDERS_ONLY_CONDENSED);
        t.force_no_tty();
    }
    t.set_header(columns.clone());
    for item in items {
        t.add_row(
            columns
                .iter()
                .map(|c| item.get(*c).map(cell).unwrap_or_default())
                .collect::<Vec<_>>(),
        );
    }
    format!("{t}\n")
}

/// One value in a cell or after a key: strings bare, nested values as compact JSON.
pub fn cell(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

/// Writes `error[code]: message` (or `error: message`) to standard error.
pub fn error(style: Style, code: Option<&str>, message: &str) {
    error_at(style, None, code, message)
}

/// Like [`error`], naming where the failed command came from (`<stdin>:LINE`, as psql does).
/// Under `--json` the error is one JSON object: `{"error": {"code", "message", "at"}}`.
pub fn error_at(style: Style, at: Option<&str>, code: Option<&str>, message: &str) {
    if style.json {
        let mut e = json!({"code": code, "message": message});
        if let Some(at) = at {
            e["at"] = json!(at);
        }
        let _ = writeln!(io::stderr().lock(), "{}", json!({ "error": e }));
        return;
    }
    let head = match code {
        Some(c) => format!("error[{c}]"),
        None => "error".to_string(),
    };
    let head = match at {
        Some(at) => format!("{at}: {head}"),
        None => head,
    };
    let head = if style.color {
        format!("\x1b[31m{head}\x1b[0m")
    } else {
        head
    };
    // Standard error closing is not worth reporting anywhere.
    let _ = writeln!(io::stderr().lock(), "{head}: {message}");
}

/// A plain note for people on standard error (skips, summaries): never mixed into results.
pub fn note(message: &str) {
    let _ = writeln!(io::stderr().lock(), "{message}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn objects_are_key_value_lines() {
        assert_eq!(
            human(&json!({"name": "a", "size": 3, "tags": [1]}), false),
            "name  a\nsize  3\ntags  [1]\n"
        );
    }

    #[test]
    fn arrays_of_objects_are_tables_with_every_column() {
        let text = human(
            &json!([{"id": 1, "name": "x"}, {"id": 2, "free": true}]),
            false,
        );
        let header = text.lines().nth(1).expect("header line");
        for col in ["id", "name", "free"] {
            assert!(header.contains(col), "{text}");
        }
        assert!(text.contains("true"), "{text}");
    }

    #[test]
    fn scalars_and_empty_lists() {
        assert_eq!(human(&json!("pong"), false), "pong\n");
        assert_eq!(human(&json!([]), false), "(none)\n");
        assert_eq!(human(&Value::Null, false), "");
    }
}
