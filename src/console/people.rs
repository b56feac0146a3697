//! People: the list the caller may see (an inspector: their district's),
//! searched by name or login, as the API's `GET /v1/people` answers it.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::Method;
use axum::response::Response;
use serde::Deserialize;

use super::session::Session;
use super::view::{html, Chrome};
use super::{ConsoleState, Who};
use crate::wire::people::PersonEntry;

/// At most this many people are listed on one page.
const PAGE: usize = 200;

#[derive(Template)]
#[template(path = "people.html")]
struct PeoplePage {
    c: Chrome,
    q: String,
    people: Vec<PersonEntry>,
    more: bool,
}

#[derive(Debug, Default, Deserialize)]
pub struct PeopleQuery {
    #[serde(default)]
    q: String,
}

pub async fn people(
    State(state): State<ConsoleState>,
    session: Session,
    Query(query): Query<PeopleQuery>,
) -> Response {
    let mut c = Chrome::new(&session, "console-people-title", "/people");
    let q = query.q.trim().to_lowercase();
    let mut people = match state
        .call::<Vec<PersonEntry>>(
            Who::Session(&session.caller),
            Method::GET,
            "/v1/people",
            None,
        )
        .await
    {
        Ok(list) => list
            .into_iter()
            .filter(|p| {
                q.is_empty()
                    || p.id.to_lowercase().contains(&q)
                    || p.full_name.to_lowercase().contains(&q)
            })
            .collect(),
        Err(r) => {
            c = c.refused(&r);
            vec![]
        }
    };
    let more = people.len() > PAGE;
    people.truncate(PAGE);
    html(&PeoplePage {
        c,
        q: query.q,
        people,
        more,
    })
}
