//! Value parsers shared by the binaries (`minesim`, `dispatcher`), so a flag means the same
//! and says the same about a bad value everywhere. Each returns the message clap prints after
//! "invalid value '…' for '--flag'". Flags that take numbers set `allow_hyphen_values`, so a
//! negative number reaches these and is refused for what it is, not as an unknown flag.

use crate::time::SimDuration;

/// A seed: a whole number from 0 to 2⁶⁴ − 1.
pub fn seed(s: &str) -> Result<u64, String> {
    let msg = || format!("a seed is a whole number from 0 to {}, got {s}", u64::MAX);
    if s.trim().starts_with('-') {
        return Err(msg());
    }
    s.trim().parse().map_err(|_| msg())
}

/// A duration in the syntax of [`SimDuration::parse`] (`90s`, `15m`, `1h30m`, `250ms`).
/// (A negative one is refused by the parser as "negative duration".)
pub fn duration(s: &str) -> Result<SimDuration, String> {
    SimDuration::parse(s)
}

/// A whole number within `lo..=hi` (`what` names it in the message).
pub fn count_in(s: &str, what: &str, lo: u64, hi: u64) -> Result<u64, String> {
    let n: i128 = s
        .trim()
        .parse()
        .map_err(|_| format!("{what} must be a whole number, got '{s}'"))?;
    if n < i128::from(lo) || n > i128::from(hi) {
        return Err(format!("{what} must be from {lo} to {hi}, got {n}"));
    }
    Ok(n as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_values_are_named_for_what_they_are() {
        assert_eq!(seed("7"), Ok(7));
        assert!(seed("-1").is_err_and(|e| e.contains("whole number from 0")));
        assert!(seed("x").is_err());
        assert!(duration("-5s").is_err_and(|e| e.contains("negative")));
        assert_eq!(duration("2m"), Ok(SimDuration::from_secs(120)));
        assert_eq!(count_in("20", "trucks", 1, 2000), Ok(20));
        assert!(count_in("-3", "trucks", 1, 2000).is_err_and(|e| e.contains("got -3")));
        assert!(count_in("2001", "trucks", 1, 2000).is_err());
        assert!(count_in("3.5", "trucks", 1, 2000).is_err());
    }
}
