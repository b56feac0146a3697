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

/// What the `Authorization` headers carry.
#[derive(Debug, PartialEq, Eq)]
enum Credentials<'a> {
    /// No header, another scheme, or not a keyward key.
    None,
    /// A well-formed keyward key.
    Key(&'a str),
    /// More than one header: which one counts would be a guess.
    Ambiguous,
}

fn bearer(parts: &Parts) -> Credentials<'_> {
    let mut values = parts
        .headers
        .get_all(axum::http::header::AUTHORIZATION)
        .iter();
    let Some(value) = values.next() else {
        return Credentials::None;
    };
    if values.next().is_some() {
        return Credentials::Ambiguous;
    }
    let Some((scheme, key)) = value.to_str().ok().and_then(|t| t.split_once(' ')) else {
        return Credentials::None;
    };
    // RFC 9110 §11.1: the scheme is case-insensitive.
    let key = key.trim();
    // kw_ + 52 base32 characters.
    if scheme.eq_ignore_ascii_case("bearer")
        && key.len() == API_KEY_PREFIX.len() + 52
        && key.starts_with(API_KEY_PREFIX)
    {
        Credentials::Key(key)
    } else {
        Credentials::None
    }
}

/// The one well-formed keyward key the request carries, if any (a node on
/// PostgreSQL checks it against its own table, `api::pg_node`).
pub(super) fn bearer_key(parts: &Parts) -> Option<&str> {
    match bearer(parts) {
        Credentials::Key(key) => Some(key),
        Credentials::None | Credentials::Ambiguous => None,
    }
}

/// Whether the request names a key at all (`/metrics` shows more to an
/// admin key, and nothing less to no key).
pub(super) fn names_a_key(parts: &Parts) -> bool {
    parts
        .headers
        .contains_key(axum::http::header::AUTHORIZATION)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let key = match bearer(parts) {
            Credentials::Key(key) => key,
            Credentials::None => {
                return Err(state
                    .refuse(Actor::System, "authenticate", ApiError::unauthenticated())
                    .await)
            }
            Credentials::Ambiguous => {
                let err = ApiError::bad_request("more than one Authorization header");
                return Err(state.refuse(Actor::System, "authenticate", err).await);
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(values: &[&str]) -> Parts {
        let mut request = axum::http::Request::builder();
        for value in values {
            request = request.header(axum::http::header::AUTHORIZATION, *value);
        }
        request.body(()).unwrap().into_parts().0
    }

    #[test]
    fn the_scheme_is_case_insensitive_and_two_headers_are_ambiguous() {
        let key = format!("{API_KEY_PREFIX}{}", "a".repeat(52));
        for scheme in ["Bearer", "bearer", "BEARER"] {
            let parts = parts(&[&format!("{scheme} {key}")]);
            assert_eq!(bearer(&parts), Credentials::Key(&key), "{scheme}");
        }
        let two = parts(&[&format!("Bearer {key}"), &format!("Bearer {key}")]);
        assert_eq!(bearer(&two), Credentials::Ambiguous);
        assert_eq!(bearer(&parts(&[])), Credentials::None);
        assert_eq!(
            bearer(&parts(&[&format!("Basic {key}")])),
            Credentials::None
        );
        assert_eq!(bearer(&parts(&["Bearer kw_short"])), Credentials::None);
    }
}
