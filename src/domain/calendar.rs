//! Civil dates and the injected clock.
//!
//! Rights start and end on dates; decisions are taken at instants. Both come
//! from a [`Clock`] the caller hands in, so the lifecycle code never reads the
//! system time itself and tests run on a fixed one. Calendar arithmetic and
//! time zones are `jiff`'s; an instant becomes a day only in a time zone
//! the caller names ([`Date::local`]), in the daemon the authority's.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use jiff::civil;
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp, Unit};

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

/// A day of the proleptic Gregorian calendar, from 1970 to 9999.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(civil::Date);

impl Date {
    pub fn new(year: i32, month: u8, day: u8) -> Result<Self, DomainError> {
        let bad = || DomainError::BadDate(format!("{year:04}-{month:02}-{day:02}"));
        if !(1970..=9999).contains(&year) {
            return Err(bad());
        }
        let year = i16::try_from(year).map_err(|_| bad())?;
        let month = i8::try_from(month).map_err(|_| bad())?;
        let day = i8::try_from(day).map_err(|_| bad())?;
        civil::Date::new(year, month, day)
            .map(Date)
            .map_err(|_| bad())
    }

    /// Parses `YYYY-MM-DD` (exactly that: four, two and two digits).
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        let bad = || DomainError::BadDate(text.chars().take(32).collect());
        // jiff also reads other ISO 8601 forms; the API takes this one only.
        let shape = text.len() == 10
            && text.bytes().enumerate().all(|(i, b)| match i {
                4 | 7 => b == b'-',
                _ => b.is_ascii_digit(),
            });
        if !shape {
            return Err(bad());
        }
        let date: civil::Date = text.parse().map_err(|_| bad())?;
        Date::new(
            i32::from(date.year()),
            date.month().unsigned_abs(),
            date.day().unsigned_abs(),
        )
        .map_err(|_| bad())
    }

    /// The day containing a Unix time in a time zone, usually the
    /// authority's (`time_zone` in `keyward.toml`). There is no UTC
    /// shortcut: every caller says which zone its day is in.
    pub fn local(time: UnixTime, zone: &TimeZone) -> Self {
        let date = zone.to_datetime(timestamp(time)).date();
        Date(date.max(EPOCH))
    }

    pub fn year(self) -> i32 {
        i32::from(self.0.year())
    }

    pub fn month(self) -> u8 {
        self.0.month().unsigned_abs()
    }

    pub fn day(self) -> u8 {
        self.0.day().unsigned_abs()
    }

    /// Days since 1970-01-01.
    pub fn days_since_epoch(self) -> u64 {
        let days = self
            .0
            .since((Unit::Day, EPOCH))
            .map_or(0, |span| span.get_days());
        u64::try_from(days).unwrap_or(0)
    }

    /// The first instant of this day in a time zone (midnight UTC if the
    /// zone cannot place it).
    pub fn start_in(self, zone: &TimeZone) -> UnixTime {
        zone.to_ambiguous_timestamp(self.0.to_datetime(jiff::civil::Time::midnight()))
            .compatible()
            .ok()
            .and_then(|t| u64::try_from(t.as_second()).ok())
            .unwrap_or_else(|| self.start())
    }

    /// Midnight UTC at the start of this day.
    pub fn start(self) -> UnixTime {
        self.days_since_epoch() * SECONDS_PER_DAY
    }

    /// This day plus `days`; past 9999-12-31 the last day (no right or
    /// deadline lasts that long).
    pub fn add_days(self, days: u64) -> Self {
        let added = i64::try_from(days)
            .ok()
            .and_then(|days| Span::new().try_days(days).ok())
            .and_then(|span| self.0.checked_add(span).ok());
        Date(added.unwrap_or(LAST).min(LAST))
    }

    /// The day before; before 1970-01-01 that day itself.
    pub fn previous(self) -> Self {
        self.0
            .yesterday()
            .ok()
            .filter(|d| *d >= EPOCH)
            .map_or(self, Date)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.strftime("%Y-%m-%d"))
    }
}

const EPOCH: civil::Date = civil::date(1970, 1, 1);
const LAST: civil::Date = civil::date(9999, 12, 31);

/// A Unix time as a jiff timestamp; times past what jiff holds (year 9999)
/// are clamped to its last second.
fn timestamp(time: UnixTime) -> Timestamp {
    i64::try_from(time)
        .ok()
        .and_then(|t| Timestamp::from_second(t).ok())
        .unwrap_or(Timestamp::MAX)
}

/// RFC 3339 UTC rendering of a Unix time, to the second.
pub fn rfc3339(time: UnixTime) -> String {
    timestamp(time).strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
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
        let epoch = Date::parse("1970-01-01").unwrap();
        for days in [0u64, 59, 60, 365, 11_016, 20_000, 20_819, 30_000] {
            assert_eq!(epoch.add_days(days).days_since_epoch(), days);
            assert_eq!(
                Date::local(days * SECONDS_PER_DAY, &TimeZone::UTC).days_since_epoch(),
                days
            );
        }
        assert_eq!(
            Date::local(1_788_220_800, &TimeZone::UTC).to_string(),
            "2026-09-01"
        );
        assert_eq!(rfc3339(1_788_220_800 + 3_723), "2026-09-01T01:02:03Z");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn a_local_day_follows_the_authority_time_zone() {
        let paris = TimeZone::get("Europe/Paris").unwrap();
        // 2026-08-31 23:30 UTC is already 1 September in Paris (UTC+2).
        let late = 1_788_220_800 - 1_800;
        assert_eq!(Date::local(late, &TimeZone::UTC).to_string(), "2026-08-31");
        assert_eq!(Date::local(late, &paris).to_string(), "2026-09-01");
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
