//! The desk's pages of batch preparation ([`super::batch`]): choose the
//! holders (the open key requests, people found by name, login or school)
//! and a reader, start; follow each holder's line on a page that works
//! without script (reload it) and, with `/console.js`, updates itself from
//! `/desk/batches/{id}/events` (server-sent events under the session);
//! cancel. Every page is the desk's (the roles of the API's prepare
//! operation: desk and admin; others are refused 403 and audited); every
//! state change is behind the session's CSRF token.

use std::convert::Infallible;
use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Form;
use serde::Deserialize;

use super::batch::{self, Batch, Line, Progress, StartError, Step};
use super::holder_search::{Found, HolderSearch};
use super::session::{forbidden, Session};
use super::view::{html, Chrome, Texts};
use super::{see_other, ConsoleState, Who};
use crate::api::Operation;
use crate::wire::devices::DeviceEntry;
use crate::wire::requests::KeyRequestEntry;

/// Refuses (403, audited as the API audits a role refusal) a session
/// whose role may not prepare keys.
async fn desk_only(state: &ConsoleState, session: &Session) -> Result<(), Response> {
    let op = Operation::PrepareToken;
    if op.allows(session.role()) {
        return Ok(());
    }
    state
        .refuse(session.caller.actor.clone(), op.name(), "role")
        .await;
    Err(forbidden(session.lang))
}

#[derive(Template)]
#[template(path = "batch.html")]
struct StartPage {
    c: Chrome,
    readers: Vec<String>,
    requests: Vec<KeyRequestEntry>,
    search: HolderSearch,
    found: Found,
    batches: Vec<Progress>,
}

/// `GET /desk/batch`: choose the holders and the reader; the batches kept.
pub async fn start_page(
    State(state): State<ConsoleState>,
    session: Session,
    Query(search): Query<HolderSearch>,
) -> Response {
    if let Err(refused) = desk_only(&state, &session).await {
        return refused;
    }
    render_start(&state, &session, search, None).await
}

async fn render_start(
    state: &ConsoleState,
    session: &Session,
    search: HolderSearch,
    error: Option<String>,
) -> Response {
    let who = Who::Session(&session.caller);
    let mut c = Chrome::new(session, "console-batch-title", "/desk/batch");
    let readers = match state
        .call::<Vec<DeviceEntry>>(who, Method::GET, "/v1/devices", None)
        .await
    {
        Ok(devices) => devices.into_iter().map(|d| d.reader).collect(),
        Err(r) => {
            c = c.refused(&r);
            vec![]
        }
    };
    let requests = state
        .call::<Vec<KeyRequestEntry>>(who, Method::GET, "/v1/key-requests", None)
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.status == "open")
        .collect();
    let found = match search.run(state, session, &c.t, "/desk/batch").await {
        Ok(found) => found,
        Err(r) => {
            c = c.refused(&r);
            Found::default()
        }
    };
    if error.is_some() {
        c.error = error;
    }
    html(&StartPage {
        c,
        readers,
        requests,
        search,
        found,
        batches: state.app().console_batches().list(),
    })
}

/// `POST /desk/batch`: `csrf`, `reader`, `holder` (repeated, in order).
pub async fn start(
    State(state): State<ConsoleState>,
    session: Session,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let field = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    };
    if let Err(refused) = session.guard(&state, field("csrf")).await {
        return refused;
    }
    if let Err(refused) = desk_only(&state, &session).await {
        return refused;
    }
    let holders = pairs
        .iter()
        .filter(|(k, _)| k == "holder")
        .map(|(_, v)| v.trim().to_owned())
        .collect();
    let t = session.texts();
    let reader = field("reader").to_owned();
    let known = state
        .call::<Vec<DeviceEntry>>(
            Who::Session(&session.caller),
            Method::GET,
            "/v1/devices",
            None,
        )
        .await
        .unwrap_or_default()
        .iter()
        .any(|d| d.reader == reader);
    let (status, error) = if !known {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            t.get("console-batch-no-reader"),
        )
    } else {
        match batch::start(&state, &session.caller, &reader, holders).await {
            Ok(id) => return see_other(&format!("/desk/batches/{id}")),
            Err(StartError::Nobody) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                t.get("console-batch-nobody"),
            ),
            Err(StartError::Audit) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                t.get("console-batch-not-audited"),
            ),
            Err(StartError::Busy(id)) => (
                StatusCode::CONFLICT,
                t.with("console-batch-busy", "id", &id.to_string()),
            ),
        }
    };
    let mut page = render_start(&state, &session, HolderSearch::default(), Some(error)).await;
    *page.status_mut() = status;
    page
}

/// A holder's line as a page shows it.
pub struct LineView {
    pub holder: String,
    pub step: &'static str,
    pub said: String,
}

fn line_view(t: &Texts, line: &Line) -> LineView {
    let said = match &line.step {
        Step::Preparing(serial) => t.with("console-batch-step-preparing", "serial", serial),
        Step::Prepared(serial) => t.with("console-batch-step-prepared", "serial", serial),
        Step::Refused(r) => {
            let meaning = match (r.detail, r.code) {
                (Some(detail), _) => crate::i18n::text_or(
                    t.0,
                    &format!("detail-{}", detail.as_str()),
                    detail.as_str(),
                ),
                (None, Some(code)) => {
                    crate::i18n::text_or(t.0, &format!("error-{}", code.as_str()), code.as_str())
                }
                (None, None) => r.message.clone(),
            };
            t.with("console-batch-step-refused", "why", &meaning)
        }
        step => t.get(&format!("console-batch-step-{}", step.name())),
    };
    LineView {
        holder: line.holder.clone(),
        step: line.step.name(),
        said,
    }
}

#[derive(Template)]
#[template(path = "batch_lines.html")]
struct LinesFragment {
    c: Chrome,
    p: Progress,
    lines: Vec<LineView>,
    prepared: usize,
    refused: usize,
}

#[derive(Template)]
#[template(path = "batch_progress.html")]
struct ProgressPage {
    c: Chrome,
    p: Progress,
    lines: Vec<LineView>,
    prepared: usize,
    refused: usize,
}

fn counts(p: &Progress) -> (usize, usize) {
    let count = |name| p.lines.iter().filter(|l| l.step.name() == name).count();
    (count("prepared"), count("refused"))
}

async fn found(state: &ConsoleState, session: &Session, id: u64) -> Result<Arc<Batch>, Response> {
    desk_only(state, session).await?;
    state.app().console_batches().get(id).ok_or_else(|| {
        let t = session.texts();
        (
            StatusCode::NOT_FOUND,
            super::view::message_page(
                &t,
                &t.get("console-batch-title"),
                &t.get("console-batch-unknown"),
            ),
        )
            .into_response()
    })
}

/// Batch `id`'s lines and counts, as its page and the page's live fragment
/// show them.
async fn view(
    state: &ConsoleState,
    session: &Session,
    id: u64,
) -> Result<(Chrome, Progress, Vec<LineView>, usize, usize), Response> {
    let batch = found(state, session, id).await?;
    let c = Chrome::new(session, "console-batch-title", "/desk/batch");
    let p = batch.progress();
    let lines = p.lines.iter().map(|l| line_view(&c.t, l)).collect();
    let (prepared, refused) = counts(&p);
    Ok((c, p, lines, prepared, refused))
}

/// `GET /desk/batches/{id}`: each holder's line, now.
pub async fn progress(
    State(state): State<ConsoleState>,
    session: Session,
    Path(id): Path<u64>,
) -> Response {
    match view(&state, &session, id).await {
        Ok((c, p, lines, prepared, refused)) => html(&ProgressPage {
            c,
            p,
            lines,
            prepared,
            refused,
        }),
        Err(refused) => refused,
    }
}

/// `GET /desk/batches/{id}/lines`: the lines alone (the live page's swap).
pub async fn lines(
    State(state): State<ConsoleState>,
    session: Session,
    Path(id): Path<u64>,
) -> Response {
    match view(&state, &session, id).await {
        Ok((c, p, lines, prepared, refused)) => html(&LinesFragment {
            c,
            p,
            lines,
            prepared,
            refused,
        }),
        Err(refused) => refused,
    }
}

/// `GET /desk/batches/{id}/events`: an event `batch` (data: the version)
/// at each change, until the batch ends or the daemon stops.
pub async fn events(
    State(state): State<ConsoleState>,
    session: Session,
    Path(id): Path<u64>,
) -> Response {
    let batch = match found(&state, &session, id).await {
        Ok(b) => b,
        Err(refused) => return refused,
    };
    let changes = batch.watch();
    let stopping = state.app().stopping();
    let stream = futures_util::stream::unfold(
        (batch, changes, stopping, false),
        |(batch, mut changes, mut stopping, ended)| async move {
            if ended {
                return None;
            }
            tokio::select! {
                changed = changes.changed() => changed.ok()?,
                _ = stopping.wait_for(|s| *s) => return None,
            }
            let p = batch.progress();
            let event = SseEvent::default()
                .event("batch")
                .data(p.version.to_string());
            let ended = !p.running;
            Some((
                Ok::<_, Infallible>(event),
                (batch, changes, stopping, ended),
            ))
        },
    );
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

#[derive(Deserialize)]
pub struct CancelForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /desk/batches/{id}/cancel`: stops before the next holder's key.
pub async fn cancel(
    State(state): State<ConsoleState>,
    session: Session,
    Path(id): Path<u64>,
    Form(form): Form<CancelForm>,
) -> Response {
    if let Err(refused) = session.guard(&state, &form.csrf).await {
        return refused;
    }
    let batch = match found(&state, &session, id).await {
        Ok(b) => b,
        Err(refused) => return refused,
    };
    if !batch.cancel(&state, &session.caller).await {
        return (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response();
    }
    see_other(&format!("/desk/batches/{id}"))
}
