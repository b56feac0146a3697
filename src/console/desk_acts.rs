//! The desk's operations on one key found by the search, each the API's
//! own (`POST /v1/tokens/{serial}/wipe` at a reader, `…/resync` from two
//! consecutive codes), run as the session behind its CSRF token. The codes
//! travel in the form's body only, never in an address.

use axum::extract::{Path, State};
use axum::http::Method;
use axum::response::Response;
use axum::Form;
use serde::Deserialize;
use serde_json::json;
use zeroize::Zeroizing;

use super::session::Session;
use super::tokens::{encode, refused_search};
use super::view::refused_with;
use super::{see_other, ConsoleState, Who};

#[derive(Deserialize)]
pub struct WipeForm {
    #[serde(default)]
    csrf: String,
    reader: String,
}

/// Wipes the key present at `reader` (the device operation the CLI's
/// `tokens wipe` does).
pub async fn wipe(
    State(state): State<ConsoleState>,
    session: Session,
    Path(serial): Path<String>,
    Form(form): Form<WipeForm>,
) -> Response {
    if let Err(refused) = session.guard(&state, &form.csrf).await {
        return refused;
    }
    let path = format!("/v1/tokens/{}/wipe", encode(&serial));
    let body = json!({"reader": form.reader});
    done(&state, &session, &serial, &path, body, "wipe").await
}

#[derive(Deserialize)]
pub struct ResyncForm {
    #[serde(default)]
    csrf: String,
    first: Zeroizing<String>,
    second: Zeroizing<String>,
}

/// Resynchronises the key's credential from two consecutive codes.
pub async fn resync(
    State(state): State<ConsoleState>,
    session: Session,
    Path(serial): Path<String>,
    Form(form): Form<ResyncForm>,
) -> Response {
    if let Err(refused) = session.guard(&state, &form.csrf).await {
        return refused;
    }
    let path = format!("/v1/tokens/{}/resync", encode(&serial));
    let body = json!({"first": form.first.as_str(), "second": form.second.as_str()});
    done(&state, &session, &serial, &path, body, "resync").await
}

async fn done(
    state: &ConsoleState,
    session: &Session,
    serial: &str,
    path: &str,
    body: serde_json::Value,
    what: &str,
) -> Response {
    match state
        .call::<serde_json::Value>(
            Who::Session(&session.caller),
            Method::POST,
            path,
            Some(body),
        )
        .await
    {
        Ok(_) => see_other(&format!("/tokens?serial={}&done={what}", encode(serial))),
        Err(r) => refused_with(&r, refused_search(session, &r)),
    }
}
