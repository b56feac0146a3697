//! What became of a message read from the help desk's mailbox.

use super::message::ParseError;

/// Why a message did not become a help request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Too large, not a message, no Message-ID or no single From.
    Unreadable(ParseError),
    /// No valid DKIM signature of the authority's domain (forged or
    /// unsigned From): not answered, since the From may not be the sender.
    NotAuthenticated,
    /// From a school's functional mailbox (`ce.<UAI>@…`).
    SchoolMailbox,
    /// From outside the authority's mail domain.
    OutsideDomain,
    /// From an address that is no person's personal address.
    UnknownSender,
    /// The sender holds no key (live, or revoked and not yet replaced).
    NoKey,
    /// The inspector of the key's district is not in Cc.
    InspectorNotInCopy,
}

impl Refusal {
    /// The stable name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Unreadable(ParseError::TooLarge { .. }) => "too-large",
            Refusal::Unreadable(_) => "unreadable",
            Refusal::NotAuthenticated => "not-authenticated",
            Refusal::SchoolMailbox => "school-mailbox",
            Refusal::OutsideDomain => "outside-domain",
            Refusal::UnknownSender => "unknown-sender",
            Refusal::NoKey => "no-key",
            Refusal::InspectorNotInCopy => "inspector-not-in-copy",
        }
    }
}

/// The outcome of one message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A help request was recorded (`kind`: a revoke reason or
    /// `to-qualify`).
    Filed { request: i64, kind: String },
    /// This Message-ID was processed before; nothing was done again.
    Duplicate { first: String },
    /// Not a request; `replied` when the sender was told what to do.
    Refused { refusal: Refusal, replied: bool },
}

impl Outcome {
    /// The stable name stored in `mail_messages.outcome`.
    pub fn name(&self) -> String {
        match self {
            Outcome::Filed { .. } => "filed".to_owned(),
            Outcome::Duplicate { .. } => "duplicate".to_owned(),
            Outcome::Refused { refusal, .. } => refusal.as_str().to_owned(),
        }
    }
}
