//! `GET /v1/audit/verify`: the audit chain's check.

use serde::{Deserialize, Serialize};

/// `{"ok":true,"entries":N,"head":"hex"}` or
/// `{"ok":false,"first_bad":SEQ,"why":"..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditCheck {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entries: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_bad: Option<u64>,
    /// The head MAC, hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head: Option<String>,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
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
