//! The admin's staff keys: the API keys that belong to a person (admin,
//! desk, inspector), listed through `GET /v1/apikeys`, granted through
//! `POST /v1/apikeys` and revoked through `DELETE /v1/apikeys/{id}`. A
//! granted key is never shown: its holder signs in to the console with
//! their own token, and the session acts with the key.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::Method;
use axum::response::Response;
use axum::Form;
use serde::Deserialize;
use serde_json::json;

use super::session::Session;
use super::tokens::encode;
use super::view::{html, refused_with, Chrome};
use super::{see_other, ConsoleState, Refusal, Who};
use crate::domain::Role;
use crate::wire::apikeys::{ApiKeyEntry, CreatedApiKey};

/// The roles a staff key may have.
/// The least power first: the form's default is a desk key.
const STAFF: [Role; 3] = [Role::Desk, Role::Inspector, Role::Admin];

/// A staff key as a row (its role and state in words).
#[derive(Clone, Debug)]
pub struct KeyLine {
    pub id: i64,
    pub name: String,
    pub person: String,
    pub role: String,
    pub district: String,
    pub created: String,
    pub revoked: Option<String>,
}

#[derive(Template)]
#[template(path = "staff_keys.html")]
struct StaffKeysPage {
    c: Chrome,
    keys: Vec<KeyLine>,
    /// (value, words) of the roles a staff key may have.
    roles: Vec<(String, String)>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Done {
    #[serde(default)]
    granted: Option<i64>,
    #[serde(default)]
    revoked: Option<i64>,
}

pub async fn staff_keys(
    State(state): State<ConsoleState>,
    session: Session,
    Query(done): Query<Done>,
) -> Response {
    render(&state, &session, done, None).await
}

async fn render(
    state: &ConsoleState,
    session: &Session,
    done: Done,
    refusal: Option<&Refusal>,
) -> Response {
    let mut c = Chrome::new(session, "console-staff-keys-title", "/admin/staff-keys");
    if let Some(id) = done.granted {
        c.notice = Some(c.t.with("console-staff-key-granted", "id", &id.to_string()));
    }
    if let Some(id) = done.revoked {
        c.notice = Some(c.t.with("console-staff-key-revoked", "id", &id.to_string()));
    }
    let zone = state.app().store().time_zone().clone();
    let entries = match state
        .call::<Vec<ApiKeyEntry>>(
            Who::Session(&session.caller),
            Method::GET,
            "/v1/apikeys",
            None,
        )
        .await
    {
        Ok(e) => e,
        Err(r) => {
            let page = html(&StaffKeysPage {
                c: c.refused(&r),
                keys: vec![],
                roles: vec![],
            });
            return refused_with(&r, page);
        }
    };
    if let Some(r) = refusal {
        c = c.refused(r);
    }
    let keys = entries
        .into_iter()
        .filter(|k| k.person.is_some() && STAFF.contains(&k.role))
        .map(|k| KeyLine {
            id: k.id,
            name: k.name,
            person: k.person.unwrap_or_default(),
            role: c.t.get(&format!("console-role-{}", k.role.as_str())),
            district: k.district.unwrap_or_default(),
            created: crate::i18n::date_time(c.t.0, k.created_at, &zone),
            revoked: k
                .revoked_at
                .map(|at| crate::i18n::date_time(c.t.0, at, &zone)),
        })
        .collect();
    let roles = STAFF
        .iter()
        .map(|r| {
            (
                r.as_str().to_owned(),
                c.t.get(&format!("console-role-{}", r.as_str())),
            )
        })
        .collect();
    html(&StaffKeysPage { c, keys, roles })
}

#[derive(Deserialize)]
pub struct GrantForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    person: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    district: String,
}

/// `POST /admin/staff-keys`: `POST /v1/apikeys` with the person; the key
/// the API answers is dropped, never shown.
pub async fn grant(
    State(state): State<ConsoleState>,
    session: Session,
    Form(form): Form<GrantForm>,
) -> Response {
    if let Err(refused) = session.guard(&state, &form.csrf).await {
        return refused;
    }
    let person = form.person.trim();
    let role = form.role.trim();
    let district = form.district.trim();
    let body = json!({
        "name": format!("{person}-{role}"),
        "role": role,
        "person": person,
        "district": (!district.is_empty()).then_some(district),
    });
    match state
        .call::<CreatedApiKey>(
            Who::Session(&session.caller),
            Method::POST,
            "/v1/apikeys",
            Some(body),
        )
        .await
    {
        Ok(done) => see_other(&format!("/admin/staff-keys?granted={}", done.id)),
        Err(r) => {
            let answer = render(&state, &session, Done::default(), Some(&r)).await;
            refused_with(&r, answer)
        }
    }
}

#[derive(Deserialize)]
pub struct RevokeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    key: String,
}

/// `POST /admin/staff-keys/revoke`: `DELETE /v1/apikeys/{id}`.
pub async fn revoke(
    State(state): State<ConsoleState>,
    session: Session,
    Form(form): Form<RevokeForm>,
) -> Response {
    if let Err(refused) = session.guard(&state, &form.csrf).await {
        return refused;
    }
    let key = form.key.trim().to_owned();
    let path = format!("/v1/apikeys/{}", encode(&key));
    match state
        .call::<()>(Who::Session(&session.caller), Method::DELETE, &path, None)
        .await
    {
        Ok(()) => see_other(&format!("/admin/staff-keys?revoked={}", encode(&key))),
        Err(r) => {
            let answer = render(&state, &session, Done::default(), Some(&r)).await;
            refused_with(&r, answer)
        }
    }
}
