//! Note F1 per recording condition on small seeded sets from `plugins/melody/tools/humgen.rs`
//! (the generator behind docs/melody.md's TUNE and HELD-OUT tables), scored with
//! mir_eval's rules by `tools/notescore.rs`. Each floor sits under the figure measured when
//! it was set and, except for the two guards, above the figure before the change it
//! checks (in the doc comments: before -> measured, mean note F1 / with offsets).

#[path = "../../tools/humgen.rs"]
mod humgen;
#[path = "../../tools/notescore.rs"]
mod notescore;

use humgen::Condition;
use kino_melody_engine::{transcribe, Audio, Params};

/// Mean (F1, F1 with offsets) over `clips` clips of `c`, 8 s each at 16 kHz.
fn measure(c: Condition, clips: u64) -> (f64, f64) {
    measure_from(c, 90_000, clips)
}

/// (F1, F1 with offsets) of one clip of `c` as `humset run --base` makes it (`seconds` long,
/// at the sample rate its seed draws).
fn measure_one(c: Condition, seed: u64, seconds: f64) -> (f64, f64) {
    let clip = humgen::clip(c, seed, seconds, None);
    let audio = Audio {
        sample_rate: clip.rate,
        samples: clip.samples,
    };
    let est: Vec<notescore::N> = transcribe(&audio, &Params::default())
        .notes
        .iter()
        .map(|n| (n.onset_s, n.offset_s, n.pitch))
        .collect();
    let truth: Vec<notescore::N> = clip
        .truth
        .iter()
        .map(|n| (n.onset, n.offset, n.pitch))
        .collect();
    let (f, fo) = (
        notescore::score(&truth, &est, false).f,
        notescore::score(&truth, &est, true).f,
    );
    println!("{} {seed}: F1 {f:.3}  with offsets {fo:.3}", c.name());
    (f, fo)
}

/// `measure` on the clips seeded from `base` on (other tunes, voices and noise).
fn measure_from(c: Condition, base: u64, clips: u64) -> (f64, f64) {
    let (mut f, mut fo) = (0.0, 0.0);
    for i in 0..clips {
        let clip = humgen::clip(c, base + 100 * i, 8.0, Some(16_000));
        let audio = Audio {
            sample_rate: clip.rate,
            samples: clip.samples,
        };
        let est: Vec<notescore::N> = transcribe(&audio, &Params::default())
            .notes
            .iter()
            .map(|n| (n.onset_s, n.offset_s, n.pitch))
            .collect();
        let truth: Vec<notescore::N> = clip
            .truth
            .iter()
            .map(|n| (n.onset, n.offset, n.pitch))
            .collect();
        f += notescore::score(&truth, &est, false).f;
        fo += notescore::score(&truth, &est, true).f;
    }
    let (f, fo) = (f / clips as f64, fo / clips as f64);
    println!("{:<8} F1 {f:.3}  with offsets {fo:.3}", c.name());
    (f, fo)
}

fn assert_floor(c: Condition, clips: u64, floor: f64, floor_offsets: f64) {
    let (f, fo) = measure(c, clips);
    assert!(f >= floor, "{}: note F1 {f:.3} under {floor}", c.name());
    assert!(
        fo >= floor_offsets,
        "{}: F1 with offsets {fo:.3} under {floor_offsets}",
        c.name()
    );
}

/// Whistles E5 to C7: the pitch states stopped at E6, so every higher note came out an
/// octave low (0.56 -> 1.000).
#[test]
fn whistles_up_to_c7() {
    assert_floor(Condition::Whistle, 4, 0.95, 0.95);
}

/// Scoops and slow glides of 150-300 ms fold into the note they lead to (0.35 -> 0.892;
/// 0.902 -> 0.925 with the drifting outsets of `scoops_setting_out_on_a_semitone`).
#[test]
fn slow_scoops_and_glides() {
    assert_floor(Condition::Glide, 4, 0.91, 0.91);
}

/// A slow scoop that starts a note after silence looks held while it sets out (a semitone
/// over 300 ms stays within 0.3 semitones for 110 ms): it still folds into the note when
/// that slow outset lies off the semitones, where no sung note sits (12 clips; 0.798 before
/// the harmonic check, 0.814 with it, 0.826 with this; 0.830 / 0.822 -> 0.886 / 0.879 with
/// the drifting outsets below).
#[test]
fn slow_scoops_starting_a_note() {
    assert_floor(Condition::Glide, 12, 0.87, 0.86);
}

/// A scoop that sets out slowly from near a semitone, or falls from above, folds into its
/// note when its held-looking outset already drifts steadily towards it, and an attack's
/// first frames (a wrong octave, or a few tenths of a semitone off) do not break the
/// approach (12 clips of other seeds; 0.860 / 0.836 -> 0.914 / 0.889).
#[test]
fn scoops_setting_out_on_a_semitone() {
    let (f, fo) = measure_from(Condition::Glide, 95_000, 12);
    assert!(f >= 0.9, "note F1 {f:.3} under 0.9");
    assert!(fo >= 0.87, "F1 with offsets {fo:.3} under 0.87");
}

/// The onset of a slow legato glide is where its curve sets out from the old note, not 15 ms
/// before it leaves that note by 0.2 semitone (a semitone over 300 ms gets there 90 ms after
/// setting out): four 8 s clips whose legato onsets came 50-75 ms late, among 40 of seeds
/// 97,000-100,900 where nothing else moved (mean 0.844 / 0.829 -> 0.964 / 0.964).
#[test]
fn slow_legato_glides_start_where_they_set_out() {
    let seeds = [97_500, 99_100, 100_100, 100_600];
    let (mut f, mut fo) = (0.0, 0.0);
    for seed in seeds {
        let (a, b) = measure_from(Condition::Glide, seed, 1);
        f += a / seeds.len() as f64;
        fo += b / seeds.len() as f64;
    }
    assert!(f >= 0.95, "note F1 {f:.3} under 0.95");
    assert!(fo >= 0.95, "F1 with offsets {fo:.3} under 0.95");
}

/// A scoop whose first frames fall fast into a slow outset (from above: an attack that reads
/// a few tenths high), and one whose slow arrival looks held longer than its outset, fold
/// into their notes (two 12 s clips of `humset run tune --base 3000000`, glide_001 and
/// glide_008: 0.889 -> 1.000 and 0.810 -> 0.878, with and without offsets alike).
#[test]
fn scoops_after_a_fast_attack_and_into_a_slow_arrival() {
    for (seed, floor) in [(3_002_000, 0.95), (3_002_007, 0.85)] {
        let (f, fo) = measure_one(Condition::Glide, seed, 12.0);
        assert!(f >= floor, "{seed}: note F1 {f:.3} under {floor}");
        assert!(fo >= floor, "{seed}: F1 with offsets {fo:.3} under {floor}");
    }
}

/// Vibrato of +-80-130 cents: no notes at its peaks, and the note keeps its semitone
/// (0.58 / 0.44 -> 0.818 / 0.771); then no longer a harmonic's octave or twelfth where a
/// vowel's formant lifts it over the fundamental (0.818 / 0.772 -> 0.945 / 0.898).
#[test]
fn deep_vibrato() {
    assert_floor(Condition::Vibrato, 4, 0.92, 0.85);
}

/// A deep vibrato's last crest before a release is flat for a third of a cycle and looked
/// like a held 70 ms note a semitone off; it is a crest when the note swung as far at least
/// twice before (`contour.rs`; two 8 s clips at 16 kHz as `humset one` makes them, 0.960 and 0.947 -> 1.000, with offsets alike).
#[test]
fn the_last_vibrato_crest_before_a_release() {
    for seed in [4_002, 9_103_600] {
        let (f, fo) = measure_from(Condition::Vibrato, seed, 1);
        assert!(f >= 0.98, "{seed}: note F1 {f:.3} under 0.98");
        assert!(fo >= 0.98, "{seed}: F1 with offsets {fo:.3} under 0.98");
    }
}

/// A deep vibrato's crest as the voice releases, 80-100 ms a semitone off and flat at its tip,
/// folds into its note when it turns back towards it at both ends, even when the note swung
/// that far only once before: three 8 s clips where it stayed a note, among 80 of seeds
/// 90,000-97,900 and 97,000-100,900 where nothing else moved (mean 0.866 / 0.792 ->
/// 0.907 / 0.830 with a turn of 0.3 semitone; 0.2 now).
#[test]
fn a_vibrato_crest_that_turns_back_at_a_release() {
    let seeds = [98_100, 98_400, 98_800];
    let (mut f, mut fo) = (0.0, 0.0);
    for seed in seeds {
        let (a, b) = measure_from(Condition::Vibrato, seed, 1);
        f += a / seeds.len() as f64;
        fo += b / seeds.len() as f64;
    }
    assert!(f >= 0.9, "note F1 {f:.3} under 0.9");
    assert!(fo >= 0.82, "F1 with offsets {fo:.3} under 0.82");
}

/// A deep vibrato's crest that runs into the glide to another note, on the far side of the
/// note it left (59 -> 60 -> 54), folds into that note when the vibrato swung that far
/// before and the next note holds its pitch: four 8 s clips where it stayed a note, among 80
/// of seeds 90,000-97,900 and 97,000-100,900 where nothing else moved (mean 0.876 / 0.814 ->
/// 0.979 / 0.979).
#[test]
fn a_vibrato_crest_running_into_a_glide_away() {
    let seeds = [91_400, 92_500, 98_800, 99_000];
    let (mut f, mut fo) = (0.0, 0.0);
    for seed in seeds {
        let (a, b) = measure_from(Condition::Vibrato, seed, 1);
        f += a / seeds.len() as f64;
        fo += b / seeds.len() as f64;
    }
    assert!(f >= 0.95, "note F1 {f:.3} under 0.95");
    assert!(fo >= 0.95, "F1 with offsets {fo:.3} under 0.95");
}

/// Pink noise at 5 dB SNR: noise lowers the NSDF at every lag alike, so it never passes for
/// a missing fundamental, while a real one is still found under a strong harmonic
/// (0.878 / 0.527 -> 0.924 / 0.572).
#[test]
fn noise_at_5_db() {
    assert_floor(Condition::Noise5, 4, 0.9, 0.55);
}

/// Pink noise at 5 and 10 dB SNR on more clips: the dip between two notes of one pitch and
/// the silence after a release stay a few dB over the noise floor unless the steady noise
/// is taken off the frame energies first (`noise.rs`; 12 clips each, before -> after: 5 dB
/// 0.887 / 0.578 -> 0.976 / 0.963, 10 dB 0.993 / 0.874 -> 1.000 / 1.000; the 10 dB note F1
/// floor is a guard).
#[test]
fn repeats_and_offsets_in_strong_noise() {
    for (c, floor, floor_offsets) in [
        (Condition::Noise5, 0.95, 0.93),
        (Condition::Noise10, 0.98, 0.95),
    ] {
        let (f, fo) = measure_from(c, 4_400_000, 12);
        assert!(f >= floor, "{}: note F1 {f:.3} under {floor}", c.name());
        assert!(
            fo >= floor_offsets,
            "{}: F1 with offsets {fo:.3} under {floor_offsets}",
            c.name()
        );
    }
}

/// Vowels whose formant lifts the second or third harmonic far over the fundamental: the
/// note is the fundamental, not the harmonic an octave or a twelfth up, and a high voice's
/// short period is not mistaken for a harmonic of a lower one (12 clips each; child
/// 0.913 -> 1.000, sung words 0.959 -> 0.994, with offsets alike).
#[test]
fn strong_harmonics_keep_the_octave() {
    assert_floor(Condition::Child, 12, 0.97, 0.97);
    assert_floor(Condition::Words, 12, 0.98, 0.98);
}

/// Sung words: the consonant before a vowel is neither the attack nor the previous note's
/// tail (0.79 / 0.59 -> 0.923 / 0.923).
#[test]
fn sung_words() {
    assert_floor(Condition::Words, 4, 0.9, 0.88);
}

/// Guard: child voices up to C6 (1.000 before and after on these seeds; the subharmonic
/// fix shows on the TUNE set's 22.05 and 44.1 kHz clips, 0.878 -> 0.933).
#[test]
fn child_voices() {
    assert_floor(Condition::Child, 4, 0.95, 0.95);
}

/// Guard: dry and low male voices stay as they were (dry 0.939, one C4 an octave high in
/// one clip before and after; low 1.000).
#[test]
fn dry_and_low_voices_do_not_regress() {
    assert_floor(Condition::Dry, 3, 0.93, 0.93);
    assert_floor(Condition::Low, 3, 0.97, 0.95);
}

/// Wet rooms (RT60 0.7-0.8 s, direct-to-reverberant ratio about 0 dB; TUNE clips `room_004`
/// and `room_006`, 12 s): offsets no longer run into the tail once the room's decay is
/// estimated from the clip and a note ends where its energy follows that decay
/// (F1 with offsets 0.214 and 0.148 -> 0.500 and 0.519; note F1 0.714 and 0.667 before and
/// after).
#[test]
fn offsets_in_a_wet_room_follow_its_decay() {
    let (mut f, mut fo) = (0.0, 0.0);
    for seed in [2003, 2005] {
        let clip = humgen::clip(Condition::FdnRoom, seed, 12.0, None);
        let audio = Audio {
            sample_rate: clip.rate,
            samples: clip.samples,
        };
        let est: Vec<notescore::N> = transcribe(&audio, &Params::default())
            .notes
            .iter()
            .map(|n| (n.onset_s, n.offset_s, n.pitch))
            .collect();
        let truth: Vec<notescore::N> = clip
            .truth
            .iter()
            .map(|n| (n.onset, n.offset, n.pitch))
            .collect();
        f += notescore::score(&truth, &est, false).f / 2.0;
        fo += notescore::score(&truth, &est, true).f / 2.0;
    }
    println!("wet rooms: F1 {f:.3}  with offsets {fo:.3}");
    assert!(f >= 0.65, "note F1 {f:.3} under 0.65");
    assert!(fo >= 0.45, "F1 with offsets {fo:.3} under 0.45");
}

/// Rooms told by their phrase ends (RT60 0.6-1.2 s, direct-to-reverberant ratio about 0 dB;
/// 8 s clips, none of which shows the free decays in 12 of 16 bands that the room estimate
/// needed before): where the voice stops before a pause, a room's tail decays at tens of dB
/// per second and a dry release at hundreds, so these clips are now taken for rooms and
/// their offsets follow the room's decay (F1 with offsets 0.362 -> 0.459; note F1 0.728
/// before and after).
#[test]
fn rooms_are_told_by_their_phrase_ends() {
    assert_floor(Condition::FdnRoom, 8, 0.7, 0.42);
}

/// In a room a detached note's gap can hold the previous note's tail at its pitch, with no
/// valley before the next attack, so the boundary passed for legato and the note ran on to
/// the next one: it now ends where its energy starts to follow the room's free decay, when
/// that is at least 30 ms before the pitch moves (12 clips of 8 s; F1 with offsets
/// 0.450 -> 0.475, note F1 0.758 before and after).
#[test]
fn a_release_into_a_pitched_tail_is_not_legato() {
    assert_floor(Condition::FdnRoom, 12, 0.74, 0.46);
}

/// Repeats of one pitch in a room (issue 14, fourth round; TUNE clip `room_004`, 12 s, a run of
/// nine notes of one pitch): the previous note's tail fills the gap, so the broadband energy
/// rises only 6-8 dB into the next attack while held notes beat by as much; a dip shared by the
/// voice's bands (their median fall and rise, 6 dB or more, standing 3 dB out of the others
/// within 300 ms) splits the note, since beating lowers single harmonics at their own moments
/// (note F1 0.815 -> 0.897, with offsets 0.667 -> 0.759). On other seeds the rule is about
/// neutral (docs/melody.md, "Rooms, fourth round").
#[test]
fn repeats_in_a_room_split_at_dips_shared_by_the_bands() {
    let (f, fo) = measure_one(Condition::FdnRoom, 2003, 12.0);
    assert!(f >= 0.86, "note F1 {f:.3} under 0.86");
    assert!(fo >= 0.72, "F1 with offsets {fo:.3} under 0.72");
}

/// Offsets in a room on Habets' late reverberation (issue 14, fifth round; 12 clips of 8 s):
/// releases are looked for on the voice's direct energy, what its bands hold over a
/// per-band model of the late reverberation fed by the direct sound at the clip's
/// direct-to-reverberant ratio, instead of over Lebart's per-bin predictor, which took the
/// whole observed power for reverberant (F1 with offsets 0.484 -> 0.498; note F1 0.760
/// before and after).
#[test]
fn offsets_in_a_room_on_habets_late_reverberation() {
    assert_floor(Condition::FdnRoom, 12, 0.75, 0.49);
}

/// The generator's `room` is a dense room (decaying Gaussian noise per band): the same dry
/// clips hold their notes steadier in it than in the 8-line network (`fdn-room`), whose
/// few narrow modes turn the voice's pitch movement into deep beating (docs/melody.md,
/// "Rooms, sixth round"; six 8 s clips at 16 kHz, the mean over notes of at least 0.5 s of
/// the standard deviation of 20 ms frame energies over their steady part).
#[test]
fn the_dense_room_holds_notes_steadier_than_the_network() {
    let fluct = |c: Condition| {
        let (mut s, mut k) = (0.0, 0);
        for i in 0..6 {
            let clip = humgen::clip(c, 90_000 + 100 * i, 8.0, Some(16_000));
            let notes: Vec<(f64, f64)> = clip.truth.iter().map(|n| (n.onset, n.offset)).collect();
            if let Some(v) = humgen::held_fluctuation_db(&clip.samples, clip.rate, &notes) {
                s += v;
                k += 1;
            }
        }
        s / f64::from(k.max(1))
    };
    let (dry, dense, fdn) = (
        fluct(Condition::Dry),
        fluct(Condition::Room),
        fluct(Condition::FdnRoom),
    );
    println!(
        "held-note fluctuation: dry {dry:.2} dB, dense room {dense:.2} dB, network {fdn:.2} dB"
    );
    assert!(
        dense < fdn,
        "dense room {dense:.2} dB not under the network's {fdn:.2} dB"
    );
    // Measured 1.39 dB (dry 0.34, network 1.69): a room, but no beating of its own.
    assert!(
        (0.8..=1.6).contains(&dense),
        "dense room {dense:.2} dB outside 0.8-1.6"
    );
}

/// Dense rooms told by their phrase ends (issue 14, sixth round; 12 clips of 8 s from seed
/// 300,000): a phrase end that decays slower than any room is a note faded out, and it no
/// longer outvotes the room-like ones, so more dense rooms are taken for rooms and their
/// offsets follow the tail (note F1 0.801 -> 0.813, with offsets 0.562 -> 0.580).
#[test]
fn a_faded_phrase_end_does_not_hide_a_dense_room() {
    let (f, fo) = measure_from(Condition::Room, 300_000, 12);
    assert!(f >= 0.80, "note F1 {f:.3} under 0.80");
    assert!(fo >= 0.57, "F1 with offsets {fo:.3} under 0.57");
}

/// A room with no phrase end to judge it by (issue 14, sixth round; 12 clips of 8 s from
/// seed 600,000, dense rooms): the free decays of two bands make it a room, where twelve
/// were needed before; a dry clip's phrase ends show it dry, so it never gets there
/// (note F1 0.864 -> 0.875, with offsets 0.598 -> 0.623; the network rooms of seed 90,000
/// 0.499 -> 0.517 with offsets, both after the previous test's change).
#[test]
fn a_room_without_phrase_ends_is_told_by_a_few_bands() {
    let (f, fo) = measure_from(Condition::Room, 600_000, 12);
    assert!(f >= 0.87, "note F1 {f:.3} under 0.87");
    assert!(fo >= 0.61, "F1 with offsets {fo:.3} under 0.61");
}
