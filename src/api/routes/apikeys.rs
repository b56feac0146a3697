//! API keys: create (the key is shown once), list, revoke.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::IntoResponse;

use super::{created, ok, Answer};
use crate::api::{ApiError, Body, Permit};
use crate::domain::{ApiKeyRecord, NewApiKey};
use crate::domain::{PersonId, Role};
use crate::wire::apikeys::{ApiKeyEntry, CreatedApiKey, NewKeyBody};

pub(super) async fn create_api_key(permit: Permit, Body(body): Body<NewKeyBody>) -> Answer {
    let key = permit
        .write(move |tx, _| {
            let role = Role::parse(&body.role)?;
            let person = body.person.as_deref().map(PersonId::parse).transpose()?;
            tx.create_api_key(
                &body.name,
                role,
                body.district.as_deref(),
                body.readers.as_deref().unwrap_or(&[]),
                person.as_ref(),
            )
        })
        .await?;
    created(created_key(key))
}

/// The create answer: the only one that shows a key (a node's too).
pub(in crate::api) fn created_key(created: NewApiKey) -> CreatedApiKey {
    CreatedApiKey {
        id: created.record.id,
        key: created.key,
        name: created.record.name,
        role: created.record.role,
    }
}

pub(super) async fn list_api_keys(permit: Permit) -> Answer {
    let keys = permit.read(|tx| tx.api_keys()).await?;
    let keys: Vec<ApiKeyEntry> = keys.into_iter().map(api_key_entry).collect();
    ok(keys)
}

/// An item of the list (a node's too): never the key itself.
pub(in crate::api) fn api_key_entry(k: ApiKeyRecord) -> ApiKeyEntry {
    ApiKeyEntry {
        created_at: k.created_at,
        district: k.district,
        id: k.id,
        name: k.name,
        person: k.person,
        readers: k.readers,
        revoked_at: k.revoked_at,
        role: k.role,
    }
}

pub(super) async fn revoke_api_key(permit: Permit, Path(id): Path<String>) -> Answer {
    let id: i64 = id.parse().map_err(|_| ApiError::not_found("API key"))?;
    permit.write(move |tx, _| tx.revoke_api_key(id)).await?;
    permit.state().forget_keys();
    Ok(StatusCode::NO_CONTENT.into_response())
}
