//! The shell's line tokenizer (`kino_shell::line`) on arbitrary text, with and without a
//! command schema: it must split or refuse, never panic.
#![no_main]

use std::sync::LazyLock;

use kino_proto::CommandInfo;
use kino_shell::line::{is_sensitive, parse, server_args, Word};
use libfuzzer_sys::fuzz_target;

static INFO: LazyLock<CommandInfo> = LazyLock::new(|| {
    serde_json::from_value(serde_json::json!({
        "name": "movies.download", "summary": "", "role": "user", "payload": "download",
        "aliases": [], "open_args": false,
        "args": [
            {"name": "movie_id", "kind": "uint", "required": true, "doc": "", "choices": []},
            {"name": "name", "kind": "string", "required": false, "doc": "", "choices": []},
            {"name": "any", "kind": "any", "required": false, "doc": "", "choices": []}
        ]
    }))
    .expect("the schema parses")
});

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = is_sensitive(text, &|_| None);
    if let Ok(Some(line)) = parse(text) {
        for word in &line.words {
            if let Word::Flag(f) = word {
                assert!(!f.is_empty());
            }
        }
        let _ = server_args(None, &line.words);
        let _ = server_args(Some(&INFO), &line.words);
    }
});
