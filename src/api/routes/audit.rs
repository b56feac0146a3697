//! Audit chain verification.

use std::sync::Arc;

use axum::extract::State;
use serde_json::json;

use crate::api::{blocking, ApiError, AppState, Caller};

use super::*;

pub async fn audit_verify(State(state): State<AppState>, caller: Caller) -> Answer {
    caller.require(&state, ADMIN, "verify the audit").await?;
    let store = Arc::clone(state.store());
    let result = blocking(move || store.verify_audit().map_err(ApiError::from)).await?;
    match result {
        Ok(head) => ok(
            json!({"ok": true, "entries": head.seq, "head": data_encoding::HEXLOWER.encode(&head.mac)}),
        ),
        Err(broken) => {
            let first_bad = match &broken {
                crate::store::AuditBreak::BadMac { seq }
                | crate::store::AuditBreak::Unreadable { seq } => *seq,
                crate::store::AuditBreak::Gap { expected, .. } => *expected,
            };
            ok(json!({"ok": false, "first_bad": first_bad, "why": broken.to_string()}))
        }
    }
}
