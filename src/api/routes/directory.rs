//! The academic directory sync for the admin (`docs/directory.md`): run it
//! (or only show its changes), and read the last runs.

use std::sync::Arc;

use axum::http::StatusCode;

use super::{ok, Answer};
use crate::api::body::Body;
use crate::api::{ApiError, Permit};
use crate::directory::sync::{sync_ldap, SyncError};
use crate::directory::RunOptions;
use crate::wire::directory::{StatusAnswer, SyncBody, SyncReport};
use crate::wire::ErrorCode;

pub(super) async fn directory_sync(permit: Permit, Body(body): Body<SyncBody>) -> Answer {
    let config = permit
        .state()
        .directory()
        .cloned()
        .ok_or_else(|| ApiError::not_found("directory configuration"))?;
    let store = Arc::clone(permit.state().store());
    let options = RunOptions {
        dry_run: body.dry_run,
        confirm: body.confirm,
    };
    let report = sync_ldap(store, &config, options)
        .await
        .map_err(|err| match err {
            SyncError::Store(e) => ApiError::from(e),
            // The directory could not be read: nothing changed.
            other => ApiError::new(
                StatusCode::BAD_GATEWAY,
                ErrorCode::Unavailable,
                other.to_string(),
            ),
        })?;
    permit.state().metrics().directory_run(&report);
    ok(report)
}

pub(super) async fn directory_status(permit: Permit) -> Answer {
    let runs = permit.read(|tx| tx.directory_runs(10)).await?;
    let runs: StatusAnswer = runs
        .iter()
        .map(|json| serde_json::from_str::<SyncReport>(json))
        .collect::<Result<_, _>>()
        .map_err(|e| ApiError::internal(&e))?;
    ok(runs)
}
