//! People: the list the caller may see (an inspector: their district's),
//! searched by name or login, as the API's `GET /v1/people` answers it;
//! adding a person through the API's `POST /v1/people` (its roles, checks,
//! audit and refusals); one person's page as `GET /v1/people/{id}` answers
//! it (whether they left, their rights, their live key), with the way to
//! their departure ([`super::departure`]) for the roles that may record it.

use askama::Template;
use axum::extract::{Path, Query, State};
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
use crate::wire::people::{CreatedPerson, PersonDetail, PersonEntry};
use crate::wire::rights::Right;

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

/// A right as a row of a person's page, in words.
#[derive(Clone, Debug)]
pub struct RightLine {
    pub id: i64,
    pub school: String,
    pub origin: String,
    pub from: String,
    pub until: String,
    /// "in force" or "not in force", in words (never by colour alone).
    pub status: String,
}

impl RightLine {
    pub fn of(t: &super::view::Texts, r: &Right) -> RightLine {
        let status = if r.in_force {
            "console-appointment-in-force"
        } else {
            "console-appointment-not-in-force"
        };
        RightLine {
            id: r.id,
            school: r.school.clone(),
            origin: t.get(&format!("origin-{}", r.origin.as_str())),
            from: r.from.clone(),
            until: r.until.clone().unwrap_or_default(),
            status: t.get(status),
        }
    }
}

#[derive(Template)]
#[template(path = "person.html")]
struct PersonPage {
    c: Chrome,
    person: Option<PersonDetail>,
    rights: Vec<RightLine>,
    /// The live key's state, in words.
    token_state: String,
    /// The link to the departure page, for the roles that may record it.
    may_record_departure: bool,
    may_see_appointments: bool,
}

#[derive(Debug, Default, Deserialize)]
pub struct PersonNotice {
    /// Set after the departure was recorded.
    #[serde(default)]
    left: Option<String>,
}

/// `GET /people/{id}`: one person as `GET /v1/people/{id}` answers it (the
/// API's roles and an inspector's district apply).
pub async fn person(
    State(state): State<ConsoleState>,
    session: Session,
    Path(id): Path<String>,
    Query(notice): Query<PersonNotice>,
) -> Response {
    let mut c = Chrome::new(&session, "console-person-title", "/people");
    if notice.left.is_some() {
        c.notice = Some(c.t.with("console-departure-recorded", "id", &id));
    }
    let path = format!("/v1/people/{}", encode(&id));
    let answer = state
        .call::<PersonDetail>(Who::Session(&session.caller), Method::GET, &path, None)
        .await;
    let role = session.role();
    let may_see_appointments = Operation::GrantAppointment.allows(role);
    match answer {
        Ok(person) => {
            let rights = person
                .rights
                .iter()
                .map(|r| RightLine::of(&c.t, r))
                .collect();
            let token_state = person
                .token
                .as_ref()
                .map(|k| c.t.state(k.state.as_str()))
                .unwrap_or_default();
            html(&PersonPage {
                may_record_departure: Operation::PersonLeaves.allows(role) && !person.left,
                may_see_appointments,
                c,
                person: Some(person),
                rights,
                token_state,
            })
        }
        Err(r) => {
            let page = html(&PersonPage {
                c: c.refused(&r),
                person: None,
                rights: vec![],
                token_state: String::new(),
                may_record_departure: false,
                may_see_appointments,
            });
            refused_with(&r, page)
        }
    }
}
