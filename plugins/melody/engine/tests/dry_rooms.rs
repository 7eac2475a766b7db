//! Dry tunes are not taken for rooms: with digital silence between notes, a held note's level
//! (which stays within a decibel of its running minimum for a second) and its release into
//! the silence passed for a room's free decay in 12 of 16 bands, and the room rules then cut
//! the notes' offsets (issue 14; every Ode to Joy at 96-120 bpm and most Row, Row, Row Your
//! Boat at 60-84 bpm of `metered_tunes`' forty performances were taken for rooms).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

mod notation;

use notation::{hum, tempo_of, Performance};

const ODE: &str = "| F#4 q F#4 q G4 q A4 q | A4 q G4 q F#4 q E4 q | D4 q D4 q E4 q F#4 q \
    | F#4 q. E4 8 E4 h | F#4 q F#4 q G4 q A4 q | A4 q G4 q F#4 q E4 q | D4 q D4 q E4 q F#4 q \
    | E4 q. D4 8 D4 h |";

const ROW: &str = "| C4 q. C4 q. | C4 q D4 8 E4 q. | E4 q D4 8 E4 q F4 8 | G4 h. \
    | C5 8 C5 8 C5 8 G4 8 G4 8 G4 8 | E4 8 E4 8 E4 8 C4 8 C4 8 C4 8 | G4 q F4 8 E4 q D4 8 \
    | C4 h. |";

/// Performances that were all taken for rooms (decay rates 35-190 dB/s) before.
#[test]
fn dry_metered_tunes_are_not_rooms() {
    let cases = [
        (ODE, 96.0, 120.0, [100, 101, 102]),
        (ODE, 60.0, 84.0, [101, 102, 104]),
        (ROW, 60.0, 84.0, [100, 103, 105]),
    ];
    for (tune, lo, hi, seeds) in cases {
        for seed in seeds {
            let bpm = tempo_of(seed, lo, hi);
            let audio = hum(tune, bpm, seed.wrapping_mul(7919), Performance::default());
            let room = kino_melody_engine::debug_room_rate(&audio);
            assert!(
                room.is_none(),
                "seed {seed} at {bpm:.1} bpm taken for a room of {room:?} dB/s"
            );
        }
    }
}
