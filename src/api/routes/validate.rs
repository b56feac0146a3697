//! `POST /validate/check`: privacyIDEA's verify call, answered in its shape
//! by the same verify service as `POST /v1/verify`. The body is a form or a
//! JSON object, as the plugins send either.

use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use axum::{Form, Json};

use super::{ok, Answer};
use crate::api::{ApiError, AppState, Permit};
use crate::gateway::{authenticate, Answer as GatewayAnswer, Attempt};
use crate::i18n::Lang;
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
    let client = format!("api-key:{}", permit.caller().api_key.id);
    // A transaction id that is not one of ours answers no challenge (and
    // is rejected as such); an empty one is no transaction.
    let challenge = match body.transaction_id.as_deref() {
        None | Some("") => None,
        Some(hex) => Some(
            data_encoding::HEXLOWER_PERMISSIVE
                .decode(hex.as_bytes())
                .unwrap_or_default(),
        ),
    };
    let ValidateCheckBody { user, pass, .. } = body;
    let attempt = Attempt {
        client: &client,
        login: &user,
        password: pass,
        challenge: challenge.as_deref(),
        source: None,
    };
    let state = permit.state();
    match authenticate(state, state.validate_challenges(), attempt).await? {
        GatewayAnswer::Accept { .. } => ok(ValidateCheckAnswer::new(true)),
        GatewayAnswer::Reject | GatewayAnswer::SourceLimited => ok(ValidateCheckAnswer::new(false)),
        GatewayAnswer::Challenge { id, prompt } => ok(ValidateCheckAnswer::challenge(
            prompt.message(Lang::default()),
            data_encoding::HEXLOWER.encode(&id),
        )),
    }
}
