//! The audit chain's check: intact up to its head, or where it breaks.

use std::sync::Arc;

use super::{ok, Answer};
use crate::api::{blocking, ApiError, Permit};
use crate::store::{AuditBreak, AuditReport, RowCheck};
use crate::wire::audit::AuditCheck;

pub(super) async fn audit_verify(permit: Permit) -> Answer {
    let store = Arc::clone(permit.state().store());
    // The whole chain, not a transaction's view: outside `Permit::read`.
    let result = blocking(move || store.verify_audit().map_err(ApiError::from)).await?;
    ok(audit_check(&result))
}

fn audit_check(report: &AuditReport) -> AuditCheck {
    let mut check = match &report.chain {
        Ok(head) => AuditCheck::intact(head.seq, data_encoding::HEXLOWER.encode(&head.mac)),
        Err(broken) => {
            let first_bad = match broken {
                AuditBreak::BadMac { seq } | AuditBreak::Unreadable { seq } => *seq,
                AuditBreak::Gap { expected, .. } => *expected,
            };
            AuditCheck::broken(first_bad, broken.to_string())
        }
    };
    if let RowCheck::Checked { bad, .. } = &report.rows {
        if !bad.is_empty() {
            check.ok = false;
            check.why.get_or_insert_with(|| {
                format!("{} state rows were changed outside keyward", bad.len())
            });
            check.bad_rows = bad
                .iter()
                .map(|r| format!("{} {}", r.table, r.key))
                .collect();
        }
    }
    check
}
