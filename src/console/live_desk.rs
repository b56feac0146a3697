//! The desk's readers, live. Without script the desk page shows the
//! readers as they were when it was rendered (and a link to refresh it);
//! with script, `/console.js` (static, served by the daemon, allowed by the
//! CSP's `script-src 'self'`) listens to `/desk/events` — the API's device
//! and token event stream (`GET /v1/events`), run with the session's caller
//! so the API's roles apply — and on each event fetches `/desk/readers`,
//! the readers' table rendered on the server by the same template as the
//! page, and puts it in place.

use askama::Template;
use axum::extract::State;
use axum::http::{header, Method};
use axum::response::{IntoResponse, Response};

use super::session::Session;
use super::view::{html, refused_with, Chrome};
use super::{ConsoleState, Who};
use crate::wire::devices::DeviceEntry;

/// The readers' table alone (`desk_readers.html`, also part of the desk).
#[derive(Template)]
#[template(path = "desk_readers.html")]
struct ReadersFragment {
    c: Chrome,
    devices: Vec<DeviceEntry>,
}

/// `GET /desk/readers`: the readers and the key at each, now.
pub async fn readers(State(state): State<ConsoleState>, session: Session) -> Response {
    let c = Chrome::new(&session, "console-desk-title", "/desk");
    match state
        .call::<Vec<DeviceEntry>>(
            Who::Session(&session.caller),
            Method::GET,
            "/v1/devices",
            None,
        )
        .await
    {
        Ok(devices) => html(&ReadersFragment { c, devices }),
        Err(r) => refused_with(&r, html(&ReadersFragment { c, devices: vec![] })),
    }
}

/// `GET /desk/events`: the API's event stream, as the session's caller.
pub async fn events(State(state): State<ConsoleState>, session: Session) -> Response {
    match state
        .stream(Who::Session(&session.caller), "/v1/events")
        .await
    {
        Ok(stream) => stream,
        Err(r) => (r.status, r.message).into_response(),
    }
}

/// `GET /console.js`: the one script, static.
pub async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("console.js"),
    )
        .into_response()
}
