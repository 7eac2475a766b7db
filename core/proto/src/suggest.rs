//! "Did you mean": the nearest known name to a mistyped one (git and cargo do the same), shared
//! by the server's `unknown_command` message and the shell's own checks.

/// The candidate closest to `word`, if it is close enough to be a likely typo: Jaro-Winkler
/// similarity of at least 0.8, as cargo uses for its subcommands.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// `; did you mean `NAME`?` when a candidate is close, or nothing.
pub fn hint<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    did_you_mean(word, candidates)
        .map(|c| format!("; did you mean `{c}`?"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_typo_and_ignores_the_unrelated() {
        let names = ["movies.list", "movies.delete", "auth.login", "ping"];
        assert_eq!(did_you_mean("movies.lst", names), Some("movies.list"));
        assert_eq!(did_you_mean("auth.lgoin", names), Some("auth.login"));
        assert_eq!(did_you_mean("zzzzzz", names), None);
    }
}
