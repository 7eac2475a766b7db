//! `kino-server new-plugin NAME`: writes `plugins/NAME` (one command, one end-to-end test) and
//! the one dependency line in `server/Cargo.toml` that puts it in the build. Workspace
//! membership (`plugins/*`) and the plugin list (`build.rs`) follow from those.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

const CARGO_TOML: &str = include_str!("../templates/Cargo.toml.tmpl");
const LIB_RS: &str = include_str!("../templates/lib.rs.tmpl");
const TEST_RS: &str = include_str!("../templates/test.rs.tmpl");

/// The workspace this binary was built from: the default `--root`.
pub fn default_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Creates the plugin under `root/plugins/NAME` and lists it in `root/server/Cargo.toml`;
/// returns the files written. Refuses a bad name or an existing folder, before writing anything.
pub fn new_plugin(root: &Path, name: &str) -> Result<Vec<PathBuf>> {
    check_name(name)?;
    let dir = root.join("plugins").join(name);
    if dir.exists() {
        bail!("{} already exists", dir.display());
    }
    let manifest_path = root.join("server").join("Cargo.toml");
    let manifest = std::fs::read_to_string(&manifest_path)
        .with_context(|| format!("reading {}", manifest_path.display()))?;
    let listed = add_dependency(&manifest, name)?;
    let fill = |t: &str| {
        t.replace("{name}", name)
            .replace("{ident}", &name.replace('-', "_"))
            .replace("{camel}", &camel(name))
    };
    let files = [
        (dir.join("Cargo.toml"), fill(CARGO_TOML)),
        (dir.join("src").join("lib.rs"), fill(LIB_RS)),
        (dir.join("tests").join(format!("{name}.rs")), fill(TEST_RS)),
    ];
    for (path, text) in &files {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    std::fs::write(&manifest_path, listed)
        .with_context(|| format!("writing {}", manifest_path.display()))?;
    let mut written: Vec<PathBuf> = files.into_iter().map(|(p, _)| p).collect();
    written.push(manifest_path);
    Ok(written)
}

/// Plugin names become crate names, command prefixes and table prefixes: keep them plain.
fn check_name(name: &str) -> Result<()> {
    let ok = (1..=32).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !ok {
        bail!("plugin names are 1-32 of a-z, 0-9 and _, starting with a letter: `{name}`");
    }
    Ok(())
}

/// `server/Cargo.toml` with `kino-NAME = { path = "../plugins/NAME" }` after the last plugin
/// line (so the new plugin registers last).
fn add_dependency(manifest: &str, name: &str) -> Result<String> {
    let line = format!("kino-{name} = {{ path = \"../plugins/{name}\" }}");
    let lines: Vec<&str> = manifest.lines().collect();
    let Some(last) = lines
        .iter()
        .rposition(|l| l.contains("path = \"../plugins/"))
    else {
        bail!("server/Cargo.toml lists no plugin to add `{name}` after");
    };
    let mut out: Vec<&str> = lines[..=last].to_vec();
    out.push(&line);
    out.extend_from_slice(&lines[last + 1..]);
    Ok(out.join("\n") + "\n")
}

fn camel(name: &str) -> String {
    name.split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_plain_and_the_line_goes_after_the_last_plugin() {
        for bad in ["", "Ratings", "1st", "a-b", "../x", &"x".repeat(33)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert_eq!(camel("top_rated"), "TopRated");
        let manifest =
            "[dependencies]\nkino-auth = { path = \"../plugins/auth\" }\nanyhow = \"1\"\n";
        let out = add_dependency(manifest, "ratings").unwrap_or_default();
        assert_eq!(
            out,
            "[dependencies]\nkino-auth = { path = \"../plugins/auth\" }\n\
             kino-ratings = { path = \"../plugins/ratings\" }\nanyhow = \"1\"\n"
        );
    }
}
