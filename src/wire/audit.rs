//! `GET /v1/audit/verify`: the audit chain's check.

use serde::{Deserialize, Serialize};

/// `{"ok":true,"entries":N,"head":"hex"}` or
/// `{"ok":false,"first_bad":SEQ,"why":"..."}`; either with `"ok":false` and
/// `"bad_rows":["tokens VT-1",...]` when state rows do not match their MAC.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditCheck {
    pub entries: Option<u64>,
    pub first_bad: Option<u64>,
    /// The head MAC, hex.
    pub head: Option<String>,
    pub ok: bool,
    pub why: Option<String>,
    /// State rows that do not match their MAC (changed outside keyward), as
    /// `table key`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bad_rows: Vec<String>,
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
            bad_rows: Vec::new(),
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
            bad_rows: Vec::new(),
        }
    }
}

impl AuditCheck {
    /// This check with `count` state rows found changed outside keyward
    /// (`rows` names them, as `table key`): not ok, and why unless the
    /// chain already said. No row changed: unchanged.
    pub fn with_bad_rows(mut self, count: u64, rows: Vec<String>) -> AuditCheck {
        if count > 0 {
            self.ok = false;
            self.why
                .get_or_insert_with(|| format!("{count} state rows were changed outside keyward"));
            self.bad_rows = rows;
        }
        self
    }
}

/// `?action=&subject=&actor=&from=&until=&limit=&offset=` of
/// `GET /v1/audit`: `action` matches the beginning, `subject` and `actor` a
/// part; `from` and `until` are days (`YYYY-MM-DD`, both included) in the
/// authority's time zone.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditFilter {
    pub action: Option<String>,
    pub subject: Option<String>,
    pub actor: Option<String>,
    pub from: Option<String>,
    pub until: Option<String>,
    pub limit: Option<u64>,
    pub offset: Option<u64>,
}

/// One entry of `GET /v1/audit` (newest first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntryWire {
    pub seq: u64,
    /// Unix seconds.
    pub at: u64,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub detail: String,
}
