//! Bearer authentication: the key's SHA-256 is looked up (cached in memory,
//! forgotten on revocation) and becomes a [`Caller`] with one role and its
//! scope. Every refusal is audited.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::{blocking, ApiError, AppState};
use crate::domain::{api_key_hash, ApiKeyRecord, Role, API_KEY_PREFIX};
use crate::domain::{Actor, PersonId};

/// An authenticated caller: the record of their API key (its role, an
/// inspector's district, a station's readers) and who they act as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub api_key: ApiKeyRecord,
    /// Who the store sees: a staff key acts as its person (in the key's
    /// role), the gateway as the gateway. A station acts
    /// as the holder of the token at its reader, per request.
    pub actor: Actor,
}

fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(axum::http::header::AUTHORIZATION)?;
    let text = value.to_str().ok()?;
    let key = text.strip_prefix("Bearer ")?.trim();
    // kw_ + 52 base32 characters.
    (key.len() == API_KEY_PREFIX.len() + 52 && key.starts_with(API_KEY_PREFIX)).then_some(key)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(key) = bearer(parts) else {
            return Err(state
                .refuse(Actor::System, "authenticate", ApiError::unauthenticated())
                .await);
        };
        let hash = api_key_hash(key);
        if let Ok(cache) = state.inner.keys.lock() {
            if let Some(caller) = cache.get(&hash) {
                return Ok(caller.clone());
            }
        }
        let store = Arc::clone(state.store());
        let found = blocking(move || {
            store
                .read(|tx| {
                    let Some(record) = tx.api_key_by_hash(&hash)? else {
                        return Ok(None);
                    };
                    let person = match record.person.as_deref().map(PersonId::parse) {
                        Some(Ok(id)) if !tx.has_left(&id)? => Some(id),
                        _ => None,
                    };
                    Ok(Some((record, person)))
                })
                .map_err(ApiError::from)
        })
        .await;
        let found = match found {
            // A key row changed outside keyward authenticates nobody.
            Err(err) if err.detail == Some(crate::wire::ErrorDetail::RecordTampered) => {
                return Err(state.refuse(Actor::System, "authenticate", err).await)
            }
            other => other?,
        };
        let caller = match found {
            Some((record, person)) if record.revoked_at.is_none() => {
                let staff = |make: fn(PersonId) -> Actor| person.clone().map(make);
                let actor = match record.role {
                    Role::Admin => staff(Actor::Admin),
                    Role::Desk => staff(Actor::Desk),
                    Role::Inspector => staff(Actor::Inspector),
                    // Never a desk actor: a station acts as the holder of the
                    // token at its reader, per request.
                    Role::Station => Some(Actor::Holder(
                        PersonId::parse(&format!("station.{}", record.id))
                            .map_err(|e| ApiError::internal(&e))?,
                    )),
                    Role::Gateway => Some(Actor::Gateway),
                };
                // A staff key whose person left (or an old key of nobody).
                let Some(actor) = actor else {
                    return Err(state
                        .refuse(
                            Actor::System,
                            "authenticate",
                            ApiError::forbidden(
                                "this key's person has left or it belongs to nobody: create a key for a person",
                            ),
                        )
                        .await);
                };
                Caller {
                    api_key: record,
                    actor,
                }
            }
            _ => {
                return Err(state
                    .refuse(Actor::System, "authenticate", ApiError::unauthenticated())
                    .await)
            }
        };
        if let Ok(mut cache) = state.inner.keys.lock() {
            cache.insert(hash, caller.clone());
        }
        Ok(caller)
    }
}
