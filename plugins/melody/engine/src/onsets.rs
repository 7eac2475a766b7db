//! Offsets of notes in a room.
//!
//! After the voice stops, a room's tail decays at the room's own rate, while during a note
//! the energy is held (it beats with the reverberation by 10 dB or more, but keeps coming
//! back). So the note ends where the energy starts to do nothing but follow the room's free
//! decay: a rule on the shape of the energy, not on a level, which a tail as loud as the
//! direct sound defeats.

/// Tolerance (dB) over the free decay for the beating of the tail.
const DECAY_TOL_DB: f32 = 4.0;
/// How long (frames of 5 ms, 150 ms) the energy must follow the free decay.
const DECAY_LOOK: usize = 30;
/// The energy follows the decay from where the voice's release begins; the release lasts
/// about this long (frames, 20 ms).
const RELEASE_LAG: usize = 4;

/// The offset of a note in a room: the first frame from which the energy `e` (dB) only
/// follows the room's free decay (`rate` dB per frame, within `DECAY_TOL_DB` for the
/// beating of the tail) until `limit` or for `DECAY_LOOK` frames, plus the voice's release; `None`
/// when the energy never does.
pub fn decay_offset(
    e: &[f32],
    start: usize,
    limit: usize,
    rate: f32,
    min_len: usize,
) -> Option<usize> {
    let (tol, look, lag) = (DECAY_TOL_DB, DECAY_LOOK, RELEASE_LAG);
    let limit = limit.min(e.len());
    let first = start + min_len;
    (first..limit.saturating_sub(6))
        .find(|&t| {
            let end = (t + look).min(limit);
            (t + 1..end).all(|u| e[u] <= e[t] - rate * (u - t) as f32 + tol)
        })
        .map(|t| (t + lag).min(limit))
}
