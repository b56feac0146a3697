//! API keys: create, list, revoke.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::api::{blocking, ApiError, AppState, Body, Caller};
use crate::domain::Role;

use super::*;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewKeyBody {
    name: String,
    role: String,
    district: Option<String>,
    readers: Option<Vec<String>>,
}

pub async fn create_api_key(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body<NewKeyBody>,
) -> Answer {
    caller.require(&state, ADMIN, "manage API keys").await?;
    let store = Arc::clone(state.store());
    let created_key = blocking(move || {
        store
            .write(&caller.actor, "apikey.create", |tx| {
                let role = Role::parse(&body.role)?;
                tx.create_api_key(
                    &body.name,
                    role,
                    body.district.as_deref(),
                    body.readers.as_deref().unwrap_or(&[]),
                )
            })
            .map_err(ApiError::from)
    })
    .await?;
    created(json!({
        "id": created_key.record.id,
        "name": created_key.record.name,
        "role": created_key.record.role.as_str(),
        "key": created_key.key.as_str(),
    }))
}

pub async fn list_api_keys(State(state): State<AppState>, caller: Caller) -> Answer {
    caller.require(&state, ADMIN, "manage API keys").await?;
    let store = Arc::clone(state.store());
    let keys = blocking(move || store.read(|tx| tx.api_keys()).map_err(ApiError::from)).await?;
    ok(Value::Array(
        keys.iter()
            .map(|k| {
                json!({
                    "id": k.id, "name": k.name, "role": k.role.as_str(),
                    "district": k.district, "readers": k.readers,
                    "created_at": k.created_at, "revoked_at": k.revoked_at,
                })
            })
            .collect(),
    ))
}

pub async fn revoke_api_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Answer {
    caller.require(&state, ADMIN, "manage API keys").await?;
    let id: i64 = id.parse().map_err(|_| ApiError::not_found("API key"))?;
    let store = Arc::clone(state.store());
    blocking(move || {
        store
            .write(&caller.actor, "apikey.revoke", |tx| tx.revoke_api_key(id))
            .map_err(ApiError::from)
    })
    .await?;
    state.forget_keys();
    Ok(StatusCode::NO_CONTENT.into_response())
}
