//! Running an [`Operation`] for a [`Caller`]: the role check against the
//! operation (refusals audited), then the store or device work on a blocking
//! thread, written under the operation's audit action, errors mapped to
//! [`ApiError`]. A handler takes a [`Permit`] as its first extractor (the
//! router tags each route with its operation) and does everything through
//! it, so none of them names a role or an audit string.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::{blocking, ApiError, AppState, Caller, Operation};
use crate::devices::{DeviceError, DeviceManager};
use crate::domain::{Actor, Role, TokenState};
use crate::store::{Store, StoreError, Tx};

/// A caller whose role allows `operation`.
#[derive(Clone, Debug)]
pub struct Permit {
    state: AppState,
    caller: Caller,
    operation: Operation,
}

impl Permit {
    /// Refuses (403, audited) unless the caller's role allows `operation`.
    pub async fn check(
        state: &AppState,
        caller: Caller,
        operation: Operation,
    ) -> Result<Permit, ApiError> {
        if !operation.allows(caller.api_key.role) {
            let refusal = ApiError::forbidden(role_refusal(caller.api_key.role, operation));
            return Err(state
                .refuse(caller.actor.clone(), operation.name(), refusal)
                .await);
        }
        Ok(Permit {
            state: state.clone(),
            caller,
            operation,
        })
    }

    /// Tells the event stream a token's state changed.
    pub fn token_changed(&self, serial: &str, state: TokenState) {
        self.state.devices().token_changed(serial, state);
    }

    pub fn caller(&self) -> &Caller {
        &self.caller
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Audits `err` as a refusal of this operation and returns it.
    pub async fn refuse(&self, err: ApiError) -> ApiError {
        self.state
            .refuse(self.caller.actor.clone(), self.operation.name(), err)
            .await
    }

    /// An inspector sees only their district: anything else is 404, exactly
    /// as if it did not exist (audited).
    pub async fn scope(&self, district: Option<&str>, what: &str) -> Result<(), ApiError> {
        if self.caller.api_key.role != Role::Inspector
            || district.is_some() && district == self.caller.api_key.district.as_deref()
        {
            return Ok(());
        }
        Err(self.refuse(ApiError::not_found(what)).await)
    }

    /// [`Permit::scope`] for an object of several districts (a person):
    /// an inspector sees it when one of them is theirs.
    pub async fn scope_among(&self, districts: &[String], what: &str) -> Result<(), ApiError> {
        let mine = self.caller.api_key.district.as_deref();
        let seen = districts.iter().find(|d| Some(d.as_str()) == mine);
        self.scope(seen.map(String::as_str), what).await
    }

    /// A station acts only at its own readers.
    pub async fn at_reader(&self, reader: &str) -> Result<(), ApiError> {
        if self.caller.api_key.role != Role::Station
            || self.caller.api_key.readers.iter().any(|r| r == reader)
        {
            return Ok(());
        }
        Err(self
            .refuse(ApiError::forbidden(
                "this station key is not bound to that reader",
            ))
            .await)
    }

    /// Reads a snapshot of the store.
    pub async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Tx<'_>) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let store = Arc::clone(self.state.store());
        blocking(move || store.read(f).map_err(ApiError::from)).await
    }

    /// Reads a snapshot as the caller: an inspector's reports show their
    /// own district only.
    pub async fn read_as_caller<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Tx<'_>) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let store = Arc::clone(self.state.store());
        let actor = self.caller.actor.clone();
        blocking(move || store.read_as(&actor, f).map_err(ApiError::from)).await
    }

    /// Runs `f` in one store transaction as the caller, audited under the
    /// operation's action.
    pub async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Tx<'_>, &Caller) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, ApiError> {
        self.write_mapping(f, ApiError::from).await
    }

    /// [`Permit::write`] with the operation's own mapping of store errors
    /// (a field named differently in its body).
    pub async fn write_mapping<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Tx<'_>, &Caller) -> Result<T, StoreError> + Send + 'static,
        map: fn(StoreError) -> ApiError,
    ) -> Result<T, ApiError> {
        let permit = self.clone();
        blocking(move || permit.write_here(permit.state.store(), f).map_err(map)).await
    }

    /// The store write of [`Permit::write`] on the calling thread, for
    /// device work already on a blocking thread ([`Permit::on_devices`]).
    pub fn write_here<T>(
        &self,
        store: &Store,
        f: impl FnOnce(&mut Tx<'_>, &Caller) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        store.write(&self.caller.actor, self.operation.audit_action(), |tx| {
            f(tx, &self.caller)
        })
    }

    /// [`Permit::on_devices`] for one device call made as the caller.
    pub async fn on_device<T: Send + 'static>(
        &self,
        f: impl FnOnce(&DeviceManager, &Actor) -> Result<T, DeviceError> + Send + 'static,
    ) -> Result<T, ApiError> {
        self.on_devices(move |devices, permit| {
            f(devices, &permit.caller.actor).map_err(ApiError::from)
        })
        .await
    }

    /// Runs device work on a blocking thread; a refusal the device layer
    /// decides before the store sees the request is audited.
    pub async fn on_devices<T: Send + 'static>(
        &self,
        f: impl FnOnce(&DeviceManager, &Permit) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let permit = self.clone();
        let result = blocking(move || f(permit.state.devices(), &permit)).await;
        self.state
            .audit_device_refusal(&self.caller.actor, self.operation.name(), result)
            .await
    }
}

/// Authenticates the caller and checks their role against the operation the
/// router tagged the route with.
impl FromRequestParts<AppState> for Permit {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(&operation) = parts.extensions.get::<Operation>() else {
            return Err(ApiError::internal(&"a route without its operation"));
        };
        // The console runs operations in process for a signed-in session:
        // its caller comes with the request instead of a bearer key, and
        // the role check below is the same.
        let caller = match parts.extensions.get::<SessionCaller>() {
            Some(SessionCaller(caller)) => caller.clone(),
            None => Caller::from_request_parts(parts, state).await?,
        };
        Permit::check(state, caller, operation).await
    }
}

/// The caller of an operation the console runs in process for a signed-in
/// session (`crate::console`): only code of this crate can put it on a
/// request, never a client.
#[derive(Clone, Debug)]
pub struct SessionCaller(pub Caller);

/// "an inspector key may not …": the refusal of a role the operation does
/// not allow, with the article English wants before the role.
pub(super) fn role_refusal(role: Role, operation: Operation) -> String {
    let role = role.as_str();
    let article = if role.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {role} key may not {}", operation.name())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_refusals_take_the_right_article() {
        let op = Operation::CreateApiKey;
        assert_eq!(
            role_refusal(Role::Inspector, op),
            "an inspector key may not manage API keys"
        );
        assert_eq!(
            role_refusal(Role::Desk, op),
            "a desk key may not manage API keys"
        );
        assert!(role_refusal(Role::Admin, op).starts_with("an admin key"));
    }
}
