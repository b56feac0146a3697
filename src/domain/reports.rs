//! Per-district reports: keys whose return is overdue, and keys returned to
//! an inspector but not yet received by the IT centre.

use std::collections::BTreeMap;

use super::calendar::Date;
use super::DomainError;

/// The day of the year by which end-of-year departures return their key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReturnDeadline {
    month: u8,
    day: u8,
}

impl ReturnDeadline {
    /// 7 July: the first week of July (situation 4 of `docs/lifecycle.md`).
    pub const DEFAULT: ReturnDeadline = ReturnDeadline { month: 7, day: 7 };
    /// Grace given to a departure during the year (e.g. an ended delegation).
    pub const GRACE_DAYS: u64 = 7;

    pub fn new(month: u8, day: u8) -> Result<Self, DomainError> {
        Date::new(2000, month, day)?;
        Ok(ReturnDeadline { month, day })
    }

    /// This deadline in `year`.
    pub fn in_year(self, year: i32) -> Option<Date> {
        Date::new(year, self.month, self.day).ok()
    }

    /// When a key whose holder's last right ended on `last_day` is due back.
    /// Departures at the end of the school year (June to August) are due by
    /// the yearly deadline; others within a week.
    pub fn due_for(self, last_day: Date) -> Date {
        let grace = last_day.add_days(Self::GRACE_DAYS);
        if (6..=8).contains(&last_day.month()) {
            match Date::new(last_day.year(), self.month, self.day) {
                Ok(deadline) if deadline >= last_day => deadline,
                _ => grace,
            }
        } else {
            grace
        }
    }
}

/// A key still bound to a holder (prepared, handed over or active).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BoundKey {
    pub serial: String,
    pub holder: String,
    pub district: String,
    /// Last day of the holder's last right, if none is in force or to come.
    pub rights_ended_on: Option<Date>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OverdueReturn {
    pub serial: String,
    pub holder: String,
    pub due: Date,
    pub days_late: u64,
}

/// Overdue returns on `today`, grouped by district.
pub fn overdue_returns(
    keys: &[BoundKey],
    today: Date,
    deadline: ReturnDeadline,
) -> BTreeMap<String, Vec<OverdueReturn>> {
    let mut out: BTreeMap<String, Vec<OverdueReturn>> = BTreeMap::new();
    for key in keys {
        let Some(last_day) = key.rights_ended_on else {
            continue;
        };
        let due = deadline.due_for(last_day);
        if today > due {
            out.entry(key.district.clone())
                .or_default()
                .push(OverdueReturn {
                    serial: key.serial.clone(),
                    holder: key.holder.clone(),
                    due,
                    days_late: today.days_since_epoch() - due.days_since_epoch(),
                });
        }
    }
    out
}

/// A key returned to an inspector, on its way to the IT centre.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InTransit {
    pub serial: String,
    pub holder: String,
    pub returned_on: Date,
    pub days_waiting: u64,
}

pub fn awaiting_it_centre(
    returned: &[(String, String, String, Date)],
    today: Date,
) -> BTreeMap<String, Vec<InTransit>> {
    let mut out: BTreeMap<String, Vec<InTransit>> = BTreeMap::new();
    for (serial, holder, district, returned_on) in returned {
        out.entry(district.clone()).or_default().push(InTransit {
            serial: serial.clone(),
            holder: holder.clone(),
            returned_on: *returned_on,
            days_waiting: today
                .days_since_epoch()
                .saturating_sub(returned_on.days_since_epoch()),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::testing::date;

    #[test]
    fn end_of_year_departures_are_due_on_the_seventh_of_july() {
        let deadline = ReturnDeadline::DEFAULT;
        assert_eq!(deadline.due_for(date("2027-07-04")), date("2027-07-07"));
        assert_eq!(deadline.due_for(date("2027-06-30")), date("2027-07-07"));
        assert_eq!(deadline.due_for(date("2027-08-31")), date("2027-09-07"));
        assert_eq!(deadline.due_for(date("2027-02-10")), date("2027-02-17"));
        let keys = vec![
            BoundKey {
                serial: "A".into(),
                holder: "h1".into(),
                district: "D1".into(),
                rights_ended_on: Some(date("2027-07-04")),
            },
            BoundKey {
                serial: "B".into(),
                holder: "h2".into(),
                district: "D2".into(),
                rights_ended_on: None,
            },
        ];
        assert!(overdue_returns(&keys, date("2027-07-07"), deadline).is_empty());
        let late = overdue_returns(&keys, date("2027-07-09"), deadline);
        assert_eq!(late.len(), 1);
        assert_eq!(late["D1"][0].days_late, 2);
        assert!(ReturnDeadline::new(2, 30).is_err());
    }
}
