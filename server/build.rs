//! Writes the plugin list from this crate's own `[dependencies]`: each dependency whose path is
//! `../plugins/NAME` is a plugin, listed in the order of the table as `crate::plugin()`.
//! Adding a plugin is therefore its folder plus one dependency line in `server/Cargo.toml`.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=Cargo.toml");
    let text = match std::fs::read_to_string("Cargo.toml") {
        Ok(t) => t,
        Err(e) => panic!("reading server/Cargo.toml: {e}"),
    };
    let manifest: toml::Table = match toml::from_str(&text) {
        Ok(m) => m,
        Err(e) => panic!("parsing server/Cargo.toml: {e}"),
    };
    let mut list = String::new();
    if let Some(deps) = manifest.get("dependencies").and_then(|d| d.as_table()) {
        for (key, dep) in deps {
            let Some(path) = dep.get("path").and_then(|p| p.as_str()) else {
                continue;
            };
            let is_plugin = path
                .strip_prefix("../plugins/")
                .is_some_and(|name| !name.is_empty() && !name.contains('/'));
            if is_plugin {
                let _ = writeln!(list, "        {}::plugin(),", key.replace('-', "_"));
            }
        }
    }
    let code = format!(
        "/// Every plugin of this build, in the order of `server/Cargo.toml`.\n\
         pub fn all() -> Vec<std::sync::Arc<dyn kino_api::Plugin>> {{\n    vec![\n{list}    ]\n}}\n"
    );
    let out = match std::env::var("OUT_DIR") {
        Ok(o) => o,
        Err(e) => panic!("OUT_DIR: {e}"),
    };
    if let Err(e) = std::fs::write(Path::new(&out).join("plugins.rs"), code) {
        panic!("writing plugins.rs: {e}");
    }
}
