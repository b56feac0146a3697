//! `keyward key-requests` (an inspector asks the desk for a key, case 1) and
//! `keyward replacements` (help requests for broken, lost or stolen keys, case 3).

use std::io::Write;

use clap::Subcommand;

use super::common::{done, or_dash, show_list, word, Column, DaemonCommand};
use crate::client::Client;
use crate::domain::RevokeReason;
use crate::wire::requests::{KeyRequestBody, KeyRequestEntry, ReplacementBody, ReplacementEntry};

const KEY_REQUEST_COLUMNS: &[Column<'static, KeyRequestEntry>] = &[
    ("col-id", |r| r.id.to_string()),
    ("col-holder", |r| r.holder.clone()),
    ("col-district", |r| r.district.clone()),
    ("col-requested", |r| r.requested_at.clone()),
    ("col-status", |r| word("status", &r.status)),
    ("col-token", |r| or_dash(r.token.as_ref())),
];

const REPLACEMENT_COLUMNS: &[Column<'static, ReplacementEntry>] = &[
    ("col-id", |r| r.id.to_string()),
    ("col-holder", |r| r.holder.clone()),
    ("col-reason", |r| word("reason", &r.reason)),
    ("col-old-token", |r| r.old_token.clone()),
    ("col-received", |r| r.received_at.clone()),
    ("col-status", |r| word("status", &r.status)),
    ("col-new-token", |r| or_dash(r.new_token.as_ref())),
];

#[derive(Debug, Subcommand)]
pub enum KeyRequestsCommand {
    /// Asks the IT desk for a key in a holder's name (inspector).
    #[command(after_help = "Example:\n  keyward key-requests create --holder bleroy")]
    Create {
        #[arg(long)]
        holder: String,
    },
    /// The open requests the desk has to serve; for an inspector, the
    /// requests they filed and whether each was served.
    #[command(after_help = "Example:\n  keyward key-requests list")]
    List,
}

#[derive(Debug, Subcommand)]
pub enum ReplacementsCommand {
    /// Files a help request (desk). Accepted only from the holder's personal
    /// address with their inspector in copy; lost and stolen keys are revoked
    /// at once.
    #[command(
        after_help = "Example:\n  keyward replacements create --holder adurand --reason lost \\\n      --from anne.durand@ac-exemple.fr --cc paul.martin@ac-exemple.fr"
    )]
    Create {
        #[arg(long)]
        holder: String,
        #[arg(long, value_enum)]
        reason: RevokeReason,
        /// The sender of the help mail.
        #[arg(long)]
        from: String,
        /// Addresses in copy (repeat the flag).
        #[arg(long)]
        cc: Vec<String>,
        #[arg(long)]
        subject: Option<String>,
    },
    /// Lists the help requests, newest first, and whether each was served.
    #[command(after_help = "Example:\n  keyward replacements list")]
    List,
    /// Prepares the token at READER as the replacement (the old key is revoked
    /// in the same transaction).
    #[command(
        after_help = "Example:\n  keyward replacements prepare 4 --reader \"Virtual PCD 00 00\""
    )]
    Prepare {
        id: i64,
        #[arg(long)]
        reader: String,
    },
    /// Gives a help request read from mail ("to qualify") its reason; a lost
    /// or stolen key is revoked at once.
    #[command(after_help = "Example:\n  keyward replacements qualify 4 --reason broken")]
    Qualify {
        id: i64,
        #[arg(long, value_enum)]
        reason: RevokeReason,
    },
}

impl DaemonCommand for KeyRequestsCommand {
    fn send(self, client: &Client, json: bool, out: &mut dyn Write) -> anyhow::Result<()> {
        match self {
            KeyRequestsCommand::Create { holder } => {
                let answer = client.request_key(&KeyRequestBody { holder })?;
                done(
                    out,
                    json,
                    &answer,
                    &t!("key-request-queued", id = answer.id),
                )
            }
            KeyRequestsCommand::List => {
                show_list(out, json, &client.key_requests()?, KEY_REQUEST_COLUMNS)
            }
        }
    }
}

impl DaemonCommand for ReplacementsCommand {
    fn send(self, client: &Client, json: bool, out: &mut dyn Write) -> anyhow::Result<()> {
        match self {
            ReplacementsCommand::Create {
                holder,
                reason,
                from,
                cc,
                subject,
            } => {
                let answer = client.file_replacement(&ReplacementBody {
                    holder,
                    reason: reason.as_str().to_owned(),
                    from,
                    cc,
                    subject,
                })?;
                let message = if reason.is_gone() {
                    t!("replacement-filed-revoked", id = answer.id)
                } else {
                    t!("replacement-filed", id = answer.id)
                };
                done(out, json, &answer, &message)
            }
            ReplacementsCommand::List => {
                show_list(out, json, &client.replacements()?, REPLACEMENT_COLUMNS)
            }
            ReplacementsCommand::Prepare { id, reader } => {
                let answer = client.prepare_replacement(id, &reader)?;
                let message = t!(
                    "token-prepared",
                    serial = answer.serial,
                    holder = answer.holder
                );
                done(out, json, &answer, &message)
            }
            ReplacementsCommand::Qualify { id, reason } => {
                client.qualify_replacement(id, reason.as_str())?;
                let message = t!(
                    "replacement-qualified",
                    id = id,
                    reason = word("reason", reason.as_str())
                );
                done(out, json, &serde_json::json!({}), &message)
            }
        }
    }
}
