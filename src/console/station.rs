//! The handover station's kiosk: a device signed in once with its station
//! key, bound to its readers. It shows whose key is inserted, the rules to
//! accept and the PIN policy, takes the PIN twice, activates through the
//! API's operation and shows the signed slip to print. A director never
//! signs in here; nothing they type is kept or shown again.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::http::Method;
use axum::response::Response;
use axum::Form;
use serde::Deserialize;
use serde_json::json;
use zeroize::Zeroizing;

use super::receipts::SlipPage;
use super::session::Session;
use super::signin::PageLang;
use super::tokens::encode;
use super::view::{html, Chrome, Texts};
use super::{ConsoleState, Refusal, Who};
use crate::domain::{api_key_hash, Actor, Role, TokenState};
use crate::wire::devices::DeviceEntry;
use crate::wire::tokens::Activated;

#[derive(Template)]
#[template(path = "station_signin.html")]
struct SignInPage {
    t: Texts,
    error: Option<String>,
}

pub async fn signin_form(PageLang(t, _): PageLang) -> Response {
    html(&SignInPage { t, error: None })
}

#[derive(Deserialize)]
pub struct StationKey {
    key: Zeroizing<String>,
}

/// Signs the station in with its key: checked by the API's own bearer
/// authentication (refusals audited there), then a session for that key.
pub async fn sign_in(
    State(state): State<ConsoleState>,
    PageLang(t, _): PageLang,
    Form(form): Form<StationKey>,
) -> Response {
    let key = form.key.trim();
    let listed = state
        .call::<Vec<DeviceEntry>>(Who::Bearer(key), Method::GET, "/v1/devices", None)
        .await;
    let hash = api_key_hash(key);
    let store = Arc::clone(state.app().store());
    let record = match listed {
        Ok(_) => tokio::task::spawn_blocking(move || store.read(|tx| tx.api_key_by_hash(&hash)))
            .await
            .ok()
            .and_then(Result::ok)
            .flatten(),
        Err(_) => None,
    };
    match record {
        Some(record) if record.role == Role::Station && record.revoked_at.is_none() => {
            super::signin::open(&state, record, "station").await
        }
        Some(_) => {
            state
                .refuse(
                    Actor::System,
                    "console station sign-in",
                    "not a station key",
                )
                .await;
            html(&SignInPage {
                error: Some(t.get("console-station-refused")),
                t,
            })
        }
        None => html(&SignInPage {
            error: Some(t.get("console-station-refused")),
            t,
        }),
    }
}

/// A token at one of the station's readers.
#[derive(Clone, Debug)]
pub struct AtReader {
    pub reader: String,
    pub serial: String,
    pub holder: String,
    /// Handed over: the holder may choose their PIN now.
    pub ready: bool,
}

#[derive(Template)]
#[template(path = "station.html")]
struct KioskPage {
    c: Chrome,
    tokens: Vec<AtReader>,
    readers: String,
}

pub async fn kiosk(State(state): State<ConsoleState>, session: Session) -> Response {
    kiosk_page(&state, &session, None).await
}

async fn kiosk_page(state: &ConsoleState, session: &Session, refusal: Option<Refusal>) -> Response {
    let mut c = Chrome::new(session, "console-station-title", "/station");
    let mine = &session.caller.api_key.readers;
    let tokens = match state
        .call::<Vec<DeviceEntry>>(
            Who::Session(&session.caller),
            Method::GET,
            "/v1/devices",
            None,
        )
        .await
    {
        Ok(list) => list
            .into_iter()
            .filter(|d| d.present && mine.contains(&d.reader))
            .filter_map(|d| {
                Some(AtReader {
                    ready: d.state == Some(TokenState::HandedOver),
                    serial: d.serial?,
                    holder: d.holder.unwrap_or_default(),
                    reader: d.reader,
                })
            })
            .collect(),
        Err(r) => {
            c = c.refused(&r);
            vec![]
        }
    };
    if let Some(r) = refusal {
        c = c.refused(&r);
    }
    html(&KioskPage {
        c,
        tokens,
        readers: mine.join(", "),
    })
}

#[derive(Deserialize)]
pub struct ActivateForm {
    #[serde(default)]
    csrf: String,
    reader: String,
    serial: String,
    pin: Zeroizing<String>,
    pin_again: Zeroizing<String>,
    #[serde(default)]
    accept: Option<String>,
}

pub async fn activate(
    State(state): State<ConsoleState>,
    session: Session,
    Form(form): Form<ActivateForm>,
) -> Response {
    if let Err(refused) = session.guard(&state, &form.csrf).await {
        return refused;
    }
    let t = session.texts();
    let mistake = |id: &str| Refusal {
        status: axum::http::StatusCode::UNPROCESSABLE_ENTITY,
        code: None,
        detail: None,
        message: t.get(id),
    };
    let problem = if form.accept.is_none() {
        Some(mistake("console-station-must-accept"))
    } else if form.pin.as_str() != form.pin_again.as_str() {
        Some(mistake("console-station-pins-differ"))
    } else {
        None
    };
    if let Some(problem) = problem {
        let page = kiosk_page(&state, &session, Some(problem.clone())).await;
        return super::view::refused_with(&problem, page);
    }
    let path = format!("/v1/tokens/{}/activate", encode(&form.serial));
    let body = json!({"reader": form.reader, "pin": form.pin.as_str()});
    match state
        .call::<Activated>(
            Who::Session(&session.caller),
            Method::POST,
            &path,
            Some(body),
        )
        .await
    {
        Ok(Activated {
            receipt: Some(receipt),
            ..
        }) => {
            let mut c = Chrome::new(&session, "console-slip-title", "/station");
            c.notice = Some(t.get("console-station-activated"));
            html(&SlipPage::of(c, receipt, state.app().store().time_zone()))
        }
        Ok(_) => kiosk_page(&state, &session, None).await,
        Err(r) => {
            let page = kiosk_page(&state, &session, Some(r.clone())).await;
            super::view::refused_with(&r, page)
        }
    }
}
