//! Civil dates and the injected clock.
//!
//! Rights start and end on dates; decisions are taken at instants. Both come
//! from a [`Clock`] the caller hands in, so the lifecycle code never reads the
//! system time itself and tests run on a fixed one. Dates are UTC calendar days.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use super::DomainError;

/// Seconds since the Unix epoch, UTC.
pub type UnixTime = u64;

const SECONDS_PER_DAY: u64 = 86_400;

/// Where "now" comes from. Implementations must be cheap: the verify path
/// reads the clock once per batch.
pub trait Clock: Send + Sync {
    fn now(&self) -> UnixTime;

    /// Whether another process moves this clock (the daemon's test-clock
    /// file): a deadline on it is reached when that process moves it there,
    /// which only reading it again can tell. In-process tests wait on
    /// tokio's paused clock instead.
    fn moved_from_outside(&self) -> bool {
        false
    }
}

/// A clock that only moves when told to: for tests and replays.
#[derive(Debug)]
pub struct FixedClock(AtomicU64);

impl FixedClock {
    pub fn new(at: UnixTime) -> Self {
        FixedClock(AtomicU64::new(at))
    }

    pub fn set(&self, at: UnixTime) {
        self.0.store(at, Ordering::SeqCst);
    }

    pub fn advance(&self, seconds: u64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now(&self) -> UnixTime {
        self.0.load(Ordering::SeqCst)
    }
}

/// A day of the proleptic Gregorian calendar.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    year: i32,
    month: u8,
    day: u8,
}

impl Date {
    pub fn new(year: i32, month: u8, day: u8) -> Result<Self, DomainError> {
        if !(1970..=9999).contains(&year)
            || !(1..=12).contains(&month)
            || day == 0
            || day > days_in_month(year, month)
        {
            return Err(DomainError::BadDate(format!(
                "{year:04}-{month:02}-{day:02}"
            )));
        }
        Ok(Date { year, month, day })
    }

    /// Parses `YYYY-MM-DD`.
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        let bad = || DomainError::BadDate(text.chars().take(32).collect());
        let bytes = text.as_bytes();
        if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
            return Err(bad());
        }
        let number = |range: std::ops::Range<usize>| -> Result<u32, DomainError> {
            let part = &text[range];
            if !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            part.parse().map_err(|_| bad())
        };
        let year = i32::try_from(number(0..4)?).map_err(|_| bad())?;
        let month = u8::try_from(number(5..7)?).map_err(|_| bad())?;
        let day = u8::try_from(number(8..10)?).map_err(|_| bad())?;
        Date::new(year, month, day).map_err(|_| bad())
    }

    /// The UTC day containing a Unix time.
    pub fn of(time: UnixTime) -> Self {
        civil_from_days(time / SECONDS_PER_DAY)
    }

    pub fn year(self) -> i32 {
        self.year
    }

    pub fn month(self) -> u8 {
        self.month
    }

    pub fn day(self) -> u8 {
        self.day
    }

    /// Days since 1970-01-01.
    pub fn days_since_epoch(self) -> u64 {
        // Howard Hinnant's days_from_civil, for years ≥ 1970 (non-negative).
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(self.month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        u64::try_from(days).unwrap_or(0)
    }

    /// Midnight UTC at the start of this day.
    pub fn start(self) -> UnixTime {
        self.days_since_epoch() * SECONDS_PER_DAY
    }

    pub fn add_days(self, days: u64) -> Self {
        civil_from_days(self.days_since_epoch() + days)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn civil_from_days(days: u64) -> Date {
    // Howard Hinnant's civil_from_days; all values are non-negative here.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = (yoe + era * 400) as i64 + i64::from(month <= 2);
    Date {
        year: i32::try_from(year).unwrap_or(i32::MAX),
        month,
        day,
    }
}

/// RFC 3339 UTC rendering of a Unix time, to the second.
pub fn rfc3339(time: UnixTime) -> String {
    let date = Date::of(time);
    let secs = time % SECONDS_PER_DAY;
    format!(
        "{date}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_known_days() {
        assert_eq!(Date::parse("1970-01-01").unwrap().days_since_epoch(), 0);
        assert_eq!(
            Date::parse("2000-03-01").unwrap().days_since_epoch(),
            11_017
        );
        for days in [0u64, 59, 60, 365, 11_016, 20_000, 20_819, 30_000] {
            assert_eq!(civil_from_days(days).days_since_epoch(), days);
        }
        assert_eq!(Date::of(1_788_220_800).to_string(), "2026-09-01");
        assert_eq!(rfc3339(1_788_220_800 + 3_723), "2026-09-01T01:02:03Z");
    }

    #[test]
    fn refuses_impossible_dates() {
        for bad in [
            "2026-02-29",
            "2026-13-01",
            "2026-00-10",
            "26-01-01",
            "2026-1-01",
            "2026-01-0a",
        ] {
            assert!(Date::parse(bad).is_err(), "{bad}");
        }
        assert!(Date::parse("2028-02-29").is_ok());
    }
}
