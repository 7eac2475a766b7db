use super::*;

const OK: &str = r#"
plugin("polls", "Polls");
migration(1, "CREATE TABLE polls_votes (user_id INTEGER)");
command("polls.vote", "Vote", #{ role: "user", args: [
    #{ name: "movie_id", kind: "uint", doc: "the movie", min: 1 },
    #{ name: "note", kind: "string", doc: "why", max_len: 10, optional: true },
    #{ name: "which", kind: "string", doc: "which", "default": "mine", choices: ["mine", "all"] },
] }, |ctx, args| { #{ ok: true } });
on("movies.uploaded", |ctx, event| { });
"#;

#[test]
fn a_script_becomes_specs_like_a_native_plugins() {
    let p = compile("polls/plugin.rhai", "polls", OK, &ScriptLimits::default()).unwrap();
    assert_eq!(p.name, "polls");
    assert_eq!(p.migrations.len(), 1);
    assert_eq!(p.events, ["movies.uploaded"]);
    let c = &p.commands[0];
    assert_eq!(c.name, "polls.vote");
    assert_eq!(c.role, kino_api::Role::User);
    assert!(c.args[0].required && c.args[0].min == Some(1));
    assert!(!c.args[1].required && c.args[1].max_len == Some(10));
    assert_eq!(c.args[2].default, Some(serde_json::json!("mine")));
    assert_eq!(c.args[2].choices, ["mine", "all"]);
    assert_eq!(p.version, version_of(OK));
}

#[test]
fn errors_name_the_file_and_line() {
    let limits = ScriptLimits::default();
    let syntax = compile(
        "p/plugin.rhai",
        "p",
        "plugin(\"p\", \"x\");\nlet = ;",
        &limits,
    );
    assert_eq!(syntax.unwrap_err().line, 2);
    let prefix = "plugin(\"p\", \"x\");\n\ncommand(\"q.x\", \"\", #{}, |c, a| 1);";
    let e = compile("p/plugin.rhai", "p", prefix, &limits).unwrap_err();
    assert_eq!(e.line, 3, "{e}");
    assert!(e.to_string().starts_with("p/plugin.rhai:3: "), "{e}");
    let typo = "plugin(\"p\", \"x\");\ncommand(\"p.x\", \"\", #{ args: [#{ name: \"a\", kind: \"uint\", mx: 3 }] }, |c, a| 1);";
    let e = compile("p/plugin.rhai", "p", typo, &limits).unwrap_err();
    assert!(e.message.contains("unknown key `mx`"), "{e}");
    let folder = compile("q/plugin.rhai", "q", "plugin(\"p\", \"x\");", &limits).unwrap_err();
    assert!(folder.message.contains("folder"), "{folder}");
    let endless = compile("p/plugin.rhai", "p", "loop {}", &limits).unwrap_err();
    assert!(
        endless.message.contains("operations") || endless.message.contains("script-timeout"),
        "{endless}"
    );
}
