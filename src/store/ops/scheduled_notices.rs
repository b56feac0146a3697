//! The mails of the school year queued by the calendar (`mail::calendar`):
//! invitations to the August handover meeting, July return reminders,
//! weekly overdue notices. Each is queued with its campaign's name
//! ([`Campaign::dedupe`]), so running this again the same day or week
//! queues nothing twice; a run is one transaction.

use rusqlite::params;

use super::{query_rows, rights_of, Tx};
use crate::domain::{Date, PersonId};
use crate::i18n;
use crate::mail::calendar::{campaigns_on, Campaign, NoticeCalendar};
use crate::mail::templates::TemplateId;
use crate::store::ops::MailContext;
use crate::store::StoreError;

/// An appointment starting up to this many days after the meeting still
/// gets an invitation (the school year starts early September).
const STARTS_AFTER_MEETING_DAYS: u64 = 45;

/// How many mails a run queued, per campaign.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScheduledQueued {
    pub invitations: usize,
    pub reminders: usize,
    pub overdue: usize,
}

impl Tx<'_> {
    /// Queues the calendar's mails due today that were not queued yet.
    pub fn queue_scheduled_notices(
        &mut self,
        ctx: MailContext<'_>,
        calendar: &NoticeCalendar,
    ) -> Result<ScheduledQueued, StoreError> {
        self.require_desk("queue the calendar's mails")?;
        let mut queued = ScheduledQueued::default();
        let today = self.today();
        for campaign in campaigns_on(today, calendar, self.shared.config.return_deadline) {
            match campaign {
                Campaign::Invitations { meeting } => {
                    queued.invitations +=
                        self.queue_invitations(ctx, calendar, &campaign, meeting)?
                }
                Campaign::Reminders { deadline } => {
                    queued.reminders += self.queue_reminders(ctx, &campaign, deadline)?
                }
                Campaign::Overdue { .. } => queued.overdue += self.queue_overdue(ctx, &campaign)?,
            }
        }
        Ok(queued)
    }

    /// New directors whose appointment starts after today and by the
    /// start of the school year, without a key yet.
    fn queue_invitations(
        &mut self,
        ctx: MailContext<'_>,
        calendar: &NoticeCalendar,
        campaign: &Campaign,
        meeting: Date,
    ) -> Result<usize, StoreError> {
        let Some(place) = &calendar.meeting_place else {
            return Ok(0);
        };
        let until = meeting.add_days(STARTS_AFTER_MEETING_DAYS);
        let starting: Vec<(String, String)> = query_rows(
            self.db,
            "SELECT person, MIN(from_date) FROM rights
             WHERE origin = 'appointment' AND ended_at IS NULL AND from_date > ?1 AND from_date <= ?2
             GROUP BY person ORDER BY person",
            params![self.today().to_string(), until.to_string()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let date = format!(
            "{} {}",
            i18n::date(ctx.lang, meeting),
            calendar.meeting_time
        );
        let mut queued = 0;
        for (person, start) in starting {
            let id = PersonId::parse(&person).map_err(super::corrupt("person"))?;
            if self.live_token_of(&id)?.is_some() {
                continue;
            }
            let who = self.person(&id)?;
            let start = i18n::date_text(ctx.lang, &start);
            let args = [
                ("holder", who.full_name.as_str()),
                ("start", start.as_str()),
                ("date", date.as_str()),
                ("place", place.as_str()),
            ];
            let template = TemplateId::AugustInvitation;
            let rendered = ctx.templates.render(template, ctx.lang, &args);
            let dedupe = campaign.dedupe(&person);
            let id = self.enqueue_mail(template, &[&who.mail], &rendered, Some(&dedupe))?;
            queued += usize::from(id.is_some());
        }
        Ok(queued)
    }

    /// Holders of a key whose last right ends this summer (due back by
    /// `deadline`), and their inspectors.
    fn queue_reminders(
        &mut self,
        ctx: MailContext<'_>,
        campaign: &Campaign,
        deadline: Date,
    ) -> Result<usize, StoreError> {
        let live: Vec<(String, String)> = query_rows(
            self.db,
            "SELECT serial, holder FROM tokens
             WHERE state IN ('prepared','handed_over','active') AND profile <> 'emergency'
             ORDER BY serial",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let rule = self.shared.config.return_deadline;
        let mut queued = 0;
        for (serial, holder) in live {
            let rights = rights_of(self.db, &holder)?;
            let open = rights
                .iter()
                .any(|r| r.period.until.is_none() && r.period.ended_at.is_none());
            let last = rights
                .iter()
                .filter_map(|r| r.period.last_day(self.zone()))
                .max();
            let Some(last) = last.filter(|_| !open) else {
                continue;
            };
            if rule.due_for(last) != deadline {
                continue;
            }
            let id = PersonId::parse(&holder).map_err(super::corrupt("holder"))?;
            let who = self.person(&id)?;
            let inspector = self.inspector_of(&self.key_district(&serial)?)?;
            let deadline_text = i18n::date(ctx.lang, deadline);
            let args = [
                ("holder", who.full_name.as_str()),
                ("token", serial.as_str()),
                ("inspector", inspector.mail.as_str()),
                ("deadline", deadline_text.as_str()),
            ];
            let template = TemplateId::ReturnReminder;
            let rendered = ctx.templates.render(template, ctx.lang, &args);
            let dedupe = campaign.dedupe(&serial);
            let to = [&who.mail, &inspector.mail];
            let id = self.enqueue_mail(template, &to, &rendered, Some(&dedupe))?;
            queued += usize::from(id.is_some());
        }
        Ok(queued)
    }

    /// One mail a week to each inspector whose district has keys overdue.
    fn queue_overdue(
        &mut self,
        ctx: MailContext<'_>,
        campaign: &Campaign,
    ) -> Result<usize, StoreError> {
        let mut queued = 0;
        for (district, keys) in self.overdue_returns()? {
            if keys.is_empty() {
                continue;
            }
            let inspector = match self.inspector_of(&district) {
                Ok(inspector) => inspector,
                Err(StoreError::NotFound { .. }) => continue,
                Err(err) => return Err(err),
            };
            let mut list = String::new();
            let mut earliest = None;
            for key in &keys {
                let name = match PersonId::parse(&key.holder) {
                    Ok(id) => self.person(&id)?.full_name,
                    Err(_) => key.holder.clone(),
                };
                let due = i18n::date(ctx.lang, key.due);
                list.push_str(&format!("- {} : {name} ({due})\n", key.serial));
                earliest = Some(earliest.map_or(key.due, |e: Date| e.min(key.due)));
            }
            let deadline = earliest
                .map(|d| i18n::date(ctx.lang, d))
                .unwrap_or_default();
            let args = [
                ("district", district.as_str()),
                ("deadline", deadline.as_str()),
                ("list", list.trim_end()),
            ];
            let template = TemplateId::OverdueNotice;
            let rendered = ctx.templates.render(template, ctx.lang, &args);
            let dedupe = campaign.dedupe(&district);
            let id = self.enqueue_mail(template, &[&inspector.mail], &rendered, Some(&dedupe))?;
            queued += usize::from(id.is_some());
        }
        Ok(queued)
    }
}
