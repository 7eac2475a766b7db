//! External engines the scale-out tests run for real (HAProxy, PostgreSQL, an S3 server). `.ci/run`
//! installs them and sets `KINO_REQUIRE_ENGINES=1`, so there a missing one fails the test; on a
//! developer machine without them the test says loudly that it skipped.

use std::path::PathBuf;

/// The path of `program` on `PATH` (or in the sbin folders distributions put daemons in), or
/// `None` after a loud skip notice. Panics when missing under `KINO_REQUIRE_ENGINES`.
pub fn find(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let extra = ["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from);
    let found = std::env::split_paths(&path)
        .chain(extra)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file());
    if found.is_none() {
        if std::env::var_os("KINO_REQUIRE_ENGINES").is_some() {
            panic!("`{program}` is required (KINO_REQUIRE_ENGINES is set) but not installed");
        }
        eprintln!("SKIPPED: `{program}` is not installed; .ci/run installs it");
    }
    found
}
