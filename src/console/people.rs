//! People: the list the caller may see (an inspector: their district's),
//! searched by name or login, as the API's `GET /v1/people` answers it; and
//! adding a person through the API's `POST /v1/people` (its roles, checks,
//! audit and refusals).

use askama::Template;
use axum::extract::{Query, State};
use axum::http::Method;
use axum::response::Response;
use axum::Form;
use serde::Deserialize;
use serde_json::json;

use super::paging::{offset, Pager};
use super::session::Session;
use super::tokens::encode;
use super::view::{html, refused_with, Chrome};
use super::{see_other, ConsoleState, Refusal, Who};
use crate::api::Operation;
use crate::wire::people::{CreatedPerson, PersonEntry};

/// People listed on one page.
const PAGE: u64 = 50;

#[derive(Template)]
#[template(path = "people.html")]
struct PeoplePage {
    c: Chrome,
    q: String,
    people: Vec<PersonEntry>,
    pager: Pager,
    /// The add form, shown to the roles the API lets add a person.
    may_add: bool,
}

#[derive(Debug, Default, Deserialize)]
pub struct PeopleQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    page: u64,
    #[serde(default)]
    added: Option<String>,
}

pub async fn people(
    State(state): State<ConsoleState>,
    session: Session,
    Query(query): Query<PeopleQuery>,
) -> Response {
    render(&state, &session, query, None).await
}

async fn render(
    state: &ConsoleState,
    session: &Session,
    query: PeopleQuery,
    refusal: Option<&Refusal>,
) -> Response {
    let mut c = Chrome::new(session, "console-people-title", "/people");
    if let Some(id) = &query.added {
        c.notice = Some(c.t.with("console-person-added", "id", id));
    }
    let path = format!(
        "/v1/people?q={}&limit={PAGE}&offset={}",
        encode(query.q.trim()),
        offset(query.page, PAGE)
    );
    let (people, total) = match state
        .page::<Vec<PersonEntry>>(Who::Session(&session.caller), &path)
        .await
    {
        Ok(page) => page,
        Err(r) => {
            c = c.refused(&r);
            (vec![], 0)
        }
    };
    if let Some(r) = refusal {
        c = c.refused(r);
    }
    let pager = Pager::new(
        &c.t,
        "/people",
        &[("q", &query.q)],
        query.page,
        PAGE,
        people.len(),
        total,
    );
    html(&PeoplePage {
        c,
        q: query.q,
        people,
        pager,
        may_add: Operation::AddPerson.allows(session.role()),
    })
}

#[derive(Deserialize)]
pub struct AddForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    id: String,
    #[serde(default)]
    full_name: String,
    #[serde(default)]
    mail: String,
}

/// `POST /people`: adds a person through `POST /v1/people`.
pub async fn add(
    State(state): State<ConsoleState>,
    session: Session,
    Form(form): Form<AddForm>,
) -> Response {
    if let Err(refused) = session.guard(&state, &form.csrf).await {
        return refused;
    }
    let body = json!({
        "id": form.id.trim(),
        "full_name": form.full_name.trim(),
        "mail": form.mail.trim(),
    });
    match state
        .call::<CreatedPerson>(
            Who::Session(&session.caller),
            Method::POST,
            "/v1/people",
            Some(body),
        )
        .await
    {
        Ok(done) => see_other(&format!(
            "/people?q={}&added={}",
            encode(&done.id),
            encode(&done.id)
        )),
        Err(r) => {
            let answer = render(&state, &session, PeopleQuery::default(), Some(&r)).await;
            refused_with(&r, answer)
        }
    }
}
