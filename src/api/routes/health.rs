//! Unauthenticated routes: health and metrics.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::api::{blocking, ApiError, AppState};
use crate::wire::{Health, HealthStatus};

pub(super) async fn healthz(State(state): State<AppState>) -> Response {
    let store = Arc::clone(state.store());
    let healthy = blocking(move || {
        store
            .read(|tx| tx.districts().map(|_| ()))
            .map_err(ApiError::from)
    })
    .await;
    let (code, status) = match healthy {
        Ok(()) => (StatusCode::OK, HealthStatus::Ok),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, HealthStatus::Unavailable),
    };
    let time_zone = state
        .store()
        .time_zone()
        .iana_name()
        .unwrap_or("UTC")
        .to_owned();
    (code, Json(Health { status, time_zone })).into_response()
}

pub(super) async fn metrics_text(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics().render(&state.devices().counters)
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
