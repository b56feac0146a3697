//! Help requests read from mail: one message posted by the mail system's
//! pipe (`keyward mail ingest`), and the desk qualifying a request whose
//! kind was not clear.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query};
use axum::Extension;
use serde::Deserialize;

use super::{ok, Answer};
use crate::api::{ApiError, Body, Permit};
use crate::domain::RevokeReason;
use crate::mail::outcome::Outcome;
use crate::mail::service::{Mailer, Received};
use crate::wire::mail::{MailOutcome, QualifyBody};

#[derive(Debug, Deserialize)]
pub(super) struct IngestQuery {
    /// The client cut a message over its size limit.
    #[serde(default)]
    truncated: bool,
}

pub(super) async fn ingest_mail(
    permit: Permit,
    mailer: Option<Extension<Arc<Mailer>>>,
    Query(query): Query<IngestQuery>,
    body: Bytes,
) -> Answer {
    let Some(Extension(mailer)) = mailer else {
        return Err(ApiError::unavailable());
    };
    let max = mailer.config.max_message_bytes;
    let received = if query.truncated || body.len() > max {
        Received::TooLarge(body[..body.len().min(max)].to_vec())
    } else {
        Received::Whole(body.to_vec())
    };
    let store = Arc::clone(permit.state().store());
    let actor = permit.caller().actor.clone();
    let outcome = mailer
        .ingest(&store, &actor, received)
        .await
        .map_err(ApiError::from)?;
    ok(answer(&outcome))
}

/// The wire form of an outcome.
pub fn answer(outcome: &Outcome) -> MailOutcome {
    let (request, kind, replied) = match outcome {
        Outcome::Filed { request, kind } => (Some(*request), Some(kind.clone()), false),
        Outcome::Duplicate { .. } => (None, None, false),
        Outcome::Refused { replied, .. } => (None, None, *replied),
    };
    MailOutcome {
        outcome: outcome.name(),
        request,
        kind,
        replied,
    }
}

pub(super) async fn qualify_replacement(
    permit: Permit,
    Path(id): Path<String>,
    Body(body): Body<QualifyBody>,
) -> Answer {
    let request: i64 = id
        .parse()
        .map_err(|_| ApiError::not_found("replacement request"))?;
    permit
        .write(move |tx, _| {
            let reason = RevokeReason::parse(&body.reason)?;
            tx.qualify_replacement(request, reason)
        })
        .await?;
    ok(serde_json::json!({}))
}

/// Runs the daemon's scheduled job once (`keyward mail schedule`).
pub(super) async fn scheduled_notices(
    permit: Permit,
    mailer: Option<Extension<Arc<Mailer>>>,
) -> Answer {
    let Some(Extension(mailer)) = mailer else {
        return Err(ApiError::unavailable());
    };
    let queued = permit
        .write(move |tx, _| tx.queue_scheduled_notices(mailer.context(), &mailer.config.calendar))
        .await?;
    ok(crate::wire::mail::ScheduledNotices {
        invitations: queued.invitations,
        reminders: queued.reminders,
        overdue: queued.overdue,
    })
}
