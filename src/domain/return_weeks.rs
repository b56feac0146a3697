//! Returns around the yearly deadline, week by week (the "at a glance"
//! chart): keys still out whose return falls due in each week, split into
//! overdue and not yet due, and keys returned in each week. Pure: the store
//! reads the keys and the returns, this counts them.

use super::calendar::Date;
use super::reports::{BoundKey, ReturnDeadline};

/// Weeks shown before the deadline's week, and in all.
pub const WEEKS_BEFORE: u64 = 3;
pub const WEEKS: u64 = 8;

/// One week of the chart: the seven days from `starts`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReturnWeek {
    pub starts: Date,
    /// Still out, due in this week, the due day already past.
    pub overdue: u64,
    /// Still out, due in this week, the due day today or later.
    pub due: u64,
    /// Returned in this week.
    pub returned: u64,
}

/// The weeks around `deadline` (the week holding it is the fourth): for
/// each, keys still bound whose return falls due in it (by
/// [`ReturnDeadline::due_for`], the rule of the overdue report) and the
/// returns made in it.
pub fn return_weeks(
    keys: &[BoundKey],
    returned_on: &[Date],
    deadline: Date,
    rule: ReturnDeadline,
    today: Date,
) -> Vec<ReturnWeek> {
    let mut first = deadline;
    for _ in 0..WEEKS_BEFORE * 7 {
        first = first.previous();
    }
    let mut weeks: Vec<ReturnWeek> = (0..WEEKS)
        .map(|i| ReturnWeek {
            starts: first.add_days(i * 7),
            overdue: 0,
            due: 0,
            returned: 0,
        })
        .collect();
    let week_of = |day: Date| -> Option<usize> {
        let offset = day
            .days_since_epoch()
            .checked_sub(first.days_since_epoch())?;
        usize::try_from(offset / 7)
            .ok()
            .filter(|w| (*w as u64) < WEEKS)
    };
    for key in keys {
        let Some(last_day) = key.rights_ended_on else {
            continue;
        };
        let due = rule.due_for(last_day);
        if let Some(w) = week_of(due) {
            if today > due {
                weeks[w].overdue += 1;
            } else {
                weeks[w].due += 1;
            }
        }
    }
    for day in returned_on {
        if let Some(w) = week_of(*day) {
            weeks[w].returned += 1;
        }
    }
    weeks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::testing::date;

    fn key(ended: Option<&str>) -> BoundKey {
        BoundKey {
            serial: "S".into(),
            holder: "h".into(),
            district: "D".into(),
            rights_ended_on: ended.map(date),
        }
    }

    #[test]
    fn keys_fall_in_the_week_of_their_due_day_and_returns_in_theirs() {
        let deadline = date("2027-07-07");
        let keys = [
            // Due 7 July (the deadline), overdue on the 10th.
            key(Some("2027-07-04")),
            key(Some("2027-06-30")),
            // Due 8 August (a week's grace after 1 August: still the deadline
            // rule's "June to August" case, past the deadline).
            key(Some("2027-08-01")),
            // Rights still in force: not due.
            key(None),
            // Due long before the chart.
            key(Some("2027-02-10")),
        ];
        let returns = [date("2027-06-20"), date("2027-07-08"), date("2026-07-08")];
        let weeks = return_weeks(
            &keys,
            &returns,
            deadline,
            ReturnDeadline::DEFAULT,
            date("2027-07-10"),
        );
        assert_eq!(weeks.len() as u64, WEEKS);
        assert_eq!(weeks[0].starts, date("2027-06-16"));
        assert_eq!(weeks[3].starts, deadline);
        assert_eq!((weeks[3].overdue, weeks[3].due), (2, 0));
        assert_eq!(weeks[3].returned, 1);
        assert_eq!(weeks[0].returned, 1);
        let august = weeks.iter().position(|w| w.due == 1).unwrap();
        assert_eq!(weeks[august].starts, date("2027-08-04"));
        let total: u64 = weeks.iter().map(|w| w.overdue + w.due + w.returned).sum();
        assert_eq!(total, 5);
    }
}
