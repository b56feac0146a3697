//! The v1 HTTP API (docs/api.md): [`app`] builds the router over an
//! [`AppState`]. Every route is an [`Operation`] (its roles, audit name and
//! path); bearer keys map to roles ([`auth`]); a handler runs its operation
//! through a [`Permit`] (`routes/`, one file per resource); every error is an
//! [`ApiError`] with a stable code; store and device work runs on blocking
//! threads, verify on the group-commit service.

pub mod auth;
mod body;
pub mod error;
pub mod metrics;
mod operation;
mod permit;
pub mod pg_node;
mod routes;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde::de::DeserializeOwned;

use crate::devices::DeviceManager;
use crate::domain::{Actor, Clock};
use crate::store::verify::{VerifyOutcome, VerifyRequest, VerifyService};
use crate::store::{Store, StoreError};
use crate::wire::{ErrorCode, ErrorDetail};

pub use auth::Caller;
pub use body::Body;
pub use error::ApiError;
pub use metrics::Metrics;
pub use operation::{Operation, UNAUTHENTICATED};
pub use permit::{Permit, SessionCaller};
pub use routes::TOTAL_COUNT;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<Store>,
    verify: VerifyService,
    devices: Arc<DeviceManager>,
    clock: Arc<dyn Clock>,
    metrics: Metrics,
    health: routes::HealthCache,
    /// Challenges `/validate/check` opened (`gateway`).
    validate_challenges: crate::gateway::Challenges,
    keys: Mutex<HashMap<[u8; 32], Caller>>,
    shutting_down: AtomicBool,
    /// Tells long-lived streams (events) to end at shutdown.
    stop: tokio::sync::watch::Sender<bool>,
    /// `[directory]`, when configured (`POST /v1/directory/sync`).
    directory: std::sync::OnceLock<crate::directory::DirectoryConfig>,
    /// The console's batch preparations, one a reader (in memory only).
    console_batches: crate::console::batch::Batches,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("store", &self.inner.store)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// Starts the verify service on `store`.
    pub fn new(
        store: Arc<Store>,
        devices: Arc<DeviceManager>,
        clock: Arc<dyn Clock>,
    ) -> Result<AppState, StoreError> {
        let verify = store.verify_service()?;
        Ok(AppState {
            inner: Arc::new(Inner {
                store,
                verify,
                devices,
                clock,
                metrics: Metrics::default(),
                health: routes::HealthCache::default(),
                validate_challenges: crate::gateway::Challenges::default(),
                keys: Mutex::new(HashMap::new()),
                shutting_down: AtomicBool::new(false),
                stop: tokio::sync::watch::channel(false).0,
                directory: std::sync::OnceLock::new(),
                console_batches: crate::console::batch::Batches::default(),
            }),
        })
    }

    /// Gives the API the academic directory to sync (set once, at start).
    pub fn set_directory(&self, config: crate::directory::DirectoryConfig) {
        let _ = self.inner.directory.set(config);
    }

    pub fn directory(&self) -> Option<&crate::directory::DirectoryConfig> {
        self.inner.directory.get()
    }

    /// The console's batch preparations (`console::batch`).
    pub fn console_batches(&self) -> &crate::console::batch::Batches {
        &self.inner.console_batches
    }

    /// Turns `true` when the daemon shuts down (long-lived work ends).
    pub fn stopping(&self) -> tokio::sync::watch::Receiver<bool> {
        self.inner.stop.subscribe()
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.inner.store
    }

    pub fn devices(&self) -> &Arc<DeviceManager> {
        &self.inner.devices
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    /// The challenges opened over `/validate/check`.
    pub fn validate_challenges(&self) -> &crate::gateway::Challenges {
        &self.inner.validate_challenges
    }

    /// Asks the one verify service (every gateway interface: `/v1/verify`,
    /// `/validate/check`, RADIUS) and records the outcome's metrics. Awaited,
    /// not blocked on: the writer thread answers through a oneshot.
    pub async fn verify(&self, request: VerifyRequest) -> Result<VerifyOutcome, StoreError> {
        let started = std::time::Instant::now();
        let pending = self.inner.verify.submit(request)?;
        let (reply, label) = pending.answer().await;
        self.metrics().verify_outcome(label, started.elapsed());
        reply
    }

    /// Serves a rejection's required delay by holding the answer, as
    /// `POST /v1/verify` does.
    pub async fn hold_reject(&self, hold: Option<u64>) {
        if let Some(seconds) = hold {
            routes::hold_answer(self.clock().as_ref(), seconds).await;
        }
    }

    /// New requests are answered 503 from now on (graceful shutdown).
    pub fn begin_shutdown(&self) {
        self.inner.shutting_down.store(true, Ordering::SeqCst);
        self.inner.stop.send_replace(true);
    }

    pub(crate) fn forget_keys(&self) {
        if let Ok(mut keys) = self.inner.keys.lock() {
            keys.clear();
        }
    }

    /// Audits a refusal decided here (authentication, role, scope) and
    /// returns the error to answer.
    async fn refuse(&self, actor: Actor, operation: &'static str, err: ApiError) -> ApiError {
        let store = Arc::clone(&self.inner.store);
        let why = format!("{} {}", err.code, err.message);
        let audited = tokio::task::spawn_blocking(move || {
            store.write(&actor, "refused", |tx| tx.record_refusal(operation, &why))
        })
        .await;
        if !matches!(audited, Ok(Ok(()))) {
            tracing::warn!(operation, "could not audit a refusal");
        }
        err
    }
}

impl AppState {
    /// Audits a refusal the device layer decided before the store saw the
    /// request (the token is not at the named reader).
    async fn audit_device_refusal<T>(
        &self,
        actor: &Actor,
        operation: &'static str,
        result: Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        match result {
            Err(err)
                if err.code == ErrorCode::DeviceAbsent
                    || err.field == Some("typed")
                    || matches!(
                        err.detail,
                        Some(ErrorDetail::AccessCodeRefused | ErrorDetail::Unsupported)
                    ) =>
            {
                Err(self.refuse(actor.clone(), operation, err).await)
            }
            other => other,
        }
    }
}

/// Runs blocking store or device work off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(&e))?
}

/// Query parameters: unknown ones refused with the API's 400, like bodies.
#[derive(Debug)]
pub struct Params<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> axum::extract::FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| Params(value))
            .map_err(|_| {
                ApiError::bad_request("unknown or malformed query parameter: see docs/api.md")
            })
    }
}

async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if state.inner.shutting_down.load(Ordering::SeqCst) {
        return ApiError::unavailable().into_response();
    }
    let route = request.extensions().get::<MatchedPath>().cloned();
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    let response = if declares_too_much(&request, route) {
        ApiError::too_large().into_response()
    } else {
        next.run(request).await
    };
    state.metrics().request(route, response.status().as_u16());
    response
}

/// A declared body length over the route's limit: answered `413` before
/// the body is read, since hyper sends `100 Continue` when a handler first
/// reads it and the client would then send the whole body in vain.
fn declares_too_much(request: &Request, route: &str) -> bool {
    let limit = if route == Operation::ImportTokens.path() {
        crate::wire::tokens::MAX_IMPORT_BODY
    } else {
        crate::wire::MAX_REQUEST_BODY
    };
    request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n > u64::try_from(limit).unwrap_or(u64::MAX))
}

/// The v1 router: every [`Operation`] and the unauthenticated routes.
pub fn app(state: AppState) -> Router {
    routes::router()
        .fallback(|| async { ApiError::not_found("route") })
        .route_layer(middleware::from_fn_with_state(state.clone(), track))
        .layer(axum::extract::DefaultBodyLimit::max(
            crate::wire::MAX_REQUEST_BODY,
        ))
        .with_state(state)
}
