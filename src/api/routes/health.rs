//! Unauthenticated routes: health and metrics (with an admin key, the
//! metrics add verify outcomes by reason).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{FromRequestParts as _, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::api::{auth, blocking, ApiError, AppState, Caller};
use crate::domain::Role;
use crate::wire::{Health, HealthStatus};

/// How long a store check answers `/healthz` for: a probe every few
/// milliseconds costs one read a second, not one per probe.
const HEALTH_FRESH: Duration = Duration::from_secs(1);

/// The last store check's result and when it was made.
#[derive(Debug)]
pub(in crate::api) struct HealthCache {
    epoch: Instant,
    /// Milliseconds after `epoch` of the last check plus one (0: never).
    checked_ms: AtomicU64,
    healthy: AtomicBool,
}

impl Default for HealthCache {
    fn default() -> Self {
        HealthCache {
            epoch: Instant::now(),
            checked_ms: AtomicU64::new(0),
            healthy: AtomicBool::new(false),
        }
    }
}

impl HealthCache {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis())
            .unwrap_or(u64::MAX)
            .saturating_add(1)
    }

    /// The cached answer while fresh.
    fn fresh(&self) -> Option<bool> {
        let checked = self.checked_ms.load(Ordering::Acquire);
        let fresh = u64::try_from(HEALTH_FRESH.as_millis()).unwrap_or(u64::MAX);
        (checked != 0 && self.now_ms().saturating_sub(checked) < fresh)
            .then(|| self.healthy.load(Ordering::Acquire))
    }

    fn record(&self, healthy: bool) {
        self.healthy.store(healthy, Ordering::Release);
        self.checked_ms.store(self.now_ms(), Ordering::Release);
    }
}

pub(super) async fn healthz(State(state): State<AppState>) -> Response {
    let cache = &state.inner.health;
    let healthy = match cache.fresh() {
        Some(healthy) => healthy,
        None => {
            let store = Arc::clone(state.store());
            let healthy = blocking(move || {
                store
                    .read(|tx| tx.districts().map(|_| ()))
                    .map_err(ApiError::from)
            })
            .await
            .is_ok();
            cache.record(healthy);
            healthy
        }
    };
    let (code, status) = if healthy {
        (StatusCode::OK, HealthStatus::Ok)
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, HealthStatus::Unavailable)
    };
    let time_zone = state
        .store()
        .time_zone()
        .iana_name()
        .unwrap_or("UTC")
        .to_owned();
    (code, Json(Health { status, time_zone })).into_response()
}

/// `GET /metrics`: the public part to anyone; with an `Authorization`
/// header, that key must be an admin's, and the answer adds verify outcomes
/// by reason.
pub(super) async fn metrics_text(State(state): State<AppState>, request: Request) -> Response {
    let (mut parts, _) = request.into_parts();
    let reasons = if auth::names_a_key(&parts) {
        let caller = match Caller::from_request_parts(&mut parts, &state).await {
            Ok(caller) => caller,
            Err(err) => return err.into_response(),
        };
        if caller.api_key.role != Role::Admin {
            let err = ApiError::forbidden("verify outcomes by reason need an admin key");
            return state
                .refuse(caller.actor, "metrics", err)
                .await
                .into_response();
        }
        true
    } else {
        false
    };
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics().render(&state.devices().counters, reasons)
            + &crate::api::metrics::disk_gauges(
                state
                    .store()
                    .db_path()
                    .parent()
                    .unwrap_or(state.store().db_path()),
            ),
    )
        .into_response()
}
