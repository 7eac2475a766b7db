//! Display names from client file names.
//!
//! A name is only ever shown, never used as a path on the server (files live under their MD5),
//! but clients save downloads under it, so it is reduced to the last path component (split on
//! both `/` and `\`, since the uploader may run Windows), and refused when it is empty, `.`,
//! `..`, too long, or holds control characters or bidirectional formatting characters: the
//! embeddings and overrides (U+202A..U+202E, where U+202E makes `evil\u{202e}4pm.exe` show as
//! `evilexe.mp4`), the isolates (U+2066..U+2069) and the marks (U+200E, U+200F, U+061C). Such a
//! name is refused rather than stripped, so the stored name is always what the uploader sent.

use kino_api::CmdError;

/// Longest display name, in characters.
pub const MAX_NAME_CHARS: usize = 255;

/// The display name for a client's file name, or `bad_args`.
pub fn display_name(client_name: &str) -> Result<String, CmdError> {
    if client_name.chars().any(is_forbidden) {
        return Err(CmdError::bad_args(
            "the file name holds control or direction-override characters",
        ));
    }
    let last = client_name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or_default()
        .trim();
    if last.is_empty() || last == "." || last == ".." {
        return Err(CmdError::bad_args(format!(
            "`{client_name}` does not end in a file name"
        )));
    }
    if last.chars().count() > MAX_NAME_CHARS {
        return Err(CmdError::bad_args(format!(
            "the file name is over {MAX_NAME_CHARS} characters"
        )));
    }
    Ok(last.to_owned())
}

fn is_forbidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{061c}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> String {
        display_name(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    #[test]
    fn keeps_the_last_component() {
        assert_eq!(ok("movie.mp4"), "movie.mp4");
        assert_eq!(ok("../../x"), "x");
        assert_eq!(ok("/etc/passwd"), "passwd");
        assert_eq!(ok("C:\\Users\\me\\Videos\\Film 1.mkv"), "Film 1.mkv");
        assert_eq!(ok("a/b\\c"), "c");
        assert_eq!(ok("  spaced.avi  "), "spaced.avi");
        assert_eq!(ok("电影.mp4"), "电影.mp4");
    }

    #[test]
    fn refuses_empty_dots_control_and_long_names() {
        for bad in [
            "",
            "dir/",
            "..",
            "a/..",
            ".",
            "x\u{0}y",
            "a\nb",
            "evil\u{202e}4pm.exe",
            "a\u{200f}b",
            "a\u{2067}b",
            "a\u{061c}b",
        ] {
            assert!(display_name(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(display_name(&"n".repeat(MAX_NAME_CHARS)).is_ok());
        assert!(display_name(&"n".repeat(MAX_NAME_CHARS + 1)).is_err());
        assert!(display_name(&format!("dir/{}", "é".repeat(MAX_NAME_CHARS))).is_ok());
    }
}
