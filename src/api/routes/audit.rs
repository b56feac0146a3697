//! The audit chain's check: intact up to its head, or where it breaks.

use std::sync::Arc;

use axum::extract::State;
use serde_json::{json, Value};

use super::{ok, Answer};
use crate::api::{blocking, ApiError, AppState, Caller, Operation, Permit};
use crate::store::{AuditBreak, AuditHead};

pub(super) async fn audit_verify(State(state): State<AppState>, caller: Caller) -> Answer {
    Permit::check(&state, caller, Operation::VerifyAudit).await?;
    let store = Arc::clone(state.store());
    // The whole chain, not a transaction's view: outside `Permit::read`.
    let result = blocking(move || store.verify_audit().map_err(ApiError::from)).await?;
    ok(audit_json(&result))
}

fn audit_json(result: &Result<AuditHead, AuditBreak>) -> Value {
    match result {
        Ok(head) => {
            json!({"ok": true, "entries": head.seq, "head": data_encoding::HEXLOWER.encode(&head.mac)})
        }
        Err(broken) => {
            let first_bad = match broken {
                AuditBreak::BadMac { seq } | AuditBreak::Unreadable { seq } => *seq,
                AuditBreak::Gap { expected, .. } => *expected,
            };
            json!({"ok": false, "first_bad": first_bad, "why": broken.to_string()})
        }
    }
}
