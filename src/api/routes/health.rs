//! Unauthenticated routes: health and metrics.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::api::{blocking, ApiError, AppState};

pub(super) async fn healthz(State(state): State<AppState>) -> Response {
    let store = Arc::clone(state.store());
    let healthy = blocking(move || {
        store
            .read(|tx| tx.districts().map(|_| ()))
            .map_err(ApiError::from)
    })
    .await;
    match healthy {
        Ok(()) => Json(json!({"status": "ok"})).into_response(),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "unavailable"})),
        )
            .into_response(),
    }
}

pub(super) async fn metrics_text(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics().render(&state.devices().counters),
    )
        .into_response()
}
