//! `Range: bytes=…` for one range (RFC 9110 §14): `a-b`, `a-` and the suffix `-n`. Several
//! ranges at once are answered with the whole file (a server may ignore `Range`), which no
//! player asks for anyway.

/// What a `Range` header asks of a file of `size` bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum Wanted {
    /// The whole file, 200.
    Whole,
    /// Bytes `start..=end`, 206.
    Part {
        /// First byte.
        start: u64,
        /// Last byte, inclusive.
        end: u64,
    },
    /// Nothing of it can be served, 416.
    Unsatisfiable,
}

/// Reads the header (absent: the whole file).
pub fn wanted(header: Option<&str>, size: u64) -> Wanted {
    // No header, or another unit than bytes: ignored, as RFC 9110 allows.
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return Wanted::Whole;
    };
    if spec.contains(',') {
        return Wanted::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Wanted::Unsatisfiable;
    };
    let (first, last) = (first.trim(), last.trim());
    let num = |s: &str| -> Option<u64> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    match (first.is_empty(), last.is_empty()) {
        (true, true) => Wanted::Unsatisfiable,
        (true, false) => match num(last) {
            Some(0) | None => Wanted::Unsatisfiable,
            Some(_) if size == 0 => Wanted::Unsatisfiable,
            Some(n) => Wanted::Part {
                start: size.saturating_sub(n),
                end: size - 1,
            },
        },
        (false, _) => {
            let Some(start) = num(first) else {
                return Wanted::Unsatisfiable;
            };
            if start >= size {
                return Wanted::Unsatisfiable;
            }
            let end = match last.is_empty() {
                true => size - 1,
                false => match num(last) {
                    Some(e) if e >= start => e.min(size - 1),
                    _ => return Wanted::Unsatisfiable,
                },
            };
            Wanted::Part { start, end }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_of_one_range() {
        let part = |start, end| Wanted::Part { start, end };
        assert_eq!(wanted(None, 10), Wanted::Whole);
        assert_eq!(wanted(Some("bytes=0-"), 10), part(0, 9));
        assert_eq!(wanted(Some("bytes=2-4"), 10), part(2, 4));
        assert_eq!(wanted(Some("bytes=8-100"), 10), part(8, 9));
        assert_eq!(wanted(Some("bytes=-3"), 10), part(7, 9));
        assert_eq!(wanted(Some("bytes=-30"), 10), part(0, 9));
        assert_eq!(wanted(Some("bytes=10-"), 10), Wanted::Unsatisfiable);
        assert_eq!(wanted(Some("bytes=5-2"), 10), Wanted::Unsatisfiable);
        assert_eq!(wanted(Some("bytes=-0"), 10), Wanted::Unsatisfiable);
        assert_eq!(wanted(Some("bytes=x-2"), 10), Wanted::Unsatisfiable);
        assert_eq!(wanted(Some("bytes=+1-2"), 10), Wanted::Unsatisfiable);
        assert_eq!(wanted(Some("bytes=0-1,4-5"), 10), Wanted::Whole);
        assert_eq!(wanted(Some("items=0-1"), 10), Wanted::Whole);
        assert_eq!(wanted(Some("bytes=0-"), 0), Wanted::Unsatisfiable);
    }
}
