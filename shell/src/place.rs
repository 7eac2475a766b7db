//! Where a received file goes (`download`, `hum`, `save`). A file is written to `NAME.part`
//! first and moved into place when complete; it never replaces an existing file unless the
//! user asked with `--force`: in a folder the next free `NAME (1).EXT`, `NAME (2).EXT`, ... is
//! taken, and an explicit file path that exists is refused.

use std::fs;
use std::io;
use std::path::{Path, PathBuf, MAIN_SEPARATOR};

use crate::failure::Failure;
use crate::transfer::local;

/// What `--out` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Out {
    /// A folder (created when missing); the file is named after what the server sent.
    Dir(PathBuf),
    /// The file itself.
    File(PathBuf),
}

impl Out {
    /// `--out PATH`: a folder when PATH is one, ends with a separator, or has no extension
    /// (`--out films`); otherwise a file path (`--out keep/reel.mp4`). No `--out`: `.`.
    pub fn parse(arg: Option<&str>) -> Out {
        let Some(arg) = arg else {
            return Out::Dir(PathBuf::from("."));
        };
        let path = PathBuf::from(arg);
        let dir_like = arg.ends_with('/')
            || arg.ends_with(MAIN_SEPARATOR)
            || path.is_dir()
            || path.extension().is_none();
        if dir_like {
            Out::Dir(path)
        } else {
            Out::File(path)
        }
    }

    /// The final path for a file the server calls `name`.
    pub fn target(&self, name: &str) -> PathBuf {
        match self {
            Out::Dir(d) => d.join(name),
            Out::File(f) => f.clone(),
        }
    }

    /// An explicit file path that exists is refused before anything is fetched.
    pub fn check(&self, force: bool) -> Result<(), Failure> {
        match self {
            Out::File(f) if !force && fs::symlink_metadata(f).is_ok() => Err(exists(f)),
            _ => Ok(()),
        }
    }
}

fn exists(path: &Path) -> Failure {
    Failure::Local(format!(
        "{} exists; add --force to replace it",
        path.display()
    ))
}

/// `TARGET.part`, next to the target.
pub fn part_of(target: &Path) -> PathBuf {
    let mut name = target.file_name().unwrap_or_default().to_os_string();
    name.push(".part");
    target.with_file_name(name)
}

/// Moves `part` into place (see the module doc); returns where it went. With `numbered`
/// (a folder target) numbering starts at `from`.
pub fn place(
    part: &Path,
    target: &Path,
    force: bool,
    numbered_names: bool,
    from: u32,
) -> Result<PathBuf, Failure> {
    if force {
        fs::rename(part, target).map_err(|e| local(target, e))?;
        return Ok(target.to_path_buf());
    }
    let last = if numbered_names { 10_000u32 } else { from + 1 };
    for n in from..last {
        let candidate = numbered(target, n);
        // A hard link claims the name atomically; on a file system without hard links, a
        // checked rename.
        match fs::hard_link(part, &candidate) {
            Ok(()) => {
                fs::remove_file(part).map_err(|e| local(part, e))?;
                return Ok(candidate);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(_) if fs::symlink_metadata(&candidate).is_ok() => continue,
            Err(_) => {
                fs::rename(part, &candidate).map_err(|e| local(&candidate, e))?;
                return Ok(candidate);
            }
        }
    }
    if !numbered_names {
        return Err(Failure::Local(format!(
            "{} exists; add --force to replace it ({} is kept)",
            target.display(),
            part.display()
        )));
    }
    Err(Failure::Local(format!(
        "{}: no free name left; {} is kept",
        target.display(),
        part.display()
    )))
}

/// The first `n` for which no `numbered(t, n)` of `targets` exists: files saved together
/// (`tune.mid`, `tune.png`) keep one number.
pub fn free_index(targets: &[PathBuf]) -> u32 {
    (0..10_000u32)
        .find(|n| {
            targets
                .iter()
                .all(|t| fs::symlink_metadata(numbered(t, *n)).is_err())
        })
        .unwrap_or(0)
}

/// `target` itself for 0, else `NAME (n).EXT` (`NAME (n)` without an extension).
pub fn numbered(target: &Path, n: u32) -> PathBuf {
    if n == 0 {
        return target.to_path_buf();
    }
    let stem = target
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match target.extension() {
        Some(ext) => format!("{stem} ({n}).{}", ext.to_string_lossy()),
        None => format!("{stem} ({n})"),
    };
    target.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_names_keep_the_extension() {
        let t = Path::new("d/Metropolis (1927).txt");
        assert_eq!(numbered(t, 0), t);
        assert_eq!(numbered(t, 2), Path::new("d/Metropolis (1927) (2).txt"));
        assert_eq!(numbered(Path::new("d/reel"), 1), Path::new("d/reel (1)"));
    }

    #[test]
    fn out_is_a_folder_unless_it_names_a_file() {
        assert_eq!(Out::parse(None), Out::Dir(".".into()));
        assert_eq!(
            Out::parse(Some("new/folder")),
            Out::Dir("new/folder".into())
        );
        assert_eq!(Out::parse(Some("films.d/")), Out::Dir("films.d/".into()));
        assert_eq!(
            Out::parse(Some("keep/a.mp4")),
            Out::File("keep/a.mp4".into())
        );
        assert_eq!(part_of(Path::new("d/a.mp4")), Path::new("d/a.mp4.part"));
    }
}
