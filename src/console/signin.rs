//! Signing in and out. Staff sign in with their own key: login, PIN and
//! code go to the one verify service ([`AppState::verify`]: the same
//! checks, delays, locks and per-source limiter as every gateway) for the
//! purpose `StaffSignIn`, which asks for a live staff key instead of a
//! school right (decided in `store::verify`); then the session acts with
//! the person's staff API key. The first admin may
//! instead use the one-time link `keyward init` printed. Nothing typed
//! here is kept, logged or shown again.

use std::sync::Arc;

use askama::Template;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::Form;
use serde::Deserialize;
use zeroize::Zeroizing;

use super::session::{self, lang_of, Session};
use super::view::{html, Texts};
use super::{see_other, ConsoleState};
use crate::domain::{Actor, ApiKeyRecord, Role};
use crate::store::verify::{VerifyOutcome, VerifyRequest};

#[derive(Template)]
#[template(path = "signin.html")]
struct SignInPage {
    t: Texts,
    login: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "bootstrap.html")]
struct BootstrapPage {
    t: Texts,
    token: String,
}

/// The language of a page without a session.
#[derive(Debug)]
pub struct PageLang(pub Texts, pub Option<String>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for PageLang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let source = parts
            .extensions
            .get::<ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip().to_string());
        Ok(PageLang(Texts(lang_of(parts)), source))
    }
}

pub async fn form(PageLang(t, _): PageLang) -> Response {
    html(&SignInPage {
        t,
        login: String::new(),
        error: None,
    })
}

#[derive(Deserialize)]
pub struct SignIn {
    login: String,
    pin: Zeroizing<String>,
    code: Zeroizing<String>,
}

impl std::fmt::Debug for SignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignIn")
            .field("login", &self.login)
            .finish_non_exhaustive()
    }
}

/// The staff key a person signs in with: admin before desk before
/// inspector, never a revoked one.
fn staff_key(keys: Vec<ApiKeyRecord>, login: &str) -> Option<ApiKeyRecord> {
    let rank = |r: Role| match r {
        Role::Admin => 0,
        Role::Desk => 1,
        Role::Inspector => 2,
        Role::Station | Role::Gateway => 9,
    };
    keys.into_iter()
        .filter(|k| {
            k.revoked_at.is_none() && k.person.as_deref() == Some(login) && rank(k.role) < 9
        })
        .min_by_key(|k| rank(k.role))
}

/// Opens a session for `key` acting as `actor` and answers the redirect
/// that sets its cookie.
pub(super) async fn open(state: &ConsoleState, key: ApiKeyRecord, how: &'static str) -> Response {
    let Some(caller) = session::caller_of(key.clone()) else {
        return see_other("/signin");
    };
    let store = Arc::clone(state.app().store());
    let opened = tokio::task::spawn_blocking(move || {
        store.write(&caller.actor, "console.signin", |tx| {
            tx.open_console_session(key.id, how)
        })
    })
    .await;
    match opened {
        Ok(Ok(id)) => {
            let mut answer = see_other(if how == "station" { "/station" } else { "/" });
            if let Ok(v) = session::set_cookie(&id).parse() {
                answer.headers_mut().insert(header::SET_COOKIE, v);
            }
            answer
        }
        _ => see_other("/signin"),
    }
}

pub async fn sign_in(
    State(state): State<ConsoleState>,
    PageLang(t, source): PageLang,
    Form(form): Form<SignIn>,
) -> Response {
    let refused = |t: Texts, login: String, id: &str| {
        html(&SignInPage {
            t,
            login,
            error: Some(t.get(id)),
        })
    };
    let login = form.login.trim().to_owned();
    if login.is_empty() || login.len() > 64 || form.pin.is_empty() || form.code.is_empty() {
        return refused(t, login, "console-signin-refused");
    }
    let passcode = Zeroizing::new(format!("{}{}", form.pin.as_str(), form.code.as_str()));
    let source = format!("console {}", source.as_deref().unwrap_or("-"));
    let request = VerifyRequest::new(&login, &passcode)
        .from_source(&source)
        .for_staff_sign_in();
    match state.app().verify(request).await {
        Ok(VerifyOutcome::Accept { .. }) => {}
        Ok(VerifyOutcome::Reject { hold }) => {
            state.app().hold_reject(hold).await;
            return refused(t, login, "console-signin-refused");
        }
        Ok(VerifyOutcome::SourceLimited { .. }) => {
            return refused(t, login, "console-signin-limited");
        }
        Err(_) => return refused(t, login, "console-signin-refused"),
    }
    let store = Arc::clone(state.app().store());
    let keys = tokio::task::spawn_blocking(move || store.read(|tx| tx.api_keys())).await;
    let key = match keys {
        Ok(Ok(keys)) => staff_key(keys, &login),
        _ => None,
    };
    let Some(key) = key else {
        state
            .refuse(
                Actor::System,
                "console sign-in",
                "a key holder without a staff key",
            )
            .await;
        return refused(t, login, "console-signin-not-staff");
    };
    open(&state, key, "pin").await
}

pub async fn bootstrap_form(PageLang(t, _): PageLang, Path(token): Path<String>) -> Response {
    html(&BootstrapPage { t, token })
}

#[derive(Deserialize)]
pub struct Bootstrap {
    token: Zeroizing<String>,
}

pub async fn bootstrap(
    State(state): State<ConsoleState>,
    PageLang(t, _): PageLang,
    Form(form): Form<Bootstrap>,
) -> Response {
    let store = Arc::clone(state.app().store());
    let max_age = state.settings().bootstrap;
    let used = tokio::task::spawn_blocking(move || {
        store.write(&Actor::System, "console.bootstrap", |tx| {
            let Some(id) = tx.use_console_bootstrap(&form.token, max_age)? else {
                return Ok(None);
            };
            tx.api_key_by_id(id)
        })
    })
    .await;
    match used {
        Ok(Ok(Some(key))) if key.revoked_at.is_none() && key.role == Role::Admin => {
            open(&state, key, "bootstrap").await
        }
        _ => {
            state
                .refuse(
                    Actor::System,
                    "console sign-in",
                    "an unknown or used bootstrap link",
                )
                .await;
            super::view::message_page(
                &t,
                &t.get("console-bootstrap-title"),
                &t.get("console-bootstrap-refused"),
            )
        }
    }
}

#[derive(Deserialize)]
pub struct Csrf {
    #[serde(default)]
    csrf: String,
}

pub async fn sign_out(
    State(state): State<ConsoleState>,
    session: Session,
    Form(form): Form<Csrf>,
) -> Response {
    if let Err(refused) = session.guard(&state, &form.csrf).await {
        return refused;
    }
    let store = Arc::clone(state.app().store());
    let hash = *session.hash();
    let actor = session.caller.actor.clone();
    let _ = tokio::task::spawn_blocking(move || {
        store.write(&actor, "console.signout", |tx| {
            tx.end_console_session(&hash, "signout")
        })
    })
    .await;
    let to = if session.role() == Role::Station {
        "/station/signin"
    } else {
        "/signin"
    };
    let mut answer = see_other(to);
    if let Ok(v) = session::clear_cookie().parse() {
        answer.headers_mut().insert(header::SET_COOKIE, v);
    }
    answer.into_response()
}
