//! `/v1/mail/messages` and `/v1/replacement-requests/{id}/qualify`
//! (docs/mail.md).

use serde::{Deserialize, Serialize};

/// Largest body of `POST /v1/mail/messages`: a client sends at most its
/// size limit and cuts a larger message (`?truncated=true`).
pub const MAX_MESSAGE_BODY: usize = 64 * 1024 * 1024;

/// What became of a message read from the help desk's mailbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailOutcome {
    /// `filed`, `duplicate`, or the refusal: `too-large`, `unreadable`,
    /// `not-authenticated`, `school-mailbox`, `outside-domain`,
    /// `unknown-sender`, `no-key`, `inspector-not-in-copy`.
    pub outcome: String,
    /// The help request filed.
    #[serde(default)]
    pub request: Option<i64>,
    /// Its kind: `lost`, `stolen`, `broken`, `faulty` or `to-qualify`.
    #[serde(default)]
    pub kind: Option<String>,
    /// Whether the sender was answered.
    #[serde(default)]
    pub replied: bool,
}

/// `POST /v1/replacement-requests/{id}/qualify` `{"reason"}` (desk).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QualifyBody {
    pub reason: String,
}

/// The answer to `POST /v1/mail/scheduled-notices`: the mails of the
/// school year queued by this run (0 for those already queued).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledNotices {
    pub invitations: usize,
    pub reminders: usize,
    pub overdue: usize,
}
