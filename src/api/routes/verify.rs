//! `POST /v1/verify`: the gateway's question.

use std::time::{Duration, Instant};

use axum::extract::State;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::api::{ApiError, AppState, Body, Caller, Operation, Permit};
use crate::store::verify::{VerifyAnswer, VerifyRequest};

use super::{date_opt, ok, Answer};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct VerifyBody {
    login: String,
    passcode: zeroize::Zeroizing<String>,
    /// The end user's address as the gateway saw it, for the per-source
    /// limiter. The gateway itself is one caller for everybody, so it is
    /// never the source.
    source: Option<String>,
}

/// Longest an answer is held for the required delay: below the server's
/// request timeout (15 s), so a held answer is never cut into a 408.
const MAX_HOLD: u64 = 10;

pub(super) async fn verify(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body<VerifyBody>,
) -> Answer {
    let permit = Permit::check(&state, caller, Operation::Verify).await?;
    let started = Instant::now();
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
    let pending = state.verify_service().submit(request)?;
    // Awaited, not blocked on: the writer thread answers through a oneshot.
    let (reply, label) = pending.answer().await;
    state.metrics().verify_outcome(label, started.elapsed());
    match reply? {
        VerifyAnswer::Accept { rights } => {
            let rights: Vec<Value> = rights
                .iter()
                .map(|r| {
                    json!({
                        "school": r.school.as_str(),
                        "origin": r.origin.as_str(),
                        "until": date_opt(r.until),
                    })
                })
                .collect();
            ok(json!({"result": "accept", "rights": rights}))
        }
        // The caller itself is over its failure budget: a 429 about the
        // caller, which says nothing about the login or the passcode.
        VerifyAnswer::Reject { retry_after } if label == "source_limited" => Err(ApiError {
            retry_after: Some(retry_after.unwrap_or(1)),
            ..ApiError::rate_limited()
        }),
        VerifyAnswer::Reject { retry_after } => {
            // The required delay is served by holding the answer, never by a
            // field the caller could read.
            if let Some(seconds) = retry_after {
                let wait = seconds.min(MAX_HOLD);
                // Held for `wait` real seconds, or until the injected clock
                // has passed the retry time (a test clock moved forward); the
                // extra second keeps a whole-second system clock from ending
                // the hold early.
                let until = state
                    .inner
                    .clock
                    .now()
                    .saturating_add(wait)
                    .saturating_add(1);
                let deadline = tokio::time::Instant::now() + Duration::from_secs(wait);
                while tokio::time::Instant::now() < deadline && state.clock().now() < until {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
            ok(json!({"result": "reject"}))
        }
    }
}
