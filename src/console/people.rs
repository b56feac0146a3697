//! People: the list the caller may see (an inspector: their district's),
//! searched by name or login, as the API's `GET /v1/people` answers it.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;

use super::paging::{offset, Pager};
use super::session::Session;
use super::tokens::encode;
use super::view::{html, Chrome};
use super::{ConsoleState, Who};
use crate::wire::people::PersonEntry;

/// People listed on one page.
const PAGE: u64 = 50;

#[derive(Template)]
#[template(path = "people.html")]
struct PeoplePage {
    c: Chrome,
    q: String,
    people: Vec<PersonEntry>,
    pager: Pager,
}

#[derive(Debug, Default, Deserialize)]
pub struct PeopleQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    page: u64,
}

pub async fn people(
    State(state): State<ConsoleState>,
    session: Session,
    Query(query): Query<PeopleQuery>,
) -> Response {
    let mut c = Chrome::new(&session, "console-people-title", "/people");
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
    })
}
