//! Choosing local files for scripts: `files(dir, pattern)` lists the regular, non-hidden files
//! of one folder whose names match a simple glob, sorted so runs are repeatable.

use std::fs;
use std::path::{Path, PathBuf};

use crate::failure::Failure;
use crate::transfer::local;

/// Regular, non-hidden files of `dir` whose names match `pattern` (`*` and `?`), sorted; an
/// error past `max` of them, before the list outgrows the script's array limit.
pub fn list_files(dir: &Path, pattern: &str, max: usize) -> Result<Vec<PathBuf>, Failure> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| local(dir, e))? {
        let entry = entry.map_err(|e| local(dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || !glob_match(pattern, &name) {
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

/// `*` matches any run of characters, `?` one character; everything else matches itself.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Iterative matcher with one backtrack point per `*` (linear in practice, no recursion).
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ni));
                pi += 1;
            }
            Some(&c) if c == '?' || c == n[ni] => {
                pi += 1;
                ni += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    pi = sp + 1;
                    ni = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_stars_and_question_marks() {
        assert!(glob_match("*", "a.mp4"));
        assert!(glob_match("*.mp4", "a.b.mp4"));
        assert!(!glob_match("*.mp4", "a.mkv"));
        assert!(glob_match("a?c*", "abcdef"));
        assert!(!glob_match("a?c", "ac"));
        assert!(glob_match("*a*b*", "xxaxxbxx"));
    }
}
