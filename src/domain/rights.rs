//! Rights: "director of school S" for a person, from a date, optionally until
//! a date, by appointment (starts and ends by itself) or by the inspector's
//! delegation (ended by the inspector, case 2).

use std::fmt;

use jiff::tz::TimeZone;

use super::calendar::{Date, UnixTime};
use super::people::PersonId;
use super::uai::Uai;
use super::DomainError;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RightOrigin {
    Appointment,
    Delegation,
}

impl RightOrigin {
    pub fn as_str(self) -> &'static str {
        match self {
            RightOrigin::Appointment => "appointment",
            RightOrigin::Delegation => "delegation",
        }
    }

    pub fn parse(text: &str) -> Result<Self, DomainError> {
        match text {
            "appointment" => Ok(RightOrigin::Appointment),
            "delegation" => Ok(RightOrigin::Delegation),
            _ => Err(DomainError::Corrupt("right origin")),
        }
    }
}

impl fmt::Display for RightOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why the administration ended or shortened an appointment (a fixed list).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum EndReason {
    // Retirement.
    Retraite,
    // Transfer to another post.
    Mutation,
    // Change of career track.
    ChangementDeCorps,
    // End of the director function.
    FinDeFonction,
    Autre,
    // The academic directory no longer publishes it (`docs/directory.md`):
    // set by the sync only, never chosen by hand.
    #[value(skip)]
    Directory,
}

impl EndReason {
    pub const ALL: [EndReason; 6] = [
        EndReason::Retraite,
        EndReason::Mutation,
        EndReason::ChangementDeCorps,
        EndReason::FinDeFonction,
        EndReason::Autre,
        EndReason::Directory,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Retraite => "retraite",
            EndReason::Mutation => "mutation",
            EndReason::ChangementDeCorps => "changement_de_corps",
            EndReason::FinDeFonction => "fin_de_fonction",
            EndReason::Autre => "autre",
            EndReason::Directory => "directory",
        }
    }

    /// A reason an admin may give (every one but "directory").
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        EndReason::ALL
            .into_iter()
            .filter(|r| *r != EndReason::Directory)
            .find(|r| r.as_str() == text)
            .ok_or(DomainError::BadIdentifier {
                what: "reason",
                rule: "retraite, mutation, changement_de_corps, fin_de_fonction or autre",
            })
    }

    /// A reason as stored (the sync's "directory" included).
    pub fn decode(text: &str) -> Result<Self, DomainError> {
        EndReason::ALL
            .into_iter()
            .find(|r| r.as_str() == text)
            .ok_or(DomainError::Corrupt("end reason"))
    }
}

impl fmt::Display for EndReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The dated part of a right: enough to say whether it is in force.
///
/// Its dates are days of the authority's calendar, so every question about
/// an instant names the time zone that instant is read in (the authority's,
/// `time_zone` in `keyward.toml`): a right ending on a day holds until that
/// day's local midnight.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RightPeriod {
    pub from: Date,
    /// Last day included, if the right has a planned end.
    pub until: Option<Date>,
    /// When it was ended early (a delegation by its inspector, an
    /// appointment by the administration).
    pub ended_at: Option<UnixTime>,
}

impl RightPeriod {
    pub fn new(from: Date, until: Option<Date>) -> Result<Self, DomainError> {
        if until.is_some_and(|u| u < from) {
            return Err(DomainError::RightEndsBeforeItStarts);
        }
        Ok(RightPeriod {
            from,
            until,
            ended_at: None,
        })
    }

    /// In force at `now`: started, not past its last day, not ended early.
    pub fn in_force_at(&self, now: UnixTime, zone: &TimeZone) -> bool {
        let today = Date::local(now, zone);
        self.from <= today
            && self.until.is_none_or(|until| today <= until)
            && self.ended_at.is_none_or(|ended| now < ended)
    }

    /// Will it still be (or become) in force at or after `now`?
    pub fn live_or_future_at(&self, now: UnixTime, zone: &TimeZone) -> bool {
        let today = Date::local(now, zone);
        self.until.is_none_or(|until| today <= until) && self.ended_at.is_none_or(|e| now < e)
    }

    /// Overlaps `other` on at least one day (ended rights overlap nothing
    /// after they ended).
    pub fn overlaps(&self, other: &RightPeriod, now: UnixTime) -> bool {
        let live = |p: &RightPeriod| p.ended_at.is_none_or(|e| now < e);
        let before = |a: &RightPeriod, b: &RightPeriod| a.until.is_some_and(|u| u < b.from);
        live(self) && live(other) && !before(self, other) && !before(other, self)
    }

    /// Counts for its district's inspector at `now`: in force, to come, or
    /// ended within the last year (docs/lifecycle.md).
    pub fn recent_at(&self, now: UnixTime, zone: &TimeZone) -> bool {
        self.live_or_future_at(now, zone)
            || self
                .last_day(zone)
                .is_some_and(|last| last.add_days(365) >= Date::local(now, zone))
    }

    /// The last day the right was in force, once it has ended.
    pub fn last_day(&self, zone: &TimeZone) -> Option<Date> {
        let ended = self
            .ended_at
            .map(|at| Date::local(at.saturating_sub(1), zone).max(self.from));
        match (self.until, ended) {
            (Some(u), Some(e)) => Some(u.min(e)),
            (u, e) => u.or(e),
        }
    }
}

/// A right as the verify service returns it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RightInForce {
    pub school: Uai,
    pub origin: RightOrigin,
    pub until: Option<Date>,
}

/// A right as recorded, with the district of its school.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RightRecord {
    pub id: i64,
    pub person: PersonId,
    pub school: Uai,
    pub district: String,
    pub origin: RightOrigin,
    pub period: RightPeriod,
    /// Why the administration ended or shortened it.
    pub end_reason: Option<EndReason>,
}

/// The rights in force at `now`, a time read in the authority's `zone`:
/// what every verify writer (SQLite's, a PostgreSQL node's) decides
/// entitlement with.
pub fn in_force(rights: &[RightRecord], now: UnixTime, zone: &TimeZone) -> Vec<RightInForce> {
    rights
        .iter()
        .filter(|r| r.period.in_force_at(now, zone))
        .map(|r| RightInForce {
            school: r.school.clone(),
            origin: r.origin,
            until: r.period.until,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::testing::date;

    const UTC: &TimeZone = &TimeZone::UTC;

    #[test]
    fn appointments_start_and_end_by_themselves() {
        let p = RightPeriod::new(date("2026-09-01"), Some(date("2027-07-04"))).unwrap();
        assert!(!p.in_force_at(date("2026-08-31").start() + 86_399, UTC));
        assert!(p.in_force_at(date("2026-09-01").start(), UTC));
        assert!(p.in_force_at(date("2027-07-04").start() + 86_399, UTC));
        assert!(!p.in_force_at(date("2027-07-05").start(), UTC));
        assert_eq!(p.last_day(UTC), Some(date("2027-07-04")));
    }

    #[test]
    fn delegation_ended_early_stops_at_once() {
        let mut p = RightPeriod::new(date("2026-10-01"), None).unwrap();
        let end = date("2026-10-20").start() + 3600 * 10;
        assert!(p.in_force_at(end - 1, UTC));
        p.ended_at = Some(end);
        assert!(!p.in_force_at(end, UTC));
        assert_eq!(p.last_day(UTC), Some(date("2026-10-20")));
        assert!(RightPeriod::new(date("2026-10-02"), Some(date("2026-10-01"))).is_err());
    }

    #[test]
    fn days_are_the_authority_s_local_days() {
        let paris = TimeZone::get("Europe/Paris").unwrap();
        let p = RightPeriod::new(date("2026-09-01"), Some(date("2027-07-04"))).unwrap();
        // 23:30 in Paris (UTC+2) on the last day is 21:30 UTC the same day;
        // 00:30 in Paris the next day is still 4 July in UTC.
        let late = date("2027-07-04").start() + 21 * 3600 + 1800;
        let next = date("2027-07-04").start() + 22 * 3600 + 1800;
        assert!(p.in_force_at(late, &paris));
        assert!(!p.in_force_at(next, &paris));
        assert!(p.in_force_at(next, UTC));
        assert!(!p.live_or_future_at(next, &paris));
        // 1 September starts in Paris at 22:00 UTC on 31 August.
        let first = date("2026-08-31").start() + 22 * 3600;
        assert!(p.in_force_at(first, &paris));
        assert!(!p.in_force_at(first, UTC));
        // Ended at 00:30 on 20 October in Paris: in force there that day.
        let mut q = RightPeriod::new(date("2026-10-01"), None).unwrap();
        q.ended_at = Some(date("2026-10-19").start() + 22 * 3600 + 1800);
        assert_eq!(q.last_day(&paris), Some(date("2026-10-20")));
        assert_eq!(q.last_day(UTC), Some(date("2026-10-19")));
    }

    #[test]
    fn overlapping_periods_and_recent_rights() {
        let period =
            |from, until: Option<&str>| RightPeriod::new(date(from), until.map(date)).unwrap();
        let now = date("2026-11-02").start();
        let year = period("2026-09-01", Some("2027-07-04"));
        for (other, overlaps) in [
            (period("2027-07-04", None), true),
            (period("2027-07-05", None), false),
            (period("2025-09-01", Some("2026-08-31")), false),
            (period("2025-09-01", Some("2026-09-01")), true),
            (period("2026-10-01", Some("2026-10-02")), true),
        ] {
            assert_eq!(year.overlaps(&other, now), overlaps, "{other:?}");
            assert_eq!(other.overlaps(&year, now), overlaps, "{other:?}");
        }
        let mut ended = period("2026-09-01", None);
        ended.ended_at = Some(now - 10);
        assert!(!ended.overlaps(&year, now));
        // Recent: to come, in force, or ended within the last year.
        assert!(period("2027-01-01", None).recent_at(now, UTC));
        assert!(period("2025-09-01", Some("2025-11-02")).recent_at(now, UTC));
        assert!(!period("2024-09-01", Some("2025-11-01")).recent_at(now, UTC));
        assert_eq!(
            EndReason::parse("changement_de_corps"),
            Ok(EndReason::ChangementDeCorps)
        );
        assert!(EndReason::parse("bored").is_err());
        assert!(EndReason::parse("directory").is_err());
        assert_eq!(EndReason::decode("directory"), Ok(EndReason::Directory));
    }
}
