//! The API's one error type: every store and device error mapped to a
//! stable code (docs/api.md), an opaque 500 for everything else. Messages
//! come from the lower layers' `Display`, which never carries a secret.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::devices::DeviceError;
use crate::domain::DomainError;
use crate::store::StoreError;
use crate::wire::{ErrorBody, ErrorCode, ErrorDetail, ErrorInfo, MAX_REQUEST_BODY};

/// An HTTP error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: String,
    pub detail: Option<ErrorDetail>,
    pub field: Option<&'static str>,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            detail: None,
            field: None,
            retry_after: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, message)
    }

    pub fn unauthenticated() -> Self {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthenticated,
            "a valid API key is required: Authorization: Bearer kw_...",
        )
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, ErrorCode::Forbidden, message)
    }

    pub fn not_found(what: &str) -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            format!("no such {what}"),
        )
    }

    pub fn conflict(detail: ErrorDetail, message: impl Into<String>) -> Self {
        ApiError {
            detail: Some(detail),
            ..ApiError::new(StatusCode::CONFLICT, ErrorCode::Conflict, message)
        }
    }

    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            field: Some(field),
            ..ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::Invalid,
                message,
            )
        }
    }

    pub fn too_large() -> Self {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::PayloadTooLarge,
            format!("request body over {} KiB", MAX_REQUEST_BODY / 1024),
        )
    }

    pub fn rate_limited() -> Self {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::RateLimited,
            "too many failed verifications from this caller: retry later",
        )
    }

    pub fn unavailable() -> Self {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Unavailable,
            "keyward is shutting down or its store is unavailable",
        )
    }

    /// Opaque: the cause goes to the server log only.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            "internal error; see the server log",
        )
    }

    /// Whether this answer is a refusal that the audit records.
    pub fn is_refusal(&self) -> bool {
        matches!(self.status.as_u16(), 401 | 403 | 404 | 409 | 422)
    }

    /// The field a domain validation error is about.
    fn field_of(err: &DomainError) -> &'static str {
        match err {
            DomainError::BadDate(_) | DomainError::RightEndsBeforeItStarts => "until",
            DomainError::BadUai { .. } | DomainError::UaiCheckLetter { .. } => "school",
            DomainError::BadMailAddress => "mail",
            DomainError::UnknownRevokeReason => "reason",
            DomainError::BadIdentifier { what, .. } => what,
            _ => "input",
        }
    }
}

/// Refusals the store words as ErrorCode::Forbidden that are about an object's
/// state, not the actor's role.
const LIFECYCLE_REFUSALS: &[&str] = &[
    "it has already ended",
    "the holder has no live or revoked key",
    "it is already revoked",
    crate::store::ops::seeded_refusals::IN_USE,
    crate::store::ops::seeded_refusals::NEVER_AGAIN,
    crate::store::ops::seeded_refusals::NOT_IMPORTED,
    crate::store::ops::seeded_refusals::OUT_OF_DATES,
    crate::store::ops::seeded_refusals::ONLY,
    crate::store::ops::seeded_refusals::OTHER_HOLDER,
    crate::store::ops::emergency_refusals::NOT_PENDING,
    crate::store::ops::emergency_refusals::NOT_QUALIFIED,
    crate::store::ops::emergency_refusals::KEY_STILL_WORKS,
    crate::store::ops::emergency_refusals::ALREADY_GRANTED,
    crate::store::ops::emergency_refusals::NOT_IN_FORCE,
];

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        let message = err.to_string();
        match &err {
            StoreError::Domain(d) => match d {
                DomainError::TransitionRefused { .. } | DomainError::TokenNeverComesBack => {
                    ApiError::conflict(ErrorDetail::InvalidTransition, message)
                }
                DomainError::SchoolMailbox
                | DomainError::SenderOutsideDomain
                | DomainError::SenderIsNotHolder
                | DomainError::InspectorNotInCopy => {
                    ApiError::conflict(ErrorDetail::HelpMailRefused, message)
                }
                DomainError::Corrupt(_) => ApiError::internal(&err),
                other => ApiError::invalid(ApiError::field_of(other), message),
            },
            StoreError::Pin(_) => ApiError::invalid("pin", message),
            StoreError::Otp(_) => ApiError::invalid("code", message),
            // The same words as an inspector's out-of-district refusal
            // (`Permit::scope`): whether something exists elsewhere must
            // not show (issue 11, point 5). The key is the caller's own.
            StoreError::NotFound { what, .. } => ApiError::not_found(what),
            StoreError::Duplicate { .. } => ApiError::conflict(ErrorDetail::Duplicate, message),
            // The store says ErrorCode::Forbidden both for who may act and for what
            // the object's state allows; the latter is a 409 here.
            StoreError::Forbidden { why, .. } if LIFECYCLE_REFUSALS.contains(why) => {
                ApiError::conflict(ErrorDetail::InvalidTransition, message)
            }
            StoreError::Forbidden { .. } => ApiError::forbidden(message),
            StoreError::HolderHasLiveToken { .. } => {
                ApiError::conflict(ErrorDetail::HolderHasLiveToken, message)
            }
            StoreError::NoRight { .. } => ApiError::conflict(ErrorDetail::NoRight, message),
            StoreError::PersonLeft { .. } => ApiError::conflict(ErrorDetail::PersonLeft, message),
            StoreError::NoPinResetApproval { .. } => {
                ApiError::conflict(ErrorDetail::NoPinResetApproval, message)
            }
            StoreError::PossessionCheckFailed => {
                ApiError::conflict(ErrorDetail::PossessionCheckFailed, message)
            }
            StoreError::OpenKeyRequest { .. } => {
                ApiError::conflict(ErrorDetail::OpenKeyRequest, message)
            }
            StoreError::RequestFulfilled(_) => {
                ApiError::conflict(ErrorDetail::RequestFulfilled, message)
            }
            StoreError::OwnAct { .. } => {
                ApiError::new(StatusCode::FORBIDDEN, ErrorCode::OwnAct, message)
            }
            StoreError::DirectorInPlace { .. } => {
                ApiError::conflict(ErrorDetail::DirectorInPlace, message)
            }
            StoreError::AlreadyDirector { .. } => {
                ApiError::conflict(ErrorDetail::AlreadyDirector, message)
            }
            StoreError::ReplacementRequestRequired { .. } => {
                ApiError::conflict(ErrorDetail::ReplacementRequestRequired, message)
            }
            StoreError::RowTampered { .. } => {
                ApiError::conflict(ErrorDetail::RecordTampered, message)
            }
            StoreError::Unavailable => ApiError::unavailable(),
            StoreError::Pskc(_) => ApiError::invalid("pskc", message),
            _ => ApiError::internal(&err),
        }
    }
}

impl From<DeviceError> for ApiError {
    fn from(err: DeviceError) -> Self {
        match err {
            DeviceError::Store(e) => e.into(),
            DeviceError::Absent { .. } => ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::DeviceAbsent,
                err.to_string(),
            ),
            DeviceError::Typed(why) => ApiError::invalid("typed", why),
            other => ApiError {
                detail: Some(other.detail()),
                ..ApiError::new(
                    StatusCode::BAD_GATEWAY,
                    ErrorCode::DeviceError,
                    other.to_string(),
                )
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorInfo {
                code: self.code,
                message: self.message,
                detail: self.detail,
                field: self.field.map(str::to_owned),
            },
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&seconds.to_string()) {
                response.headers_mut().insert("retry-after", v);
            }
        }
        response
    }
}
