//! Choosing local files for scripts: `files(dir, pattern)` lists the regular, non-hidden files
//! of one folder whose names match a glob, sorted so runs are repeatable.

use std::fs;
use std::path::{Path, PathBuf};

use globset::{GlobBuilder, GlobMatcher};

use crate::failure::Failure;
use crate::transfer::local;

/// Regular, non-hidden files of `dir` whose names match `pattern` (`*`, `?`, `[abc]`,
/// `{a,b}`, as `globset` reads them), sorted; an error past `max` of them, before the list
/// outgrows the script's array limit.
pub fn list_files(dir: &Path, pattern: &str, max: usize) -> Result<Vec<PathBuf>, Failure> {
    let matcher = glob(pattern)?;
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| local(dir, e))? {
        let entry = entry.map_err(|e| local(dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || !matcher.is_match(&name) {
            continue;
        }
        let path = entry.path();
        if fs::metadata(&path).is_ok_and(|m| m.is_file()) {
            if out.len() >= max {
                return Err(Failure::Local(format!(
                    "{}: more than {max} matching files (--script-max-array)",
                    dir.display()
                )));
            }
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

/// One file-name pattern; `*` never crosses a `/` (the names matched have none anyway).
fn glob(pattern: &str) -> Result<GlobMatcher, Failure> {
    GlobBuilder::new(pattern)
        .literal_separator(true)
        .backslash_escape(true)
        .build()
        .map(|g| g.compile_matcher())
        .map_err(|e| Failure::Usage(format!("pattern `{pattern}`: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glob_match(pattern: &str, name: &str) -> bool {
        glob(pattern).map(|g| g.is_match(name)).unwrap_or(false)
    }

    #[test]
    fn glob_stars_and_question_marks() {
        assert!(glob_match("*", "a.mp4"));
        assert!(glob_match("*.mp4", "a.b.mp4"));
        assert!(!glob_match("*.mp4", "a.mkv"));
        assert!(glob_match("a?c*", "abcdef"));
        assert!(!glob_match("a?c", "ac"));
        assert!(glob_match("*a*b*", "xxaxxbxx"));
        assert!(glob_match("*.{mp4,mkv}", "a.mkv"));
        assert!(glob("[").is_err());
    }
}
