//! Simulated time: integer microseconds since the start of a run. Never the wall clock.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// An instant of simulated time, in microseconds since the start of the run.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(transparent)]
pub struct SimTime(pub u64);

/// A span of simulated time, in microseconds.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(transparent)]
pub struct SimDuration(pub u64);

impl SimTime {
    pub const ZERO: SimTime = SimTime(0);
    pub fn from_secs_f64(s: f64) -> Self {
        SimTime((s.max(0.0) * 1e6).round() as u64)
    }
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 * 1e-6
    }
    pub fn micros(self) -> u64 {
        self.0
    }
    /// Time since `earlier`, saturating at zero.
    pub fn since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }
}

impl SimDuration {
    pub const ZERO: SimDuration = SimDuration(0);
    pub const fn from_millis(ms: u64) -> Self {
        SimDuration(ms * 1000)
    }
    pub const fn from_secs(s: u64) -> Self {
        SimDuration(s * 1_000_000)
    }
    pub fn from_secs_f64(s: f64) -> Self {
        SimDuration((s.max(0.0) * 1e6).round() as u64)
    }
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 * 1e-6
    }
    pub fn micros(self) -> u64 {
        self.0
    }

    /// Parses a human duration: `90`, `90s`, `15m`, `1h`, `1h30m`, `250ms`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        if t.is_empty() {
            return Err("empty duration".into());
        }
        if t.starts_with('-') {
            return Err(format!(
                "'{text}': negative duration: the value must be positive"
            ));
        }
        if let Ok(secs) = t.parse::<f64>() {
            return Self::checked_secs(secs, text);
        }
        let mut total = 0.0f64;
        let mut num = String::new();
        let mut chars = t.chars().peekable();
        let mut any_unit = false;
        while let Some(c) = chars.next() {
            if c.is_ascii_digit() || c == '.' {
                num.push(c);
                continue;
            }
            let mut unit = String::from(c);
            while let Some(&n) = chars.peek() {
                if n.is_ascii_alphabetic() {
                    unit.push(n);
                    chars.next();
                } else {
                    break;
                }
            }
            let value: f64 = num
                .parse()
                .map_err(|_| format!("'{text}': expected a number before '{unit}'"))?;
            num.clear();
            let scale = match unit.as_str() {
                "ms" => 1e-3,
                "s" => 1.0,
                "m" | "min" => 60.0,
                "h" => 3600.0,
                _ => return Err(format!("'{text}': unknown unit '{unit}' (use ms, s, m, h)")),
            };
            total += value * scale;
            any_unit = true;
        }
        if !num.is_empty() || !any_unit {
            return Err(format!("'{text}': a number needs a unit (ms, s, m, h)"));
        }
        Self::checked_secs(total, text)
    }

    fn checked_secs(secs: f64, text: &str) -> Result<Self, String> {
        if !secs.is_finite() || secs <= 0.0 || secs > 1e7 {
            return Err(format!(
                "'{text}': duration must be positive and at most 10^7 s"
            ));
        }
        Ok(Self::from_secs_f64(secs))
    }
}

impl Add<SimDuration> for SimTime {
    type Output = SimTime;
    fn add(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }
}
impl AddAssign<SimDuration> for SimTime {
    fn add_assign(&mut self, d: SimDuration) {
        self.0 = self.0.saturating_add(d.0);
    }
}
impl Sub<SimTime> for SimTime {
    type Output = SimDuration;
    fn sub(self, o: SimTime) -> SimDuration {
        self.since(o)
    }
}
impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0 / 1_000_000;
        write!(f, "{:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
    }
}

/// A delay, or `off`: the syntax of `--auto-rearm` in `minesim run` and `dispatcher`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DelayOrOff(pub Option<SimDuration>);

impl std::str::FromStr for DelayOrOff {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s == "off" {
            Ok(DelayOrOff(None))
        } else {
            SimDuration::parse(s)
                .map(|d| DelayOrOff(Some(d)))
                .map_err(|e| format!("{e} (or `off`)"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_or_off_reads_a_duration_or_off() {
        assert_eq!("off".parse(), Ok(DelayOrOff(None)));
        assert_eq!(
            "30s".parse(),
            Ok(DelayOrOff(Some(SimDuration::from_secs(30))))
        );
        let e = "soon".parse::<DelayOrOff>().unwrap_err();
        assert!(e.ends_with("(or `off`)"), "{e}");
    }
    #[test]
    fn parses_durations() {
        assert_eq!(
            SimDuration::parse("1h").unwrap(),
            SimDuration::from_secs(3600)
        );
        assert_eq!(
            SimDuration::parse("1h30m").unwrap(),
            SimDuration::from_secs(5400)
        );
        assert_eq!(
            SimDuration::parse("90").unwrap(),
            SimDuration::from_secs(90)
        );
        assert_eq!(
            SimDuration::parse("250ms").unwrap(),
            SimDuration::from_millis(250)
        );
        assert!(SimDuration::parse("1x").is_err());
        assert!(SimDuration::parse("0s").is_err());
        assert!(SimDuration::parse("").is_err());
        assert!(SimDuration::parse("h").is_err());
    }
}
