//! The admin's appointments: one person's appointments (school, start, end,
//! reason) read through `GET /v1/people/{id}/rights`; recording one
//! through `POST /v1/rights/appointments` and ending one through
//! `POST /v1/rights/{id}/end`. The API decides who may and what is valid.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::Method;
use axum::response::Response;
use axum::Form;
use serde::Deserialize;
use serde_json::json;

use super::session::Session;
use super::tokens::encode;
use super::view::{html, refused_with, Chrome, Texts};
use super::{see_other, ConsoleState, Refusal, Who};
use crate::domain::{EndReason, RightOrigin};
use crate::wire::people::SchoolEntry;
use crate::wire::rights::{Right, RightEnded};
use crate::wire::CreatedId;

/// An appointment as a row.
#[derive(Clone, Debug)]
pub struct AppointmentLine {
    pub id: i64,
    pub school: String,
    pub from: String,
    pub until: String,
    /// "in force" or "ended", in words (never by colour alone).
    pub status: String,
    pub ended_at: String,
    pub reason: String,
}

#[derive(Template)]
#[template(path = "appointments.html")]
struct AppointmentsPage {
    c: Chrome,
    person: String,
    lines: Vec<AppointmentLine>,
    schools: Vec<SchoolEntry>,
    /// The reasons an admin may give: (value, words).
    reasons: Vec<(String, String)>,
}

#[derive(Debug, Default, Deserialize)]
pub struct AppointmentsQuery {
    #[serde(default)]
    person: String,
    #[serde(default)]
    granted: Option<i64>,
    #[serde(default)]
    ended: Option<i64>,
}

fn reasons(t: &Texts) -> Vec<(String, String)> {
    EndReason::ALL
        .into_iter()
        .filter(|r| *r != EndReason::Directory)
        .map(|r| {
            let words = t.get(&format!("end-reason-{}", r.as_str()));
            (r.as_str().to_owned(), words)
        })
        .collect()
}

fn line(t: &Texts, r: Right) -> AppointmentLine {
    let status = if r.in_force {
        "console-appointment-in-force"
    } else {
        "console-appointment-not-in-force"
    };
    AppointmentLine {
        id: r.id,
        school: r.school,
        from: r.from,
        until: r.until.unwrap_or_default(),
        status: t.get(status),
        ended_at: r.ended_at.unwrap_or_default(),
        reason: r
            .end_reason
            .map(|e| crate::i18n::text_or(t.0, &format!("end-reason-{e}"), &e))
            .unwrap_or_default(),
    }
}

pub async fn appointments(
    State(state): State<ConsoleState>,
    session: Session,
    Query(query): Query<AppointmentsQuery>,
) -> Response {
    render(&state, &session, query, None).await
}

async fn render(
    state: &ConsoleState,
    session: &Session,
    query: AppointmentsQuery,
    refusal: Option<&Refusal>,
) -> Response {
    let mut c = Chrome::new(session, "console-appointments-title", "/admin/appointments");
    if let Some(id) = query.granted {
        c.notice = Some(c.t.with("console-appointment-granted", "id", &id.to_string()));
    }
    if let Some(id) = query.ended {
        c.notice = Some(c.t.with("console-appointment-ended", "id", &id.to_string()));
    }
    let who = Who::Session(&session.caller);
    let person = query.person.trim().to_owned();
    let mut lines = vec![];
    if !person.is_empty() {
        let path = format!("/v1/people/{}/rights", encode(&person));
        match state
            .call::<Vec<Right>>(who, Method::GET, &path, None)
            .await
        {
            Ok(rights) => {
                lines = rights
                    .into_iter()
                    .filter(|r| r.origin == RightOrigin::Appointment)
                    .map(|r| line(&c.t, r))
                    .collect();
            }
            Err(r) => c = c.refused(&r),
        }
    }
    let schools = match state
        .call::<Vec<SchoolEntry>>(who, Method::GET, "/v1/schools", None)
        .await
    {
        Ok(s) => s,
        Err(r) => {
            c = c.refused(&r);
            vec![]
        }
    };
    if let Some(r) = refusal {
        c = c.refused(r);
    }
    let reasons = reasons(&c.t);
    html(&AppointmentsPage {
        c,
        person,
        lines,
        schools,
        reasons,
    })
}

/// Empty text is "not given".
fn given(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

#[derive(Deserialize)]
pub struct GrantForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    person: String,
    #[serde(default)]
    school: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    until: String,
    /// The reason the person's appointment in force ends, if it does.
    #[serde(default)]
    ends_previous: String,
}

/// `POST /admin/appointments`: `POST /v1/rights/appointments`.
pub async fn grant(
    State(state): State<ConsoleState>,
    session: Session,
    Form(form): Form<GrantForm>,
) -> Response {
    if let Err(refused) = session.guard(&state, &form.csrf).await {
        return refused;
    }
    let person = form.person.trim().to_owned();
    let body = json!({
        "person": person,
        "school": form.school.trim(),
        "from": form.from.trim(),
        "until": given(&form.until),
        "ends_previous": given(&form.ends_previous),
    });
    let who = Who::Session(&session.caller);
    match state
        .call::<CreatedId>(who, Method::POST, "/v1/rights/appointments", Some(body))
        .await
    {
        Ok(done) => see_other(&format!(
            "/admin/appointments?person={}&granted={}",
            encode(&person),
            done.id
        )),
        Err(r) => {
            let query = AppointmentsQuery {
                person,
                ..AppointmentsQuery::default()
            };
            let answer = render(&state, &session, query, Some(&r)).await;
            refused_with(&r, answer)
        }
    }
}

#[derive(Deserialize)]
pub struct EndForm {
    #[serde(default)]
    csrf: String,
    /// The person whose page to come back to.
    #[serde(default)]
    person: String,
    #[serde(default)]
    right: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    on: String,
}

/// `POST /admin/appointments/end`: `POST /v1/rights/{id}/end`.
pub async fn end(
    State(state): State<ConsoleState>,
    session: Session,
    Form(form): Form<EndForm>,
) -> Response {
    if let Err(refused) = session.guard(&state, &form.csrf).await {
        return refused;
    }
    let person = form.person.trim().to_owned();
    let path = format!("/v1/rights/{}/end", encode(form.right.trim()));
    let body = json!({ "reason": given(&form.reason), "on": given(&form.on) });
    match state
        .call::<RightEnded>(
            Who::Session(&session.caller),
            Method::POST,
            &path,
            Some(body),
        )
        .await
    {
        Ok(done) => see_other(&format!(
            "/admin/appointments?person={}&ended={}",
            encode(&person),
            done.id
        )),
        Err(r) => {
            let query = AppointmentsQuery {
                person,
                ..AppointmentsQuery::default()
            };
            let answer = render(&state, &session, query, Some(&r)).await;
            refused_with(&r, answer)
        }
    }
}
