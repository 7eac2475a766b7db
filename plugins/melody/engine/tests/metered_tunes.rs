//! Tunes sung in time come out as their printed melody: right time signature, key signature,
//! beat phase, pickup, note values and spellings, bar for bar in the MusicXML.
//!
//! Each tune is written below in the compact text notation of `score_text` (`|` bar lines,
//! a pickup before the first one, `q.` a dotted quarter, `~` a tie), hummed by a synthetic
//! voice at a tempo drawn from a seed (the checker never sees it) with onsets jittered by up to
//! ±20 ms, notes detached by a short breath, and vibrato on the long ones; then transcribed by
//! the engine from the WAV samples and its MusicXML read back bar by bar.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

mod notation;

use notation::{tempo_of, try_check, Performance};

/// Ode to Joy in D major, 4/4 (the dotted quarter and eighth of bars 4 and 8 included).
const ODE: &str = "| F#4 q F#4 q G4 q A4 q | A4 q G4 q F#4 q E4 q | D4 q D4 q E4 q F#4 q \
    | F#4 q. E4 8 E4 h | F#4 q F#4 q G4 q A4 q | A4 q G4 q F#4 q E4 q | D4 q D4 q E4 q F#4 q \
    | E4 q. D4 8 D4 h |";

/// Twinkle Twinkle Little Star in C major, 4/4.
const TWINKLE: &str = "| C4 q C4 q G4 q G4 q | A4 q A4 q G4 h | F4 q F4 q E4 q E4 q \
    | D4 q D4 q C4 h | G4 q G4 q F4 q F4 q | E4 q E4 q D4 h | G4 q G4 q F4 q F4 q \
    | E4 q E4 q D4 h | C4 q C4 q G4 q G4 q | A4 q A4 q G4 h | F4 q F4 q E4 q E4 q \
    | D4 q D4 q C4 h |";

/// Happy Birthday in F major, 3/4, with its one-beat pickup (and the B-flats of bar 7).
const BIRTHDAY: &str = "C4 8. C4 16 | D4 q C4 q F4 q | E4 h C4 8. C4 16 | D4 q C4 q G4 q \
    | F4 h C4 8. C4 16 | C5 q A4 q F4 q | E4 q D4 q Bb4 8. Bb4 16 | A4 q F4 q G4 q | F4 h. |";

/// Row, Row, Row Your Boat in C major, 6/8, with its "merrily" bars: three repeated eighths of
/// one pitch, each sung about 150 ms with a 110-130 ms breath before the next.
const ROW: &str = "| C4 q. C4 q. | C4 q D4 8 E4 q. | E4 q D4 8 E4 q F4 8 | G4 h. \
    | C5 8 C5 8 C5 8 G4 8 G4 8 G4 8 | E4 8 E4 8 E4 8 C4 8 C4 8 C4 8 | G4 q F4 8 E4 q D4 8 \
    | C4 h. |";

/// Sings `tune` at a tempo between 96 and 120 bpm drawn from `seed` and checks its score.
fn check(name: &str, tune: &str, fifths: &str, time: &str, seed: u64) {
    if let Err(e) = sung(name, tune, fifths, time, seed) {
        panic!("{e}");
    }
}

fn sung(name: &str, tune: &str, fifths: &str, time: &str, seed: u64) -> Result<(), String> {
    let bpm = tempo_of(seed, 96.0, 120.0);
    try_check(name, tune, fifths, time, bpm, Performance::default(), seed).map(|_| ())
}

#[test]
fn ode_to_joy_is_four_four_in_d_major_on_the_beat() {
    for seed in [1, 2, 3] {
        check("Ode to Joy", ODE, "2", "4/4", seed);
    }
}

#[test]
fn twinkle_twinkle_is_four_four_in_c_major() {
    for seed in [4, 5] {
        check("Twinkle", TWINKLE, "0", "4/4", seed);
    }
}

#[test]
fn happy_birthday_is_three_four_in_f_with_a_pickup_and_b_flats() {
    for seed in [6, 7, 8] {
        check("Happy Birthday", BIRTHDAY, "-1", "3/4", seed);
    }
}

#[test]
fn row_row_row_your_boat_is_six_eight() {
    for seed in [9, 10] {
        check("Row", ROW, "0", "6/8", seed);
    }
}

/// A 6/8 tempo is counted in dotted quarters, as musicians beat it: Row, Row, Row hummed at
/// 96-120 quarter notes a minute carries `<beat-unit>quarter</beat-unit><beat-unit-dot/>` at
/// two thirds of that (64-80).
#[test]
fn six_eight_is_marked_per_dotted_quarter() {
    for seed in [9, 10] {
        let bpm = tempo_of(seed, 96.0, 120.0);
        let read = try_check("Row", ROW, "0", "6/8", bpm, Performance::default(), seed)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(read.metronome.0, "quarter.", "{:?}", read.metronome);
        let per_minute: f64 = read.metronome.1.parse().unwrap();
        assert!(
            (per_minute - bpm * 2.0 / 3.0).abs() <= 2.0,
            "{per_minute} per dotted quarter for {bpm:.1} quarters a minute"
        );
    }
}

/// Slow performances (60-80 bpm) are written at their own tempo, not twice or one and a half
/// times it: Ode to Joy and Twinkle come out bar for bar.
#[test]
fn ode_and_twinkle_sung_slowly_are_written_at_their_tempo() {
    for seed in [21, 22, 23] {
        let bpm = tempo_of(seed, 60.0, 80.0);
        for (name, tune, fifths) in [("Ode to Joy", ODE, "2"), ("Twinkle", TWINKLE, "0")] {
            if let Err(e) = try_check(name, tune, fifths, "4/4", bpm, Performance::default(), seed)
            {
                panic!("{e}");
            }
        }
    }
}

/// A 4/4 tune with beats of triplet eighths and a swung quarter-eighth pair among straight
/// quarters and eighths, in C major.
const TRIPLETS: &str = "| C4 q E4 q G4 q E4 q | 3[ F4 8 E4 8 D4 8 ] C4 q D4 8 E4 8 F4 q \
    | 3[ G4 8 A4 8 G4 8 ] 3[ F4 q E4 8 ] D4 q G4 q | E4 q D4 q C4 h |";

/// Triplets are written as triplets (`<time-modification>` 3 in 2 and a `<tuplet>` bracket),
/// not as sixteenths and dotted eighths, beside straight eighths in the same bar.
#[test]
fn triplet_eighths_are_written_as_triplets() {
    for seed in [31, 32, 33] {
        let bpm = tempo_of(seed, 84.0, 108.0);
        if let Err(e) = try_check(
            "Triplets",
            TRIPLETS,
            "0",
            "4/4",
            bpm,
            Performance::default(),
            seed,
        ) {
            panic!("{e}");
        }
    }
}

/// A singer who slows down by 10-15 % (a ritardando over the last two bars, or a drift over
/// the whole tune) still gets the printed bars: the grid follows the beat instead of holding
/// one tempo for the whole recording.
#[test]
fn a_singer_who_slows_down_keeps_the_printed_values() {
    let cases = [(41, 0.15, 2), (42, 0.12, 2), (43, 0.10, 99), (44, 0.13, 99)];
    for (seed, rit, rit_bars) in cases {
        let bpm = tempo_of(seed, 90.0, 115.0);
        let perf = Performance { rit, rit_bars };
        for (name, tune, fifths) in [("Ode to Joy", ODE, "2"), ("Twinkle", TWINKLE, "0")] {
            if let Err(e) = try_check(name, tune, fifths, "4/4", bpm, perf, seed) {
                panic!("{:.0} % slower over {rit_bars} bars: {e}", rit * 100.0);
            }
        }
    }
}

/// Performances from the forty of `success_rate_over_many_performances` that once failed:
/// Ode to Joy at 60-84 bpm whose repeated quarters the detector releases 250 ms early (written
/// as an eighth and an eighth rest), and Happy Birthday at 96-120 bpm whose pickup's sixteenth
/// comes early (written as a swung triplet pair), and the 4/4 tune with triplets at 60-84 bpm
/// (written as 6/8 at one and a half times the tempo; seeds 107, 110 and 124 still were after
/// the triplet-grid rule, until the tempo fit stopped counting triplet eighths as sixteenths;
/// 100 and 127, their notes released early, then had a pickup of three beats and a final
/// quarter, until a detached tune's last note was held for two beats at least; at 120-140 bpm
/// one beat of triplets with a note 35 ms early was a sixteenth, an eighth and a sixteenth),
/// and Row, Row, Row below 64 quarters a
/// minute (written as 3/4 at twice the tempo); Ode to Joy and Twinkle at 60-84 bpm whose every
/// note the detector measures 90 ms long (written as sixteenths and rests, or in eighths at
/// half the tempo); Happy Birthday at 120-140 bpm whose sixteenth after a breath, sung 55-75 ms,
/// fell under the 70 ms minimum (the pickup written as an eighth and an eighth rest, or the
/// tune in 4/4).
#[test]
fn performances_that_once_failed_read_as_printed() {
    let cases = [
        (
            "Ode to Joy",
            ODE,
            "2",
            "4/4",
            60.0,
            84.0,
            &[102, 104, 106][..],
        ),
        (
            "Happy Birthday",
            BIRTHDAY,
            "-1",
            "3/4",
            96.0,
            120.0,
            &[102, 113],
        ),
        (
            "Triplets",
            TRIPLETS,
            "0",
            "4/4",
            60.0,
            84.0,
            &[101, 102, 106, 107, 110, 124, 100, 127],
        ),
        ("Row", ROW, "0", "6/8", 60.0, 84.0, &[108, 116]),
        (
            "Triplets",
            TRIPLETS,
            "0",
            "4/4",
            120.0,
            140.0,
            &[104, 112, 113, 124],
        ),
        ("Ode to Joy", ODE, "2", "4/4", 60.0, 84.0, &[105, 124]),
        ("Twinkle", TWINKLE, "0", "4/4", 60.0, 84.0, &[102, 115]),
        (
            "Happy Birthday",
            BIRTHDAY,
            "-1",
            "3/4",
            120.0,
            140.0,
            &[117, 118, 121, 124, 130, 136, 138],
        ),
    ];
    for (name, tune, fifths, time, lo, hi, seeds) in cases {
        for &seed in seeds {
            let bpm = tempo_of(seed, lo, hi);
            if let Err(e) = try_check(name, tune, fifths, time, bpm, Performance::default(), seed) {
                panic!("seed {seed}: {e}");
            }
        }
    }
}

/// Forty performances of each tune at 96-120 bpm, then forty at 60-84 and forty at 120-140,
/// for the success rates in docs/melody.md:
/// `cargo test -p kino-melody-engine --test metered_tunes -- --ignored --nocapture`.
#[test]
#[ignore]
fn success_rate_over_many_performances() {
    let tunes = [
        ("Ode to Joy", ODE, "2", "4/4"),
        ("Twinkle", TWINKLE, "0", "4/4"),
        ("Happy Birthday", BIRTHDAY, "-1", "3/4"),
        ("Row", ROW, "0", "6/8"),
        ("Triplets", TRIPLETS, "0", "4/4"),
    ];
    for (lo, hi) in [(96.0, 120.0), (60.0, 84.0), (120.0, 140.0)] {
        for (name, tune, fifths, time) in tunes {
            let mut ok = 0;
            for seed in 100..140 {
                let bpm = tempo_of(seed, lo, hi);
                let perf = Performance::default();
                match try_check(name, tune, fifths, time, bpm, perf, seed) {
                    Ok(_) => ok += 1,
                    Err(e) => println!("seed {seed}: {e}"),
                }
            }
            println!("{name} at {lo}-{hi} bpm: {ok}/40 bar for bar");
        }
    }
}
