//! Delegations (cases 1 and 2): an inspector grants one in their district
//! with its dates, or ends one; the admin too. The API's operations decide
//! (`GrantDelegation`, `EndRight`: who may, in which district, which dates).

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
use crate::wire::people::SchoolEntry;
use crate::wire::rights::RightEnded;
use crate::wire::CreatedId;

#[derive(Template)]
#[template(path = "delegations.html")]
struct DelegationsPage {
    c: Chrome,
    schools: Vec<SchoolEntry>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Done {
    #[serde(default)]
    granted: Option<i64>,
    #[serde(default)]
    ended: Option<i64>,
}

pub async fn delegations(
    State(state): State<ConsoleState>,
    session: Session,
    Query(done): Query<Done>,
) -> Response {
    page(&state, &session, done, None).await
}

async fn page(
    state: &ConsoleState,
    session: &Session,
    done: Done,
    refusal: Option<Refusal>,
) -> Response {
    let mut c = Chrome::new(session, "console-delegations-title", "/delegations");
    if let Some(id) = done.granted {
        c.notice = Some(c.t.with("console-delegation-granted", "id", &id.to_string()));
    }
    if let Some(id) = done.ended {
        c.notice = Some(c.t.with("console-delegation-ended", "id", &id.to_string()));
    }
    let schools = match state
        .call::<Vec<SchoolEntry>>(
            Who::Session(&session.caller),
            Method::GET,
            "/v1/schools",
            None,
        )
        .await
    {
        Ok(s) => s,
        Err(r) => {
            c = c.refused(&r);
            vec![]
        }
    };
    if let Some(r) = refusal {
        c = c.refused(&r);
    }
    html(&DelegationsPage { c, schools })
}

#[derive(Deserialize)]
pub struct GrantForm {
    #[serde(default)]
    csrf: String,
    person: String,
    school: String,
    from: String,
    #[serde(default)]
    until: String,
}

pub async fn grant(
    State(state): State<ConsoleState>,
    session: Session,
    Form(form): Form<GrantForm>,
) -> Response {
    if let Err(refused) = session.guard(&state, &form.csrf).await {
        return refused;
    }
    let until = (!form.until.trim().is_empty()).then(|| form.until.trim().to_owned());
    let body = json!({
        "person": form.person.trim(),
        "school": form.school,
        "from": form.from.trim(),
        "until": until,
    });
    let who = Who::Session(&session.caller);
    match state
        .call::<CreatedId>(who, Method::POST, "/v1/rights/delegations", Some(body))
        .await
    {
        Ok(done) => see_other(&format!("/delegations?granted={}", done.id)),
        Err(r) => {
            let answer = page(&state, &session, Done::default(), Some(r.clone())).await;
            refused_with(&r, answer)
        }
    }
}

#[derive(Deserialize)]
pub struct EndForm {
    #[serde(default)]
    csrf: String,
    right: String,
}

pub async fn end(
    State(state): State<ConsoleState>,
    session: Session,
    Form(form): Form<EndForm>,
) -> Response {
    if let Err(refused) = session.guard(&state, &form.csrf).await {
        return refused;
    }
    let path = format!("/v1/rights/{}/end", encode(form.right.trim()));
    match state
        .call::<RightEnded>(Who::Session(&session.caller), Method::POST, &path, None)
        .await
    {
        Ok(done) => see_other(&format!("/delegations?ended={}", done.id)),
        Err(r) => {
            let answer = page(&state, &session, Done::default(), Some(r.clone())).await;
            refused_with(&r, answer)
        }
    }
}
