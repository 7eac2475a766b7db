//! notescore: note-level F1 with mir_eval.transcription's rules, in Rust so that the
//! engine's tests and the `humset` example need no Python.
//!
//! A reference and an estimated note match when their onsets are within 50 ms and their
//! pitches within 50 cents (the same integer MIDI number); with offsets, the offset must
//! also be within max(50 ms, 20 % of the reference note's duration). Matching is one to one
//! (maximum bipartite matching). Both empty scores 1, one empty 0 (the dev set's rules).

#![allow(dead_code)]

/// A note as (onset s, offset s, MIDI number).
pub type N = (f64, f64, u8);

/// Precision, recall and F1 of `est` against `truth`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Prf {
    pub p: f64,
    pub r: f64,
    pub f: f64,
    pub matched: usize,
}

pub fn max_matching(adj: &[Vec<usize>], n_right: usize) -> usize {
    fn augment(
        u: usize,
        adj: &[Vec<usize>],
        seen: &mut [bool],
        owner: &mut [Option<usize>],
    ) -> bool {
        for &v in &adj[u] {
            if !seen[v] {
                seen[v] = true;
                if owner[v].is_none_or(|w| augment(w, adj, seen, owner)) {
                    owner[v] = Some(u);
                    return true;
                }
            }
        }
        false
    }
    let mut owner = vec![None; n_right];
    (0..adj.len())
        .filter(|&u| augment(u, adj, &mut vec![false; n_right], &mut owner))
        .count()
}

/// Scores one clip; `offsets` adds the offset criterion.
pub fn score(truth: &[N], est: &[N], offsets: bool) -> Prf {
    if truth.is_empty() || est.is_empty() {
        let f = if truth.is_empty() && est.is_empty() {
            1.0
        } else {
            0.0
        };
        return Prf {
            p: f,
            r: f,
            f,
            matched: 0,
        };
    }
    let adj: Vec<Vec<usize>> = truth
        .iter()
        .map(|r| {
            let off_tol = (0.2 * (r.1 - r.0)).max(0.05);
            est.iter()
                .enumerate()
                .filter(|(_, e)| {
                    (e.0 - r.0).abs() <= 0.05 + 1e-9
                        && e.2 == r.2
                        && (!offsets || (e.1 - r.1).abs() <= off_tol + 1e-9)
                })
                .map(|(j, _)| j)
                .collect()
        })
        .collect();
    let m = max_matching(&adj, est.len());
    let (p, r) = (m as f64 / est.len() as f64, m as f64 / truth.len() as f64);
    let f = if m == 0 { 0.0 } else { 2.0 * p * r / (p + r) };
    Prf {
        p,
        r,
        f,
        matched: m,
    }
}

/// Reads a truth CSV (`onset_s,offset_s,midi_pitch`, header optional).
pub fn read_csv(text: &str) -> Vec<N> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.split(',');
            let on: f64 = it.next()?.trim().parse().ok()?;
            let off: f64 = it.next()?.trim().parse().ok()?;
            let p: f64 = it.next()?.trim().parse().ok()?;
            Some((on, off, p.round().clamp(0.0, 127.0) as u8))
        })
        .collect()
}
