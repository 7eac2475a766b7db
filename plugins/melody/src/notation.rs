//! `melody.transcribe`'s score arguments: the time signature and key a user may fix instead of
//! letting the transcriber choose them.

use kino_api::ArgChoice;
use kino_melody_engine::{Key, Meter, ScoreParams};

/// `time_signature`: the metre of the score.
#[derive(ArgChoice, Clone, Copy, PartialEq, Eq)]
pub enum TimeSignature {
    /// Four quarter beats.
    #[arg(rename = "4/4")]
    FourFour,
    /// Three quarter beats (waltz).
    #[arg(rename = "3/4")]
    ThreeFour,
    /// Two beats of three eighths.
    #[arg(rename = "6/8")]
    SixEight,
    /// Two quarter beats.
    #[arg(rename = "2/4")]
    TwoFour,
}

impl TimeSignature {
    fn meter(self) -> Meter {
        match self {
            TimeSignature::FourFour => Meter::FourFour,
            TimeSignature::ThreeFour => Meter::ThreeFour,
            TimeSignature::SixEight => Meter::SixEight,
            TimeSignature::TwoFour => Meter::TwoFour,
        }
    }
}

/// `key`: the key of the score, majors by their tonic ("Bb"), minors with an `m` ("F#m").
#[derive(ArgChoice, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum KeyName {
    #[arg(rename = "C")]
    C,
    #[arg(rename = "G")]
    G,
    #[arg(rename = "D")]
    D,
    #[arg(rename = "A")]
    A,
    #[arg(rename = "E")]
    E,
    #[arg(rename = "B")]
    B,
    #[arg(rename = "F#")]
    FSharp,
    #[arg(rename = "C#")]
    CSharp,
    #[arg(rename = "F")]
    F,
    #[arg(rename = "Bb")]
    BFlat,
    #[arg(rename = "Eb")]
    EFlat,
    #[arg(rename = "Ab")]
    AFlat,
    #[arg(rename = "Db")]
    DFlat,
    #[arg(rename = "Gb")]
    GFlat,
    #[arg(rename = "Cb")]
    CFlat,
    #[arg(rename = "Am")]
    AMinor,
    #[arg(rename = "Em")]
    EMinor,
    #[arg(rename = "Bm")]
    BMinor,
    #[arg(rename = "F#m")]
    FSharpMinor,
    #[arg(rename = "C#m")]
    CSharpMinor,
    #[arg(rename = "G#m")]
    GSharpMinor,
    #[arg(rename = "D#m")]
    DSharpMinor,
    #[arg(rename = "A#m")]
    ASharpMinor,
    #[arg(rename = "Dm")]
    DMinor,
    #[arg(rename = "Gm")]
    GMinor,
    #[arg(rename = "Cm")]
    CMinor,
    #[arg(rename = "Fm")]
    FMinor,
    #[arg(rename = "Bbm")]
    BFlatMinor,
    #[arg(rename = "Ebm")]
    EFlatMinor,
    #[arg(rename = "Abm")]
    AFlatMinor,
}

/// The engine's score parameters from the request's arguments.
pub fn score_params(time_signature: Option<TimeSignature>, key: Option<KeyName>) -> ScoreParams {
    ScoreParams {
        time_signature: time_signature.map(TimeSignature::meter),
        // Every choice is a name the engine parses; a failure would only drop the override.
        key: key.and_then(|k| k.as_str().parse::<Key>().ok()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kino_api::ArgValue;

    #[test]
    fn every_choice_is_a_key_the_engine_knows() {
        let names = KeyName::choices();
        assert_eq!(names.len(), kino_melody_engine::score::key::KEY_NAMES.len());
        for name in names {
            assert!(name.parse::<Key>().is_ok(), "{name}");
        }
        assert_eq!(TimeSignature::choices(), ["4/4", "3/4", "6/8", "2/4"]);
    }
}
