//! The outbox: every mail keyward sends is first a row here, written in the
//! transaction of the act it tells about, then sent by the daemon's outbox
//! loop (`mail::service`). A row is marked sent once the SMTP server took
//! it; a failure only moves its next try later, so a server that is down
//! loses nothing and a mail accepted once is never sent again.

use crate::store::cached::CachedSql;
use rusqlite::params;

use super::{query_rows, to_i64, Tx};
use crate::domain::MailAddress;
use crate::mail::templates::{Rendered, TemplateId};
use crate::store::StoreError;

/// The longest wait between two tries (one hour).
pub const MAX_BACKOFF_SECONDS: u64 = 3600;

/// A mail waiting to be sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxMail {
    pub id: i64,
    /// Our Message-ID, the same at every try.
    pub message_id: String,
    pub template: String,
    pub recipients: Vec<String>,
    pub subject: String,
    pub body: String,
    pub attempts: u32,
}

/// The delay before try `attempts + 1`: 30 s doubled each time, at most an
/// hour.
pub fn backoff_seconds(attempts: u32) -> u64 {
    30u64
        .saturating_mul(1u64 << attempts.min(20))
        .min(MAX_BACKOFF_SECONDS)
}

impl Tx<'_> {
    /// Queues a mail; with `dedupe`, a second mail of the same name is not
    /// queued (`None` returned).
    pub fn enqueue_mail(
        &mut self,
        template: TemplateId,
        to: &[&MailAddress],
        mail: &Rendered,
        dedupe: Option<&str>,
    ) -> Result<Option<i64>, StoreError> {
        if to.is_empty() {
            return Ok(None);
        }
        let recipients: Vec<&str> = to.iter().map(|a| a.as_str()).collect();
        let now = to_i64(self.now, "time")?;
        let message_id = format!(
            "keyward.{}.{}@{}",
            now,
            self.outbox_sequence()?,
            self.shared.config.authority_domain
        );
        let inserted = self.db.execute_cached(
            "INSERT OR IGNORE INTO outbox
                 (message_id, template, recipients, subject, body, dedupe, created_at, next_try_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
            params![
                message_id,
                template.name(),
                recipients.join(","),
                mail.subject,
                mail.body,
                dedupe,
                now
            ],
        )?;
        if inserted == 0 {
            return Ok(None);
        }
        let id = self.db.last_insert_rowid();
        self.audit(
            "mail.queue",
            template.name(),
            &format!("outbox={id} to={}", recipients.join(",")),
        )?;
        Ok(Some(id))
    }

    fn outbox_sequence(&self) -> Result<i64, StoreError> {
        Ok(self
            .db
            .query_row_cached("SELECT COALESCE(MAX(id), 0) + 1 FROM outbox", [], |r| {
                r.get(0)
            })?)
    }

    /// The mails due now, oldest first.
    pub fn outbox_due(&self, limit: u32) -> Result<Vec<OutboxMail>, StoreError> {
        query_rows(
            self.db,
            "SELECT id, message_id, template, recipients, subject, body, attempts FROM outbox
             WHERE sent_at IS NULL AND next_try_at <= ?1 ORDER BY id LIMIT ?2",
            params![to_i64(self.now, "time")?, limit],
            |row| {
                Ok(OutboxMail {
                    id: row.get(0)?,
                    message_id: row.get(1)?,
                    template: row.get(2)?,
                    recipients: row
                        .get::<_, String>(3)?
                        .split(',')
                        .map(str::to_owned)
                        .collect(),
                    subject: row.get(4)?,
                    body: row.get(5)?,
                    attempts: u32::try_from(row.get::<_, i64>(6)?).unwrap_or(u32::MAX),
                })
            },
        )
    }

    /// The mails not yet sent (for `keyward mail outbox` and tests).
    pub fn outbox_pending(&self) -> Result<i64, StoreError> {
        Ok(self.db.query_row_cached(
            "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL",
            [],
            |r| r.get(0),
        )?)
    }

    /// The SMTP server accepted mail `id`: it is never sent again.
    pub fn outbox_sent(&mut self, id: i64) -> Result<(), StoreError> {
        let now = to_i64(self.now, "time")?;
        let changed = self.db.execute_cached(
            "UPDATE outbox SET sent_at = ?1, attempts = attempts + 1, last_error = NULL
             WHERE id = ?2 AND sent_at IS NULL",
            params![now, id],
        )?;
        if changed == 1 {
            let (template, to): (String, String) = self.db.query_row_cached(
                "SELECT template, recipients FROM outbox WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            self.audit("mail.sent", &template, &format!("outbox={id} to={to}"))?;
        }
        Ok(())
    }

    /// Mail `id` could not be sent (`why`: a short class of error, never
    /// the server's words, which could echo a credential); tried again
    /// later.
    pub fn outbox_failed(&mut self, id: i64, why: &str) -> Result<(), StoreError> {
        let attempts: i64 =
            self.db
                .query_row_cached("SELECT attempts FROM outbox WHERE id = ?1", [id], |r| {
                    r.get(0)
                })?;
        let attempts = u32::try_from(attempts).unwrap_or(u32::MAX);
        let next = self.now.saturating_add(backoff_seconds(attempts));
        self.db.execute_cached(
            "UPDATE outbox SET attempts = attempts + 1, next_try_at = ?1, last_error = ?2
             WHERE id = ?3 AND sent_at IS NULL",
            params![to_i64(next, "time")?, why, id],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delay_grows_to_an_hour() {
        assert_eq!(backoff_seconds(0), 30);
        assert_eq!(backoff_seconds(1), 60);
        assert_eq!(backoff_seconds(7), 3600);
        assert_eq!(backoff_seconds(u32::MAX), 3600);
    }
}
