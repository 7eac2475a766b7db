//! The page, embedded in the binary: no build step, no file to lose. One HTML file, one
//! stylesheet and two scripts (the app, and WAV and MD5 helpers), so the
//! Content-Security-Policy can forbid every inline script and style (see [`crate::wire::CSP`]).

const INDEX: &str = include_str!("../web/index.html");
const CSS: &str = include_str!("../web/app.css");
const JS: &str = include_str!("../web/app.js");
const UTIL_JS: &str = include_str!("../web/util.js");

/// The asset at `path` and its media type.
pub fn asset(path: &str) -> Option<(&'static str, &'static [u8])> {
    Some(match path {
        "/" | "/index.html" => ("text/html; charset=utf-8", INDEX.as_bytes()),
        "/app.css" => ("text/css; charset=utf-8", CSS.as_bytes()),
        "/app.js" => ("text/javascript; charset=utf-8", JS.as_bytes()),
        "/util.js" => ("text/javascript; charset=utf-8", UTIL_JS.as_bytes()),
        _ => return None,
    })
}
