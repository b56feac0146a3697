//! The web console (docs/console.md): server-rendered pages for the desk,
//! the inspectors, the admins and the handover stations, served by
//! `keyward serve` under `/` beside the API under `/v1`.
//!
//! The console is a client of the API's operations: every action runs the
//! very [`Operation`] the API would run, in process, through the API's own
//! router with the signed-in session's [`Caller`] ([`ConsoleState::call`]),
//! so its role checks, scopes, store writes, audit and refusals are the
//! API's. What lives here is presentation: sessions ([`session`]), the pages
//! of each role (one file per resource), the templates
//! (`src/console/templates/`, checked at compile time by askama), the
//! stylesheet and the receipts' QR codes ([`qr`]).
//!
//! Every answer carries a strict Content-Security-Policy (no inline script:
//! one static script from the daemon, which only brings the desk's readers
//! up to date; styles from the daemon only), is never cached, and never
//! holds a secret: PINs and codes go from forms to the operation and
//! nowhere else. The one exception is a station's access key, shown once on
//! the answer to its grant (`staff_keys`), for the admin to put on the
//! station.

mod admin;
mod appointment_list;
mod appointments;
pub mod batch;
mod batch_pages;
mod charts;
mod departure;
mod desk_acts;
mod glance;
mod holder_search;
mod home;
mod live_desk;
mod paging;
mod people;
pub mod qr;
mod receipts;
mod rights;
mod schools;
pub mod session;
mod signin;
mod staff_keys;
mod station;
mod tokens;
mod view;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::de::DeserializeOwned;
use tower::ServiceExt as _;

use crate::api::{AppState, Caller, SessionCaller};
use crate::domain::Actor;
use crate::wire::ErrorCode;

pub use session::Settings;

/// The Content-Security-Policy of every console answer: nothing but the
/// daemon's own stylesheet, its one static script (`/console.js`, no inline
/// script), connections back to the daemon only (the live desk's events)
/// and inline SVG/data images; no frame, forms posted only to the daemon.
pub const CSP: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; \
style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; \
base-uri 'none'";

/// What the console's handlers share.
#[derive(Clone)]
pub struct ConsoleState {
    inner: Arc<Inner>,
}

struct Inner {
    app: AppState,
    /// The API's router, which the console's actions go through.
    api: Router,
    settings: Settings,
}

impl std::fmt::Debug for ConsoleState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleState")
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

/// An operation refused or failed, as the API answered it: what a page
/// shows (the API's message, never a secret).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub status: StatusCode,
    pub code: Option<ErrorCode>,
    /// The API's detail of a refusal (a rule's name), when it gave one.
    pub detail: Option<crate::wire::ErrorDetail>,
    pub message: String,
}

impl ConsoleState {
    pub fn new(app: AppState, settings: Settings) -> ConsoleState {
        ConsoleState {
            inner: Arc::new(Inner {
                api: crate::api::app(app.clone()),
                app,
                settings,
            }),
        }
    }

    pub fn app(&self) -> &AppState {
        &self.inner.app
    }

    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// Runs an API operation in process: `method path` with `body` as
    /// JSON, as `caller` (a session's) or with a bearer key (a station's
    /// first sign-in), through the API's router — so the same role check,
    /// scope, store write, audit and refusal as over HTTP.
    pub async fn call<T: DeserializeOwned>(
        &self,
        who: Who<'_>,
        method: Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<T, Refusal> {
        self.call_counted(who, method, path, body)
            .await
            .map(|(answer, _)| answer)
    }

    /// A `GET` of one page of a list, and the list's full length (the
    /// API's `X-Total-Count`).
    pub async fn page<T: DeserializeOwned>(
        &self,
        who: Who<'_>,
        path: &str,
    ) -> Result<(T, u64), Refusal> {
        let (answer, total) = self.call_counted(who, Method::GET, path, None).await?;
        Ok((answer, total.ok_or_else(|| Refusal::internal("count"))?))
    }

    async fn call_counted<T: DeserializeOwned>(
        &self,
        who: Who<'_>,
        method: Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<(T, Option<u64>), Refusal> {
        let mut request = Request::builder().method(method).uri(path);
        if let Who::Bearer(key) = who {
            request = request.header(header::AUTHORIZATION, format!("Bearer {key}"));
        }
        let body = match body {
            Some(value) => {
                request = request.header(header::CONTENT_TYPE, "application/json");
                Body::from(value.to_string())
            }
            None => Body::empty(),
        };
        let mut request = request
            .body(body)
            .map_err(|_| Refusal::internal("request"))?;
        if let Who::Session(caller) = who {
            request
                .extensions_mut()
                .insert(SessionCaller(caller.clone()));
        }
        let Ok(response) = self.inner.api.clone().oneshot(request).await;
        let status = response.status();
        let total = response
            .headers()
            .get(crate::api::TOTAL_COUNT)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let bytes = axum::body::to_bytes(response.into_body(), 64 << 20)
            .await
            .map_err(|_| Refusal::internal("answer"))?;
        if status.is_success() {
            // 204 (a revocation): no body, read as JSON `null`.
            let bytes: &[u8] = if status == StatusCode::NO_CONTENT {
                b"null"
            } else {
                &bytes
            };
            return serde_json::from_slice(bytes)
                .map(|answer| (answer, total))
                .map_err(|_| Refusal::internal("answer"));
        }
        let error: Option<crate::wire::error::ErrorBody> = serde_json::from_slice(&bytes).ok();
        Err(match error {
            Some(body) => Refusal {
                status,
                code: Some(body.error.code),
                detail: body.error.detail,
                message: body.error.message,
            },
            None => Refusal {
                status,
                code: None,
                detail: None,
                message: status.to_string(),
            },
        })
    }

    /// A `GET` whose answer is a stream (the API's server-sent events),
    /// run as `who` through the API's router like [`ConsoleState::call`]
    /// (same role check, scope and refusal); the answer's body is passed
    /// through as it comes.
    pub async fn stream(&self, who: Who<'_>, path: &str) -> Result<Response, Refusal> {
        let mut request = Request::builder()
            .method(Method::GET)
            .uri(path)
            .body(Body::empty())
            .map_err(|_| Refusal::internal("request"))?;
        match who {
            Who::Session(caller) => {
                request
                    .extensions_mut()
                    .insert(SessionCaller(caller.clone()));
            }
            Who::Bearer(_) => return Err(Refusal::internal("stream")),
        }
        let Ok(response) = self.inner.api.clone().oneshot(request).await;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        Err(Refusal {
            status,
            code: None,
            detail: None,
            message: status.to_string(),
        })
    }

    /// Audits a refusal the console decides itself (no session, a bad
    /// CSRF token): the same `refused` entry as the API's.
    pub async fn refuse(&self, actor: Actor, operation: &'static str, why: &'static str) {
        let store = Arc::clone(self.app().store());
        let audited = tokio::task::spawn_blocking(move || {
            store.write(&actor, "refused", |tx| tx.record_refusal(operation, why))
        })
        .await;
        if !matches!(audited, Ok(Ok(()))) {
            tracing::warn!(operation, "could not audit a console refusal");
        }
    }
}

impl Refusal {
    fn internal(what: &str) -> Refusal {
        tracing::warn!(what, "console: an in-process API call failed");
        Refusal {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: Some(ErrorCode::Internal),
            detail: None,
            message: "internal error".to_owned(),
        }
    }
}

/// Who an in-process API call runs as.
#[derive(Clone, Copy, Debug)]
pub enum Who<'a> {
    Session(&'a Caller),
    Bearer(&'a str),
}

/// Security headers on every console answer.
async fn headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// The console's routes, with their state.
pub fn router(app: AppState, settings: Settings) -> Router {
    let state = ConsoleState::new(app, settings);
    Router::new()
        .route("/", get(home::home))
        .route("/console.css", get(view::stylesheet))
        .route("/lang/{code}", get(home::language))
        .route("/signin", get(signin::form).post(signin::sign_in))
        .route("/bootstrap/{token}", get(signin::bootstrap_form))
        .route("/bootstrap", post(signin::bootstrap))
        .route("/signout", post(signin::sign_out))
        .route("/desk", get(tokens::desk))
        .route("/desk/prepare", post(tokens::prepare))
        .route("/desk/readers", get(live_desk::readers))
        .route("/desk/events", get(live_desk::events))
        .route("/console.js", get(live_desk::script))
        .route(
            "/desk/batch",
            get(batch_pages::start_page).post(batch_pages::start),
        )
        .route("/desk/batches/{id}", get(batch_pages::progress))
        .route("/desk/batches/{id}/lines", get(batch_pages::lines))
        .route("/desk/batches/{id}/events", get(batch_pages::events))
        .route("/desk/batches/{id}/cancel", post(batch_pages::cancel))
        .route("/tokens", get(tokens::search))
        .route("/tokens.csv", get(tokens::export_csv))
        .route("/inspector", get(tokens::inspector))
        .route("/tokens/{serial}/handover", post(tokens::handover))
        .route("/tokens/{serial}/return", post(tokens::give_back))
        .route("/tokens/{serial}/act", post(tokens::act))
        .route("/tokens/{serial}/wipe", post(desk_acts::wipe))
        .route("/tokens/{serial}/resync", post(desk_acts::resync))
        .route("/people", get(people::people).post(people::add))
        .route("/people/{id}", get(people::person))
        .route("/people/{id}/departure", get(departure::departure))
        .route("/people/{id}/leave", post(departure::leave))
        .route("/glance", get(glance::glance))
        .route("/admin/audit", get(admin::audit))
        .route("/admin/audit.csv", get(admin::export_csv))
        .route(
            "/admin/appointments",
            get(appointments::appointments).post(appointments::grant),
        )
        .route("/admin/appointments/end", post(appointments::end))
        .route("/admin/appointment-list", get(appointment_list::list))
        .route(
            "/admin/appointment-list.csv",
            get(appointment_list::export_csv),
        )
        .route(
            "/admin/schools",
            get(schools::schools).post(schools::add_school),
        )
        .route("/admin/districts", post(schools::add_district))
        .route(
            "/admin/staff-keys",
            get(staff_keys::staff_keys).post(staff_keys::grant),
        )
        .route("/admin/staff-keys/station", post(staff_keys::grant_station))
        .route("/admin/staff-keys/revoke", post(staff_keys::revoke))
        .route("/delegations", get(rights::delegations).post(rights::grant))
        .route("/delegations/end", post(rights::end))
        .route("/receipts/{id}", get(receipts::slip))
        .route(
            "/station/signin",
            get(station::signin_form).post(station::sign_in),
        )
        .route("/station", get(station::kiosk))
        .route("/station/activate", post(station::activate))
        .layer(middleware::from_fn(headers))
        .layer(axum::extract::DefaultBodyLimit::max(64 << 10))
        .with_state(state)
}

/// The API's router and the console's, as `keyward serve` serves them.
pub fn with_api(app: AppState, settings: Settings) -> Router {
    crate::api::app(app.clone()).merge(router(app, settings))
}

/// A 303 to `to`: the answer to every successful form.
fn see_other(to: &str) -> Response {
    (
        StatusCode::SEE_OTHER,
        [(
            header::LOCATION,
            HeaderValue::from_str(to).unwrap_or(HeaderValue::from_static("/")),
        )],
    )
        .into_response()
}
