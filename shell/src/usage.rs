//! Usage lines built from a command's schema (`help`, hints): `name key=<kind> [opt=a|b]`.

use kino_proto::{ArgInfo, CommandInfo, PayloadKind};

/// `name key=<kind> [opt=<a|b>]`: a command's usage line from its schema, with the shell's
/// `--file PATH` or `--out PATH` when the command carries a file.
pub fn usage(c: &CommandInfo) -> String {
    let mut s = c.name.clone();
    for a in &c.args {
        s.push(' ');
        s.push_str(&arg_usage(a));
    }
    if let Some(flag) = path_flag(c.payload) {
        s.push(' ');
        s.push_str(flag);
    }
    s
}

/// How the shell takes a payload command's local file.
pub fn path_flag(payload: PayloadKind) -> Option<&'static str> {
    match payload {
        PayloadKind::Upload => Some("--file PATH"),
        PayloadKind::Download => Some("--out PATH"),
        PayloadKind::None => None,
    }
}

/// What the spec says beyond the doc, for `help NAME`: ` (default 100, at most 1000)`,
/// ` (1-5)`, ` (at most 200 characters, secret)`; empty when there is nothing.
pub fn arg_notes(a: &ArgInfo) -> String {
    let mut notes = Vec::new();
    if let Some(d) = &a.default {
        match d.as_str() {
            Some(s) => notes.push(format!("default {s}")),
            None => notes.push(format!("default {d}")),
        }
    }
    notes.extend(a.range_text());
    if let Some(n) = a.max_len {
        notes.push(format!("at most {n} characters"));
    }
    if a.secret {
        notes.push("secret".to_string());
    }
    match notes.is_empty() {
        true => String::new(),
        false => format!(" ({})", notes.join(", ")),
    }
}

/// `key=<kind>` for a required argument, `[key=<kind>]` for an optional one.
pub fn arg_usage(a: &ArgInfo) -> String {
    let value = if a.choices.is_empty() {
        format!("<{}>", a.kind.as_str())
    } else {
        a.choices.join("|")
    };
    if a.required {
        format!("{}={value}", a.name)
    } else {
        format!("[{}={value}]", a.name)
    }
}
