//! What `keyward serve` runs for mail when `keyward.toml` has a `[mail]`
//! table: the mail service behind `POST /v1/mail/messages`, the outbox
//! loop (with `[mail.smtp]`), the mailbox poller (with `[mail.imap]`), the
//! calendar's scheduled mails (hourly; `keyward mail schedule` runs it once).

use std::sync::Arc;
use std::time::Duration;

use axum::{Extension, Router};

use super::config::MailConfig;
use super::service::{outbox_loop, smtp_of, MailSetupError, Mailer};
use crate::store::Store;

/// How often the outbox looks for mail due.
pub const OUTBOX_EVERY: Duration = Duration::from_secs(10);
/// How often the calendar's mails are looked for (each goes out once).
pub const SCHEDULE_EVERY: Duration = Duration::from_secs(3600);

/// The mail side of the daemon.
#[derive(Debug, Default)]
pub struct MailDaemon {
    mailer: Option<Arc<Mailer>>,
    smtp: Option<Arc<super::smtp::Smtp>>,
}

impl MailDaemon {
    /// Checks the settings at start (templates, SMTP CA file), so a bad
    /// one stops the daemon with its name rather than at first use.
    pub fn new(config: Option<&MailConfig>) -> Result<MailDaemon, MailSetupError> {
        let Some(config) = config else {
            return Ok(MailDaemon::default());
        };
        let smtp = smtp_of(config)?.map(Arc::new);
        let mailer = Arc::new(Mailer::new(config.clone())?);
        Ok(MailDaemon {
            mailer: Some(mailer),
            smtp,
        })
    }

    /// The router with the mail service for its handlers.
    pub fn layer<S: Clone + Send + Sync + 'static>(&self, router: Router<S>) -> Router<S> {
        match &self.mailer {
            Some(mailer) => router.layer(Extension(Arc::clone(mailer))),
            None => router,
        }
    }

    /// Starts the outbox loop and the mailbox poller; they end when `stop`
    /// turns true.
    pub fn spawn(
        &self,
        store: &Arc<Store>,
        stop: &tokio::sync::watch::Receiver<bool>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        let mut tasks = Vec::new();
        if let (Some(smtp), Some(mailer)) = (&self.smtp, &self.mailer) {
            tasks.push(tokio::spawn(outbox_loop(
                Arc::clone(store),
                Arc::clone(mailer),
                Arc::clone(smtp),
                OUTBOX_EVERY,
                stop.clone(),
            )));
        }
        if let Some(mailer) = &self.mailer {
            tasks.push(tokio::spawn(super::service::schedule_loop(
                Arc::clone(store),
                Arc::clone(mailer),
                SCHEDULE_EVERY,
                stop.clone(),
            )));
        }
        if let (Some(mailer), Some(imap)) = (
            &self.mailer,
            &self.mailer.as_ref().and_then(|m| m.config.imap.clone()),
        ) {
            tasks.push(tokio::spawn(super::imap::poll_loop(
                imap.clone(),
                Arc::clone(mailer),
                Arc::clone(store),
                stop.clone(),
            )));
        }
        tasks
    }
}
