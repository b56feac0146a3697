//! Notices from the audit: the entries after a cursor (kept in `meta`)
//! are read, the mails they call for queued (`mail::notices`), the cursor
//! moved, in one transaction; each notice is named after its entry, so it
//! is never queued twice.

use crate::store::cached::CachedSql;
use rusqlite::{params, OptionalExtension};

use super::{query_rows, Tx};
use crate::domain::{MailAddress, PersonId};
use crate::mail::notices::{notices_of, Notice};
use crate::mail::templates::TemplateId;
use crate::store::ops::MailContext;
use crate::store::StoreError;

const CURSOR: &str = "mail.notice_cursor";

impl Tx<'_> {
    /// Queues the notices of the audit entries since the last call (at
    /// most `limit` entries); the first call starts from now. Returns the
    /// number of mails queued.
    pub fn queue_notices(&mut self, ctx: MailContext<'_>, limit: u32) -> Result<usize, StoreError> {
        let cursor: Option<Vec<u8>> = self
            .db
            .query_row_cached("SELECT value FROM meta WHERE key = ?1", [CURSOR], |r| {
                r.get(0)
            })
            .optional()?;
        let cursor = cursor.and_then(|v| String::from_utf8(v).ok()?.parse::<i64>().ok());
        let Some(cursor) = cursor else {
            let head: i64 =
                self.db
                    .query_row_cached("SELECT COALESCE(MAX(seq), 0) FROM audit", [], |r| {
                        r.get(0)
                    })?;
            self.set_cursor(head)?;
            return Ok(0);
        };
        let rows: Vec<(i64, String, String, String)> = query_rows(
            self.db,
            "SELECT seq, action, subject, detail FROM audit WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            params![cursor, limit],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?;
        let mut queued = 0;
        let mut last = cursor;
        for (seq, action, subject, detail) in rows {
            last = seq;
            for notice in notices_of(&action, &subject, &detail) {
                queued += usize::from(self.queue_notice(seq, &notice, ctx)?);
            }
        }
        if last != cursor {
            self.set_cursor(last)?;
        }
        Ok(queued)
    }

    fn set_cursor(&self, seq: i64) -> Result<(), StoreError> {
        self.db.execute_cached(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![CURSOR, seq.to_string().into_bytes()],
        )?;
        Ok(())
    }

    fn mail_of(&self, person: &str) -> Result<Option<(String, MailAddress)>, StoreError> {
        let Ok(id) = PersonId::parse(person) else {
            return Ok(None);
        };
        match self.person(&id) {
            Ok(p) => Ok(Some((p.full_name, p.mail))),
            Err(StoreError::NotFound { .. }) => Ok(None),
            Err(err) => Err(err),
        }
    }

    fn queue_notice(
        &mut self,
        seq: i64,
        notice: &Notice,
        ctx: MailContext<'_>,
    ) -> Result<bool, StoreError> {
        match notice {
            Notice::Alert { person, event } => {
                let Some((name, mail)) = self.mail_of(person)? else {
                    return Ok(false);
                };
                let token = self.live_token_of_text(person)?.unwrap_or_default();
                let at = crate::i18n::date_time(ctx.lang, self.now, self.zone());
                let args = [
                    ("holder", name.as_str()),
                    ("event", event.text(ctx.lang)),
                    ("token", token.as_str()),
                    ("at", at.as_str()),
                ];
                let rendered = ctx
                    .templates
                    .render(TemplateId::SecurityAlert, ctx.lang, &args);
                let dedupe = format!("audit:{seq}:{}", event.name());
                Ok(self
                    .enqueue_mail(
                        TemplateId::SecurityAlert,
                        &[&mail],
                        &rendered,
                        Some(&dedupe),
                    )?
                    .is_some())
            }
            Notice::KeyReady { person, token } => {
                let Some((name, mail)) = self.mail_of(person)? else {
                    return Ok(false);
                };
                let district = self.key_district(token)?;
                let inspector = self.inspector_of(&district)?;
                let args = [
                    ("holder", name.as_str()),
                    ("token", token.as_str()),
                    ("inspector", inspector.mail.as_str()),
                ];
                let rendered = ctx.templates.render(TemplateId::KeyReady, ctx.lang, &args);
                let dedupe = format!("audit:{seq}:key-ready");
                Ok(self
                    .enqueue_mail(
                        TemplateId::KeyReady,
                        &[&mail, &inspector.mail],
                        &rendered,
                        Some(&dedupe),
                    )?
                    .is_some())
            }
            Notice::EmergencyGranted {
                person,
                token,
                until,
            } => self.queue_emergency_notice(seq, (person, token, *until), ctx),
        }
    }

    fn queue_emergency_notice(
        &mut self,
        seq: i64,
        (person, token, until): (&str, &str, u64),
        ctx: MailContext<'_>,
    ) -> Result<bool, StoreError> {
        let Some((name, mail)) = self.mail_of(person)? else {
            return Ok(false);
        };
        let district = self.key_district(token)?;
        let inspector = self.inspector_of(&district)?;
        let until = crate::i18n::date_time(ctx.lang, until, self.zone());
        let args = [
            ("holder", name.as_str()),
            ("until", until.as_str()),
            ("inspector", inspector.mail.as_str()),
        ];
        let template = TemplateId::EmergencyGranted;
        let rendered = ctx.templates.render(template, ctx.lang, &args);
        let dedupe = format!("audit:{seq}:emergency");
        Ok(self
            .enqueue_mail(
                template,
                &[&mail, &inspector.mail],
                &rendered,
                Some(&dedupe),
            )?
            .is_some())
    }

    fn live_token_of_text(&self, person: &str) -> Result<Option<String>, StoreError> {
        match PersonId::parse(person) {
            Ok(id) => self.live_token_of(&id),
            Err(_) => Ok(None),
        }
    }
}
