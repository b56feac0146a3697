//! `GET /v1/audit/verify`: the audit chain's check.

use serde::{Deserialize, Serialize};

/// `{"ok":true,"entries":N,"head":"hex"}` or
/// `{"ok":false,"first_bad":SEQ,"why":"..."}`.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditCheck {
    pub entries: Option<u64>,
    pub first_bad: Option<u64>,
    /// The head MAC, hex.
    pub head: Option<String>,
    pub ok: bool,
    pub why: Option<String>,
}

impl AuditCheck {
    /// The whole chain verifies.
    pub fn intact(entries: u64, head: String) -> AuditCheck {
        AuditCheck {
            entries: Some(entries),
            first_bad: None,
            head: Some(head),
            ok: true,
            why: None,
        }
    }

    /// The first entry that does not verify, and why.
    pub fn broken(first_bad: u64, why: String) -> AuditCheck {
        AuditCheck {
            entries: None,
            first_bad: Some(first_bad),
            head: None,
            ok: false,
            why: Some(why),
        }
    }
}
