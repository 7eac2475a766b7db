//! `--format`: the same result as a table for people, or as JSON, CSV, TSV or plain aligned
//! columns for programs, with or without the header row (`--no-header`).

use comfy_table::{presets, Table};
use serde_json::Value;

use crate::render::cell;

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// Bordered tables, `key value` lines (the default).
    #[default]
    Table,
    /// Each result's raw `data` as one line of JSON (also `--json`).
    Json,
    /// Comma-separated values, RFC 4180 quoting.
    Csv,
    /// Tab-separated values.
    Tsv,
    /// Aligned columns without borders.
    Plain,
}

/// The rows of a result: a header and the cells. Arrays of objects have one column per key
/// (the union, in first-seen order, with `leading` first); an object is `key value` rows; a
/// list of scalars is one column; a scalar is one cell.
pub fn rows(value: &Value, leading: &[&str]) -> (Vec<String>, Vec<Vec<String>>) {
    match value {
        Value::Null => (Vec::new(), Vec::new()),
        Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_object) => {
            let mut columns: Vec<&str> = Vec::new();
            for m in items.iter().filter_map(Value::as_object) {
                for k in m.keys() {
                    if !columns.contains(&k.as_str()) {
                        columns.push(k);
                    }
                }
            }
            columns.sort_by_key(|c| leading.iter().position(|l| l == c).unwrap_or(leading.len()));
            let body = items
                .iter()
                .map(|item| {
                    columns
                        .iter()
                        .map(|c| item.get(*c).map(cell).unwrap_or_default())
                        .collect()
                })
                .collect();
            (columns.into_iter().map(String::from).collect(), body)
        }
        Value::Array(items) => (
            vec!["value".into()],
            items.iter().map(|v| vec![cell(v)]).collect(),
        ),
        Value::Object(m) => (
            vec!["key".into(), "value".into()],
            m.iter().map(|(k, v)| vec![k.clone(), cell(v)]).collect(),
        ),
        other => (vec!["value".into()], vec![vec![cell(other)]]),
    }
}

/// `value` as CSV (`delimiter` `,`) or TSV (`\t`), ending with a newline.
pub fn delimited(value: &Value, delimiter: u8, header: bool, leading: &[&str]) -> String {
    let (head, body) = rows(value, leading);
    let mut w = csv::WriterBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_writer(Vec::new());
    // Writing to a Vec cannot fail; a failure would only drop output.
    if header && !head.is_empty() {
        let _ = w.write_record(&head);
    }
    for r in &body {
        let _ = w.write_record(r);
    }
    let bytes = w.into_inner().unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// `value` as columns padded to their display width, no borders (CJK names line up).
pub fn plain(value: &Value, header: bool, leading: &[&str]) -> String {
    let (head, body) = rows(value, leading);
    let mut t = Table::new();
    t.load_style(presets::NOTHING);
    t.force_no_tty();
    if header && !head.is_empty() && !matches!(value, Value::Object(_)) {
        t.set_header(head);
    }
    for r in body {
        t.add_row(r);
    }
    if t.row_count() == 0 && t.header().is_none() {
        return String::new();
    }
    let text = t.to_string();
    // comfy-table pads each row's edge with a space; trailing blanks help no one in a pipe.
    text.lines()
        .map(|l| {
            format!(
                "{}\n",
                l.trim_end().strip_prefix(' ').unwrap_or(l.trim_end())
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn csv_quotes_and_tsv_tabs() {
        let v = json!([{"id": 1, "name": "a, b"}, {"id": 2, "name": "c\"d"}]);
        assert_eq!(
            delimited(&v, b',', true, &["id"]),
            "id,name\n1,\"a, b\"\n2,\"c\"\"d\"\n"
        );
        assert_eq!(
            delimited(&v, b'\t', false, &["id"]),
            "1\ta, b\n2\t\"c\"\"d\"\n"
        );
        assert_eq!(delimited(&json!("pong"), b',', false, &[]), "pong\n");
    }

    #[test]
    fn plain_aligns_wide_characters() {
        let text = plain(
            &json!([{"name": "黑客帝国", "n": 1}, {"name": "ab", "n": 2}]),
            true,
            &[],
        );
        let lines: Vec<&str> = text.lines().collect();
        let at = |l: &str| {
            let i = l.rfind(['1', '2', 'n']).unwrap_or(0);
            unicode_width::UnicodeWidthStr::width(&l[..i])
        };
        assert_eq!(at(lines[1]), at(lines[2]), "{text}");
    }
}
