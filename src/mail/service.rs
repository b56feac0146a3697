//! The mail shell: one message in (a pipe, the API, the IMAP poller) turned
//! into what the store's one ingest operation needs, and the daemon's
//! outbox loop. Reading stops one byte past the configured size: a larger
//! message is refused from its headers alone, never held whole.

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use mail_auth::hickory_resolver::config::{ResolverConfig, ResolverOpts};
use mail_auth::MessageAuthenticator;
use sha2::Digest;

use super::auth::{self, AuthVerdict};
use super::config::{MailConfig, SenderAuth};
use super::message::{self, ParseError};
use super::outcome::Outcome;
use super::smtp::{SendError, Smtp};
use super::templates::{TemplateError, Templates};
use crate::domain::Actor;
use crate::store::ops::{IncomingMail, MailContext};
use crate::store::{Store, StoreError};

/// A message as read, whole or cut at the size limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Received {
    Whole(Vec<u8>),
    /// Larger than the limit: its first `limit` bytes only.
    TooLarge(Vec<u8>),
}

/// Reads at most `max_bytes + 1` bytes of `input`.
pub fn read_limited(input: impl Read, max_bytes: usize) -> std::io::Result<Received> {
    let mut raw = Vec::new();
    let cap = u64::try_from(max_bytes)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    input.take(cap).read_to_end(&mut raw)?;
    if raw.len() > max_bytes {
        raw.truncate(max_bytes);
        Ok(Received::TooLarge(raw))
    } else {
        Ok(Received::Whole(raw))
    }
}

/// The mail service could not start.
#[derive(Debug, thiserror::Error)]
pub enum MailSetupError {
    #[error("reading the mail templates directory {0}")]
    TemplatesDir(String),
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("the DNS resolver for DKIM keys could not be set up")]
    Resolver,
    #[error("the SMTP settings cannot be used: {0}")]
    Smtp(SendError),
}

/// The mail settings in force and what they need at run time.
pub struct Mailer {
    pub config: MailConfig,
    templates: Templates,
    resolver: MessageAuthenticator,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Mailer {
    /// Reads the templates' directory (`<id>.<lang>.txt` files).
    pub fn new(config: MailConfig) -> Result<Mailer, MailSetupError> {
        let mut files = Vec::new();
        if let Some(dir) = &config.templates {
            let shown = || MailSetupError::TemplatesDir(dir.display().to_string());
            for entry in std::fs::read_dir(dir).map_err(|_| shown())? {
                let path = entry.map_err(|_| shown())?.path();
                if path.extension().is_some_and(|e| e == "txt") {
                    let name = path
                        .file_name()
                        .and_then(|n| n.to_str())
                        .unwrap_or_default()
                        .to_owned();
                    let text = std::fs::read_to_string(&path).map_err(|_| shown())?;
                    files.push((name, text));
                }
            }
        }
        let templates =
            Templates::with_overrides(files.iter().map(|(n, t)| (n.as_str(), t.as_str())))?;
        let resolver = match MessageAuthenticator::new_system_conf() {
            Ok(resolver) => resolver,
            Err(_) => MessageAuthenticator::new(ResolverConfig::default(), ResolverOpts::default())
                .map_err(|_| MailSetupError::Resolver)?,
        };
        Ok(Mailer {
            config,
            templates,
            resolver,
        })
    }

    pub fn templates(&self) -> &Templates {
        &self.templates
    }

    pub fn context(&self) -> MailContext<'_> {
        MailContext {
            templates: &self.templates,
            lang: self.config.lang,
            desk: self.config.desk.as_ref(),
        }
    }

    /// Parses and authenticates a message for the store.
    pub async fn incoming(&self, received: &Received, domain: &str) -> IncomingMail {
        let max = self.config.max_message_bytes;
        match received {
            Received::TooLarge(head) => {
                let headers = header_block(head);
                let parsed = message::parse(&headers, max).ok();
                IncomingMail {
                    key: parsed
                        .as_ref()
                        .map_or_else(|| digest(head), |m| m.message_id.clone()),
                    from_hint: parsed.map(|m| m.from),
                    parsed: Err(ParseError::TooLarge { limit: max }),
                    auth: AuthVerdict::NotAuthenticated,
                }
            }
            Received::Whole(raw) => {
                let parsed = message::parse(raw, max);
                let auth = match &parsed {
                    Err(_) => AuthVerdict::NotAuthenticated,
                    Ok(m) => match &self.config.auth {
                        SenderAuth::AuthResults { authserv_id } => {
                            auth::from_auth_results(&m.auth_results, authserv_id, domain)
                        }
                        SenderAuth::Dkim(keys) => {
                            super::dkim::verify(raw, keys, &self.resolver, domain).await
                        }
                    },
                };
                let from_hint = match &parsed {
                    Ok(m) => Some(m.from.clone()),
                    Err(_) => message::parse(&header_block(raw), max).ok().map(|m| m.from),
                };
                IncomingMail {
                    key: parsed
                        .as_ref()
                        .map_or_else(|_| digest(raw), |m| m.message_id.clone()),
                    from_hint,
                    parsed,
                    auth,
                }
            }
        }
    }

    /// One message through the store's ingest operation, as `actor`.
    pub async fn ingest(
        self: &Arc<Self>,
        store: &Arc<Store>,
        actor: &Actor,
        received: Received,
    ) -> Result<Outcome, StoreError> {
        let domain = store_domain(store);
        let incoming = self.incoming(&received, &domain).await;
        let (me, store, actor) = (Arc::clone(self), Arc::clone(store), actor.clone());
        tokio::task::spawn_blocking(move || {
            store.write(&actor, "mail ingest", |tx| {
                tx.ingest_help_mail(&incoming, me.context())
            })
        })
        .await
        .map_err(|_| StoreError::Corrupt("the mail ingest task stopped"))?
    }
}

fn store_domain(store: &Store) -> String {
    store.authority_domain().to_owned()
}

/// The header section of a message (through the blank line), or all of it.
fn header_block(raw: &[u8]) -> Vec<u8> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 4)
        .or_else(|| raw.windows(2).position(|w| w == b"\n\n").map(|p| p + 2));
    let mut head = raw[..end.unwrap_or(raw.len())].to_vec();
    head.extend_from_slice(b"\r\n\r\n");
    head
}

fn digest(raw: &[u8]) -> String {
    format!(
        "sha256:{}",
        data_encoding::HEXLOWER.encode(&sha2::Sha256::digest(raw))
    )
}

/// Sends what is due in the outbox, once each: a mail is marked sent in
/// the store right after the server took it. Returns (sent, failed).
pub fn send_due(store: &Store, smtp: &Smtp) -> Result<(usize, usize), StoreError> {
    let due = store.read(|tx| tx.outbox_due(100))?;
    let (mut sent, mut failed) = (0, 0);
    for mail in due {
        match smtp.send(&mail) {
            Ok(()) => {
                store.write(&Actor::System, "mail send", |tx| tx.outbox_sent(mail.id))?;
                sent += 1;
            }
            Err(err) => {
                tracing::warn!(
                    outbox = mail.id,
                    error = err.as_str(),
                    "mail not sent, will retry"
                );
                store.write(&Actor::System, "mail send", |tx| {
                    tx.outbox_failed(mail.id, err.as_str())
                })?;
                failed += 1;
            }
        }
    }
    Ok((sent, failed))
}

/// Queues the notices the audit calls for since the last call (replayed
/// codes, locks, keys ready).
pub fn queue_notices(store: &Store, mailer: &Mailer) -> Result<usize, StoreError> {
    store.write(&Actor::System, "mail notices", |tx| {
        tx.queue_notices(mailer.context(), 500)
    })
}

/// Queues the calendar's mails due today (`mail::calendar`), once each.
pub fn queue_scheduled(
    store: &Store,
    mailer: &Mailer,
    actor: &Actor,
) -> Result<crate::store::ops::ScheduledQueued, StoreError> {
    store.write(actor, "mail scheduled", |tx| {
        tx.queue_scheduled_notices(mailer.context(), &mailer.config.calendar)
    })
}

/// The daemon's scheduled job: at start, then every `every`, queues the
/// calendar's mails due (the outbox loop sends them), until `stop` turns
/// true.
pub async fn schedule_loop(
    store: Arc<Store>,
    mailer: Arc<Mailer>,
    every: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let (s, n) = (Arc::clone(&store), Arc::clone(&mailer));
        let work = move || queue_scheduled(&s, &n, &Actor::System);
        match tokio::task::spawn_blocking(work).await {
            Ok(Ok(queued)) => tracing::debug!(?queued, "scheduled mails"),
            Ok(Err(err)) => tracing::warn!(error = %err, "scheduled mails"),
            Err(_) => tracing::warn!("scheduled mails task stopped"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
    }
}

/// The daemon's outbox loop: every `every`, queues the audit's notices and
/// sends what is due, until `stop` turns true.
pub async fn outbox_loop(
    store: Arc<Store>,
    mailer: Arc<Mailer>,
    smtp: Arc<Smtp>,
    every: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let (s, m, n) = (Arc::clone(&store), Arc::clone(&smtp), Arc::clone(&mailer));
        let work = move || {
            queue_notices(&s, &n)?;
            send_due(&s, &m)
        };
        match tokio::task::spawn_blocking(work).await {
            Ok(Ok(_)) => {}
            Ok(Err(err)) => tracing::warn!(error = %err, "outbox"),
            Err(_) => tracing::warn!("outbox task stopped"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
    }
}

/// The SMTP sender for the configured server.
pub fn smtp_of(config: &MailConfig) -> Result<Option<Smtp>, MailSetupError> {
    config
        .smtp
        .as_ref()
        .map(|server| Smtp::new(server, &config.from).map_err(MailSetupError::Smtp))
        .transpose()
}
