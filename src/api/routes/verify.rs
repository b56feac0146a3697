//! `POST /v1/verify`: the gateway's question. The answer says accept or
//! reject and nothing more; a required delay is served by holding it.

use std::time::Duration;

use super::{date_opt, ok, Answer};
use crate::api::{ApiError, Body, Permit};
use crate::domain::{Clock, RightInForce};
use crate::store::verify::{VerifyOutcome, VerifyRequest};
use crate::wire::verify::{self as wire, VerifiedRight, VerifyBody};

/// Longest an answer is held for the required delay: below the server's
/// request timeout (15 s), so a held answer is never cut into a 408.
const MAX_HOLD: u64 = 10;

/// How often a hold re-reads a clock moved from outside.
const RECHECK: Duration = Duration::from_millis(50);

pub(super) async fn verify(permit: Permit, Body(body): Body<VerifyBody>) -> Answer {
    let mut request = VerifyRequest::new(&body.login, &body.passcode);
    if let Some(source) = body.source.as_deref() {
        if source.is_empty() || source.len() > 128 || source.chars().any(char::is_control) {
            return Err(permit
                .refuse(ApiError::invalid("source", "1 to 128 printable characters"))
                .await);
        }
        request = request.from_source(source);
    }
    drop(body);
    match permit.state().verify(request).await? {
        VerifyOutcome::Accept { rights } => ok(accepted(&rights)),
        // The caller itself is over its failure budget: a 429 about the
        // caller, which says nothing about the login or the passcode.
        VerifyOutcome::SourceLimited { retry_after } => Err(ApiError {
            retry_after: Some(retry_after),
            ..ApiError::rate_limited()
        }),
        VerifyOutcome::Reject { hold } => {
            // The required delay is served by holding the answer, never by a
            // field the caller could read.
            permit.state().hold_reject(hold).await;
            ok(wire::VerifyOutcome::Reject)
        }
    }
}

/// The accept answer with the rights in force (also a PostgreSQL node's).
pub(crate) fn accepted(rights: &[RightInForce]) -> wire::VerifyOutcome {
    let rights = rights
        .iter()
        .map(|r| VerifiedRight {
            origin: r.origin,
            school: r.school.as_str().to_owned(),
            until: date_opt(r.until),
        })
        .collect();
    wire::VerifyOutcome::Accept { rights }
}

/// Holds for `seconds` of real time, on tokio's clock (paused in tests).
///
/// The daemon's clock may instead be a test-clock file another process
/// moves forward while the answer is held: the hold then also ends once that
/// clock has passed the retry time, which only re-reading the file can see.
/// Only that clock is re-read; the system clock's hold is one `sleep_until`.
/// The extra second keeps a whole-second clock from ending the hold early.
/// At most [`MAX_HOLD`] seconds.
pub(crate) async fn hold_answer(clock: &dyn Clock, seconds: u64) {
    let seconds = seconds.min(MAX_HOLD);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    if !clock.moved_from_outside() {
        tokio::time::sleep_until(deadline).await;
        return;
    }
    let until = clock.now().saturating_add(seconds).saturating_add(1);
    let moved_past = async {
        let mut recheck = tokio::time::interval(RECHECK);
        while clock.now() < until {
            recheck.tick().await;
        }
    };
    tokio::select! {
        () = tokio::time::sleep_until(deadline) => {}
        () = moved_past => {}
    }
}
