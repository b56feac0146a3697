//! API keys: create (the key is shown once), list, revoke.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;

use super::{created, ok, Answer};
use crate::api::{ApiError, AppState, Body, Caller, Operation, Permit};
use crate::domain::Role;
use crate::domain::{ApiKeyRecord, NewApiKey};
use crate::wire::apikeys::{ApiKeyEntry, CreatedApiKey, NewKeyBody};

pub(super) async fn create_api_key(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body<NewKeyBody>,
) -> Answer {
    let permit = Permit::check(&state, caller, Operation::CreateApiKey).await?;
    let key = permit
        .write(move |tx, _| {
            let role = Role::parse(&body.role)?;
            tx.create_api_key(
                &body.name,
                role,
                body.district.as_deref(),
                body.readers.as_deref().unwrap_or(&[]),
            )
        })
        .await?;
    created(created_key(key))
}

fn created_key(created: NewApiKey) -> CreatedApiKey {
    CreatedApiKey {
        id: created.record.id,
        key: created.key,
        name: created.record.name,
        role: created.record.role,
    }
}

pub(super) async fn list_api_keys(State(state): State<AppState>, caller: Caller) -> Answer {
    let permit = Permit::check(&state, caller, Operation::ListApiKeys).await?;
    let keys = permit.read(|tx| tx.api_keys()).await?;
    let keys: Vec<ApiKeyEntry> = keys.into_iter().map(api_key_entry).collect();
    ok(keys)
}

fn api_key_entry(k: ApiKeyRecord) -> ApiKeyEntry {
    ApiKeyEntry {
        created_at: k.created_at,
        district: k.district,
        id: k.id,
        name: k.name,
        readers: k.readers,
        revoked_at: k.revoked_at,
        role: k.role,
    }
}

pub(super) async fn revoke_api_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Answer {
    let permit = Permit::check(&state, caller, Operation::RevokeApiKey).await?;
    let id: i64 = id.parse().map_err(|_| ApiError::not_found("API key"))?;
    permit.write(move |tx, _| tx.revoke_api_key(id)).await?;
    state.forget_keys();
    Ok(StatusCode::NO_CONTENT.into_response())
}
