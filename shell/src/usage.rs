//! Usage lines built from a command's schema (`help`, hints): `name key=<kind> [opt=a|b]`.

use kino_proto::{ArgInfo, CommandInfo};

/// `name key=<kind> [opt=<a|b>]`: a command's usage line from its schema.
pub fn usage(c: &CommandInfo) -> String {
    let mut s = c.name.clone();
    for a in &c.args {
        s.push(' ');
        s.push_str(&arg_usage(a));
    }
    s
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
