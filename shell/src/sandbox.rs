//! What a script may reach outside itself. Files: only under the script's own folder, the
//! current directory, paths given as script arguments and `--allow-path` folders, checked after
//! resolving `..` and symbolic links, so neither can lead out. Network: only the shell's own
//! server and `--allow-connect` addresses, compared after name resolution. Environment: no
//! `KINO_*` variable, since those carry the shell's password and login.

use std::fs;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Component, Path, PathBuf};

/// The places one script run may touch.
#[derive(Debug, Clone, Default)]
pub struct Sandbox {
    /// Resolved folders (or single files) under which file access is allowed.
    roots: Vec<PathBuf>,
    /// Addresses `connect` may use, as given (resolved at each `connect`).
    servers: Vec<String>,
}

/// Why a path or an address was refused; the message names the rule and the flag.
#[derive(Debug, Clone)]
pub struct Refused(pub String);

const PATH_RULE: &str = "scripts may use files only under the script's folder, the current \
directory and paths given as arguments; add more with --allow-path DIR";

impl Sandbox {
    /// The sandbox of a script at `script` run with `args`; `extra` from `--allow-path`, and
    /// `server` (the shell's) plus `connect` from `--allow-connect` for the network.
    pub fn new(
        script: &Path,
        args: &[String],
        extra: &[PathBuf],
        server: &str,
        connect: &[String],
    ) -> Sandbox {
        let folder = script
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let mut given: Vec<&Path> = vec![folder, Path::new(".")];
        // Arguments that are not paths (`*.mp4`, `key=value`) resolve to names under the
        // current directory, which is allowed anyway.
        given.extend(args.iter().map(Path::new));
        given.extend(extra.iter().map(PathBuf::as_path));
        let roots = given.into_iter().filter_map(|p| resolve(p).ok()).collect();
        let mut servers = vec![server.to_string()];
        servers.extend(connect.iter().cloned());
        Sandbox { roots, servers }
    }

    /// `path` resolved, when it lies under an allowed root. It need not exist yet (a download
    /// folder), but then the part that does not exist may not contain `..`.
    pub fn path(&self, path: &str) -> Result<PathBuf, Refused> {
        let resolved =
            resolve(Path::new(path)).map_err(|e| Refused(format!("{path}: {e}; {PATH_RULE}")))?;
        if self.roots.iter().any(|r| resolved.starts_with(r)) {
            return Ok(resolved);
        }
        let shown = resolved.display().to_string();
        let via = if shown == path {
            String::new()
        } else {
            format!(" (resolved to {shown})")
        };
        Err(Refused(format!(
            "{path}{via} is outside the sandbox: {PATH_RULE}"
        )))
    }

    /// The socket addresses `addr` names that are an allowed server's (`localhost` may name
    /// more than one); refused when there is none.
    pub fn server(&self, addr: &str) -> Result<Vec<SocketAddr>, Refused> {
        let rule = "scripts may connect only to the shell's own server; \
                    add more with --allow-connect HOST:PORT";
        let wanted: Vec<SocketAddr> = addr
            .to_socket_addrs()
            .map_err(|e| Refused(format!("{addr}: {e}")))?
            .collect();
        let allowed: Vec<SocketAddr> = self
            .servers
            .iter()
            .filter_map(|s| s.to_socket_addrs().ok())
            .flatten()
            .collect();
        let ok: Vec<SocketAddr> = wanted.into_iter().filter(|w| allowed.contains(w)).collect();
        if !ok.is_empty() {
            Ok(ok)
        } else {
            Err(Refused(format!("{addr} is refused: {rule}")))
        }
    }
}

/// Environment variables a script may not read: `KINO_PASSWORD`, `KINO_USER` and the rest.
pub fn hidden_env(name: &str) -> bool {
    name.get(..5)
        .is_some_and(|p| p.eq_ignore_ascii_case("KINO_"))
}

/// The absolute form of `path` with every `..` and symbolic link resolved. The longest part
/// that exists is canonicalised; the rest must be plain names and not a dangling link.
fn resolve(path: &Path) -> io::Result<PathBuf> {
    let absolute = std::env::current_dir()?.join(path);
    let mut existing = absolute.as_path();
    let mut missing = Vec::new();
    loop {
        match fs::canonicalize(existing) {
            Ok(mut out) => {
                for name in missing.iter().rev() {
                    out.push(name);
                }
                return Ok(out);
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if fs::symlink_metadata(existing).is_ok() {
                    return Err(io::Error::other("a symbolic link to nowhere"));
                }
                match (existing.components().next_back(), existing.parent()) {
                    (Some(Component::Normal(name)), Some(parent)) => {
                        missing.push(name.to_os_string());
                        existing = parent;
                    }
                    _ => return Err(io::Error::other("`..` after a folder that does not exist")),
                }
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kino_variables_are_hidden_whatever_their_case() {
        assert!(hidden_env("KINO_PASSWORD"));
        assert!(hidden_env("kino_user"));
        assert!(!hidden_env("KINO"));
        assert!(!hidden_env("HOME"));
        assert!(!hidden_env("DEMO_PASSWORD"));
    }
}
