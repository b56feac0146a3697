//! `keyward mail`: a message from the mail system's pipe to the daemon
//! (`keyward mail ingest < message.eml`, docs/mail.md).

use std::io::Write;

use clap::Subcommand;

use super::common::{done, word, DaemonCommand};
use crate::client::Client;
use crate::mail::message::DEFAULT_MAX_BYTES;
use crate::mail::service::{read_limited, Received};

#[derive(Debug, Subcommand)]
pub enum MailCommand {
    /// Reads one message on standard input and gives it to the daemon: a
    /// help request, or a refusal answered to its sender. A message larger
    /// than --max-bytes is cut there and refused from its headers.
    #[command(after_help = "Example:\n  keyward mail ingest < message.eml")]
    Ingest {
        /// Largest message read whole (the daemon applies its own limit too).
        #[arg(long, default_value_t = DEFAULT_MAX_BYTES)]
        max_bytes: usize,
    },
    /// Queues now the mails of the school year due today (what the daemon
    /// does every hour): invitations to the August handover meeting,
    /// return reminders in July, weekly overdue notices to inspectors.
    /// Each goes out once, however often this runs.
    #[command(after_help = "Example:\n  keyward mail schedule")]
    Schedule,
}

impl DaemonCommand for MailCommand {
    fn send(self, client: &Client, json: bool, out: &mut dyn Write) -> anyhow::Result<()> {
        match self {
            MailCommand::Ingest { max_bytes } => {
                let received = read_limited(std::io::stdin().lock(), max_bytes)?;
                let answer = match &received {
                    Received::Whole(raw) => client.ingest_mail(raw, false)?,
                    Received::TooLarge(head) => client.ingest_mail(head, true)?,
                };
                let message = match (answer.outcome.as_str(), answer.request) {
                    ("filed", Some(id)) => t!(
                        "mail-ingest-filed",
                        id = id,
                        kind = word("reason", answer.kind.as_deref().unwrap_or_default())
                    ),
                    ("duplicate", _) => t!("mail-ingest-duplicate"),
                    (why, _) if answer.replied => t!("mail-ingest-refused-replied", why = why),
                    (why, _) => t!("mail-ingest-refused", why = why),
                };
                done(out, json, &answer, &message)
            }
            MailCommand::Schedule => {
                let answer = client.scheduled_notices()?;
                let message = t!(
                    "mail-scheduled",
                    invitations = answer.invitations,
                    reminders = answer.reminders,
                    overdue = answer.overdue
                );
                done(out, json, &answer, &message)
            }
        }
    }
}
