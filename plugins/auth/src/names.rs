//! Account names as people read them: two names that look the same are the same name.
//!
//! Every name is folded before it is stored, compared or looked up: NFKC (full-width `ａｄｍｉｎ`
//! becomes `admin`, the Kelvin sign `K` becomes `K`), then lower-cased, then NFKC again (the
//! case mapping of RFC 8265's UsernameCaseMapped profile). The folded form is the account's
//! unique key (`users.name_key`), so `ÄLICE` and `älice` are one name, and a login may spell
//! a name in any case or width.
//!
//! New names must also be written in one script, as UTS #39 defines it (the "highly
//! restrictive" level: a single script, or Latin with Han and Japanese kana, or Latin with Han
//! and Hangul or Bopomofo), with characters UTS #39 allows in identifiers. That refuses the
//! classic mixed-script spoof `аdmin` (a Cyrillic `а`). A name written wholly in another script
//! that happens to look like a Latin one (all-Cyrillic `асе` against `ace`) is not refused:
//! refusing those means a confusables skeleton, which also makes `l`, `1` and `I` one letter;
//! that trade is not made here.

use unicode_normalization::UnicodeNormalization;
use unicode_security::{GeneralSecurityProfile, RestrictionLevel, RestrictionLevelDetection};

use kino_api::CmdError;

/// Longest account name, in characters of its folded form.
pub const MAX_NAME: usize = 32;

/// The key a name is unique under and looked up by.
pub fn fold(name: &str) -> String {
    let nfkc: String = name.nfkc().collect();
    nfkc.to_lowercase().nfkc().collect()
}

/// The form shown for a new name: NFKC, case kept.
pub fn display(name: &str) -> String {
    name.nfkc().collect()
}

/// Checks a new name; returns its folded key. 1-32 letters, digits, `_`, `-` or `.`, in one
/// script, each allowed in identifiers by UTS #39.
pub fn check_new(name: &str) -> Result<String, CmdError> {
    let key = fold(name);
    let len = key.chars().count();
    let shape_ok = (1..=MAX_NAME).contains(&len)
        && key
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if !shape_ok {
        return Err(CmdError::bad_args(format!(
            "a name is 1-{MAX_NAME} letters, digits, `_`, `-` or `.`"
        )));
    }
    if !key.chars().all(GeneralSecurityProfile::identifier_allowed) {
        return Err(CmdError::bad_args(
            "a name may hold only characters allowed in identifiers (Unicode UTS #39)",
        ));
    }
    if key.as_str().detect_restriction_level() > RestrictionLevel::HighlyRestrictive {
        return Err(CmdError::bad_args(
            "a name must be written in one script (no Latin letters mixed with Cyrillic or Greek ones)",
        ));
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn look_alikes_fold_to_one_key() {
        assert_eq!(fold("ÄLICE"), fold("älice"));
        assert_eq!(fold("ＡＤＭＩＮ"), "admin");
        assert_eq!(fold("ａｄｍｉｎ"), "admin");
        assert_eq!(fold("\u{212A}evin"), "kevin");
        // A decomposed ä folds like a precomposed one.
        assert_eq!(fold("a\u{308}lice"), fold("älice"));
    }

    #[test]
    fn new_names_follow_the_rules() {
        for ok in [
            "a",
            "alice",
            "bob_2",
            "x-y.z",
            "中文",
            "админ",
            "日本語abc",
            &"n".repeat(32),
        ] {
            assert!(check_new(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "a b",
            "../x",
            "a/b",
            "tab\t",
            &"n".repeat(33),
            "semi;colon",
            "\u{430}dmin",
            "pаypal",
            "a\u{200b}b",
        ] {
            assert!(check_new(bad).is_err(), "{bad}");
        }
        assert_eq!(check_new("ａｄｍｉｎ").unwrap(), "admin");
    }
}
