//! A person's departure: a page that says what recording it does before
//! anyone does it, and the act itself, the API's `POST
//! /v1/people/{id}/leave` run as the session (its role check, separation of
//! duties, store write and `person.leave` audit entry). The page is for the
//! roles that operation allows ([`Operation::PersonLeaves`]); others are
//! refused (403) and the refusal audited.
//!
//! What the operation does is `Tx::mark_left` and the checks that read it:
//! the person's staff API keys are refused from then on (the API's bearer
//! authentication, the console's sessions), no staff key may be granted to
//! them, their rights in force or to come end at once, and nothing new (a
//! key, a right, a request, a code) is given to them any more. Their OTP
//! key is not taken back by the departure: the page names it as what
//! stays, to be taken back like any key.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::Method;
use axum::response::Response;
use axum::Form;
use serde::Deserialize;

use super::people::RightLine;
use super::session::{forbidden, Session};
use super::tokens::encode;
use super::view::{html, refused_with, Chrome, Texts};
use super::{see_other, ConsoleState, Refusal, Who};
use crate::api::Operation;
use crate::wire::apikeys::ApiKeyEntry;
use crate::wire::people::{PersonDetail, PersonLeft};
use crate::wire::ErrorCode;

/// A staff key the departure stops, as a row.
#[derive(Clone, Debug)]
pub struct StoppedKey {
    pub id: i64,
    pub name: String,
    pub role: String,
}

#[derive(Template)]
#[template(path = "departure.html")]
struct DeparturePage {
    c: Chrome,
    id: String,
    person: Option<PersonDetail>,
    /// Their active staff API keys: refused from the departure on.
    keys: Vec<StoppedKey>,
    /// Their rights in force: ended by the departure.
    rights: Vec<RightLine>,
    /// What happens to their live OTP key (nothing), in words.
    token_line: String,
}

impl DeparturePage {
    /// The page with nothing but its error: the person could not be read.
    fn refused(c: Chrome, id: String) -> DeparturePage {
        DeparturePage {
            c,
            id,
            person: None,
            keys: vec![],
            rights: vec![],
            token_line: String::new(),
        }
    }
}

/// Refuses (403, audited as the API audits a role refusal) a session whose
/// role may not record a departure.
async fn admin_only(state: &ConsoleState, session: &Session) -> Result<(), Response> {
    let op = Operation::PersonLeaves;
    if op.allows(session.role()) {
        return Ok(());
    }
    state
        .refuse(session.caller.actor.clone(), op.name(), "role")
        .await;
    Err(forbidden(session.lang))
}

/// `GET /people/{id}/departure`: what the departure does, and its form.
pub async fn departure(
    State(state): State<ConsoleState>,
    session: Session,
    Path(id): Path<String>,
) -> Response {
    if let Err(refused) = admin_only(&state, &session).await {
        return refused;
    }
    render(&state, &session, id, None).await
}

async fn render(
    state: &ConsoleState,
    session: &Session,
    id: String,
    refusal: Option<&Refusal>,
) -> Response {
    let who = Who::Session(&session.caller);
    let mut c = Chrome::new(session, "console-departure-title", "/people");
    let path = format!("/v1/people/{}", encode(&id));
    let person = match state
        .call::<PersonDetail>(who, Method::GET, &path, None)
        .await
    {
        Ok(person) => person,
        Err(r) => {
            let shown = refusal.unwrap_or(&r);
            c.error = Some(words(&c.t, shown, false));
            let page = html(&DeparturePage::refused(c, id));
            return refused_with(shown, page);
        }
    };
    if let Some(r) = refusal {
        c.error = Some(words(&c.t, r, person.left));
    }
    let keys = match state
        .call::<Vec<ApiKeyEntry>>(who, Method::GET, "/v1/apikeys", None)
        .await
    {
        Ok(keys) => keys
            .into_iter()
            .filter(|k| k.revoked_at.is_none() && k.person.as_deref() == Some(&person.id))
            .map(|k| StoppedKey {
                id: k.id,
                name: k.name,
                role: c.t.get(&format!("console-role-{}", k.role.as_str())),
            })
            .collect(),
        Err(r) => {
            c = c.refused(&r);
            vec![]
        }
    };
    let rights = person
        .rights
        .iter()
        .filter(|r| r.in_force)
        .map(|r| RightLine::of(&c.t, r))
        .collect();
    let token_line = match &person.token {
        Some(k) => crate::i18n::text(
            c.t.0,
            "console-departure-keeps-token",
            &[
                ("serial", k.serial.clone().into()),
                ("state", c.t.state(k.state.as_str()).into()),
            ],
        ),
        None => c.t.get("console-departure-no-token"),
    };
    html(&DeparturePage {
        c,
        id,
        person: Some(person),
        keys,
        rights,
        token_line,
    })
}

/// A refusal of the departure in the page's words: the API's code, and
/// whether the person had already left, say which rule refused.
fn words(t: &Texts, refusal: &Refusal, already_left: bool) -> String {
    match refusal.code {
        Some(ErrorCode::OwnAct) => t.get("console-departure-own"),
        Some(ErrorCode::NotFound) => t.get("console-departure-unknown"),
        // The store refuses a second departure as a transition it does not
        // make (409); a role refusal is a 403.
        Some(ErrorCode::Forbidden | ErrorCode::Conflict) if already_left => {
            t.get("console-departure-already")
        }
        Some(ErrorCode::Forbidden) => t.get("console-departure-role"),
        _ => t.with("console-refusal", "why", &refusal.message),
    }
}

#[derive(Deserialize)]
pub struct LeaveForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /people/{id}/leave`: `POST /v1/people/{id}/leave` as the session;
/// its refusal shown on the departure page, with the API's status.
pub async fn leave(
    State(state): State<ConsoleState>,
    session: Session,
    Path(id): Path<String>,
    Form(form): Form<LeaveForm>,
) -> Response {
    if let Err(refused) = session.guard(&state, &form.csrf).await {
        return refused;
    }
    let path = format!("/v1/people/{}/leave", encode(&id));
    match state
        .call::<PersonLeft>(Who::Session(&session.caller), Method::POST, &path, None)
        .await
    {
        Ok(done) => see_other(&format!("/people/{}?left=yes", encode(&done.id))),
        Err(r) if !Operation::PersonLeaves.allows(session.role()) => {
            // The API refused the role (and audited it): nothing more to
            // read for a page this role may not see.
            let mut c = Chrome::new(&session, "console-departure-title", "/people");
            c.error = Some(words(&c.t, &r, false));
            let page = html(&DeparturePage::refused(c, id));
            refused_with(&r, page)
        }
        Err(r) => {
            let page = render(&state, &session, id, Some(&r)).await;
            refused_with(&r, page)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;
    use axum::http::StatusCode;

    fn refusal(code: ErrorCode) -> Refusal {
        Refusal {
            status: StatusCode::FORBIDDEN,
            code: Some(code),
            detail: None,
            message: "server words".into(),
        }
    }

    #[test]
    fn each_refusal_of_the_departure_has_its_own_words() {
        let t = Texts(Lang::En);
        let said: Vec<String> = [
            words(&t, &refusal(ErrorCode::OwnAct), false),
            words(&t, &refusal(ErrorCode::NotFound), false),
            words(&t, &refusal(ErrorCode::Forbidden), true),
            words(&t, &refusal(ErrorCode::Forbidden), false),
        ]
        .into();
        for (i, a) in said.iter().enumerate() {
            assert!(!a.is_empty() && !a.contains("server words"), "{a}");
            for b in &said[i + 1..] {
                assert_ne!(a, b);
            }
        }
        let other = words(&t, &refusal(ErrorCode::Internal), false);
        assert!(other.contains("server words"), "{other}");
    }
}
