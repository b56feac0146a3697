//! Case 3 read from mail: one message of the help desk's mailbox becomes a
//! help request, or a refusal answered to its sender, in one transaction
//! with the row that remembers its Message-ID (the same message twice is
//! one request) and the mails it causes (the outbox).

use crate::store::cached::CachedSql;
use rusqlite::{params, OptionalExtension};

use super::{to_i64, Tx};
use crate::domain::requests::{is_functional_mailbox, HelpMail};
use crate::domain::MailAddress;
use crate::i18n::Lang;
use crate::mail::auth::AuthVerdict;
use crate::mail::kind::{detect, RequestKind};
use crate::mail::message::{HelpMessage, ParseError};
use crate::mail::outcome::{Outcome, Refusal};
use crate::mail::templates::{TemplateId, Templates};
use crate::store::StoreError;

/// A message as the I/O shell read it.
#[derive(Debug)]
pub struct IncomingMail {
    /// The Message-ID, or a digest of the bytes when there is none.
    pub key: String,
    /// The From address read from the headers, even when the message could
    /// not be parsed whole (to answer a message too large).
    pub from_hint: Option<MailAddress>,
    pub parsed: Result<HelpMessage, ParseError>,
    pub auth: AuthVerdict,
}

/// What the mails of an ingest need.
#[derive(Clone, Copy, Debug)]
pub struct MailContext<'a> {
    pub templates: &'a Templates,
    pub lang: Lang,
    pub desk: Option<&'a MailAddress>,
}

impl Tx<'_> {
    /// Reads one message: a request, a duplicate, or a refusal (answered
    /// when its sender is a known person of the authority's domain).
    pub fn ingest_help_mail(
        &mut self,
        mail: &IncomingMail,
        ctx: MailContext<'_>,
    ) -> Result<Outcome, StoreError> {
        self.require_desk("record a help request")?;
        let first: Option<String> = self
            .db
            .query_row_cached(
                "SELECT outcome FROM mail_messages WHERE message_id = ?1",
                [&mail.key],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(first) = first {
            return Ok(Outcome::Duplicate { first });
        }
        let (outcome, request, sender) = match &mail.parsed {
            Err(err) => {
                let refusal = Refusal::Unreadable(*err);
                let replied = match &mail.from_hint {
                    Some(from) => self.reply_unreadable(from, *err, ctx)?,
                    None => false,
                };
                let sender = mail.from_hint.as_ref().map(|a| a.to_string());
                (Outcome::Refused { refusal, replied }, None, sender)
            }
            Ok(message) => {
                let (outcome, request) = self.decide(message, mail.auth, ctx)?;
                (outcome, request, Some(message.from.to_string()))
            }
        };
        let sender = sender.unwrap_or_default();
        self.db.execute_cached(
            "INSERT INTO mail_messages (message_id, sender, received_at, outcome, request)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                mail.key,
                sender,
                to_i64(self.now, "time")?,
                outcome.name(),
                request
            ],
        )?;
        self.audit(
            "mail.ingest",
            &sender,
            &format!("message={} outcome={}", mail.key, outcome.name()),
        )?;
        Ok(outcome)
    }

    fn decide(
        &mut self,
        message: &HelpMessage,
        auth: AuthVerdict,
        ctx: MailContext<'_>,
    ) -> Result<(Outcome, Option<i64>), StoreError> {
        let refused = |refusal, replied| (Outcome::Refused { refusal, replied }, None);
        if auth != AuthVerdict::Pass {
            return Ok(refused(Refusal::NotAuthenticated, false));
        }
        let from = &message.from;
        let domain = self.shared.config.authority_domain.clone();
        let args = [
            ("subject", message.subject.as_str()),
            ("sender", from.as_str()),
        ];
        if !from.domain().eq_ignore_ascii_case(&domain) {
            return Ok(refused(Refusal::OutsideDomain, false));
        }
        if is_functional_mailbox(from) {
            let replied = self.reply(TemplateId::ReplySchoolMailbox, from, &args, ctx)?;
            return Ok(refused(Refusal::SchoolMailbox, replied));
        }
        let holder: Option<String> = self
            .db
            .query_row_cached(
                "SELECT id FROM people WHERE mail = ?1",
                [from.as_str()],
                |r| r.get(0),
            )
            .optional()?;
        let Some(holder) = holder else {
            let replied = self.reply(TemplateId::ReplyUnknownSender, from, &args, ctx)?;
            return Ok(refused(Refusal::UnknownSender, replied));
        };
        let holder = crate::domain::PersonId::parse(&holder).map_err(super::corrupt("holder"))?;
        let old = match self.live_token_of(&holder)? {
            Some(token) => Some(token),
            None => self.revoked_key_of(&holder)?,
        };
        let Some(old) = old else {
            let replied = self.reply(TemplateId::ReplyNoKey, from, &args, ctx)?;
            return Ok(refused(Refusal::NoKey, replied));
        };
        let district = self.key_district(&old)?;
        let inspector = self.inspector_of(&district)?;
        if !message.cc.contains(&inspector.mail) {
            let args = [
                ("subject", message.subject.as_str()),
                ("sender", from.as_str()),
                ("inspector", inspector.mail.as_str()),
            ];
            let replied = self.reply(TemplateId::ReplyInspectorNotInCopy, from, &args, ctx)?;
            return Ok(refused(Refusal::InspectorNotInCopy, replied));
        }
        let kind = detect(&message.subject, &message.text);
        let reason = match kind {
            RequestKind::Clear(reason) => Some(reason),
            RequestKind::ToQualify => None,
        };
        let help = HelpMail {
            from: from.clone(),
            cc: message.cc.clone(),
        };
        let request = self.file_request(&holder, reason, &help)?;
        if let Some(desk) = ctx.desk {
            let person = self.person(&holder)?;
            let request_text = request.to_string();
            let args = [
                ("request", request_text.as_str()),
                ("holder", person.full_name.as_str()),
                ("sender", from.as_str()),
                ("kind", kind.as_str()),
                ("token", old.as_str()),
                ("message_id", message.message_id.as_str()),
            ];
            let mail = ctx
                .templates
                .render(TemplateId::DeskNewRequest, ctx.lang, &args);
            let dedupe = format!("desk-new-request:{request}");
            self.enqueue_mail(TemplateId::DeskNewRequest, &[desk], &mail, Some(&dedupe))?;
        }
        Ok((
            Outcome::Filed {
                request,
                kind: kind.as_str().to_owned(),
            },
            Some(request),
        ))
    }

    /// Answers a refusal, only to a person's own address in the
    /// authority's domain (never backscatter to a stranger).
    fn reply(
        &mut self,
        template: TemplateId,
        to: &MailAddress,
        args: &[(&str, &str)],
        ctx: MailContext<'_>,
    ) -> Result<bool, StoreError> {
        if !to
            .domain()
            .eq_ignore_ascii_case(&self.shared.config.authority_domain)
        {
            return Ok(false);
        }
        let mail = ctx.templates.render(template, ctx.lang, args);
        Ok(self.enqueue_mail(template, &[to], &mail, None)?.is_some())
    }

    fn reply_unreadable(
        &mut self,
        to: &MailAddress,
        err: ParseError,
        ctx: MailContext<'_>,
    ) -> Result<bool, StoreError> {
        let known: bool = self.db.query_row_cached(
            "SELECT EXISTS (SELECT 1 FROM people WHERE mail = ?1)",
            [to.as_str()],
            |r| r.get(0),
        )?;
        if !known {
            return Ok(false);
        }
        let problem = match (err, ctx.lang) {
            (ParseError::TooLarge { .. }, Lang::Fr) => "le message est trop volumineux",
            (ParseError::TooLarge { .. }, Lang::En) => "the message is too large",
            (_, Lang::Fr) => "le message est mal formé",
            (_, Lang::En) => "the message is malformed",
        };
        self.reply(
            TemplateId::ReplyUnreadable,
            to,
            &[("problem", problem), ("sender", to.as_str())],
            ctx,
        )
    }
}
