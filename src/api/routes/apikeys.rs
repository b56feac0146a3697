//! API keys: create (the key is shown once), list, revoke.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{created, ok, Answer};
use crate::api::{ApiError, AppState, Body, Caller, Operation, Permit};
use crate::domain::Role;
use crate::domain::{ApiKeyRecord, NewApiKey};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewKeyBody {
    name: String,
    role: String,
    district: Option<String>,
    readers: Option<Vec<String>>,
}

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
    created(created_key_json(&key))
}

fn created_key_json(created: &NewApiKey) -> Value {
    json!({
        "id": created.record.id,
        "name": created.record.name,
        "role": created.record.role.as_str(),
        "key": created.key.as_str(),
    })
}

pub(super) async fn list_api_keys(State(state): State<AppState>, caller: Caller) -> Answer {
    let permit = Permit::check(&state, caller, Operation::ListApiKeys).await?;
    let keys = permit.read(|tx| tx.api_keys()).await?;
    ok(Value::Array(keys.iter().map(api_key_json).collect()))
}

fn api_key_json(k: &ApiKeyRecord) -> Value {
    json!({
        "id": k.id, "name": k.name, "role": k.role.as_str(),
        "district": k.district, "readers": k.readers,
        "created_at": k.created_at, "revoked_at": k.revoked_at,
    })
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
