//! `POST /validate/check`: privacyIDEA's verify call, answered in its shape
//! by the same verify service as `POST /v1/verify`. The body is a form or a
//! JSON object, as the plugins send either.

use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use axum::{Form, Json};

use super::{ok, Answer};
use crate::api::{ApiError, AppState, Permit};
use crate::store::verify::{VerifyOutcome, VerifyRequest};
use crate::wire::validate::{ValidateCheckAnswer, ValidateCheckBody};

/// The form or JSON body; a malformed one is a 400 naming no value.
pub(super) struct CheckBody(ValidateCheckBody);

impl FromRequest<AppState> for CheckBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let json = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        let parsed = if json {
            Json::<ValidateCheckBody>::from_request(req, state)
                .await
                .map(|Json(b)| b)
                .map_err(|r| r.status())
        } else {
            Form::<ValidateCheckBody>::from_request(req, state)
                .await
                .map(|Form(b)| b)
                .map_err(|r| r.status())
        };
        parsed.map(CheckBody).map_err(|status| {
            if status == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::too_large()
            } else {
                ApiError::bad_request(
                    "expected a form or JSON body with the fields `user` and `pass`",
                )
            }
        })
    }
}

pub(super) async fn validate_check(permit: Permit, CheckBody(body): CheckBody) -> Answer {
    let request = VerifyRequest::new(&body.user, &body.pass);
    drop(body);
    let accepted = match permit.state().verify(request).await? {
        VerifyOutcome::Accept { .. } => true,
        VerifyOutcome::Reject { hold } => {
            permit.state().hold_reject(hold).await;
            false
        }
        // Not reached without a source; answered as a rejection.
        VerifyOutcome::SourceLimited { .. } => false,
    };
    ok(ValidateCheckAnswer::new(accepted))
}
