//! The admin's districts and schools: listed through `GET /v1/districts`
//! and `GET /v1/schools`, added through `POST /v1/districts` and
//! `POST /v1/schools` (the API's roles, checks, audit and refusals).

use askama::Template;
use axum::extract::{Query, State};
use axum::http::Method;
use axum::response::Response;
use axum::Form;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::json;

use super::session::Session;
use super::view::{html, refused_with, Chrome};
use super::{see_other, ConsoleState, Refusal, Who};
use crate::wire::people::{CreatedDistrict, CreatedSchool, DistrictEntry, SchoolEntry};

#[derive(Template)]
#[template(path = "schools.html")]
struct SchoolsPage {
    c: Chrome,
    districts: Vec<DistrictEntry>,
    schools: Vec<SchoolEntry>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Done {
    #[serde(default)]
    district: Option<String>,
    #[serde(default)]
    school: Option<String>,
}

pub async fn schools(
    State(state): State<ConsoleState>,
    session: Session,
    Query(done): Query<Done>,
) -> Response {
    render(&state, &session, done, None).await
}

async fn list<T: DeserializeOwned>(
    state: &ConsoleState,
    session: &Session,
    path: &str,
    c: &mut Option<Refusal>,
) -> Vec<T> {
    match state
        .call::<Vec<T>>(Who::Session(&session.caller), Method::GET, path, None)
        .await
    {
        Ok(items) => items,
        Err(r) => {
            *c = Some(r);
            vec![]
        }
    }
}

async fn render(
    state: &ConsoleState,
    session: &Session,
    done: Done,
    refusal: Option<&Refusal>,
) -> Response {
    let mut c = Chrome::new(session, "console-schools-title", "/admin/schools");
    if let Some(code) = &done.district {
        c.notice = Some(c.t.with("console-district-added", "code", code));
    }
    if let Some(uai) = &done.school {
        c.notice = Some(c.t.with("console-school-added", "uai", uai));
    }
    let mut read_refusal = None;
    let districts = list::<DistrictEntry>(state, session, "/v1/districts", &mut read_refusal).await;
    let schools = list::<SchoolEntry>(state, session, "/v1/schools", &mut read_refusal).await;
    if let Some(r) = read_refusal.as_ref().or(refusal) {
        c = c.refused(r);
    }
    html(&SchoolsPage {
        c,
        districts,
        schools,
    })
}

#[derive(Deserialize)]
pub struct DistrictForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    inspector: String,
}

/// `POST /admin/districts`: `POST /v1/districts`.
pub async fn add_district(
    State(state): State<ConsoleState>,
    session: Session,
    Form(form): Form<DistrictForm>,
) -> Response {
    if let Err(refused) = session.guard(&state, &form.csrf).await {
        return refused;
    }
    let body = json!({
        "code": form.code.trim(),
        "name": form.name.trim(),
        "inspector": form.inspector.trim(),
    });
    match state
        .call::<CreatedDistrict>(
            Who::Session(&session.caller),
            Method::POST,
            "/v1/districts",
            Some(body),
        )
        .await
    {
        Ok(done) => see_other(&format!(
            "/admin/schools?district={}",
            super::tokens::encode(&done.code)
        )),
        Err(r) => {
            let answer = render(&state, &session, Done::default(), Some(&r)).await;
            refused_with(&r, answer)
        }
    }
}

#[derive(Deserialize)]
pub struct SchoolForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    uai: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    district: String,
}

/// `POST /admin/schools`: `POST /v1/schools`.
pub async fn add_school(
    State(state): State<ConsoleState>,
    session: Session,
    Form(form): Form<SchoolForm>,
) -> Response {
    if let Err(refused) = session.guard(&state, &form.csrf).await {
        return refused;
    }
    let body = json!({
        "uai": form.uai.trim(),
        "name": form.name.trim(),
        "district": form.district.trim(),
    });
    match state
        .call::<CreatedSchool>(
            Who::Session(&session.caller),
            Method::POST,
            "/v1/schools",
            Some(body),
        )
        .await
    {
        Ok(done) => see_other(&format!(
            "/admin/schools?school={}",
            super::tokens::encode(&done.uai)
        )),
        Err(r) => {
            let answer = render(&state, &session, Done::default(), Some(&r)).await;
            refused_with(&r, answer)
        }
    }
}
