//! When keyward writes the mails of the school year by itself
//! (docs/mail.md, "Scheduled notices"), from the academic calendar
//! (ACADEMY §3: handover meeting around 20 August, returns in the first days
//! of July): a pure function of the day, the `[mail.calendar]` settings and
//! the return deadline.
//!
//! - **Invitations** to the August handover meeting, to each director whose
//!   first appointment starts this summer and who has no key yet: from
//!   `invite_from` (1 June) until the day before the meeting, so they go out
//!   before the end of the school year (and reach a late appointee too);
//! - **return reminders** to leavers and their inspectors: from
//!   `remind_from` (1 July) until the return deadline;
//! - **overdue notices** to inspectors: once a week (Monday to Sunday),
//!   whenever their district has keys overdue.
//!
//! Each mail is named (the outbox's `dedupe`) by its campaign and recipient
//! ([`Campaign`]), so a second run the same day or week queues nothing twice.

use crate::domain::reports::ReturnDeadline;
use crate::domain::{Date, DomainError};

/// A day of the year, `MM-DD`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MonthDay {
    pub month: u8,
    pub day: u8,
}

impl MonthDay {
    /// Checks the day exists (29 February is refused: not every year has it).
    pub fn new(month: u8, day: u8) -> Result<Self, DomainError> {
        Date::new(2001, month, day)?;
        Ok(MonthDay { month, day })
    }

    /// Parses `MM-DD`.
    pub fn parse(text: &str) -> Option<Self> {
        let (m, d) = text.split_once('-')?;
        if m.len() != 2 || d.len() != 2 {
            return None;
        }
        MonthDay::new(m.parse().ok()?, d.parse().ok()?).ok()
    }

    pub fn in_year(self, year: i32) -> Option<Date> {
        Date::new(year, self.month, self.day).ok()
    }
}

/// The `[mail.calendar]` settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoticeCalendar {
    /// The day of the August handover meeting.
    pub meeting: MonthDay,
    /// Its time, as people read it (`09:00`).
    pub meeting_time: String,
    /// Where it is held; no invitations are sent without it.
    pub meeting_place: Option<String>,
    /// The first day invitations go out.
    pub invite_from: MonthDay,
    /// The first day return reminders go out.
    pub remind_from: MonthDay,
}

impl Default for NoticeCalendar {
    fn default() -> Self {
        NoticeCalendar {
            meeting: MonthDay { month: 8, day: 20 },
            meeting_time: "09:00".to_owned(),
            meeting_place: None,
            invite_from: MonthDay { month: 6, day: 1 },
            remind_from: MonthDay { month: 7, day: 1 },
        }
    }
}

/// A campaign due on a day.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Campaign {
    /// Invitations to the meeting of that day.
    Invitations { meeting: Date },
    /// Return reminders before that deadline.
    Reminders { deadline: Date },
    /// Overdue notices of the week starting that Monday.
    Overdue { week: Date },
}

impl Campaign {
    /// The outbox name of this campaign's mail to `recipient` (a person,
    /// a key or a district): the same on every run of the same campaign.
    pub fn dedupe(&self, recipient: &str) -> String {
        match self {
            Campaign::Invitations { meeting } => format!("invitation:{meeting}:{recipient}"),
            Campaign::Reminders { deadline } => format!("return-reminder:{deadline}:{recipient}"),
            Campaign::Overdue { week } => format!("overdue:{week}:{recipient}"),
        }
    }
}

/// The Monday of `day`'s week.
pub fn monday_of(day: Date) -> Date {
    // 1 January 1970 (day 0) was a Thursday, 3 days after a Monday.
    let since_monday = (day.days_since_epoch() + 3) % 7;
    (0..since_monday).fold(day, |d, _| d.previous())
}

/// The campaigns due on `today`.
pub fn campaigns_on(
    today: Date,
    calendar: &NoticeCalendar,
    deadline: ReturnDeadline,
) -> Vec<Campaign> {
    let year = today.year();
    let mut due = Vec::new();
    if calendar.meeting_place.is_some() {
        if let (Some(from), Some(meeting)) = (
            calendar.invite_from.in_year(year),
            calendar.meeting.in_year(year),
        ) {
            if from <= today && today < meeting {
                due.push(Campaign::Invitations { meeting });
            }
        }
    }
    if let (Some(from), Some(deadline)) =
        (calendar.remind_from.in_year(year), deadline.in_year(year))
    {
        if from <= today && today <= deadline {
            due.push(Campaign::Reminders { deadline });
        }
    }
    due.push(Campaign::Overdue {
        week: monday_of(today),
    });
    due
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Date {
        Date::parse(text).unwrap_or_else(|_| panic!("{text}"))
    }

    fn calendar() -> NoticeCalendar {
        NoticeCalendar {
            meeting_place: Some("Rectorat".into()),
            ..NoticeCalendar::default()
        }
    }

    #[test]
    fn mondays() {
        for (day, monday) in [
            ("2027-06-14", "2027-06-14"),
            ("2027-06-20", "2027-06-14"),
            ("2027-06-21", "2027-06-21"),
            ("1970-01-05", "1970-01-05"),
            ("1970-01-11", "1970-01-05"),
            ("2026-12-31", "2026-12-28"),
            ("2027-01-03", "2026-12-28"),
        ] {
            assert_eq!(monday_of(d(day)), d(monday), "{day}");
        }
    }

    #[test]
    fn the_year_s_campaigns() {
        let cal = calendar();
        let deadline = ReturnDeadline::DEFAULT;
        let on = |day: &str| campaigns_on(d(day), &cal, deadline);
        let overdue = |monday: &str| Campaign::Overdue { week: d(monday) };
        let invite = Campaign::Invitations {
            meeting: d("2027-08-20"),
        };
        let remind = Campaign::Reminders {
            deadline: d("2027-07-07"),
        };
        assert_eq!(on("2027-05-31"), [overdue("2027-05-31")]);
        assert_eq!(on("2027-06-01"), [invite.clone(), overdue("2027-05-31")]);
        assert_eq!(
            on("2027-07-01"),
            [invite.clone(), remind.clone(), overdue("2027-06-28")]
        );
        assert_eq!(
            on("2027-07-07"),
            [invite.clone(), remind, overdue("2027-07-05")]
        );
        assert_eq!(on("2027-07-08"), [invite, overdue("2027-07-05")]);
        assert_eq!(on("2027-08-20"), [overdue("2027-08-16")]);
        // No place, no invitation.
        let no_place = NoticeCalendar::default();
        assert_eq!(
            campaigns_on(d("2027-06-15"), &no_place, deadline),
            [overdue("2027-06-14")]
        );
    }

    #[test]
    fn month_days() {
        assert_eq!(
            MonthDay::parse("08-20"),
            Some(MonthDay { month: 8, day: 20 })
        );
        for bad in ["8-20", "02-30", "02-29", "13-01", "0820", "aa-bb"] {
            assert_eq!(MonthDay::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_campaign_names_each_mail_the_same_on_every_run() {
        let week = Campaign::Overdue {
            week: d("2027-07-12"),
        };
        assert_eq!(week.dedupe("EAST"), "overdue:2027-07-12:EAST");
        assert_ne!(
            week.dedupe("EAST"),
            Campaign::Overdue {
                week: d("2027-07-19")
            }
            .dedupe("EAST")
        );
    }
}
